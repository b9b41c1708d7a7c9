// SPDX-License-Identifier: GPL-2.0-or-later
// ISO 9660 (and High Sierra), with the figures Linux's isofs_statfs
// (fs/isofs/inode.c) reports: the logical block size as block size, the
// primary volume descriptor's volume space size as total, and nothing
// free, no inodes (a CD is read-only and full). Rock Ridge and Joliet do
// not change the figures. The volume descriptors are found and checked as
// isofs_fill_super finds and checks them (ECMA-119 §8 for the layout).
#include "plugins/filesystem/iso9660.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::iso9660 {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

/// Volume descriptors are 2048-byte sectors from sector 16 on; Linux looks
/// at those up to sector 99 (isofs_fill_super) for a primary one.
constexpr std::uint64_t kSectorSize = 2048;
constexpr std::uint64_t kFirstDescriptor = 16, kEndDescriptors = 100;
constexpr std::string_view kIsoId = "CD001"sv, kHighSierraId = "CDROM"sv;
constexpr std::uint8_t kTypePrimary = 1, kTypeSupplementary = 2, kTypeTerminator = 255;
/// isofs mounts with a block size of at least 1 KiB (sb_min_blocksize);
/// the logical block size must be a zone size it knows, and not smaller.
constexpr std::uint64_t kMinMountBlockSize = 1024;
constexpr std::uint8_t kDirectoryFlag = 0x02;
constexpr std::uint64_t kMinDirectoryRecord = 34;

// A both-endian 32-bit number (ECMA-119 §7.3.3): little-endian first.
struct BothEndian32 {
    be::little_uint32_buf_t le;
    be::big_uint32_buf_t be;
};
// A both-endian 16-bit number (§7.2.3).
struct BothEndian16 {
    be::little_uint16_buf_t le;
    be::big_uint16_buf_t be;
};
static_assert(sizeof(BothEndian32) == 8 && sizeof(BothEndian16) == 4);

// The primary (and, same layout, supplementary) volume descriptor, ECMA-119
// §8.4 / §8.5, up to the root directory record.
struct VolumeDescriptor {
    std::uint8_t type;                    // 0
    char id[5];                           // 1: "CD001"
    std::uint8_t version;                 // 6
    std::uint8_t flags;                   // 7 (supplementary only)
    char system_id[32];                   // 8
    char volume_id[32];                   // 40
    std::uint8_t unused_72[8];            // 72
    BothEndian32 volume_space_size;       // 80: in logical blocks
    std::uint8_t escape[32];              // 88 (supplementary: Joliet's %/@, %/C, %/E)
    BothEndian16 volume_set_size;         // 120
    BothEndian16 volume_sequence_number;  // 124
    BothEndian16 logical_block_size;      // 128
    BothEndian32 path_table_size;         // 132
    std::uint8_t path_tables[16];         // 140
    std::uint8_t root_directory[34];      // 156
};
static_assert(sizeof(VolumeDescriptor) == 190 && alignof(VolumeDescriptor) == 1);
static_assert(offsetof(VolumeDescriptor, volume_space_size) == 80);
static_assert(offsetof(VolumeDescriptor, logical_block_size) == 128);
static_assert(offsetof(VolumeDescriptor, root_directory) == 156);

// The High Sierra primary volume descriptor (struct hs_primary_descriptor).
struct HighSierraDescriptor {
    std::uint8_t foo[8];                  // 0: the sector's logical block number
    std::uint8_t type;                    // 8
    char id[5];                           // 9: "CDROM"
    std::uint8_t version;                 // 14
    std::uint8_t unused_15;               // 15
    char system_id[32];                   // 16
    char volume_id[32];                   // 48
    std::uint8_t unused_80[8];            // 80
    BothEndian32 volume_space_size;       // 88
    std::uint8_t unused_96[32];           // 96
    BothEndian16 volume_set_size;         // 128
    BothEndian16 volume_sequence_number;  // 132
    BothEndian16 logical_block_size;      // 136
    BothEndian32 path_table_size;         // 140
    std::uint8_t path_tables[32];         // 148
    std::uint8_t root_directory[34];      // 180
};
static_assert(sizeof(HighSierraDescriptor) == 214 && alignof(HighSierraDescriptor) == 1);
static_assert(offsetof(HighSierraDescriptor, volume_space_size) == 88);
static_assert(offsetof(HighSierraDescriptor, root_directory) == 180);

// A directory record (§9.1), as far as the root's is read.
struct DirectoryRecord {
    std::uint8_t length;                  // 0
    std::uint8_t ext_attr_length;         // 1
    BothEndian32 extent;                  // 2: logical block of the data
    BothEndian32 data_length;             // 10
    std::uint8_t recording_time[7];       // 18
    std::uint8_t flags;                   // 25 (High Sierra: 24, its time is 6 bytes)
};
static_assert(sizeof(DirectoryRecord) == 26);

/// The figures' inputs, from whichever descriptor Linux takes them.
struct Volume {
    std::uint64_t descriptor_at = 0;      // byte offset of the descriptor used
    bool high_sierra = false;
    std::uint64_t space_field = 0;        // offsets of the fields, for messages
    std::uint64_t block_size_field = 0;
    BothEndian32 volume_space_size;
    BothEndian16 logical_block_size;
    std::uint8_t root[34];
    std::uint64_t root_field = 0;
};

Volume from_primary(const VolumeDescriptor& d, std::uint64_t at) {
    Volume v;
    v.descriptor_at = at;
    v.space_field = at + offsetof(VolumeDescriptor, volume_space_size);
    v.block_size_field = at + offsetof(VolumeDescriptor, logical_block_size);
    v.volume_space_size = d.volume_space_size;
    v.logical_block_size = d.logical_block_size;
    std::copy(std::begin(d.root_directory), std::end(d.root_directory), v.root);
    v.root_field = at + offsetof(VolumeDescriptor, root_directory);
    return v;
}

/// The descriptor scan of isofs_fill_super: the first primary descriptor
/// before the terminator, unless a Joliet supplementary one comes first
/// (Linux stops at the first Joliet descriptor and uses it only if no
/// primary came before it), or High Sierra's.
Result<Volume> find_volume(const Device& dev) {
    std::optional<Volume> primary;
    for (std::uint64_t sector = kFirstDescriptor; sector < kEndDescriptors; ++sector) {
        const std::uint64_t at = sector * kSectorSize;
        VMDF_TRY_ASSIGN(const auto d, read_struct<VolumeDescriptor>(dev, at));
        if (std::string_view(d.id, sizeof d.id) == kIsoId) {
            if (d.type == kTypeTerminator) break;
            if (d.type == kTypePrimary && !primary) primary = from_primary(d, at);
            if (d.type == kTypeSupplementary && d.escape[0] == 0x25 && d.escape[1] == 0x2F) {
                if (primary) return *primary;
                const bool joliet = d.escape[2] == 0x40 || d.escape[2] == 0x43 || d.escape[2] == 0x45;
                if (!joliet)
                    return failf(Errc::corrupt, at + offsetof(VolumeDescriptor, escape),
                                 "supplementary volume descriptor of an unknown level before any primary one");
                return from_primary(d, at);
            }
            continue;
        }
        VMDF_TRY_ASSIGN(const auto hs, read_struct<HighSierraDescriptor>(dev, at));
        if (std::string_view(hs.id, sizeof hs.id) == kHighSierraId) {
            if (hs.type != kTypePrimary)
                return failf(Errc::corrupt, at + offsetof(HighSierraDescriptor, type),
                             "High Sierra volume descriptor of type {} first", hs.type);
            Volume v;
            v.descriptor_at = at;
            v.high_sierra = true;
            v.space_field = at + offsetof(HighSierraDescriptor, volume_space_size);
            v.block_size_field = at + offsetof(HighSierraDescriptor, logical_block_size);
            v.volume_space_size = hs.volume_space_size;
            v.logical_block_size = hs.logical_block_size;
            std::copy(std::begin(hs.root_directory), std::end(hs.root_directory), v.root);
            v.root_field = at + offsetof(HighSierraDescriptor, root_directory);
            return v;
        }
    }
    if (!primary)
        return failf(Errc::corrupt, kFirstDescriptor * kSectorSize,
                     "no primary volume descriptor in sectors {}..{}", kFirstDescriptor, kEndDescriptors - 1);
    return *primary;
}

/// Whether the descriptors from sector 16 on include a UDF Volume
/// Recognition Sequence's NSR descriptor (ECMA-167 2/9.1): a UDF bridge
/// disc, which blkid calls "udf", so libguestfs mounts it with Linux's udf
/// driver and statfs gives UDF's figures, not these.
Result<bool> udf_bridge(const Device& dev) {
    constexpr std::string_view kKnown[] = {"CD001"sv, "BEA01"sv, "TEA01"sv, "BOOT2"sv, "CDW02"sv};
    for (std::uint64_t sector = kFirstDescriptor; sector < kEndDescriptors; ++sector) {
        char id[7];
        if (dev.size() < (sector + 1) * kSectorSize) return false;
        VMDF_TRY(dev.read(sector * kSectorSize, std::as_writable_bytes(std::span{id})));
        const std::string_view name(id + 1, 5);
        if (name == "NSR02"sv || name == "NSR03"sv) return true;
        if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) return false;
    }
    return false;
}

/// Sector 16 holds a volume descriptor, ISO 9660's or High Sierra's.
Result<Score> probe(const Device& dev) {
    if (dev.size() < (kFirstDescriptor + 1) * kSectorSize) return kNotMine;
    VMDF_TRY_ASSIGN(const auto hs, read_struct<HighSierraDescriptor>(dev, kFirstDescriptor * kSectorSize));
    if (std::string_view(hs.id, sizeof hs.id) == kHighSierraId) return kCertain;
    VMDF_TRY_ASSIGN(const auto d, read_struct<VolumeDescriptor>(dev, kFirstDescriptor * kSectorSize));
    return std::string_view(d.id, sizeof d.id) == kIsoId ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const Volume v, find_volume(dev));
    VMDF_TRY_ASSIGN(const bool udf, udf_bridge(dev));
    if (udf)
        return failf(Errc::unsupported, std::nullopt,
                     "a UDF bridge disc: Linux mounts it as UDF, which this version does not read");
    Filesystem fs;
    fs.type = "iso9660";
    // isonum_733 and isonum_723 read the little-endian halves only.
    const std::uint64_t zones = v.volume_space_size.le.value();
    const std::uint64_t zone_size = v.logical_block_size.le.value();
    if (zones != v.volume_space_size.be.value())
        fs.warnings.push_back(fmt::format(
            "volume space size is {} little-endian but {} big-endian: using {} as Linux does", zones,
            v.volume_space_size.be.value(), zones));
    if (zone_size != v.logical_block_size.be.value())
        fs.warnings.push_back(fmt::format(
            "logical block size is {} little-endian but {} big-endian: using {} as Linux does", zone_size,
            v.logical_block_size.be.value(), zone_size));
    const std::uint64_t min_block = std::max<std::uint64_t>(kMinMountBlockSize, dev.block_size());
    if (zone_size != 512 && zone_size != 1024 && zone_size != 2048)
        return failf(Errc::corrupt, v.block_size_field, "logical block size {} (Linux knows 512, 1024, 2048)",
                     zone_size);
    if (zone_size < min_block)
        return failf(Errc::unsupported, v.block_size_field,
                     "logical block size {} is smaller than the {}-byte blocks Linux reads this device with",
                     zone_size, min_block);

    // isofs_fill_super ends by reading the root directory's "." record;
    // where that fails, so does the mount.
    DirectoryRecord root;
    std::memcpy(&root, v.root, sizeof root);
    if (root.length < kMinDirectoryRecord)
        return failf(Errc::corrupt, v.root_field, "root directory record of {} bytes", root.length);
    const std::uint64_t first_zone = std::uint64_t{root.extent.le.value()} + root.ext_attr_length;
    const std::uint64_t dot_at = first_zone * zone_size;
    VMDF_TRY_ASSIGN(const auto dot, read_struct<DirectoryRecord>(dev, dot_at));
    const std::uint8_t flags = v.high_sierra ? dot.recording_time[6] : dot.flags;
    if (dot.length < kMinDirectoryRecord || !(flags & kDirectoryFlag))
        return failf(Errc::corrupt, dot_at, "the root directory's first record is not a directory");

    StatVfs& st = fs.stat;
    st.bsize = st.frsize = zone_size;
    st.blocks = zones;  // s_nzones << (log_zone_size - s_blocksize_bits), a shift of 0
    st.bfree = st.bavail = 0;
    st.files = st.ffree = 0;  // s_ninodes: "no way to figure this out easily"
    if (zones > dev.size() / zone_size)
        fs.warnings.push_back(fmt::format("the volume's {} blocks of {} bytes run past the end of the device",
                                          zones, zone_size));
    return fs;
}

constexpr Magic kMagics[] = {{kFirstDescriptor * kSectorSize + 1, kIsoId},
                             {kFirstDescriptor * kSectorSize + 9, kHighSierraId}};

}  // namespace
}  // namespace vmdf::iso9660

namespace vmdf {
constexpr FilesystemPlugin iso9660_plugin{"iso9660", iso9660::kMagics, iso9660::probe, iso9660::open};
}
