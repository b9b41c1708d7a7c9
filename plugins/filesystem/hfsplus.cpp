// SPDX-License-Identifier: GPL-2.0-or-later
// HFS+ and HFSX, bare or inside an HFS wrapper, with the figures Linux's
// hfsplus driver reports (fs/hfsplus/super.c: hfsplus_statfs; statfs.md §7):
// the volume header's totalBlocks and freeBlocks (not a count of the
// allocation file) in units of the kernel's block size, which is the
// allocation block size capped at a 4 KiB page and aligned to where the
// volume starts (fs/hfsplus/wrapper.c: hfsplus_read_wrapper); inodes
// 0xFFFFFFFF in all and 0xFFFFFFFF - nextCatalogID free. Volume structures
// are Apple's Technical Note TN1150; the checks are those of
// hfsplus_fill_super and hfs_btree_open.
#include "plugins/filesystem/hfsplus.hpp"

#include <algorithm>
#include <bit>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::hfsplus {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint64_t kSector = 512;  // HFSPLUS_SECTOR_SIZE
/// The volume header (and an HFS wrapper's MDB) is at byte 1024 of the
/// volume; its copy at 1024 bytes before the end (sector count - 2).
constexpr std::uint64_t kHeaderOffset = 1024, kBackupFromEnd = 1024;
constexpr std::uint16_t kSigHfsPlus = 0x482B, kSigHfsx = 0x4858, kSigWrapper = 0x4244;  // H+ HX BD
constexpr std::uint16_t kMinVersion = 4, kMaxVersion = 5;  // HFSPLUS_MIN/CURRENT_VERSION
/// The kernel's block size is at most a page (x86_64: 4 KiB).
constexpr std::uint64_t kPageSize = 4096;
constexpr std::uint32_t kVolumeUnmounted = 1u << 8;  // kHFSVolumeUnmountedBit
/// An HFS wrapper's drAtrb must have these (HFSP_WRAP_ATTRIB_SLOCK, _SPARED).
constexpr std::uint16_t kWrapSoftLock = 0x8000, kWrapSpared = 0x0200;
// B-tree header records (hfs_btree_open).
constexpr std::uint8_t kNodeHeader = 1;
constexpr std::uint32_t kBigKeys = 2, kVariableIndexKeys = 4;  // HFS_TREE_BIGKEYS, _VARIDXKEYS
constexpr std::uint16_t kExtentsMaxKey = 10, kCatalogMaxKey = 516, kAttributesMaxKey = 266;

// HFSPlusExtentDescriptor, HFSPlusForkData (TN1150 "Fork Data Structure").
struct Extent {
    be::big_uint32_buf_t start_block;
    be::big_uint32_buf_t block_count;
};
struct ForkData {
    be::big_uint64_buf_t logical_size;  // 0x00
    be::big_uint32_buf_t clump_size;    // 0x08
    be::big_uint32_buf_t total_blocks;  // 0x0C
    Extent extents[8];                  // 0x10
};
static_assert(sizeof(ForkData) == 80);

// HFSPlusVolumeHeader (TN1150 "Volume Header"), big-endian.
struct VolumeHeader {
    be::big_uint16_buf_t signature;        // 0x00: "H+" or "HX"
    be::big_uint16_buf_t version;          // 0x02: 4 (HFS+) or 5 (HFSX)
    be::big_uint32_buf_t attributes;       // 0x04
    std::uint8_t pad_08[0x28 - 0x08];
    be::big_uint32_buf_t block_size;       // 0x28: allocation block size
    be::big_uint32_buf_t total_blocks;     // 0x2C
    be::big_uint32_buf_t free_blocks;      // 0x30
    std::uint8_t pad_34[0x40 - 0x34];
    be::big_uint32_buf_t next_catalog_id;  // 0x40: nextCatalogID
    std::uint8_t pad_44[0x70 - 0x44];
    ForkData allocation_file;              // 0x70
    ForkData extents_file;                 // 0xC0
    ForkData catalog_file;                 // 0x110
    ForkData attributes_file;              // 0x160
    ForkData startup_file;                 // 0x1B0
};
static_assert(sizeof(VolumeHeader) == 512 && alignof(VolumeHeader) == 1);
static_assert(offsetof(VolumeHeader, block_size) == 0x28);
static_assert(offsetof(VolumeHeader, next_catalog_id) == 0x40);
static_assert(offsetof(VolumeHeader, catalog_file) == 0x110);

// The HFS master directory block of a wrapper (TN1150 "HFS Wrapper"; the
// offsets HFSP_WRAPOFF_* of fs/hfsplus/hfsplus_raw.h).
struct WrapperMdb {
    be::big_uint16_buf_t signature;        // 0x00: "BD"
    std::uint8_t pad_02[0x0A - 0x02];
    be::big_uint16_buf_t attributes;       // 0x0A: drAtrb
    std::uint8_t pad_0c[0x14 - 0x0C];
    be::big_uint32_buf_t ablk_size;        // 0x14: drAlBlkSiz
    std::uint8_t pad_18[0x1C - 0x18];
    be::big_uint16_buf_t ablk_start;       // 0x1C: drAlBlSt, in sectors
    std::uint8_t pad_1e[0x7C - 0x1E];
    be::big_uint16_buf_t embed_signature;  // 0x7C: drEmbedSigWord
    be::big_uint16_buf_t embed_start;      // 0x7E: drEmbedExtent.startBlock
    be::big_uint16_buf_t embed_count;      // 0x80: drEmbedExtent.blockCount
};
static_assert(sizeof(WrapperMdb) == 0x82 && alignof(WrapperMdb) == 1);

// BTNodeDescriptor (14 bytes) and the start of BTHeaderRec: a B-tree's
// node 0 (TN1150 "B-Trees").
struct HeaderNode {
    std::uint8_t pad_0[8];                 // fLink, bLink
    std::uint8_t kind;                     // 0x08: 1 = header node
    std::uint8_t height;                   // 0x09
    std::uint8_t pad_0a[0x20 - 0x0A];      // numRecords, reserved; depth, root, leaf counts
    be::big_uint16_buf_t node_size;        // 0x20
    be::big_uint16_buf_t max_key_len;      // 0x22
    be::big_uint32_buf_t total_nodes;      // 0x24
    std::uint8_t pad_28[0x34 - 0x28];      // freeNodes, reserved1, clumpSize, btreeType, keyCompareType
    be::big_uint32_buf_t attributes;       // 0x34
};
static_assert(sizeof(HeaderNode) == 0x38 && alignof(HeaderNode) == 1);

/// Whether a B-tree must have variable-length index keys.
enum class IndexKeys { variable, fixed, any };

/// The volume as Linux finds it: where it starts and ends on the device
/// (sectors), and its header.
struct Volume {
    std::uint64_t start = 0;  // part_start
    std::uint64_t sectors = 0;  // part_size
    VolumeHeader header;
    bool wrapped = false;
};

bool is_power_of_2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

/// hfsplus_read_mdb: the embedded volume of an HFS wrapper, as a sector
/// range, or a reason it is not one Linux mounts.
Result<Volume> unwrap(const Device& dev, const WrapperMdb& mdb) {
    const std::uint16_t embedded = mdb.embed_signature.value();
    if (embedded != kSigHfsPlus && embedded != kSigHfsx)
        return fail(Errc::unsupported, "an HFS volume without an embedded HFS+ volume",
                    kHeaderOffset + offsetof(WrapperMdb, embed_signature));
    const std::uint16_t attributes = mdb.attributes.value();
    if (!(attributes & kWrapSoftLock) || !(attributes & kWrapSpared))
        return fail(Errc::corrupt,
                    fmt::format("HFS wrapper attributes {:#x} lack the locked and spared bits "
                                "Linux requires",
                                attributes),
                    kHeaderOffset + offsetof(WrapperMdb, attributes));
    const std::uint64_t ablk_size = mdb.ablk_size.value();
    if (ablk_size < kSector || ablk_size % kSector != 0)
        return fail(Errc::corrupt, fmt::format("HFS wrapper allocation block size {} invalid", ablk_size),
                    kHeaderOffset + offsetof(WrapperMdb, ablk_size));
    Volume v;
    v.wrapped = true;
    // 16-bit fields times a 32-bit size: no overflow in 64 bits.
    v.start = mdb.ablk_start.value() + mdb.embed_start.value() * (ablk_size / kSector);
    v.sectors = mdb.embed_count.value() * (ablk_size / kSector);
    if (v.start + v.sectors > dev.size() / kSector)
        return failf(Errc::truncated, kHeaderOffset + offsetof(WrapperMdb, embed_start),
                     "the embedded volume (sectors {} to {}) runs past the end of the device "
                     "({} sectors)",
                     v.start, v.start + v.sectors, dev.size() / kSector);
    return v;
}

/// hfsplus_read_wrapper: the volume header, through a wrapper if there is
/// one (one level: a wrapper inside a wrapper is refused), and its backup.
Result<Volume> read_volume(const Device& dev) {
    Volume v;
    v.sectors = dev.size() / kSector;
    VMDF_TRY_ASSIGN(v.header, read_struct<VolumeHeader>(dev, kHeaderOffset));
    std::uint16_t sig = v.header.signature.value();
    if (sig == kSigWrapper) {
        VMDF_TRY_ASSIGN(const WrapperMdb mdb, read_struct<WrapperMdb>(dev, kHeaderOffset));
        VMDF_TRY_ASSIGN(v, unwrap(dev, mdb));
        VMDF_TRY_ASSIGN(v.header, read_struct<VolumeHeader>(dev, v.start * kSector + kHeaderOffset));
        sig = v.header.signature.value();
    }
    const std::uint64_t at = v.start * kSector + kHeaderOffset;
    if (sig != kSigHfsPlus && sig != kSigHfsx)
        return failf(Errc::corrupt, at, "volume header signature {:#06x} is neither H+ nor HX", sig);
    if (v.sectors * kSector < kHeaderOffset + sizeof(VolumeHeader) + kBackupFromEnd)
        return failf(Errc::truncated, at, "a volume of {} sectors is too small", v.sectors);
    // Linux refuses a volume whose backup header (sector count - 2) does
    // not carry the same signature.
    const std::uint64_t backup_at = (v.start + v.sectors) * kSector - kBackupFromEnd;
    VMDF_TRY_ASSIGN(const auto backup, read_struct<be::big_uint16_buf_t>(dev, backup_at));
    // A device cut short has no backup where Linux looks: say so when the
    // header's own count of blocks runs past the end.
    if (backup.value() != sig &&
        std::uint64_t{v.header.total_blocks.value()} * v.header.block_size.value() > v.sectors * kSector)
        return failf(Errc::truncated, at + offsetof(VolumeHeader, total_blocks),
                     "{} blocks of {} bytes exceed the {} bytes of the volume's device",
                     v.header.total_blocks.value(), v.header.block_size.value(), v.sectors * kSector);
    if (backup.value() != sig)
        return failf(Errc::corrupt, backup_at,
                     "no backup volume header 1 KiB before the end of the volume (signature "
                     "{:#06x}, not {:#06x})",
                     backup.value(), sig);
    return v;
}

/// hfs_btree_open's checks of the header node of the B-tree whose fork
/// data is at `fork_field` of the volume header.
Status check_btree(const Device& dev, const Volume& v, std::uint64_t block_size,
                   std::size_t fork_field, const ForkData& fork, std::string_view name,
                   std::uint16_t max_key_len, IndexKeys index_keys) {
    const std::uint64_t fork_at = v.start * kSector + kHeaderOffset + fork_field;
    std::uint64_t blocks = 0;  // the first extent record's blocks (first_blocks)
    for (const Extent& e : fork.extents) blocks += e.block_count.value();
    if (blocks == 0) return failf(Errc::corrupt, fork_at, "the {} file has no blocks", name);
    const std::uint64_t block = fork.extents[0].start_block.value();
    if (block >= v.header.total_blocks.value())
        return failf(Errc::corrupt, fork_at, "the {} file starts at block {}, past the volume's {}",
                     name, block, v.header.total_blocks.value());
    const std::uint64_t at = v.start * kSector + block * block_size;  // < 2^32 * 2^31: no overflow
    VMDF_TRY_ASSIGN(const HeaderNode node, read_struct<HeaderNode>(dev, at));
    if (node.kind != kNodeHeader || node.height != 0)
        return failf(Errc::corrupt, at, "the {} B-tree's node 0 is not a header node", name);
    if (node.max_key_len.value() != max_key_len)
        return failf(Errc::corrupt, at + offsetof(HeaderNode, max_key_len),
                     "the {} B-tree's maximum key length is {}, not {}", name,
                     node.max_key_len.value(), max_key_len);
    const std::uint32_t attributes = node.attributes.value();
    const bool variable = (attributes & kVariableIndexKeys) != 0;
    if (!(attributes & kBigKeys) || (index_keys == IndexKeys::variable && !variable) ||
        (index_keys == IndexKeys::fixed && variable))
        return failf(Errc::corrupt, at + offsetof(HeaderNode, attributes),
                     "the {} B-tree's attributes {:#x} are not those Linux requires", name, attributes);
    if (!is_power_of_2(node.node_size.value()) || node.total_nodes.value() == 0)
        return failf(Errc::corrupt, at + offsetof(HeaderNode, node_size),
                     "the {} B-tree's node size {} or node count {} is invalid", name,
                     node.node_size.value(), node.total_nodes.value());
    return {};
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const Volume v, read_volume(dev));
    const VolumeHeader& h = v.header;
    const std::uint64_t at = v.start * kSector + kHeaderOffset;
    const std::uint64_t alloc_size = h.block_size.value();
    if (alloc_size < kSector || !is_power_of_2(alloc_size))
        return failf(Errc::corrupt, at + offsetof(VolumeHeader, block_size),
                     "allocation block size {} invalid", alloc_size);
    // The kernel's block size: the allocation block size, at most a page,
    // halved until the volume's first sector is a multiple of it.
    std::uint64_t blocksize = std::min(alloc_size, kPageSize);
    while (v.start & (blocksize / kSector - 1)) blocksize >>= 1;
    if (blocksize < dev.block_size())
        return failf(Errc::unsupported, at + offsetof(VolumeHeader, block_size),
                     "{}-byte blocks are smaller than the disk's {}-byte sectors: Linux cannot "
                     "mount this",
                     blocksize, dev.block_size());
    const unsigned fs_shift =
        static_cast<unsigned>(std::countr_zero(alloc_size) - std::countr_zero(blocksize));
    const std::uint16_t version = h.version.value();
    if (version < kMinVersion || version > kMaxVersion)
        return failf(Errc::corrupt, at + offsetof(VolumeHeader, version),
                     "version {} (Linux mounts 4 and 5)", version);
    const std::uint32_t total = h.total_blocks.value(), free = h.free_blocks.value();
    if (total == 0) return failf(Errc::corrupt, at + offsetof(VolumeHeader, total_blocks), "no blocks");
    if (free > total)
        return failf(Errc::corrupt, at + offsetof(VolumeHeader, free_blocks),
                     "{} free blocks, more than the {} in all", free, total);
    if (std::uint64_t{total} * alloc_size > v.sectors * kSector)
        return failf(Errc::truncated, at + offsetof(VolumeHeader, total_blocks),
                     "{} blocks of {} bytes exceed the {} bytes of the {}", total, alloc_size,
                     v.sectors * kSector, v.wrapped ? "HFS wrapper's embedded volume" : "device");
    VMDF_TRY(check_btree(dev, v, alloc_size, offsetof(VolumeHeader, extents_file), h.extents_file,
                         "extents", kExtentsMaxKey, IndexKeys::fixed));
    VMDF_TRY(check_btree(dev, v, alloc_size, offsetof(VolumeHeader, catalog_file), h.catalog_file,
                         "catalog", kCatalogMaxKey, IndexKeys::variable));
    // The attributes B-tree is opened only if the volume has one.
    if (h.attributes_file.total_blocks.value() != 0)
        VMDF_TRY(check_btree(dev, v, alloc_size, offsetof(VolumeHeader, attributes_file),
                             h.attributes_file, "attributes", kAttributesMaxKey, IndexKeys::any));

    Filesystem fs;
    fs.type = "hfsplus";
    StatVfs& st = fs.stat;
    st.bsize = st.frsize = blocksize;
    // total_blocks and free_blocks are u32 in hfsplus_sb_info: the shift is
    // done in 32 bits and can wrap (a volume of 2^28 or more 64 KiB blocks).
    st.blocks = static_cast<std::uint32_t>(total << fs_shift);
    st.bfree = st.bavail = static_cast<std::uint32_t>(free << fs_shift);
    st.files = 0xFFFFFFFF;
    st.ffree = 0xFFFFFFFF - std::uint64_t{h.next_catalog_id.value()};
    if (!(h.attributes.value() & kVolumeUnmounted))
        fs.warnings.push_back(
            "not cleanly unmounted: Linux mounts it read-only without replaying its journal, and "
            "its free count may be stale");
    return fs;
}

Result<Score> probe(const Device& dev) {
    if (dev.size() < kHeaderOffset + sizeof(VolumeHeader)) return kNotMine;
    VMDF_TRY_ASSIGN(const WrapperMdb mdb, read_struct<WrapperMdb>(dev, kHeaderOffset));
    const std::uint16_t sig = mdb.signature.value();
    if (sig == kSigWrapper) {
        // Plain HFS is the hfs driver's (not read here); only a wrapper
        // around HFS+ is this plugin's.
        const std::uint16_t embedded = mdb.embed_signature.value();
        return embedded == kSigHfsPlus || embedded == kSigHfsx ? kCertain : kNotMine;
    }
    if (sig != kSigHfsPlus && sig != kSigHfsx) return kNotMine;
    VMDF_TRY_ASSIGN(const VolumeHeader h, read_struct<VolumeHeader>(dev, kHeaderOffset));
    const std::uint16_t version = h.version.value();
    return version >= kMinVersion && version <= kMaxVersion && is_power_of_2(h.block_size.value())
               ? kCertain
               : 50;
}

constexpr Magic kMagics[] = {{kHeaderOffset, "H+"sv}, {kHeaderOffset, "HX"sv}, {kHeaderOffset, "BD"sv}};

}  // namespace
}  // namespace vmdf::hfsplus

namespace vmdf {
constexpr FilesystemPlugin hfsplus_plugin{"hfsplus", hfsplus::kMagics, hfsplus::probe, hfsplus::open};
}
