// SPDX-License-Identifier: GPL-2.0-or-later
// BitLocker volumes (Windows Vista and later, and BitLocker To Go), told
// apart as libblkid tells them (superblocks/bitlocker.c): a boot sector
// beginning EB 52 90 "-FVE-FS-" (Vista), or EB 58 90 "-FVE-FS-" (Windows 7
// and later) or EB 58 90 "MSWIN4.1" (To Go) whose FVE metadata offset
// points at a block that begins "-FVE-FS-". libguestfs lists such a volume
// as "BitLocker" and virt-df never shows it (there is no key option), so
// it is recognised, with a warning, and not listed.
#include "plugins/filesystem/bitlocker.hpp"

#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>

#include "core/byte_reader.hpp"

namespace vmdf::bitlocker {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::string_view kMagicVista = "\xEB\x52\x90-FVE-FS-"sv;
constexpr std::string_view kMagicWin7 = "\xEB\x58\x90-FVE-FS-"sv;
constexpr std::string_view kMagicToGo = "\xEB\x58\x90MSWIN4.1"sv;
constexpr std::string_view kFveSignature = "-FVE-FS-"sv;

// The boot sector of an encrypted volume (libbde's "BitLocker Drive
// Encryption (BDE) format", volume header): the fields read here.
struct BootSector {
    char start[11];                                 // 0: jump and OEM name
    std::uint8_t pad_11[160 - 11];
    std::uint8_t win7_guid[16];                     // 160: the BitLocker GUID
    be::little_uint64_buf_t win7_metadata_offset;   // 176: first FVE metadata block
    std::uint8_t pad_184[424 - 184];
    std::uint8_t togo_guid[16];                     // 424
    be::little_uint64_buf_t togo_metadata_offset;   // 440
    std::uint8_t pad_448[512 - 448];
};
static_assert(sizeof(BootSector) == 512 && alignof(BootSector) == 1);
static_assert(offsetof(BootSector, win7_metadata_offset) == 176);
static_assert(offsetof(BootSector, togo_metadata_offset) == 440);

enum class Kind { vista, win7, togo };

/// The kind of BitLocker volume `dev` is, or nothing.
Result<std::optional<Kind>> identify(const Device& dev) {
    if (dev.size() < sizeof(BootSector)) return std::optional<Kind>{};
    VMDF_TRY_ASSIGN(const auto bs, read_struct<BootSector>(dev, 0));
    const std::string_view start(bs.start, sizeof bs.start);
    // Vista's header is taken on its magic alone.
    if (start == kMagicVista) return std::optional<Kind>{Kind::vista};
    std::uint64_t metadata = 0;
    Kind kind;
    if (start == kMagicWin7) {
        kind = Kind::win7;
        metadata = bs.win7_metadata_offset.value();
    } else if (start == kMagicToGo) {
        kind = Kind::togo;
        metadata = bs.togo_metadata_offset.value();
    } else {
        return std::optional<Kind>{};
    }
    // A To Go header is also a FAT boot sector: only the FVE metadata
    // block tells an encrypted volume from a plain one.
    if (metadata == 0 || metadata > dev.size() || dev.size() - metadata < kFveSignature.size())
        return std::optional<Kind>{};
    char signature[8];
    VMDF_TRY(dev.read(metadata, std::as_writable_bytes(std::span{signature})));
    if (std::string_view(signature, sizeof signature) != kFveSignature) return std::optional<Kind>{};
    return std::optional<Kind>{kind};
}

/// Certain: above FAT's score for a To Go volume's FAT-like boot sector.
Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(const auto kind, identify(dev));
    return kind ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const auto kind, identify(dev));
    if (!kind) return fail(Errc::corrupt, "not a BitLocker volume", 0);
    Filesystem fs;
    fs.type = "BitLocker";
    fs.listed = false;
    fs.warnings.push_back(*kind == Kind::togo
                              ? "encrypted (BitLocker To Go): not reported, there is no key to unlock it"
                              : "encrypted (BitLocker): not reported, there is no key to unlock it");
    return fs;
}

constexpr Magic kMagics[] = {{0, kMagicVista}, {0, kMagicWin7}, {0, kMagicToGo}};

}  // namespace
}  // namespace vmdf::bitlocker

namespace vmdf {
constexpr FilesystemPlugin bitlocker_plugin{"bitlocker", bitlocker::kMagics, bitlocker::probe,
                                            bitlocker::open};
}
