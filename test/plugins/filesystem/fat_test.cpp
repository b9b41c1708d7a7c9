// SPDX-License-Identifier: GPL-2.0-or-later
// FAT12/16/32 on real images (made by mkfs.fat in data/fixtures.d/fat.sh),
// and on the same images with boot sector fields set out of range or cut
// short.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "plugins/filesystem/fat.hpp"
#include "core/scan.hpp"
#include "support/fixtures.hpp"
#include "support/image_builder.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

Error open_error(const Device& dev) {
    auto fs = fat_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}
}  // namespace

TEST_CASE("fat: every variant opens and is named vfat", "[fat]") {
    for (const char* name :
         {"fat12-floppy.img", "fat12-hd.img", "fat16.img", "fat16-4k-sectors.img", "fat32.img",
          "fat32-s1.img", "fat32-4k-sectors.img"}) {
        INFO(name);
        auto dev = open_fixture(name);
        CHECK(*fat_plugin.probe(*dev) > kNotMine);
        auto fs = fat_plugin.open(*dev, {});
        REQUIRE(fs);
        CHECK(fs->type == "vfat");
        CHECK(fs->stat.files == 0);
        CHECK(fs->stat.ffree == 0);
        CHECK(fs->stat.bfree == fs->stat.bavail);
    }
}

TEST_CASE("fat: the FSInfo free count is not trusted, the FAT is counted", "[fat]") {
    PatchedDevice dev(open_fixture("fat32.img"));
    auto before = fat_plugin.open(dev, {});
    REQUIRE(before);
    dev.le32(512 + 488, 7);  // FSInfo free_clusters (FSInfo in sector 1)
    auto after = fat_plugin.open(dev, {});
    REQUIRE(after);
    CHECK(after->stat == before->stat);
    // A cluster marked used in the first FAT is one fewer free; the second
    // FAT is not read.
    auto last_cluster = before->stat.blocks + 1;
    PatchedDevice used(open_fixture("fat32.img"));
    used.le32(32 * 512 + last_cluster * 4, 0x0FFFFFFF);
    CHECK(fat_plugin.open(used, {})->stat.bfree == before->stat.bfree - 1);
    // The top 4 bits of a FAT32 entry are not part of it.
    PatchedDevice masked(open_fixture("fat32.img"));
    masked.le32(32 * 512 + last_cluster * 4, 0xF0000000);
    CHECK(fat_plugin.open(masked, {})->stat.bfree == before->stat.bfree);
}

TEST_CASE("fat: FAT12 entries are unpacked in pairs", "[fat]") {
    auto base = open_fixture("fat12-floppy.img");
    auto clean = fat_plugin.open(*base, {});
    REQUIRE(clean);
    // Clusters 2000 (even) and 2001 (odd) share bytes 3000..3002 of the
    // FAT at sector 1; both are free on this nearly empty floppy.
    PatchedDevice even(base);
    even.byte(512 + 3000, 0x01);
    CHECK(fat_plugin.open(even, {})->stat.bfree == clean->stat.bfree - 1);
    PatchedDevice odd(base);
    odd.byte(512 + 3002, 0x10);
    CHECK(fat_plugin.open(odd, {})->stat.bfree == clean->stat.bfree - 1);
    PatchedDevice both(base);
    both.byte(512 + 3001, 0x11);  // high nibble of 2000, low nibble of 2001
    CHECK(fat_plugin.open(both, {})->stat.bfree == clean->stat.bfree - 2);
}

TEST_CASE("fat: not a FAT boot sector scores 0", "[fat]") {
    SECTION("no jump instruction") {
        PatchedDevice dev(open_fixture("fat16.img"));
        dev.byte(0, 0x00);
        CHECK(*fat_plugin.probe(dev) == kNotMine);
    }
    SECTION("an NTFS or exFAT OEM name") {
        for (const char* oem : {"NTFS    ", "EXFAT   "}) {
            PatchedDevice dev(open_fixture("fat32.img"));
            for (int i = 0; i < 8; ++i) dev.byte(3 + i, static_cast<std::uint8_t>(oem[i]));
            CHECK(*fat_plugin.probe(dev) == kNotMine);
        }
    }
    SECTION("an MBR, even one that starts with a jump") {
        ImageBuilder b(1 << 20);
        b.u8(0, 0xEB).u8(1, 0x63).u8(2, 0x90);
        b.mbr_entry(0, 0, 0x83, 2048, 2048);
        CHECK(*fat_plugin.probe(*b.device()) == kNotMine);
    }
    SECTION("a tiny device") {
        ImageBuilder b(100);
        CHECK(*fat_plugin.probe(*b.device()) == kNotMine);
    }
}

TEST_CASE("fat: out-of-range boot sector fields are corrupt, with their offset", "[fat][corrupt]") {
    struct Case {
        const char* what;
        const char* image;
        std::uint64_t offset;
        int width;
        std::uint32_t value;
        std::uint64_t reported_offset;
    };
    const Case cases[] = {
        {"bytes per sector 0", "fat16.img", 11, 2, 0, 11},
        {"bytes per sector 256", "fat16.img", 11, 2, 256, 11},
        {"bytes per sector 8192", "fat16.img", 11, 2, 8192, 11},
        {"bytes per sector 1000", "fat16.img", 11, 2, 1000, 11},
        {"sectors per cluster 0", "fat16.img", 13, 1, 0, 13},
        {"sectors per cluster 3", "fat16.img", 13, 1, 3, 13},
        {"no reserved sectors", "fat16.img", 14, 2, 0, 14},
        {"no FATs", "fat16.img", 16, 1, 0, 16},
        {"bad media", "fat16.img", 21, 1, 0x12, 21},
        {"root entries not whole sectors", "fat16.img", 17, 2, 511, 17},
        {"no root entries on FAT16", "fat16.img", 17, 2, 0, 17},
        {"FAT32 length 0", "fat32.img", 36, 4, 0, 36},
        {"FAT32 length overflowing the volume", "fat32.img", 36, 4, 0xFFFFFFFF, 36},
        {"FAT16 length overflowing the volume", "fat16.img", 22, 2, 0xFFFF, 22},
        {"total sectors 0", "fat32.img", 32, 4, 0, 32},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture(c.image));
        if (c.width == 1) dev.byte(c.offset, static_cast<std::uint8_t>(c.value));
        else if (c.width == 2) dev.le16(c.offset, static_cast<std::uint16_t>(c.value));
        else dev.le32(c.offset, c.value);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == c.reported_offset);
    }
}

TEST_CASE("fat: a cluster count past the device is truncated; past FAT32's limit, corrupt",
          "[fat][corrupt]") {
    PatchedDevice past(open_fixture("fat32.img"));
    past.le32(32, 2 * 262144);  // total sectors: twice the device
    const Error e = open_error(past);
    CHECK(e.code == Errc::truncated);
    CHECK(e.offset == 32);

    // A 2 TiB FAT32 of 512-byte clusters (2^32 sectors would be 2^32 - 1):
    // more clusters than 28-bit entries address. Built in memory, sparse
    // in effect: only the boot sector is read before the refusal.
    ImageBuilder b(4096);
    b.u8(0, 0xEB).u8(1, 0x58).u8(2, 0x90).put(3, "mkfs.fat");
    b.le16(11, 512).u8(13, 1).le16(14, 32).u8(16, 2).u8(21, 0xF8);
    b.le32(32, 0xFFFFFFFF).le32(36, 0x200000);
    CHECK(*fat_plugin.probe(*b.device()) > kNotMine);
    const Error huge = open_error(*b.device());
    CHECK(huge.code == Errc::corrupt);
    CHECK(huge.offset == 32);
    CHECK_THAT(huge.message, Catch::Contains("too many for FAT32"));
}

TEST_CASE("fat: a FAT shorter than the cluster count caps the clusters", "[fat]") {
    // fat32-one-fat: one FAT, so halving its length leaves the data start
    // only slightly earlier but the FAT addressing far fewer clusters.
    auto base = open_fixture("fat32-one-fat.img");
    auto clean = fat_plugin.open(*base, {});
    REQUIRE(clean);
    PatchedDevice dev(base);
    std::vector<std::byte> raw(4);
    REQUIRE(dev.read(36, raw));
    const std::uint32_t fat_length = std::to_integer<std::uint32_t>(raw[0]) |
                                     std::to_integer<std::uint32_t>(raw[1]) << 8 |
                                     std::to_integer<std::uint32_t>(raw[2]) << 16;
    dev.le32(36, fat_length / 2);
    auto capped = fat_plugin.open(dev, {});
    REQUIRE(capped);
    CHECK(capped->stat.blocks == std::uint64_t{fat_length / 2} * 512 / 4 - 2);
}

TEST_CASE("fat: the image cut short fails cleanly", "[fat][corrupt]") {
    for (const char* name : {"fat12-floppy.img", "fat16.img", "fat32.img"}) {
        auto base = open_fixture(name);
        const std::uint64_t cuts[] = {0, 11, 89, 512, 4096, base->size() / 2, base->size() - 512};
        for (std::uint64_t size : cuts) {
            INFO(name << " cut at " << size);
            PatchedDevice cut(base, size);
            auto fs = fat_plugin.open(cut, {});
            REQUIRE_FALSE(fs);
            CHECK(fs.error().code == Errc::truncated);
        }
    }
}
