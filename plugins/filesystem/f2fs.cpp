// SPDX-License-Identifier: GPL-2.0-or-later
// F2FS, with the figures Linux 6.x's f2fs_statfs (fs/f2fs/super.c) reports
// for a read-only mount: 4 KiB blocks; as total the blocks from segment 0
// on; as free the checkpoint's user_block_count less its valid_block_count;
// as inodes the NAT's node slots less the three reserved ones. Structures
// from include/linux/f2fs_fs.h; the superblock and checkpoint are chosen
// and checked as read_raw_super_block / sanity_check_raw_super and
// f2fs_get_valid_checkpoint / sanity_check_ckpt choose and check them.
#include "plugins/filesystem/f2fs.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::f2fs {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint32_t kMagic = 0xF2F52010;  // F2FS_SUPER_MAGIC
/// Each of the two superblock copies sits 1024 bytes into its 4 KiB block.
constexpr std::uint64_t kSuperOffset = 1024;
/// 6.1 mounts 4 KiB blocks only (F2FS_BLKSIZE_BITS = PAGE_SHIFT on x86)
/// and 512-block segments (sanity_check_raw_super).
constexpr unsigned kBlockBits = 12;
constexpr std::uint64_t kBlockSize = std::uint64_t{1} << kBlockBits;
constexpr unsigned kLogBlocksPerSeg = 9;
constexpr std::uint64_t kBlocksPerSeg = std::uint64_t{1} << kLogBlocksPerSeg;
constexpr unsigned kMinLogSectorSize = 9, kMaxLogSectorSize = 12;
constexpr std::uint64_t kMinSegments = 9;                  // F2FS_MIN_SEGMENTS
constexpr std::uint64_t kMaxSegments = 16 * 1024 * 1024 / 2;  // F2FS_MAX_SEGMENT
constexpr std::uint64_t kMinMetaSegments = 8;              // F2FS_MIN_META_SEGMENTS
constexpr std::uint32_t kMaxExtensions = 64;               // F2FS_MAX_EXTENSION
constexpr std::uint32_t kRootIno = 3, kNodeIno = 1, kMetaIno = 2;
/// Node IDs 0..2 are never handed out (F2FS_RESERVED_NODE_NUM).
constexpr std::uint64_t kReservedNodes = 3;
/// struct f2fs_nat_entry is 9 bytes: 455 per 4 KiB NAT block.
constexpr std::uint64_t kNatEntriesPerBlock = kBlockSize / 9;
/// The two checkpoint packs, and the persistent logs (NR_CURSEG_PERSIST_TYPE).
constexpr std::uint64_t kCpPacks = 2, kPersistLogs = 6;
/// checksum_offset of a checkpoint: between the end of the fixed fields
/// (CP_MIN_CHKSUM_OFFSET) and the last word of the block (CP_CHKSUM_OFFSET).
constexpr std::uint32_t kCpMinChecksumOffset = 192, kCpChecksumOffset = kBlockSize - 4;

// Superblock feature bits (F2FS_FEATURE_*) that change what is read here.
constexpr std::uint32_t kFeatureBlkzoned = 0x0002, kFeatureSbChecksum = 0x0800,
                        kFeatureReadonly = 0x4000;
// Checkpoint flags (CP_*_FLAG).
constexpr std::uint32_t kCpUmount = 0x0001, kCpOrphanPresent = 0x0002, kCpError = 0x0008,
                        kCpFsck = 0x0010, kCpDisabled = 0x1000;

// struct f2fs_device: one entry of the multi-device list.
struct DeviceEntry {
    char path[64];
    be::little_uint32_buf_t total_segments;
};
static_assert(sizeof(DeviceEntry) == 68);

// struct f2fs_super_block (include/linux/f2fs_fs.h), 3072 bytes.
struct SuperBlock {
    be::little_uint32_buf_t magic;                  // 0
    be::little_uint16_buf_t major_ver;              // 4
    be::little_uint16_buf_t minor_ver;              // 6
    be::little_uint32_buf_t log_sectorsize;         // 8
    be::little_uint32_buf_t log_sectors_per_block;  // 12
    be::little_uint32_buf_t log_blocksize;          // 16
    be::little_uint32_buf_t log_blocks_per_seg;     // 20
    be::little_uint32_buf_t segs_per_sec;           // 24
    be::little_uint32_buf_t secs_per_zone;          // 28
    be::little_uint32_buf_t checksum_offset;        // 32
    be::little_uint64_buf_t block_count;            // 36: all blocks, in 4 KiB
    be::little_uint32_buf_t section_count;          // 44
    be::little_uint32_buf_t segment_count;          // 48
    be::little_uint32_buf_t segment_count_ckpt;     // 52
    be::little_uint32_buf_t segment_count_sit;      // 56
    be::little_uint32_buf_t segment_count_nat;      // 60
    be::little_uint32_buf_t segment_count_ssa;      // 64
    be::little_uint32_buf_t segment_count_main;     // 68
    be::little_uint32_buf_t segment0_blkaddr;       // 72
    be::little_uint32_buf_t cp_blkaddr;             // 76
    be::little_uint32_buf_t sit_blkaddr;            // 80
    be::little_uint32_buf_t nat_blkaddr;            // 84
    be::little_uint32_buf_t ssa_blkaddr;            // 88
    be::little_uint32_buf_t main_blkaddr;           // 92
    be::little_uint32_buf_t root_ino;               // 96
    be::little_uint32_buf_t node_ino;               // 100
    be::little_uint32_buf_t meta_ino;               // 104
    std::uint8_t uuid[16];                          // 108
    std::uint8_t volume_name[1024];                 // 124: 512 UTF-16 units
    be::little_uint32_buf_t extension_count;        // 1148
    std::uint8_t extension_list[64][8];             // 1152
    be::little_uint32_buf_t cp_payload;             // 1664: blocks after the cp header
    std::uint8_t version[256];                      // 1668
    std::uint8_t init_version[256];                 // 1924
    be::little_uint32_buf_t feature;                // 2180
    std::uint8_t encryption_level;                  // 2184
    std::uint8_t encrypt_pw_salt[16];               // 2185
    DeviceEntry devs[8];                                // 2201
    std::uint8_t pad_2745[3068 - 2745];             // quota inodes, encoding, errors
    be::little_uint32_buf_t crc;                    // 3068: with the sb_checksum feature
};
static_assert(sizeof(SuperBlock) == 3072 && alignof(SuperBlock) == 1);
static_assert(offsetof(SuperBlock, block_count) == 36);
static_assert(offsetof(SuperBlock, segment_count_nat) == 60);
static_assert(offsetof(SuperBlock, segment0_blkaddr) == 72);
static_assert(offsetof(SuperBlock, cp_payload) == 1664);
static_assert(offsetof(SuperBlock, feature) == 2180);
static_assert(offsetof(SuperBlock, devs) == 2201);

// struct f2fs_checkpoint: the fixed part at the start of a checkpoint block.
struct Checkpoint {
    be::little_uint64_buf_t checkpoint_ver;             // 0
    be::little_uint64_buf_t user_block_count;           // 8
    be::little_uint64_buf_t valid_block_count;          // 16
    be::little_uint32_buf_t rsvd_segment_count;         // 24
    be::little_uint32_buf_t overprov_segment_count;     // 28
    be::little_uint32_buf_t free_segment_count;         // 32
    be::little_uint32_buf_t cur_node_segno[8];          // 36
    be::little_uint16_buf_t cur_node_blkoff[8];         // 68
    be::little_uint32_buf_t cur_data_segno[8];          // 84
    be::little_uint16_buf_t cur_data_blkoff[8];         // 116
    be::little_uint32_buf_t ckpt_flags;                 // 132
    be::little_uint32_buf_t cp_pack_total_block_count;  // 136
    be::little_uint32_buf_t cp_pack_start_sum;          // 140
    be::little_uint32_buf_t valid_node_count;           // 144
    be::little_uint32_buf_t valid_inode_count;          // 148
    be::little_uint32_buf_t next_free_nid;              // 152
    be::little_uint32_buf_t sit_ver_bitmap_bytesize;    // 156
    be::little_uint32_buf_t nat_ver_bitmap_bytesize;    // 160
    be::little_uint32_buf_t checksum_offset;            // 164
    be::little_uint64_buf_t elapsed_time;               // 168
    std::uint8_t alloc_type[16];                        // 176
};
static_assert(sizeof(Checkpoint) == kCpMinChecksumOffset && alignof(Checkpoint) == 1);
static_assert(offsetof(Checkpoint, ckpt_flags) == 132);
static_assert(offsetof(Checkpoint, valid_node_count) == 144);
static_assert(offsetof(Checkpoint, checksum_offset) == 164);

/// The CRC-32 f2fs uses (f2fs_crc32): the little-endian IEEE polynomial
/// started from F2FS_SUPER_MAGIC, without the usual inversions.
std::uint32_t f2fs_crc32(std::uint32_t crc, std::span<const std::byte> data) {
    static constexpr auto kTable = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    for (std::byte b : data) crc = kTable[(crc ^ std::to_integer<std::uint32_t>(b)) & 0xFF] ^ (crc >> 8);
    return crc;
}

std::uint32_t le32_at(std::span<const std::byte> bytes, std::size_t at) {
    be::little_uint32_buf_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    return v.value();
}

/// The superblock and what the checks derived from it.
struct Geometry {
    SuperBlock sb;
    std::uint64_t sb_offset = 0;  // where the copy in use was read
    std::uint64_t total_node_count = 0;
    bool readonly_feature = false;
};

/// sanity_check_raw_super and sanity_check_area_boundary: what makes the
/// kernel reject a superblock copy. `at` is the copy's byte offset.
Status check_super(const SuperBlock& sb, std::span<const std::byte> raw, std::uint64_t at,
                   const Device& dev) {
    auto bad = [&](std::size_t field, std::string message) {
        return fail(Errc::corrupt, std::move(message), at + field);
    };
    if (sb.magic.value() != kMagic)
        return bad(0, fmt::format("magic {:#x} is not F2FS's", sb.magic.value()));
    if (sb.feature.value() & kFeatureSbChecksum) {
        if (sb.checksum_offset.value() != offsetof(SuperBlock, crc))
            return bad(offsetof(SuperBlock, checksum_offset),
                       fmt::format("superblock checksum offset {} is not {}",
                                   sb.checksum_offset.value(), offsetof(SuperBlock, crc)));
        const std::uint32_t crc = f2fs_crc32(kMagic, raw.first(offsetof(SuperBlock, crc)));
        if (crc != sb.crc.value())
            return bad(offsetof(SuperBlock, crc),
                       fmt::format("superblock checksum {:#010x}, computed {:#010x}", sb.crc.value(), crc));
    }
    if (sb.log_blocksize.value() != kBlockBits)
        return fail(Errc::unsupported,
                    fmt::format("block size 2^{} (Linux 6.1 mounts 4 KiB blocks only)",
                                sb.log_blocksize.value()),
                    at + offsetof(SuperBlock, log_blocksize));
    if (sb.log_blocks_per_seg.value() != kLogBlocksPerSeg)
        return bad(offsetof(SuperBlock, log_blocks_per_seg),
                   fmt::format("2^{} blocks per segment (must be 2^9)", sb.log_blocks_per_seg.value()));
    const std::uint32_t log_sector = sb.log_sectorsize.value();
    if (log_sector < kMinLogSectorSize || log_sector > kMaxLogSectorSize)
        return bad(offsetof(SuperBlock, log_sectorsize), fmt::format("sector size 2^{} invalid", log_sector));
    if (sb.log_sectors_per_block.value() + log_sector != kMaxLogSectorSize)
        return bad(offsetof(SuperBlock, log_sectors_per_block),
                   fmt::format("2^{} sectors of 2^{} bytes per block is not 4 KiB",
                               sb.log_sectors_per_block.value(), log_sector));
    const std::uint64_t segments = sb.segment_count.value(), main = sb.segment_count_main.value();
    const std::uint64_t segs_per_sec = sb.segs_per_sec.value(), sections = sb.section_count.value();
    if (segments < kMinSegments || segments > kMaxSegments)
        return bad(offsetof(SuperBlock, segment_count), fmt::format("segment count {} invalid", segments));
    if (sections < 1 || sections > main || segs_per_sec < 1 || segs_per_sec > segments)
        return bad(offsetof(SuperBlock, section_count),
                   fmt::format("{} sections of {} segments for {} main segments invalid", sections,
                               segs_per_sec, main));
    if (main != sections * segs_per_sec || segments / segs_per_sec < sections)
        return bad(offsetof(SuperBlock, segment_count_main),
                   fmt::format("{} main segments are not {} sections of {}", main, sections, segs_per_sec));
    if (segments > (sb.block_count.value() >> kLogBlocksPerSeg))
        return bad(offsetof(SuperBlock, segment_count),
                   fmt::format("{} segments do not fit in {} blocks", segments, sb.block_count.value()));
    if (sb.secs_per_zone.value() < 1 || sb.secs_per_zone.value() > sections)
        return bad(offsetof(SuperBlock, secs_per_zone),
                   fmt::format("{} sections per zone invalid", sb.secs_per_zone.value()));
    if (sb.extension_count.value() > kMaxExtensions)
        return bad(offsetof(SuperBlock, extension_count),
                   fmt::format("{} extensions (at most {})", sb.extension_count.value(), kMaxExtensions));
    if (sb.cp_payload.value() >= kBlocksPerSeg - kCpPacks - kPersistLogs)
        return bad(offsetof(SuperBlock, cp_payload),
                   fmt::format("checkpoint payload of {} blocks invalid", sb.cp_payload.value()));
    if (sb.root_ino.value() != kRootIno || sb.node_ino.value() != kNodeIno || sb.meta_ino.value() != kMetaIno)
        return bad(offsetof(SuperBlock, root_ino),
                   fmt::format("reserved inode numbers {}/{}/{} are not 3/1/2", sb.root_ino.value(),
                               sb.node_ino.value(), sb.meta_ino.value()));

    // The areas follow each other: checkpoint, SIT, NAT, SSA, main.
    struct Area {
        const char* name;
        std::size_t start_field;
        std::uint64_t start, segments;
    };
    const Area areas[] = {
        {"checkpoint", offsetof(SuperBlock, cp_blkaddr), sb.cp_blkaddr.value(), sb.segment_count_ckpt.value()},
        {"SIT", offsetof(SuperBlock, sit_blkaddr), sb.sit_blkaddr.value(), sb.segment_count_sit.value()},
        {"NAT", offsetof(SuperBlock, nat_blkaddr), sb.nat_blkaddr.value(), sb.segment_count_nat.value()},
        {"SSA", offsetof(SuperBlock, ssa_blkaddr), sb.ssa_blkaddr.value(), sb.segment_count_ssa.value()},
        {"main area", offsetof(SuperBlock, main_blkaddr), sb.main_blkaddr.value(), main},
    };
    std::uint64_t expect = sb.segment0_blkaddr.value();
    const char* previous = "segment 0";
    for (const Area& area : areas) {
        if (area.start != expect)
            return bad(area.start_field, fmt::format("{} starts at block {}, {} ends at {}", area.name,
                                                     area.start, previous, expect));
        expect = area.start + (area.segments << kLogBlocksPerSeg);  // 32-bit values: no overflow
        previous = area.name;
    }
    const std::uint64_t seg_end = sb.segment0_blkaddr.value() + (segments << kLogBlocksPerSeg);
    if (expect > seg_end)
        return bad(offsetof(SuperBlock, segment_count_main),
                   fmt::format("main area ends at block {}, past the {} segments' end {}", expect,
                               segments, seg_end));
    // The kernel reads every area; all of them, and the volume, must be there.
    const auto bytes = checked_mul(sb.block_count.value(), kBlockSize);
    if (!bytes || *bytes > dev.size())
        return failf(Errc::truncated, at + offsetof(SuperBlock, block_count),
                     "{} blocks of 4 KiB do not fit in the {}-byte device", sb.block_count.value(),
                     dev.size());
    if (seg_end > sb.block_count.value())
        return bad(offsetof(SuperBlock, segment_count),
                   fmt::format("segments end at block {}, past the {} blocks", seg_end, sb.block_count.value()));
    return {};
}

/// read_raw_super_block: the first of the two copies that passes the checks.
Result<Geometry> read_super(const Device& dev) {
    std::optional<Error> first_error;
    for (std::uint64_t block = 0; block < 2; ++block) {
        const std::uint64_t at = block * kBlockSize + kSuperOffset;
        auto raw = read_bytes(dev, at, sizeof(SuperBlock), sizeof(SuperBlock));
        Status status;
        if (raw) {
            Geometry g;
            std::memcpy(&g.sb, raw->data(), sizeof g.sb);
            status = check_super(g.sb, *raw, at, dev);
            if (status) {
                g.sb_offset = at;
                return g;
            }
        } else {
            status = std::move(raw).failure();
        }
        if (!first_error) first_error = std::move(status).error();
    }
    return fail(std::move(*first_error));
}

/// A checkpoint block's version if its checksum holds
/// (get_checkpoint_version), or why not.
Result<std::uint64_t> checkpoint_version(std::span<const std::byte> block, std::uint64_t at) {
    const std::uint32_t crc_offset = le32_at(block, offsetof(Checkpoint, checksum_offset));
    if (crc_offset < kCpMinChecksumOffset || crc_offset > kCpChecksumOffset || (crc_offset & 3))
        return failf(Errc::corrupt, at + offsetof(Checkpoint, checksum_offset),
                     "checkpoint checksum offset {} invalid", crc_offset);
    // f2fs_checkpoint_chksum: the bytes before the checksum, then those after it.
    std::uint32_t crc = f2fs_crc32(kMagic, block.first(crc_offset));
    if (crc_offset < kCpChecksumOffset) crc = f2fs_crc32(crc, block.subspan(crc_offset + 4));
    if (crc != le32_at(block, crc_offset))
        return failf(Errc::corrupt, at + crc_offset, "checkpoint checksum {:#010x}, computed {:#010x}",
                     le32_at(block, crc_offset), crc);
    Checkpoint cp;
    std::memcpy(&cp, block.data(), sizeof cp);
    return cp.checkpoint_ver.value();
}

struct Pack {
    Checkpoint cp;
    std::uint64_t version = 0;
    std::uint64_t at = 0;
};

/// validate_checkpoint: a pack whose first and last blocks are valid and
/// carry the same version.
Result<Pack> read_pack(const Device& dev, std::uint64_t first_block) {
    const std::uint64_t at = first_block * kBlockSize;
    VMDF_TRY_ASSIGN(const auto head, read_bytes(dev, at, kBlockSize, kBlockSize));
    VMDF_TRY_ASSIGN(const std::uint64_t version, checkpoint_version(head, at));
    Pack pack;
    std::memcpy(&pack.cp, head.data(), sizeof pack.cp);
    pack.version = version;
    pack.at = at;
    const std::uint64_t blocks = pack.cp.cp_pack_total_block_count.value();
    if (blocks < kCpPacks || blocks > kBlocksPerSeg)
        return failf(Errc::corrupt, at + offsetof(Checkpoint, cp_pack_total_block_count),
                     "checkpoint pack of {} blocks invalid", blocks);
    const std::uint64_t tail_at = (first_block + blocks - 1) * kBlockSize;
    VMDF_TRY_ASSIGN(const auto tail, read_bytes(dev, tail_at, kBlockSize, kBlockSize));
    VMDF_TRY_ASSIGN(const std::uint64_t tail_version, checkpoint_version(tail, tail_at));
    if (tail_version != version)
        return failf(Errc::corrupt, tail_at, "checkpoint pack ends with version {:#x}, begins with {:#x}",
                     tail_version, version);
    return pack;
}

/// f2fs_get_valid_checkpoint: of the packs at cp_blkaddr and one segment
/// later, the valid one, or the newer if both are (ver_after).
Result<Pack> read_checkpoint(const Device& dev, const SuperBlock& sb) {
    auto first = read_pack(dev, sb.cp_blkaddr.value());
    auto second = read_pack(dev, std::uint64_t{sb.cp_blkaddr.value()} + kBlocksPerSeg);
    if (first && second)
        return static_cast<std::int64_t>(second->version - first->version) > 0 ? *second : *first;
    if (first) return *first;
    if (second) return *second;
    return std::move(first).failure();
}

/// sanity_check_ckpt: the checkpoint fields the figures rely on.
Status check_checkpoint(const Pack& pack, const Geometry& g) {
    const SuperBlock& sb = g.sb;
    const Checkpoint& cp = pack.cp;
    auto bad = [&](std::size_t field, std::string message) {
        return fail(Errc::corrupt, std::move(message), pack.at + field);
    };
    const std::uint64_t fsmeta = std::uint64_t{sb.segment_count_ckpt.value()} + sb.segment_count_sit.value() +
                                 sb.segment_count_nat.value() + cp.rsvd_segment_count.value() +
                                 sb.segment_count_ssa.value();
    if (fsmeta >= sb.segment_count.value())
        return bad(offsetof(Checkpoint, rsvd_segment_count),
                   fmt::format("{} metadata and reserved segments of {} leave no main area", fsmeta,
                               sb.segment_count.value()));
    if (!g.readonly_feature && (fsmeta < kMinMetaSegments || cp.overprov_segment_count.value() == 0 ||
                                cp.rsvd_segment_count.value() == 0))
        return bad(offsetof(Checkpoint, rsvd_segment_count),
                   fmt::format("layout invalid: {} metadata segments, {} reserved, {} overprovision", fsmeta,
                               cp.rsvd_segment_count.value(), cp.overprov_segment_count.value()));
    const std::uint64_t main = std::uint64_t{sb.segment_count_main.value()} + (g.readonly_feature ? 1 : 0);
    const std::uint64_t user = cp.user_block_count.value();
    if (user == 0 || user >= main << kLogBlocksPerSeg)
        return bad(offsetof(Checkpoint, user_block_count),
                   fmt::format("user block count {} invalid for {} main segments", user, main));
    if (cp.valid_block_count.value() > user)
        return bad(offsetof(Checkpoint, valid_block_count),
                   fmt::format("{} valid blocks, more than the {} user blocks", cp.valid_block_count.value(), user));
    if (cp.valid_node_count.value() > g.total_node_count - kReservedNodes)
        return bad(offsetof(Checkpoint, valid_node_count),
                   fmt::format("{} valid nodes, more than the {} node IDs", cp.valid_node_count.value(),
                               g.total_node_count - kReservedNodes));
    if (cp.ckpt_flags.value() & kCpError)
        return bad(offsetof(Checkpoint, ckpt_flags),
                   "the checkpoint records an I/O error (CP_ERROR_FLAG): Linux refuses to mount it");
    return {};
}

/// Either superblock copy's magic: the kernel mounts with the second if
/// the first is damaged.
Result<Score> probe(const Device& dev) {
    for (std::uint64_t block = 0; block < 2; ++block) {
        const std::uint64_t at = block * kBlockSize + kSuperOffset;
        if (dev.size() < at + sizeof(SuperBlock)) break;
        VMDF_TRY_ASSIGN(const auto magic, read_struct<be::little_uint32_buf_t>(dev, at));
        if (magic.value() == kMagic) return kCertain;
    }
    return kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(Geometry g, read_super(dev));
    const SuperBlock& sb = g.sb;
    if (sb.feature.value() & kFeatureBlkzoned)
        return failf(Errc::unsupported, g.sb_offset + offsetof(SuperBlock, feature),
                     "zoned F2FS (blkzoned feature) needs a zoned block device");
    if (sb.devs[0].path[0] != 0)
        return failf(Errc::unsupported, g.sb_offset + offsetof(SuperBlock, devs),
                     "multi-device F2FS (first device \"{}\") is not read",
                     std::string_view(sb.devs[0].path, strnlen(sb.devs[0].path, sizeof sb.devs[0].path)));
    g.readonly_feature = (sb.feature.value() & kFeatureReadonly) != 0;
    // init_sb_info: half the NAT segments are live (the other half is
    // their shadow), each block holding 455 node IDs.
    g.total_node_count = (std::uint64_t{sb.segment_count_nat.value()} / 2) * kBlocksPerSeg * kNatEntriesPerBlock;
    if (g.total_node_count <= kReservedNodes || g.total_node_count > UINT32_MAX)
        return failf(Errc::corrupt, g.sb_offset + offsetof(SuperBlock, segment_count_nat),
                     "{} NAT segments give {} node IDs", sb.segment_count_nat.value(), g.total_node_count);

    VMDF_TRY_ASSIGN(const Pack pack, read_checkpoint(dev, sb));
    VMDF_TRY(check_checkpoint(pack, g));
    const Checkpoint& cp = pack.cp;

    Filesystem fs;
    fs.type = "f2fs";
    // f2fs_statfs. block_t is 32 bits: the kernel takes block_count modulo
    // 2^32 (no F2FS has more blocks: F2FS_MAX_SEGMENT x 512 = 2^32).
    // current_reserved_blocks (sysfs reserved_blocks), unusable_block_count
    // (checkpoint=disable, which a read-only mount refuses) and
    // root_reserved_blocks (the reserve_root option) are 0 here.
    const std::uint64_t total = static_cast<std::uint32_t>(sb.block_count.value());
    const std::uint64_t user = cp.user_block_count.value();
    const std::uint64_t avail_nodes = g.total_node_count - kReservedNodes;
    StatVfs& st = fs.stat;
    st.bsize = st.frsize = kBlockSize;
    st.blocks = total - sb.segment0_blkaddr.value();
    st.bfree = st.bavail = user - cp.valid_block_count.value();
    if (avail_nodes > user) {
        st.files = user;
        st.ffree = st.bavail;
    } else {
        st.files = avail_nodes;
        st.ffree = std::min(avail_nodes - cp.valid_node_count.value(), st.bavail);
    }

    const std::uint32_t flags = cp.ckpt_flags.value();
    if (!(flags & kCpUmount))
        fs.warnings.push_back(
            "not cleanly unmounted: Linux runs roll-forward recovery at mount, which these figures "
            "(the last checkpoint's) do not include");
    if (flags & kCpOrphanPresent)
        fs.warnings.push_back(
            "orphan inodes: Linux frees them at mount, which these figures do not include");
    if (flags & kCpDisabled)
        fs.warnings.push_back("checkpointing was disabled (checkpoint=disable): the figures may be stale");
    if (flags & kCpFsck) fs.warnings.push_back("the checkpoint asks for fsck");
    return fs;
}

constexpr Magic kMagics[] = {{kSuperOffset, "\x10\x20\xF5\xF2"sv},
                             {kBlockSize + kSuperOffset, "\x10\x20\xF5\xF2"sv}};

}  // namespace
}  // namespace vmdf::f2fs

namespace vmdf {
constexpr FilesystemPlugin f2fs_plugin{"f2fs", f2fs::kMagics, f2fs::probe, f2fs::open};
}
