// SPDX-License-Identifier: GPL-2.0-or-later
// dm-snapshot's persistent exception store (drivers/md/dm-snap-persistent.c),
// read as persistent_read_metadata does: the header in chunk 0, then
// metadata areas of one chunk each, area k at chunk 1 + k * (epa + 1)
// (area_location) followed by its epa data chunks, where epa (exceptions
// per area) = chunk bytes / 16. Each area holds {old_chunk, new_chunk}
// pairs, little-endian; the first pair whose new_chunk is 0 (the header's
// chunk, which no exception can use) ends the table (insert_exceptions),
// and a full area means the table continues in the next (read_exceptions).
#include "plugins/volume/dm_snapshot.hpp"

#include <algorithm>
#include <vector>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::dm_snapshot {
namespace {

namespace be = boost::endian;

constexpr std::uint32_t kSnapMagic = 0x70416e53;  // SNAP_MAGIC, "SnAp"
constexpr std::uint32_t kDiskVersion = 1;         // SNAPSHOT_DISK_VERSION
/// dm_exception_store_set_chunk_size: a power of two below INT_MAX bytes.
constexpr std::uint32_t kMaxChunkSectors = 1u << 21;
/// Exceptions kept in memory (16 bytes each): 256 MiB at most, which covers
/// 64 GiB of changes in 4 KiB chunks.
constexpr std::uint64_t kMaxExceptions = std::uint64_t{1} << 24;
/// Bytes of an area read at a time, so that large chunks need no large buffer.
constexpr std::uint64_t kReadPiece = 64 * 1024;

// struct disk_header, at byte 0 of the COW device.
struct DiskHeader {
    be::little_uint32_buf_t magic;       // 0: kSnapMagic; 0 = never activated
    be::little_uint32_buf_t valid;       // 4: 0 once invalidated (overflow, error)
    be::little_uint32_buf_t version;     // 8
    be::little_uint32_buf_t chunk_size;  // 12: sectors
};
static_assert(sizeof(DiskHeader) == 16);

// struct disk_exception.
struct DiskException {
    be::little_uint64_buf_t old_chunk;  // 0: chunk of the origin
    be::little_uint64_buf_t new_chunk;  // 8: chunk of the COW device holding its old data
};
static_assert(sizeof(DiskException) == 16);

struct Exception {
    std::uint64_t old_chunk, new_chunk;
};

/// The origin as it was: a chunk with an exception comes from the COW
/// device, any other from the origin.
class SnapshotDevice final : public Device {
public:
    SnapshotDevice(const SnapshotSpec& spec, std::uint64_t chunk_bytes,
                   std::vector<Exception> exceptions)
        : Device(spec.name, spec.size, 512),
          origin_(spec.origin),
          cow_(spec.cow),
          chunk_bytes_(chunk_bytes),
          exceptions_(std::move(exceptions)) {}

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        while (!out.empty()) {
            const std::uint64_t chunk = offset / chunk_bytes_;
            const std::uint64_t within = offset % chunk_bytes_;
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(out.size(), chunk_bytes_ - within));
            auto it = std::lower_bound(
                exceptions_.begin(), exceptions_.end(), chunk,
                [](const Exception& e, std::uint64_t c) { return e.old_chunk < c; });
            if (it != exceptions_.end() && it->old_chunk == chunk)
                VMDF_TRY(cow_->read(it->new_chunk * chunk_bytes_ + within, out.first(n)));
            else
                VMDF_TRY(origin_->read(offset, out.first(n)));
            out = out.subspan(n);
            offset += n;
        }
        return {};
    }

private:
    DevicePtr origin_, cow_;
    std::uint64_t chunk_bytes_;
    std::vector<Exception> exceptions_;  // sorted by old_chunk, unique
};

/// Every exception of the store, in table order.
Result<std::vector<Exception>> read_exceptions(const Device& cow, std::uint64_t chunk_bytes,
                                               std::uint64_t origin_chunks) {
    const std::uint64_t per_area = chunk_bytes / sizeof(DiskException);
    const std::uint64_t cow_chunks = cow.size() / chunk_bytes;
    std::vector<Exception> table;
    // Each full area is followed by another, so the table ends within
    // cow_chunks / (per_area + 1) + 1 areas or runs off the device.
    for (std::uint64_t area = 0;; ++area) {
        const std::uint64_t location = 1 + area * (per_area + 1);  // area_location
        if (location >= cow_chunks)
            return failf(Errc::corrupt, std::nullopt,
                         "exception area {} (chunk {}) lies past the end of the COW device ({} "
                         "chunks): the table has no end",
                         area, location, cow_chunks);
        for (std::uint64_t done = 0; done < chunk_bytes; done += kReadPiece) {
            const std::uint64_t piece = std::min(kReadPiece, chunk_bytes - done);
            const std::uint64_t at = location * chunk_bytes + done;
            VMDF_TRY_ASSIGN(auto bytes, read_bytes(cow, at, piece, kReadPiece));
            const ByteReader reader(bytes, at);
            for (std::uint64_t off = 0; off < piece; off += sizeof(DiskException)) {
                VMDF_TRY_ASSIGN(auto de, reader.at<DiskException>(off));
                const std::uint64_t old_chunk = de.old_chunk.value();
                const std::uint64_t new_chunk = de.new_chunk.value();
                if (new_chunk == 0) return table;
                if (new_chunk >= cow_chunks)
                    return failf(Errc::corrupt, at + off,
                                 "exception for origin chunk {} points to chunk {}, past the end "
                                 "of the COW device ({} chunks)",
                                 old_chunk, new_chunk, cow_chunks);
                if (old_chunk >= origin_chunks)
                    return failf(Errc::corrupt, at + off,
                                 "exception for origin chunk {}, past the end of the origin ({} "
                                 "chunks)",
                                 old_chunk, origin_chunks);
                if (table.size() >= kMaxExceptions)
                    return failf(Errc::unsupported, at + off,
                                 "more than {} exceptions in the snapshot", kMaxExceptions);
                table.push_back({old_chunk, new_chunk});
            }
        }
    }
}

Result<DevicePtr> open(const SnapshotSpec& spec) {
    if (!spec.origin || !spec.cow) return fail(Errc::corrupt, "snapshot without an origin or a COW device");
    if (spec.size > spec.origin->size())
        return failf(Errc::corrupt, std::nullopt,
                     "snapshot of {} bytes, larger than its origin ({} bytes)", spec.size,
                     spec.origin->size());
    VMDF_TRY_ASSIGN(auto header, read_struct<DiskHeader>(*spec.cow, 0));
    // read_header: a zero magic is a store the kernel has not yet set up; it
    // holds no exceptions, and the snapshot reads as the origin (in pieces
    // of any size).
    if (header.magic.value() == 0)
        return DevicePtr(std::make_shared<SnapshotDevice>(spec, kReadPiece, std::vector<Exception>{}));
    if (header.magic.value() != kSnapMagic)
        return failf(Errc::corrupt, 0, "no snapshot exception store (magic {:#010x})",
                     header.magic.value());
    if (header.version.value() != kDiskVersion)
        return failf(Errc::unsupported, 8, "snapshot store version {}", header.version.value());
    if (header.valid.value() == 0)
        return fail(Errc::corrupt,
                    "the snapshot is invalid (it overflowed or failed): the kernel refuses to "
                    "read it",
                    4);
    const std::uint32_t sectors = header.chunk_size.value();
    if (sectors == 0 || (sectors & (sectors - 1)) != 0 || sectors > kMaxChunkSectors)
        return failf(Errc::corrupt, 12, "snapshot chunk size of {} sectors", sectors);
    const std::uint64_t chunk_bytes = std::uint64_t{sectors} * 512;
    const std::uint64_t origin_chunks = (spec.size + chunk_bytes - 1) / chunk_bytes;
    VMDF_TRY_ASSIGN(auto table, read_exceptions(*spec.cow, chunk_bytes, origin_chunks));
    // Should a chunk have two exceptions, the later one counts: the kernel's
    // lookup finds the one it added last.
    std::stable_sort(table.begin(), table.end(),
                     [](const Exception& a, const Exception& b) { return a.old_chunk < b.old_chunk; });
    std::vector<Exception> unique;
    unique.reserve(table.size());
    for (const Exception& e : table) {
        if (!unique.empty() && unique.back().old_chunk == e.old_chunk) unique.back() = e;
        else unique.push_back(e);
    }
    return DevicePtr(std::make_shared<SnapshotDevice>(spec, chunk_bytes, std::move(unique)));
}

}  // namespace
}  // namespace vmdf::dm_snapshot

namespace vmdf {

Result<DevicePtr> open_snapshot(const SnapshotSpec& spec) { return dm_snapshot::open(spec); }

}  // namespace vmdf
