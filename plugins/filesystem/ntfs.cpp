// SPDX-License-Identifier: GPL-2.0-or-later
// NTFS, with the figures ntfs-3g's FUSE driver reports for a read-only
// mount (what the libguestfs appliance mounts NTFS with; statfs.md §6.2):
// cluster size, clusters, free clusters counted in $Bitmap, and inode
// figures from $MFT's own bitmap plus the free clusters in MFT records.
// Written from the on-disk format (statfs.md §6.3), not from ntfs-3g's code.
#include "plugins/filesystem/ntfs.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::ntfs {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::string_view kOemNtfs = "NTFS    "sv;
constexpr std::uint64_t kMaxClusterSize = 2 * 1024 * 1024;
constexpr std::uint64_t kMinRecordSize = 512, kMaxRecordSize = 64 * 1024;
constexpr std::uint64_t kFixupStride = 512;
/// Bitmaps are read and counted this many bytes at a time.
constexpr std::uint64_t kChunk = 1024 * 1024;
/// A runlist of more runs than this is refused (one attribute holds at
/// most a record's worth, ~32 K runs; an attribute list adds extents).
constexpr std::size_t kMaxRuns = 1 << 20;
constexpr std::size_t kMaxExtents = 4096;

// MFT record numbers and attribute types.
constexpr std::uint64_t kRecordMft = 0, kRecordVolume = 3, kRecordBitmap = 6;
constexpr std::uint32_t kAttrList = 0x20, kAttrVolumeInfo = 0x70, kAttrData = 0x80,
                        kAttrBitmap = 0xB0, kAttrEnd = 0xFFFFFFFF;
constexpr std::uint16_t kRecordInUse = 0x1;
constexpr std::uint16_t kVolumeDirty = 0x1;

// The boot sector (first 512 bytes; the BPB ntfs-3g validates).
struct BootSector {
    std::uint8_t jump[3];
    char oem_id[8];                                // 0x03
    be::little_uint16_buf_t bytes_per_sector;      // 0x0B
    std::uint8_t sectors_per_cluster;              // 0x0D
    be::little_uint16_buf_t reserved_sectors;      // 0x0E: 0
    std::uint8_t fats;                             // 0x10: 0
    be::little_uint16_buf_t root_entries;          // 0x11: 0
    be::little_uint16_buf_t sectors;               // 0x13: 0
    std::uint8_t media_type;                       // 0x15
    be::little_uint16_buf_t sectors_per_fat;       // 0x16: 0
    std::uint8_t pad_18[0x20 - 0x18];
    be::little_uint32_buf_t large_sectors;         // 0x20: 0
    std::uint8_t pad_24[0x28 - 0x24];
    be::little_int64_buf_t number_of_sectors;      // 0x28
    be::little_int64_buf_t mft_lcn;                // 0x30
    be::little_int64_buf_t mftmirr_lcn;            // 0x38
    std::int8_t clusters_per_mft_record;           // 0x40
    std::uint8_t pad_41[3];
    std::int8_t clusters_per_index_record;         // 0x44
    std::uint8_t pad_45[3];
    be::little_uint64_buf_t serial;                // 0x48
    std::uint8_t pad_50[0x1FE - 0x50];
    be::little_uint16_buf_t end_marker;            // 0x1FE: 0xAA55
};
static_assert(sizeof(BootSector) == 512 && alignof(BootSector) == 1);
static_assert(offsetof(BootSector, number_of_sectors) == 0x28);
static_assert(offsetof(BootSector, clusters_per_mft_record) == 0x40);
static_assert(offsetof(BootSector, clusters_per_index_record) == 0x44);

Failure bad_field(std::size_t offset, std::string message) {
    return fail(Errc::corrupt, std::move(message), offset);
}

bool is_power_of_2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

struct Geometry {
    std::uint64_t sector_size = 0;
    std::uint64_t cluster_size = 0;
    unsigned cluster_bits = 0;
    std::uint64_t nr_clusters = 0;
    std::uint64_t mft_lcn = 0;
    std::uint64_t record_size = 0;
    unsigned record_bits = 0;
};

/// The size a clusters_per_{mft,index}_record byte encodes, or nothing if
/// the encoding is invalid: 1..64 clusters, or -9..-31 for 2^-v bytes
/// (what mkntfs and Windows write; ntfs-3g accepts the same ranges).
std::optional<std::uint64_t> record_size_from(std::int8_t v, std::uint64_t cluster_size) {
    if (v > 0 && v <= 64 && is_power_of_2(static_cast<std::uint64_t>(v)))
        return static_cast<std::uint64_t>(v) * cluster_size;
    if (v < 0 && v >= -31) return std::uint64_t{1} << -v;
    return std::nullopt;
}

Result<Geometry> read_geometry(const Device& dev) {
    VMDF_TRY_ASSIGN(const BootSector bs, read_struct<BootSector>(dev, 0));
    if (std::string_view(bs.oem_id, 8) != kOemNtfs) return bad_field(3, "not an NTFS boot sector");
    Geometry g;
    g.sector_size = bs.bytes_per_sector.value();
    if (g.sector_size < 256 || g.sector_size > 4096 || !is_power_of_2(g.sector_size))
        return bad_field(offsetof(BootSector, bytes_per_sector),
                         fmt::format("bytes per sector {} invalid", g.sector_size));
    const unsigned spc = bs.sectors_per_cluster;
    unsigned spc_bits = 0;
    if (spc > 0x80) {
        spc_bits = 256 - spc;  // negative shift encoding: 2^(256-v) sectors
    } else if (is_power_of_2(spc)) {
        spc_bits = static_cast<unsigned>(std::countr_zero(spc));
    } else {
        return bad_field(offsetof(BootSector, sectors_per_cluster),
                         fmt::format("sectors per cluster {:#x} invalid", spc));
    }
    if (spc_bits > 31 || (g.sector_size << spc_bits) > kMaxClusterSize)
        return bad_field(offsetof(BootSector, sectors_per_cluster),
                         fmt::format("sectors per cluster {:#x}: cluster larger than 2 MiB", spc));
    g.cluster_size = g.sector_size << spc_bits;
    g.cluster_bits = static_cast<unsigned>(std::countr_zero(g.cluster_size));
    // The FAT fields of the BPB must be zero on NTFS.
    if (bs.reserved_sectors.value() != 0)
        return bad_field(offsetof(BootSector, reserved_sectors), "reserved sectors not 0");
    if (bs.fats != 0) return bad_field(offsetof(BootSector, fats), "number of FATs not 0");
    if (bs.root_entries.value() != 0)
        return bad_field(offsetof(BootSector, root_entries), "root entries not 0");
    if (bs.sectors.value() != 0) return bad_field(offsetof(BootSector, sectors), "16-bit sectors not 0");
    if (bs.sectors_per_fat.value() != 0)
        return bad_field(offsetof(BootSector, sectors_per_fat), "sectors per FAT not 0");
    if (bs.large_sectors.value() != 0)
        return bad_field(offsetof(BootSector, large_sectors), "32-bit sectors not 0");
    const auto mft_size = record_size_from(bs.clusters_per_mft_record, g.cluster_size);
    if (!mft_size || *mft_size < kMinRecordSize || *mft_size > kMaxRecordSize)
        return bad_field(offsetof(BootSector, clusters_per_mft_record),
                         fmt::format("clusters per MFT record {} invalid", bs.clusters_per_mft_record));
    g.record_size = *mft_size;
    g.record_bits = static_cast<unsigned>(std::countr_zero(g.record_size));
    if (!record_size_from(bs.clusters_per_index_record, g.cluster_size))
        return bad_field(offsetof(BootSector, clusters_per_index_record),
                         fmt::format("clusters per index record {} invalid",
                                     bs.clusters_per_index_record));

    const std::int64_t sectors = bs.number_of_sectors.value();
    if (sectors <= 0)
        return bad_field(offsetof(BootSector, number_of_sectors),
                         fmt::format("number of sectors {} invalid", sectors));
    g.nr_clusters = static_cast<std::uint64_t>(sectors) >> spc_bits;
    if (g.nr_clusters == 0)
        return bad_field(offsetof(BootSector, number_of_sectors), "volume smaller than a cluster");
    const auto volume_bytes = checked_mul(static_cast<std::uint64_t>(sectors), g.sector_size);
    if (!volume_bytes || *volume_bytes > dev.size())
        return failf(Errc::truncated, offsetof(BootSector, number_of_sectors),
                     "{} sectors of {} bytes do not fit in the {}-byte device", sectors,
                     g.sector_size, dev.size());
    const std::int64_t mft = bs.mft_lcn.value(), mirr = bs.mftmirr_lcn.value();
    if (mft <= 0 || static_cast<std::uint64_t>(mft) >= g.nr_clusters)
        return bad_field(offsetof(BootSector, mft_lcn),
                         fmt::format("$MFT at cluster {} outside the {} clusters", mft, g.nr_clusters));
    if (mirr <= 0 || static_cast<std::uint64_t>(mirr) >= g.nr_clusters)
        return bad_field(offsetof(BootSector, mftmirr_lcn),
                         fmt::format("$MFTMirr at cluster {} outside the {} clusters", mirr,
                                     g.nr_clusters));
    g.mft_lcn = static_cast<std::uint64_t>(mft);
    return g;
}

// --- Runlists ---------------------------------------------------------------------

struct Run {
    std::uint64_t vcn, length;
    std::optional<std::uint64_t> lcn;  // nothing: sparse
};

/// Decodes the mapping pairs of a non-resident attribute (`attr` is the
/// whole attribute; `where` is its byte offset on disk, for messages),
/// appending to `runs`. The runs must start at lowest_vcn = `next_vcn`
/// and end exactly at highest_vcn + 1; every LCN inside the volume.
Status decode_runs(const ByteReader& attr, std::uint64_t where, const Geometry& g,
                   std::uint64_t& next_vcn, std::vector<Run>& runs) {
    VMDF_TRY_ASSIGN(const auto lowest, attr.at<be::little_uint64_buf_t>(16));
    VMDF_TRY_ASSIGN(const auto highest, attr.at<be::little_uint64_buf_t>(24));
    VMDF_TRY_ASSIGN(const auto pairs_off, attr.at<be::little_uint16_buf_t>(32));
    if (lowest.value() != next_vcn)
        return failf(Errc::corrupt, where + 16, "runlist starts at VCN {}, expected {}",
                     lowest.value(), next_vcn);
    if (highest.value() + 1 < lowest.value() || highest.value() >= (std::uint64_t{1} << 62))
        return failf(Errc::corrupt, where + 24, "highest VCN {} invalid", highest.value());
    const std::uint64_t end_vcn = highest.value() + 1;
    std::uint64_t pos = pairs_off.value(), vcn = lowest.value();
    std::int64_t lcn = 0;
    while (true) {
        VMDF_TRY_ASSIGN(const std::uint8_t header, attr.at<std::uint8_t>(pos));
        if (header == 0) break;
        const unsigned len_size = header & 0xF, off_size = header >> 4;
        if (len_size == 0 || len_size > 8 || off_size > 8)
            return failf(Errc::corrupt, where + pos, "runlist header byte {:#04x} invalid", header);
        VMDF_TRY_ASSIGN(auto bytes, attr.bytes(pos + 1, len_size + off_size));
        std::uint64_t length = 0;
        for (unsigned i = 0; i < len_size; ++i)
            length |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[i])} << (8 * i);
        if (length == 0 || length > end_vcn - vcn)
            return failf(Errc::corrupt, where + pos,
                         "run of {} clusters at VCN {} does not fit the attribute's VCNs {}..{}",
                         length, vcn, lowest.value(), highest.value());
        Run run{vcn, length, std::nullopt};
        if (off_size != 0) {
            std::uint64_t raw = 0;
            for (unsigned i = 0; i < off_size; ++i)
                raw |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[len_size + i])} << (8 * i);
            if (off_size < 8 && (raw >> (8 * off_size - 1)) & 1) raw |= ~std::uint64_t{0} << (8 * off_size);
            const auto delta = static_cast<std::int64_t>(raw);
            if (__builtin_add_overflow(lcn, delta, &lcn) || lcn < 0 ||
                static_cast<std::uint64_t>(lcn) >= g.nr_clusters ||
                length > g.nr_clusters - static_cast<std::uint64_t>(lcn))
                return failf(Errc::corrupt, where + pos,
                             "run of {} clusters at LCN {} lies outside the volume ({} clusters)",
                             length, lcn, g.nr_clusters);
            run.lcn = static_cast<std::uint64_t>(lcn);
        }
        if (runs.size() >= kMaxRuns)
            return failf(Errc::unsupported, where + pos, "more than {} runs", kMaxRuns);
        runs.push_back(run);
        vcn += length;
        pos += 1 + len_size + off_size;
    }
    if (vcn != end_vcn)
        return failf(Errc::corrupt, where + pairs_off.value(),
                     "runlist covers VCNs up to {}, the attribute up to {}", vcn, end_vcn);
    next_vcn = vcn;
    return {};
}

/// Reads bytes [offset, offset + out.size()) of an attribute's data through
/// its runs; sparse runs read as zeros.
Status read_runs(const Device& dev, const Geometry& g, const std::vector<Run>& runs,
                 std::uint64_t offset, std::span<std::byte> out) {
    std::size_t done = 0;
    auto it = std::upper_bound(runs.begin(), runs.end(), offset >> g.cluster_bits,
                               [](std::uint64_t v, const Run& r) { return v < r.vcn; });
    if (it == runs.begin()) return failf(Errc::corrupt, std::nullopt, "no run maps byte {}", offset);
    --it;
    while (done < out.size()) {
        if (it == runs.end())
            return failf(Errc::corrupt, std::nullopt, "no run maps byte {} of the attribute",
                         offset + done);
        const std::uint64_t pos = offset + done;
        const std::uint64_t run_start = it->vcn << g.cluster_bits;
        const std::uint64_t run_end = (it->vcn + it->length) << g.cluster_bits;
        if (pos >= run_end) { ++it; continue; }
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(run_end - pos, out.size() - done));
        auto part = out.subspan(done, n);
        if (it->lcn)
            VMDF_TRY(dev.read((*it->lcn << g.cluster_bits) + (pos - run_start), part));
        else
            std::fill(part.begin(), part.end(), std::byte{0});
        done += n;
    }
    return {};
}

// --- MFT records --------------------------------------------------------------------

/// One MFT record, fixups applied.
struct Record {
    std::vector<std::byte> bytes;
    std::uint64_t disk_offset = 0;  // of its first byte, for messages
    std::uint16_t flags = 0;
    std::uint32_t used = 0;
};

/// Undoes the update sequence (multi-sector transfer protection) of a FILE
/// or INDX record in place: the last two bytes of every 512-byte stride
/// must equal the sequence number, and get back the bytes saved in the array.
Status apply_fixups(std::vector<std::byte>& bytes, std::uint64_t disk_offset, std::string_view what) {
    const ByteReader r(bytes, disk_offset);
    VMDF_TRY_ASSIGN(const auto usa_ofs, r.at<be::little_uint16_buf_t>(4));
    VMDF_TRY_ASSIGN(const auto usa_count, r.at<be::little_uint16_buf_t>(6));
    const std::uint64_t strides = bytes.size() / kFixupStride;
    if (usa_count.value() != strides + 1 || (usa_ofs.value() & 1) ||
        usa_ofs.value() + 2 * std::uint64_t{usa_count.value()} > kFixupStride - 2)
        return failf(Errc::corrupt, disk_offset + 4, "{}: update sequence array invalid", what);
    for (std::uint64_t i = 0; i < strides; ++i) {
        const std::size_t end = static_cast<std::size_t>((i + 1) * kFixupStride - 2);
        const std::size_t usa = usa_ofs.value();
        if (bytes[end] != bytes[usa] || bytes[end + 1] != bytes[usa + 1])
            return failf(Errc::corrupt, disk_offset + end, "{}: update sequence mismatch at stride {}", what, i);
        bytes[end] = bytes[usa + 2 + 2 * i];
        bytes[end + 1] = bytes[usa + 3 + 2 * i];
    }
    return {};
}

Result<Record> load_record(std::vector<std::byte> bytes, std::uint64_t disk_offset, std::uint64_t number) {
    Record rec{std::move(bytes), disk_offset};
    const ByteReader r(rec.bytes, disk_offset);
    VMDF_TRY_ASSIGN(auto magic, r.bytes(0, 4));
    if (std::memcmp(magic.data(), "FILE", 4) != 0)
        return failf(Errc::corrupt, disk_offset, "MFT record {} has no FILE signature", number);
    VMDF_TRY(apply_fixups(rec.bytes, disk_offset, fmt::format("MFT record {}", number)));
    VMDF_TRY_ASSIGN(const auto flags, r.at<be::little_uint16_buf_t>(0x16));
    VMDF_TRY_ASSIGN(const auto used, r.at<be::little_uint32_buf_t>(0x18));
    rec.flags = flags.value();
    rec.used = used.value();
    if (rec.used > rec.bytes.size() || rec.used < 0x30)
        return failf(Errc::corrupt, disk_offset + 0x18, "MFT record {}: {} bytes in use invalid",
                     number, rec.used);
    return rec;
}

/// An attribute inside a record: its bytes and where they are.
struct Attribute {
    std::uint32_t type = 0;
    bool non_resident = false;
    std::uint64_t disk_offset = 0;
    std::span<const std::byte> bytes;
    std::uint64_t name_length = 0;
};

/// Every attribute of `rec`, in order, bounds-checked.
Result<std::vector<Attribute>> attributes(const Record& rec) {
    const ByteReader r(rec.bytes, rec.disk_offset);
    VMDF_TRY_ASSIGN(const auto first, r.at<be::little_uint16_buf_t>(0x14));
    std::vector<Attribute> out;
    std::uint64_t pos = first.value();
    while (true) {
        if (pos + 4 > rec.used)
            return failf(Errc::corrupt, rec.disk_offset + pos, "attribute past the record's used bytes");
        VMDF_TRY_ASSIGN(const auto type, r.at<be::little_uint32_buf_t>(pos));
        if (type.value() == kAttrEnd) break;
        VMDF_TRY_ASSIGN(const auto length, r.at<be::little_uint32_buf_t>(pos + 4));
        const std::uint64_t len = length.value();
        if (len < 24 || (len & 7) || len > rec.used - pos)
            return failf(Errc::corrupt, rec.disk_offset + pos + 4,
                         "attribute length {} out of the record's bounds", len);
        Attribute a;
        a.type = type.value();
        a.disk_offset = rec.disk_offset + pos;
        a.bytes = std::span<const std::byte>(rec.bytes).subspan(pos, len);
        a.non_resident = std::to_integer<std::uint8_t>(a.bytes[8]) != 0;
        a.name_length = std::to_integer<std::uint8_t>(a.bytes[9]);
        if (a.non_resident && len < 64)
            return failf(Errc::corrupt, a.disk_offset + 4, "non-resident attribute of {} bytes", len);
        out.push_back(a);
        pos += len;
    }
    return out;
}

/// The value of a resident attribute.
Result<std::span<const std::byte>> resident_value(const Attribute& a) {
    const ByteReader r(a.bytes, a.disk_offset);
    VMDF_TRY_ASSIGN(const auto len, r.at<be::little_uint32_buf_t>(16));
    VMDF_TRY_ASSIGN(const auto off, r.at<be::little_uint16_buf_t>(20));
    if (off.value() > a.bytes.size() || len.value() > a.bytes.size() - off.value())
        return failf(Errc::corrupt, a.disk_offset + 16, "resident value out of the attribute's bounds");
    return a.bytes.subspan(off.value(), len.value());
}

struct NonResident {
    std::uint64_t allocated = 0, data_size = 0, initialized = 0;
    std::vector<Run> runs;
};

/// Sizes and the first extent's runs of a non-resident attribute.
Result<NonResident> non_resident(const Attribute& a, const Geometry& g) {
    const ByteReader r(a.bytes, a.disk_offset);
    NonResident nr;
    VMDF_TRY_ASSIGN(const auto alloc, r.at<be::little_uint64_buf_t>(40));
    VMDF_TRY_ASSIGN(const auto data, r.at<be::little_uint64_buf_t>(48));
    VMDF_TRY_ASSIGN(const auto init, r.at<be::little_uint64_buf_t>(56));
    nr.allocated = alloc.value();
    nr.data_size = data.value();
    nr.initialized = init.value();
    if (nr.data_size > nr.allocated || nr.initialized > nr.data_size ||
        nr.allocated > (g.nr_clusters << g.cluster_bits))
        return failf(Errc::corrupt, a.disk_offset + 40,
                     "attribute sizes invalid (allocated {}, data {}, initialized {})", nr.allocated,
                     nr.data_size, nr.initialized);
    std::uint64_t next = 0;
    VMDF_TRY(decode_runs(r, a.disk_offset, g, next, nr.runs));
    return nr;
}

std::uint64_t mapped_bytes(const Geometry& g, const std::vector<Run>& runs) {
    return runs.empty() ? 0 : (runs.back().vcn + runs.back().length) << g.cluster_bits;
}

/// Reads MFT record `number` through $MFT's runs.
Result<Record> read_record(const Device& dev, const Geometry& g, const std::vector<Run>& mft_runs,
                           std::uint64_t number) {
    const std::uint64_t offset = number << g.record_bits;
    if (offset + g.record_size > mapped_bytes(g, mft_runs))
        return failf(Errc::corrupt, std::nullopt, "MFT record {} is past $MFT's runlist", number);
    std::vector<std::byte> bytes(static_cast<std::size_t>(g.record_size));
    VMDF_TRY(read_runs(dev, g, mft_runs, offset, bytes));
    // For messages: where the record starts on disk.
    auto it = std::upper_bound(mft_runs.begin(), mft_runs.end(), offset >> g.cluster_bits,
                               [](std::uint64_t v, const Run& r) { return v < r.vcn; });
    --it;
    const std::uint64_t disk = it->lcn ? (*it->lcn << g.cluster_bits) + offset - (it->vcn << g.cluster_bits) : 0;
    return load_record(std::move(bytes), disk, number);
}

const Attribute* find(const std::vector<Attribute>& attrs, std::uint32_t type) {
    for (const Attribute& a : attrs)
        if (a.type == type && a.name_length == 0) return &a;
    return nullptr;
}

/// $MFT's $DATA runlist, following $ATTRIBUTE_LIST into extension records
/// when $MFT is fragmented beyond what record 0 holds.
Result<NonResident> mft_data(const Device& dev, const Geometry& g, const Record& rec0,
                             const std::vector<Attribute>& attrs) {
    const Attribute* data = find(attrs, kAttrData);
    if (!data || !data->non_resident)
        return failf(Errc::corrupt, rec0.disk_offset, "$MFT has no non-resident $DATA");
    VMDF_TRY_ASSIGN(NonResident nr, non_resident(*data, g));
    const std::uint64_t want_vcns = (nr.allocated + g.cluster_size - 1) >> g.cluster_bits;
    std::uint64_t next_vcn = nr.runs.empty() ? 0 : nr.runs.back().vcn + nr.runs.back().length;
    if (next_vcn >= want_vcns) return nr;

    const Attribute* list = find(attrs, kAttrList);
    if (!list)
        return failf(Errc::corrupt, data->disk_offset,
                     "$MFT's runlist covers {} of {} clusters and there is no attribute list",
                     next_vcn, want_vcns);
    std::vector<std::byte> list_bytes;
    if (list->non_resident) {
        VMDF_TRY_ASSIGN(NonResident lnr, non_resident(*list, g));
        if (lnr.data_size > kMaxRecordSize * 16)
            return failf(Errc::unsupported, list->disk_offset, "attribute list of {} bytes", lnr.data_size);
        list_bytes.resize(static_cast<std::size_t>(lnr.data_size));
        VMDF_TRY(read_runs(dev, g, lnr.runs, 0, list_bytes));
    } else {
        VMDF_TRY_ASSIGN(auto value, resident_value(*list));
        list_bytes.assign(value.begin(), value.end());
    }
    const ByteReader lr(list_bytes, list->disk_offset);
    std::size_t extents = 0;
    for (std::uint64_t pos = 0; pos + 26 <= list_bytes.size();) {
        VMDF_TRY_ASSIGN(const auto type, lr.at<be::little_uint32_buf_t>(pos));
        VMDF_TRY_ASSIGN(const auto len, lr.at<be::little_uint16_buf_t>(pos + 4));
        VMDF_TRY_ASSIGN(const auto name_len, lr.at<std::uint8_t>(pos + 6));
        VMDF_TRY_ASSIGN(const auto lowest, lr.at<be::little_uint64_buf_t>(pos + 8));
        VMDF_TRY_ASSIGN(const auto ref, lr.at<be::little_uint64_buf_t>(pos + 16));
        if (len.value() < 26 || (len.value() & 7))
            return failf(Errc::corrupt, list->disk_offset + pos + 4, "attribute list entry length {}",
                         len.value());
        const std::uint64_t record = ref.value() & 0xFFFFFFFFFFFF;
        if (type.value() == kAttrData && name_len == 0 && lowest.value() > 0) {
            if (lowest.value() != next_vcn || record == kRecordMft)
                return failf(Errc::corrupt, list->disk_offset + pos,
                             "$MFT extent at VCN {} in record {} does not continue VCN {} (a loop?)",
                             lowest.value(), record, next_vcn);
            if (++extents > kMaxExtents)
                return failf(Errc::unsupported, list->disk_offset + pos, "more than {} $MFT extents",
                             kMaxExtents);
            VMDF_TRY_ASSIGN(const Record ext, read_record(dev, g, nr.runs, record));
            VMDF_TRY_ASSIGN(const auto ext_attrs, attributes(ext));
            const Attribute* ext_data = nullptr;
            for (const Attribute& a : ext_attrs) {
                if (a.type != kAttrData || a.name_length != 0 || !a.non_resident) continue;
                const ByteReader ar(a.bytes, a.disk_offset);
                VMDF_TRY_ASSIGN(const auto low, ar.at<be::little_uint64_buf_t>(16));
                if (low.value() == next_vcn) ext_data = &a;
            }
            if (!ext_data)
                return failf(Errc::corrupt, ext.disk_offset, "MFT record {} lacks $MFT's extent at VCN {}",
                             record, next_vcn);
            VMDF_TRY(decode_runs(ByteReader(ext_data->bytes, ext_data->disk_offset), ext_data->disk_offset,
                                 g, next_vcn, nr.runs));
        }
        pos += len.value();
    }
    if (next_vcn < want_vcns)
        return failf(Errc::corrupt, data->disk_offset, "$MFT's runlists cover {} of {} clusters",
                     next_vcn, want_vcns);
    return nr;
}

/// Zero bits in `length` bytes of attribute data read through `runs`,
/// chunk by chunk; bytes past `initialized` count as zeros.
Result<std::uint64_t> count_zero_bits(const Device& dev, const Geometry& g, const NonResident& nr) {
    if (nr.data_size > mapped_bytes(g, nr.runs))
        return failf(Errc::corrupt, std::nullopt, "{} bytes of data but only {} mapped", nr.data_size,
                     mapped_bytes(g, nr.runs));
    std::uint64_t zeros = 0;
    std::vector<std::byte> buf(static_cast<std::size_t>(std::min(kChunk, std::max<std::uint64_t>(nr.initialized, 1))));
    for (std::uint64_t pos = 0; pos < nr.initialized; pos += buf.size()) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), nr.initialized - pos));
        auto part = std::span(buf).first(n);
        VMDF_TRY(read_runs(dev, g, nr.runs, pos, part));
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            std::uint64_t w;
            std::memcpy(&w, part.data() + i, 8);
            zeros += 64 - static_cast<unsigned>(std::popcount(w));
        }
        for (; i < n; ++i) zeros += 8 - static_cast<unsigned>(std::popcount(std::to_integer<std::uint8_t>(part[i])));
    }
    return zeros + (nr.data_size - nr.initialized) * 8;
}

bool volume_dirty(const std::vector<Attribute>& attrs) {
    const Attribute* info = find(attrs, kAttrVolumeInfo);
    if (!info || info->non_resident) return false;
    auto value = resident_value(*info);
    if (!value || value->size() < 12) return false;
    const auto flags = std::to_integer<std::uint16_t>((*value)[10]) |
                       static_cast<std::uint16_t>(std::to_integer<std::uint16_t>((*value)[11]) << 8);
    return (flags & kVolumeDirty) != 0;
}

// --- What makes ntfs-3g's figures stale -------------------------------------------
// ntfs-3g checks $LogFile and hiberfil.sys for read-write mounts only
// (ntfs_device_mount); a read-only mount, like libguestfs', reads the
// volume as Windows left it. These checks only explain the figures.

constexpr std::uint64_t kRecordLogFile = 2, kRecordRoot = 5;
constexpr std::uint32_t kAttrIndexRoot = 0x90, kAttrIndexAllocation = 0xA0;
/// What ntfs-3g reads of a potential restart page (NTFS_BLOCK_SIZE).
constexpr std::uint64_t kLogBlock = 512;
constexpr std::uint64_t kMinLogPage = 512, kMaxLogPage = 64 * 1024;
constexpr std::uint16_t kLogNoClient = 0xFFFF;            // LOGFILE_NO_CLIENT
constexpr std::uint16_t kRestartVolumeIsClean = 0x0002;  // RESTART_VOLUME_IS_CLEAN
/// hiberfil.sys's header, as ntfs_volume_check_hiberfile reads it.
constexpr std::uint64_t kHiberHeader = 4096;
constexpr std::uint64_t kMaxIndexAllocation = 16 * 1024 * 1024;
constexpr std::size_t kMaxIndexEntries = 1 << 16;

bool begins(std::span<const std::byte> bytes, std::string_view text) {
    return bytes.size() >= text.size() && std::memcmp(bytes.data(), text.data(), text.size()) == 0;
}

const Attribute* find_named(const std::vector<Attribute>& attrs, std::uint32_t type) {
    for (const Attribute& a : attrs)
        if (a.type == type) return &a;
    return nullptr;
}

/// ntfs_check_logfile and ntfs_is_logfile_clean (libntfs-3g/logfile.c):
/// the most recent restart area's account of how Windows left the volume,
/// as a warning, or nothing if the log is empty or clean.
Result<std::optional<std::string>> logfile_warning(const Device& dev, const Geometry& g,
                                                   const std::vector<Run>& mft_runs) {
    VMDF_TRY_ASSIGN(const Record rec, read_record(dev, g, mft_runs, kRecordLogFile));
    VMDF_TRY_ASSIGN(const auto attrs, attributes(rec));
    const Attribute* data = find(attrs, kAttrData);
    if (!data || !data->non_resident)
        return failf(Errc::corrupt, rec.disk_offset, "$LogFile has no non-resident $DATA");
    VMDF_TRY_ASSIGN(const NonResident nr, non_resident(*data, g));
    const std::uint64_t size = std::min(nr.initialized, mapped_bytes(g, nr.runs));
    struct Restart {
        std::uint64_t lsn;
        std::uint16_t clients, flags;
        std::int16_t major, minor;
    };
    std::optional<Restart> best;
    bool empty = true;
    std::vector<std::byte> page(kLogBlock);
    // Restart pages sit at 0 and at the system page size; ntfs-3g looks at
    // every power of two from 512 up for the second.
    for (std::uint64_t pos = 0; pos + kLogBlock <= size; pos = pos ? pos << 1 : kLogBlock) {
        VMDF_TRY(read_runs(dev, g, nr.runs, pos, page));
        const ByteReader r(page, pos);
        if (begins(page, "\xFF\xFF\xFF\xFF")) {
            if (!empty) break;
            continue;
        }
        empty = false;
        if (begins(page, "RCRD")) break;  // log records: no restart page after them
        if (!begins(page, "RSTR") && !begins(page, "CHKD")) continue;
        VMDF_TRY_ASSIGN(const auto system_page, r.at<be::little_uint32_buf_t>(16));
        VMDF_TRY_ASSIGN(const auto log_page, r.at<be::little_uint32_buf_t>(20));
        VMDF_TRY_ASSIGN(const auto ra_ofs, r.at<be::little_uint16_buf_t>(24));
        VMDF_TRY_ASSIGN(const auto minor, r.at<be::little_int16_buf_t>(26));
        VMDF_TRY_ASSIGN(const auto major, r.at<be::little_int16_buf_t>(28));
        auto page_size_ok = [](std::uint64_t v) { return is_power_of_2(v) && v >= kMinLogPage && v <= kMaxLogPage; };
        const bool version_ok = (major.value() == 1 && minor.value() == 1) || (major.value() == 2 && minor.value() == 0);
        // An invalid restart page is passed over, as ntfs-3g passes it over.
        const bool header_ok = page_size_ok(system_page.value()) && page_size_ok(log_page.value()) &&
                               version_ok && (pos == 0 || pos == system_page.value()) &&
                               !(ra_ofs.value() & 7) && ra_ofs.value() + std::uint64_t{16} <= kLogBlock;
        if (!header_ok) {
            if (pos != 0) break;
            continue;
        }
        VMDF_TRY_ASSIGN(const auto lsn, r.at<be::little_uint64_buf_t>(ra_ofs.value()));
        VMDF_TRY_ASSIGN(const auto clients, r.at<be::little_uint16_buf_t>(ra_ofs.value() + 12u));
        VMDF_TRY_ASSIGN(const auto flags, r.at<be::little_uint16_buf_t>(ra_ofs.value() + 14u));
        const Restart found{lsn.value(), clients.value(), flags.value(), major.value(), minor.value()};
        if (!best || found.lsn > best->lsn) best = found;  // the second only if more recent
        if (pos != 0) break;
    }
    if (empty) return std::optional<std::string>{};
    if (!best)
        return std::optional<std::string>{
            "$LogFile is neither empty nor has a valid restart page: the figures may be stale"};
    if (best->major == 2 && best->minor == 0)
        return std::optional<std::string>{
            "Windows kept metadata cached (Fast Startup, hibernation or a power cut): the figures are "
            "as Windows last wrote them"};
    if (best->clients != kLogNoClient && !(best->flags & kRestartVolumeIsClean))
        return std::optional<std::string>{
            "Windows did not shut down cleanly ($LogFile needs replay): the figures are as it left "
            "them, the log not replayed"};
    return std::optional<std::string>{};
}

/// The MFT reference of "hiberfil.sys" among the index entries of the
/// index header at `header` in `block`, or nothing.
Result<std::optional<std::uint64_t>> find_hiberfile(std::span<const std::byte> block, std::uint64_t header,
                                                    std::uint64_t disk_offset) {
    const ByteReader r(block, disk_offset);
    VMDF_TRY_ASSIGN(const auto entries_offset, r.at<be::little_uint32_buf_t>(header));
    VMDF_TRY_ASSIGN(const auto index_length, r.at<be::little_uint32_buf_t>(header + 4));
    const std::uint64_t end = header + index_length.value();
    if (end > block.size())
        return failf(Errc::corrupt, disk_offset + header + 4, "index of {} bytes runs past its {}-byte block",
                     index_length.value(), block.size());
    std::uint64_t pos = header + entries_offset.value();
    for (std::size_t n = 0; n < kMaxIndexEntries; ++n) {
        VMDF_TRY_ASSIGN(const auto ref, r.at<be::little_uint64_buf_t>(pos));
        VMDF_TRY_ASSIGN(const auto length, r.at<be::little_uint16_buf_t>(pos + 8));
        VMDF_TRY_ASSIGN(const auto key_length, r.at<be::little_uint16_buf_t>(pos + 10));
        VMDF_TRY_ASSIGN(const auto flags, r.at<be::little_uint16_buf_t>(pos + 12));
        if (length.value() < 16 || pos + length.value() > end || 16u + key_length.value() > length.value())
            return failf(Errc::corrupt, disk_offset + pos + 8, "index entry of {} bytes invalid", length.value());
        if (flags.value() & 0x2) return std::optional<std::uint64_t>{};  // INDEX_ENTRY_END
        // The key is a $FILE_NAME value: name length at 64, UTF-16 name at 66.
        constexpr std::string_view kName = "hiberfil.sys";
        if (key_length.value() >= 66 + 2 * kName.size()) {
            VMDF_TRY_ASSIGN(const auto name_length, r.at<std::uint8_t>(pos + 16 + 64));
            VMDF_TRY_ASSIGN(const auto name, r.bytes(pos + 16 + 66, 2 * kName.size()));
            bool same = name_length == kName.size();
            for (std::size_t i = 0; same && i < kName.size(); ++i) {
                const auto lo = std::to_integer<unsigned char>(name[2 * i]);
                const auto hi = std::to_integer<unsigned char>(name[2 * i + 1]);
                same = hi == 0 && std::tolower(lo) == kName[i];
            }
            if (same) return std::optional<std::uint64_t>{ref.value() & 0xFFFFFFFFFFFF};
        }
        pos += length.value();
    }
    return failf(Errc::unsupported, disk_offset + header, "more than {} index entries", kMaxIndexEntries);
}

/// ntfs_volume_check_hiberfile: /hiberfil.sys is there and either shorter
/// than its 4 KiB header or begins "hibr" or "HIBR". The root directory's
/// index is searched whole (its root, then every INDX block its bitmap
/// marks in use), not walked as a B+ tree: names need no collation so.
Result<bool> hibernated(const Device& dev, const Geometry& g, const std::vector<Run>& mft_runs) {
    VMDF_TRY_ASSIGN(const Record root, read_record(dev, g, mft_runs, kRecordRoot));
    VMDF_TRY_ASSIGN(const auto attrs, attributes(root));
    const Attribute* index_root = find_named(attrs, kAttrIndexRoot);
    if (!index_root || index_root->non_resident)
        return failf(Errc::corrupt, root.disk_offset, "the root directory has no resident $INDEX_ROOT");
    VMDF_TRY_ASSIGN(const auto root_value, resident_value(*index_root));
    const std::uint64_t root_at = index_root->disk_offset;
    VMDF_TRY_ASSIGN(auto ref, find_hiberfile(root_value, 16, root_at));
    const Attribute* allocation = find_named(attrs, kAttrIndexAllocation);
    const Attribute* bitmap = find_named(attrs, kAttrBitmap);
    if (!ref && allocation && allocation->non_resident && bitmap && !bitmap->non_resident) {
        VMDF_TRY_ASSIGN(const auto block_size_raw, ByteReader(root_value, root_at).at<be::little_uint32_buf_t>(8));
        const std::uint64_t block_size = block_size_raw.value();
        if (!is_power_of_2(block_size) || block_size < kFixupStride || block_size > kMaxRecordSize)
            return failf(Errc::corrupt, root_at + 8, "index block size {} invalid", block_size);
        VMDF_TRY_ASSIGN(const NonResident nr, non_resident(*allocation, g));
        if (nr.data_size > kMaxIndexAllocation)
            return failf(Errc::unsupported, allocation->disk_offset, "root directory index of {} bytes",
                         nr.data_size);
        VMDF_TRY_ASSIGN(const auto in_use, resident_value(*bitmap));
        for (std::uint64_t i = 0; !ref && (i + 1) * block_size <= nr.data_size; ++i) {
            if (i / 8 >= in_use.size()) break;
            if (!((std::to_integer<unsigned>(in_use[i / 8]) >> (i % 8)) & 1)) continue;
            std::vector<std::byte> block(static_cast<std::size_t>(block_size));
            VMDF_TRY(read_runs(dev, g, nr.runs, i * block_size, block));
            if (!begins(block, "INDX"))
                return failf(Errc::corrupt, allocation->disk_offset, "root directory index block {} is not INDX", i);
            VMDF_TRY(apply_fixups(block, allocation->disk_offset, fmt::format("index block {}", i)));
            VMDF_TRY_ASSIGN(ref, find_hiberfile(block, 24, allocation->disk_offset));
        }
    }
    if (!ref) return false;
    VMDF_TRY_ASSIGN(const Record hiber, read_record(dev, g, mft_runs, *ref));
    VMDF_TRY_ASSIGN(const auto hiber_attrs, attributes(hiber));
    const Attribute* data = find(hiber_attrs, kAttrData);
    if (!data) return failf(Errc::unsupported, hiber.disk_offset, "hiberfil.sys's $DATA is not in its base record");
    std::vector<std::byte> header(4);
    std::uint64_t size = 0;
    if (data->non_resident) {
        VMDF_TRY_ASSIGN(const NonResident nr, non_resident(*data, g));
        size = nr.data_size;
        if (nr.initialized >= header.size() && size >= header.size())
            VMDF_TRY(read_runs(dev, g, nr.runs, 0, header));
    } else {
        VMDF_TRY_ASSIGN(const auto value, resident_value(*data));
        size = value.size();
        std::copy_n(value.begin(), std::min<std::size_t>(value.size(), header.size()), header.begin());
    }
    return size < kHiberHeader || begins(header, "hibr") || begins(header, "HIBR");
}

/// BitLocker volumes ("-FVE-FS-") are the bitlocker plugin's.
Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(const BootSector bs, read_struct<BootSector>(dev, 0));
    return std::string_view(bs.oem_id, 8) == kOemNtfs ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    Filesystem fs;
    fs.type = "ntfs";
    VMDF_TRY_ASSIGN(const Geometry g, read_geometry(dev));

    // Record 0 ($MFT) at mft_lcn: it maps the rest of the MFT.
    const std::uint64_t rec0_offset = g.mft_lcn << g.cluster_bits;
    if (rec0_offset + g.record_size > (g.nr_clusters << g.cluster_bits))
        return failf(Errc::corrupt, offsetof(BootSector, mft_lcn), "$MFT record 0 past the volume");
    VMDF_TRY_ASSIGN(auto rec0_bytes, read_bytes(dev, rec0_offset, g.record_size, kMaxRecordSize));
    VMDF_TRY_ASSIGN(const Record rec0, load_record(std::move(rec0_bytes), rec0_offset, kRecordMft));
    VMDF_TRY_ASSIGN(const auto rec0_attrs, attributes(rec0));
    VMDF_TRY_ASSIGN(const NonResident mft, mft_data(dev, g, rec0, rec0_attrs));
    if (mft.data_size < (kRecordBitmap + 1) * g.record_size)
        return failf(Errc::corrupt, rec0.disk_offset, "$MFT of {} bytes lacks the system files",
                     mft.data_size);

    // $MFT's $BITMAP: which records are in use.
    const Attribute* mft_bitmap = find(rec0_attrs, kAttrBitmap);
    if (!mft_bitmap) return failf(Errc::corrupt, rec0.disk_offset, "$MFT has no $BITMAP");
    std::uint64_t mftbmp_allocated = 0, mftbmp_zeros = 0, mftbmp_size = 0;
    if (mft_bitmap->non_resident) {
        VMDF_TRY_ASSIGN(const NonResident nr, non_resident(*mft_bitmap, g));
        VMDF_TRY_ASSIGN(mftbmp_zeros, count_zero_bits(dev, g, nr));
        mftbmp_allocated = nr.allocated;
        mftbmp_size = nr.data_size;
    } else {
        VMDF_TRY_ASSIGN(const auto value, resident_value(*mft_bitmap));
        for (std::byte b : value) mftbmp_zeros += 8 - static_cast<unsigned>(std::popcount(std::to_integer<std::uint8_t>(b)));
        mftbmp_size = value.size();
        mftbmp_allocated = (mftbmp_size + 7) & ~std::uint64_t{7};
    }

    // Record 6 ($Bitmap): one bit per cluster.
    VMDF_TRY_ASSIGN(const Record rec6, read_record(dev, g, mft.runs, kRecordBitmap));
    if (!(rec6.flags & kRecordInUse))
        return failf(Errc::corrupt, rec6.disk_offset + 0x16, "$Bitmap's MFT record is not in use");
    VMDF_TRY_ASSIGN(const auto rec6_attrs, attributes(rec6));
    const Attribute* bitmap = find(rec6_attrs, kAttrData);
    if (!bitmap || !bitmap->non_resident)
        return failf(Errc::corrupt, rec6.disk_offset, "$Bitmap has no non-resident $DATA");
    VMDF_TRY_ASSIGN(const NonResident bm, non_resident(*bitmap, g));
    if (bm.data_size < (g.nr_clusters + 7) / 8)
        return failf(Errc::corrupt, bitmap->disk_offset + 48,
                     "$Bitmap of {} bytes is too small for {} clusters", bm.data_size, g.nr_clusters);
    VMDF_TRY_ASSIGN(const std::uint64_t free_clusters, count_zero_bits(dev, g, bm));

    // ntfs-3g: free clusters as MFT records, on top of the free records.
    const std::uint64_t as_records = g.cluster_bits >= g.record_bits
                                         ? free_clusters << (g.cluster_bits - g.record_bits)
                                         : free_clusters >> (g.record_bits - g.cluster_bits);
    StatVfs& st = fs.stat;
    st.bsize = st.frsize = g.cluster_size;
    st.blocks = g.nr_clusters;
    st.bfree = st.bavail = free_clusters;
    st.files = mftbmp_allocated * 8 + as_records;
    st.ffree = as_records + mftbmp_zeros + (mftbmp_allocated - mftbmp_size) * 8;

    // $Volume's flags: a volume Windows did not close cleanly.
    auto rec3 = read_record(dev, g, mft.runs, kRecordVolume);
    if (rec3) {
        auto rec3_attrs = attributes(*rec3);
        if (rec3_attrs && volume_dirty(*rec3_attrs))
            fs.warnings.push_back("the volume is marked dirty (needs chkdsk): the figures may be stale");
    }
    auto log = logfile_warning(dev, g, mft.runs);
    if (!log)
        fs.warnings.push_back("$LogFile unreadable (" + log.error().message + "): the figures may be stale");
    else if (*log)
        fs.warnings.push_back(**log);
    auto hiber = hibernated(dev, g, mft.runs);
    if (!hiber)
        fs.warnings.push_back("could not tell whether Windows is hibernated (" + hiber.error().message + ")");
    else if (*hiber)
        fs.warnings.push_back("hibernated: Windows was hibernated on this volume (hiberfil.sys), the figures are as of then");
    return fs;
}

constexpr Magic kMagics[] = {{3, kOemNtfs}};

}  // namespace
}  // namespace vmdf::ntfs

namespace vmdf {
constexpr FilesystemPlugin ntfs_plugin{"ntfs", ntfs::kMagics, ntfs::probe, ntfs::open};
}
