// SPDX-License-Identifier: GPL-2.0-or-later
// ext4 on real images (made by mke2fs in data/make_fixtures.sh), and on the
// same images with fields set out of range or cut short.
#include <catch2/catch.hpp>

#include "core/crc32.hpp"
#include "plugins/filesystem/ext4.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kSb = 1024;  // superblock offset

/// Recomputes the superblock's metadata_csum after patching, so that the
/// patched field, not the checksum, is what the plugin finds wrong.
void reseal(PatchedDevice& dev) {
    std::vector<std::byte> sb(0x3FC);
    REQUIRE(dev.read(kSb, sb));
    dev.le32(kSb + 0x3FC, crc32c_raw(~0u, sb));
}

/// The error from opening `dev`, which must fail.
Error open_error(const Device& dev) {
    auto fs = ext4_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

}  // namespace

TEST_CASE("ext4: names the variant by its features", "[ext4]") {
    CHECK(ext4_plugin.open(*open_fixture("ext2-1k.img"), {})->type == "ext2");
    CHECK(ext4_plugin.open(*open_fixture("ext3-2k.img"), {})->type == "ext3");
    CHECK(ext4_plugin.open(*open_fixture("ext4-4k.img"), {})->type == "ext4");
}

TEST_CASE("ext4: a bad magic scores 0", "[ext4]") {
    PatchedDevice dev(open_fixture("ext4-4k.img"));
    dev.le16(kSb + 0x38, 0x1234);
    CHECK(*ext4_plugin.probe(dev) == kNotMine);
}

TEST_CASE("ext4: out-of-range superblock fields are corrupt, with their offset", "[ext4][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        std::uint32_t value;
        std::uint64_t reported_offset;
    };
    const Case cases[] = {
        {"s_log_block_size", 0x18, 40, 0x18},
        {"s_log_block_size just past 64K", 0x18, 7, 0x18},
        {"s_blocks_per_group 0", 0x20, 0, 0x20},
        {"s_blocks_per_group too large", 0x20, 0x7FFFFFFF, 0x20},
        {"s_inodes_per_group 0", 0x28, 0, 0x28},
        {"s_inodes_count", 0x00, 12345, 0x00},
        {"s_first_data_block past the end", 0x14, 0xFFFFFFF0, 0x14},
        {"unknown incompat feature", 0x60, 0x80000000 | 0x2C2, 0x60},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("ext4-4k.img"));
        dev.le32(kSb + c.offset, c.value);
        reseal(dev);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == kSb + c.reported_offset);
    }
}

TEST_CASE("ext4: a superblock whose metadata_csum is wrong is refused, as the kernel does",
          "[ext4][corrupt]") {
    PatchedDevice dev(open_fixture("ext4-4k.img"));
    dev.byte(kSb + 0x78, 'X');  // s_volume_name: harmless, but not checksummed
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == kSb + 0x3FC);
}

TEST_CASE("ext4: inode and descriptor sizes are validated", "[ext4][corrupt]") {
    PatchedDevice inode(open_fixture("ext4-4k.img"));
    inode.le16(kSb + 0x58, 100);
    reseal(inode);
    CHECK(open_error(inode).offset == kSb + 0x58);
    PatchedDevice desc(open_fixture("ext4-64bit-metabg.img"));
    desc.le16(kSb + 0xFE, 48);
    reseal(desc);
    CHECK(open_error(desc).offset == kSb + 0xFE);
    PatchedDevice meta(open_fixture("ext4-64bit-metabg.img"));
    meta.le32(kSb + 0x104, 0xFFFFFF);
    reseal(meta);
    CHECK(open_error(meta).offset == kSb + 0x104);
}

TEST_CASE("ext4: a block count larger than the device is truncated", "[ext4][corrupt]") {
    PatchedDevice dev(open_fixture("ext4-4k.img"));
    dev.le32(kSb + 0x04, 0xFFFFFFFF);
    reseal(dev);
    CHECK(open_error(dev).code == Errc::truncated);
}

TEST_CASE("ext4: group descriptors pointing outside their group are corrupt", "[ext4][corrupt]") {
    // ext4-noflexbg has 1 KiB blocks and 64-byte descriptors (64bit): group
    // 1's descriptor is at byte 64 of block 2.
    PatchedDevice dev(open_fixture("ext4-noflexbg.img"));
    REQUIRE(ext4_plugin.open(dev, {}));
    dev.le32(2 * 1024 + 64 + 0x00, 1);  // group 1's block bitmap in group 0
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK_THAT(e.message, Catch::Contains("block bitmap of group 1"));
}

TEST_CASE("ext4: the image cut at every structure boundary fails cleanly", "[ext4][corrupt]") {
    auto base = open_fixture("ext4-4k.img");
    const std::uint64_t cuts[] = {0, 1000, 1024, 1500, 2047, 4096, 8192, 1 << 20, base->size() - 4096};
    for (std::uint64_t size : cuts) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        auto fs = ext4_plugin.open(cut, {});
        REQUIRE_FALSE(fs);
        CHECK(fs.error().code == Errc::truncated);
    }
}

TEST_CASE("ext4: an unclean journal is reported, figures still given", "[ext4]") {
    PatchedDevice dev(open_fixture("ext4-4k.img"));
    auto clean = ext4_plugin.open(dev, {});
    REQUIRE(clean);
    CHECK(clean->warnings.empty());
    std::vector<std::byte> raw(4);
    REQUIRE(dev.read(kSb + 0x60, raw));
    const std::uint32_t features = std::to_integer<std::uint32_t>(raw[0]) |
                                   std::to_integer<std::uint32_t>(raw[1]) << 8 |
                                   std::to_integer<std::uint32_t>(raw[2]) << 16 |
                                   std::to_integer<std::uint32_t>(raw[3]) << 24;
    dev.le32(kSb + 0x60, features | 0x4);
    reseal(dev);
    auto dirty = ext4_plugin.open(dev, {});
    REQUIRE(dirty);
    REQUIRE(dirty->warnings.size() == 1);
    CHECK_THAT(dirty->warnings[0], Catch::Contains("needs recovery"));
    CHECK(dirty->stat == clean->stat);
}

TEST_CASE("ext4: an external journal device is not a filesystem", "[ext4]") {
    PatchedDevice dev(open_fixture("ext4-nojournal.img"));
    dev.le32(kSb + 0x60, 0x8);
    reseal(dev);
    CHECK(open_error(dev).code == Errc::unsupported);
}
