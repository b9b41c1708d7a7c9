// SPDX-License-Identifier: GPL-2.0-or-later
// btrfs, with the figures Linux's btrfs_statfs reports (fs/btrfs/super.c:
// btrfs_statfs, btrfs_calc_avail_data_space; block-rsv.c:
// btrfs_update_global_block_rsv; statfs.md §4), and the subvolume rows
// libguestfs lists (daemon/listfs.ml, btrfs.ml; btrfs-progs subvolume list).
// Structures: btrfs_format.hpp.
#include "plugins/filesystem/btrfs.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/crc32.hpp"
#include "plugins/filesystem/btrfs_format.hpp"

namespace vmdf::btrfs {

// --- The kernel's space accounting, on values already read ---------------------

namespace {

/// The kernel's btrfs_raid_array, in its index order (which statfs's
/// choice of the data factor depends on).
struct RaidAttr {
    std::uint64_t flag;            // 0 for single
    unsigned ncopies;
    unsigned dev_stripes;          // stripes per device in one chunk (DUP: 2)
    unsigned devs_min;             // 6.18 values: RAID0 1, RAID10 2
    unsigned tolerated_failures;
    unsigned nparity;
};
constexpr RaidAttr kRaid[] = {
    {kBgRaid10, 2, 1, 2, 1, 0},  {kBgRaid1, 2, 1, 2, 1, 0},  {kBgDup, 2, 2, 1, 0, 0},
    {kBgRaid0, 1, 1, 1, 0, 0},   {0, 1, 1, 1, 0, 0},         {kBgRaid5, 1, 1, 2, 1, 1},
    {kBgRaid6, 1, 1, 3, 2, 2},   {kBgRaid1C3, 3, 1, 3, 2, 0}, {kBgRaid1C4, 4, 1, 4, 3, 0},
};
constexpr std::size_t kNumRaid = std::size(kRaid);
constexpr std::size_t kSingle = 4;

/// Index into kRaid of a validated type (at most one profile bit).
std::size_t raid_index(std::uint64_t type) {
    const std::uint64_t profile = type & kBgProfileMask;
    for (std::size_t i = 0; i < kNumRaid; ++i)
        if (kRaid[i].flag == profile) return i;
    return kSingle;
}

/// btrfs_reduce_alloc_profile: the profile the allocator would use for new
/// data chunks, given the profiles in use and the writable devices.
std::size_t alloc_profile(std::uint64_t profiles, std::uint64_t rw_devices) {
    std::uint64_t allowed = 0;
    for (const RaidAttr& r : kRaid)
        if (rw_devices >= r.devs_min) allowed |= r.flag;
    allowed &= profiles;
    for (std::uint64_t pick : {kBgRaid1C4, kBgRaid6, kBgRaid1C3, kBgRaid5, kBgRaid10, kBgRaid1,
                               kBgDup, kBgRaid0})
        if (allowed & pick) return raid_index(pick);
    return kSingle;
}

}  // namespace

std::uint64_t avail_data_space(std::span<const DeviceSpace> devices, std::uint64_t data_profiles) {
    std::uint64_t open = 0, rw = 0;
    for (const DeviceSpace& d : devices) {
        open += d.present ? 1 : 0;
        rw += d.present && d.writable ? 1 : 0;
    }
    if (open == 0) return 0;
    const RaidAttr& attr = kRaid[alloc_profile(data_profiles, rw)];
    std::uint64_t num_stripes = 1;
    if (attr.flag == kBgRaid0) num_stripes = open;
    else if (attr.flag & (kBgRaid1 | kBgRaid1C3 | kBgRaid1C4)) num_stripes = attr.ncopies;
    else if (attr.flag == kBgRaid10) num_stripes = 4;
    const std::uint64_t min_stripe = attr.dev_stripes * kStripeLen;

    // Each device's unallocated space, in whole stripes, minus the first
    // MiB that chunk allocation never uses.
    std::vector<std::uint64_t> avail;
    for (const DeviceSpace& d : devices) {
        if (!d.present) continue;
        const std::uint64_t space = (d.total_bytes - d.bytes_used) / kStripeLen * kStripeLen;
        if (space <= kMiB + min_stripe) continue;
        avail.push_back(space - kMiB);
    }
    std::sort(avail.begin(), avail.end(), std::greater<>());
    // Fill the smallest device first, with num_stripes copies spread over
    // it and the next-smallest devices.
    std::uint64_t total = 0;
    for (std::size_t n = avail.size(); n >= attr.devs_min && n > 0; --n) {
        num_stripes = std::min<std::uint64_t>(num_stripes, n);
        const std::uint64_t smallest = avail[n - 1];
        if (smallest < min_stripe) continue;
        total += smallest * num_stripes;
        for (std::size_t j = n - num_stripes; j < n; ++j) avail[j] -= smallest;
    }
    return total;
}

StatVfs compute_statfs(const SpaceModel& m) {
    struct SpaceInfo {
        std::uint64_t disk_total = 0, disk_used = 0, ro_free = 0;
        std::array<bool, kNumRaid> raids{};
    };
    std::map<std::uint64_t, SpaceInfo> infos;  // by type: data, system, metadata, mixed
    std::uint64_t data_profiles = 0;
    for (const BlockGroupSpace& bg : m.block_groups) {
        SpaceInfo& si = infos[bg.flags & kBgTypeMask];
        const std::size_t raid = raid_index(bg.flags);
        const std::uint64_t factor = kRaid[raid].ncopies;
        si.disk_total += bg.length * factor;
        si.disk_used += bg.used * factor;
        si.raids[raid] = true;
        // A chunk whose devices are not writable (all of them, on a
        // read-only device) is a read-only block group: its free space
        // is not available (btrfs_account_ro_block_groups_free_space).
        if (!bg.writable) si.ro_free += (bg.length - bg.used) * factor;
        if (bg.flags & kBgData) data_profiles |= bg.flags & kBgProfileMask;
    }
    std::uint64_t factor = 1, total_used = 0, free_data = 0;
    for (const auto& [type, si] : infos) {
        if (type & kBgData) {
            free_data += si.disk_total - si.disk_used - si.ro_free;
            for (std::size_t i = 0; i < kNumRaid; ++i)  // the last profile in use
                if (si.raids[i]) factor = kRaid[i].ncopies;
        }
        total_used += si.disk_used;
    }

    // btrfs_update_global_block_rsv (6.18): the global trees' sizes, but
    // at least room for their updates, an unlink and its delayed refs.
    const std::uint64_t units = std::uint64_t{m.nodesize} * kMaxLevel * 2;
    const std::uint64_t min_rsv = units * (1 + m.global_roots + 6) +
                                  units * 6 * (m.free_space_tree ? 2 : 1);
    const std::uint64_t rsv = std::min<std::uint64_t>(std::max(m.global_roots_used, min_rsv),
                                                      512 * kMiB);

    const int bits = std::countr_zero(m.sectorsize);
    StatVfs st;
    st.bsize = st.frsize = m.sectorsize;
    st.blocks = (m.total_bytes / factor) >> bits;
    // Unsigned, as in the kernel: mixed groups can make "used" exceed the size.
    st.bfree = st.blocks - ((total_used / factor) >> bits);
    st.bfree = st.bfree >= (rsv >> bits) ? st.bfree - (rsv >> bits) : 0;
    st.bavail = (free_data / factor + avail_data_space(m.devices, data_profiles) / factor) >> bits;
    return st;
}

// --- Reading the filesystem ----------------------------------------------------------

namespace {

using namespace std::string_view_literals;

/// Tree blocks read in one open, at most: a cycle or a hostile fan-out
/// ends here.
constexpr std::uint64_t kMaxTreeBlocks = 1 << 18;
constexpr std::size_t kNodeCacheEntries = 256;
constexpr std::size_t kMaxSubvolPath = 4080;  // BTRFS_INO_LOOKUP_PATH_MAX
constexpr std::size_t kMaxSubvolumes = 1 << 15;

struct Key {
    std::uint64_t objectid = 0;
    std::uint8_t type = 0;
    std::uint64_t offset = 0;
    auto operator<=>(const Key&) const = default;
};

Key to_key(const DiskKey& k) { return {k.objectid.value(), k.type, k.offset.value()}; }

/// A struct at `offset` of bytes whose bounds were checked when the block
/// was validated.
template <class T>
T load(std::span<const std::byte> bytes, std::size_t offset) {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) == 1);
    T value{};
    if (offset <= bytes.size() && sizeof(T) <= bytes.size() - offset)
        std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

bool is_power_of_2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

/// btrfs_csum_data for crc32c: the standard CRC-32C, stored little-endian.
/// The other checksum types (xxhash64, sha256, blake2b) are not verified.
bool csum_matches(std::uint16_t csum_type, std::span<const std::byte> block) {
    if (csum_type != kCsumCrc32c) return true;
    const std::uint32_t computed = ~crc32c_raw(~0u, block.subspan(kCsumSize));
    return computed == load<be::little_uint32_buf_t>(block, 0).value();
}

Failure bad_super(std::size_t field, std::string message) {
    return fail(Errc::corrupt, std::move(message), kSuperOffset + field);
}

/// The checks btrfs_validate_super makes before a mount is attempted.
Status validate_super(const Superblock& sb) {
    if (std::memcmp(sb.magic, "_BHRfS_M", 8) != 0)
        return bad_super(offsetof(Superblock, magic), "bad magic");
    const std::uint16_t csum_type = sb.csum_type.value();
    if (csum_type > kCsumBlake2)
        return bad_super(offsetof(Superblock, csum_type),
                         fmt::format("unknown csum_type {}", csum_type));
    if (!csum_matches(csum_type, std::as_bytes(std::span{&sb, 1})))
        return bad_super(offsetof(Superblock, csum), "superblock checksum mismatch");
    if (sb.bytenr.value() != kSuperOffset)
        return bad_super(offsetof(Superblock, bytenr),
                         fmt::format("superblock bytenr {} is not {}", sb.bytenr.value(), kSuperOffset));
    const std::uint64_t incompat = sb.incompat_flags.value();
    if (auto unknown = incompat & ~kIncompatSupported)
        return failf(Errc::unsupported, kSuperOffset + offsetof(Superblock, incompat_flags),
                     "unsupported incompatible features {:#x}", unknown);
    if (incompat & kIncompatZoned)
        return fail(Errc::unsupported, "zoned btrfs is not supported");
    const std::uint64_t ss = sb.sectorsize.value(), ns = sb.nodesize.value();
    if (!is_power_of_2(ss) || ss < kMinSectorSize || ss > kMaxMetadataBlock)
        return bad_super(offsetof(Superblock, sectorsize), fmt::format("sectorsize {} invalid", ss));
    if (!is_power_of_2(ns) || ns < ss || ns > kMaxMetadataBlock)
        return bad_super(offsetof(Superblock, nodesize), fmt::format("nodesize {} invalid", ns));
    if ((incompat & kIncompatMixedGroups) && ns != ss)
        return bad_super(offsetof(Superblock, nodesize),
                         fmt::format("mixed block groups need nodesize {} = sectorsize {}", ns, ss));
    if (sb.stripesize.value() != ss)
        return bad_super(offsetof(Superblock, stripesize),
                         fmt::format("stripesize {} is not the sectorsize", sb.stripesize.value()));
    const std::pair<std::size_t, std::uint64_t> roots[] = {
        {offsetof(Superblock, root), sb.root.value()},
        {offsetof(Superblock, chunk_root), sb.chunk_root.value()},
        {offsetof(Superblock, log_root), sb.log_root.value()}};
    for (const auto& [field, value] : roots)
        if (value % ss != 0)
            return bad_super(field, fmt::format("tree root {} not aligned to the sectorsize", value));
    const std::pair<std::size_t, unsigned> levels[] = {
        {offsetof(Superblock, root_level), sb.root_level},
        {offsetof(Superblock, chunk_root_level), sb.chunk_root_level},
        {offsetof(Superblock, log_root_level), sb.log_root_level}};
    for (const auto& [field, level] : levels)
        if (level >= kMaxLevel)
            return bad_super(field, fmt::format("tree level {} out of range (max {})", level, kMaxLevel - 1));
    const std::uint32_t sys = sb.sys_chunk_array_size.value();
    if (sys > kSysChunkArrayMax || sys < sizeof(DiskKey) + sizeof(ChunkItem))
        return bad_super(offsetof(Superblock, sys_chunk_array_size),
                         fmt::format("sys_chunk_array_size {} out of range", sys));
    if (sb.num_devices.value() == 0)
        return bad_super(offsetof(Superblock, num_devices), "num_devices is 0");
    if (sb.bytes_used.value() < 6 * ns)
        return bad_super(offsetof(Superblock, bytes_used),
                         fmt::format("bytes_used {} is too small", sb.bytes_used.value()));
    const std::uint8_t* meta_fsid = (incompat & kIncompatMetadataUuid) ? sb.metadata_uuid : sb.fsid;
    if (std::memcmp(sb.dev_item.fsid, meta_fsid, 16) != 0)
        return bad_super(offsetof(Superblock, dev_item) + offsetof(DevItem, fsid),
                         "dev_item fsid does not match the filesystem");
    return {};
}

struct Stripe {
    std::uint64_t devid, offset;
};

/// A chunk: `length` logical bytes at `logical`, stored on its stripes.
struct Chunk {
    std::uint64_t logical = 0, length = 0, type = 0;
    unsigned sub_stripes = 1;
    std::vector<Stripe> stripes;
    std::optional<std::uint64_t> where;  // of its item, for messages

    const RaidAttr& raid() const { return kRaid[raid_index(type)]; }
    /// Bytes of each stripe (calc_stripe_length).
    std::uint64_t stripe_size() const {
        const std::uint64_t n = stripes.size();
        switch (type & kBgProfileMask) {
            case kBgRaid0: return length / n;
            case kBgRaid10: return length / (n / sub_stripes);
            case kBgRaid5: case kBgRaid6: return length / (n - raid().nparity);
            default: return length;
        }
    }
};

/// A CHUNK_ITEM (from the chunk tree or the superblock's sys_chunk_array),
/// checked as btrfs_check_chunk_valid checks it. `where` is for messages.
Result<Chunk> decode_chunk(const Key& key, std::span<const std::byte> data, const Superblock& sb,
                           std::optional<std::uint64_t> where) {
    if (data.size() < sizeof(ChunkItem))
        return failf(Errc::corrupt, where, "chunk item of {} bytes is too short", data.size());
    const auto item = load<ChunkItem>(data, 0);
    Chunk c;
    c.logical = key.offset;
    c.length = item.length.value();
    c.type = item.type.value();
    c.sub_stripes = item.sub_stripes.value();
    const std::uint64_t n = item.num_stripes.value(), ss = sb.sectorsize.value();
    auto bad = [&](std::string what) {
        return failf(Errc::corrupt, where, "chunk at logical {}: {}", c.logical, what);
    };
    if (n == 0) return bad("num_stripes is 0");
    if (data.size() != sizeof(ChunkItem) + n * sizeof(ChunkStripe))
        return bad(fmt::format("{} stripes do not fit an item of {} bytes", n, data.size()));
    if (c.length == 0 || c.length % ss != 0 || c.logical % ss != 0 || c.logical + c.length < c.logical)
        return bad(fmt::format("length {} invalid", c.length));
    if (item.stripe_len.value() != kStripeLen)
        return bad(fmt::format("stripe_len {} is not {}", item.stripe_len.value(), kStripeLen));
    const std::uint64_t profile = c.type & kBgProfileMask;
    if ((c.type & kBgTypeMask) == 0 || (c.type & ~(kBgTypeMask | kBgProfileMask)) ||
        std::popcount(profile) > 1)
        return bad(fmt::format("type {:#x} invalid", c.type));
    if ((c.type & kBgData) && (c.type & kBgMetadata) &&
        !(sb.incompat_flags.value() & kIncompatMixedGroups))
        return bad("mixed data and metadata without the mixed-groups feature");
    const bool stripes_ok =
        profile == kBgRaid10 ? (c.sub_stripes == 2 && n >= 2 && n % 2 == 0)
        : profile == kBgRaid1 || profile == kBgDup ? n == 2
        : profile == kBgRaid1C3 ? n == 3
        : profile == kBgRaid1C4 ? n == 4
        : profile == kBgRaid5 ? n >= 2
        : profile == kBgRaid6 ? n >= 3
        : profile == kBgRaid0 ? true
        : n == 1;
    if (!stripes_ok) return bad(fmt::format("{} stripes do not suit type {:#x}", n, c.type));
    if (profile != kBgRaid10) c.sub_stripes = 1;
    c.where = where;
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto s = load<ChunkStripe>(data, sizeof(ChunkItem) + i * sizeof(ChunkStripe));
        c.stripes.push_back({s.devid.value(), s.offset.value()});
    }
    return c;
}

/// btrfs_read_sys_array: the chunks that map the chunk tree itself.
Result<std::vector<Chunk>> read_sys_array(const Superblock& sb) {
    const auto array = std::as_bytes(std::span{sb.sys_chunk_array}).first(sb.sys_chunk_array_size.value());
    const std::uint64_t base = kSuperOffset + offsetof(Superblock, sys_chunk_array);
    std::vector<Chunk> chunks;
    std::size_t pos = 0;
    while (pos < array.size()) {
        const std::uint64_t where = base + pos;
        if (array.size() - pos < sizeof(DiskKey) + sizeof(ChunkItem))
            return failf(Errc::corrupt, where, "sys_chunk_array ends inside an entry");
        const Key key = to_key(load<DiskKey>(array, pos));
        if (key.type != kChunkItemKey)
            return failf(Errc::corrupt, where, "sys_chunk_array item of type {} is not a chunk", key.type);
        pos += sizeof(DiskKey);
        const std::uint64_t n = load<ChunkItem>(array, pos).num_stripes.value();
        const std::uint64_t len = sizeof(ChunkItem) + n * sizeof(ChunkStripe);
        if (n == 0 || len > array.size() - pos)
            return failf(Errc::corrupt, where, "sys_chunk_array entry with {} stripes runs past its end", n);
        VMDF_TRY_ASSIGN(Chunk c, decode_chunk(key, array.subspan(pos, len), sb, where));
        if (!(c.type & kBgSystem))
            return failf(Errc::corrupt, where, "sys_chunk_array chunk of type {:#x} is not a system chunk", c.type);
        chunks.push_back(std::move(c));
        pos += len;
    }
    return chunks;
}

/// A member device: a guest device whose superblock names this filesystem.
struct Member {
    const Device* device = nullptr;
    Superblock sb;
};

/// A device of the filesystem (DEV_ITEM), and where it is, if found.
struct FsDevice {
    std::uint64_t total_bytes = 0, bytes_used = 0;
    std::array<std::uint8_t, 16> uuid{};
    const Device* device = nullptr;  // nullptr: missing
};

/// Where a tree starts.
struct TreeRoot {
    std::uint64_t bytenr = 0, generation = 0, bytes_used = 0;
    unsigned level = 0;
};

/// A validated tree block.
struct Node {
    std::uint64_t logical = 0, generation = 0, physical = 0;
    unsigned level = 0;
    std::uint32_t nritems = 0;
    std::shared_ptr<const std::vector<std::byte>> bytes;

    std::span<const std::byte> raw() const { return *bytes; }
    Key key(std::uint32_t i) const {
        const std::size_t size = level == 0 ? sizeof(Item) : sizeof(KeyPtr);
        return to_key(load<DiskKey>(raw(), sizeof(Header) + i * size));
    }
    std::span<const std::byte> item(std::uint32_t i) const {
        const auto it = load<Item>(raw(), sizeof(Header) + i * sizeof(Item));
        return raw().subspan(sizeof(Header) + it.offset.value(), it.size.value());
    }
    /// Where item i's data is on the device it was read from (messages).
    std::uint64_t item_where(std::uint32_t i) const {
        return physical + sizeof(Header) + load<Item>(raw(), sizeof(Header) + i * sizeof(Item)).offset.value();
    }
    KeyPtr ptr(std::uint32_t i) const { return load<KeyPtr>(raw(), sizeof(Header) + i * sizeof(KeyPtr)); }
};

/// The filesystem's logical address space and its trees.
class Volume {
public:
    Volume(const Superblock& sb, std::map<std::uint64_t, Member> members, const Device& opened)
        : sb_(sb), members_(std::move(members)), opened_(opened),
          nodesize_(sb.nodesize.value()), sectorsize_(sb.sectorsize.value()) {
        const bool meta = sb.incompat_flags.value() & kIncompatMetadataUuid;
        std::memcpy(fsid_.data(), meta ? sb.metadata_uuid : sb.fsid, 16);
    }

    const Superblock& sb() const { return sb_; }
    const std::map<std::uint64_t, Chunk>& chunks() const { return chunks_; }
    const std::map<std::uint64_t, FsDevice>& devices() const { return devices_; }

    Status read_chunk_tree();
    Result<Node> read_node(std::uint64_t logical, unsigned level, std::uint64_t generation,
                           const Key* first_key, std::string_view tree);

    /// Calls visit(key, data, where) for every item of the tree, in key
    /// order; `where` is the item's byte offset on the device it was read from.
    template <class Visit>
    Status walk(const TreeRoot& root, std::string_view tree, Visit&& visit) {
        std::unordered_set<std::uint64_t> seen;
        return walk_node(root.bytenr, root.level, root.generation, nullptr, tree, seen, visit);
    }

    /// An item found by a search, copied out of its block.
    struct Found {
        Key key;
        std::vector<std::byte> data;
        std::uint64_t where;
    };
    /// The item with the greatest key <= `target` (btrfs_search_backwards).
    Result<std::optional<Found>> find_last_le(const TreeRoot& root, const Key& target,
                                              std::string_view tree);

private:
    struct Copy {
        const Device* device;
        std::uint64_t physical;
    };
    /// What the pointer to a block promised about it.
    struct Expected {
        unsigned level;
        std::uint64_t generation;  // 0: not known
        const Key* first_key;      // nullptr: not known
    };
    Result<std::vector<Copy>> map(std::uint64_t logical, std::uint64_t length) const;
    Result<Node> load_node(std::uint64_t logical, const Expected& want, std::string_view tree);
    static Status check_expected(const Node& node, const Expected& want, std::string_view tree);
    Status add_chunk(Chunk chunk, std::uint64_t where);

    template <class Visit>
    Status walk_node(std::uint64_t logical, unsigned level, std::uint64_t generation,
                     const Key* first_key, std::string_view tree,
                     std::unordered_set<std::uint64_t>& seen, Visit& visit) {
        if (!seen.insert(logical).second)
            return failf(Errc::corrupt, std::nullopt,
                         "{} tree: block {} is referenced twice (a loop)", tree, logical);
        VMDF_TRY_ASSIGN(const Node node, read_node(logical, level, generation, first_key, tree));
        for (std::uint32_t i = 0; i < node.nritems; ++i) {
            const Key key = node.key(i);
            if (level == 0) {
                VMDF_TRY(visit(key, node.item(i), node.item_where(i)));
            } else {
                const KeyPtr p = node.ptr(i);
                VMDF_TRY(walk_node(p.blockptr.value(), level - 1, p.generation.value(), &key, tree,
                                   seen, visit));
            }
        }
        return {};
    }

    Superblock sb_;
    std::map<std::uint64_t, Member> members_;  // by devid
    const Device& opened_;
    std::uint64_t nodesize_, sectorsize_;
    std::array<std::uint8_t, 16> fsid_{};
    std::map<std::uint64_t, Chunk> chunks_;       // by logical start
    std::map<std::uint64_t, FsDevice> devices_;   // by devid
    std::map<std::uint64_t, Node> cache_;         // internal nodes, by logical
    std::uint64_t reads_left_ = kMaxTreeBlocks;
};

Status Volume::add_chunk(Chunk chunk, std::uint64_t where) {
    auto next = chunks_.lower_bound(chunk.logical);
    if (next != chunks_.end() && next->first == chunk.logical && next->second.length == chunk.length)
        return {};  // a system chunk, already known from the sys_chunk_array
    const bool overlaps_next = next != chunks_.end() && next->first < chunk.logical + chunk.length;
    const bool overlaps_prev = next != chunks_.begin() &&
                               std::prev(next)->first + std::prev(next)->second.length > chunk.logical;
    if (overlaps_next || overlaps_prev)
        return failf(Errc::corrupt, where, "chunk at logical {} overlaps another", chunk.logical);
    chunks_.emplace(chunk.logical, std::move(chunk));
    return {};
}

/// Where the bytes [logical, logical + length) are stored, one entry per
/// copy on a present device (btrfs_map_block for a read).
Result<std::vector<Volume::Copy>> Volume::map(std::uint64_t logical, std::uint64_t length) const {
    auto it = chunks_.upper_bound(logical);
    if (it == chunks_.begin() || logical - std::prev(it)->first >= std::prev(it)->second.length ||
        length > std::prev(it)->second.length - (logical - std::prev(it)->first))
        return failf(Errc::corrupt, std::nullopt, "logical {} is not mapped by any chunk", logical);
    const Chunk& c = std::prev(it)->second;
    const std::uint64_t off = logical - c.logical, n = c.stripes.size();
    std::vector<std::pair<std::size_t, std::uint64_t>> where;  // stripe index, physical
    const std::uint64_t profile = c.type & kBgProfileMask;
    if (profile & (kBgRaid0 | kBgRaid10 | kBgRaid5 | kBgRaid6)) {
        const std::uint64_t nr = off / kStripeLen, in = off % kStripeLen;
        if (length > kStripeLen - in)
            return failf(Errc::corrupt, std::nullopt, "block at logical {} crosses a stripe boundary", logical);
        if (profile == kBgRaid0) {
            where.emplace_back(nr % n, nr / n * kStripeLen + in);
        } else if (profile == kBgRaid10) {
            const std::uint64_t groups = n / c.sub_stripes;
            for (unsigned m = 0; m < c.sub_stripes; ++m)
                where.emplace_back(nr % groups * c.sub_stripes + m, nr / groups * kStripeLen + in);
        } else {  // the data stripe, rotated by the full-stripe number
            const std::uint64_t data = n - c.raid().nparity, row = nr / data;
            where.emplace_back((nr % data + row) % n, row * kStripeLen + in);
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) where.emplace_back(i, off);
    }
    std::vector<Copy> copies;
    for (const auto& [index, delta] : where) {
        const Stripe& s = c.stripes[index];
        auto m = members_.find(s.devid);
        if (m != members_.end()) copies.push_back({m->second.device, s.offset + delta});
    }
    if (copies.empty()) {
        std::vector<std::uint64_t> devids;
        for (const auto& [index, delta] : where) devids.push_back(c.stripes[index].devid);
        return failf(Errc::corrupt, std::nullopt,
                     "logical {} lies only on devid {}, not found among the guest's disks",
                     logical, fmt::join(devids, ", "));
    }
    return copies;
}

/// Reads and checks a tree block, trying each copy until one is good (as
/// the kernel tries other mirrors).
/// btrfs_verify_level_key and verify_parent_transid.
Status Volume::check_expected(const Node& node, const Expected& want, std::string_view tree) {
    auto bad = [&](std::string what) {
        return failf(Errc::corrupt, node.physical, "{} tree block at logical {}: {}", tree, node.logical, what);
    };
    if (node.level != want.level)
        return bad(fmt::format("level {} where {} was expected", node.level, want.level));
    if (want.generation != 0 && node.generation != want.generation)
        return bad(fmt::format("generation {} where {} was expected", node.generation, want.generation));
    if (want.first_key && (node.nritems == 0 || node.key(0) != *want.first_key))
        return bad("first key differs from its parent's pointer");
    return {};
}

Result<Node> Volume::load_node(std::uint64_t logical, const Expected& want, std::string_view tree) {
    if (reads_left_ == 0)
        return failf(Errc::unsupported, std::nullopt, "more than {} tree blocks to read", kMaxTreeBlocks);
    --reads_left_;
    VMDF_TRY_ASSIGN(const auto copies, map(logical, nodesize_));
    std::optional<Error> first_error;
    for (const Copy& copy : copies) {
        auto bytes = std::make_shared<std::vector<std::byte>>(nodesize_);
        auto bad = [&](std::size_t field, std::string what) {
            const std::string on = copy.device == &opened_ ? "" : " on " + copy.device->name();
            return Error{Errc::corrupt,
                         fmt::format("{} tree block at logical {}{}: {}", tree, logical, on, what),
                         copy.physical + field, {}};
        };
        auto check = [&]() -> Result<Node> {
            VMDF_TRY(copy.device->read(copy.physical, *bytes));
            const std::span<const std::byte> raw = *bytes;
            const auto h = load<Header>(raw, 0);
            if (!csum_matches(sb_.csum_type.value(), raw))
                return Failure{bad(offsetof(Header, csum), "checksum mismatch")};
            if (h.bytenr.value() != logical)
                return Failure{bad(offsetof(Header, bytenr), fmt::format("header bytenr {}", h.bytenr.value()))};
            if (std::memcmp(h.fsid, fsid_.data(), 16) != 0)
                return Failure{bad(offsetof(Header, fsid), "fsid of another filesystem")};
            Node node{logical, h.generation.value(), copy.physical, h.level, h.nritems.value(), bytes};
            const std::uint64_t space = nodesize_ - sizeof(Header);
            if (node.level >= kMaxLevel)
                return Failure{bad(offsetof(Header, level), fmt::format("level {} out of range", node.level))};
            const std::uint64_t slot = node.level == 0 ? sizeof(Item) : sizeof(KeyPtr);
            if (std::uint64_t{node.nritems} > space / slot || (node.level > 0 && node.nritems == 0))
                return Failure{bad(offsetof(Header, nritems), fmt::format("{} items do not fit", node.nritems))};
            // check_leaf / check_node: keys ascending; leaf data packed from
            // the end of the block down, clear of the item array.
            std::uint64_t data_end = space;
            for (std::uint32_t i = 0; i < node.nritems; ++i) {
                const std::size_t at = sizeof(Header) + i * slot;
                if (i > 0 && !(node.key(i - 1) < node.key(i)))
                    return Failure{bad(at, fmt::format("key of slot {} out of order", i))};
                if (node.level > 0) {
                    const std::uint64_t child = node.ptr(i).blockptr.value();
                    if (child == 0 || child % sectorsize_ != 0)
                        return Failure{bad(at + offsetof(KeyPtr, blockptr), fmt::format("bad child pointer {}", child))};
                    continue;
                }
                const auto it = load<Item>(raw, at);
                const std::uint64_t off = it.offset.value(), size = it.size.value();
                if (off + size != data_end || off < std::uint64_t{node.nritems} * sizeof(Item))
                    return Failure{bad(at + offsetof(Item, offset),
                                       fmt::format("item {} data at {} size {} out of place", i, off, size))};
                data_end = off;
            }
            VMDF_TRY(check_expected(node, want, tree));
            return node;
        };
        auto node = check();
        if (node) return node;
        if (!first_error) first_error = std::move(node).error();
    }
    return fail(std::move(*first_error));
}

Result<Node> Volume::read_node(std::uint64_t logical, unsigned level, std::uint64_t generation,
                               const Key* first_key, std::string_view tree) {
    const Expected want{level, generation, first_key};
    if (auto hit = cache_.find(logical); hit != cache_.end()) {
        VMDF_TRY(check_expected(hit->second, want, tree));
        return hit->second;
    }
    VMDF_TRY_ASSIGN(Node node, load_node(logical, want, tree));
    if (node.level > 0) {  // internal nodes are few, and searched again and again
        if (cache_.size() >= kNodeCacheEntries) cache_.clear();
        cache_.emplace(logical, node);
    }
    return node;
}

Result<std::optional<Volume::Found>> Volume::find_last_le(const TreeRoot& root, const Key& target,
                                                         std::string_view tree) {
    std::uint64_t logical = root.bytenr, generation = root.generation;
    std::optional<Key> first;
    for (unsigned level = root.level;; --level) {
        VMDF_TRY_ASSIGN(const Node node, read_node(logical, level, generation, first ? &*first : nullptr, tree));
        // The first slot whose key is past the target (keys were checked
        // to ascend); the one before it is the one wanted.
        std::uint32_t lo = 0, hi = node.nritems;
        while (lo < hi) {
            const std::uint32_t mid = lo + (hi - lo) / 2;
            if (target < node.key(mid)) hi = mid;
            else lo = mid + 1;
        }
        const bool found = lo > 0;
        const std::uint32_t slot = found ? lo - 1 : 0;
        if (level == 0) {
            if (!found) return std::optional<Found>{};
            const auto data = node.item(slot);
            return std::optional{Found{node.key(slot), std::vector<std::byte>(data.begin(), data.end()),
                                       node.item_where(slot)}};
        }
        first = node.key(slot);
        logical = node.ptr(slot).blockptr.value();
        generation = node.ptr(slot).generation.value();
    }
}

/// btrfs_read_chunk_tree: the devices and every chunk, then the checks the
/// kernel makes on them before mounting.
Status Volume::read_chunk_tree() {
    VMDF_TRY_ASSIGN(auto sys_chunks, read_sys_array(sb_));
    for (Chunk& c : sys_chunks) VMDF_TRY(add_chunk(std::move(c), kSuperOffset + offsetof(Superblock, sys_chunk_array)));
    const TreeRoot root{sb_.chunk_root.value(), sb_.chunk_root_generation.value(), 0, sb_.chunk_root_level};
    VMDF_TRY(walk(root, "chunk", [&](const Key& key, std::span<const std::byte> data, std::uint64_t where) -> Status {
        if (key.type == kDevItemKey && key.objectid == kDevItemsId) {
            if (data.size() != sizeof(DevItem))
                return failf(Errc::corrupt, where, "dev item of {} bytes", data.size());
            const auto d = load<DevItem>(data, 0);
            if (d.devid.value() != key.offset || d.bytes_used.value() > d.total_bytes.value())
                return failf(Errc::corrupt, where, "dev item {}: devid {}, {} of {} bytes used", key.offset,
                             d.devid.value(), d.bytes_used.value(), d.total_bytes.value());
            if (std::memcmp(d.fsid, sb_.fsid, 16) != 0 && std::memcmp(d.fsid, fsid_.data(), 16) != 0)
                return fail(Errc::unsupported, "a seed device: not supported");
            FsDevice& dev = devices_[key.offset];
            dev.total_bytes = d.total_bytes.value();
            dev.bytes_used = d.bytes_used.value();
            std::memcpy(dev.uuid.data(), d.uuid, 16);
        } else if (key.type == kChunkItemKey) {
            VMDF_TRY_ASSIGN(Chunk c, decode_chunk(key, data, sb_, where));
            VMDF_TRY(add_chunk(std::move(c), where));
        }
        return {};
    }));

    // Members are the devices whose superblock carries the dev item's uuid.
    std::uint64_t sum = 0;
    for (auto& [devid, dev] : devices_) {
        sum += dev.total_bytes;
        auto m = members_.find(devid);
        if (m == members_.end()) continue;
        if (std::memcmp(m->second.sb.dev_item.uuid, dev.uuid.data(), 16) != 0) {
            members_.erase(m);
            continue;
        }
        dev.device = m->second.device;
        if (dev.total_bytes > dev.device->size())
            return failf(Errc::truncated, std::nullopt,
                         "devid {}: total_bytes {} exceeds the size of {} ({} bytes)", devid,
                         dev.total_bytes, dev.device->name(), dev.device->size());
    }
    std::erase_if(members_, [&](const auto& m) { return !devices_.contains(m.first); });
    if (sum > sb_.total_bytes.value())
        return failf(Errc::corrupt, kSuperOffset + offsetof(Superblock, total_bytes),
                     "total_bytes {} is less than the devices' {}", sb_.total_bytes.value(), sum);
    for (const auto& [logical, c] : chunks_) {
        for (const Stripe& s : c.stripes) {
            auto d = devices_.find(s.devid);
            if (d == devices_.end())
                return failf(Errc::corrupt, c.where, "chunk at logical {}: stripe on devid {}, which has no dev item",
                             logical, s.devid);
            if (s.offset > d->second.total_bytes || c.stripe_size() > d->second.total_bytes - s.offset)
                return failf(Errc::corrupt, c.where,
                             "chunk at logical {}: stripe at {} runs past the end of devid {} ({} bytes)",
                             logical, s.offset, s.devid, d->second.total_bytes);
        }
    }
    return {};
}

/// What the root tree says: the global trees, the subvolumes and their
/// names, and the default subvolume.
struct RootTreeInfo {
    std::map<std::uint64_t, TreeRoot> roots;  // by tree id
    struct Ref {
        std::uint64_t parent, dirid;
        std::string name;
    };
    std::map<std::uint64_t, Ref> backrefs;    // by subvolume id
    std::uint64_t default_subvol = kFsTreeId;
};

Result<RootTreeInfo> read_root_tree(Volume& vol) {
    RootTreeInfo info;
    const Superblock& sb = vol.sb();
    const TreeRoot root{sb.root.value(), sb.generation.value(), 0, sb.root_level};
    const std::uint64_t root_dir = sb.root_dir_objectid.value();
    VMDF_TRY(vol.walk(root, "root", [&](const Key& key, std::span<const std::byte> data, std::uint64_t where) -> Status {
        if (key.type == kRootItemKey) {
            if (data.size() < sizeof(RootItem))
                return failf(Errc::corrupt, where, "root item {} of {} bytes", key.objectid, data.size());
            const auto r = load<RootItem>(data, 0);
            if (r.level >= kMaxLevel || r.bytenr.value() % sb.sectorsize.value() != 0)
                return failf(Errc::corrupt, where, "root item {}: level {}, bytenr {}", key.objectid, r.level,
                             r.bytenr.value());
            info.roots[key.objectid] = {r.bytenr.value(), r.generation.value(), r.bytes_used.value(), r.level};
        } else if (key.type == kRootBackrefKey) {
            const auto ref = load<RootRef>(data, 0);
            if (data.size() < sizeof ref || data.size() - sizeof ref < ref.name_len.value())
                return failf(Errc::corrupt, where, "root backref of {} bytes", data.size());
            const auto name = data.subspan(sizeof ref, ref.name_len.value());
            info.backrefs[key.objectid] = {key.offset, ref.dirid.value(),
                                           std::string(reinterpret_cast<const char*>(name.data()), name.size())};
        } else if (key.type == kDirItemKey && key.objectid == root_dir) {
            // The "default" entry under the root tree's directory names
            // the subvolume a plain mount shows (get_default_subvol_objectid).
            for (std::size_t pos = 0; data.size() - pos >= sizeof(DirItem);) {
                const auto d = load<DirItem>(data, pos);
                const std::size_t len = sizeof(DirItem) + d.name_len.value() + d.data_len.value();
                if (len > data.size() - pos) break;
                const auto name = data.subspan(pos + sizeof(DirItem), d.name_len.value());
                if (std::string_view(reinterpret_cast<const char*>(name.data()), name.size()) == "default")
                    info.default_subvol = d.location.objectid.value();
                pos += len;
            }
        }
        return {};
    }));
    return info;
}

/// btrfs_read_block_groups: the block group item of every chunk, from the
/// block group tree or the extent tree, as the kernel requires one each.
Result<std::vector<BlockGroupSpace>> read_block_groups(Volume& vol, const RootTreeInfo& info,
                                                       bool writable) {
    const bool bgt = vol.sb().compat_ro_flags.value() & kCompatRoBlockGroupTree;
    const std::uint64_t tree_id = bgt ? kBlockGroupTreeId : kExtentTreeId;
    const std::string_view tree = bgt ? "block group"sv : "extent"sv;
    auto root = info.roots.find(tree_id);
    if (root == info.roots.end())
        return failf(Errc::corrupt, std::nullopt, "no {} tree", tree);
    std::vector<BlockGroupSpace> groups;
    for (const auto& [logical, c] : vol.chunks()) {
        const Key want{logical, kBlockGroupItemKey, c.length};
        VMDF_TRY_ASSIGN(const auto found, vol.find_last_le(root->second, want, tree));
        if (!found || found->key != want)
            return failf(Errc::corrupt, c.where, "chunk at logical {} has no block group", logical);
        if (found->data.size() != sizeof(BlockGroupItem))
            return failf(Errc::corrupt, found->where, "block group item of {} bytes", found->data.size());
        const auto bg = load<BlockGroupItem>(found->data, 0);
        const std::uint64_t mask = kBgTypeMask | kBgProfileMask;
        if ((bg.flags.value() & mask) != (c.type & mask) || bg.used.value() > c.length)
            return failf(Errc::corrupt, found->where,
                         "block group at logical {}: flags {:#x} (chunk {:#x}), used {} of {}", logical,
                         bg.flags.value(), c.type, bg.used.value(), c.length);
        // btrfs_chunk_writeable: no stripe on a read-only device, and no
        // more missing than the profile tolerates.
        bool ok = writable;
        unsigned missing = 0;
        for (const Stripe& s : c.stripes) {
            auto d = vol.devices().find(s.devid);
            if (d == vol.devices().end() || !d->second.device) ++missing;
        }
        if (missing > c.raid().tolerated_failures) ok = false;
        groups.push_back({c.length, bg.used.value(), c.type, ok});
    }
    return groups;
}

/// The path of directory `dirid` inside subvolume `tree_id`, ending in "/"
/// ("" for its top), as BTRFS_IOC_INO_LOOKUP builds it from INODE_REFs.
Result<std::optional<std::string>> dir_path(Volume& vol, const RootTreeInfo& info,
                                            std::uint64_t tree_id, std::uint64_t dirid) {
    if (dirid == kFirstFreeId) return std::optional<std::string>{""};
    auto root = info.roots.find(tree_id);
    if (root == info.roots.end()) return std::optional<std::string>{};
    std::string path;
    for (std::uint64_t ino = dirid; path.size() <= kMaxSubvolPath;) {
        VMDF_TRY_ASSIGN(const auto ref, vol.find_last_le(root->second, {ino, kInodeRefKey, ~std::uint64_t{0}}, "fs"));
        if (!ref || ref->key.objectid != ino || ref->key.type != kInodeRefKey ||
            ref->data.size() < sizeof(InodeRef))
            return std::optional<std::string>{};
        const auto r = load<InodeRef>(ref->data, 0);
        const std::size_t len = std::min<std::size_t>(r.name_len.value(), ref->data.size() - sizeof r);
        path.insert(0, std::string(reinterpret_cast<const char*>(ref->data.data()) + sizeof r, len) + "/");
        if (ref->key.offset == kFirstFreeId) return std::optional{path};
        ino = ref->key.offset;
    }
    return std::optional<std::string>{};
}

using SubvolPaths = std::map<std::uint64_t, std::optional<std::string>>;  // nullopt: not listed

/// resolve_root of btrfs-progs for every subvolume: its path within its
/// parent, preceded by the parent's, up to the top level or `top`.
SubvolPaths resolve_paths(const SubvolPaths& own, const RootTreeInfo& info, std::uint64_t top) {
    SubvolPaths full;
    for (const auto& [id, path] : own) {
        // Climb to a subvolume already resolved or to the top, then come
        // back down; a loop or a missing parent leaves the chain unlisted.
        std::vector<std::uint64_t> chain;
        std::optional<std::string> base{""};
        for (std::uint64_t cur = id;;) {
            if (auto done = full.find(cur); done != full.end()) {
                base = done->second;
                break;
            }
            auto it = own.find(cur);
            if (it == own.end() || !it->second ||
                std::find(chain.begin(), chain.end(), cur) != chain.end() || chain.size() > kMaxLevel * 64) {
                base.reset();
                break;
            }
            chain.push_back(cur);
            const std::uint64_t next = info.backrefs.at(cur).parent;
            if (next == top || next == kFsTreeId) break;
            cur = next;
        }
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            const std::string& mine = *own.at(*it);
            if (base && base->size() + mine.size() < kMaxSubvolPath)
                base = base->empty() ? mine : *base + "/" + mine;
            else
                base.reset();
            full[*it] = base;
        }
    }
    return full;
}

/// The subvolumes libguestfs lists besides the default one: `btrfs
/// subvolume list` (btrfs-progs: by id, each path resolved up to the top
/// level or to the default subvolume, deleted ones left out), minus those
/// whose path a "subvol=" mount would not find from the top level.
Result<std::vector<std::string>> list_subvolumes(Volume& vol, const RootTreeInfo& info,
                                                 std::vector<std::string>& warnings) {
    SubvolPaths own;  // path within its parent
    for (const auto& [id, ref] : info.backrefs) {
        if (id < kFirstFreeId || id > kLastFreeId) continue;
        if (own.size() == kMaxSubvolumes) {
            warnings.push_back(fmt::format("more than {} subvolumes: the rest are not listed", kMaxSubvolumes));
            break;
        }
        // A subvolume whose directory cannot be read is left out (btrfs
        // subvolume list would fail); the figures do not depend on it.
        auto dir = dir_path(vol, info, ref.parent, ref.dirid);
        if (!dir) {
            warnings.push_back(fmt::format("subvolume {} not listed: {}", id, dir.error().to_string()));
            own[id] = std::nullopt;
            continue;
        }
        if (*dir) **dir += ref.name;
        own[id] = std::move(*dir);
    }
    const SubvolPaths listed = resolve_paths(own, info, info.default_subvol);
    std::set<std::string> from_top;
    if (info.default_subvol != kFsTreeId)
        for (const auto& [id, path] : resolve_paths(own, info, kFsTreeId))
            if (path) from_top.insert(*path);
    std::vector<std::string> list;
    for (const auto& [id, path] : listed)
        if (id != info.default_subvol && path &&
            (info.default_subvol == kFsTreeId || from_top.contains(*path)))
            list.push_back(*path);
    return list;
}

Result<Score> probe(const Device& dev) {
    std::array<std::byte, 8> magic{};
    if (dev.size() < kSuperOffset + kSuperSize) return kNotMine;
    VMDF_TRY(dev.read(kSuperOffset + offsetof(Superblock, magic), magic));
    return std::memcmp(magic.data(), "_BHRfS_M", 8) == 0 ? kCertain : kNotMine;
}

/// The members of the filesystem whose superblock is `sb`, among the
/// guest's devices: same fsid, valid superblock; for a devid found twice,
/// the copy with the newer generation (as device scanning keeps it).
std::map<std::uint64_t, Member> find_members(const Device& dev, const Superblock& sb,
                                             std::span<const NamedDevice> guest_devices) {
    std::map<std::uint64_t, Member> members;
    members[sb.dev_item.devid.value()] = {&dev, sb};
    for (const NamedDevice& nd : guest_devices) {
        if (nd.device.get() == &dev || nd.device->size() < kSuperOffset + kSuperSize) continue;
        auto other = read_struct<Superblock>(*nd.device, kSuperOffset);
        if (!other || std::memcmp(other->fsid, sb.fsid, 16) != 0 || !validate_super(*other)) continue;
        const std::uint64_t devid = other->dev_item.devid.value();
        auto [it, fresh] = members.try_emplace(devid, Member{nd.device.get(), *other});
        if (!fresh && it->second.device != &dev &&
            other->generation.value() > it->second.sb.generation.value())
            it->second = {nd.device.get(), *other};
    }
    return members;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext& context) {
    VMDF_TRY_ASSIGN(const Superblock own, read_struct<Superblock>(dev, kSuperOffset));
    VMDF_TRY(validate_super(own));
    auto members = find_members(dev, own, context.guest_devices);
    // The kernel reads the superblock of the member with the newest generation.
    Superblock newest = own;
    for (const auto& [devid, m] : members)
        if (m.sb.generation.value() > newest.generation.value()) newest = m.sb;
    Volume vol(newest, std::move(members), dev);
    const Superblock& sb = vol.sb();
    VMDF_TRY(vol.read_chunk_tree());
    VMDF_TRY_ASSIGN(const RootTreeInfo info, read_root_tree(vol));
    // Whether the kernel could write to the devices. On read-only block
    // devices every block group is read-only (btrfs_chunk_writeable) and no
    // device counts for the allocator (rw_devices 0), so f_bavail leaves out
    // the free space inside data chunks. libguestfs mounts read-only, but
    // on writable qcow2 overlays, and so does df in a running guest: the
    // devices are writable in both modes, and the figures are the same.
    const bool writable = true;
    VMDF_TRY_ASSIGN(auto groups, read_block_groups(vol, info, writable));

    SpaceModel model;
    model.total_bytes = sb.total_bytes.value();
    model.sectorsize = sb.sectorsize.value();
    model.nodesize = sb.nodesize.value();
    model.free_space_tree = sb.compat_ro_flags.value() & kCompatRoFreeSpaceTree;
    model.block_groups = std::move(groups);
    // The global reserve counts the extent, csum and free-space trees, and
    // the block group tree; the tree root's own count is 0 after a mount.
    std::vector<std::uint64_t> global = {kExtentTreeId, kCsumTreeId};
    if (model.free_space_tree) global.push_back(kFreeSpaceTreeId);
    if (sb.compat_ro_flags.value() & kCompatRoBlockGroupTree) global.push_back(kBlockGroupTreeId);
    for (std::uint64_t id : global) {
        auto r = info.roots.find(id);
        if (r == info.roots.end()) return failf(Errc::corrupt, std::nullopt, "no root item for tree {}", id);
        // The mount reads each global root (btrfs_read_roots) and fails on a bad one.
        VMDF_TRY(vol.read_node(r->second.bytenr, r->second.level, r->second.generation, nullptr,
                               fmt::format("tree {}", id)));
        model.global_roots_used += r->second.bytes_used;
        ++model.global_roots;
    }
    Filesystem fs;
    fs.type = "btrfs";
    std::vector<std::uint64_t> missing;
    for (const auto& [devid, d] : vol.devices()) {
        model.devices.push_back({d.total_bytes, d.bytes_used, d.device != nullptr,
                                 d.device != nullptr && writable});
        if (!d.device) missing.push_back(devid);
    }
    fs.stat = compute_statfs(model);
    VMDF_TRY_ASSIGN(fs.subvolumes, list_subvolumes(vol, info, fs.warnings));

    if (!missing.empty())
        fs.warnings.push_back(fmt::format(
            "devid {} of {} devices not found among the guest's disks: the kernel mounts this only "
            "with -o degraded; the figures are those of a degraded mount",
            fmt::join(missing, ", "), vol.devices().size()));
    if (sb.log_root.value() != 0)
        fs.warnings.push_back("the log tree needs replay: the figures may be stale");
    if (model.sectorsize > kMinSectorSize)
        fs.warnings.push_back(fmt::format(
            "{}-byte sectors are larger than a 4 KiB page: kernels with 4 KiB pages (x86_64, "
            "checked up to 6.18) refuse to mount this; the figures are btrfs_statfs's where it mounts",
            model.sectorsize));
    return fs;
}

constexpr Magic kMagics[] = {{kSuperOffset + 0x40, "_BHRfS_M"sv}};

}  // namespace
}  // namespace vmdf::btrfs

namespace vmdf {
constexpr FilesystemPlugin btrfs_plugin{"btrfs", btrfs::kMagics, btrfs::probe, btrfs::open};
}
