// SPDX-License-Identifier: GPL-2.0-or-later
// FAT12, FAT16 and FAT32, with the figures Linux's fat driver reports
// (fs/fat/inode.c: fat_statfs; statfs.md §5): the cluster size as block
// size, the data clusters as total, free clusters counted in the first FAT
// (the FSInfo free count is a hint the kernel does not trust), and no inode
// figures. The boot sector is validated as fat_fill_super validates it.
#include "plugins/filesystem/fat.hpp"

#include <algorithm>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::fat {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint64_t kMinSectorSize = 512, kMaxSectorSize = 4096;
/// The first two FAT entries are reserved; data clusters are numbered from 2.
constexpr std::uint64_t kFirstCluster = 2;
/// The largest cluster counts each FAT type can address (MAX_FAT12/16/32).
constexpr std::uint64_t kMaxFat12 = 0xFF4, kMaxFat16 = 0xFFF4, kMaxFat32 = 0x0FFFFFF6;
constexpr std::uint32_t kFat32EntryMask = 0x0FFFFFFF;
/// The FAT is scanned in chunks of this many bytes (a multiple of 2, 3 and 4).
constexpr std::uint64_t kChunk = 3 << 18;  // 768 KiB

// The boot sector's BIOS parameter block (struct fat_boot_sector).
struct BootSector {
    std::uint8_t jump[3];                     // 0x00: EB xx 90 or E9 xx xx
    char oem_name[8];                         // 0x03
    be::little_uint16_buf_t bytes_per_sector; // 0x0B
    std::uint8_t sectors_per_cluster;         // 0x0D
    be::little_uint16_buf_t reserved;         // 0x0E
    std::uint8_t fats;                        // 0x10
    be::little_uint16_buf_t dir_entries;      // 0x11
    be::little_uint16_buf_t sectors16;        // 0x13
    std::uint8_t media;                       // 0x15
    be::little_uint16_buf_t fat_length16;     // 0x16
    std::uint8_t pad_18[0x20 - 0x18];
    be::little_uint32_buf_t sectors32;        // 0x20
    be::little_uint32_buf_t fat_length32;     // 0x24 (FAT32 only)
    be::little_uint16_buf_t ext_flags;        // 0x28 (FAT32 only)
    std::uint8_t pad_2a[0x2C - 0x2A];
    be::little_uint32_buf_t root_cluster;     // 0x2C (FAT32 only)
    be::little_uint16_buf_t info_sector;      // 0x30 (FAT32 only)
    std::uint8_t pad_32[0x5A - 0x32];
};
static_assert(sizeof(BootSector) == 0x5A && alignof(BootSector) == 1);
static_assert(offsetof(BootSector, bytes_per_sector) == 0x0B);
static_assert(offsetof(BootSector, sectors32) == 0x20);
static_assert(offsetof(BootSector, info_sector) == 0x30);

/// The boot sector, validated, and what follows from it.
struct Geometry {
    std::uint64_t sector_size = 0;
    std::uint64_t cluster_size = 0;
    std::uint64_t fat_start = 0;       // bytes
    std::uint64_t fat_bytes = 0;       // one FAT
    unsigned fat_bits = 0;             // 12, 16 or 32
    std::uint64_t total_clusters = 0;  // data clusters: 2 .. total_clusters + 1
};

Failure bad_field(std::size_t field_offset, std::string message) {
    return fail(Errc::corrupt, std::move(message), field_offset);
}

bool is_power_of_2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

/// fat_valid_media: 0xF0, or 0xF8 to 0xFF.
bool valid_media(std::uint8_t m) { return m == 0xF0 || m >= 0xF8; }

Result<Geometry> read_geometry(const Device& dev) {
    VMDF_TRY_ASSIGN(const BootSector bs, read_struct<BootSector>(dev, 0));
    Geometry g;
    g.sector_size = bs.bytes_per_sector.value();
    if (g.sector_size < kMinSectorSize || g.sector_size > kMaxSectorSize ||
        !is_power_of_2(g.sector_size))
        return bad_field(offsetof(BootSector, bytes_per_sector),
                         fmt::format("bytes per sector {} invalid", g.sector_size));
    const std::uint64_t spc = bs.sectors_per_cluster;
    if (!is_power_of_2(spc))
        return bad_field(offsetof(BootSector, sectors_per_cluster),
                         fmt::format("sectors per cluster {} invalid", spc));
    g.cluster_size = spc * g.sector_size;
    const std::uint64_t reserved = bs.reserved.value();
    if (reserved == 0)
        return bad_field(offsetof(BootSector, reserved), "no reserved sectors");
    const std::uint64_t fats = bs.fats;
    if (fats == 0) return bad_field(offsetof(BootSector, fats), "number of FATs is 0");
    if (!valid_media(bs.media))
        return bad_field(offsetof(BootSector, media), fmt::format("media {:#x} invalid", bs.media));

    // FAT32 iff the 16-bit FAT length is 0.
    const bool fat32 = bs.fat_length16.value() == 0;
    const std::size_t fat_length_field =
        fat32 ? offsetof(BootSector, fat_length32) : offsetof(BootSector, fat_length16);
    const std::uint64_t fat_length = fat32 ? bs.fat_length32.value() : bs.fat_length16.value();
    if (fat_length == 0) return bad_field(fat_length_field, "FAT length is 0");

    const std::uint64_t dir_entries = bs.dir_entries.value();
    const std::uint64_t dir_per_sector = g.sector_size / 32;
    if ((!fat32 && dir_entries == 0) || dir_entries % dir_per_sector != 0)
        return bad_field(offsetof(BootSector, dir_entries),
                         fmt::format("{} root directory entries invalid", dir_entries));

    const bool small = bs.sectors16.value() != 0;
    const std::uint64_t total_sectors = small ? bs.sectors16.value() : bs.sectors32.value();
    const std::size_t total_field =
        small ? offsetof(BootSector, sectors16) : offsetof(BootSector, sectors32);
    if (total_sectors == 0) return bad_field(total_field, "total sector count is 0");

    // 16-bit and 32-bit fields cannot overflow 64 bits here, but the FAT
    // must fit in the volume.
    const std::uint64_t data_start = reserved + fats * fat_length + dir_entries / dir_per_sector;
    if (data_start >= total_sectors)
        return bad_field(fat_length_field,
                         fmt::format("{} FATs of {} sectors after {} reserved run past the "
                                     "volume's {} sectors",
                                     fats, fat_length, reserved, total_sectors));

    g.total_clusters = (total_sectors - data_start) / spc;
    g.fat_bits = fat32 ? 32 : g.total_clusters <= kMaxFat12 ? 12 : 16;
    const std::uint64_t max_clusters =
        g.fat_bits == 32 ? kMaxFat32 : g.fat_bits == 16 ? kMaxFat16 : kMaxFat12;
    if (g.total_clusters > max_clusters)
        return bad_field(total_field, fmt::format("{} clusters are too many for FAT{}",
                                                  g.total_clusters, g.fat_bits));
    const std::uint64_t device_sectors = dev.size() / g.sector_size;
    if (total_sectors > device_sectors)
        return failf(Errc::truncated, total_field,
                     "{} sectors of {} bytes exceed the size of the device ({} sectors)",
                     total_sectors, g.sector_size, device_sectors);
    // Only as many clusters as the FAT has entries for (calc_fat_clusters).
    g.fat_bytes = fat_length * g.sector_size;
    const std::uint64_t fat_entries = g.fat_bytes * 8 / g.fat_bits;
    if (fat_entries <= kFirstCluster)
        return bad_field(fat_length_field,
                         fmt::format("a FAT of {} sectors is too short", fat_length));
    g.total_clusters = std::min(g.total_clusters, fat_entries - kFirstCluster);
    g.fat_start = reserved * g.sector_size;
    return g;
}

/// Free clusters: entries equal to 0 among clusters 2 .. total_clusters + 1
/// of the first FAT (fat_count_free_clusters), read a chunk at a time.
Result<std::uint64_t> count_free(const Device& dev, const Geometry& g) {
    const std::uint64_t end_entry = g.total_clusters + kFirstCluster;
    // Bytes of the FAT holding entries 0 .. end_entry - 1.
    const std::uint64_t bytes = (end_entry * g.fat_bits + 7) / 8;
    std::vector<std::byte> buf(static_cast<std::size_t>(std::min(bytes, kChunk)));
    std::uint64_t free = 0;
    for (std::uint64_t pos = 0; pos < bytes; pos += kChunk) {
        const std::uint64_t n = std::min(kChunk, bytes - pos);
        const std::span<std::byte> chunk(buf.data(), static_cast<std::size_t>(n));
        VMDF_TRY(dev.read(g.fat_start + pos, chunk));
        auto u8 = [&](std::uint64_t i) { return std::to_integer<std::uint32_t>(chunk[i]); };
        if (g.fat_bits == 12) {
            // Chunks are multiples of 3 bytes: each 3 bytes hold 2 entries.
            const std::uint64_t first = pos * 2 / 3;
            for (std::uint64_t e = std::max(first, kFirstCluster); e < end_entry; ++e) {
                const std::uint64_t at = e * 3 / 2 - pos;
                if (at + 1 >= n) break;
                const std::uint32_t pair = u8(at) | u8(at + 1) << 8;
                const std::uint32_t v = (e & 1) ? pair >> 4 : pair & 0xFFF;
                free += v == 0;
            }
        } else {
            const std::uint64_t width = g.fat_bits / 8;
            const std::uint64_t first = std::max(pos / width, kFirstCluster);
            const std::uint64_t last = std::min((pos + n) / width, end_entry);
            for (std::uint64_t e = first; e < last; ++e) {
                const std::uint64_t at = e * width - pos;
                std::uint32_t v = u8(at) | u8(at + 1) << 8;
                if (width == 4) v = (v | u8(at + 2) << 16 | u8(at + 3) << 24) & kFat32EntryMask;
                free += v == 0;
            }
        }
    }
    return free;
}

/// A FAT boot sector by its shape: a jump instruction, a BPB that
/// read_geometry would take, and not the OEM name of NTFS or exFAT (whose
/// boot sectors begin the same way). An MBR has no BPB.
Result<Score> probe(const Device& dev) {
    if (dev.size() < 512) return kNotMine;
    VMDF_TRY_ASSIGN(const BootSector bs, read_struct<BootSector>(dev, 0));
    const bool jump = (bs.jump[0] == 0xEB && bs.jump[2] == 0x90) || bs.jump[0] == 0xE9;
    if (!jump) return kNotMine;
    const std::string_view oem(bs.oem_name, sizeof bs.oem_name);
    if (oem == "NTFS    "sv || oem == "EXFAT   "sv) return kNotMine;
    const std::uint64_t ss = bs.bytes_per_sector.value();
    if (ss < kMinSectorSize || ss > kMaxSectorSize || !is_power_of_2(ss)) return kNotMine;
    if (!is_power_of_2(bs.sectors_per_cluster) || bs.reserved.value() == 0 || bs.fats == 0 ||
        !valid_media(bs.media))
        return kNotMine;
    if (bs.sectors16.value() == 0 && bs.sectors32.value() == 0) return kNotMine;
    if (bs.fat_length16.value() == 0 && bs.fat_length32.value() == 0) return kNotMine;
    return 90;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const Geometry geo, read_geometry(dev));
    VMDF_TRY_ASSIGN(const std::uint64_t free, count_free(dev, geo));
    Filesystem fs;
    fs.type = "vfat";
    StatVfs& st = fs.stat;
    st.bsize = st.frsize = geo.cluster_size;
    st.blocks = geo.total_clusters;
    st.bfree = st.bavail = free;
    st.files = st.ffree = 0;
    return fs;
}

}  // namespace
}  // namespace vmdf::fat

namespace vmdf {
constexpr FilesystemPlugin fat_plugin{"fat", {}, fat::probe, fat::open};
}
