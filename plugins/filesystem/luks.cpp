// SPDX-License-Identifier: GPL-2.0-or-later
// LUKS1 and LUKS2 containers (cryptsetup's docs/on-disk-format.pdf and
// docs/on-disk-format-luks2.pdf), recognised so that an encrypted volume is
// reported as such rather than silently missing. As in virt-df, which has
// no way to be given a key, nothing inside is listed. LUKS2 keeps a second
// copy of its binary header, found at one of the offsets cryptsetup allows
// (as libblkid looks for it) when the first is damaged.
#include "plugins/filesystem/luks.hpp"

#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::luks {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::string_view kMagic = "LUKS\xba\xbe"sv;
constexpr std::string_view kSecondaryMagic = "SKUL\xba\xbe"sv;
/// Where a LUKS2 secondary header may start: right after a primary header
/// (binary header plus JSON area) of 16 KiB .. 4 MiB.
constexpr std::uint64_t kSecondaryOffsets[] = {0x4000,  0x8000,   0x10000,  0x20000, 0x40000,
                                               0x80000, 0x100000, 0x200000, 0x400000};

// The start of the LUKS1 phdr and of the LUKS2 binary header: both are
// big-endian and share the magic, version and UUID positions.
struct Header {
    char magic[6];                         // 0: kMagic, or kSecondaryMagic
    be::big_uint16_buf_t version;          // 6: 1 or 2
    std::uint8_t v1_cipher_or_v2_sizes[160];  // 8: LUKS1 cipher/hash names, LUKS2 hdr_size, seqid, label, ...
    char uuid[40];                         // 168: text, NUL-padded
    std::uint8_t v2_subsystem[48];         // 208 (LUKS2)
    be::big_uint64_buf_t v2_hdr_offset;    // 256 (LUKS2): where this header is
};
static_assert(sizeof(Header) == 264);

struct Found {
    unsigned version = 0;
    std::string uuid;
    bool secondary = false;
};

std::string printable(const char* text, std::size_t size) {
    std::string out;
    for (std::size_t i = 0; i < size && text[i] != '\0'; ++i)
        out += (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
    return out;
}

/// The header at 0, else a LUKS2 secondary header that says where it is.
Result<std::optional<Found>> find_header(const Device& dev) {
    auto primary = read_struct<Header>(dev, 0);
    if (primary && std::string_view(primary->magic, 6) == kMagic) {
        const unsigned v = primary->version.value();
        if (v == 1 || v == 2)
            return std::optional<Found>{Found{v, printable(primary->uuid, sizeof primary->uuid), false}};
    }
    for (std::uint64_t offset : kSecondaryOffsets) {
        auto h = read_struct<Header>(dev, offset);
        if (!h) break;  // the device ends before this offset
        if (std::string_view(h->magic, 6) == kSecondaryMagic && h->version.value() == 2 &&
            h->v2_hdr_offset.value() == offset)
            return std::optional<Found>{Found{2, printable(h->uuid, sizeof h->uuid), true}};
    }
    return std::optional<Found>{};
}

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(auto found, find_header(dev));
    return found ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(auto found, find_header(dev));
    if (!found) return fail(Errc::corrupt, "no LUKS header");
    Filesystem fs;
    fs.type = "crypto_LUKS";  // blkid's name for it
    fs.listed = false;
    fs.warnings.push_back(fmt::format(
        "encrypted (LUKS{}, UUID {}{}): not reported: virt-df cannot read encrypted volumes "
        "without the key",
        found->version, found->uuid.empty() ? "none" : found->uuid,
        found->secondary ? ", primary header damaged" : ""));
    return fs;
}

constexpr Magic kMagics[] = {
    {0, kMagic},
    {0x4000, kSecondaryMagic},  {0x8000, kSecondaryMagic},   {0x10000, kSecondaryMagic},
    {0x20000, kSecondaryMagic}, {0x40000, kSecondaryMagic},  {0x80000, kSecondaryMagic},
    {0x100000, kSecondaryMagic}, {0x200000, kSecondaryMagic}, {0x400000, kSecondaryMagic},
};

}  // namespace
}  // namespace vmdf::luks

namespace vmdf {
constexpr FilesystemPlugin luks_plugin{"luks", luks::kMagics, luks::probe, luks::open};
}
