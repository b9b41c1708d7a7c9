// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 PV labels and metadata areas: see lvm_label.hpp.
#include "plugins/volume/lvm_label.hpp"

#include <algorithm>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "plugins/volume/lvm_text.hpp"

namespace vmdf::lvm {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::string_view kLabelType = "LVM2 001"sv;
/// layout.h FMTT_MAGIC and MDA_HEADER_SIZE.
constexpr std::string_view kMdaMagic = " LVM2 x[5A%r0N*>"sv;
constexpr std::uint64_t kMdaHeaderSize = 512;
constexpr std::uint32_t kFmttVersion = 1;
constexpr std::uint32_t kRawLocnIgnored = 1;  // RAW_LOCN_IGNORED
/// lib/misc/crc.h INITIAL_CRC.
constexpr std::uint32_t kInitialCrc = 0xF597A6CF;

// lib/label/label.h struct label_header: 32 bytes at the start of the
// label's sector.
struct LabelHeader {
    char id[8];                      // "LABELONE"
    be::little_uint64_buf_t sector;  // 8: sector_xl, the sector this label is in
    be::little_uint32_buf_t crc;     // 16: crc_xl, calc_crc over bytes 20..511
    be::little_uint32_buf_t offset;  // 20: offset_xl of the pv_header from the label
    char type[8];                    // 24: "LVM2 001"
};
static_assert(sizeof(LabelHeader) == 32 && alignof(LabelHeader) == 1);
static_assert(offsetof(LabelHeader, crc) == 16 && offsetof(LabelHeader, offset) == 20);

// layout.h struct pv_header, followed by two lists of disk_locn, each
// ended by an entry whose offset is 0: data areas, then metadata areas.
struct PvHeader {
    char pv_uuid[32];                     // ID_LEN letters and digits, no dashes
    be::little_uint64_buf_t device_size;  // 32: bytes
};
static_assert(sizeof(PvHeader) == 40);

struct DiskLocn {
    be::little_uint64_buf_t offset;  // bytes from the start of the device
    be::little_uint64_buf_t size;    // bytes; 0 = to the end (data areas)
};
static_assert(sizeof(DiskLocn) == 16);

// layout.h struct mda_header: the first 512 bytes of a metadata area.
struct MdaHeader {
    be::little_uint32_buf_t checksum;  // calc_crc over bytes 4..511
    char magic[16];                    // 4: FMTT_MAGIC
    be::little_uint32_buf_t version;   // 20: FMTT_VERSION
    be::little_uint64_buf_t start;     // 24: absolute byte offset of this header
    be::little_uint64_buf_t size;      // 32: bytes in the area, header included
};
static_assert(sizeof(MdaHeader) == 40);

// layout.h struct raw_locn, an array after the mda_header; slot 0 is the
// committed metadata.
struct RawLocn {
    be::little_uint64_buf_t offset;    // from the start of the area
    be::little_uint64_buf_t size;      // bytes of text, its NUL included
    be::little_uint32_buf_t checksum;  // calc_crc over the text
    be::little_uint32_buf_t flags;     // RAW_LOCN_IGNORED
};
static_assert(sizeof(RawLocn) == 24);

/// LVM's calc_crc (lib/misc/crc.c): the reflected CRC-32 polynomial
/// 0xEDB88320 from a given seed, without zlib's final inversion.
std::uint32_t calc_crc(std::uint32_t crc, std::span<const std::byte> data) {
    for (std::byte b : data) {
        crc ^= static_cast<std::uint8_t>(b);
        for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return crc;
}

// --- Physical volume labels ----------------------------------------------------

/// One disk_locn list of the pv_header, from `at` in the label sector up to
/// and including its zero terminator, which must lie within the sector
/// (lib/format_text/text_label.c label_check_pv_layout).
Result<std::vector<Locn>> read_locn_list(const ByteReader& sector, std::uint64_t& at, const char* what) {
    std::vector<Locn> out;
    while (true) {
        auto entry = sector.at<DiskLocn>(at);
        if (!entry)
            return failf(Errc::corrupt, sector.size(), "pv_header {} list runs past the label sector", what);
        at += sizeof(DiskLocn);
        if (entry->offset.value() == 0) return out;
        out.push_back({entry->offset.value(), entry->size.value()});
    }
}

}  // namespace

/// The label in the first four sectors (`head`, as many as the device has);
/// nothing when there is none, an error for one that is there but broken.
Result<std::optional<PvLabel>> find_label(std::span<const std::byte> head, std::uint64_t& label_sector) {
    std::optional<Error> broken;
    for (std::uint64_t s = 0; s < kLabelScanSectors && (s + 1) * kSector <= head.size(); ++s) {
        const ByteReader sector(head.subspan(s * kSector, kSector), s * kSector);
        VMDF_TRY_ASSIGN(const LabelHeader lh, sector.at<LabelHeader>(0));
        if (std::string_view(lh.id, 8) != kLabelId || std::string_view(lh.type, 8) != kLabelType) continue;
        // lib/label/label.c _find_lvm_header: a label must name its own
        // sector and match its checksum, or LVM ignores it.
        if (lh.sector.value() != s) {
            broken = Error{Errc::corrupt, fmt::format("LVM label in sector {} says it is in sector {}", s, lh.sector.value()),
                           s * kSector, {}};
            continue;
        }
        VMDF_TRY_ASSIGN(auto rest, sector.bytes(20, kSector - 20));
        if (calc_crc(kInitialCrc, rest) != lh.crc.value()) {
            broken = Error{Errc::corrupt, fmt::format("LVM label in sector {}: checksum mismatch", s),
                           s * kSector + 16, {}};
            continue;
        }
        const std::uint64_t pvh = lh.offset.value();
        if (pvh < sizeof(LabelHeader) || pvh > kSector - sizeof(PvHeader))
            return failf(Errc::corrupt, s * kSector + 20, "pv_header offset {} out of range ({}..{})", pvh,
                         sizeof(LabelHeader), kSector - sizeof(PvHeader));
        VMDF_TRY_ASSIGN(const PvHeader ph, sector.at<PvHeader>(pvh));
        PvLabel label;
        label.uuid.assign(ph.pv_uuid, sizeof ph.pv_uuid);
        if (!std::all_of(label.uuid.begin(), label.uuid.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            }))
            return fail(Errc::corrupt, "pv_uuid is not 32 letters and digits", s * kSector + pvh);
        label.device_size = ph.device_size.value();
        std::uint64_t at = pvh + sizeof(PvHeader);
        VMDF_TRY_ASSIGN(label.data_areas, read_locn_list(sector, at, "data area"));
        VMDF_TRY_ASSIGN(label.metadata_areas, read_locn_list(sector, at, "metadata area"));
        label_sector = s;
        return std::optional<PvLabel>(std::move(label));
    }
    if (broken) return fail(std::move(*broken));
    return std::optional<PvLabel>{};
}

Result<std::vector<std::byte>> read_head(const Device& dev) {
    return read_bytes(dev, 0, std::min(dev.size(), kLabelScanSectors * kSector), kLabelScanSectors * kSector);
}

// --- Metadata areas --------------------------------------------------------------

Result<std::optional<std::string>> read_metadata_area(const Device& dev, const Locn& mda) {
    VMDF_TRY_ASSIGN(auto raw, read_bytes(dev, mda.offset, kMdaHeaderSize, kMdaHeaderSize));
    const ByteReader header(raw, mda.offset);
    VMDF_TRY_ASSIGN(const MdaHeader mh, header.at<MdaHeader>(0));
    VMDF_TRY_ASSIGN(auto covered, header.bytes(4, kMdaHeaderSize - 4));
    // format-text.c raw_parse_mda_header.
    if (calc_crc(kInitialCrc, covered) != mh.checksum.value())
        return fail(Errc::corrupt, "metadata area header checksum mismatch", mda.offset);
    if (std::string_view(mh.magic, 16) != kMdaMagic)
        return fail(Errc::corrupt, "metadata area header has a wrong magic number", mda.offset + 4);
    if (mh.version.value() != kFmttVersion)
        return failf(Errc::unsupported, mda.offset + 20, "metadata area version {} (only {} is known)",
                     mh.version.value(), kFmttVersion);
    if (mh.start.value() != mda.offset)
        return failf(Errc::corrupt, mda.offset + 24, "metadata area header says it starts at {}, not {}",
                     mh.start.value(), mda.offset);
    const std::uint64_t area_size = mh.size.value();
    if (area_size < kMdaHeaderSize || area_size > dev.size() - mda.offset)
        return failf(Errc::corrupt, mda.offset + 32, "metadata area size {} out of range ({}..{})", area_size,
                     kMdaHeaderSize, dev.size() - mda.offset);
    VMDF_TRY_ASSIGN(const RawLocn slot0, header.at<RawLocn>(sizeof(MdaHeader)));
    const std::uint64_t offset = slot0.offset.value(), size = slot0.size.value();
    if (slot0.flags.value() & kRawLocnIgnored) return std::optional<std::string>{};
    if (offset == 0 && size == 0) return std::optional<std::string>{};
    // format-text.c _vg_read_raw_area's sanity check, and ours on size.
    if (offset < kMdaHeaderSize || offset >= area_size || size == 0 || size > area_size - kMdaHeaderSize)
        return failf(Errc::corrupt, mda.offset + sizeof(MdaHeader),
                     "metadata text at {} of {} bytes does not fit a {}-byte area", offset, size, area_size);
    if (size > lvm_text::kMaxTextBytes)
        return failf(Errc::corrupt, mda.offset + sizeof(MdaHeader), "metadata text of {} bytes, more than the limit of {}",
                     size, lvm_text::kMaxTextBytes);
    // The area is a circular buffer: text running past its end continues
    // right after the header (format-text.c, "wrap").
    const std::uint64_t wrap = offset + size > area_size ? offset + size - area_size : 0;
    VMDF_TRY_ASSIGN(auto text, read_bytes(dev, mda.offset + offset, size - wrap, lvm_text::kMaxTextBytes));
    if (wrap) {
        VMDF_TRY_ASSIGN(auto tail, read_bytes(dev, mda.offset + kMdaHeaderSize, wrap, lvm_text::kMaxTextBytes));
        text.insert(text.end(), tail.begin(), tail.end());
    }
    if (calc_crc(kInitialCrc, text) != slot0.checksum.value())
        return fail(Errc::corrupt, "metadata text checksum mismatch", mda.offset + offset);
    return std::optional<std::string>(std::string(reinterpret_cast<const char*>(text.data()), text.size()));
}

}  // namespace vmdf::lvm
