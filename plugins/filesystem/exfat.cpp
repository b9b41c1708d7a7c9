// SPDX-License-Identifier: GPL-2.0-or-later
// exFAT, with the figures Linux's exfat driver reports (fs/exfat/super.c:
// exfat_statfs; statfs.md §7): the cluster size as block size, ClusterCount
// as total, and as free the clusters whose bit is clear in the allocation
// bitmap; no inode figures. The boot region is validated as the driver
// validates it at mount (signature, geometry, boot checksum).
#include "plugins/filesystem/exfat.hpp"

#include <algorithm>
#include <bit>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::exfat {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint64_t kFirstCluster = 2;
/// ClusterCount may not exceed this (the largest cluster number is 0xFFFFFFF6).
constexpr std::uint64_t kMaxClusterCount = 0xFFFFFFF5;
/// Sector sizes 512 .. 4096 bytes; clusters up to 32 MiB.
constexpr unsigned kMinSectorShift = 9, kMaxSectorShift = 12, kMaxClusterShift = 25;
/// The boot checksum covers the first 11 sectors; sector 11 repeats it.
constexpr std::uint64_t kChecksummedSectors = 11;
/// Root directory clusters, and entries, searched for the bitmap entry, at
/// most (mkfs.exfat puts it among the first three entries).
constexpr std::uint64_t kMaxRootClusters = 64;
constexpr std::uint64_t kMaxRootEntries = 8192;
/// The bitmap is read in chunks of this many bytes.
constexpr std::uint64_t kChunk = 1 << 20;
constexpr std::uint8_t kEntryBitmap = 0x81;
constexpr std::uint8_t kEntryEndOfDirectory = 0x00;

// The main boot sector (exFAT specification, §3.1).
struct BootSector {
    std::uint8_t jump[3];                          // 0x00: EB 76 90
    char fs_name[8];                               // 0x03: "EXFAT   "
    std::uint8_t must_be_zero[53];                 // 0x0B
    be::little_uint64_buf_t partition_offset;      // 0x40
    be::little_uint64_buf_t volume_length;         // 0x48, sectors
    be::little_uint32_buf_t fat_offset;            // 0x50, sectors
    be::little_uint32_buf_t fat_length;            // 0x54, sectors
    be::little_uint32_buf_t cluster_heap_offset;   // 0x58, sectors
    be::little_uint32_buf_t cluster_count;         // 0x5C
    be::little_uint32_buf_t root_cluster;          // 0x60
    be::little_uint32_buf_t volume_serial;         // 0x64
    be::little_uint16_buf_t revision;              // 0x68
    be::little_uint16_buf_t volume_flags;          // 0x6A (not checksummed)
    std::uint8_t sector_shift;                     // 0x6C
    std::uint8_t cluster_shift;                    // 0x6D: sectors per cluster, log2
    std::uint8_t fats;                             // 0x6E
    std::uint8_t drive_select;                     // 0x6F
    std::uint8_t percent_in_use;                   // 0x70 (not checksummed; unused)
    std::uint8_t pad_71[0x1FE - 0x71];
    be::little_uint16_buf_t signature;             // 0x1FE: 0xAA55
};
static_assert(sizeof(BootSector) == 512 && alignof(BootSector) == 1);
static_assert(offsetof(BootSector, partition_offset) == 0x40);
static_assert(offsetof(BootSector, cluster_count) == 0x5C);
static_assert(offsetof(BootSector, sector_shift) == 0x6C);

// A directory entry of the allocation bitmap (type 0x81).
struct BitmapEntry {
    std::uint8_t type;                     // 0x00
    std::uint8_t flags;                    // 0x01: bit 0 = which FAT it belongs to
    std::uint8_t pad_2[0x14 - 0x02];
    be::little_uint32_buf_t first_cluster; // 0x14
    be::little_uint64_buf_t data_length;   // 0x18, bytes
};
static_assert(sizeof(BitmapEntry) == 32);

/// A bitmap entry and where it was found (for messages).
struct FoundBitmap {
    BitmapEntry entry;
    std::uint64_t offset;
};

struct Geometry {
    BootSector bs;
    std::uint64_t sector_size = 0;
    std::uint64_t cluster_size = 0;
    std::uint64_t cluster_count = 0;
    std::uint64_t fat_start = 0;   // bytes
    std::uint64_t heap_start = 0;  // bytes
    std::uint64_t cluster_offset(std::uint64_t c) const {
        return heap_start + (c - kFirstCluster) * cluster_size;
    }
    bool valid_cluster(std::uint64_t c) const {
        return c >= kFirstCluster && c < cluster_count + kFirstCluster;
    }
};

Failure bad_field(std::size_t field_offset, std::string message) {
    return fail(Errc::corrupt, std::move(message), field_offset);
}

/// The boot checksum: a rotate-right-and-add over the first 11 sectors,
/// skipping VolumeFlags and PercentInUse.
std::uint32_t boot_checksum(std::span<const std::byte> bytes) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 0x6A || i == 0x6B || i == 0x70) continue;
        sum = std::rotr(sum, 1) + std::to_integer<std::uint32_t>(bytes[i]);
    }
    return sum;
}

Result<Geometry> read_geometry(const Device& dev) {
    Geometry g;
    VMDF_TRY_ASSIGN(g.bs, read_struct<BootSector>(dev, 0));
    const BootSector& bs = g.bs;
    if (std::string_view(bs.fs_name, sizeof bs.fs_name) != "EXFAT   "sv)
        return bad_field(offsetof(BootSector, fs_name), "bad file system name");
    if (bs.signature.value() != 0xAA55)
        return bad_field(offsetof(BootSector, signature), "bad boot signature");
    for (std::size_t i = 0; i < sizeof bs.must_be_zero; ++i)
        if (bs.must_be_zero[i] != 0)
            return bad_field(offsetof(BootSector, must_be_zero) + i,
                             "the legacy BPB area is not zero");
    if (bs.sector_shift < kMinSectorShift || bs.sector_shift > kMaxSectorShift)
        return bad_field(offsetof(BootSector, sector_shift),
                         fmt::format("bytes per sector shift {} invalid", bs.sector_shift));
    if (bs.cluster_shift > kMaxClusterShift - bs.sector_shift)
        return bad_field(offsetof(BootSector, cluster_shift),
                         fmt::format("sectors per cluster shift {} invalid", bs.cluster_shift));
    if (bs.fats != 1 && bs.fats != 2)
        return bad_field(offsetof(BootSector, fats), fmt::format("{} FATs invalid", bs.fats));
    g.sector_size = std::uint64_t{1} << bs.sector_shift;
    g.cluster_size = g.sector_size << bs.cluster_shift;

    // The boot checksum, before the geometry is trusted.
    VMDF_TRY_ASSIGN(const auto region,
                    read_bytes(dev, 0, (kChecksummedSectors + 1) * g.sector_size,
                               (kChecksummedSectors + 1) << kMaxSectorShift));
    const std::span<const std::byte> all(region);
    const std::uint32_t computed = boot_checksum(all.first(kChecksummedSectors * g.sector_size));
    const ByteReader sums(all.subspan(kChecksummedSectors * g.sector_size),
                          kChecksummedSectors * g.sector_size);
    for (std::uint64_t at = 0; at < g.sector_size; at += 4) {
        VMDF_TRY_ASSIGN(const auto stored, sums.at<be::little_uint32_buf_t>(at));
        if (stored.value() != computed)
            return failf(Errc::corrupt, kChecksummedSectors * g.sector_size + at,
                         "boot checksum {:#010x} does not match {:#010x}", stored.value(),
                         computed);
    }

    const std::uint64_t volume_length = bs.volume_length.value();
    const std::uint64_t fat_offset = bs.fat_offset.value();
    const std::uint64_t fat_length = bs.fat_length.value();
    const std::uint64_t heap_offset = bs.cluster_heap_offset.value();
    g.cluster_count = bs.cluster_count.value();
    if (fat_offset == 0) return bad_field(offsetof(BootSector, fat_offset), "FAT offset is 0");
    if (fat_length == 0) return bad_field(offsetof(BootSector, fat_length), "FAT length is 0");
    // 32-bit fields: these sums cannot overflow 64 bits.
    if (fat_offset + fat_length * bs.fats > heap_offset)
        return bad_field(offsetof(BootSector, fat_length),
                         fmt::format("{} FATs of {} sectors at sector {} run into the cluster "
                                     "heap at sector {}",
                                     bs.fats, fat_length, fat_offset, heap_offset));
    if (g.cluster_count == 0 || g.cluster_count > kMaxClusterCount)
        return bad_field(offsetof(BootSector, cluster_count),
                         fmt::format("cluster count {} invalid", g.cluster_count));
    if ((g.cluster_count + kFirstCluster) * 4 > fat_length * g.sector_size)
        return bad_field(offsetof(BootSector, cluster_count),
                         fmt::format("{} clusters do not fit a FAT of {} sectors",
                                     g.cluster_count, fat_length));
    const std::uint64_t heap_end = heap_offset + (g.cluster_count << bs.cluster_shift);
    if (heap_end > volume_length)
        return bad_field(offsetof(BootSector, cluster_count),
                         fmt::format("{} clusters from sector {} run past the volume's {} sectors",
                                     g.cluster_count, heap_offset, volume_length));
    const std::uint64_t device_sectors = dev.size() / g.sector_size;
    if (heap_end > device_sectors)
        return failf(Errc::truncated, offsetof(BootSector, cluster_count),
                     "the cluster heap ends at sector {}, past the device's {} sectors", heap_end,
                     device_sectors);
    if (!g.valid_cluster(bs.root_cluster.value()))
        return bad_field(offsetof(BootSector, root_cluster),
                         fmt::format("root directory cluster {} invalid", bs.root_cluster.value()));
    g.fat_start = fat_offset * g.sector_size;
    g.heap_start = heap_offset * g.sector_size;
    return g;
}

/// The first FAT's allocation bitmap entry in the root directory, following
/// the root's cluster chain through the FAT (at most kMaxRootClusters).
Result<FoundBitmap> find_bitmap(const Device& dev, const Geometry& g) {
    std::vector<std::byte> cluster(
        static_cast<std::size_t>(std::min<std::uint64_t>(g.cluster_size, 1 << 16)));
    std::uint64_t c = g.bs.root_cluster.value();
    std::uint64_t entries = 0;
    for (std::uint64_t n = 0; n < kMaxRootClusters && entries < kMaxRootEntries; ++n) {
        // Entries are read a (possibly partial) cluster at a time.
        for (std::uint64_t pos = 0; pos < g.cluster_size && entries < kMaxRootEntries;
             pos += cluster.size()) {
            const std::uint64_t base = g.cluster_offset(c) + pos;
            VMDF_TRY(dev.read(base, cluster));
            const ByteReader reader(cluster, base);
            for (std::uint64_t at = 0; at < cluster.size(); at += 32, ++entries) {
                VMDF_TRY_ASSIGN(const auto e, reader.at<BitmapEntry>(at));
                if (e.type == kEntryEndOfDirectory)
                    return failf(Errc::corrupt, base + at,
                                 "no allocation bitmap in the root directory");
                if (e.type == kEntryBitmap && (e.flags & 1) == 0) return FoundBitmap{e, base + at};
            }
        }
        VMDF_TRY_ASSIGN(const auto next,
                        read_struct<be::little_uint32_buf_t>(dev, g.fat_start + c * 4));
        if (!g.valid_cluster(next.value()))
            return failf(Errc::corrupt, g.fat_start + c * 4,
                         "no allocation bitmap in the root directory (chain ends at {:#x})",
                         next.value());
        c = next.value();
    }
    return failf(Errc::corrupt, std::nullopt,
                 "no allocation bitmap in the first {} entries of the root directory", entries);
}

/// Clear bits among the first cluster_count bits of the bitmap, which the
/// driver reads as consecutive clusters from its first one.
Result<std::uint64_t> count_free(const Device& dev, const Geometry& g, const BitmapEntry& e,
                                 std::uint64_t entry_offset) {
    const std::uint64_t first = e.first_cluster.value();
    const std::uint64_t need = (g.cluster_count + 7) / 8;
    if (!g.valid_cluster(first))
        return failf(Errc::corrupt, entry_offset + 0x14, "allocation bitmap cluster {} invalid",
                     first);
    if (e.data_length.value() < need)
        return failf(Errc::corrupt, entry_offset + 0x18,
                     "allocation bitmap of {} bytes is shorter than {} clusters need",
                     e.data_length.value(), g.cluster_count);
    const std::uint64_t clusters = (need + g.cluster_size - 1) / g.cluster_size;
    if (first + clusters > g.cluster_count + kFirstCluster)
        return failf(Errc::corrupt, entry_offset + 0x14,
                     "allocation bitmap at cluster {} runs past the cluster heap", first);
    std::vector<std::byte> buf(static_cast<std::size_t>(std::min(need, kChunk)));
    std::uint64_t used = 0;
    for (std::uint64_t pos = 0; pos < need; pos += kChunk) {
        const std::uint64_t n = std::min(kChunk, need - pos);
        const std::span<std::byte> chunk(buf.data(), static_cast<std::size_t>(n));
        VMDF_TRY(dev.read(g.cluster_offset(first) + pos, chunk));
        for (std::uint64_t i = 0; i < n; ++i) {
            unsigned v = std::to_integer<unsigned>(chunk[i]);
            const std::uint64_t bit = (pos + i) * 8;
            if (bit + 8 > g.cluster_count) v &= (1u << (g.cluster_count - bit)) - 1;
            used += static_cast<std::uint64_t>(std::popcount(v));
        }
    }
    return g.cluster_count - used;
}

Result<Score> probe(const Device& dev) {
    if (dev.size() < 512) return kNotMine;
    VMDF_TRY_ASSIGN(const BootSector bs, read_struct<BootSector>(dev, 0));
    return std::string_view(bs.fs_name, sizeof bs.fs_name) == "EXFAT   "sv ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const Geometry geo, read_geometry(dev));
    VMDF_TRY_ASSIGN(const FoundBitmap bitmap, find_bitmap(dev, geo));
    VMDF_TRY_ASSIGN(const std::uint64_t free, count_free(dev, geo, bitmap.entry, bitmap.offset));
    Filesystem fs;
    fs.type = "exfat";
    StatVfs& st = fs.stat;
    st.bsize = st.frsize = geo.cluster_size;
    st.blocks = geo.cluster_count;
    st.bfree = st.bavail = free;
    st.files = st.ffree = 0;
    return fs;
}

constexpr Magic kMagics[] = {{3, "EXFAT   "sv}};

}  // namespace
}  // namespace vmdf::exfat

namespace vmdf {
constexpr FilesystemPlugin exfat_plugin{"exfat", exfat::kMagics, exfat::probe, exfat::open};
}
