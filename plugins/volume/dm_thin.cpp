// SPDX-License-Identifier: GPL-2.0-or-later
// dm-thin volumes, read through the pool's metadata as the kernel reads it:
// the superblock of drivers/md/dm-thin-metadata.c (sb_check), the B-tree
// nodes of persistent-data/dm-btree-internal.h (node_check in
// dm-btree-spine.c) and the lookup of dm_btree_lookup (dm-btree.c) through
// the two-level mapping tree: thin device id -> that device's tree, virtual
// block -> (data block << 24 | time).
#include "plugins/volume/dm_thin.hpp"

#include <algorithm>
#include <array>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/endian/buffers.hpp>
#include <boost/endian/conversion.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/crc32.hpp"

namespace vmdf::dm_thin {
namespace {

namespace be = boost::endian;

/// THIN_METADATA_BLOCK_SIZE: the kernel reads the metadata in 4 KiB blocks
/// whatever the superblock says, and always writes 8 sectors there.
constexpr std::uint64_t kBlock = 4096;
constexpr std::uint32_t kBlockSectors = kBlock / 512;
constexpr std::uint64_t kSuperblockMagic = 27022010;   // THIN_SUPERBLOCK_MAGIC
constexpr std::uint32_t kSuperblockCsumXor = 160774;   // SUPERBLOCK_CSUM_XOR
constexpr std::uint32_t kNodeCsumXor = 121107;         // BTREE_CSUM_XOR
constexpr std::uint32_t kMinVersion = 1, kMaxVersion = 2;  // THIN_VERSION is 2
/// THIN_FEATURE_INCOMPAT_SUPP: no incompatible feature is defined yet.
constexpr std::uint32_t kIncompatSupported = 0;
/// dm-thin's data block size limits (DATA_DEV_BLOCK_SIZE_MIN/MAX_SECTORS),
/// and it must be a multiple of the minimum.
constexpr std::uint64_t kMinDataBlockSectors = 128, kMaxDataBlockSectors = 2097152;
/// node_header flags.
constexpr std::uint32_t kInternalNode = 1, kLeafNode = 2;
/// Depth of one tree level. A 4 KiB node holds up to 254 entries and at
/// least a third of that after a split, so 2^64 keys need fewer than 12
/// levels; a deeper path is a loop or a forgery.
constexpr unsigned kMaxDepth = 16;
/// Nodes kept in memory per volume (4 KiB each).
constexpr std::size_t kCacheNodes = 256;
/// The time field in the low 24 bits of a mapping (pack_block_time).
constexpr unsigned kTimeBits = 24;

// struct thin_disk_superblock (little-endian), in metadata block 0.
struct Superblock {
    be::little_uint32_buf_t csum;                    // 0: crc32c of bytes 4..4095
    be::little_uint32_buf_t flags;                   // 4
    be::little_uint64_buf_t blocknr;                 // 8: 0, this block
    std::uint8_t uuid[16];                           // 16
    be::little_uint64_buf_t magic;                   // 32
    be::little_uint32_buf_t version;                 // 40
    be::little_uint32_buf_t time;                    // 44
    be::little_uint64_buf_t trans_id;                // 48
    be::little_uint64_buf_t held_root;               // 56: metadata snapshot
    std::uint8_t data_space_map_root[128];           // 64
    std::uint8_t metadata_space_map_root[128];       // 192
    be::little_uint64_buf_t data_mapping_root;       // 320
    be::little_uint64_buf_t device_details_root;     // 328
    be::little_uint32_buf_t data_block_size;         // 336: sectors
    be::little_uint32_buf_t metadata_block_size;     // 340: sectors
    be::little_uint64_buf_t metadata_nr_blocks;      // 344
    be::little_uint32_buf_t compat_flags;            // 352
    be::little_uint32_buf_t compat_ro_flags;         // 356
    be::little_uint32_buf_t incompat_flags;          // 360
};
static_assert(sizeof(Superblock) == 364);

// struct node_header, at the start of every B-tree node; then
// keys[max_entries] (le64) and values[max_entries] of value_size bytes.
struct NodeHeader {
    be::little_uint32_buf_t csum;         // 0: crc32c of bytes 4..4095
    be::little_uint32_buf_t flags;        // 4: kInternalNode / kLeafNode
    be::little_uint64_buf_t blocknr;      // 8: where the node belongs
    be::little_uint32_buf_t nr_entries;   // 16
    be::little_uint32_buf_t max_entries;  // 20
    be::little_uint32_buf_t value_size;   // 24
    be::little_uint32_buf_t padding;      // 28
};
static_assert(sizeof(NodeHeader) == 32);

/// dm_bm_checksum: crc32c from ~0 over the block after its csum field,
/// without the final inversion, xor a constant per block kind.
std::uint32_t block_checksum(std::span<const std::byte> block, std::uint32_t xor_value) {
    return crc32c_raw(~0u, block.subspan(4)) ^ xor_value;
}

std::uint64_t le64_at(std::span<const std::byte> bytes, std::size_t offset) {
    return be::load_little_u64(reinterpret_cast<const unsigned char*>(bytes.data() + offset));
}

/// One B-tree node, checked as node_check does.
struct Node {
    std::vector<std::byte> bytes;
    bool leaf = false;
    std::uint32_t nr_entries = 0, max_entries = 0;

    std::uint64_t key(std::uint32_t i) const { return le64_at(bytes, sizeof(NodeHeader) + 8 * i); }
    /// Every value of the mapping trees is an le64.
    std::uint64_t value(std::uint32_t i) const {
        return le64_at(bytes, sizeof(NodeHeader) + 8 * (std::size_t{max_entries} + i));
    }
    /// The index of the last key <= `k`, or -1 (lower_bound in dm-btree.c).
    long lower_bound(std::uint64_t k) const {
        std::uint32_t lo = 0, hi = nr_entries;  // answer in [lo - 1, hi - 1]
        while (lo < hi) {
            const std::uint32_t mid = lo + (hi - lo) / 2;
            if (key(mid) <= k) lo = mid + 1;
            else hi = mid;
        }
        return static_cast<long>(lo) - 1;
    }
};

Result<Node> parse_node(std::vector<std::byte> bytes, std::uint64_t block) {
    const std::uint64_t at = block * kBlock;
    VMDF_TRY_ASSIGN(auto h, ByteReader(bytes, at).at<NodeHeader>(0));
    if (h.blocknr.value() != block)
        return failf(Errc::corrupt, at, "B-tree node in block {} says it is block {}", block,
                     h.blocknr.value());
    const std::uint32_t csum = block_checksum(bytes, kNodeCsumXor);
    if (csum != h.csum.value())
        return failf(Errc::corrupt, at, "B-tree node {} checksum {:#010x}, computed {:#010x}",
                     block, h.csum.value(), csum);
    Node node;
    node.nr_entries = h.nr_entries.value();
    node.max_entries = h.max_entries.value();
    const std::uint32_t flags = h.flags.value();
    if (!(flags & (kInternalNode | kLeafNode)))
        return failf(Errc::corrupt, at, "B-tree node {} is neither internal nor leaf (flags {:#x})",
                     block, flags);
    node.leaf = (flags & kLeafNode) != 0;  // the lookup stops at a leaf flag
    if (h.value_size.value() != 8)
        return failf(Errc::corrupt, at, "B-tree node {} has {}-byte values, the mapping tree 8",
                     block, h.value_size.value());
    if (sizeof(NodeHeader) + 16 * std::uint64_t{node.max_entries} > kBlock)
        return failf(Errc::corrupt, at, "B-tree node {}: max_entries {} do not fit a block",
                     block, node.max_entries);
    if (node.nr_entries > node.max_entries)
        return failf(Errc::corrupt, at, "B-tree node {}: {} entries, more than max_entries {}",
                     block, node.nr_entries, node.max_entries);
    node.bytes = std::move(bytes);
    // A binary search needs ascending keys; dm-btree keeps them so.
    for (std::uint32_t i = 1; i < node.nr_entries; ++i)
        if (node.key(i) <= node.key(i - 1))
            return failf(Errc::corrupt, at, "B-tree node {}: keys out of order at entry {}",
                         block, i);
    return node;
}

/// The pool's metadata device, with a bounded cache of checked nodes.
class Metadata {
public:
    Metadata(DevicePtr dev, std::uint64_t nr_blocks) : dev_(std::move(dev)), nr_blocks_(nr_blocks) {}

    Result<std::shared_ptr<const Node>> node(std::uint64_t block) const {
        std::lock_guard lock(mutex_);
        if (auto it = cache_.find(block); it != cache_.end()) {
            lru_.splice(lru_.begin(), lru_, it->second.second);
            return it->second.first;
        }
        if (block == 0 || block >= nr_blocks_)
            return failf(Errc::corrupt, std::nullopt,
                         "B-tree pointer to metadata block {} (the metadata has {} blocks)", block,
                         nr_blocks_);
        VMDF_TRY_ASSIGN(auto bytes, read_bytes(*dev_, block * kBlock, kBlock, kBlock));
        VMDF_TRY_ASSIGN(auto parsed, parse_node(std::move(bytes), block));
        auto shared = std::make_shared<const Node>(std::move(parsed));
        if (cache_.size() >= kCacheNodes) {
            cache_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(block);
        cache_.emplace(block, std::make_pair(shared, lru_.begin()));
        return shared;
    }

    /// dm_btree_lookup in a one-level tree of le64 values: the value of
    /// `key`, or nothing when the tree has no such key.
    Result<std::optional<std::uint64_t>> lookup(std::uint64_t root, std::uint64_t key) const {
        std::array<std::uint64_t, kMaxDepth> path{};
        std::uint64_t block = root;
        for (unsigned depth = 0; depth < kMaxDepth; ++depth) {
            // A child that is one of its ancestors would send the walk round
            // for ever.
            if (std::find(path.begin(), path.begin() + depth, block) != path.begin() + depth)
                return failf(Errc::corrupt, block * kBlock,
                             "B-tree loop: node {} is its own ancestor", block);
            path[depth] = block;
            VMDF_TRY_ASSIGN(auto n, node(block));
            const long i = n->lower_bound(key);
            if (i < 0) return std::optional<std::uint64_t>{};
            const auto index = static_cast<std::uint32_t>(i);
            if (n->leaf) {
                if (n->key(index) != key) return std::optional<std::uint64_t>{};
                return std::optional<std::uint64_t>{n->value(index)};
            }
            block = n->value(index);
        }
        return failf(Errc::corrupt, root * kBlock, "B-tree rooted at {} deeper than {} levels",
                     root, kMaxDepth);
    }

private:
    DevicePtr dev_;
    std::uint64_t nr_blocks_;
    mutable std::mutex mutex_;
    mutable std::list<std::uint64_t> lru_;  // most recently used first
    mutable std::unordered_map<std::uint64_t,
                               std::pair<std::shared_ptr<const Node>, std::list<std::uint64_t>::iterator>>
        cache_;
};

/// A thin volume: virtual block b is the data block its mapping names, or
/// zeros when it has none (dm-thin's read of an unprovisioned block).
class ThinDevice final : public Device {
public:
    ThinDevice(const ThinVolumeSpec& spec, std::unique_ptr<Metadata> metadata, std::uint64_t root,
               std::uint64_t block_bytes)
        : Device(spec.name, spec.size, 512),
          metadata_(std::move(metadata)),
          data_(spec.data),
          root_(root),
          block_bytes_(block_bytes),
          data_blocks_(spec.data->size() / block_bytes) {}

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        while (!out.empty()) {
            const std::uint64_t vblock = offset / block_bytes_;
            const std::uint64_t within = offset % block_bytes_;
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(out.size(), block_bytes_ - within));
            VMDF_TRY_ASSIGN(auto mapping, metadata_->lookup(root_, vblock));
            if (!mapping) {
                std::fill_n(out.begin(), n, std::byte{0});
            } else {
                const std::uint64_t dblock = *mapping >> kTimeBits;
                if (dblock >= data_blocks_)
                    return failf(Errc::corrupt, std::nullopt,
                                 "virtual block {} maps to data block {}, past the end of the "
                                 "pool's data device ({} blocks)",
                                 vblock, dblock, data_blocks_);
                VMDF_TRY(data_->read(dblock * block_bytes_ + within, out.first(n)));
            }
            out = out.subspan(n);
            offset += n;
        }
        return {};
    }

private:
    std::unique_ptr<Metadata> metadata_;
    DevicePtr data_;
    std::uint64_t root_;
    std::uint64_t block_bytes_;
    std::uint64_t data_blocks_;
};

Result<DevicePtr> open_volume(const ThinVolumeSpec& spec) {
    if (!spec.metadata || !spec.data)
        return fail(Errc::corrupt, "thin pool without a metadata or data device");
    const std::uint64_t sectors = spec.data_block_sectors;
    if (sectors < kMinDataBlockSectors || sectors > kMaxDataBlockSectors ||
        sectors % kMinDataBlockSectors != 0)
        return failf(Errc::corrupt, std::nullopt,
                     "thin pool chunk size of {} sectors: dm-thin takes multiples of {} up to {}",
                     sectors, kMinDataBlockSectors, kMaxDataBlockSectors);
    const Device& meta = *spec.metadata;
    VMDF_TRY_ASSIGN(auto block0, read_bytes(meta, 0, kBlock, kBlock));
    VMDF_TRY_ASSIGN(auto sb, ByteReader(block0, 0).at<Superblock>(0));
    // sb_check: blocknr, magic, then the checksum.
    if (sb.blocknr.value() != 0)
        return failf(Errc::corrupt, 8, "thin superblock says it is block {}", sb.blocknr.value());
    if (sb.magic.value() != kSuperblockMagic)
        return failf(Errc::corrupt, 32, "no thin pool superblock (magic {}, expected {})",
                     sb.magic.value(), kSuperblockMagic);
    const std::uint32_t csum = block_checksum(block0, kSuperblockCsumXor);
    if (csum != sb.csum.value())
        return failf(Errc::corrupt, 0, "thin superblock checksum {:#010x}, computed {:#010x}",
                     sb.csum.value(), csum);
    if (sb.version.value() < kMinVersion || sb.version.value() > kMaxVersion)
        return failf(Errc::unsupported, 40, "thin metadata version {}", sb.version.value());
    // __check_incompat_features: read-only use ignores the compat_ro bits.
    if (const std::uint32_t f = sb.incompat_flags.value() & ~kIncompatSupported; f != 0)
        return failf(Errc::unsupported, 360, "thin metadata with unknown incompatible features {:#x}", f);
    if (sb.metadata_block_size.value() != kBlockSectors)
        return failf(Errc::unsupported, 340, "thin metadata blocks of {} sectors (the kernel's are {})",
                     sb.metadata_block_size.value(), kBlockSectors);
    // __open_metadata refuses a pool whose table disagrees with its metadata.
    if (sb.data_block_size.value() != sectors)
        return failf(Errc::corrupt, 336,
                     "thin pool data block size is {} sectors in its metadata but {} in the "
                     "volume group",
                     sb.data_block_size.value(), sectors);
    // The metadata device may have grown since metadata_nr_blocks was written.
    const std::uint64_t nr_blocks = meta.size() / kBlock;
    auto metadata = std::make_unique<Metadata>(spec.metadata, nr_blocks);

    VMDF_TRY_ASSIGN(auto dev_root, metadata->lookup(sb.data_mapping_root.value(), spec.device_id));
    if (!dev_root)
        return failf(Errc::corrupt, std::nullopt, "thin device id {} is not in the pool's metadata",
                     spec.device_id);
    const std::uint64_t block_bytes = sectors * 512;
    return DevicePtr(std::make_shared<ThinDevice>(spec, std::move(metadata), *dev_root, block_bytes));
}

}  // namespace
}  // namespace vmdf::dm_thin

namespace vmdf {

Result<DevicePtr> open_thin_volume(const ThinVolumeSpec& spec) { return dm_thin::open_volume(spec); }

}  // namespace vmdf
