// SPDX-License-Identifier: GPL-2.0-or-later
// qcow2 images (QEMU), read-only: versions 2 and 3, 512 B to 2 MiB clusters,
// deflate and zstd compressed clusters, extended L2 entries (subclusters),
// external data files, backing files and internal snapshots. Layout from
// QEMU's docs/interop/qcow2.txt; where the text leaves a choice open, what
// QEMU's block/qcow2*.c does when it reads (noted where it matters).
#include "plugins/image/qcow2.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <list>
#include <mutex>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "core/byte_reader.hpp"
#include "core/image.hpp"
#include "plugins/image/qcow2_format.hpp"

namespace vmdf::qcow2 {
namespace {

using namespace std::string_view_literals;

/// L2 tables kept in memory per image, least recently used dropped first:
/// 16 tables map 8 GiB of guest with the default 64 KiB clusters, and
/// hold at most 32 MiB with 2 MiB ones.
constexpr std::size_t kL2CacheTables = 16;
/// Snapshots named in the "no such snapshot" message before "and N more".
constexpr std::size_t kMaxSnapshotsListed = 20;

std::uint64_t round_up8(std::uint64_t n) {
    return (n + 7) & ~std::uint64_t{7};
}

/// A name stored without a terminator; QEMU keeps it as a C string, so it
/// ends at the first NUL if there is one.
std::string stored_string(std::span<const std::byte> bytes) {
    std::string s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
    return s;
}

/// The header, checked, with what its extensions and cluster 0 add.
struct ImageHeader {
    std::uint32_t version = 0;
    std::uint32_t cluster_bits = 0;
    std::uint64_t size = 0;  // guest-visible bytes
    std::uint32_t l1_size = 0;
    std::uint64_t l1_table_offset = 0;
    std::uint32_t nb_snapshots = 0;
    std::uint64_t snapshots_offset = 0;
    std::uint64_t incompatible = 0;
    std::uint8_t compression_type = kCompressionDeflate;
    std::string backing_file, backing_format, data_file;
    std::vector<FeatureNameEntry> feature_names;

    std::uint64_t cluster_size() const { return std::uint64_t{1} << cluster_bits; }
    bool extended_l2() const { return (incompatible & kIncompatExtendedL2) != 0; }
    bool external_data() const { return (incompatible & kIncompatDataFile) != 0; }
    /// Entries per L2 table: 8 bytes each, 16 with extended L2 entries.
    std::uint64_t l2_entries() const { return cluster_size() / (extended_l2() ? 16 : 8); }
};

/// "NAME (bit N)" from the feature name table, or "bit N".
std::string incompatible_feature_name(const ImageHeader& h, unsigned bit) {
    for (const FeatureNameEntry& e : h.feature_names) {
        if (e.type != 0 || e.bit != bit) continue;
        const std::string name = stored_string(std::as_bytes(std::span(e.name)));
        if (!name.empty()) return fmt::format("{} (bit {})", name, bit);
    }
    return fmt::format("bit {}", bit);
}

/// Header extensions: from the end of the header to the backing file name
/// (or the end of cluster 0), each 8-byte aligned, until type 0.
Status read_extensions(std::span<const std::byte> cluster0, std::uint64_t start, std::uint64_t end,
                       ImageHeader& h) {
    const ByteReader reader(cluster0, 0);
    std::uint64_t offset = start;
    while (offset < end) {  // every pass moves on by at least 8 bytes
        VMDF_TRY_ASSIGN(const ExtensionHeader ext, reader.at<ExtensionHeader>(offset));
        const std::uint64_t data = offset + sizeof(ExtensionHeader);
        const std::uint32_t type = ext.type.value(), length = ext.length.value();
        if (type == kExtEnd) return {};
        if (data > end || length > end - data)
            return failf(Errc::corrupt, offset,
                         "header extension {:#010x} of {} bytes runs past the end of the "
                         "extension area ({} bytes)",
                         type, length, end);
        VMDF_TRY_ASSIGN(const auto bytes, reader.bytes(data, length));
        switch (type) {
            case kExtBackingFormat:
                if (length > kMaxFormatNameLength)
                    return failf(Errc::corrupt, offset, "backing format name of {} bytes (at most {})",
                                 length, kMaxFormatNameLength);
                h.backing_format = stored_string(bytes);
                break;
            case kExtDataFile:
                if (length > kMaxDataFileNameLength)
                    return failf(Errc::corrupt, offset, "data file name of {} bytes (at most {})", length,
                                 kMaxDataFileNameLength);
                h.data_file = stored_string(bytes);
                break;
            case kExtFeatureTable:
                for (std::uint64_t i = 0; i + sizeof(FeatureNameEntry) <= length;
                     i += sizeof(FeatureNameEntry)) {
                    FeatureNameEntry e;
                    std::memcpy(&e, bytes.data() + i, sizeof e);
                    h.feature_names.push_back(e);
                }
                break;
            default:  // bitmaps, the encryption header pointer, unknown ones
                break;
        }
        offset = data + round_up8(length);
    }
    return {};
}

Result<ImageHeader> read_header(const Device& file) {
    if (file.size() < kV2HeaderLength)
        return failf(Errc::truncated, 0, "file of {} bytes is shorter than a qcow2 header ({} bytes)",
                     file.size(), kV2HeaderLength);
    // The v3 fields are read too where the file has them; header_length
    // says which are real.
    Header raw{};
    VMDF_TRY(
        file.read(0, std::as_writable_bytes(std::span(&raw, 1))
                         .first(static_cast<std::size_t>(std::min<std::uint64_t>(sizeof raw, file.size())))));
    if (raw.magic.value() != kMagic)
        return failf(Errc::corrupt, 0, "magic {:#010x} is not a qcow2 image's (0x514649fb)",
                     raw.magic.value());

    ImageHeader h;
    h.version = raw.version.value();
    if (h.version == 1)
        return fail(Errc::unsupported, "version 1 (the older qcow format) is not supported", 4);
    if (h.version != 2 && h.version != 3)
        return failf(Errc::unsupported, 4, "qcow2 version {} is not supported (only 2 and 3)", h.version);

    h.cluster_bits = raw.cluster_bits.value();
    if (h.cluster_bits < kMinClusterBits)
        return failf(Errc::corrupt, offsetof(Header, cluster_bits), "cluster_bits {} below the minimum of {}",
                     h.cluster_bits, kMinClusterBits);
    if (h.cluster_bits > kMaxClusterBits)
        return failf(Errc::unsupported, offsetof(Header, cluster_bits),
                     "cluster_bits {}: clusters over 2 MiB are not supported (QEMU's limit)", h.cluster_bits);
    const std::uint64_t cluster_size = h.cluster_size();

    std::uint32_t header_length = kV2HeaderLength;
    if (h.version == 3) {
        if (file.size() < kV3MinHeaderLength)
            return failf(Errc::truncated, 0, "file of {} bytes is shorter than a version 3 header ({} bytes)",
                         file.size(), kV3MinHeaderLength);
        header_length = raw.header_length.value();
        if (header_length < kV3MinHeaderLength || header_length % 8 != 0 || header_length > cluster_size)
            return failf(Errc::corrupt, offsetof(Header, header_length),
                         "header_length {} out of range (a multiple of 8, {} to the cluster size {})",
                         header_length, kV3MinHeaderLength, cluster_size);
        if (raw.refcount_order.value() > kMaxRefcountOrder)
            return failf(Errc::corrupt, offsetof(Header, refcount_order), "refcount_order {} above {}",
                         raw.refcount_order.value(), kMaxRefcountOrder);
        h.incompatible = raw.incompatible_features.value();
        // A field counts only if the header reaches past its offset.
        if (header_length > offsetof(Header, compression_type)) h.compression_type = raw.compression_type;
    }

    switch (raw.crypt_method.value()) {
        case kCryptNone: break;
        case kCryptAes:
            return fail(Errc::unsupported,
                        "the image is encrypted (AES, crypt_method 1); encrypted images are not supported",
                        offsetof(Header, crypt_method));
        case kCryptLuks:
            return fail(Errc::unsupported,
                        "the image is encrypted (LUKS, crypt_method 2); encrypted images are not supported",
                        offsetof(Header, crypt_method));
        default:
            return failf(Errc::corrupt, offsetof(Header, crypt_method), "unknown crypt_method {}",
                         raw.crypt_method.value());
    }

    // QEMU sees the disk in whole 512-byte sectors (total_sectors).
    if (raw.size.value() > static_cast<std::uint64_t>(INT64_MAX))
        return failf(Errc::corrupt, offsetof(Header, size), "virtual size {} out of range", raw.size.value());
    h.size = raw.size.value() & ~std::uint64_t{511};

    h.l1_size = raw.l1_size.value();
    h.l1_table_offset = raw.l1_table_offset.value();
    if (h.l1_size > kMaxL1Entries)
        return failf(Errc::corrupt, offsetof(Header, l1_size), "l1_size {} above the limit of {} entries",
                     h.l1_size, kMaxL1Entries);
    if (h.l1_table_offset % cluster_size != 0)
        return failf(Errc::corrupt, offsetof(Header, l1_table_offset),
                     "L1 table offset {:#x} is not cluster aligned", h.l1_table_offset);
    h.nb_snapshots = raw.nb_snapshots.value();
    h.snapshots_offset = raw.snapshots_offset.value();
    if (h.nb_snapshots > kMaxSnapshots)
        return failf(Errc::corrupt, offsetof(Header, nb_snapshots), "nb_snapshots {} above the limit of {}",
                     h.nb_snapshots, kMaxSnapshots);
    if (h.nb_snapshots > 0 && h.snapshots_offset % cluster_size != 0)
        return failf(Errc::corrupt, offsetof(Header, snapshots_offset),
                     "snapshot table offset {:#x} is not cluster aligned", h.snapshots_offset);

    // Cluster 0 holds the extensions and the backing file name.
    const std::uint64_t backing_offset = raw.backing_file_offset.value();
    const std::uint32_t backing_size = raw.backing_file_size.value();
    if (backing_offset != 0 && (backing_offset > cluster_size || backing_size > kMaxBackingNameLength ||
                                backing_size > cluster_size - backing_offset))
        return failf(Errc::corrupt, offsetof(Header, backing_file_offset),
                     "backing file name ({} bytes at {:#x}) is not inside cluster 0 or longer than {} bytes",
                     backing_size, backing_offset, kMaxBackingNameLength);
    VMDF_TRY_ASSIGN(const auto cluster0,
                    read_bytes(file, 0, std::min(cluster_size, file.size()), kMaxClusterSize));
    VMDF_TRY(
        read_extensions(cluster0, header_length, backing_offset != 0 ? backing_offset : cluster_size, h));
    if (backing_offset != 0) {
        VMDF_TRY_ASSIGN(const auto name, ByteReader(cluster0, 0).bytes(backing_offset, backing_size));
        h.backing_file = stored_string(name);
    }

    // Incompatible features: refuse what cannot be read correctly.
    if (const std::uint64_t unknown = h.incompatible & ~kIncompatKnown) {
        std::string names;
        for (unsigned bit = 0; bit < 64; ++bit)
            if (unknown >> bit & 1) names += (names.empty() ? "" : ", ") + incompatible_feature_name(h, bit);
        return failf(Errc::unsupported, offsetof(Header, incompatible_features),
                     "unsupported incompatible feature{}: {}", std::popcount(unknown) > 1 ? "s" : "", names);
    }
    if (h.incompatible & kIncompatCompression) {
        if (h.compression_type == kCompressionDeflate)
            return fail(Errc::corrupt, "compression type bit set but compression_type is 0 or absent",
                        offsetof(Header, compression_type));
    } else if (h.compression_type != kCompressionDeflate) {
        return failf(Errc::corrupt, offsetof(Header, compression_type),
                     "compression_type {} without the compression type bit", h.compression_type);
    }
    if (h.compression_type > kCompressionZstd)
        return failf(Errc::unsupported, offsetof(Header, compression_type), "unknown compression_type {}",
                     h.compression_type);
    if (h.extended_l2() && h.cluster_bits < kMinExtendedL2ClusterBits)
        return failf(Errc::corrupt, offsetof(Header, cluster_bits),
                     "extended L2 entries with {}-byte clusters (at least {})", cluster_size,
                     std::uint64_t{1} << kMinExtendedL2ClusterBits);
    if (h.external_data() && h.data_file.empty())
        return fail(Errc::unsupported,
                    "the image keeps its data in an external file it does not name (no data file extension)");
    return h;
}

/// Which L1 table maps the disk, and how large the disk is.
struct ActiveTable {
    std::uint64_t l1_table_offset;
    std::uint32_t l1_size;
    std::uint64_t size;
};

struct SnapshotInfo {
    std::string id, name;
    std::uint64_t entry_offset;
    ActiveTable table;
};

/// The snapshot table ("Snapshots"), every entry.
Result<std::vector<SnapshotInfo>> read_snapshots(const Device& file, const ImageHeader& h) {
    std::vector<SnapshotInfo> snapshots;
    std::uint64_t offset = h.snapshots_offset, total = 0;
    for (std::uint32_t i = 0; i < h.nb_snapshots; ++i) {
        VMDF_TRY_ASSIGN(const SnapshotHeader sh, read_struct<SnapshotHeader>(file, offset));
        const std::uint32_t extra = sh.extra_data_size.value();
        if (extra > kMaxSnapshotExtraData)
            return failf(Errc::corrupt, offset, "snapshot {}: extra_data_size {} above the limit of {}", i,
                         extra, kMaxSnapshotExtraData);
        SnapshotInfo s{.id = {},
                       .name = {},
                       .entry_offset = offset,
                       .table = {sh.l1_table_offset.value(), sh.l1_size.value(), h.size}};
        // Older snapshots without the disk size had the image's own.
        if (extra >= sizeof(SnapshotExtra)) {
            VMDF_TRY_ASSIGN(const SnapshotExtra se, read_struct<SnapshotExtra>(file, offset + sizeof sh));
            s.table.size = se.disk_size.value();
        }
        const std::uint64_t strings = offset + sizeof sh + extra;
        const std::uint16_t id_size = sh.id_str_size.value(), name_size = sh.name_size.value();
        VMDF_TRY_ASSIGN(const auto id, read_bytes(file, strings, id_size, UINT16_MAX));
        VMDF_TRY_ASSIGN(const auto name, read_bytes(file, strings + id_size, name_size, UINT16_MAX));
        s.id = stored_string(id);
        s.name = stored_string(name);
        const std::uint64_t entry_size = round_up8(sizeof sh + extra + id_size + name_size);
        total += entry_size;
        if (total > kMaxSnapshotTableBytes)
            return failf(Errc::corrupt, h.snapshots_offset, "snapshot table larger than {} bytes",
                         kMaxSnapshotTableBytes);
        offset += entry_size;
        snapshots.push_back(std::move(s));
    }
    return snapshots;
}

/// --snapshot: by ID first, then by name, as QEMU looks snapshots up
/// (find_snapshot_by_id_or_name).
Result<ActiveTable> find_snapshot(const Device& file, const ImageHeader& h, std::string_view wanted) {
    VMDF_TRY_ASSIGN(const auto snapshots, read_snapshots(file, h));
    auto found =
        std::find_if(snapshots.begin(), snapshots.end(), [&](const auto& s) { return s.id == wanted; });
    if (found == snapshots.end())
        found =
            std::find_if(snapshots.begin(), snapshots.end(), [&](const auto& s) { return s.name == wanted; });
    if (found == snapshots.end()) {
        if (snapshots.empty())
            return failf(Errc::unsupported, std::nullopt, "no snapshot '{}': the image has none", wanted);
        std::string list;
        for (std::size_t i = 0; i < snapshots.size() && i < kMaxSnapshotsListed; ++i)
            list += fmt::format("{}{} '{}'", i == 0 ? "" : ", ", snapshots[i].id, snapshots[i].name);
        if (snapshots.size() > kMaxSnapshotsListed)
            list += fmt::format(" and {} more", snapshots.size() - kMaxSnapshotsListed);
        return failf(Errc::unsupported, std::nullopt, "no snapshot '{}' (ID or name); the image has: {}",
                     wanted, list);
    }
    const ActiveTable& t = found->table;
    if (t.l1_size > kMaxL1Entries)
        return failf(Errc::corrupt, found->entry_offset,
                     "snapshot {}: l1_size {} above the limit of {} entries", found->id, t.l1_size,
                     kMaxL1Entries);
    if (t.l1_table_offset % h.cluster_size() != 0)
        return failf(Errc::corrupt, found->entry_offset,
                     "snapshot {}: L1 table offset {:#x} is not cluster aligned", found->id,
                     t.l1_table_offset);
    if (t.size > static_cast<std::uint64_t>(INT64_MAX))
        return failf(Errc::corrupt, found->entry_offset, "snapshot {}: disk size {} out of range", found->id,
                     t.size);
    return ActiveTable{t.l1_table_offset, t.l1_size, t.size & ~std::uint64_t{511}};
}

/// The L1 entries the disk size needs (entries past l1_size read as
/// unallocated; past the disk size, they map the snapshots' VM state), each
/// pointing at a whole L2 table inside the file.
Result<std::vector<std::uint64_t>> read_l1(const Device& file, const ImageHeader& h, const ActiveTable& t) {
    const std::uint64_t span = h.l2_entries() << h.cluster_bits;  // guest bytes per L2 table
    const std::uint64_t needed = t.size / span + (t.size % span != 0);
    const std::uint64_t count = std::min<std::uint64_t>(t.l1_size, needed);
    const std::uint64_t bytes = count * 8;  // at most 32 MiB, l1_size was checked
    if (bytes > file.size() || t.l1_table_offset > file.size() - bytes)
        return failf(Errc::truncated, t.l1_table_offset,
                     "L1 table ({} entries at {:#x}) runs past the end of the file ({} bytes)", count,
                     t.l1_table_offset, file.size());
    VMDF_TRY_ASSIGN(const auto raw, read_bytes(file, t.l1_table_offset, bytes, kMaxL1Entries * 8));
    std::vector<std::uint64_t> l1(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        be::big_uint64_buf_t e;
        std::memcpy(&e, raw.data() + i * 8, 8);
        l1[i] = e.value();
        const std::uint64_t l2 = l1[i] & kOffsetMask;
        if (l2 == 0) continue;
        const std::uint64_t at = t.l1_table_offset + i * 8;
        if (l2 % h.cluster_size() != 0)
            return failf(Errc::corrupt, at, "L1 entry {}: L2 table offset {:#x} is not cluster aligned", i,
                         l2);
        if (l2 > file.size() || file.size() - l2 < h.cluster_size())
            return failf(Errc::corrupt, at,
                         "L1 entry {}: L2 table at {:#x} runs past the end of the file ({} bytes)", i, l2,
                         file.size());
    }
    return l1;
}

/// The guest's disk: clusters looked up through L1 and L2, read from the
/// image (or its data file), decompressed, zero, or from the backing file.
class Qcow2Device final : public Device {
public:
    struct Parts {
        DevicePtr file;     // the qcow2 file: tables and compressed clusters
        DevicePtr data;     // where guest clusters are: the file or a data file
        DevicePtr backing;  // or null
        std::vector<std::uint64_t> l1;
        std::uint32_t cluster_bits;
        bool extended_l2, external_data;
        std::uint8_t compression_type;
    };

    Qcow2Device(std::string name, std::uint64_t size, std::uint32_t block_size, Parts parts)
        : Device(std::move(name), size, block_size),
          p_(std::move(parts)),
          cluster_size_(std::uint64_t{1} << p_.cluster_bits),
          l2_entries_(cluster_size_ / (p_.extended_l2 ? 16 : 8)) {}

    std::vector<Location> map_block(std::uint64_t offset) const override;
    std::uint64_t contiguous(std::uint64_t offset) const override;

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override;

private:
    enum class Kind { data, zero, backing, compressed };
    /// What the guest bytes from an offset on are, up to `length` bytes
    /// (the end of the cluster, of a run of like subclusters, or of an
    /// unallocated L2 range).
    struct Extent {
        Kind kind;
        std::uint64_t length;
        std::uint64_t host = 0;   // data: where the first byte is
        std::uint64_t entry = 0;  // compressed: the L2 entry
    };
    struct L2Entry {
        std::uint64_t entry, bitmap, at;  // `at`: its offset in the file
    };
    struct CachedTable {
        std::uint64_t offset;
        std::vector<std::uint64_t> words;  // host order; two per extended entry
    };

    Result<Extent> lookup(std::uint64_t offset) const;
    Result<L2Entry> l2_entry(std::uint64_t l2_offset, std::uint64_t index) const;
    Result<Extent> data_extent(std::uint64_t host_cluster, std::uint64_t in_cluster, std::uint64_t length,
                               std::uint64_t guest, const L2Entry& e) const;
    Status read_data(std::uint64_t host, std::span<std::byte> out) const;
    Status read_backing(std::uint64_t offset, std::span<std::byte> out) const;
    Status read_compressed(std::uint64_t entry, std::uint64_t guest, std::span<std::byte> out) const;
    Status inflate_cluster(std::span<const std::byte> in, std::uint64_t host, std::uint64_t guest) const;
    Status unzstd_cluster(std::span<const std::byte> in, std::uint64_t host, std::uint64_t guest) const;

    Parts p_;
    std::uint64_t cluster_size_;
    std::uint64_t l2_entries_;
    // Caches, filled by const reads; the mutex also keeps reads of one
    // image from interleaving.
    mutable std::mutex mutex_;
    mutable std::list<CachedTable> l2_cache_;  // most recently used first
    mutable std::vector<std::byte> cluster_;   // the last decompressed cluster
    mutable std::optional<std::uint64_t> cluster_entry_;
};

Result<Qcow2Device::L2Entry> Qcow2Device::l2_entry(std::uint64_t l2_offset, std::uint64_t index) const {
    auto it = std::find_if(l2_cache_.begin(), l2_cache_.end(),
                           [&](const CachedTable& t) { return t.offset == l2_offset; });
    if (it != l2_cache_.end()) {
        l2_cache_.splice(l2_cache_.begin(), l2_cache_, it);
    } else {
        // The L1 entry was checked at open: a whole cluster inside the file.
        VMDF_TRY_ASSIGN(const auto raw, read_bytes(*p_.file, l2_offset, cluster_size_, kMaxClusterSize));
        CachedTable table{l2_offset, std::vector<std::uint64_t>(cluster_size_ / 8)};
        for (std::size_t i = 0; i < table.words.size(); ++i) {
            be::big_uint64_buf_t w;
            std::memcpy(&w, raw.data() + i * 8, 8);
            table.words[i] = w.value();
        }
        if (l2_cache_.size() >= kL2CacheTables) l2_cache_.pop_back();
        l2_cache_.push_front(std::move(table));
    }
    const auto& words = l2_cache_.front().words;
    if (p_.extended_l2) return L2Entry{words[2 * index], words[2 * index + 1], l2_offset + 16 * index};
    return L2Entry{words[index], 0, l2_offset + 8 * index};
}

Result<Qcow2Device::Extent> Qcow2Device::data_extent(std::uint64_t host_cluster, std::uint64_t in_cluster,
                                                     std::uint64_t length, std::uint64_t guest,
                                                     const L2Entry& e) const {
    if (host_cluster % cluster_size_ != 0)
        return failf(Errc::corrupt, e.at,
                     "L2 entry for guest offset {:#x}: cluster offset {:#x} is not cluster aligned", guest,
                     host_cluster);
    // Inside the image file, a cluster must begin before its end (its tail
    // may be missing: QEMU reads that as zeros). An external data file may
    // be shorter than the disk: it reads as zeros past its end.
    if (!p_.external_data && host_cluster >= p_.file->size())
        return failf(
            Errc::corrupt, e.at,
            "L2 entry for guest offset {:#x}: cluster at {:#x} is past the end of the file ({} bytes)", guest,
            host_cluster, p_.file->size());
    return Extent{Kind::data, length, host_cluster + in_cluster};
}

Result<Qcow2Device::Extent> Qcow2Device::lookup(std::uint64_t offset) const {
    const std::uint64_t cluster = offset >> p_.cluster_bits;
    const std::uint64_t in_cluster = offset & (cluster_size_ - 1);
    const std::uint64_t l1_index = cluster / l2_entries_, l2_index = cluster % l2_entries_;
    const std::uint64_t l2_span = l2_entries_ << p_.cluster_bits;
    // Beyond the L1 table, or under an empty L1 entry: nothing is allocated.
    if (l1_index >= p_.l1.size()) return Extent{Kind::backing, size() - offset};
    const std::uint64_t l2_offset = p_.l1[l1_index] & kOffsetMask;
    if (l2_offset == 0) return Extent{Kind::backing, (l1_index + 1) * l2_span - offset};

    VMDF_TRY_ASSIGN(const L2Entry e, l2_entry(l2_offset, l2_index));
    const std::uint64_t rest = cluster_size_ - in_cluster;
    if (e.entry & kFlagCompressed) {
        // Compressed clusters have no subclusters; their bitmap is reserved.
        if (p_.external_data)
            return failf(Errc::corrupt, e.at,
                         "compressed cluster at guest offset {:#x} with an external data file", offset);
        return Extent{Kind::compressed, rest, 0, e.entry};
    }
    const std::uint64_t host_cluster = e.entry & kOffsetMask;
    // With a data file, host offset 0 is real when the COPIED bit says so.
    const bool allocated = host_cluster != 0 || (p_.external_data && (e.entry & kFlagCopied));

    if (!p_.extended_l2) {
        // QEMU's order (qcow2_get_cluster_type): the zero flag wins over an
        // offset (a preallocated cluster that reads as zeros).
        if (e.entry & kFlagZero) return Extent{Kind::zero, rest};
        if (!allocated) return Extent{Kind::backing, rest};
        return data_extent(host_cluster, in_cluster, rest, offset, e);
    }

    // Extended L2: 32 subclusters, each allocated (bit i), zero (bit 32+i)
    // or neither (from the backing file); both, or allocation without a
    // cluster, is invalid (qcow2_get_subcluster_type).
    const std::uint64_t alloc = e.bitmap & kBitmapAllAlloc, zero = e.bitmap >> 32;
    if ((allocated && (alloc & zero)) || (!allocated && alloc))
        return failf(Errc::corrupt, e.at,
                     "L2 entry for guest offset {:#x}: invalid subcluster bitmap {:#018x}", offset, e.bitmap);
    const unsigned sc_bits = p_.cluster_bits - 5;  // log2(cluster_size / 32)
    const auto state = [&](std::uint64_t i) {
        return zero >> i & 1 ? Kind::zero : alloc >> i & 1 ? Kind::data : Kind::backing;
    };
    const std::uint64_t first = in_cluster >> sc_bits;
    const Kind kind = state(first);
    std::uint64_t end = first + 1;
    while (end < kSubclustersPerCluster && state(end) == kind) ++end;
    const std::uint64_t length = (end << sc_bits) - in_cluster;
    if (kind != Kind::data) return Extent{kind, length};
    return data_extent(host_cluster, in_cluster, length, offset, e);
}

Status Qcow2Device::read_data(std::uint64_t host, std::span<std::byte> out) const {
    const Device& dev = *p_.data;
    const std::uint64_t avail =
        host < dev.size() ? std::min<std::uint64_t>(out.size(), dev.size() - host) : 0;
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(avail), out.end(), std::byte{0});
    return dev.read(host, out.first(static_cast<std::size_t>(avail)));
}

Status Qcow2Device::read_backing(std::uint64_t offset, std::span<std::byte> out) const {
    // No backing file, or one shorter than the disk: zeros.
    const std::uint64_t backing_size = p_.backing ? p_.backing->size() : 0;
    const std::uint64_t avail =
        offset < backing_size ? std::min<std::uint64_t>(out.size(), backing_size - offset) : 0;
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(avail), out.end(), std::byte{0});
    if (avail == 0) return {};
    return p_.backing->read(offset, out.first(static_cast<std::size_t>(avail)));
}

Status Qcow2Device::inflate_cluster(std::span<const std::byte> in, std::uint64_t host,
                                    std::uint64_t guest) const {
    // Raw deflate, no zlib header. QEMU writes with a 4 KiB window
    // (windowBits -12); -15 reads that and any larger one.
    z_stream z{};
    if (inflateInit2(&z, -15) != Z_OK) return fail(Errc::io, "zlib: cannot initialise inflate");
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(cluster_.data());
    z.avail_out = static_cast<uInt>(cluster_.size());
    int ret = inflate(&z, Z_FINISH);
    const std::size_t produced = cluster_.size() - z.avail_out;
    // The stream must fill the cluster: QEMU (qcow2_zlib_decompress)
    // accepts a full output whether or not the end marker was reached.
    // One more byte of output would mean a stream longer than a cluster.
    bool longer = false;
    if (produced == cluster_.size() && ret != Z_STREAM_END) {
        std::byte spare{};
        z.next_out = reinterpret_cast<Bytef*>(&spare);
        z.avail_out = 1;
        inflate(&z, Z_FINISH);
        longer = z.avail_out == 0;
    }
    const std::string message = z.msg ? z.msg : "";
    inflateEnd(&z);
    if (longer)
        return failf(Errc::corrupt, host,
                     "compressed cluster for guest offset {:#x} inflates to more than {} bytes", guest,
                     cluster_.size());
    if (produced < cluster_.size()) {
        if (ret == Z_STREAM_END)
            return failf(Errc::corrupt, host,
                         "compressed cluster for guest offset {:#x} inflates to {} bytes, not {}", guest,
                         produced, cluster_.size());
        if (ret == Z_BUF_ERROR)
            return failf(Errc::corrupt, host,
                         "compressed cluster for guest offset {:#x}: deflate data ends after {} of {} bytes",
                         guest, produced, cluster_.size());
        return failf(Errc::corrupt, host, "compressed cluster for guest offset {:#x}: deflate data error{}{}",
                     guest, message.empty() ? "" : ": ", message);
    }
    return {};
}

Status Qcow2Device::unzstd_cluster(std::span<const std::byte> in, std::uint64_t host,
                                   std::uint64_t guest) const {
    // One or more frames, back to back, that fill the cluster; the bytes
    // after them may begin the next compressed cluster. Each frame is
    // decompressed in one go into the cluster buffer, so no window is
    // allocated whatever the frame header asks for.
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) return fail(Errc::io, "zstd: cannot create a decompression context");
    std::size_t produced = 0, consumed = 0;
    while (produced < cluster_.size()) {  // every pass consumes a frame, or fails
        const std::span<const std::byte> rest = in.subspan(consumed);
        const std::size_t frame = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
        if (ZSTD_isError(frame))
            return failf(
                Errc::corrupt, host + consumed, "compressed cluster for guest offset {:#x}: zstd: {}{}",
                guest, ZSTD_getErrorName(frame),
                produced == 0 ? "" : fmt::format(" (after {} of {} bytes)", produced, cluster_.size()));
        const std::size_t n = ZSTD_decompressDCtx(dctx.get(), cluster_.data() + produced,
                                                  cluster_.size() - produced, rest.data(), frame);
        if (ZSTD_isError(n)) {
            if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
                return failf(Errc::corrupt, host,
                             "compressed cluster for guest offset {:#x} decompresses to more than {} bytes",
                             guest, cluster_.size());
            return failf(Errc::corrupt, host + consumed,
                         "compressed cluster for guest offset {:#x}: zstd: {}", guest, ZSTD_getErrorName(n));
        }
        if (n == 0 && frame == 0) break;  // cannot happen; never loop on nothing
        produced += n;
        consumed += frame;
    }
    return {};
}

Status Qcow2Device::read_compressed(std::uint64_t entry, std::uint64_t guest,
                                    std::span<std::byte> out) const {
    const std::uint64_t in_cluster = guest & (cluster_size_ - 1);
    if (!cluster_entry_ || *cluster_entry_ != entry) {
        cluster_entry_.reset();
        // Compressed descriptor: x = 62 - (cluster_bits - 8) offset bits
        // (a byte offset), then the count of further 512-byte sectors.
        const unsigned x = 62 - (p_.cluster_bits - 8);
        const std::uint64_t host = entry & ((std::uint64_t{1} << x) - 1);
        const std::uint64_t sectors = ((entry >> x) & ((std::uint64_t{1} << (p_.cluster_bits - 8)) - 1)) + 1;
        const std::uint64_t length = sectors * 512 - (host & 511);  // an upper bound, at most 2 clusters
        const std::uint64_t cluster_start = guest - in_cluster;
        if (host >= p_.file->size())
            return failf(
                Errc::corrupt, std::nullopt,
                "compressed cluster for guest offset {:#x} at {:#x} is past the end of the file ({} bytes)",
                cluster_start, host, p_.file->size());
        // Its last sector may be cut short by the end of the file.
        VMDF_TRY_ASSIGN(const auto in, read_bytes(*p_.file, host, std::min(length, p_.file->size() - host),
                                                  2 * kMaxClusterSize));
        cluster_.resize(static_cast<std::size_t>(cluster_size_));
        if (p_.compression_type == kCompressionZstd) {
            VMDF_TRY(unzstd_cluster(in, host, cluster_start));
        } else {
            VMDF_TRY(inflate_cluster(in, host, cluster_start));
        }
        cluster_entry_ = entry;
    }
    std::memcpy(out.data(), cluster_.data() + in_cluster, out.size());
    return {};
}

Status Qcow2Device::read_at(std::uint64_t offset, std::span<std::byte> out) const {
    std::lock_guard lock(mutex_);
    // Neighbouring extents of the same kind (data clusters adjacent in the
    // file, runs of backing or zero clusters) become one read.
    struct Pending {
        Kind kind;
        std::size_t start = 0, length = 0;
        std::uint64_t source = 0;  // data: host offset; backing: guest offset
    };
    std::optional<Pending> pending;
    const auto flush = [&]() -> Status {
        if (!pending) return {};
        const auto part = out.subspan(pending->start, pending->length);
        const Pending done = *pending;
        pending.reset();
        switch (done.kind) {
            case Kind::data: return read_data(done.source, part);
            case Kind::backing: return read_backing(done.source, part);
            default: std::fill(part.begin(), part.end(), std::byte{0}); return {};
        }
    };
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t at = offset + done;
        VMDF_TRY_ASSIGN(const Extent e, lookup(at));
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(e.length, out.size() - done));
        if (e.kind == Kind::compressed) {
            VMDF_TRY(flush());
            VMDF_TRY(read_compressed(e.entry, at, out.subspan(done, n)));
        } else {
            const std::uint64_t source = e.kind == Kind::data ? e.host : at;
            if (pending && pending->kind == e.kind && pending->source + pending->length == source) {
                pending->length += n;
            } else {
                VMDF_TRY(flush());
                pending = Pending{e.kind, done, n, source};
            }
        }
        done += n;
    }
    return flush();
}

std::vector<Location> Qcow2Device::map_block(std::uint64_t offset) const {
    if (offset >= size()) return {};
    std::unique_lock lock(mutex_);
    auto e = lookup(offset);
    lock.unlock();
    if (!e) return {};
    const Device* below = nullptr;
    std::uint64_t where = 0;
    if (e->kind == Kind::data) {
        below = p_.data.get();
        where = e->host;
    } else if (e->kind == Kind::backing && p_.backing && offset < p_.backing->size()) {
        below = p_.backing.get();
        where = offset;
    } else {
        return {};  // zeros, or compressed: no byte holds it as it is
    }
    std::vector<Location> chain{{below, where}};
    auto deeper = below->map_block(where);
    chain.insert(chain.end(), deeper.begin(), deeper.end());
    return chain;
}

std::uint64_t Qcow2Device::contiguous(std::uint64_t offset) const {
    if (offset >= size()) return 0;
    std::lock_guard lock(mutex_);
    auto e = lookup(offset);
    const std::uint64_t length = e ? e->length : cluster_size_ - (offset & (cluster_size_ - 1));
    return std::min(length, size() - offset);
}

Result<Score> probe(const Device& file) {
    // The magic alone: version 1 ("qcow") shares it and is refused by
    // open, rather than read as a raw disk.
    VMDF_TRY_ASSIGN(const be::big_uint32_buf_t magic, read_struct<be::big_uint32_buf_t>(file, 0));
    return magic.value() == kMagic ? kCertain : kNotMine;
}

Result<DevicePtr> open(DevicePtr file, const ImageContext& context) {
    VMDF_TRY_ASSIGN(const ImageHeader h, read_header(*file));
    // Reading needs no refcounts, which are all these two bits are about.
    if (h.incompatible & kIncompatDirty)
        context.warnings.push_back("qcow2 image was not closed cleanly (dirty bit); read as it is");
    if (h.incompatible & kIncompatCorrupt)
        context.warnings.push_back(
            "qcow2 image is marked corrupt (corrupt bit); its data may be inconsistent");

    ActiveTable table{h.l1_table_offset, h.l1_size, h.size};
    if (!context.snapshot.empty()) {
        VMDF_TRY_ASSIGN(table, find_snapshot(*file, h, context.snapshot));
    }
    VMDF_TRY_ASSIGN(auto l1, read_l1(*file, h, table));

    DevicePtr data = file;
    if (h.external_data()) {
        auto opened = context.open_file(h.data_file);
        if (!opened) {
            Error error = std::move(opened).error();
            if (!error.where.empty()) error.where.front() = "data file " + error.where.front();
            return fail(std::move(error));
        }
        data = std::move(*opened);
    }
    DevicePtr backing;
    if (!h.backing_file.empty()) {
        const std::size_t before = context.warnings.size();
        VMDF_TRY_ASSIGN(backing, context.open_backing(h.backing_file, h.backing_format));
        // The caller prefixes warnings with the top image's name only.
        for (std::size_t i = before; i < context.warnings.size(); ++i)
            context.warnings[i] =
                "backing file " + resolve_relative(context.path, h.backing_file) + ": " + context.warnings[i];
    }
    return DevicePtr(std::make_shared<Qcow2Device>(
        context.path, table.size, context.block_size != 0 ? context.block_size : 512,
        Qcow2Device::Parts{std::move(file), std::move(data), std::move(backing), std::move(l1),
                           h.cluster_bits, h.extended_l2(), h.external_data(), h.compression_type}));
}

constexpr Magic kMagics[] = {{0, "QFI\xfb"sv}};

}  // namespace
}  // namespace vmdf::qcow2

namespace vmdf {
constexpr ImagePlugin qcow2_plugin{"qcow2", qcow2::kMagics, qcow2::probe, qcow2::open};
}
