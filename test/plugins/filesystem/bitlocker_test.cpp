// SPDX-License-Identifier: GPL-2.0-or-later
// BitLocker recognition on synthetic boot sectors: no tool on Linux makes
// a BitLocker volume, so the headers are built here from libblkid's and
// libbde's descriptions of them.
#include <catch2/catch.hpp>

#include "core/scan.hpp"
#include "plugins/filesystem/bitlocker.hpp"
#include "plugins/filesystem/fat.hpp"
#include "plugins/filesystem/ntfs.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kSize = 1 << 20;
constexpr std::uint64_t kMetadata = 0x10000;  // where the FVE metadata block goes

/// A Windows 7+ BitLocker boot sector ("-FVE-FS-", metadata offset at 176).
ImageBuilder win7(bool with_metadata = true) {
    ImageBuilder b(kSize);
    b.put(0, "\xEB\x58\x90-FVE-FS-").le16(11, 512).u8(13, 8).le64(176, kMetadata);
    b.u8(510, 0x55).u8(511, 0xAA);
    if (with_metadata) b.put(kMetadata, "-FVE-FS-").le16(kMetadata + 8, 0x40).le16(kMetadata + 10, 2);
    return b;
}

/// A BitLocker To Go boot sector: a FAT32 BPB that fat's probe would take,
/// "MSWIN4.1", and the metadata offset at 440.
ImageBuilder togo() {
    ImageBuilder b(kSize);
    b.put(0, "\xEB\x58\x90MSWIN4.1").le16(11, 512).u8(13, 8).le16(14, 32).u8(16, 2).u8(21, 0xF8);
    b.le32(32, static_cast<std::uint32_t>(kSize / 512)).le32(36, 16).le32(44, 2);
    b.le64(440, kMetadata).put(kMetadata, "-FVE-FS-");
    return b.u8(510, 0x55).u8(511, 0xAA);
}

}  // namespace

TEST_CASE("bitlocker: Vista, Windows 7 and To Go headers are recognised and not listed", "[bitlocker]") {
    ImageBuilder vista(kSize);
    vista.put(0, "\xEB\x52\x90-FVE-FS-");
    for (auto* b : {&vista}) {
        auto dev = b->device();
        CHECK(*bitlocker_plugin.probe(*dev) == kCertain);
    }
    struct Case {
        const char* what;
        ImageBuilder image;
        const char* warning;
    };
    Case cases[] = {{"Vista", vista, "encrypted (BitLocker): not reported"},
                    {"Windows 7", win7(), "encrypted (BitLocker): not reported"},
                    {"To Go", togo(), "encrypted (BitLocker To Go): not reported"}};
    for (Case& c : cases) {
        INFO(c.what);
        auto dev = c.image.device();
        CHECK(*bitlocker_plugin.probe(*dev) == kCertain);
        auto fs = bitlocker_plugin.open(*dev, {});
        REQUIRE(fs);
        CHECK(fs->type == "BitLocker");
        CHECK_FALSE(fs->listed);
        REQUIRE(fs->warnings.size() == 1);
        CHECK_THAT(fs->warnings[0], Catch::StartsWith(c.warning));
    }
}

TEST_CASE("bitlocker: without FVE metadata where the header points it is not BitLocker", "[bitlocker]") {
    // libblkid's rule: Windows 7 and To Go headers need the metadata block.
    auto no_metadata = win7(false).device();
    CHECK(*bitlocker_plugin.probe(*no_metadata) == kNotMine);
    ImageBuilder zero = win7();
    zero.le64(176, 0);
    CHECK(*bitlocker_plugin.probe(*zero.device()) == kNotMine);
    ImageBuilder past = win7();
    past.le64(176, kSize - 4);
    CHECK(*bitlocker_plugin.probe(*past.device()) == kNotMine);
    ImageBuilder huge = win7();
    huge.le64(176, ~std::uint64_t{0});
    CHECK(*bitlocker_plugin.probe(*huge.device()) == kNotMine);
    // A plain FAT volume named MSWIN4.1 is FAT's.
    ImageBuilder fat = togo();
    fat.le64(440, 0);
    CHECK(*bitlocker_plugin.probe(*fat.device()) == kNotMine);
    CHECK(*fat_plugin.probe(*fat.device()) > kNotMine);
    // Too short for a boot sector.
    ImageBuilder tiny(100);
    CHECK(*bitlocker_plugin.probe(*tiny.device()) == kNotMine);
}

TEST_CASE("bitlocker: wins over NTFS and FAT in a scan, and no row is printed", "[bitlocker]") {
    for (auto image : {win7(), togo()}) {
        auto dev = image.device();
        CHECK(*ntfs_plugin.probe(*dev) == kNotMine);
        std::vector<GuestDisk> disks{{"bl.img", dev}};
        const ScanReport report = scan_guest(disks, builtin_plugins());
        CHECK(report.rows.empty());
        REQUIRE(report.warnings.size() == 1);
        CHECK_THAT(report.warnings[0], Catch::Contains("not reported"));
    }
}
