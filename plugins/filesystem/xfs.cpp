// SPDX-License-Identifier: GPL-2.0-or-later
// XFS (v4 and v5), with the figures Linux's xfs_fs_statfs reports for a
// read-only mount, or with --mount-mode=rw for a read-write one (statfs.md
// §3, checked on 6.18): the superblock as xfs_validate_sb_common checks it,
// every AG's headers as xfs_agf_verify/xfs_agi_verify do, the per-AG
// reservations of xfs_ag_resv_init, and whether the log needs recovery as
// xlog_find_head/xlog_find_tail decide it. Structs: xfs_format.hpp.
#include "plugins/filesystem/xfs.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/crc32.hpp"
#include "plugins/filesystem/xfs_format.hpp"

namespace vmdf::xfs {
namespace {

using namespace std::string_view_literals;

constexpr std::uint64_t kBasicBlock = 512;       // BBSIZE: log and daddr unit
constexpr std::uint64_t kMaxFileInodes = (1ull << 56) - 1;  // XFS_MAXINUMBER
constexpr std::uint64_t kMaxReserveBlocks = 8192;           // xfs_default_resblks

/// The index of the highest set bit (xfs_highbit64); -1 for 0.
int highbit(std::uint64_t v) { return v == 0 ? -1 : 63 - __builtin_clzll(v); }
std::uint64_t div_round_up(std::uint64_t a, std::uint64_t b) { return a / b + (a % b != 0); }

/// The v5 metadata checksum of `bytes`: crc32c with the four bytes at
/// `crc_offset` read as zero, inverted (xfs_start_cksum, xfs_end_cksum).
std::uint32_t metadata_crc(std::span<const std::byte> bytes, std::size_t crc_offset) {
    static constexpr std::byte kZeros[4] = {};
    std::uint32_t crc = crc32c_raw(~0u, bytes.first(crc_offset));
    crc = crc32c_raw(crc, kZeros);
    crc = crc32c_raw(crc, bytes.subspan(crc_offset + 4));
    return ~crc;
}

std::uint32_t stored_crc(std::span<const std::byte> bytes, std::size_t crc_offset) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = v << 8 | std::to_integer<std::uint32_t>(bytes[crc_offset + static_cast<std::size_t>(i)]);
    return v;
}

// --- B-tree shapes (xfs_btree_calc_size, xfs_btree_compute_maxlevels) -------

/// Records per block of a short-form (per-AG) btree: `rec` bytes per leaf
/// record, `keyptr` bytes per node key and pointer.
struct BtreeLimits {
    std::uint64_t max_leaf = 0, max_node = 0;
    std::uint64_t min_leaf() const { return max_leaf / 2; }
    std::uint64_t min_node() const { return max_node / 2; }
};

BtreeLimits btree_limits(std::uint64_t block, std::uint64_t header, std::uint64_t rec,
                         std::uint64_t keyptr) {
    return {(block - header) / rec, (block - header) / keyptr};
}

/// Blocks of the largest tree holding `records`, each block at its minimum
/// fill: what the kernel reserves for a tree's growth.
std::uint64_t max_tree_blocks(const BtreeLimits& l, std::uint64_t records) {
    std::uint64_t level = div_round_up(records, l.min_leaf());
    std::uint64_t total = level;
    while (level > 1) {
        level = div_round_up(level, l.min_node());
        total += level;
    }
    return total;
}

/// Levels of that tree: the most a verifier accepts.
std::uint32_t max_tree_levels(const BtreeLimits& l, std::uint64_t records) {
    std::uint64_t blocks = div_round_up(records, l.min_leaf());
    std::uint32_t levels = 1;
    for (; blocks > 1; ++levels) blocks = div_round_up(blocks, l.min_node());
    return levels;
}

/// The height of the tallest tree that `blocks` blocks can hold, the root
/// having two children and every other node the minimum (rmapbt with
/// reflink, where records can outnumber blocks).
std::uint32_t max_height_in_space(const BtreeLimits& l, std::uint64_t blocks) {
    if (blocks == 0) return 0;
    std::uint64_t level_blocks = 2, left = blocks - 1;
    std::uint32_t height = 1;
    while (level_blocks < left) {
        left -= level_blocks;
        level_blocks *= l.min_node();
        ++height;
    }
    return height;
}

// --- The superblock ------------------------------------------------------------

/// The superblock, validated, and what follows from it.
struct Geometry {
    Superblock sb{};
    bool v5 = false;
    std::uint64_t block_size = 0, sect_size = 0;
    std::uint64_t dblocks = 0, agblocks = 0, agcount = 0, logblocks = 0;
    std::uint32_t inopblog = 0, agblklog = 0;
    std::uint64_t inopblock = 0;
    bool internal_log = false;
    std::uint64_t log_ag = 0, log_agbno = 0;
    std::uint32_t ro_compat = 0, incompat = 0;
    bool lazy_count = false, log_v2 = false;
    std::array<std::uint8_t, 16> meta_uuid{};  // what metadata blocks are stamped with
    BtreeLimits alloc, inobt, refcount, rmap;
    std::uint32_t alloc_maxlevels = 0, inobt_maxlevels = 0, refc_maxlevels = 0,
                  rmap_maxlevels = 0;
    std::uint64_t agfl_size = 0;  // free-list slots in the AGFL sector

    bool finobt() const { return (ro_compat & kRoCompatFinobt) != 0; }
    bool rmapbt() const { return (ro_compat & kRoCompatRmapbt) != 0; }
    bool reflink() const { return (ro_compat & kRoCompatReflink) != 0; }
    bool inobtcount() const { return (ro_compat & kRoCompatInobtCount) != 0; }
    /// Blocks in AG `agno`: all but the last have sb_agblocks.
    std::uint64_t ag_length(std::uint64_t agno) const {
        return agno + 1 < agcount ? agblocks : dblocks - agno * agblocks;
    }
    std::uint64_t ag_offset(std::uint64_t agno) const { return agno * agblocks * block_size; }
    bool ag_has_log(std::uint64_t agno) const { return internal_log && log_ag == agno; }
};

Failure bad_field(std::size_t field_offset, std::string message) {
    return fail(Errc::corrupt, std::move(message), field_offset);
}

std::string feature_names(std::uint32_t bits) {
    std::string names;
    for (const FeatureName& f : kIncompatNames)
        if (bits & f.bit) names += fmt::format("{}{}", names.empty() ? "" : ",", f.name);
    if (const std::uint32_t unknown = bits & ~kIncompatKnown)
        names += fmt::format("{}{:#x}", names.empty() ? "" : ",", unknown);
    return names;
}

/// xfs_sb_good_version and the v5 feature checks of xfs_validate_sb_read.
Status check_version(Geometry& g, std::vector<std::string>& warnings, bool read_write) {
    const Superblock& sb = g.sb;
    const std::uint16_t version = sb.sb_versionnum.value();
    const std::uint32_t features2 = sb.sb_features2.value();
    const std::uint16_t num = version & kVersionNumBits;
    if (num != kVersion4 && num != kVersion5)
        return bad_field(offsetof(Superblock, sb_versionnum),
                         fmt::format("sb_versionnum {:#x}: version {} is not 4 or 5", version, num));
    g.v5 = num == kVersion5;
    if (version & ~kVersionOkBits)
        return bad_field(offsetof(Superblock, sb_versionnum),
                         fmt::format("sb_versionnum {:#x} has unknown feature bits", version));
    if (g.v5) {
        constexpr std::uint16_t kV5Vers = kVersionNlink | kVersionAlign | kVersionLogV2 |
                                          kVersionExtFlg | kVersionDirV2 | kVersionMoreBits;
        constexpr std::uint32_t kV5Feat = kFeatures2LazySbCount | kFeatures2Attr2 |
                                          kFeatures2ProjId32 | kFeatures2Crc;
        if ((version & kV5Vers) != kV5Vers)
            return bad_field(offsetof(Superblock, sb_versionnum),
                             fmt::format("sb_versionnum {:#x} lacks a feature v5 requires", version));
        if ((features2 & ~(kFeatures2OkBits | kFeatures2Crc)) || (features2 & kV5Feat) != kV5Feat)
            return bad_field(offsetof(Superblock, sb_features2),
                             fmt::format("sb_features2 {:#x} invalid for v5", features2));
        g.ro_compat = sb.sb_features_ro_compat.value();
        g.incompat = sb.sb_features_incompat.value();
    } else {
        if ((version & kVersionMoreBits) && (features2 & ~kFeatures2OkBits))
            return bad_field(offsetof(Superblock, sb_features2),
                             fmt::format("sb_features2 {:#x} has unknown feature bits", features2));
        if (!(version & kVersionDirV2) || !(version & kVersionExtFlg))
            return bad_field(offsetof(Superblock, sb_versionnum),
                             fmt::format("sb_versionnum {:#x}: v4 without v2 directories or "
                                         "unwritten extents",
                                         version));
    }
    g.lazy_count = g.v5 || ((version & kVersionMoreBits) && (features2 & kFeatures2LazySbCount));
    g.log_v2 = (version & kVersionLogV2) != 0;

    if (const std::uint32_t unknown = g.incompat & ~kIncompatKnown)
        return fail(Errc::unsupported,
                    fmt::format("unknown incompatible features {:#x} (the kernel refuses them)",
                                unknown),
                    offsetof(Superblock, sb_features_incompat));
    if (g.incompat & kIncompatNeedsRepair)
        return bad_field(offsetof(Superblock, sb_features_incompat),
                         "needsrepair is set: xfs_repair must run before the kernel mounts this");
    if (g.incompat & kIncompatZoned)
        return fail(Errc::unsupported,
                    fmt::format("incompatible features {}: zoned filesystems are not read yet",
                                feature_names(g.incompat)),
                    offsetof(Superblock, sb_features_incompat));
    if (g.incompat & kIncompatMetadir)
        warnings.push_back("metadir: figures not yet checked against a kernel");
    if (const std::uint32_t unknown = g.ro_compat & ~kRoCompatKnown) {
        if (read_write)
            return fail(Errc::unsupported,
                        fmt::format("unknown read-only compatible features {:#x}: the kernel "
                                    "mounts this read-only only",
                                    unknown),
                        offsetof(Superblock, sb_features_ro_compat));
        warnings.push_back(fmt::format(
            "unknown read-only compatible features {:#x}: their reservations are not counted", unknown));
    }
    return {};
}

/// The rest of xfs_validate_sb_common: sizes, logs of sizes, AG geometry.
Status check_geometry(Geometry& g, const Device& dev) {
    const Superblock& sb = g.sb;
    g.block_size = sb.sb_blocksize.value();
    if (sb.sb_blocklog < kMinBlockLog || sb.sb_blocklog > kMaxBlockLog ||
        g.block_size != std::uint64_t{1} << sb.sb_blocklog)
        return bad_field(offsetof(Superblock, sb_blocksize),
                         fmt::format("sb_blocksize {} (log {}) out of range 512..65536",
                                     g.block_size, sb.sb_blocklog));
    if (g.v5 && g.block_size < kMinCrcBlockSize)
        return bad_field(offsetof(Superblock, sb_blocksize),
                         fmt::format("sb_blocksize {} too small for v5 (min {})", g.block_size,
                                     kMinCrcBlockSize));
    if (sb.sb_dirblklog + sb.sb_blocklog > kMaxBlockLog)
        return bad_field(offsetof(Superblock, sb_dirblklog),
                         fmt::format("sb_dirblklog {} too large", sb.sb_dirblklog));
    const std::uint64_t inode_size = sb.sb_inodesize.value();
    if (sb.sb_inodelog < kMinInodeLog || sb.sb_inodelog > kMaxInodeLog ||
        inode_size != std::uint64_t{1} << sb.sb_inodelog || sb.sb_inodelog > sb.sb_blocklog)
        return bad_field(offsetof(Superblock, sb_inodesize),
                         fmt::format("sb_inodesize {} (log {}) out of range 256..2048",
                                     inode_size, sb.sb_inodelog));
    g.inopblock = sb.sb_inopblock.value();
    if (g.inopblock != g.block_size / inode_size)
        return bad_field(offsetof(Superblock, sb_inopblock),
                         fmt::format("sb_inopblock {} is not {} / {}", g.inopblock, g.block_size,
                                     inode_size));
    g.inopblog = sb.sb_inopblog;
    if (g.inopblog != static_cast<std::uint32_t>(sb.sb_blocklog - sb.sb_inodelog))
        return bad_field(offsetof(Superblock, sb_inopblog),
                         fmt::format("sb_inopblog {} is not {} - {}", g.inopblog, sb.sb_blocklog,
                                     sb.sb_inodelog));

    // Sparse inode chunks must be aligned to a whole chunk.
    if (g.v5 && (g.incompat & kIncompatSpinodes) &&
        sb.sb_inoalignmt.value() != (std::uint64_t{kInodesPerChunk} * inode_size) >> sb.sb_blocklog)
        return bad_field(offsetof(Superblock, sb_inoalignmt),
                         fmt::format("sb_inoalignmt {} does not match the inode chunk size",
                                     sb.sb_inoalignmt.value()));

    g.agblocks = sb.sb_agblocks.value();
    const std::uint64_t ag_bytes = g.agblocks * g.block_size;
    if (ag_bytes < kMinAgBytes || ag_bytes > kMaxAgBytes)
        return bad_field(offsetof(Superblock, sb_agblocks),
                         fmt::format("sb_agblocks {} out of range (16 MiB..1 TiB)", g.agblocks));
    g.agblklog = sb.sb_agblklog;
    if (static_cast<int>(g.agblklog) != highbit(g.agblocks - 1) + 1)
        return bad_field(offsetof(Superblock, sb_agblklog),
                         fmt::format("sb_agblklog {} does not fit sb_agblocks {}", g.agblklog,
                                     g.agblocks));
    g.dblocks = sb.sb_dblocks.value();
    g.agcount = sb.sb_agcount.value();
    const std::uint64_t agcount = div_round_up(g.dblocks, g.agblocks);
    if (g.dblocks == 0 || g.agcount == 0 || agcount != g.agcount)
        return bad_field(offsetof(Superblock, sb_agcount),
                         fmt::format("sb_agcount {} does not match sb_dblocks {} / sb_agblocks {}",
                                     g.agcount, g.dblocks, g.agblocks));
    if (g.dblocks < (g.agcount - 1) * g.agblocks + kMinAgBlocks)
        return bad_field(offsetof(Superblock, sb_dblocks),
                         fmt::format("sb_dblocks {} leaves a last AG under {} blocks", g.dblocks,
                                     kMinAgBlocks));
    if (sb.sb_imax_pct > 100)
        return bad_field(offsetof(Superblock, sb_imax_pct),
                         fmt::format("sb_imax_pct {} over 100", sb.sb_imax_pct));
    const std::uint64_t rext_bytes = std::uint64_t{sb.sb_rextsize.value()} * g.block_size;
    if (rext_bytes < kMinRtExtBytes || rext_bytes > kMaxRtExtBytes)
        return bad_field(offsetof(Superblock, sb_rextsize),
                         fmt::format("sb_rextsize {} out of range", sb.sb_rextsize.value()));
    if (sb.sb_shared_vn != 0)
        return bad_field(offsetof(Superblock, sb_shared_vn), "sb_shared_vn is not 0");
    if (sb.sb_inprogress != 0)
        return bad_field(offsetof(Superblock, sb_inprogress), "mkfs did not finish (sb_inprogress)");

    g.logblocks = sb.sb_logblocks.value();
    if (g.logblocks == 0 || g.logblocks > kMaxLogBlocks || g.logblocks * g.block_size > kMaxLogBytes)
        return bad_field(offsetof(Superblock, sb_logblocks),
                         fmt::format("sb_logblocks {} out of range", g.logblocks));
    if (sb.sb_versionnum.value() & kVersionSector) {
        if (sb.sb_logsectlog > kMaxSectorLog ||
            sb.sb_logsectsize.value() != 1u << sb.sb_logsectlog)
            return bad_field(offsetof(Superblock, sb_logsectsize),
                             fmt::format("sb_logsectsize {} does not match sb_logsectlog {}",
                                         sb.sb_logsectsize.value(), sb.sb_logsectlog));
    } else if (sb.sb_logsectsize.value() != 0 || sb.sb_logsectlog != 0) {
        return bad_field(offsetof(Superblock, sb_logsectsize), "log sector size set without the feature");
    }
    const std::uint32_t logsunit = sb.sb_logsunit.value();
    if (logsunit > 1 && (logsunit % g.block_size != 0 || logsunit > kMaxLogRecordBytes))
        return bad_field(offsetof(Superblock, sb_logsunit),
                         fmt::format("sb_logsunit {} invalid", logsunit));

    // Realtime geometry, which must be all zeros without a realtime device.
    const std::uint64_t rblocks = sb.sb_rblocks.value(), rextents = sb.sb_rextents.value();
    if (rblocks == 0) {
        if (rextents || sb.sb_rbmblocks.value() || sb.sb_rextslog || sb.sb_frextents.value())
            return bad_field(offsetof(Superblock, sb_rextents),
                             "realtime fields set without a realtime device");
    } else if (rextents != rblocks / sb.sb_rextsize.value() ||
               sb.sb_rbmblocks.value() != div_round_up(rextents, 8 * g.block_size) ||
               static_cast<int>(sb.sb_rextslog) != std::max(highbit(rextents), 0)) {
        return bad_field(offsetof(Superblock, sb_rextents), "realtime geometry inconsistent");
    }

    // Stripe geometry (xfs_validate_stripe_geometry).
    const std::uint64_t unit = sb.sb_unit.value(), width = sb.sb_width.value();
    if ((unit != 0) != ((sb.sb_versionnum.value() & kVersionDalign) != 0))
        return bad_field(offsetof(Superblock, sb_unit),
                         "sb_unit and the stripe alignment feature disagree");
    if ((unit == 0) != (width == 0) || (unit && width % unit) ||
        width * g.block_size > 0x7FFFFFFF)
        return bad_field(offsetof(Superblock, sb_width),
                         fmt::format("stripe width {} not a multiple of unit {}", width, unit));

    // The kernel reads the last block of the data device before mounting.
    const std::uint64_t device_blocks = dev.size() / g.block_size;
    if (g.dblocks > device_blocks)
        return failf(Errc::truncated, std::nullopt,
                     "sb_dblocks {} exceeds the size of the device ({} blocks)", g.dblocks,
                     device_blocks);

    // An internal log lies inside one AG.
    const std::uint64_t logstart = sb.sb_logstart.value();
    g.internal_log = logstart != 0;
    if (g.internal_log) {
        g.log_ag = logstart >> g.agblklog;
        g.log_agbno = logstart & ((std::uint64_t{1} << g.agblklog) - 1);
        if (g.log_ag >= g.agcount || g.log_agbno + g.logblocks > g.ag_length(g.log_ag))
            return bad_field(offsetof(Superblock, sb_logstart),
                             fmt::format("internal log at {} ({} blocks) is outside its AG",
                                         logstart, g.logblocks));
    }
    return {};
}

Result<Geometry> read_geometry(const Device& dev, std::vector<std::string>& warnings,
                               bool read_write) {
    Geometry g;
    VMDF_TRY_ASSIGN(g.sb, read_struct<Superblock>(dev, 0));
    const Superblock& sb = g.sb;
    if (sb.sb_magicnum.value() != kSbMagic)
        return bad_field(offsetof(Superblock, sb_magicnum), "bad magic");
    g.sect_size = sb.sb_sectsize.value();
    if (sb.sb_sectlog < kMinSectorLog || sb.sb_sectlog > kMaxSectorLog ||
        g.sect_size != std::uint64_t{1} << sb.sb_sectlog)
        return bad_field(offsetof(Superblock, sb_sectsize),
                         fmt::format("sb_sectsize {} (log {}) out of range 512..32768", g.sect_size,
                                     sb.sb_sectlog));
    // xfs_sb_read_verify: v5, or any superblock whose CRC field is set, is
    // checksummed over the whole sector; the kernel refuses a mismatch.
    if ((sb.sb_versionnum.value() & kVersionNumBits) == kVersion5 || sb.sb_crc.value() != 0) {
        VMDF_TRY_ASSIGN(auto sector, read_bytes(dev, 0, g.sect_size, g.sect_size));
        const std::uint32_t computed = metadata_crc(sector, offsetof(Superblock, sb_crc));
        if (computed != sb.sb_crc.value())
            return bad_field(offsetof(Superblock, sb_crc),
                             fmt::format("superblock checksum {:#010x} does not match {:#010x}",
                                         sb.sb_crc.value(), computed));
    }
    VMDF_TRY(check_version(g, warnings, read_write));
    VMDF_TRY(check_geometry(g, dev));
    std::memcpy(g.meta_uuid.data(), (g.incompat & kIncompatMetaUuid) ? sb.sb_meta_uuid : sb.sb_uuid, 16);

    // Btree shapes (xfs_sb_mount_common, xfs_ialloc_setup_geometry,
    // xfs_rmapbt_compute_maxlevels, xfs_refcountbt_compute_maxlevels).
    const std::uint64_t hdr = g.v5 ? kShortBtreeHeaderV5 : kShortBtreeHeaderV4;
    g.alloc = btree_limits(g.block_size, hdr, 8, 8);
    g.inobt = btree_limits(g.block_size, hdr, 16, 8);
    g.refcount = btree_limits(g.block_size, hdr, 12, 8);
    g.rmap = btree_limits(g.block_size, hdr, 24, 44);
    g.alloc_maxlevels = max_tree_levels(g.alloc, (g.agblocks + 1) / 2);
    g.inobt_maxlevels =
        max_tree_levels(g.inobt, (std::uint64_t{1} << (g.agblklog + g.inopblog)) / kInodesPerChunk);
    g.refc_maxlevels = max_tree_levels(g.refcount, g.agblocks);
    g.rmap_maxlevels = g.reflink() ? max_height_in_space(g.rmap, g.agblocks)
                                   : max_tree_levels(g.rmap, g.agblocks);
    g.agfl_size = (g.sect_size - (g.v5 ? 36 : 0)) / 4;
    return g;
}

// --- AG headers ------------------------------------------------------------------

/// What the figures need from one AG's AGF and AGI.
struct AgCounts {
    std::uint64_t freeblks = 0, flcount = 0, btreeblks = 0;
    std::uint64_t rmap_blocks = 0, refcount_blocks = 0;
    std::uint64_t count = 0, freecount = 0;
    std::uint32_t free_root = 0, free_level = 0, fblocks = 0;
};

/// The length check of xfs_validate_ag_length.
Status check_ag_length(const Geometry& geo, std::uint64_t agno, std::uint64_t length,
                       std::uint64_t field) {
    if (length == geo.agblocks) return {};
    if (agno + 1 != geo.agcount || length < kMinAgBlocks || length > geo.agblocks)
        return failf(Errc::corrupt, field, "AG {} length {} invalid (sb_agblocks {})", agno, length,
                     geo.agblocks);
    return {};
}

Status check_crc(std::span<const std::byte> bytes, std::size_t crc_offset, std::uint64_t base,
                 std::string_view what) {
    const std::uint32_t computed = metadata_crc(bytes, crc_offset);
    if (computed != stored_crc(bytes, crc_offset))
        return failf(Errc::corrupt, base + crc_offset, "{} checksum {:#010x} does not match {:#010x}",
                     what, stored_crc(bytes, crc_offset), computed);
    return {};
}

/// The level field of a btree root: 1..max.
Status check_level(std::uint64_t level, std::uint32_t max, std::uint64_t field,
                   std::string_view what) {
    if (level < 1 || level > max)
        return failf(Errc::corrupt, field, "{} {} out of range 1..{}", what, level, max);
    return {};
}

Status check_agf(const Geometry& geo, std::uint64_t agno, std::span<const std::byte> bytes,
                 std::uint64_t at, AgCounts& out) {
    const ByteReader reader(bytes, at);
    VMDF_TRY_ASSIGN(const Agf agf, reader.at<Agf>(0));
    auto field = [at](std::size_t off) { return at + off; };
    if (agf.agf_magicnum.value() != kAgfMagic)
        return failf(Errc::corrupt, field(0), "AGF {} has a bad magic", agno);
    if (geo.v5) {
        VMDF_TRY(check_crc(bytes, offsetof(Agf, agf_crc), at, fmt::format("AGF {}", agno)));
        if (std::memcmp(agf.agf_uuid, geo.meta_uuid.data(), 16) != 0)
            return failf(Errc::corrupt, field(offsetof(Agf, agf_uuid)),
                         "AGF {} belongs to another filesystem (UUID)", agno);
    }
    if (agf.agf_versionnum.value() != 1)
        return failf(Errc::corrupt, field(offsetof(Agf, agf_versionnum)), "AGF {} version {}", agno,
                     agf.agf_versionnum.value());
    if (agf.agf_seqno.value() != agno)
        return failf(Errc::corrupt, field(offsetof(Agf, agf_seqno)), "AGF {} says it is AG {}",
                     agno, agf.agf_seqno.value());
    const std::uint64_t length = agf.agf_length.value();
    VMDF_TRY(check_ag_length(geo, agno, length, field(offsetof(Agf, agf_length))));
    if (agf.agf_flfirst.value() >= geo.agfl_size || agf.agf_fllast.value() >= geo.agfl_size ||
        agf.agf_flcount.value() > geo.agfl_size)
        return failf(Errc::corrupt, field(offsetof(Agf, agf_flcount)),
                     "AGF {} free list ({} blocks) exceeds the {} slots of the AGFL", agno,
                     agf.agf_flcount.value(), geo.agfl_size);
    if (agf.agf_freeblks.value() < agf.agf_longest.value() || agf.agf_freeblks.value() > length)
        return failf(Errc::corrupt, field(offsetof(Agf, agf_freeblks)),
                     "AGF {} agf_freeblks {} out of range", agno, agf.agf_freeblks.value());
    VMDF_TRY(check_level(agf.agf_bno_level.value(), geo.alloc_maxlevels,
                         field(offsetof(Agf, agf_bno_level)), "agf_bno_level"));
    VMDF_TRY(check_level(agf.agf_cnt_level.value(), geo.alloc_maxlevels,
                         field(offsetof(Agf, agf_cnt_level)), "agf_cnt_level"));
    if (geo.lazy_count && agf.agf_btreeblks.value() > length)
        return failf(Errc::corrupt, field(offsetof(Agf, agf_btreeblks)),
                     "AGF {} agf_btreeblks {} out of range", agno, agf.agf_btreeblks.value());
    if (geo.rmapbt()) {
        if (agf.agf_rmap_blocks.value() > length)
            return failf(Errc::corrupt, field(offsetof(Agf, agf_rmap_blocks)),
                         "AGF {} agf_rmap_blocks {} out of range", agno, agf.agf_rmap_blocks.value());
        VMDF_TRY(check_level(agf.agf_rmap_level.value(), geo.rmap_maxlevels,
                             field(offsetof(Agf, agf_rmap_level)), "agf_rmap_level"));
    }
    if (geo.reflink()) {
        if (agf.agf_refcount_blocks.value() > length)
            return failf(Errc::corrupt, field(offsetof(Agf, agf_refcount_blocks)),
                         "AGF {} agf_refcount_blocks {} out of range", agno,
                         agf.agf_refcount_blocks.value());
        VMDF_TRY(check_level(agf.agf_refcount_level.value(), geo.refc_maxlevels,
                             field(offsetof(Agf, agf_refcount_level)), "agf_refcount_level"));
    }
    out.freeblks = agf.agf_freeblks.value();
    out.flcount = agf.agf_flcount.value();
    out.btreeblks = geo.lazy_count ? agf.agf_btreeblks.value() : 0;
    out.rmap_blocks = geo.rmapbt() ? agf.agf_rmap_blocks.value() : 0;
    out.refcount_blocks = geo.reflink() ? agf.agf_refcount_blocks.value() : 0;
    return {};
}

Status check_agi(const Geometry& geo, std::uint64_t agno, std::span<const std::byte> bytes,
                 std::uint64_t at, AgCounts& out) {
    const ByteReader reader(bytes, at);
    VMDF_TRY_ASSIGN(const Agi agi, reader.at<Agi>(0));
    auto field = [at](std::size_t off) { return at + off; };
    if (agi.agi_magicnum.value() != kAgiMagic)
        return failf(Errc::corrupt, field(0), "AGI {} has a bad magic", agno);
    if (geo.v5) {
        VMDF_TRY(check_crc(bytes, offsetof(Agi, agi_crc), at, fmt::format("AGI {}", agno)));
        if (std::memcmp(agi.agi_uuid, geo.meta_uuid.data(), 16) != 0)
            return failf(Errc::corrupt, field(offsetof(Agi, agi_uuid)),
                         "AGI {} belongs to another filesystem (UUID)", agno);
    }
    if (agi.agi_versionnum.value() != 1)
        return failf(Errc::corrupt, field(offsetof(Agi, agi_versionnum)), "AGI {} version {}", agno,
                     agi.agi_versionnum.value());
    if (agi.agi_seqno.value() != agno)
        return failf(Errc::corrupt, field(offsetof(Agi, agi_seqno)), "AGI {} says it is AG {}",
                     agno, agi.agi_seqno.value());
    const std::uint64_t length = agi.agi_length.value();
    VMDF_TRY(check_ag_length(geo, agno, length, field(offsetof(Agi, agi_length))));
    VMDF_TRY(check_level(agi.agi_level.value(), geo.inobt_maxlevels,
                         field(offsetof(Agi, agi_level)), "agi_level"));
    if (geo.finobt())
        VMDF_TRY(check_level(agi.agi_free_level.value(), geo.inobt_maxlevels,
                             field(offsetof(Agi, agi_free_level)), "agi_free_level"));
    for (std::size_t i = 0; i < 64; ++i) {
        const std::uint32_t agino = agi.agi_unlinked[i].value();
        if (agino != kNullAgIno && (agino >> geo.inopblog) >= length)
            return failf(Errc::corrupt, field(offsetof(Agi, agi_unlinked) + 4 * i),
                         "AGI {} unlinked inode {} outside the AG", agno, agino);
    }
    // Not checked by the kernel's verifier, but sums built on them must
    // make sense: no more inodes than fit, no more free than allocated.
    const std::uint64_t count = agi.agi_count.value(), freecount = agi.agi_freecount.value();
    if (count > length << geo.inopblog)
        return failf(Errc::corrupt, field(offsetof(Agi, agi_count)),
                     "AGI {} counts {} inodes in {} blocks", agno, count, length);
    if (freecount > count)
        return failf(Errc::corrupt, field(offsetof(Agi, agi_freecount)),
                     "AGI {} counts {} free inodes of {}", agno, freecount, count);
    if (geo.inobtcount() && agi.agi_fblocks.value() > length)
        return failf(Errc::corrupt, field(offsetof(Agi, agi_fblocks)),
                     "AGI {} agi_fblocks {} out of range", agno, agi.agi_fblocks.value());
    out.count = count;
    out.freecount = freecount;
    out.free_root = agi.agi_free_root.value();
    out.free_level = agi.agi_free_level.value();
    out.fblocks = agi.agi_fblocks.value();
    return {};
}

/// Reads and checks AG `agno`'s AGF (sector 1) and AGI (sector 2).
Result<AgCounts> read_ag(const Device& dev, const Geometry& geo, std::uint64_t agno) {
    const std::uint64_t at = geo.ag_offset(agno) + geo.sect_size;
    VMDF_TRY_ASSIGN(auto raw, read_bytes(dev, at, 2 * geo.sect_size, 2 * geo.sect_size));
    const std::span<const std::byte> bytes(raw);
    AgCounts counts;
    VMDF_TRY(check_agf(geo, agno, bytes.first(geo.sect_size), at, counts));
    VMDF_TRY(check_agi(geo, agno, bytes.subspan(geo.sect_size), at + geo.sect_size, counts));
    return counts;
}

// --- The free inode btree --------------------------------------------------------

/// Counts the blocks of AG `agno`'s finobt as xfs_btree_count_blocks does:
/// level by level, from each level's leftmost block along the right
/// sibling pointers. Each block is verified; a block met twice (a cycle)
/// or more blocks than the largest possible tree is an error.
Result<std::uint64_t> count_finobt_blocks(const Device& dev, const Geometry& geo,
                                          std::uint64_t agno, const AgCounts& ag) {
    const std::uint64_t length = geo.ag_length(agno);
    const std::uint64_t max_blocks =
        std::min(length, max_tree_blocks(geo.inobt, length * geo.inopblock / kInodesPerChunk) +
                             geo.inobt_maxlevels);
    const std::uint64_t hdr = geo.v5 ? kShortBtreeHeaderV5 : kShortBtreeHeaderV4;
    std::unordered_set<std::uint32_t> seen;
    std::vector<std::byte> block(static_cast<std::size_t>(geo.block_size));
    std::uint32_t leftmost = ag.free_root;
    for (std::uint32_t level = ag.free_level; level-- > 0;) {
        std::uint32_t next_leftmost = kNullAgBlock;
        for (std::uint32_t agbno = leftmost; agbno != kNullAgBlock;) {
            const std::uint64_t at = geo.ag_offset(agno) + std::uint64_t{agbno} * geo.block_size;
            if (agbno >= length)
                return failf(Errc::corrupt, std::nullopt,
                             "finobt of AG {} points to block {}, outside the AG", agno, agbno);
            if (!seen.insert(agbno).second)
                return failf(Errc::corrupt, at, "finobt of AG {} reaches block {} twice (a cycle)",
                             agno, agbno);
            if (seen.size() > max_blocks)
                return failf(Errc::corrupt, at, "finobt of AG {} has more than {} blocks", agno,
                             max_blocks);
            VMDF_TRY(dev.read(at, block));
            const ByteReader reader(block, at);
            VMDF_TRY_ASSIGN(const ShortBtreeBlock h, reader.at<ShortBtreeBlock>(0));
            if (h.bb_magic.value() != (geo.v5 ? kFinobtCrcMagic : kFinobtMagic))
                return failf(Errc::corrupt, at, "finobt block {} of AG {} has a bad magic", agbno,
                             agno);
            if (geo.v5) {
                VMDF_TRY(check_crc(block, offsetof(ShortBtreeBlock, bb_crc), at,
                                   fmt::format("finobt block {} of AG {}", agbno, agno)));
                if (h.bb_blkno.value() != at / kBasicBlock || h.bb_owner.value() != agno ||
                    std::memcmp(h.bb_uuid, geo.meta_uuid.data(), 16) != 0)
                    return failf(Errc::corrupt, at + offsetof(ShortBtreeBlock, bb_blkno),
                                 "finobt block {} of AG {} is not where it says it is", agbno, agno);
            }
            if (h.bb_level.value() != level)
                return failf(Errc::corrupt, at + offsetof(ShortBtreeBlock, bb_level),
                             "finobt block {} of AG {} is at level {}, not {}", agbno, agno,
                             h.bb_level.value(), level);
            const std::uint64_t numrecs = h.bb_numrecs.value();
            const std::uint64_t max_recs = level == 0 ? geo.inobt.max_leaf : geo.inobt.max_node;
            if (numrecs > max_recs || (level > 0 && numrecs == 0))
                return failf(Errc::corrupt, at + offsetof(ShortBtreeBlock, bb_numrecs),
                             "finobt block {} of AG {} claims {} records (room for {})", agbno,
                             agno, numrecs, max_recs);
            for (std::uint32_t sib : {h.bb_leftsib.value(), h.bb_rightsib.value()})
                if (sib != kNullAgBlock && (sib >= length || sib == agbno))
                    return failf(Errc::corrupt, at + offsetof(ShortBtreeBlock, bb_leftsib),
                                 "finobt block {} of AG {} has a bad sibling {}", agbno, agno, sib);
            if (level > 0 && next_leftmost == kNullAgBlock) {
                // Pointers follow the max_node keys of 4 bytes each.
                VMDF_TRY_ASSIGN(const be::big_uint32_buf_t ptr,
                                reader.at<be::big_uint32_buf_t>(hdr + 4 * geo.inobt.max_node));
                next_leftmost = ptr.value();
            }
            agbno = h.bb_rightsib.value();
        }
        leftmost = next_leftmost;
    }
    return static_cast<std::uint64_t>(seen.size());
}

// --- The log ------------------------------------------------------------------------

/// The log as 512-byte basic blocks (xlog_find_head and friends).
class Log {
public:
    Log(const Device& dev, std::uint64_t offset, std::uint64_t bbs, bool v2,
        const std::uint8_t* uuid)
        : dev_(dev), offset_(offset), bbs_(bbs), v2_(v2), uuid_(uuid) {}

    std::uint64_t bbs() const { return bbs_; }
    /// XLOG_TOTAL_REC_SHIFT: how far back from the head the writes of the
    /// in-core logs may have landed out of order.
    std::uint64_t write_window() const { return std::min<std::uint64_t>(bbs_, v2_ ? 4096 : 512); }
    /// XLOG_REC_SHIFT: the longest record.
    std::uint64_t record_window() const { return std::min<std::uint64_t>(bbs_, v2_ ? 512 : 64); }

    /// The cycle number stamped on basic block `bb`.
    Result<std::uint32_t> cycle(std::uint64_t bb) const {
        VMDF_TRY_ASSIGN(auto raw, read_bytes(dev_, offset_ + bb * kBasicBlock, 8, 8));
        return cycle_of(raw);
    }

    /// The first block of [first, first + count) stamped `want`, if any.
    Result<std::optional<std::uint64_t>> find_cycle(std::uint64_t first, std::uint64_t count,
                                                    std::uint32_t want) const {
        VMDF_TRY_ASSIGN(auto raw, read_run(first, count));
        for (std::uint64_t i = 0; i < count; ++i)
            if (cycle_of(std::span(raw).subspan(i * kBasicBlock, 8)) == want)
                return std::optional<std::uint64_t>(first + i);
        return std::optional<std::uint64_t>{};
    }

    /// The last record header in [first, first + count), if any.
    Result<std::optional<std::uint64_t>> last_header(std::uint64_t first, std::uint64_t count) const {
        VMDF_TRY_ASSIGN(auto raw, read_run(first, count));
        for (std::uint64_t i = count; i-- > 0;)
            if (word(std::span(raw).subspan(i * kBasicBlock, 4)) == kLogHeaderMagic)
                return std::optional<std::uint64_t>(first + i);
        return std::optional<std::uint64_t>{};
    }

    Result<LogRecordHeader> header(std::uint64_t bb) const {
        VMDF_TRY_ASSIGN(auto h, read_struct<LogRecordHeader>(dev_, offset_ + bb * kBasicBlock));
        // xlog_header_check_mount: a record of another filesystem stops
        // the mount (an all-zero UUID is an old IRIX log, accepted).
        static constexpr std::uint8_t kNil[16] = {};
        if (std::memcmp(h.h_fs_uuid, uuid_, 16) != 0 && std::memcmp(h.h_fs_uuid, kNil, 16) != 0)
            return failf(Errc::corrupt, offset_ + bb * kBasicBlock + offsetof(LogRecordHeader, h_fs_uuid),
                         "log record at block {} belongs to another filesystem", bb);
        return h;
    }

    /// Blocks a record takes: its header(s) and its data.
    std::uint64_t record_blocks(const LogRecordHeader& h) const {
        std::uint64_t headers = 1;
        if (v2_ && (h.h_version.value() & kLogVersion2) && h.h_size.value() > kLogHeaderCycleSize)
            headers = div_round_up(h.h_size.value(), kLogHeaderCycleSize);
        return headers + div_round_up(h.h_len.value(), kBasicBlock);
    }
    std::uint64_t header_blocks(const LogRecordHeader& h) const {
        return record_blocks(h) - div_round_up(h.h_len.value(), kBasicBlock);
    }

    Result<LogOpHeader> op_header(std::uint64_t bb) const {
        return read_struct<LogOpHeader>(dev_, offset_ + bb * kBasicBlock);
    }

private:
    static std::uint32_t word(std::span<const std::byte> b) {
        return std::to_integer<std::uint32_t>(b[0]) << 24 | std::to_integer<std::uint32_t>(b[1]) << 16 |
               std::to_integer<std::uint32_t>(b[2]) << 8 | std::to_integer<std::uint32_t>(b[3]);
    }
    /// A header block carries its cycle in its second word (xlog_get_cycle).
    static std::uint32_t cycle_of(std::span<const std::byte> b) {
        return word(b) == kLogHeaderMagic ? word(b.subspan(4)) : word(b);
    }
    Result<std::vector<std::byte>> read_run(std::uint64_t first, std::uint64_t count) const {
        const std::uint64_t cap = std::uint64_t{8192} * kBasicBlock;
        return read_bytes(dev_, offset_ + first * kBasicBlock, count * kBasicBlock, cap);
    }

    const Device& dev_;
    std::uint64_t offset_, bbs_;
    bool v2_;
    const std::uint8_t* uuid_;
};

/// The first block of [lo, hi] stamped `want`, given that `lo` is not and
/// `hi` is, and that the stamps change only once in between
/// (xlog_find_cycle_start).
Result<std::uint64_t> first_of_cycle(const Log& log, std::uint64_t lo, std::uint64_t hi,
                                     std::uint32_t want) {
    while (hi - lo > 1) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        VMDF_TRY_ASSIGN(const std::uint32_t c, log.cycle(mid));
        (c == want ? hi : lo) = mid;
    }
    return hi;
}

/// xlog_find_verify_log_record: if the last record before `head` (its
/// header within `scan` blocks, looked for round the end of the log if
/// `wrap`) does not end exactly at `head`, it was not completely written,
/// and the head moves back to its start.
Result<std::uint64_t> settle_on_record_end(const Log& log, std::uint64_t head, std::uint64_t scan,
                                           bool wrap) {
    const std::uint64_t n = log.bbs();
    const std::uint64_t start = head > scan ? head - scan : 0;
    VMDF_TRY_ASSIGN(auto found, log.last_header(start, head - start));
    std::uint64_t distance = 0;
    if (found) {
        distance = head - *found;
    } else if (wrap && start == 0 && scan > head) {
        const std::uint64_t tail_count = std::min(scan - head, n);
        VMDF_TRY_ASSIGN(found, log.last_header(n - tail_count, tail_count));
        if (found) distance = n - *found + head;
    }
    if (!found)
        return failf(Errc::corrupt, std::nullopt,
                     "log inconsistent: no record header in the {} blocks before block {}", scan, head);
    VMDF_TRY_ASSIGN(const LogRecordHeader h, log.header(*found));
    return distance == log.record_blocks(h) ? head : *found;
}

/// xlog_find_head: the block after the last complete write.
Result<std::uint64_t> find_head(const Log& log) {
    const std::uint64_t n = log.bbs();
    VMDF_TRY_ASSIGN(const std::uint32_t first_cycle, log.cycle(0));
    if (first_cycle == 0) return std::uint64_t{0};  // never written
    VMDF_TRY_ASSIGN(const std::uint32_t last_cycle, log.cycle(n - 1));
    const std::uint64_t window = log.write_window();
    if (last_cycle == 0) {
        // Not yet wrapped (xlog_find_zeroed): the head is the first block
        // never written, or an earlier one that a write skipped.
        VMDF_TRY_ASSIGN(std::uint64_t head, first_of_cycle(log, 0, n - 1, 0));
        const std::uint64_t start = head > window ? head - window : 0;
        VMDF_TRY_ASSIGN(auto hole, log.find_cycle(start, head - start, 0));
        if (hole) head = *hole;
        return settle_on_record_end(log, head, head - start, false);
    }
    std::uint64_t head = n;
    std::uint32_t stop = last_cycle - 1;  // all one cycle: look for holes of the previous
    if (first_cycle != last_cycle) {
        stop = last_cycle;
        VMDF_TRY_ASSIGN(head, first_of_cycle(log, 0, n - 1, last_cycle));
    }
    if (head >= window) {
        VMDF_TRY_ASSIGN(auto hole, log.find_cycle(head - window, window, stop));
        if (hole) head = *hole;
    } else {
        // The window wraps: a hole of the previous cycle at the end of the
        // log, or else an earlier block of this cycle at its start.
        VMDF_TRY_ASSIGN(auto hole, log.find_cycle(n - (window - head), window - head, stop - 1));
        if (hole) {
            head = *hole;
        } else {
            VMDF_TRY_ASSIGN(auto early, log.find_cycle(0, head, stop));
            if (early) head = *early;
        }
    }
    VMDF_TRY_ASSIGN(head, settle_on_record_end(log, head, log.record_window(), true));
    return head == n ? 0 : head;
}

/// xlog_find_tail's verdict: the log is clean when the last record before
/// the head is an unmount record ending exactly at the head.
Result<bool> log_needs_recovery(const Log& log) {
    const std::uint64_t n = log.bbs();
    VMDF_TRY_ASSIGN(const std::uint64_t head, find_head(log));
    if (head == 0) {
        VMDF_TRY_ASSIGN(const std::uint32_t c, log.cycle(0));
        if (c == 0) return false;  // empty
    }
    // The last record header before the head, wrapping: the head now
    // ends a record, or starts one that was cut short, so the header lies
    // within the scans above plus one record.
    const std::uint64_t scan = std::min(n, log.write_window() + log.record_window());
    std::optional<std::uint64_t> rhead;
    {
        const std::uint64_t start = head > scan ? head - scan : 0;
        VMDF_TRY_ASSIGN(rhead, log.last_header(start, head - start));
        if (!rhead && head < scan) {
            const std::uint64_t count = std::min(scan - head, n - head);
            VMDF_TRY_ASSIGN(rhead, log.last_header(n - count, count));
        }
    }
    if (!rhead)
        return failf(Errc::corrupt, std::nullopt, "no log record found before the head (block {})",
                     head);
    VMDF_TRY_ASSIGN(const LogRecordHeader h, log.header(*rhead));
    const std::uint64_t after = (*rhead + log.record_blocks(h)) % n;
    if (after != head || h.h_num_logops.value() != 1) return true;
    VMDF_TRY_ASSIGN(const LogOpHeader op, log.op_header((*rhead + log.header_blocks(h)) % n));
    return (op.oh_flags & kLogUnmountTrans) == 0;
}

/// Does this device start like the external log of this filesystem: a
/// record header naming its UUID within the first record's reach?
bool is_log_of(const Device& dev, const Geometry& geo) {
    const std::uint64_t want = geo.logblocks * geo.block_size;
    if (dev.size() < want) return false;
    const std::uint64_t span = std::min<std::uint64_t>(want, 520 * kBasicBlock);
    auto raw = read_bytes(dev, 0, span, span);
    if (!raw) return false;
    const ByteReader reader(*raw, 0);
    for (std::uint64_t bb = 0; bb < span / kBasicBlock; ++bb) {
        auto h = reader.at<LogRecordHeader>(bb * kBasicBlock);
        if (h && h->h_magicno.value() == kLogHeaderMagic)
            return std::memcmp(h->h_fs_uuid, geo.sb.sb_uuid, 16) == 0;
    }
    return false;
}

/// Adds a warning if the log (internal, or external on one of the guest's
/// devices) needs recovery; returns whether it does.
bool check_log(const Device& dev, const Geometry& geo, const FilesystemContext& context,
               std::vector<std::string>& warnings) {
    const Device* log_dev = &dev;
    std::uint64_t offset = 0;
    if (geo.internal_log) {
        offset = (geo.log_ag * geo.agblocks + geo.log_agbno) * geo.block_size;
    } else {
        log_dev = nullptr;
        for (const NamedDevice& candidate : context.guest_devices)
            if (candidate.device.get() != &dev && is_log_of(*candidate.device, geo)) {
                log_dev = candidate.device.get();
                break;
            }
        if (!log_dev) {
            warnings.push_back(
                "the external log device is not among the guest's devices: whether it needs "
                "recovery is unknown (the kernel would not mount without it)");
            return false;
        }
    }
    const Log log(*log_dev, offset, geo.logblocks * geo.block_size / kBasicBlock, geo.log_v2,
                  geo.sb.sb_uuid);
    auto dirty = log_needs_recovery(log);
    if (!dirty) {
        warnings.push_back(fmt::format(
            "the log cannot be read as the kernel reads it ({}): the kernel would not mount this",
            dirty.error().message));
        return false;
    }
    if (*dirty)
        warnings.push_back("the log needs recovery (unclean shutdown): the figures may be stale");
    return *dirty;
}

// --- The figures -----------------------------------------------------------------

/// One AG's per-AG reservations (xfs_ag_resv_init): the metadata one
/// (refcountbt and finobt) and the rmapbt one, as asked and as used.
struct AgReservation {
    std::uint64_t refc_ask = 0, refc_used = 0, finobt_ask = 0, finobt_used = 0;
    std::uint64_t rmap_ask = 0, rmap_used = 0;
    bool any() const { return refc_ask + finobt_ask > 0 || rmap_ask > 0; }
};

AgReservation reservation_asks(const Geometry& geo, std::uint64_t agno, const AgCounts& ag) {
    AgReservation r;
    // The log's blocks never need btree space: the AG is taken without them.
    std::uint64_t usable = geo.ag_length(agno);
    if (geo.ag_has_log(agno)) usable -= geo.logblocks;
    if (geo.reflink()) {
        r.refc_ask = max_tree_blocks(geo.refcount, usable);
        r.refc_used = ag.refcount_blocks;
    }
    if (geo.finobt()) {
        r.finobt_ask = max_tree_blocks(geo.inobt, usable * geo.inopblock / kInodesPerChunk);
        r.finobt_used = ag.fblocks;  // replaced by a walk where needed
    }
    if (geo.rmapbt()) {
        r.rmap_ask = std::max(usable / 100, max_tree_blocks(geo.rmap, usable));
        r.rmap_used = ag.rmap_blocks;
    }
    return r;
}

/// The free-block counter of a mount and what it holds back.
struct FreeCounter {
    std::int64_t fdblocks = 0;     // m_fdblocks
    std::int64_t unavailable = 0;  // set-aside + allocbt blocks (xfs_fdblocks_unavailable)
    std::int64_t reserve = 0;      // the reserve pool still available (m_resblks_avail)

    /// xfs_dec_freecounter: takes `delta` blocks if that leaves the
    /// unavailable ones, else (if allowed) from the reserve pool.
    bool take(std::int64_t delta, bool from_reserve) {
        if (fdblocks - delta >= unavailable) {
            fdblocks -= delta;
            return true;
        }
        if (from_reserve && reserve >= delta) {
            reserve -= delta;
            return true;
        }
        return false;
    }
};

/// What a read-write mount takes from the free blocks on top of a
/// read-only one: the reserve pool (xfs_reserve_blocks), then each AG's
/// reservations (xfs_fs_reserve_ag_blocks), in that order.
void apply_rw_reservations(const Geometry& geo, const std::vector<AgReservation>& resv,
                           FreeCounter& counter) {
    const std::int64_t request =
        static_cast<std::int64_t>(std::min(geo.dblocks / 20, kMaxReserveBlocks));
    const std::int64_t free = counter.fdblocks - counter.unavailable;
    if (request > 0 && free > 0) {
        const std::int64_t delta = std::min(free, request);
        if (counter.take(delta, false)) counter.reserve = delta;
    }
    for (const AgReservation& r : resv) {
        // METADATA: only the unused part is hidden; if that fails, the
        // kernel retries without the finobt (m_finobt_nores).
        auto hidden = [](std::uint64_t ask, std::uint64_t used) {
            return static_cast<std::int64_t>(used > ask ? 0 : ask - used);
        };
        if (!counter.take(hidden(r.refc_ask + r.finobt_ask, r.refc_used + r.finobt_used), true))
            counter.take(hidden(r.refc_ask, r.refc_used), true);
        // RMAPBT: the whole reservation is hidden.
        counter.take(static_cast<std::int64_t>(std::max(r.rmap_ask, r.rmap_used)), true);
    }
}

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(const be::big_uint32_buf_t magic, read_struct<be::big_uint32_buf_t>(dev, 0));
    return magic.value() == kSbMagic ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext& context) {
    Filesystem fs;
    fs.type = "xfs";
    VMDF_TRY_ASSIGN(const Geometry geo, read_geometry(dev, fs.warnings, context.read_write));

    const bool dirty = check_log(dev, geo, context, fs.warnings);

    // Sums over every AG: what the kernel's counters start from after an
    // unclean mount (xfs_initialize_perag_data), and what the superblock
    // says after a clean one; its own lazy counters are stale in a live
    // guest's image.
    std::uint64_t fdblocks = 0, icount = 0, ifree = 0, allocbt_blocks = 0;
    std::vector<AgReservation> reservations;
    const bool need_finobt_walk = context.read_write && geo.finobt() && !geo.inobtcount();
    for (std::uint64_t agno = 0; agno < geo.agcount; ++agno) {
        auto ag = read_ag(dev, geo, agno);
        if (!ag) return std::move(ag).failure();
        fdblocks += ag->freeblks + ag->flcount + ag->btreeblks;
        icount += ag->count;
        ifree += ag->freecount;
        AgReservation r = reservation_asks(geo, agno, *ag);
        // Reading an AGF adds its free-space btree blocks to
        // m_allocbt_blks, which statfs holds back. A mount reads every AGF
        // with a reservation to set up (even read-only, around log
        // recovery), and every AGF after an unclean shutdown.
        if (r.any() || (dirty && geo.lazy_count)) {
            const std::int64_t allocbt =
                static_cast<std::int64_t>(ag->btreeblks) -
                (geo.rmapbt() ? static_cast<std::int64_t>(ag->rmap_blocks) - 1 : 0);
            if (allocbt > 0) allocbt_blocks += static_cast<std::uint64_t>(allocbt);
        }
        if (context.read_write) {
            if (need_finobt_walk) {
                VMDF_TRY_ASSIGN(r.finobt_used, count_finobt_blocks(dev, geo, agno, *ag));
            }
            reservations.push_back(r);
        }
    }

    FreeCounter counter;
    counter.fdblocks = static_cast<std::int64_t>(fdblocks);
    counter.unavailable = static_cast<std::int64_t>(kSetAsidePerAg * geo.agcount + allocbt_blocks);
    if (context.read_write) apply_rw_reservations(geo, reservations, counter);

    StatVfs& st = fs.stat;
    st.bsize = st.frsize = geo.block_size;
    st.blocks = geo.dblocks - (geo.internal_log ? geo.logblocks : 0);
    st.bfree = st.bavail =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, counter.fdblocks - counter.unavailable));
    // xfs_statfs_inodes: every free block could become inodes, up to
    // maxicount (imax_pct of the blocks, in whole inode chunks).
    std::uint64_t files = std::min(icount + (st.bfree << geo.inopblog), kMaxFileInodes);
    if (geo.sb.sb_imax_pct != 0) {
        const std::uint64_t chunk_blocks =
            std::max<std::uint64_t>(kInodesPerChunk, geo.inopblock) >> geo.inopblog;
        const std::uint64_t max_blocks = geo.dblocks * geo.sb.sb_imax_pct / 100 / chunk_blocks * chunk_blocks;
        files = std::min(files, max_blocks << geo.inopblog);
    }
    st.files = std::max(files, icount);
    st.ffree = st.files > icount - ifree ? st.files - (icount - ifree) : 0;
    return fs;
}

constexpr Magic kMagics[] = {{0, "XFSB"sv}};

}  // namespace
}  // namespace vmdf::xfs

namespace vmdf {
constexpr FilesystemPlugin xfs_plugin{"xfs", xfs::kMagics, xfs::probe, xfs::open};
}
