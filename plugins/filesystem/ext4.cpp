// SPDX-License-Identifier: GPL-2.0-or-later
// ext2/ext3/ext4, with the figures Linux's ext4 driver reports for a
// read-only mount (fs/ext4/super.c: ext4_statfs, ext4_calculate_overhead,
// count_overhead, ext4_check_descriptors; statfs.md §2). ext2 and ext3 are
// mounted by the ext4 driver on current kernels, so one formula serves all.
#include "plugins/filesystem/ext4.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/crc32.hpp"

namespace vmdf::ext4 {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint64_t kSuperblockOffset = 1024;
constexpr std::uint16_t kMagic = 0xEF53;
constexpr std::uint32_t kMaxLogBlockSize = 6;     // 64 KiB (EXT4_MAX_BLOCK_LOG_SIZE - 10)
constexpr std::uint32_t kMaxLogClusterSize = 20;  // EXT4_MAX_CLUSTER_LOG_SIZE - 10
constexpr std::uint32_t kGoodOldInodeSize = 128;
/// Linux mounts ext4 only with blocks no larger than a page (4 KiB on x86).
constexpr std::uint64_t kLargestMountableBlock = 4096;
constexpr std::uint32_t kMinDescSize = 32, kMinDescSize64 = 64, kMaxDescSize = 1024;
/// Counting bigalloc overhead costs groups² steps and a descriptor copy per
/// group; past this many groups the figure is refused instead.
constexpr std::uint64_t kMaxBigallocGroups = 1 << 12;

// s_feature_compat
constexpr std::uint32_t kCompatHasJournal = 0x4;
constexpr std::uint32_t kCompatSparseSuper2 = 0x200;
// s_feature_ro_compat
constexpr std::uint32_t kRoCompatSparseSuper = 0x1;
constexpr std::uint32_t kRoCompatBigalloc = 0x200;
constexpr std::uint32_t kRoCompatMetadataCsum = 0x400;
// s_feature_incompat
constexpr std::uint32_t kIncompatRecover = 0x4;
constexpr std::uint32_t kIncompatJournalDev = 0x8;
constexpr std::uint32_t kIncompatMetaBg = 0x10;
constexpr std::uint32_t kIncompatExtents = 0x40;
constexpr std::uint32_t kIncompat64bit = 0x80;
constexpr std::uint32_t kIncompatFlexBg = 0x200;
/// What the current driver mounts (EXT4_FEATURE_INCOMPAT_SUPP): FILETYPE,
/// RECOVER, META_BG, EXTENTS, 64BIT, MMP, FLEX_BG, EA_INODE, CSUM_SEED,
/// LARGEDIR, INLINE_DATA, ENCRYPT, CASEFOLD.
constexpr std::uint32_t kIncompatSupported = 0x2 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 |
                                             0x400 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000;

// The superblock, 1024 bytes at byte 1024 (kernel struct ext4_super_block).
// Only the fields the figures need are named; offsets are from its start.
struct Superblock {
    be::little_uint32_buf_t s_inodes_count;         // 0x00
    be::little_uint32_buf_t s_blocks_count_lo;      // 0x04
    be::little_uint32_buf_t s_r_blocks_count_lo;    // 0x08
    be::little_uint32_buf_t s_free_blocks_count_lo; // 0x0C (stale-prone: unused)
    be::little_uint32_buf_t s_free_inodes_count;    // 0x10 (stale-prone: unused)
    be::little_uint32_buf_t s_first_data_block;     // 0x14
    be::little_uint32_buf_t s_log_block_size;       // 0x18: block size = 1024 << n
    be::little_uint32_buf_t s_log_cluster_size;     // 0x1C
    be::little_uint32_buf_t s_blocks_per_group;     // 0x20
    be::little_uint32_buf_t s_clusters_per_group;   // 0x24
    be::little_uint32_buf_t s_inodes_per_group;     // 0x28
    std::uint8_t pad_2c[0x38 - 0x2C];
    be::little_uint16_buf_t s_magic;                // 0x38: 0xEF53
    be::little_uint16_buf_t s_state;                // 0x3A
    std::uint8_t pad_3c[0x4C - 0x3C];
    be::little_uint32_buf_t s_rev_level;            // 0x4C: 0 = original (128-byte inodes)
    std::uint8_t pad_50[0x58 - 0x50];
    be::little_uint16_buf_t s_inode_size;           // 0x58
    std::uint8_t pad_5a[0x5C - 0x5A];
    be::little_uint32_buf_t s_feature_compat;       // 0x5C
    be::little_uint32_buf_t s_feature_incompat;     // 0x60
    be::little_uint32_buf_t s_feature_ro_compat;    // 0x64
    std::uint8_t pad_68[0xCE - 0x68];
    be::little_uint16_buf_t s_reserved_gdt_blocks;  // 0xCE
    std::uint8_t pad_d0[0xE0 - 0xD0];
    be::little_uint32_buf_t s_journal_inum;         // 0xE0
    be::little_uint32_buf_t s_journal_dev;          // 0xE4
    std::uint8_t pad_e8[0xFE - 0xE8];
    be::little_uint16_buf_t s_desc_size;            // 0xFE
    std::uint8_t pad_100[0x104 - 0x100];
    be::little_uint32_buf_t s_first_meta_bg;        // 0x104
    std::uint8_t pad_108[0x150 - 0x108];
    be::little_uint32_buf_t s_blocks_count_hi;      // 0x150 (64bit only)
    be::little_uint32_buf_t s_r_blocks_count_hi;    // 0x154 (64bit only)
    std::uint8_t pad_158[0x248 - 0x158];
    be::little_uint32_buf_t s_overhead_clusters;    // 0x248
    be::little_uint32_buf_t s_backup_bgs[2];        // 0x24C (sparse_super2)
    std::uint8_t pad_254[0x3FC - 0x254];
    be::little_uint32_buf_t s_checksum;             // 0x3FC: crc32c of the bytes before it
};
static_assert(sizeof(Superblock) == 1024 && alignof(Superblock) == 1);
static_assert(offsetof(Superblock, s_magic) == 0x38);
static_assert(offsetof(Superblock, s_reserved_gdt_blocks) == 0xCE);
static_assert(offsetof(Superblock, s_desc_size) == 0xFE);
static_assert(offsetof(Superblock, s_blocks_count_hi) == 0x150);
static_assert(offsetof(Superblock, s_overhead_clusters) == 0x248);
static_assert(offsetof(Superblock, s_checksum) == 0x3FC);

// A group descriptor (struct ext4_group_desc): 32 bytes, or s_desc_size
// (>= 64) with the 64bit feature, which adds the _hi halves.
struct GroupDesc {
    be::little_uint32_buf_t bg_block_bitmap_lo;       // 0x00
    be::little_uint32_buf_t bg_inode_bitmap_lo;       // 0x04
    be::little_uint32_buf_t bg_inode_table_lo;        // 0x08
    be::little_uint16_buf_t bg_free_blocks_count_lo;  // 0x0C, in clusters
    be::little_uint16_buf_t bg_free_inodes_count_lo;  // 0x0E
    std::uint8_t pad_10[0x20 - 0x10];
    be::little_uint32_buf_t bg_block_bitmap_hi;       // 0x20
    be::little_uint32_buf_t bg_inode_bitmap_hi;       // 0x24
    be::little_uint32_buf_t bg_inode_table_hi;        // 0x28
    be::little_uint16_buf_t bg_free_blocks_count_hi;  // 0x2C
    be::little_uint16_buf_t bg_free_inodes_count_hi;  // 0x2E
    std::uint8_t pad_30[0x40 - 0x30];
};
static_assert(sizeof(GroupDesc) == 64 && offsetof(GroupDesc, bg_free_blocks_count_hi) == 0x2C);

// The first bytes of an inode (struct ext4_inode): only its size is needed.
struct InodeHead {
    std::uint8_t pad_0[4];
    be::little_uint32_buf_t i_size_lo;    // 0x04
    std::uint8_t pad_8[0x6C - 0x08];
    be::little_uint32_buf_t i_size_high;  // 0x6C
};
static_assert(sizeof(InodeHead) == 0x70);

/// The superblock, validated as ext4_fill_super validates it, and what
/// follows from it.
struct Geometry {
    Superblock sb;
    std::uint64_t block_size = 0;
    std::uint32_t cluster_bits = 0;        // log2(blocks per cluster)
    std::uint64_t blocks_count = 0;
    std::uint64_t r_blocks_count = 0;
    std::uint64_t first_data_block = 0;
    std::uint64_t blocks_per_group = 0;
    std::uint64_t clusters_per_group = 0;
    std::uint64_t inodes_per_group = 0;
    std::uint64_t inode_size = 0;
    std::uint64_t itb_per_group = 0;       // inode table blocks per group
    std::uint64_t desc_size = 0;
    std::uint64_t desc_per_block = 0;
    std::uint64_t groups_count = 0;
    std::uint64_t gdb_count = 0;           // group descriptor blocks
    std::uint32_t compat = 0, incompat = 0, ro_compat = 0;

    bool bigalloc() const { return (ro_compat & kRoCompatBigalloc) != 0; }
    bool meta_bg() const { return (incompat & kIncompatMetaBg) != 0; }
    bool flex_bg() const { return (incompat & kIncompatFlexBg) != 0; }
    std::uint64_t c2b(std::uint64_t clusters) const { return clusters << cluster_bits; }
    std::uint64_t group_first_block(std::uint64_t g) const {
        return g * blocks_per_group + first_data_block;
    }
};

/// A value at `field` of the superblock was not allowed.
Failure bad_field(std::size_t field_offset, std::string message) {
    return fail(Errc::corrupt, std::move(message), kSuperblockOffset + field_offset);
}

bool is_power_of_2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

Result<Geometry> read_geometry(const Device& dev) {
    Geometry g;
    VMDF_TRY_ASSIGN(g.sb, read_struct<Superblock>(dev, kSuperblockOffset));
    const Superblock& sb = g.sb;
    if (sb.s_magic.value() != kMagic)
        return bad_field(offsetof(Superblock, s_magic), "bad magic");
    g.compat = sb.s_feature_compat.value();
    g.incompat = sb.s_feature_incompat.value();
    g.ro_compat = sb.s_feature_ro_compat.value();
    if (g.incompat & kIncompatJournalDev)
        return fail(Errc::unsupported, "an external journal device, not a filesystem");
    // ext4_superblock_csum_verify: with metadata_csum the kernel will not
    // mount a superblock whose checksum is wrong.
    if (g.ro_compat & kRoCompatMetadataCsum) {
        const auto bytes = std::as_bytes(std::span{&sb, 1}).first(offsetof(Superblock, s_checksum));
        const std::uint32_t computed = crc32c_raw(~0u, bytes);
        if (computed != sb.s_checksum.value())
            return bad_field(offsetof(Superblock, s_checksum),
                             fmt::format("superblock checksum {:#010x} does not match {:#010x}",
                                         sb.s_checksum.value(), computed));
    }
    if (auto unknown = g.incompat & ~kIncompatSupported)
        return bad_field(offsetof(Superblock, s_feature_incompat),
                         fmt::format("unsupported incompatible features {:#x}", unknown));

    const std::uint32_t log_block = sb.s_log_block_size.value();
    if (log_block > kMaxLogBlockSize)
        return bad_field(offsetof(Superblock, s_log_block_size),
                         fmt::format("s_log_block_size {} out of range (max {})", log_block,
                                     kMaxLogBlockSize));
    g.block_size = std::uint64_t{1024} << log_block;

    if (sb.s_rev_level.value() == 0) {
        g.inode_size = kGoodOldInodeSize;
    } else {
        g.inode_size = sb.s_inode_size.value();
        if (g.inode_size < kGoodOldInodeSize || !is_power_of_2(g.inode_size) ||
            g.inode_size > g.block_size)
            return bad_field(offsetof(Superblock, s_inode_size),
                             fmt::format("s_inode_size {} invalid", g.inode_size));
    }
    if (g.incompat & kIncompat64bit) {
        g.desc_size = sb.s_desc_size.value();
        if (g.desc_size < kMinDescSize64 || g.desc_size > kMaxDescSize || !is_power_of_2(g.desc_size))
            return bad_field(offsetof(Superblock, s_desc_size),
                             fmt::format("s_desc_size {} invalid", g.desc_size));
    } else {
        g.desc_size = kMinDescSize;
    }
    if (sb.s_reserved_gdt_blocks.value() > g.block_size / 4)
        return bad_field(offsetof(Superblock, s_reserved_gdt_blocks),
                         fmt::format("s_reserved_gdt_blocks {} too large",
                                     sb.s_reserved_gdt_blocks.value()));

    g.blocks_per_group = sb.s_blocks_per_group.value();
    g.inodes_per_group = sb.s_inodes_per_group.value();
    const std::uint64_t inodes_per_block = g.block_size / g.inode_size;
    if (g.inodes_per_group < inodes_per_block || g.inodes_per_group > g.block_size * 8)
        return bad_field(offsetof(Superblock, s_inodes_per_group),
                         fmt::format("s_inodes_per_group {} invalid", g.inodes_per_group));
    g.itb_per_group = g.inodes_per_group / inodes_per_block;
    g.desc_per_block = g.block_size / g.desc_size;

    if (g.bigalloc()) {
        const std::uint32_t log_cluster = sb.s_log_cluster_size.value();
        if (log_cluster < log_block || log_cluster > kMaxLogClusterSize)
            return bad_field(offsetof(Superblock, s_log_cluster_size),
                             fmt::format("s_log_cluster_size {} invalid", log_cluster));
        g.cluster_bits = log_cluster - log_block;
        g.clusters_per_group = sb.s_clusters_per_group.value();
        if (g.clusters_per_group > g.block_size * 8)
            return bad_field(offsetof(Superblock, s_clusters_per_group),
                             fmt::format("s_clusters_per_group {} too large", g.clusters_per_group));
        if (g.blocks_per_group != g.c2b(g.clusters_per_group))
            return bad_field(offsetof(Superblock, s_blocks_per_group),
                             "s_blocks_per_group and s_clusters_per_group disagree");
    } else {
        if (g.blocks_per_group > g.block_size * 8)
            return bad_field(offsetof(Superblock, s_blocks_per_group),
                             fmt::format("s_blocks_per_group {} too large", g.blocks_per_group));
        g.clusters_per_group = g.blocks_per_group;
    }
    if (g.blocks_per_group == 0)
        return bad_field(offsetof(Superblock, s_blocks_per_group), "s_blocks_per_group is 0");

    const bool is64 = (g.incompat & kIncompat64bit) != 0;
    g.blocks_count = sb.s_blocks_count_lo.value() |
                     (is64 ? std::uint64_t{sb.s_blocks_count_hi.value()} << 32 : 0);
    g.r_blocks_count = sb.s_r_blocks_count_lo.value() |
                       (is64 ? std::uint64_t{sb.s_r_blocks_count_hi.value()} << 32 : 0);
    g.first_data_block = sb.s_first_data_block.value();

    // "bad geometry" checks: the kernel refuses these mounts.
    const std::uint64_t device_blocks = dev.size() / g.block_size;
    if (g.blocks_count > device_blocks)
        return fail(Errc::truncated,
                    fmt::format("block count {} exceeds the size of the device ({} blocks)",
                                g.blocks_count, device_blocks));
    if (g.first_data_block >= g.blocks_count)
        return bad_field(offsetof(Superblock, s_first_data_block),
                         fmt::format("first data block {} is beyond the end ({})",
                                     g.first_data_block, g.blocks_count));
    g.groups_count = (g.blocks_count - g.first_data_block + g.blocks_per_group - 1) /
                     g.blocks_per_group;
    if (g.groups_count > (std::uint64_t{1} << 32) - g.desc_per_block)
        return fail(Errc::corrupt, fmt::format("{} groups are too many", g.groups_count));
    if (g.groups_count * g.inodes_per_group != sb.s_inodes_count.value())
        return bad_field(offsetof(Superblock, s_inodes_count),
                         fmt::format("s_inodes_count {} is not {} groups x {} inodes",
                                     sb.s_inodes_count.value(), g.groups_count,
                                     g.inodes_per_group));
    g.gdb_count = (g.groups_count + g.desc_per_block - 1) / g.desc_per_block;
    if (g.meta_bg() && sb.s_first_meta_bg.value() > g.gdb_count)
        return bad_field(offsetof(Superblock, s_first_meta_bg),
                         fmt::format("s_first_meta_bg {} too large", sb.s_first_meta_bg.value()));
    return g;
}

/// Is `n` a power of `base`? (ext4's test_root)
bool is_power_of(std::uint64_t n, std::uint64_t base) {
    std::uint64_t p = base;
    while (p < n) p *= base;
    return p == n;
}

/// ext4_bg_has_super: does group `g` hold a superblock copy?
bool has_super(const Geometry& geo, std::uint64_t g) {
    if (g == 0) return true;
    if (geo.compat & kCompatSparseSuper2)
        return g == geo.sb.s_backup_bgs[0].value() || g == geo.sb.s_backup_bgs[1].value();
    if (g <= 1 || !(geo.ro_compat & kRoCompatSparseSuper)) return true;
    if ((g & 1) == 0) return false;
    return is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7);
}

/// ext4_bg_num_gdb: group descriptor blocks stored in group `g`.
std::uint64_t num_gdb(const Geometry& geo, std::uint64_t g) {
    const std::uint64_t first_meta_bg = geo.sb.s_first_meta_bg.value();
    const std::uint64_t metagroup = g / geo.desc_per_block;
    if (!geo.meta_bg() || metagroup < first_meta_bg) {
        if (!has_super(geo, g)) return 0;
        return geo.meta_bg() ? first_meta_bg : geo.gdb_count;
    }
    const std::uint64_t first = metagroup * geo.desc_per_block;
    return (g == first || g == first + 1 || g == first + geo.desc_per_block - 1) ? 1 : 0;
}

/// descriptor_loc: the block holding descriptor block `nr`.
std::uint64_t descriptor_block(const Geometry& geo, std::uint64_t nr) {
    // The superblock is in block 1 with 1 KiB blocks, else in block 0.
    const std::uint64_t sb_block = geo.block_size == 1024 ? 1 : 0;
    if (!geo.meta_bg() || nr < geo.sb.s_first_meta_bg.value()) return sb_block + nr + 1;
    const std::uint64_t bg = geo.desc_per_block * nr;
    std::uint64_t super = has_super(geo, bg) ? 1 : 0;
    // 1 KiB blocks with first_data_block 0 (bigalloc): group 0's GDT is at block 2.
    if (geo.block_size == 1024 && nr == 0 && geo.first_data_block == 0) ++super;
    return super + geo.group_first_block(bg);
}

/// The fields of one group descriptor the figures use, 64-bit where the
/// descriptors are 64 bytes (ext4_block_bitmap() and friends).
struct Group {
    std::uint64_t block_bitmap, inode_bitmap, inode_table;
    std::uint64_t free_clusters, free_inodes;
};

Group decode_group(const GroupDesc& d, std::uint64_t desc_size) {
    const bool wide = desc_size >= kMinDescSize64;
    auto join = [wide](std::uint64_t lo, std::uint64_t hi, int shift) {
        return lo | (wide ? hi << shift : 0);
    };
    return Group{join(d.bg_block_bitmap_lo.value(), d.bg_block_bitmap_hi.value(), 32),
                 join(d.bg_inode_bitmap_lo.value(), d.bg_inode_bitmap_hi.value(), 32),
                 join(d.bg_inode_table_lo.value(), d.bg_inode_table_hi.value(), 32),
                 join(d.bg_free_blocks_count_lo.value(), d.bg_free_blocks_count_hi.value(), 16),
                 join(d.bg_free_inodes_count_lo.value(), d.bg_free_inodes_count_hi.value(), 16)};
}

/// Reads every group descriptor, block by block, calling `visit(g, group)`.
template <class Visit>
Status for_each_group(const Device& dev, const Geometry& geo, Visit&& visit) {
    std::vector<std::byte> block(static_cast<std::size_t>(geo.block_size));
    for (std::uint64_t nr = 0; nr < geo.gdb_count; ++nr) {
        const std::uint64_t blk = descriptor_block(geo, nr);
        if (blk >= geo.blocks_count)
            return failf(Errc::corrupt, std::nullopt,
                         "group descriptor block {} lies past the end ({})", blk, geo.blocks_count);
        VMDF_TRY(dev.read(blk * geo.block_size, block));
        const ByteReader reader(block, blk * geo.block_size);
        const std::uint64_t first = nr * geo.desc_per_block;
        const std::uint64_t last = std::min(first + geo.desc_per_block, geo.groups_count);
        for (std::uint64_t g = first; g < last; ++g) {
            // Only the first 32 bytes exist in a 32-byte descriptor; the
            // rest of the struct is read but ignored (decode_group).
            GroupDesc desc{};
            VMDF_TRY_ASSIGN(auto raw, reader.bytes((g - first) * geo.desc_size,
                                                   std::min<std::uint64_t>(geo.desc_size, sizeof desc)));
            std::memcpy(&desc, raw.data(), raw.size());
            VMDF_TRY(visit(g, decode_group(desc, geo.desc_size)));
        }
    }
    return {};
}

/// ext4_check_descriptors: bitmaps and inode tables must lie in their group
/// (or anywhere in the filesystem with flex_bg); the kernel refuses the
/// mount otherwise, even read-only.
Status check_group(const Geometry& geo, std::uint64_t g, const Group& grp, std::uint64_t& first_block) {
    const std::uint64_t last_block = (g == geo.groups_count - 1 || geo.flex_bg())
                                         ? geo.blocks_count - 1
                                         : first_block + geo.blocks_per_group - 1;
    auto outside = [&](std::uint64_t b) { return b < first_block || b > last_block; };
    if (outside(grp.block_bitmap))
        return failf(Errc::corrupt, std::nullopt, "block bitmap of group {} not in group (block {})",
                     g, grp.block_bitmap);
    if (outside(grp.inode_bitmap))
        return failf(Errc::corrupt, std::nullopt, "inode bitmap of group {} not in group (block {})",
                     g, grp.inode_bitmap);
    if (outside(grp.inode_table) || grp.inode_table + geo.itb_per_group - 1 > last_block)
        return failf(Errc::corrupt, std::nullopt, "inode table of group {} not in group (block {})",
                     g, grp.inode_table);
    if (!geo.flex_bg()) first_block += geo.blocks_per_group;
    return {};
}

/// count_overhead for bigalloc filesystems whose superblock does not record
/// s_overhead_clusters: the distinct clusters of group `grp` that hold
/// metadata of any group. (The kernel's own bitmap is one page; clusters
/// past it are not counted there either, hence the cap.)
std::uint64_t bigalloc_group_overhead(const Geometry& geo, std::uint64_t grp,
                                      const std::vector<Group>& groups) {
    const std::uint64_t first = geo.group_first_block(grp);
    const std::uint64_t last = first + geo.blocks_per_group - 1;
    const std::uint64_t bits = std::min<std::uint64_t>(geo.clusters_per_group, 4096 * 8);
    std::vector<bool> used(static_cast<std::size_t>(bits));
    std::uint64_t count = 0;
    auto mark = [&](std::uint64_t block) {
        const std::uint64_t c = (block - first) >> geo.cluster_bits;
        if (c < bits) used[static_cast<std::size_t>(c)] = true;
        ++count;
    };
    for (std::uint64_t i = 0; i < groups.size(); ++i) {
        const Group& gd = groups[i];
        if (gd.block_bitmap >= first && gd.block_bitmap <= last) mark(gd.block_bitmap);
        if (gd.inode_bitmap >= first && gd.inode_bitmap <= last) mark(gd.inode_bitmap);
        if (gd.inode_table >= first && gd.inode_table + geo.itb_per_group <= last)
            for (std::uint64_t j = 0; j < geo.itb_per_group; ++j) mark(gd.inode_table + j);
        if (i != grp) continue;
        std::uint64_t s = 0;
        if (has_super(geo, grp)) mark(first + s++);
        std::uint64_t gdb = num_gdb(geo, grp);
        if (s + gdb > geo.blocks_per_group) gdb = geo.blocks_per_group - s;
        for (; gdb > 0; --gdb) mark(first + s++);
    }
    if (count == 0) return 0;
    // clusters_per_group minus the clear bits among the first cpg/8 bytes
    const std::uint64_t counted_bits = std::min<std::uint64_t>(geo.clusters_per_group / 8 * 8, bits);
    const auto clear = static_cast<std::uint64_t>(
        std::count(used.begin(), used.begin() + static_cast<std::ptrdiff_t>(counted_bits), false));
    return geo.clusters_per_group - clear;
}

/// The journal inode's group and index in it, or nothing without an
/// internal journal.
struct JournalInode {
    std::uint64_t group, index;
};

Result<std::optional<JournalInode>> journal_inode(const Geometry& geo) {
    const std::uint64_t ino = geo.sb.s_journal_inum.value();
    if (!(geo.compat & kCompatHasJournal) || ino == 0) return std::optional<JournalInode>{};
    if (ino > geo.groups_count * geo.inodes_per_group)
        return failf(Errc::corrupt, kSuperblockOffset + offsetof(Superblock, s_journal_inum),
                     "journal inode {} out of range", ino);
    return std::optional<JournalInode>{
        JournalInode{(ino - 1) / geo.inodes_per_group, (ino - 1) % geo.inodes_per_group}};
}

/// i_size of the journal inode, in blocks (ext4_calculate_overhead adds it
/// for an internal journal).
Result<std::uint64_t> journal_blocks(const Device& dev, const Geometry& geo,
                                     const JournalInode& where, const Group& group) {
    // check_group() has put the inode table inside the filesystem.
    const std::uint64_t offset = group.inode_table * geo.block_size + where.index * geo.inode_size;
    InodeHead inode{};  // 0x70 bytes: within even a 128-byte inode
    VMDF_TRY_ASSIGN(auto raw, read_bytes(dev, offset, sizeof inode, sizeof inode));
    std::memcpy(&inode, raw.data(), raw.size());
    const std::uint64_t size =
        inode.i_size_lo.value() | std::uint64_t{inode.i_size_high.value()} << 32;
    return size / geo.block_size;
}

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(auto sb, read_struct<Superblock>(dev, kSuperblockOffset));
    return sb.s_magic.value() == kMagic ? kCertain : kNotMine;
}

/// "ext2", "ext3" or "ext4", as blkid names them: ext4 once a feature
/// beyond ext3's is set (ext3 knows, read-write: sparse_super, large_file,
/// btree_dir; and: filetype, recover, meta_bg).
std::string type_name(const Geometry& geo) {
    constexpr std::uint32_t kExt3RoCompat = 0x1 | 0x2 | 0x4;
    constexpr std::uint32_t kExt3Incompat = 0x2 | kIncompatRecover | kIncompatMetaBg;
    if ((geo.ro_compat & ~kExt3RoCompat) || (geo.incompat & ~kExt3Incompat)) return "ext4";
    return (geo.compat & kCompatHasJournal) ? "ext3" : "ext2";
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const Geometry geo, read_geometry(dev));
    Filesystem fs;
    fs.type = type_name(geo);

    // s_overhead: the stored value is trusted only for bigalloc, where
    // recomputing it is expensive; otherwise the kernel recomputes it.
    std::uint64_t stored_overhead = geo.sb.s_overhead_clusters.value();
    if (stored_overhead > geo.blocks_count || !geo.bigalloc()) stored_overhead = 0;
    const bool count_bigalloc = geo.bigalloc() && stored_overhead == 0;
    if (count_bigalloc && geo.groups_count > kMaxBigallocGroups)
        return failf(Errc::unsupported, std::nullopt,
                     "bigalloc without s_overhead_clusters and {} groups (limit {})",
                     geo.groups_count, kMaxBigallocGroups);
    VMDF_TRY_ASSIGN(const auto journal, journal_inode(geo));

    // One pass over the descriptors: check them, sum the free counts (the
    // kernel's counters at mount: ext4_count_free_clusters/_inodes; the
    // superblock's own free counts are stale in a running guest's image).
    std::vector<Group> groups;  // only kept when count_bigalloc
    std::optional<Group> journal_group;
    std::uint64_t free_clusters = 0, free_inodes = 0, check_first = geo.first_data_block;
    VMDF_TRY(for_each_group(dev, geo, [&](std::uint64_t g, const Group& grp) -> Status {
        VMDF_TRY(check_group(geo, g, grp, check_first));
        free_clusters += grp.free_clusters;
        free_inodes += grp.free_inodes;
        if (count_bigalloc) groups.push_back(grp);
        if (journal && journal->group == g) journal_group = grp;
        return {};
    }));

    std::uint64_t overhead = stored_overhead;
    if (overhead == 0) {
        overhead = geo.first_data_block >> geo.cluster_bits;
        for (std::uint64_t g = 0; g < geo.groups_count; ++g) {
            if (count_bigalloc) {
                overhead += bigalloc_group_overhead(geo, g, groups);
            } else {
                const bool super = has_super(geo, g);
                overhead += (super ? 1 : 0) + num_gdb(geo, g) +
                            (super ? geo.sb.s_reserved_gdt_blocks.value() : 0) +
                            geo.itb_per_group + 2;
            }
        }
        if (journal) {
            VMDF_TRY_ASSIGN(const std::uint64_t jblocks,
                            journal_blocks(dev, geo, *journal, *journal_group));
            overhead += (jblocks + (std::uint64_t{1} << geo.cluster_bits) - 1) >> geo.cluster_bits;
        }
    }

    // ext4_set_resv_clusters: 2% or 4096 clusters, whichever is smaller,
    // held back from everyone, only on filesystems with extents.
    const std::uint64_t resv_clusters =
        (geo.incompat & kIncompatExtents)
            ? std::min<std::uint64_t>((geo.blocks_count >> geo.cluster_bits) / 50, 4096)
            : 0;

    StatVfs& st = fs.stat;
    st.bsize = st.frsize = geo.block_size;
    const std::uint64_t overhead_blocks = geo.c2b(overhead);
    st.blocks = geo.blocks_count > overhead_blocks ? geo.blocks_count - overhead_blocks : 0;
    st.bfree = geo.c2b(free_clusters);
    const std::uint64_t held_back = geo.r_blocks_count + geo.c2b(resv_clusters);
    st.bavail = st.bfree > held_back ? st.bfree - held_back : 0;
    st.files = geo.sb.s_inodes_count.value();
    st.ffree = free_inodes;

    if (geo.block_size > kLargestMountableBlock)
        fs.warnings.push_back(fmt::format(
            "{}-byte blocks are larger than a 4 KiB page: kernels with 4 KiB pages (x86_64, "
            "checked up to 6.18) refuse to mount this; the figures are ext4_statfs's where it mounts",
            geo.block_size));
    if (geo.incompat & kIncompatRecover)
        fs.warnings.push_back("the journal needs recovery (unclean shutdown): the figures may be stale");
    return fs;
}

constexpr Magic kMagics[] = {{kSuperblockOffset + 0x38, "\x53\xEF"sv}};

}  // namespace
}  // namespace vmdf::ext4

namespace vmdf {
constexpr FilesystemPlugin ext4_plugin{"ext4", ext4::kMagics, ext4::probe, ext4::open};
}
