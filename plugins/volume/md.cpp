// SPDX-License-Identifier: GPL-2.0-or-later
// Linux MD RAID arrays with native metadata (include/uapi/linux/raid/md_p.h):
// the 0.90 superblock (host byte order: little-endian here, as on the x86
// machines that write nearly all of them) near the end of each member, and
// the 1.x superblock at the end (1.0), at the start (1.1) or 4 KiB in (1.2).
// Members are checked as super_90_load/super_1_load in drivers/md/md.c
// check them, grouped by set UUID and assembled as mdadm does; RAID1 is
// read from one in-sync member, RAID0 (one zone) and linear through their
// chunk arithmetic (raid0.c, md-linear.c). Other levels are named but not
// read. Arrays are named as the libguestfs appliance names a guest's
// (foreign) arrays: /dev/md127 downwards.
#include "plugins/volume/md.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/endian/buffers.hpp>
#include <boost/endian/conversion.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::md {
namespace {

namespace be = boost::endian;

constexpr std::uint32_t kMagic = 0xa92b4efc;      // MD_SB_MAGIC
constexpr std::uint64_t kSector = 512;
constexpr std::uint64_t kSbBytes = 4096;          // what the kernel reads
constexpr std::uint64_t kReservedBytes = 64 * 1024;  // MD_RESERVED_BYTES (0.90)
constexpr unsigned kDisks090 = 27;                // MD_SB_DISKS
constexpr std::uint32_t kMaxDev1 = (4096 - 256) / 2;  // super_1_load's limit
/// MD_FEATURE_ALL of Linux 6.1: bitmap, recovery offset, reshape, bad
/// blocks, replacement, backwards reshape, new offset, recovery bitmap,
/// clustered, journal, PPL, multiple PPLs, RAID0 layout.
constexpr std::uint32_t kFeatureAll = 0x1FFF;
constexpr std::uint32_t kFeatureRecoveryOffset = 2, kFeatureReshapeActive = 4;
constexpr std::uint16_t kRoleMax = 0xff00;        // MD_DISK_ROLE_MAX
constexpr int kLevelLinear = -1, kLevelRaid0 = 0, kLevelRaid1 = 1;
/// 0.90 disk state bits (MD_DISK_*).
constexpr std::uint32_t kDiskFaulty = 1u << 0, kDiskActive = 1u << 1, kDiskSync = 1u << 2;
/// The first name find_free_devnm hands out, counting down (then from 511);
/// md minors stop at 512.
constexpr unsigned kFirstMinor = 127;
constexpr std::size_t kMaxArrays = 512;

// mdp_superblock_1: the first 256 bytes, then dev_roles[max_dev] (le16).
struct SuperblockV1 {
    be::little_uint32_buf_t magic;              // 0
    be::little_uint32_buf_t major_version;      // 4: 1
    be::little_uint32_buf_t feature_map;        // 8
    be::little_uint32_buf_t pad0;               // 12
    std::uint8_t set_uuid[16];                  // 16
    char set_name[32];                          // 32: "host:name"
    be::little_uint64_buf_t ctime;              // 64
    be::little_int32_buf_t level;               // 72: -1 linear, 0, 1, 4, 5, 6, 10
    be::little_uint32_buf_t layout;             // 76
    be::little_uint64_buf_t size;               // 80: sectors used on each member
    be::little_uint32_buf_t chunksize;          // 88: sectors
    be::little_uint32_buf_t raid_disks;         // 92
    be::little_uint32_buf_t bitmap_offset;      // 96
    be::little_uint32_buf_t new_level;          // 100
    be::little_uint64_buf_t reshape_position;   // 104
    be::little_uint32_buf_t delta_disks;        // 112
    be::little_uint32_buf_t new_layout;         // 116
    be::little_uint32_buf_t new_chunk;          // 120
    be::little_uint32_buf_t new_offset;         // 124
    be::little_uint64_buf_t data_offset;        // 128: sectors
    be::little_uint64_buf_t data_size;          // 136: sectors
    be::little_uint64_buf_t super_offset;       // 144: sectors
    be::little_uint64_buf_t recovery_offset;    // 152
    be::little_uint32_buf_t dev_number;         // 160: index into dev_roles
    be::little_uint32_buf_t cnt_corrected_read; // 164
    std::uint8_t device_uuid[16];               // 168
    std::uint8_t devflags;                      // 184
    std::uint8_t bblog_shift;                   // 185
    be::little_uint16_buf_t bblog_size;         // 186
    be::little_uint32_buf_t bblog_offset;       // 188
    be::little_uint64_buf_t utime;              // 192
    be::little_uint64_buf_t events;             // 200
    be::little_uint64_buf_t resync_offset;      // 208: ~0 = in sync
    be::little_uint32_buf_t sb_csum;            // 216
    be::little_uint32_buf_t max_dev;            // 220
    std::uint8_t pad3[32];                      // 224
};
static_assert(sizeof(SuperblockV1) == 256);

// mdp_disk_t, 32 words.
struct Disk090 {
    be::little_uint32_buf_t number;     // 0
    be::little_uint32_buf_t major;      // 4
    be::little_uint32_buf_t minor;      // 8
    be::little_uint32_buf_t raid_disk;  // 12
    be::little_uint32_buf_t state;      // 16: kDisk* bits
    std::uint8_t reserved[108];
};
static_assert(sizeof(Disk090) == 128);

// mdp_super_t (4096 bytes), little-endian as an x86 kernel writes it.
struct Superblock090 {
    be::little_uint32_buf_t md_magic;       // 0
    be::little_uint32_buf_t major_version;  // 4: 0
    be::little_uint32_buf_t minor_version;  // 8: 90 (91: reshaping)
    be::little_uint32_buf_t patch_version;  // 12
    be::little_uint32_buf_t gvalid_words;   // 16
    be::little_uint32_buf_t set_uuid0;      // 20
    be::little_uint32_buf_t ctime;          // 24
    be::little_int32_buf_t level;           // 28
    be::little_uint32_buf_t size;           // 32: KiB used on each member
    be::little_uint32_buf_t nr_disks;       // 36
    be::little_uint32_buf_t raid_disks;     // 40
    be::little_uint32_buf_t md_minor;       // 44
    be::little_uint32_buf_t not_persistent; // 48
    be::little_uint32_buf_t set_uuid1;      // 52
    be::little_uint32_buf_t set_uuid2;      // 56
    be::little_uint32_buf_t set_uuid3;      // 60
    std::uint8_t gstate_creserved[64];      // 64
    be::little_uint32_buf_t utime;          // 128
    be::little_uint32_buf_t state;          // 132: bit 0 clean
    be::little_uint32_buf_t active_disks;   // 136
    be::little_uint32_buf_t working_disks;  // 140
    be::little_uint32_buf_t failed_disks;   // 144
    be::little_uint32_buf_t spare_disks;    // 148
    be::little_uint32_buf_t sb_csum;        // 152
    be::little_uint32_buf_t events_lo;      // 156
    be::little_uint32_buf_t events_hi;      // 160
    std::uint8_t gstate_rest[92];           // 164
    be::little_uint32_buf_t layout;         // 256
    be::little_uint32_buf_t chunk_size;     // 260: bytes
    std::uint8_t pstate_reserved[248];      // 264
    Disk090 disks[kDisks090];               // 512 (up to 3968: no reserved words left)
    Disk090 this_disk;                      // 3968
};
static_assert(sizeof(Superblock090) == kSbBytes);

/// One member's superblock, in the terms both versions share.
struct Member {
    DevicePtr dev;
    std::string version;                 // "0.90", "1.2"
    std::array<std::uint8_t, 16> uuid{};
    std::string set_name;                // 1.x only
    int level = 0;
    std::uint32_t layout = 0, raid_disks = 0;
    std::uint64_t chunk_sectors = 0;
    std::uint64_t dev_sectors = 0;       // the array's per-member size
    std::uint64_t data_offset = 0;       // sectors
    std::uint64_t data_sectors = 0;      // what the member holds (rdev->sectors)
    std::uint64_t events = 0;
    long role = -1;                      // >= 0: a slot; -1 spare; -2 faulty
    bool in_sync = true;                 // not being rebuilt
    bool clean = true;
    bool reshaping = false;
};

std::string uuid_string(const std::array<std::uint8_t, 16>& u) {
    // mdadm's --detail form: four groups of eight hex digits.
    std::string s;
    for (std::size_t i = 0; i < u.size(); ++i) {
        if (i > 0 && i % 4 == 0) s += ':';
        s += fmt::format("{:02x}", u[i]);
    }
    return s;
}

// --- Superblock parsing (pure: bytes -> Member) --------------------------------

/// calc_sb_1_csum: the le32 words of the first 256 + 2 * max_dev bytes
/// with sb_csum taken as 0, summed in 64 bits and folded once.
std::uint32_t csum_v1(std::span<const std::byte> sb, std::uint32_t max_dev) {
    std::uint64_t sum = 0;
    std::size_t size = 256 + 2 * std::size_t{max_dev};
    std::size_t at = 0;
    auto u8 = [&](std::size_t i) { return std::to_integer<std::uint64_t>(sb[i]); };
    for (; size >= 4; size -= 4, at += 4)
        if (at != 216) sum += u8(at) | u8(at + 1) << 8 | u8(at + 2) << 16 | u8(at + 3) << 24;
    if (size == 2) sum += u8(at) | u8(at + 1) << 8;
    return static_cast<std::uint32_t>((sum & 0xffffffff) + (sum >> 32));
}

/// super_1_load for the superblock read at `sb_start` sectors of a member
/// of `dev_sectors` sectors.
Result<Member> parse_v1(std::span<const std::byte> bytes, int minor, std::uint64_t sb_start,
                        std::uint64_t member_sectors) {
    const std::uint64_t at = sb_start * kSector;
    const ByteReader reader(bytes, at);
    VMDF_TRY_ASSIGN(auto sb, reader.at<SuperblockV1>(0));
    const std::uint32_t max_dev = sb.max_dev.value();
    if (max_dev > kMaxDev1)
        return failf(Errc::corrupt, at + 220, "superblock lists {} devices (at most {})", max_dev,
                     kMaxDev1);
    if (sb.super_offset.value() != sb_start)
        return failf(Errc::corrupt, at + 144, "superblock at sector {} says it is at sector {}",
                     sb_start, sb.super_offset.value());
    if (const std::uint32_t unknown = sb.feature_map.value() & ~kFeatureAll; unknown != 0)
        return failf(Errc::unsupported, at + 8, "superblock with unknown features {:#x}", unknown);
    const std::uint32_t csum = csum_v1(bytes, max_dev);
    if (csum != sb.sb_csum.value())
        return failf(Errc::corrupt, at + 216, "superblock checksum {:#010x}, computed {:#010x}",
                     sb.sb_csum.value(), csum);
    Member m;
    m.version = fmt::format("1.{}", minor);
    std::copy(std::begin(sb.set_uuid), std::end(sb.set_uuid), m.uuid.begin());
    m.set_name.assign(sb.set_name, strnlen(sb.set_name, sizeof sb.set_name));
    m.level = sb.level.value();
    m.layout = sb.layout.value();
    m.raid_disks = sb.raid_disks.value();
    // The kernel's max_disks for 1.x: one role per device the superblock can list.
    if (m.raid_disks == 0 || m.raid_disks > kMaxDev1)
        return failf(Errc::corrupt, at + 92, "raid_disks {} (1.x holds 1 to {})", m.raid_disks,
                     kMaxDev1);
    m.chunk_sectors = sb.chunksize.value();
    m.dev_sectors = sb.size.value();
    m.data_offset = sb.data_offset.value();
    m.data_sectors = sb.data_size.value();
    m.events = sb.events.value();
    m.clean = sb.resync_offset.value() == ~std::uint64_t{0};
    m.reshaping = (sb.feature_map.value() & kFeatureReshapeActive) != 0;
    if (m.data_sectors < 10)
        return failf(Errc::corrupt, at + 136, "data_size of {} sectors", m.data_sectors);
    // The superblock (rounded up to a sector) lies before the data on 1.1
    // and 1.2, after it on 1.0.
    const std::uint64_t sb_sectors = (256 + 2 * std::uint64_t{max_dev} + kSector - 1) / kSector;
    if (minor != 0 && m.data_offset < sb_start + sb_sectors)
        return failf(Errc::corrupt, at + 128, "data_offset {} overlaps the superblock",
                     m.data_offset);
    const std::uint64_t room =
        minor != 0 ? (m.data_offset <= member_sectors ? member_sectors - m.data_offset : 0)
                   : sb_start;
    if (room < m.data_sectors)
        return failf(Errc::corrupt, at + 136,
                     "data_size {} sectors at data_offset {} does not fit the member ({} sectors)",
                     m.data_sectors, m.data_offset, member_sectors);
    const std::uint32_t dev_number = sb.dev_number.value();
    if (dev_number < max_dev) {
        VMDF_TRY_ASSIGN(auto role, reader.at<be::little_uint16_buf_t>(256 + 2 * std::uint64_t{dev_number}));
        const std::uint16_t r = role.value();
        m.role = r < kRoleMax ? long{r} : r == 0xfffe ? -2 : -1;
    }
    if (sb.feature_map.value() & kFeatureRecoveryOffset)
        m.in_sync = sb.recovery_offset.value() >= m.dev_sectors;
    return m;
}

/// calc_sb_csum (0.90), compared as md_csum_fold compares it.
bool csum_090_ok(std::span<const std::byte> sb, std::uint32_t stored) {
    std::uint64_t sum = 0;
    for (std::size_t at = 0; at < kSbBytes; at += 4)
        if (at != 152)
            sum += be::load_little_u32(reinterpret_cast<const unsigned char*>(sb.data() + at));
    const auto fold = [](std::uint32_t c) {
        c = (c & 0xffff) + (c >> 16);
        return (c & 0xffff) + (c >> 16);
    };
    return fold(static_cast<std::uint32_t>((sum & 0xffffffff) + (sum >> 32))) == fold(stored);
}

/// super_90_load for the superblock at `sb_start` sectors.
Result<Member> parse_090(std::span<const std::byte> bytes, std::uint64_t sb_start) {
    const std::uint64_t at = sb_start * kSector;
    VMDF_TRY_ASSIGN(auto sb, ByteReader(bytes, at).at<Superblock090>(0));
    const std::uint32_t minor = sb.minor_version.value();
    if (minor != 90 && minor != 91)
        return failf(Errc::unsupported, at + 8, "superblock version 0.{}", minor);
    if (sb.raid_disks.value() == 0 || sb.raid_disks.value() > kDisks090)
        return failf(Errc::corrupt, at + 40, "raid_disks {} (0.90 holds 1 to {})",
                     sb.raid_disks.value(), kDisks090);
    if (!csum_090_ok(bytes, sb.sb_csum.value()))
        return failf(Errc::corrupt, at + 152, "superblock checksum {:#010x} does not match",
                     sb.sb_csum.value());
    Member m;
    m.version = "0.90";
    // mdadm shows the four words as hex numbers; keep that order.
    const std::uint32_t words[] = {sb.set_uuid0.value(), sb.set_uuid1.value(),
                                   sb.set_uuid2.value(), sb.set_uuid3.value()};
    for (std::size_t i = 0; i < 16; ++i)
        m.uuid[i] = static_cast<std::uint8_t>(words[i / 4] >> (8 * (3 - i % 4)));
    m.level = sb.level.value();
    m.layout = sb.layout.value();
    m.raid_disks = sb.raid_disks.value();
    m.chunk_sectors = sb.chunk_size.value() / kSector;
    m.dev_sectors = std::uint64_t{sb.size.value()} * 2;
    m.data_offset = 0;
    // rdev->sectors: everything before the superblock, capped for RAID1+.
    m.data_sectors = sb_start;
    if (m.level >= 1) m.data_sectors = std::min(m.data_sectors, (std::uint64_t{2} << 32) - 2);
    m.events = std::uint64_t{sb.events_hi.value()} << 32 | sb.events_lo.value();
    m.clean = (sb.state.value() & 1) != 0;
    m.reshaping = minor == 91;
    if (m.level >= 1 && m.data_sectors < m.dev_sectors)
        return failf(Errc::corrupt, at + 32, "size {} KiB does not fit before the superblock",
                     sb.size.value());
    const std::uint32_t number = sb.this_disk.number.value();
    if (number < kDisks090) {
        const Disk090& desc = sb.disks[number];
        const std::uint32_t state = desc.state.value();
        if (state & kDiskFaulty) m.role = -2;
        else if (state & kDiskSync) m.role = desc.raid_disk.value();
        else if (state & kDiskActive) {  // active, not yet in sync: being rebuilt
            m.in_sync = false;
            m.role = desc.raid_disk.value();
        }
    }
    return m;
}

// --- Finding superblocks ------------------------------------------------------------

struct Location {
    int minor;                // 0, 1, 2 for 1.x; 90 for 0.90
    std::uint64_t sb_start;   // sectors
};

/// Where each version's superblock would be on a device of `sectors`.
std::vector<Location> locations(std::uint64_t sectors) {
    std::vector<Location> out{{1, 0}, {2, 8}};
    if (sectors >= 16 + 8) out.push_back({0, (sectors - 16) & ~std::uint64_t{7}});
    const std::uint64_t reserved = kReservedBytes / kSector;
    if (sectors >= 2 * reserved) out.push_back({90, (sectors & ~(reserved - 1)) - reserved});
    return out;
}

/// The first location holding the MD magic and a version it belongs to.
Result<std::optional<Location>> find_superblock(const Device& dev) {
    const std::uint64_t sectors = dev.size() / kSector;
    for (const Location& loc : locations(sectors)) {
        if ((loc.sb_start + kSbBytes / kSector) > sectors) continue;
        be::little_uint32_buf_t head[2];
        VMDF_TRY(dev.read(loc.sb_start * kSector, std::as_writable_bytes(std::span{head})));
        if (head[0].value() != kMagic) continue;
        if (head[1].value() == (loc.minor == 90 ? 0u : 1u)) return std::optional<Location>{loc};
    }
    return std::optional<Location>{};
}

/// The superblock at `loc`, checked as the kernel checks it.
Result<Member> parse_at(const Device& dev, const Location& loc) {
    VMDF_TRY_ASSIGN(auto bytes, read_bytes(dev, loc.sb_start * kSector, kSbBytes, kSbBytes));
    return loc.minor == 90 ? parse_090(bytes, loc.sb_start)
                           : parse_v1(bytes, loc.minor, loc.sb_start, dev.size() / kSector);
}

Result<Member> read_member(const DevicePtr& dev) {
    VMDF_TRY_ASSIGN(auto loc, find_superblock(*dev));
    if (!loc) return fail(Errc::corrupt, "no MD superblock");
    Result<Member> member = parse_at(*dev, *loc);
    if (member) member->dev = dev;
    return member;
}

/// A superblock the kernel would refuse (bad checksum, impossible
/// geometry): still claimed, so that assemble() says what is wrong with it,
/// but weakly, so that a filesystem on the device (a stale signature left
/// behind) wins over it.
constexpr Score kDamaged = 10;

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(auto loc, find_superblock(dev));
    if (!loc) return kNotMine;
    return parse_at(dev, *loc) ? kCertain : kDamaged;
}

// --- Array devices ------------------------------------------------------------------

/// Members laid end to end (md-linear.c: each contributes its sectors).
class LinearDevice final : public Device {
public:
    struct Part {
        DevicePtr dev;
        std::uint64_t offset, length;  // bytes on the member
    };
    LinearDevice(std::string name, std::uint64_t size, std::vector<Part> parts)
        : Device(std::move(name), size, 512), parts_(std::move(parts)) {}

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        std::uint64_t start = 0;
        for (const Part& p : parts_) {
            if (out.empty()) break;
            if (offset < start + p.length) {
                const std::uint64_t within = offset - start;
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), p.length - within));
                VMDF_TRY(p.dev->read(p.offset + within, out.first(n)));
                out = out.subspan(n);
                offset += n;
            }
            start += p.length;
        }
        return {};
    }

private:
    std::vector<Part> parts_;
};

/// RAID0 with one zone: chunk c lies on member c % n, as its chunk c / n.
class StripedDevice final : public Device {
public:
    StripedDevice(std::string name, std::uint64_t size, std::vector<LinearDevice::Part> members,
                  std::uint64_t chunk_bytes)
        : Device(std::move(name), size, 512), members_(std::move(members)), chunk_(chunk_bytes) {}

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        const std::uint64_t n = members_.size();
        while (!out.empty()) {
            const std::uint64_t chunk = offset / chunk_, within = offset % chunk_;
            const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), chunk_ - within));
            const auto& m = members_[static_cast<std::size_t>(chunk % n)];
            VMDF_TRY(m.dev->read(m.offset + (chunk / n) * chunk_ + within, out.first(len)));
            out = out.subspan(len);
            offset += len;
        }
        return {};
    }

private:
    std::vector<LinearDevice::Part> members_;
    std::uint64_t chunk_;
};

// --- Assembly -----------------------------------------------------------------------

struct Array {
    std::array<std::uint8_t, 16> uuid{};
    std::vector<Member> claimed;       // every member with this UUID, in claim order
    std::vector<const Member*> slots;  // raid_disks entries; nullptr = missing
    const Member* freshest = nullptr;
    std::size_t present = 0;
    /// The scan_position of its first member.
    std::pair<std::uint64_t, std::uint64_t> first_seen{~std::uint64_t{0}, ~std::uint64_t{0}};
};

std::string level_name(int level) {
    return level == kLevelLinear ? "linear" : fmt::format("RAID{}", level);
}

/// Which members the kernel takes (super_*_validate): the freshest active
/// member sets the geometry; others need the same geometry, an event count
/// at most one behind, and a slot of their own.
void choose_members(Array& a, std::vector<std::string>& warnings) {
    for (const Member& m : a.claimed)
        if (m.role >= 0 && (!a.freshest || m.events > a.freshest->events)) a.freshest = &m;
    if (!a.freshest) return;
    const Member& ref = *a.freshest;
    a.slots.assign(ref.raid_disks, nullptr);
    for (const Member& m : a.claimed) {
        const std::string& dev = m.dev->name();
        if (m.role < 0) continue;  // spare or faulty: holds nothing yet
        if (m.level != ref.level || m.raid_disks != ref.raid_disks || m.layout != ref.layout ||
            m.chunk_sectors != ref.chunk_sectors || m.version != ref.version) {
            warnings.push_back(fmt::format(
                "{}: superblock disagrees with {} on the geometry of array {}: not used", dev,
                ref.dev->name(), uuid_string(a.uuid)));
            continue;
        }
        if (m.events + 1 < ref.events) {
            warnings.push_back(fmt::format(
                "{}: out of date (events {}, the array is at {}): not used", dev, m.events, ref.events));
            continue;
        }
        if (static_cast<std::uint64_t>(m.role) >= ref.raid_disks) {
            warnings.push_back(fmt::format("{}: claims slot {} of array {}, which has {} members",
                                           dev, m.role, uuid_string(a.uuid), ref.raid_disks));
            continue;
        }
        auto& slot = a.slots[static_cast<std::size_t>(m.role)];
        if (slot) {
            warnings.push_back(fmt::format("{}: slot {} of array {} is already {}'s: not used",
                                           dev, m.role, uuid_string(a.uuid), slot->dev->name()));
            continue;
        }
        slot = &m;
        ++a.present;
    }
}

/// Whether the kernel can run the array with the members present (and so
/// whether mdadm --run gives it a name).
bool can_run(const Array& a) {
    const std::size_t n = a.slots.size(), missing = n - a.present;
    if (a.present == 0) return false;
    switch (a.freshest->level) {
        case kLevelRaid1: return true;
        case 4: case 5: return missing <= 1;
        case 6: return missing <= 2;
        case 10: return missing <= 1;
        default: return missing == 0;
    }
}

/// Bytes `sectors` from the member's data_offset, checked against the member.
Result<LinearDevice::Part> data_window(const Member& m, std::uint64_t sectors) {
    auto offset = checked_mul(m.data_offset, kSector);
    auto length = checked_mul(sectors, kSector);
    if (!offset || !length || *length > m.dev->size() || *offset > m.dev->size() - *length)
        return failf(Errc::corrupt, std::nullopt,
                     "{}: {} sectors at data_offset {} run past the end of the member", m.dev->name(),
                     sectors, m.data_offset);
    return LinearDevice::Part{m.dev, *offset, *length};
}

Result<DevicePtr> open_array(const Array& a, const std::string& name) {
    const Member& ref = *a.freshest;
    if (ref.reshaping)
        return fail(Errc::unsupported, "a reshape is in progress");
    switch (ref.level) {
        case kLevelRaid1: {
            // Any in-sync member holds the whole array; take the freshest.
            const Member* best = nullptr;
            for (const Member* m : a.slots)
                if (m && m->in_sync && (!best || m->events > best->events)) best = m;
            if (!best) return fail(Errc::corrupt, "no member is in sync");
            if (ref.dev_sectors > best->data_sectors)
                return failf(Errc::corrupt, std::nullopt,
                             "array size of {} sectors is more than {} holds ({} sectors)",
                             ref.dev_sectors, best->dev->name(), best->data_sectors);
            VMDF_TRY_ASSIGN(auto w, data_window(*best, ref.dev_sectors));
            VMDF_TRY_ASSIGN(auto slice, SliceDevice::create(w.dev, name, w.offset, w.length, 512));
            return DevicePtr(slice);
        }
        case kLevelRaid0:
        case kLevelLinear: {
            // raid0.c and md-linear.c round each member down to whole chunks.
            const std::uint64_t chunk = ref.chunk_sectors;
            if (ref.level == kLevelRaid0 && chunk == 0) return fail(Errc::corrupt, "RAID0 with no chunk size");
            std::vector<LinearDevice::Part> parts;
            std::uint64_t total = 0;
            for (const Member* m : a.slots) {
                const std::uint64_t sectors = chunk ? m->data_sectors / chunk * chunk : m->data_sectors;
                VMDF_TRY_ASSIGN(auto w, data_window(*m, sectors));
                if (ref.level == kLevelRaid0 && !parts.empty() && w.length != parts.front().length)
                    return fail(Errc::unsupported,
                                "RAID0 members of different sizes (several zones) are not read");
                total += w.length;  // each fits its member: no overflow
                parts.push_back(w);
            }
            if (ref.level == kLevelLinear)
                return DevicePtr(std::make_shared<LinearDevice>(name, total, std::move(parts)));
            return DevicePtr(std::make_shared<StripedDevice>(name, total, std::move(parts), chunk * kSector));
        }
        default:
            return failf(Errc::unsupported, std::nullopt,
                         "{} is not supported (unsupported level): its filesystem is not reported",
                         level_name(ref.level));
    }
}

/// Where a device comes in /proc/partitions (each disk, then its
/// partitions, disks in order): (disk index, partition number) for
/// "/dev/sdXN". Devices named otherwise (a whole disk is named after its
/// image) come after those, in the order they were claimed.
std::pair<std::uint64_t, std::uint64_t> scan_position(const std::string& name, std::size_t claimed) {
    constexpr std::string_view prefix = "/dev/sd";
    const std::pair<std::uint64_t, std::uint64_t> unknown{~std::uint64_t{0}, claimed};
    if (!name.starts_with(prefix)) return unknown;
    std::uint64_t disk = 0, part = 0;
    std::size_t i = prefix.size();
    for (; i < name.size() && name[i] >= 'a' && name[i] <= 'z' && disk < (1u << 20); ++i)
        disk = disk * 26 + static_cast<std::uint64_t>(name[i] - 'a' + 1);
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && part < (1u << 20); ++i)
        part = part * 10 + static_cast<std::uint64_t>(name[i] - '0');
    if (disk == 0 || i != name.size()) return unknown;
    return {disk, part};
}

Result<std::vector<LogicalVolume>> assemble(std::span<const DevicePtr> devices,
                                            std::vector<std::string>& warnings) {
    std::vector<Array> arrays;
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const DevicePtr& dev = devices[i];
        auto member = read_member(dev);
        if (!member) {
            warnings.push_back(fmt::format("{}: {}", dev->name(), member.error().to_string()));
            continue;
        }
        auto it = std::find_if(arrays.begin(), arrays.end(),
                               [&](const Array& a) { return a.uuid == member->uuid; });
        if (it == arrays.end()) {
            arrays.emplace_back();
            it = std::prev(arrays.end());
            it->uuid = member->uuid;
        }
        it->first_seen = std::min(it->first_seen, scan_position(dev->name(), i));
        it->claimed.push_back(std::move(*member));
    }
    for (Array& a : arrays) {
        choose_members(a, warnings);
        if (!a.freshest)
            warnings.push_back(fmt::format("array {}: no active member (only spares or faulty "
                                           "members)", uuid_string(a.uuid)));
    }
    // In the appliance, udev runs mdadm --incremental on each member as the
    // disks appear, and each foreign array gets the highest free minor
    // (find_free_devnm: 127 downwards) when its first member is seen; a
    // degraded array starts then too, if its freshest superblock expects no
    // more members, else with the later `mdadm -As --run`. udev handles
    // members in parallel, so the order varies from boot to boot; here it is
    // the order of the arrays' first members on the disks.
    std::vector<const Array*> order;
    for (const Array& a : arrays)
        if (a.freshest) order.push_back(&a);
    std::stable_sort(order.begin(), order.end(),
                     [](const Array* x, const Array* y) { return x->first_seen < y->first_seen; });
    std::erase_if(order, [&](const Array* a) {
        if (can_run(*a)) return false;
        warnings.push_back(fmt::format("array {} ({}): {} of {} members present, too few to run it",
                                       uuid_string(a->uuid), level_name(a->freshest->level),
                                       a->present, a->slots.size()));
        return true;
    });
    if (order.size() > kMaxArrays) {
        warnings.push_back(fmt::format("{} arrays: only the first {} get a name, as in the kernel",
                                       order.size(), kMaxArrays));
        order.resize(kMaxArrays);
    }
    std::vector<LogicalVolume> volumes;
    unsigned minor = kFirstMinor;
    for (const Array* a : order) {
        const std::string name = fmt::format("/dev/md{}", minor);
        minor = minor > 0 ? minor - 1 : 511;  // find_free_devnm's sequence
        const Member& ref = *a->freshest;
        if (a->present < a->slots.size())
            warnings.push_back(fmt::format("{}: degraded: {} of {} members present", name,
                                           a->present, a->slots.size()));
        if (!ref.clean)
            warnings.push_back(fmt::format("{}: was not stopped cleanly (resync pending)", name));
        auto dev = open_array(*a, name);
        if (!dev) {
            Error e = std::move(dev).error();
            warnings.push_back(fmt::format("{}: {}", name, e.to_string()));
            continue;
        }
        volumes.push_back(LogicalVolume{name, *dev});
    }
    // libguestfs lists /sys/block/md* as glob(3) sorts them.
    std::sort(volumes.begin(), volumes.end(),
              [](const LogicalVolume& x, const LogicalVolume& y) { return x.name < y.name; });
    return volumes;
}

}  // namespace
}  // namespace vmdf::md

namespace vmdf {
constexpr VolumeManagerPlugin md_plugin{"md", {}, md::probe, md::assemble};
}
