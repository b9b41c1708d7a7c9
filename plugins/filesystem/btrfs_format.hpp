// SPDX-License-Identifier: GPL-2.0-or-later
// btrfs on-disk structures and constants, from the kernel's UAPI headers
// (include/uapi/linux/btrfs_tree.h, btrfs.h) and Documentation/dev/On-disk-format
// of btrfs-progs. Everything is little-endian; field names are the kernel's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <boost/endian/buffers.hpp>

namespace vmdf::btrfs {

namespace be = boost::endian;

constexpr std::uint64_t kSuperOffset = 0x10000;       // BTRFS_SUPER_INFO_OFFSET
constexpr std::uint64_t kSuperSize = 4096;            // BTRFS_SUPER_INFO_SIZE
constexpr std::uint64_t kCsumSize = 32;               // BTRFS_CSUM_SIZE: checksummed from here
constexpr std::uint64_t kSysChunkArrayMax = 2048;     // BTRFS_SYSTEM_CHUNK_ARRAY_SIZE
constexpr std::uint64_t kStripeLen = 64 * 1024;       // BTRFS_STRIPE_LEN
constexpr std::uint64_t kMaxMetadataBlock = 64 * 1024;  // BTRFS_MAX_METADATA_BLOCKSIZE
constexpr std::uint64_t kMinSectorSize = 4096;
constexpr unsigned kMaxLevel = 8;                     // BTRFS_MAX_LEVEL
constexpr std::uint64_t kMiB = 1024 * 1024;

// Checksum types (btrfs_super_block.csum_type).
constexpr std::uint16_t kCsumCrc32c = 0, kCsumBlake2 = 3;

// Tree ids (key objectids in the root tree).
constexpr std::uint64_t kRootTreeId = 1, kExtentTreeId = 2, kChunkTreeId = 3, kFsTreeId = 5,
                        kRootTreeDirId = 6, kCsumTreeId = 7, kFreeSpaceTreeId = 10,
                        kBlockGroupTreeId = 11, kRaidStripeTreeId = 12;
constexpr std::uint64_t kDevItemsId = 1;              // BTRFS_DEV_ITEMS_OBJECTID
constexpr std::uint64_t kFirstFreeId = 256;           // BTRFS_FIRST_FREE_OBJECTID
constexpr std::uint64_t kFirstChunkTreeId = 256;      // BTRFS_FIRST_CHUNK_TREE_OBJECTID
constexpr std::uint64_t kLastFreeId = ~std::uint64_t{0} - 255;  // BTRFS_LAST_FREE_OBJECTID

// Key types.
constexpr std::uint8_t kInodeRefKey = 12, kDirItemKey = 84, kRootItemKey = 132,
                       kRootBackrefKey = 144, kBlockGroupItemKey = 192, kDevItemKey = 216,
                       kChunkItemKey = 228;

// Block group / chunk type flags.
constexpr std::uint64_t kBgData = 0x1, kBgSystem = 0x2, kBgMetadata = 0x4;
constexpr std::uint64_t kBgRaid0 = 0x8, kBgRaid1 = 0x10, kBgDup = 0x20, kBgRaid10 = 0x40,
                        kBgRaid5 = 0x80, kBgRaid6 = 0x100, kBgRaid1C3 = 0x200,
                        kBgRaid1C4 = 0x400;
constexpr std::uint64_t kBgTypeMask = kBgData | kBgSystem | kBgMetadata;
constexpr std::uint64_t kBgProfileMask = kBgRaid0 | kBgRaid1 | kBgDup | kBgRaid10 | kBgRaid5 |
                                         kBgRaid6 | kBgRaid1C3 | kBgRaid1C4;

// Feature flags.
constexpr std::uint64_t kCompatRoFreeSpaceTree = 0x1, kCompatRoBlockGroupTree = 0x8;
constexpr std::uint64_t kIncompatMixedGroups = 0x4, kIncompatMetadataUuid = 0x400,
                        kIncompatZoned = 0x1000, kIncompatExtentTreeV2 = 0x2000,
                        kIncompatRaidStripeTree = 0x4000;
/// What a production 6.18 kernel mounts (BTRFS_FEATURE_INCOMPAT_SUPP without
/// CONFIG_BTRFS_EXPERIMENTAL): MIXED_BACKREF, DEFAULT_SUBVOL, MIXED_GROUPS,
/// COMPRESS_LZO, COMPRESS_ZSTD, BIG_METADATA, EXTENDED_IREF, RAID56,
/// SKINNY_METADATA, NO_HOLES, METADATA_UUID, RAID1C34, ZONED, SIMPLE_QUOTA.
constexpr std::uint64_t kIncompatSupported = 0x1FFF | 0x10000;

/// The superblock (struct btrfs_super_block), 4096 bytes at 64 KiB of
/// every member device. The checksum covers the bytes after `csum`.
struct DevItem {
    be::little_uint64_buf_t devid;        // 0x00
    be::little_uint64_buf_t total_bytes;  // 0x08: usable size of the device
    be::little_uint64_buf_t bytes_used;   // 0x10: allocated to chunks
    be::little_uint32_buf_t io_align, io_width, sector_size;
    be::little_uint64_buf_t type, generation, start_offset;
    be::little_uint32_buf_t dev_group;
    std::uint8_t seek_speed, bandwidth;
    std::uint8_t uuid[16];                // 0x42
    std::uint8_t fsid[16];                // 0x52
};
static_assert(sizeof(DevItem) == 98 && offsetof(DevItem, uuid) == 0x42);

struct Superblock {
    std::uint8_t csum[32];                         // 0x00
    std::uint8_t fsid[16];                         // 0x20
    be::little_uint64_buf_t bytenr;                // 0x30: where this copy lives
    be::little_uint64_buf_t flags;                 // 0x38
    char magic[8];                                 // 0x40: "_BHRfS_M"
    be::little_uint64_buf_t generation;            // 0x48
    be::little_uint64_buf_t root;                  // 0x50: root tree, logical
    be::little_uint64_buf_t chunk_root;            // 0x58
    be::little_uint64_buf_t log_root;              // 0x60: non-zero: log to replay
    be::little_uint64_buf_t log_root_transid;      // 0x68
    be::little_uint64_buf_t total_bytes;           // 0x70
    be::little_uint64_buf_t bytes_used;            // 0x78
    be::little_uint64_buf_t root_dir_objectid;     // 0x80
    be::little_uint64_buf_t num_devices;           // 0x88
    be::little_uint32_buf_t sectorsize;            // 0x90
    be::little_uint32_buf_t nodesize;              // 0x94
    be::little_uint32_buf_t leafsize;              // 0x98 (unused)
    be::little_uint32_buf_t stripesize;            // 0x9C
    be::little_uint32_buf_t sys_chunk_array_size;  // 0xA0
    be::little_uint64_buf_t chunk_root_generation; // 0xA4
    be::little_uint64_buf_t compat_flags;          // 0xAC
    be::little_uint64_buf_t compat_ro_flags;       // 0xB4
    be::little_uint64_buf_t incompat_flags;        // 0xBC
    be::little_uint16_buf_t csum_type;             // 0xC4
    std::uint8_t root_level;                       // 0xC6
    std::uint8_t chunk_root_level;                 // 0xC7
    std::uint8_t log_root_level;                   // 0xC8
    DevItem dev_item;                              // 0xC9
    char label[256];                               // 0x12B
    be::little_uint64_buf_t cache_generation;      // 0x22B
    be::little_uint64_buf_t uuid_tree_generation;  // 0x233
    std::uint8_t metadata_uuid[16];                // 0x23B
    std::uint8_t reserved[0x32B - 0x24B];
    std::uint8_t sys_chunk_array[kSysChunkArrayMax];  // 0x32B
    std::uint8_t rest[kSuperSize - 0xB2B];         // backup roots, padding
};
static_assert(sizeof(Superblock) == kSuperSize && alignof(Superblock) == 1);
static_assert(std::is_trivially_copyable_v<Superblock>);
static_assert(offsetof(Superblock, magic) == 0x40 && offsetof(Superblock, sectorsize) == 0x90);
static_assert(offsetof(Superblock, csum_type) == 0xC4 && offsetof(Superblock, dev_item) == 0xC9);
static_assert(offsetof(Superblock, metadata_uuid) == 0x23B);
static_assert(offsetof(Superblock, sys_chunk_array) == 0x32B);

/// A key (struct btrfs_disk_key): items sort by (objectid, type, offset).
struct DiskKey {
    be::little_uint64_buf_t objectid;
    std::uint8_t type;
    be::little_uint64_buf_t offset;
};
static_assert(sizeof(DiskKey) == 17);

/// The header of every tree block (struct btrfs_header).
struct Header {
    std::uint8_t csum[32];                  // 0x00: of the bytes after it
    std::uint8_t fsid[16];                  // 0x20: the metadata uuid
    be::little_uint64_buf_t bytenr;         // 0x30: its own logical address
    be::little_uint64_buf_t flags;          // 0x38
    std::uint8_t chunk_tree_uuid[16];       // 0x40
    be::little_uint64_buf_t generation;     // 0x50
    be::little_uint64_buf_t owner;          // 0x58
    be::little_uint32_buf_t nritems;        // 0x60
    std::uint8_t level;                     // 0x64: 0 = leaf
};
static_assert(sizeof(Header) == 101 && offsetof(Header, nritems) == 0x60);

/// A leaf item (struct btrfs_item); `offset` counts from the end of the header.
struct Item {
    DiskKey key;
    be::little_uint32_buf_t offset, size;
};
static_assert(sizeof(Item) == 25);

/// An internal node's pointer (struct btrfs_key_ptr).
struct KeyPtr {
    DiskKey key;
    be::little_uint64_buf_t blockptr, generation;
};
static_assert(sizeof(KeyPtr) == 33);

/// struct btrfs_chunk, followed by num_stripes stripes.
struct ChunkItem {
    be::little_uint64_buf_t length;         // 0x00: logical bytes mapped
    be::little_uint64_buf_t owner;
    be::little_uint64_buf_t stripe_len;     // 0x10: BTRFS_STRIPE_LEN
    be::little_uint64_buf_t type;           // 0x18: block group flags
    be::little_uint32_buf_t io_align, io_width, sector_size;
    be::little_uint16_buf_t num_stripes;    // 0x2C
    be::little_uint16_buf_t sub_stripes;    // 0x2E
};
static_assert(sizeof(ChunkItem) == 48 && offsetof(ChunkItem, num_stripes) == 44);

struct ChunkStripe {
    be::little_uint64_buf_t devid;
    be::little_uint64_buf_t offset;         // physical, on that device
    std::uint8_t dev_uuid[16];
};
static_assert(sizeof(ChunkStripe) == 32);

/// The start of struct btrfs_root_item (439 bytes; 239 in the oldest format).
struct RootItem {
    std::uint8_t inode[160];
    be::little_uint64_buf_t generation;     // 160
    be::little_uint64_buf_t root_dirid;     // 168
    be::little_uint64_buf_t bytenr;         // 176: the tree's root block
    be::little_uint64_buf_t byte_limit;     // 184
    be::little_uint64_buf_t bytes_used;     // 192: all of the tree's blocks
    be::little_uint64_buf_t last_snapshot;  // 200
    be::little_uint64_buf_t flags;          // 208
    be::little_uint32_buf_t refs;           // 216
    DiskKey drop_progress;                  // 220
    std::uint8_t drop_level;                // 237
    std::uint8_t level;                     // 238
};
static_assert(sizeof(RootItem) == 239 && offsetof(RootItem, bytes_used) == 192);

struct BlockGroupItem {
    be::little_uint64_buf_t used;
    be::little_uint64_buf_t chunk_objectid;
    be::little_uint64_buf_t flags;
};
static_assert(sizeof(BlockGroupItem) == 24);

/// struct btrfs_root_ref (ROOT_REF and ROOT_BACKREF), then the name.
struct RootRef {
    be::little_uint64_buf_t dirid;          // the directory holding it, in the parent
    be::little_uint64_buf_t sequence;
    be::little_uint16_buf_t name_len;
};
static_assert(sizeof(RootRef) == 18);

/// struct btrfs_inode_ref, then the name (several may share one item).
struct InodeRef {
    be::little_uint64_buf_t index;
    be::little_uint16_buf_t name_len;
};
static_assert(sizeof(InodeRef) == 10);

/// struct btrfs_dir_item, then name and data (several may share one item).
struct DirItem {
    DiskKey location;
    be::little_uint64_buf_t transid;
    be::little_uint16_buf_t data_len, name_len;
    std::uint8_t type;
};
static_assert(sizeof(DirItem) == 30);

}  // namespace vmdf::btrfs
