// SPDX-License-Identifier: GPL-2.0-or-later
// ploop and Parallels expandable images (formats.md §2): a 64-byte header, a
// BAT mapping guest clusters to clusters of the file, and DiskDescriptor.xml,
// which stacks such deltas (over a raw or expandable base) into snapshots.
// Facts from ploop's include/ploop1_image.h, lib/delta_read.c and lib/xml.c,
// and QEMU's block/parallels.c and docs/interop/parallels.rst, prl-xml.rst.
#include "plugins/image/ploop.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/image.hpp"

namespace vmdf::ploop {

namespace be = boost::endian;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view kSignatureV1 = "WithoutFreeSpace"sv;  // BAT entries in sectors
constexpr std::string_view kSignatureV2 = "WithouFreSpacExt"sv;  // BAT entries in clusters
constexpr std::uint32_t kPrlImageCompressed = 2;                 // the only m_Type there is
constexpr std::uint32_t kSignatureDiskInUse = 0x746F6E59;        // "Ynot": open, or a crash
constexpr std::uint32_t kCifFmtVersionConvert = 0x2;             // v1 <-> v2 half done
constexpr std::uint64_t kSector = 512;
constexpr std::uint64_t kBatOffset = 64;  // the BAT follows the header
/// m_Sectors: ploop's is_valid_blocksize takes powers of two from 64 to
/// 131072 sectors (32 KiB to 64 MiB); QEMU takes any non-zero count and old
/// Parallels images have 63. The upper bound is ploop's.
constexpr std::uint32_t kMaxClusterSectors = 131072;
/// The BAT is read in chunks as clusters are first touched, and at most
/// this much of it is kept, so a 2^32-entry BAT costs no more memory than
/// a small one.
constexpr std::uint64_t kBatChunkEntries = 1024;
constexpr std::size_t kMaxCachedBatChunks = 4096;  // 16 MiB
/// DiskDescriptor.xml: ploop's own are a few KiB.
constexpr std::uint64_t kMaxDescriptorBytes = 1 << 20;
constexpr std::size_t kMaxXmlDepth = 32;
constexpr std::size_t kMaxXmlElements = 65536;
/// Bytes the probe reads to tell XML from anything else.
constexpr std::uint64_t kProbeBytes = 512;
/// prl-xml.rst: the root snapshot's ParentGUID, and the top snapshot's GUID
/// when <TopGUID> is absent.
constexpr std::string_view kZeroGuid = "{00000000-0000-0000-0000-000000000000}"sv;
constexpr std::string_view kTopDeltaGuid = "{5fbaabe3-6958-40ff-92a7-860e329aab41}"sv;

// ploop include/ploop1_image.h, struct ploop_pvd_header (QEMU: ParallelsHeader).
struct PvdHeader {
    char m_Sig[16];                                   // 0: kSignatureV1 or kSignatureV2
    be::little_uint32_buf_t m_Type;                   // 16: kPrlImageCompressed
    be::little_uint32_buf_t m_Heads;                  // 20: CHS geometry only
    be::little_uint32_buf_t m_Cylinders;              // 24: CHS geometry only
    be::little_uint32_buf_t m_Sectors;                // 28: cluster size, in sectors
    be::little_uint32_buf_t m_Size;                   // 32: BAT entries
    be::little_uint64_buf_t m_SizeInSectors;          // 36: disk size; v1: low 32 bits only
    be::little_uint32_buf_t m_DiskInUse;              // 44: kSignatureDiskInUse while open
    be::little_uint32_buf_t m_FirstBlockOffset;       // 48: data area, in sectors
    be::little_uint32_buf_t m_Flags;                  // 52: CIF_*
    be::little_uint64_buf_t m_FormatExtensionOffset;  // 56: CBT bitmaps, unused here
};
static_assert(sizeof(PvdHeader) == kBatOffset && alignof(PvdHeader) == 1);
static_assert(offsetof(PvdHeader, m_Sectors) == 28 && offsetof(PvdHeader, m_SizeInSectors) == 36);
static_assert(offsetof(PvdHeader, m_DiskInUse) == 44 && offsetof(PvdHeader, m_Flags) == 52);

// --- one delta --------------------------------------------------------------------

/// What a header says, validated against the file's size.
struct Geometry {
    std::uint64_t cluster_bytes = 0;
    std::uint64_t entry_unit = 0;    ///< bytes per unit of a BAT entry: v1 a sector, v2 a cluster
    std::uint64_t bat_entries = 0;   ///< m_Size
    std::uint64_t disk_bytes = 0;    ///< m_SizeInSectors * 512
    std::uint64_t data_start = 0;    ///< bytes; no BAT entry may point below it
    bool in_use = false;
};

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) {
    return (value + unit - 1) / unit * unit;
}

Result<Geometry> decode_header(const PvdHeader& h) {
    const std::string_view sig(h.m_Sig, sizeof h.m_Sig);
    if (sig != kSignatureV1 && sig != kSignatureV2)
        return fail(Errc::corrupt, "no ploop signature (WithoutFreeSpace or WithouFreSpacExt)", 0);
    const bool v1 = sig == kSignatureV1;
    if (h.m_Type.value() != kPrlImageCompressed)
        return failf(Errc::unsupported, offsetof(PvdHeader, m_Type),
                     "m_Type {} is not {} (PRL_IMAGE_COMPRESSED)", h.m_Type.value(), kPrlImageCompressed);
    const std::uint32_t sectors = h.m_Sectors.value();
    if (sectors == 0 || sectors > kMaxClusterSectors)
        return failf(Errc::corrupt, offsetof(PvdHeader, m_Sectors),
                     "m_Sectors {} (the cluster size in sectors) out of range (1 to {})", sectors,
                     kMaxClusterSectors);
    // formats.md §2.3: the BAT may hold both units; ploop check repairs it.
    if ((h.m_Flags.value() & kCifFmtVersionConvert) != 0)
        return fail(Errc::unsupported,
                    "a conversion between ploop v1 and v2 was interrupted (m_Flags CIF_FmtVersionConvert): "
                    "run ploop check",
                    offsetof(PvdHeader, m_Flags));

    Geometry g;
    g.cluster_bytes = sectors * kSector;
    // QEMU's off_multiplier, ploop's ploop_ioff_to_sec: v1 entries count
    // sectors, v2 entries clusters.
    g.entry_unit = v1 ? kSector : g.cluster_bytes;
    g.bat_entries = h.m_Size.value();
    // ploop_pvd_header: v1 has a 32-bit m_SizeInSectors_v1 and then unused bytes.
    const std::uint64_t size_sectors = v1 ? h.m_SizeInSectors.value() & 0xFFFFFFFFu
                                          : h.m_SizeInSectors.value();
    const auto disk_bytes = checked_mul(size_sectors, kSector);
    if (!disk_bytes)
        return failf(Errc::corrupt, offsetof(PvdHeader, m_SizeInSectors),
                     "m_SizeInSectors {} is too large", size_sectors);
    g.disk_bytes = *disk_bytes;
    const std::uint32_t first_block = h.m_FirstBlockOffset.value();
    if (first_block != 0) {
        g.data_start = first_block * kSector;
    } else if (v1) {
        // QEMU parallels_test_data_off: old images may leave it 0, and the
        // data then starts after the BAT, at a sector boundary.
        g.data_start = round_up(kBatOffset + 4 * g.bat_entries, kSector);
    } else {
        return fail(Errc::corrupt, "m_FirstBlockOffset is 0 in a v2 image",
                    offsetof(PvdHeader, m_FirstBlockOffset));
    }
    g.in_use = h.m_DiskInUse.value() == kSignatureDiskInUse;
    return g;
}

/// The guest disk as one delta sees it: clusters its BAT maps come from its
/// file, the others from the delta below (`parent`), or are zeros.
class DeltaDevice final : public Device {
public:
    DeltaDevice(DevicePtr file, DevicePtr parent, const Geometry& g, std::uint64_t disk_bytes,
                std::uint64_t bat_entries)
        : Device(file->name(), disk_bytes, file->block_size()),
          file_(std::move(file)),
          parent_(std::move(parent)),
          cluster_bytes_(g.cluster_bytes),
          entry_unit_(g.entry_unit),
          data_start_(g.data_start),
          bat_entries_(bat_entries) {}

    std::vector<Location> map_block(std::uint64_t offset) const override {
        if (offset >= size()) return {};
        auto host = host_cluster(offset / cluster_bytes_);
        if (!host) return {};
        const Device* below = nullptr;
        std::uint64_t at = offset;
        if (*host != 0) {
            below = file_.get();
            at = *host + offset % cluster_bytes_;
        } else if (parent_) {
            below = parent_.get();
        } else {
            return {};  // zeros
        }
        std::vector<Location> chain{{below, at}};
        auto rest = below->map_block(at);
        chain.insert(chain.end(), rest.begin(), rest.end());
        return chain;
    }

    std::uint64_t contiguous(std::uint64_t offset) const override {
        if (offset >= size()) return 0;
        return std::min(cluster_bytes_ - offset % cluster_bytes_, size() - offset);
    }

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        std::size_t done = 0;
        while (done < out.size()) {
            const std::uint64_t pos = offset + done;
            const std::uint64_t within = pos % cluster_bytes_;
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(out.size() - done, cluster_bytes_ - within));
            const auto piece = out.subspan(done, n);
            VMDF_TRY_ASSIGN(const std::uint64_t host, host_cluster(pos / cluster_bytes_));
            if (host != 0) {
                VMDF_TRY(file_->read(host + within, piece));
            } else if (parent_) {
                VMDF_TRY(parent_->read(pos, piece));
            } else {
                std::fill(piece.begin(), piece.end(), std::byte{0});
            }
            done += n;
        }
        return {};
    }

private:
    /// Where guest cluster `index` starts in the file, or 0 where this delta
    /// does not hold it (formats.md §2.2: a BAT entry of 0).
    Result<std::uint64_t> host_cluster(std::uint64_t index) const {
        if (index >= bat_entries_) return std::uint64_t{0};
        VMDF_TRY_ASSIGN(const std::uint32_t entry, bat_entry(index));
        if (entry == 0) return std::uint64_t{0};
        const std::uint64_t host = entry * entry_unit_;  // < 2^32 * 64 MiB: no overflow
        const std::uint64_t at = kBatOffset + 4 * index;
        if (host < data_start_)
            return failf(Errc::corrupt, at,
                         "{}: BAT entry {} ({}) points at byte {}, before the data area (byte {})",
                         file_->name(), index, entry, host, data_start_);
        // QEMU parallels_check_outside_image: the whole cluster must be there.
        if (host > file_->size() || cluster_bytes_ > file_->size() - host)
            return failf(
                Errc::corrupt, at,
                "{}: BAT entry {} ({}) points at bytes {} to {}, past the end of the file ({} bytes)",
                file_->name(), index, entry, host, host + cluster_bytes_, file_->size());
        return host;
    }

    Result<std::uint32_t> bat_entry(std::uint64_t index) const {
        const std::uint64_t chunk = index / kBatChunkEntries;
        const std::lock_guard lock(mutex_);
        auto it = chunks_.find(chunk);
        if (it == chunks_.end()) {
            if (chunks_.size() >= kMaxCachedBatChunks) chunks_.clear();
            const std::uint64_t first = chunk * kBatChunkEntries;
            const std::uint64_t count = std::min(kBatChunkEntries, bat_entries_ - first);
            std::vector<be::little_uint32_buf_t> raw(static_cast<std::size_t>(count));
            VMDF_TRY(file_->read(kBatOffset + 4 * first, std::as_writable_bytes(std::span(raw))));
            std::vector<std::uint32_t> entries(raw.size());
            std::transform(raw.begin(), raw.end(), entries.begin(), [](auto e) { return e.value(); });
            it = chunks_.emplace(chunk, std::move(entries)).first;
        }
        return it->second[static_cast<std::size_t>(index - chunk * kBatChunkEntries)];
    }

    DevicePtr file_;
    DevicePtr parent_;
    std::uint64_t cluster_bytes_;
    std::uint64_t entry_unit_;
    std::uint64_t data_start_;
    std::uint64_t bat_entries_;  ///< those that cover the disk; the rest are never read
    mutable std::mutex mutex_;
    mutable std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> chunks_;
};

/// A delta in `file` over `parent` (null: zeros below). The disk is
/// `disk_bytes` long, or as long as the header says. `label` names the
/// delta in warnings (empty for an image opened on its own).
Result<DevicePtr> open_delta(DevicePtr file, DevicePtr parent, std::optional<std::uint64_t> disk_bytes,
                             std::string_view label, std::vector<std::string>& warnings) {
    VMDF_TRY_ASSIGN(const PvdHeader header, read_struct<PvdHeader>(*file, 0));
    VMDF_TRY_ASSIGN(const Geometry g, decode_header(header));
    const std::uint64_t disk = disk_bytes.value_or(g.disk_bytes);
    // Entries past the disk's last cluster are never read, so they need not
    // be in the file; those before it must be.
    const std::uint64_t covering = disk / g.cluster_bytes + (disk % g.cluster_bytes != 0);
    const std::uint64_t entries = std::min(g.bat_entries, covering);
    const std::uint64_t bat_end = kBatOffset + 4 * entries;  // entries < 2^32
    if (bat_end > file->size())
        return failf(Errc::truncated, kBatOffset,
                     "the BAT ({} entries, to byte {}) runs past the end of the file ({} bytes)",
                     entries, bat_end, file->size());
    if (g.data_start < bat_end)
        return failf(Errc::corrupt, offsetof(PvdHeader, m_FirstBlockOffset),
                     "the data area (byte {}) starts inside the BAT (which ends at byte {})",
                     g.data_start, bat_end);
    if (g.data_start > file->size())
        return failf(Errc::truncated, offsetof(PvdHeader, m_FirstBlockOffset),
                     "the data area (byte {}) starts past the end of the file ({} bytes)",
                     g.data_start, file->size());
    if (g.in_use)
        warnings.push_back(fmt::format(
            "{} is in use or was not closed cleanly (m_DiskInUse): the figures may be stale",
            label.empty() ? "the ploop image" : fmt::format("ploop delta {}", label)));
    return DevicePtr(std::make_shared<DeltaDevice>(std::move(file), std::move(parent), g, disk, entries));
}

Result<bool> has_signature(const Device& file) {
    std::array<char, 16> sig{};
    if (file.size() < sig.size()) return false;
    VMDF_TRY(file.read(0, std::as_writable_bytes(std::span(sig))));
    const std::string_view s(sig.data(), sig.size());
    return s == kSignatureV1 || s == kSignatureV2;
}

// --- XML ------------------------------------------------------------------------

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_name_start(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u == ':' || u >= 0x80;
}

bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    auto put = [&](std::uint32_t byte) { out.push_back(static_cast<char>(byte)); };
    if (cp < 0x80) {
        put(cp);
    } else if (cp < 0x800) {
        put(0xC0 | cp >> 6), put(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        put(0xE0 | cp >> 12), put(0x80 | (cp >> 6 & 0x3F)), put(0x80 | (cp & 0x3F));
    } else {
        put(0xF0 | cp >> 18), put(0x80 | (cp >> 12 & 0x3F)), put(0x80 | (cp >> 6 & 0x3F)),
            put(0x80 | (cp & 0x3F));
    }
}

/// A character reference's code point ("#65", "#x41"), if it is one XML allows.
std::optional<std::uint32_t> char_ref(std::string_view ref) {
    if (ref.size() < 2 || ref.size() > 9 || ref[0] != '#') return std::nullopt;
    const bool hex = ref[1] == 'x';
    const std::string_view digits = ref.substr(hex ? 2 : 1);
    if (digits.empty()) return std::nullopt;
    std::uint32_t cp = 0;
    for (char c : digits) {
        std::uint32_t d = 0;
        if (c >= '0' && c <= '9') d = static_cast<std::uint32_t>(c - '0');
        else if (hex && c >= 'a' && c <= 'f') d = static_cast<std::uint32_t>(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F') d = static_cast<std::uint32_t>(c - 'A' + 10);
        else return std::nullopt;
        cp = cp * (hex ? 16 : 10) + d;  // at most 7 hex or 8 decimal digits: no overflow
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    return cp;
}

class XmlParser {
public:
    explicit XmlParser(std::string_view doc) : doc_(doc) {}

    Result<XmlElement> parse() {
        if (doc_.starts_with("\xEF\xBB\xBF"sv)) pos_ = 3;  // UTF-8 byte order mark
        while (pos_ < doc_.size()) {
            if (doc_[pos_] != '<') {
                VMDF_TRY(text());
            } else if (at("<?"sv)) {
                VMDF_TRY(skip_past("?>"sv, "processing instruction"));
            } else if (at("<!--"sv)) {
                VMDF_TRY(skip_past("-->"sv, "comment"));
            } else if (at("<![CDATA["sv)) {
                VMDF_TRY(cdata());
            } else if (at("<!"sv)) {
                VMDF_TRY(doctype());
            } else if (at("</"sv)) {
                VMDF_TRY(end_tag());
            } else {
                VMDF_TRY(start_tag());
            }
        }
        if (!open_.empty())
            return error(open_.back().offset, fmt::format("<{}> is never closed", open_.back().name));
        if (!root_) return error(0, "no root element");
        return std::move(*root_);
    }

private:
    Failure error(std::uint64_t at, std::string message) const {
        const auto line = 1 + std::count(doc_.begin(), doc_.begin() + static_cast<std::ptrdiff_t>(at), '\n');
        return failf(Errc::corrupt, at, "line {}: {}", line, message);
    }

    bool at(std::string_view s) const { return doc_.substr(pos_).starts_with(s); }

    bool skip_spaces() {
        const std::size_t from = pos_;
        while (pos_ < doc_.size() && is_space(doc_[pos_])) ++pos_;
        return pos_ != from;
    }

    Status skip_past(std::string_view end, std::string_view what) {
        const std::size_t found = doc_.find(end, pos_);
        if (found == std::string_view::npos) return error(pos_, fmt::format("{} never ends", what));
        pos_ = found + end.size();
        return {};
    }

    Result<std::string> name() {
        const std::size_t from = pos_;
        if (pos_ >= doc_.size() || !is_name_start(doc_[pos_])) return error(pos_, "a name was expected");
        while (pos_ < doc_.size() && is_name_char(doc_[pos_])) ++pos_;
        return std::string(doc_.substr(from, pos_ - from));
    }

    /// Appends `raw` (text or an attribute value at `from`) with its
    /// references replaced.
    Status decode(std::string_view raw, std::size_t from, std::string& out) const {
        static constexpr std::pair<std::string_view, char> kEntities[] = {
            {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '&') {
                out.push_back(raw[i]);
                continue;
            }
            const std::size_t semi = raw.find(';', i);
            if (semi == std::string_view::npos || semi - i > 10)
                return error(from + i, "'&' starts no entity or character reference");
            const std::string_view ref = raw.substr(i + 1, semi - i - 1);
            const auto named = std::find_if(std::begin(kEntities), std::end(kEntities),
                                            [&](const auto& e) { return e.first == ref; });
            if (named != std::end(kEntities)) {
                out.push_back(named->second);
            } else if (auto cp = char_ref(ref)) {
                append_utf8(out, *cp);
            } else {
                return error(from + i, fmt::format("unknown entity &{};", ref));
            }
            i = semi;
        }
        return {};
    }

    Status text() {
        const std::size_t from = pos_;
        pos_ = std::min(doc_.find('<', pos_), doc_.size());
        const std::string_view raw = doc_.substr(from, pos_ - from);
        if (open_.empty()) {
            if (!trim(raw).empty()) return error(from, "text outside the root element");
            return {};
        }
        return decode(raw, from, open_.back().text);
    }

    Status cdata() {
        if (open_.empty()) return error(pos_, "CDATA outside the root element");
        const std::size_t from = pos_ + "<![CDATA["sv.size();
        const std::size_t end = doc_.find("]]>"sv, from);
        if (end == std::string_view::npos) return error(pos_, "CDATA section never ends");
        open_.back().text += doc_.substr(from, end - from);
        pos_ = end + 3;
        return {};
    }

    /// <!DOCTYPE ...>, possibly with an internal subset in brackets: only
    /// before the root element, and skipped (no entity it declares is used).
    Status doctype() {
        if (!open_.empty() || root_) return error(pos_, "a <! declaration inside the document");
        int depth = 0;
        for (std::size_t i = pos_ + 2; i < doc_.size(); ++i) {
            if (doc_[i] == '[') ++depth;
            else if (doc_[i] == ']') --depth;
            else if (doc_[i] == '>' && depth <= 0) {
                pos_ = i + 1;
                return {};
            }
        }
        return error(pos_, "<!DOCTYPE never ends");
    }

    Status end_tag() {
        const std::size_t from = pos_;
        pos_ += 2;
        VMDF_TRY_ASSIGN(const std::string tag, name());
        skip_spaces();
        if (!at(">"sv)) return error(pos_, fmt::format("'>' expected to end </{}>", tag));
        ++pos_;
        if (open_.empty()) return error(from, fmt::format("</{}> closes no element", tag));
        if (open_.back().name != tag)
            return error(from, fmt::format("</{}> closes <{}>", tag, open_.back().name));
        XmlElement done = std::move(open_.back());
        open_.pop_back();
        attach(std::move(done));
        return {};
    }

    Status start_tag() {
        const std::size_t from = pos_;
        ++pos_;
        VMDF_TRY_ASSIGN(std::string tag, name());
        if (root_) return error(from, fmt::format("a second root element <{}>", tag));
        if (++elements_ > kMaxXmlElements)
            return error(from, fmt::format("more than {} elements", kMaxXmlElements));
        if (open_.size() >= kMaxXmlDepth)
            return error(from, fmt::format("elements nested more than {} deep", kMaxXmlDepth));
        XmlElement element{std::move(tag), {}, {}, from};
        for (;;) {
            const bool spaced = skip_spaces();
            if (at("/>"sv)) {
                pos_ += 2;
                attach(std::move(element));
                return {};
            }
            if (at(">"sv)) {
                ++pos_;
                open_.push_back(std::move(element));
                return {};
            }
            if (!spaced || pos_ >= doc_.size())
                return error(pos_, fmt::format("'>' expected in <{}>", element.name));
            VMDF_TRY(attribute(element.name));
        }
    }

    /// name="value" or name='value': checked, then dropped (ploop reads none).
    Status attribute(std::string_view tag) {
        VMDF_TRY_ASSIGN(const std::string attr, name());
        skip_spaces();
        if (!at("="sv)) return error(pos_, fmt::format("'=' expected after {} in <{}>", attr, tag));
        ++pos_;
        skip_spaces();
        if (pos_ >= doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\''))
            return error(pos_, fmt::format("quoted value expected for {} in <{}>", attr, tag));
        const char quote = doc_[pos_++];
        const std::size_t end = doc_.find(quote, pos_);
        if (end == std::string_view::npos) return error(pos_, fmt::format("value of {} never ends", attr));
        const std::string_view raw = doc_.substr(pos_, end - pos_);
        if (raw.find('<') != std::string_view::npos) return error(pos_, "'<' in an attribute value");
        std::string value;
        VMDF_TRY(decode(raw, pos_, value));
        pos_ = end + 1;
        return {};
    }

    void attach(XmlElement element) {
        if (open_.empty()) root_ = std::move(element);
        else open_.back().children.push_back(std::move(element));
    }

    std::string_view doc_;
    std::size_t pos_ = 0;
    std::size_t elements_ = 0;
    std::vector<XmlElement> open_;  // the elements not yet closed, outermost first
    std::optional<XmlElement> root_;
};

// --- DiskDescriptor.xml -------------------------------------------------------------

struct DescriptorImage {
    std::string guid;  ///< normalised: see normalise_guid
    bool plain = false;
    std::string file;
};

struct Shot {
    std::string guid, parent;
};

struct Descriptor {
    std::uint64_t disk_bytes = 0;
    std::vector<DescriptorImage> images;
    std::vector<Shot> shots;
    std::string top_guid;  ///< <TopGUID>, or the predefined top GUID
};

/// GUIDs compare case-insensitively, braces optional (for --snapshot).
std::string normalise_guid(std::string_view guid) {
    guid = trim(guid);
    std::string out;
    if (!guid.starts_with('{')) out += '{';
    for (char c : guid) out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!guid.ends_with('}')) out += '}';
    return out;
}

/// The trimmed text of `parent`'s child `name`, which must be there.
Result<std::string_view> required_text(const XmlElement& parent, std::string_view name) {
    const XmlElement* e = parent.child(name);
    if (!e) return failf(Errc::corrupt, parent.offset, "<{}> has no <{}>", parent.name, name);
    const std::string_view text = trim(e->text);
    if (text.empty()) return failf(Errc::corrupt, e->offset, "<{}> is empty", name);
    return text;
}

Result<std::uint64_t> decimal(std::string_view text, const XmlElement& where) {
    std::uint64_t value = 0;
    if (text.empty() || text.size() > 19)
        return failf(Errc::corrupt, where.offset, "<{}> is not a number: {}", where.name, text);
    for (char c : text) {
        if (c < '0' || c > '9')
            return failf(Errc::corrupt, where.offset, "<{}> is not a number: {}", where.name, text);
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

/// ploop lib/xml.c parse_xml, prl-xml.rst: elements are found by their
/// path under the root, whatever the root is called.
Result<Descriptor> read_descriptor(const XmlElement& root) {
    Descriptor d;
    const XmlElement* params = root.child("Disk_Parameters");
    if (!params) return failf(Errc::corrupt, root.offset, "no <Disk_Parameters> in <{}>", root.name);
    VMDF_TRY_ASSIGN(const std::string_view size_text, required_text(*params, "Disk_size"));
    VMDF_TRY_ASSIGN(const std::uint64_t sectors, decimal(size_text, *params->child("Disk_size")));
    const auto disk_bytes = checked_mul(sectors, kSector);
    if (!disk_bytes) return failf(Errc::corrupt, params->offset, "<Disk_size> {} is too large", sectors);
    d.disk_bytes = *disk_bytes;
    if (const XmlElement* e = params->child("Encryption"))
        return fail(Errc::unsupported, "the disk is encrypted (<Encryption>)", e->offset);
    // prl-xml.rst: "QEMU and other software should not open such disks".
    if (const XmlElement* e = params->child("Padding"); e && trim(e->text) != "0")
        return failf(Errc::unsupported, e->offset, "<Padding> is {}, not 0", trim(e->text));

    const XmlElement* storage_data = root.child("StorageData");
    if (!storage_data) return failf(Errc::corrupt, root.offset, "no <StorageData> in <{}>", root.name);
    if (const XmlElement* e = storage_data->child("Volume"))
        return fail(Errc::unsupported, "a disk layered on another ploop disk (<Volume>)", e->offset);
    const XmlElement* storage = nullptr;
    for (const XmlElement& e : storage_data->children) {
        if (e.name != "Storage") continue;
        if (storage) return fail(Errc::unsupported, "a split image (more than one <Storage>)", e.offset);
        storage = &e;
    }
    if (!storage) return fail(Errc::corrupt, "no <Storage> in <StorageData>", storage_data->offset);
    for (const XmlElement& e : storage->children) {
        if (e.name != "Image") continue;
        DescriptorImage image;
        VMDF_TRY_ASSIGN(const std::string_view guid, required_text(e, "GUID"));
        VMDF_TRY_ASSIGN(const std::string_view type, required_text(e, "Type"));
        VMDF_TRY_ASSIGN(const std::string_view file, required_text(e, "File"));
        if (type != "Plain" && type != "Compressed")
            return failf(Errc::unsupported, e.offset, "image {}: <Type> {} is neither Plain nor Compressed",
                         guid, type);
        image.guid = normalise_guid(guid);
        image.plain = type == "Plain";
        image.file = std::string(file);
        d.images.push_back(std::move(image));
    }

    const XmlElement* snapshots = root.child("Snapshots");
    if (!snapshots) return failf(Errc::corrupt, root.offset, "no <Snapshots> in <{}>", root.name);
    d.top_guid = std::string(kTopDeltaGuid);
    if (snapshots->child("TopGUID")) {
        VMDF_TRY_ASSIGN(const std::string_view top, required_text(*snapshots, "TopGUID"));
        d.top_guid = normalise_guid(top);
    }
    for (const XmlElement& e : snapshots->children) {
        if (e.name != "Shot") continue;
        VMDF_TRY_ASSIGN(const std::string_view guid, required_text(e, "GUID"));
        VMDF_TRY_ASSIGN(const std::string_view parent, required_text(e, "ParentGUID"));
        d.shots.push_back(Shot{normalise_guid(guid), normalise_guid(parent)});
    }
    return d;
}

/// The images from snapshot `top` down to the base (ploop lib/ploop.c
/// make_images_list): each <Shot> names its parent, and an <Image> with
/// the same GUID holds its delta.
Result<std::vector<const DescriptorImage*>> image_chain(const Descriptor& d, std::string_view snapshot) {
    const auto shot_of = [&](const std::string& guid) {
        auto it = std::find_if(d.shots.begin(), d.shots.end(), [&](const Shot& s) { return s.guid == guid; });
        return it == d.shots.end() ? nullptr : &*it;
    };
    std::string guid = d.top_guid;
    if (!snapshot.empty()) {
        guid = normalise_guid(snapshot);
        if (!shot_of(guid)) {
            std::string known;
            for (const Shot& s : d.shots) known += (known.empty() ? "" : ", ") + s.guid;
            return failf(Errc::unsupported, std::nullopt, "no snapshot {} (the snapshots are {})",
                         guid, known.empty() ? "none" : known);
        }
    }
    std::vector<const DescriptorImage*> chain;
    std::set<std::string> seen;
    while (guid != kZeroGuid) {
        if (!seen.insert(guid).second)
            return failf(Errc::corrupt, std::nullopt, "loop in the snapshot chain: {} is its own ancestor",
                         guid);
        if (chain.size() >= kMaxImageChainDepth)
            return failf(Errc::unsupported, std::nullopt, "chain of snapshots deeper than {}",
                         kMaxImageChainDepth);
        const Shot* shot = shot_of(guid);
        if (!shot) return failf(Errc::corrupt, std::nullopt, "no <Shot> with GUID {}", guid);
        auto image = std::find_if(d.images.begin(), d.images.end(),
                                  [&](const DescriptorImage& i) { return i.guid == guid; });
        if (image == d.images.end())
            return failf(Errc::corrupt, std::nullopt, "no <Image> with GUID {}", guid);
        chain.push_back(&*image);
        guid = shot->parent;
    }
    if (chain.empty()) return fail(Errc::corrupt, "the top snapshot is the all-zero GUID");
    // prl-xml.rst: overlays must be expandable; only the root may be raw.
    for (std::size_t i = 0; i + 1 < chain.size(); ++i)
        if (chain[i]->plain)
            return failf(Errc::corrupt, std::nullopt,
                         "image {} ({}) is Plain but has a parent: only the base may be", chain[i]->guid,
                         chain[i]->file);
    return chain;
}

Result<bool> looks_like_descriptor(const Device& file) {
    VMDF_TRY_ASSIGN(const auto head,
                    read_bytes(file, 0, std::min(file.size(), kProbeBytes), kProbeBytes));
    std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
    if (text.starts_with("\xEF\xBB\xBF"sv)) text.remove_prefix(3);
    text = trim(text);
    if (text.size() < 2 || text[0] != '<' || !(text[1] == '?' || text[1] == '!' || is_name_start(text[1])))
        return false;
    // The root element's name varies (Parallels_disk_image,
    // Virtuozzo_disk_image), its <StorageData> does not.
    VMDF_TRY_ASSIGN(const auto all, read_bytes(file, 0, std::min(file.size(), kMaxDescriptorBytes),
                                               kMaxDescriptorBytes));
    const std::string_view doc(reinterpret_cast<const char*>(all.data()), all.size());
    for (std::size_t at = doc.find("<StorageData"sv); at != std::string_view::npos;
         at = doc.find("<StorageData"sv, at + 1)) {
        const std::size_t after = at + "<StorageData"sv.size();
        if (after < doc.size() && (doc[after] == '>' || doc[after] == '/' || is_space(doc[after])))
            return true;
    }
    return false;
}

/// A file the descriptor names, opened as it is; errors say which.
Result<DevicePtr> open_named(const ImageContext& context, const std::string& name) {
    auto opened = context.open_file(name);
    if (opened) return opened;
    const std::string resolved = resolve_relative(context.path, name);
    Error error = std::move(opened).error();
    if (!error.where.empty() && error.where.front() == resolved) error.where.erase(error.where.begin());
    return fail(std::move(error.within("backing file " + resolved)));
}

Result<DevicePtr> open_descriptor(const Device& file, const ImageContext& context) {
    if (file.size() > kMaxDescriptorBytes)
        return failf(Errc::unsupported, std::nullopt,
                     "DiskDescriptor.xml: {} bytes, more than the limit of {}", file.size(),
                     kMaxDescriptorBytes);
    VMDF_TRY_ASSIGN(const auto bytes, read_bytes(file, 0, file.size(), kMaxDescriptorBytes));
    const std::string_view doc(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    auto chain = [&]() -> Result<std::pair<Descriptor, std::vector<std::size_t>>> {
        VMDF_TRY_ASSIGN(const XmlElement root, parse_xml(doc));
        VMDF_TRY_ASSIGN(Descriptor d, read_descriptor(root));
        VMDF_TRY_ASSIGN(const auto images, image_chain(d, context.snapshot));
        std::vector<std::size_t> indices;  // pointers into d would not survive the move
        for (const DescriptorImage* i : images)
            indices.push_back(static_cast<std::size_t>(i - d.images.data()));
        return std::pair{std::move(d), std::move(indices)};
    }();
    if (!chain) return fail(std::move(chain.error().within("DiskDescriptor.xml")));
    const auto& [d, indices] = *chain;

    // From the base up: each delta reads through to the one below.
    DevicePtr layer;
    for (auto it = indices.rbegin(); it != indices.rend(); ++it) {
        const DescriptorImage& image = d.images[*it];
        VMDF_TRY_ASSIGN(DevicePtr opened, open_named(context, image.file));
        if (image.plain) {
            // formats.md §2.6: a raw file of Disk_size sectors.
            if (opened->size() < d.disk_bytes)
                return failf(Errc::truncated, std::nullopt,
                             "backing file {}: the Plain image has {} bytes, fewer than the disk's {}",
                             opened->name(), opened->size(), d.disk_bytes);
            VMDF_TRY_ASSIGN(layer, SliceDevice::create(opened, opened->name(), 0, d.disk_bytes,
                                                       opened->block_size()));
            continue;
        }
        auto delta = open_delta(opened, layer, d.disk_bytes, image.file, context.warnings);
        if (!delta)
            return fail(std::move(delta.error().within("ploop").within("backing file " + opened->name())));
        layer = std::move(*delta);
    }
    return layer;
}

// --- the plugin -------------------------------------------------------------------

Result<Score> probe(const Device& file) {
    VMDF_TRY_ASSIGN(const bool signature, has_signature(file));
    if (signature) return kCertain;
    // A descriptor names other files, which the guest must not choose: a
    // guest can write XML to the start of its raw disk, but cannot rename
    // the disk's file (CVE-2010-3851). ploop's tools (is_xml_fname) also
    // take a file for a descriptor by its name. --format=ploop opens any.
    if (!file.name().ends_with(".xml")) return kNotMine;
    VMDF_TRY_ASSIGN(const bool descriptor, looks_like_descriptor(file));
    return descriptor ? kCertain : kNotMine;
}

Result<DevicePtr> open(DevicePtr file, const ImageContext& context) {
    VMDF_TRY_ASSIGN(const bool signature, has_signature(*file));
    if (signature) {
        if (!context.snapshot.empty())
            return fail(Errc::unsupported,
                        "a single ploop image has no snapshots (--snapshot): name its DiskDescriptor.xml");
        return open_delta(std::move(file), nullptr, std::nullopt, {}, context.warnings);
    }
    VMDF_TRY_ASSIGN(const bool descriptor, looks_like_descriptor(*file));
    if (!descriptor)
        return fail(Errc::corrupt,
                    "neither a ploop image (no WithoutFreeSpace or WithouFreSpacExt signature) "
                    "nor a DiskDescriptor.xml",
                    0);
    return open_descriptor(*file, context);
}

}  // namespace

const XmlElement* XmlElement::child(std::string_view child_name) const {
    for (const XmlElement& e : children)
        if (e.name == child_name) return &e;
    return nullptr;
}

Result<XmlElement> parse_xml(std::string_view document) { return XmlParser(document).parse(); }

}  // namespace vmdf::ploop

namespace vmdf {
constexpr ImagePlugin ploop_plugin{
    .name = "ploop",
    .magics = {},  // DiskDescriptor.xml has none: the probe looks
    .probe = ploop::probe,
    .open = ploop::open,
    .descriptor_file = "DiskDescriptor.xml",
    .alias = "parallels",
};
}
