// SPDX-License-Identifier: GPL-2.0-or-later
// exFAT on real images (made by mkfs.exfat in data/fixtures.d/fat.sh), and
// on the same images with boot sector fields set out of range or cut short.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <bit>

#include "plugins/filesystem/exfat.hpp"
#include "core/scan.hpp"
#include "support/fixtures.hpp"
#include "support/image_builder.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kSector = 512;  // every exFAT fixture has 512-byte sectors

/// Recomputes the boot checksum (sector 11) after patching, so that the
/// patched field, not the checksum, is what the plugin finds wrong.
void reseal(PatchedDevice& dev) {
    std::vector<std::byte> region(11 * kSector);
    REQUIRE(dev.read(0, region));
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < region.size(); ++i) {
        if (i == 0x6A || i == 0x6B || i == 0x70) continue;
        sum = std::rotr(sum, 1) + std::to_integer<std::uint32_t>(region[i]);
    }
    for (std::uint64_t at = 0; at < kSector; at += 4) dev.le32(11 * kSector + at, sum);
}

Error open_error(const Device& dev) {
    auto fs = exfat_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

std::uint32_t le32_at(const Device& dev, std::uint64_t offset) {
    std::vector<std::byte> raw(4);
    REQUIRE(dev.read(offset, raw));
    return std::to_integer<std::uint32_t>(raw[0]) | std::to_integer<std::uint32_t>(raw[1]) << 8 |
           std::to_integer<std::uint32_t>(raw[2]) << 16 |
           std::to_integer<std::uint32_t>(raw[3]) << 24;
}
}  // namespace

TEST_CASE("exfat: every fixture opens, with no inode figures", "[exfat]") {
    for (const char* name : {"exfat.img", "exfat-c512.img", "exfat-c128k.img", "exfat-pack.img"}) {
        INFO(name);
        auto dev = open_fixture(name);
        CHECK(*exfat_plugin.probe(*dev) == kCertain);
        auto fs = exfat_plugin.open(*dev, {});
        REQUIRE(fs);
        CHECK(fs->type == "exfat");
        CHECK(fs->stat.files == 0);
        CHECK(fs->stat.ffree == 0);
    }
}

TEST_CASE("exfat: a bad file system name scores 0", "[exfat]") {
    PatchedDevice dev(open_fixture("exfat.img"));
    dev.byte(3, 'X');
    CHECK(*exfat_plugin.probe(dev) == kNotMine);
    ImageBuilder tiny(100);
    CHECK(*exfat_plugin.probe(*tiny.device()) == kNotMine);
}

TEST_CASE("exfat: free clusters come from the allocation bitmap, not PercentInUse",
          "[exfat]") {
    auto base = open_fixture("exfat.img");
    auto clean = exfat_plugin.open(*base, {});
    REQUIRE(clean);
    PatchedDevice percent(base);
    percent.byte(0x70, 99);  // not checksummed, not used
    CHECK(exfat_plugin.open(percent, {})->stat == clean->stat);

    // Mark the last cluster used in the bitmap, which mkfs.exfat puts at
    // the start of the cluster heap (cluster 2, per dump.exfat).
    const std::uint64_t heap = std::uint64_t{le32_at(*base, 0x58)} * kSector;
    const std::uint64_t count = le32_at(*base, 0x5C);
    PatchedDevice used(base);
    used.byte(heap + (count - 1) / 8, static_cast<std::uint8_t>(1u << ((count - 1) % 8)));
    CHECK(exfat_plugin.open(used, {})->stat.bfree == clean->stat.bfree - 1);
}

TEST_CASE("exfat: out-of-range boot sector fields are corrupt, with their offset",
          "[exfat][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        int width;
        std::uint32_t value;
        std::uint64_t reported_offset;
    };
    const Case cases[] = {
        {"legacy BPB not zero", 0x0B, 1, 2, 0x0B},
        {"sector shift 8", 0x6C, 1, 8, 0x6C},
        {"sector shift 13", 0x6C, 1, 13, 0x6C},
        {"cluster shift past 32 MiB", 0x6D, 1, 17, 0x6D},
        {"no FATs", 0x6E, 1, 0, 0x6E},
        {"3 FATs", 0x6E, 1, 3, 0x6E},
        {"FAT offset 0", 0x50, 4, 0, 0x50},
        {"FAT length 0", 0x54, 4, 0, 0x54},
        {"FAT length overflowing into the heap", 0x54, 4, 0xFFFFFFFF, 0x54},
        {"cluster count 0", 0x5C, 4, 0, 0x5C},
        {"cluster count beyond the FAT", 0x5C, 4, 0xFFFFFFF0, 0x5C},
        {"root cluster 0", 0x60, 4, 0, 0x60},
        {"root cluster past the heap", 0x60, 4, 0x7FFFFFFF, 0x60},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("exfat.img"));
        if (c.width == 1) dev.byte(c.offset, static_cast<std::uint8_t>(c.value));
        else if (c.width == 2) dev.le16(c.offset, static_cast<std::uint16_t>(c.value));
        else dev.le32(c.offset, c.value);
        reseal(dev);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == c.reported_offset);
    }
}

TEST_CASE("exfat: a wrong boot checksum is refused, as the kernel does", "[exfat][corrupt]") {
    PatchedDevice dev(open_fixture("exfat.img"));
    dev.byte(0x64, 0x42);  // VolumeSerial: harmless, but checksummed
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == 11 * kSector);
    // VolumeFlags and PercentInUse are outside the checksum.
    PatchedDevice flags(open_fixture("exfat.img"));
    flags.byte(0x6A, 0x02).byte(0x70, 50);
    CHECK(exfat_plugin.open(flags, {}));
}

TEST_CASE("exfat: a cluster heap past the device is truncated", "[exfat][corrupt]") {
    auto base = open_fixture("exfat.img");
    PatchedDevice dev(base);
    const std::uint64_t length = le32_at(*base, 0x48);
    dev.le32(0x48, static_cast<std::uint32_t>(length * 4));     // VolumeLength
    dev.le32(0x5C, le32_at(*base, 0x5C) + 100);                  // ClusterCount, FAT still fits
    reseal(dev);
    auto fs = exfat_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    CHECK(fs.error().code == Errc::truncated);
    CHECK(fs.error().offset == 0x5C);
}

TEST_CASE("exfat: a bitmap entry out of range is corrupt", "[exfat][corrupt]") {
    // The root directory (cluster 5 in exfat.img, per dump.exfat) holds the
    // volume label entry, then the bitmap entry at +32.
    auto base = open_fixture("exfat.img");
    const std::uint64_t heap = std::uint64_t{le32_at(*base, 0x58)} * kSector;
    const std::uint64_t root = heap + (le32_at(*base, 0x60) - 2) * 4096;
    REQUIRE(le32_at(*base, root + 32) % 256 == 0x81);
    PatchedDevice short_bitmap(base);
    short_bitmap.le32(root + 32 + 0x18, 10);
    CHECK(open_error(short_bitmap).offset == root + 32 + 0x18);
    PatchedDevice bad_cluster(base);
    bad_cluster.le32(root + 32 + 0x14, 0xFFFFFF00);
    CHECK(open_error(bad_cluster).offset == root + 32 + 0x14);
    PatchedDevice no_bitmap(base);
    no_bitmap.byte(root + 32, 0x00);  // end of directory before the bitmap
    CHECK(open_error(no_bitmap).code == Errc::corrupt);
}

TEST_CASE("exfat: the image cut short fails cleanly", "[exfat][corrupt]") {
    auto base = open_fixture("exfat.img");
    const std::uint64_t cuts[] = {0, 100, 512, 11 * 512, 12 * 512 - 1, 1 << 20, base->size() - 512};
    for (std::uint64_t size : cuts) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        auto fs = exfat_plugin.open(cut, {});
        REQUIRE_FALSE(fs);
        CHECK(fs.error().code == Errc::truncated);
    }
}

TEST_CASE("exfat: 4 KiB sectors (built in memory: mkfs.exfat makes them only on such a device)",
          "[exfat]") {
    // 4096-byte sectors and clusters: FAT at sector 24, cluster heap at 32,
    // 100 clusters; the bitmap in cluster 2, the root directory in cluster 4.
    constexpr std::uint64_t ss = 4096;
    ImageBuilder b((32 + 100) * ss);
    b.u8(0, 0xEB).u8(1, 0x76).u8(2, 0x90).put(3, "EXFAT   ");
    b.le64(0x48, 132).le32(0x50, 24).le32(0x54, 1).le32(0x58, 32).le32(0x5C, 100).le32(0x60, 4);
    b.le16(0x68, 0x100).u8(0x6C, 12).u8(0x6D, 0).u8(0x6E, 1).le16(0x1FE, 0xAA55);
    std::uint32_t sum = 0;
    for (std::uint64_t i = 0; i < 11 * ss; ++i) {
        if (i == 0x6A || i == 0x6B || i == 0x70) continue;
        sum = std::rotr(sum, 1) + std::to_integer<std::uint32_t>(b.bytes()[i]);
    }
    for (std::uint64_t at = 0; at < ss; at += 4) b.le32(11 * ss + at, sum);
    const std::uint64_t heap = 32 * ss;
    b.u8(heap, 0x07);        // clusters 2, 3, 4 in use
    b.u8(heap + 12, 0xF0);   // bits of clusters 102..105, past ClusterCount: not counted
    const std::uint64_t root = heap + 2 * ss;
    b.u8(root, 0x81).le32(root + 0x14, 2).le64(root + 0x18, 13);
    auto fs = exfat_plugin.open(*b.device(), {});
    REQUIRE(fs);
    CHECK(fs->stat == StatVfs{4096, 4096, 100, 97, 97, 0, 0});
}
