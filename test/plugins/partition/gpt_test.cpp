// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include "plugins/partition/gpt.hpp"
#include "support/patched_device.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {
constexpr std::uint64_t kDiskSize = 64 << 20;
const std::vector<GptEntrySpec> kTwoParts = {{kLinuxDataGuid, 2048, 10239},
                                             {kLinuxDataGuid, 10240, 20479}};
}  // namespace

TEST_CASE("gpt: a valid table with 512-byte sectors", "[gpt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    auto dev = b.device();
    REQUIRE(*gpt_plugin.probe(*dev) == kCertain);
    auto table = gpt_plugin.list(*dev);
    REQUIRE(table);
    CHECK(table->warnings.empty());
    CHECK(table->sector_size == 512);
    REQUIRE(table->partitions.size() == 2);
    CHECK(table->partitions[0].number == 1);
    CHECK(table->partitions[0].offset == 2048 * 512);
    CHECK(table->partitions[0].length == 8192 * 512);
    CHECK(table->partitions[1].type == "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
}

TEST_CASE("gpt: 4096-byte sectors are found by where EFI PART is", "[gpt]") {
    auto b = make_gpt(kDiskSize, 4096, {{kLinuxDataGuid, 256, 1279}});
    auto table = gpt_plugin.list(*b.device());  // the device says 512
    REQUIRE(table);
    CHECK(table->sector_size == 4096);
    CHECK(table->partitions[0].offset == 256 * 4096);
    CHECK(table->partitions[0].length == 1024 * 4096);
}

TEST_CASE("gpt: a bad primary header falls back to the backup", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    b.u8(512 + 40, 0x77);  // breaks the header CRC
    auto table = gpt_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions.size() == 2);
    REQUIRE(table->warnings.size() == 1);
    CHECK_THAT(table->warnings[0], Catch::Contains("header CRC mismatch"));
}

TEST_CASE("gpt: a bad primary entry array falls back to the backup", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    b.u8(2 * 512 + 40, 0x01);
    auto table = gpt_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions.size() == 2);
    REQUIRE(table->warnings.size() == 1);
    CHECK_THAT(table->warnings[0], Catch::Contains("entry array CRC mismatch"));
}

TEST_CASE("gpt: both headers bad is an error naming both", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    b.u8(512 + 40, 0x77);
    b.u8(kDiskSize - 512 + 40, 0x77);
    auto r = gpt_plugin.list(*b.device());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::corrupt);
    CHECK_THAT(r.error().message, Catch::Contains("primary: ") && Catch::Contains("backup: "));
}

TEST_CASE("gpt: a disk cut below three sectors says it is too small", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    const auto cut = std::make_shared<vmdf::test::PatchedDevice>(b.device(), 600);
    auto r = gpt_plugin.list(*cut);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("too small to hold one"));
}

TEST_CASE("gpt: MyLBA must be where the header was read", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    b.le64(512 + 24, 5).le32(512 + 16, 0);
    b.le32(512 + 16, b.crc32(512, 92));
    auto table = gpt_plugin.list(*b.device());
    REQUIRE(table);
    CHECK_THAT(table->warnings.at(0), Catch::Contains("MyLBA 5"));
}

TEST_CASE("gpt: a huge entry count is refused before reading", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    for (std::uint64_t h : {std::uint64_t{512}, kDiskSize - 512}) {
        b.le32(h + 80, 0x10000000).le32(h + 16, 0);
        b.le32(h + 16, b.crc32(h, 92));
    }
    auto r = gpt_plugin.list(*b.device());
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("exceed the limit"));
}

TEST_CASE("gpt: entries outside the disk are skipped but keep numbering", "[gpt][corrupt]") {
    auto b = make_gpt(kDiskSize, 512,
                      {{kLinuxDataGuid, 999999, 999999999}, {kLinuxDataGuid, 10240, 20479}});
    auto table = gpt_plugin.list(*b.device());
    REQUIRE(table);
    REQUIRE(table->partitions.size() == 1);
    CHECK(table->partitions[0].number == 2);
    CHECK(table->warnings.size() == 1);
}

TEST_CASE("gpt: a table for a larger disk is used, with a warning, when no backup is valid",
          "[gpt][corrupt]") {
    // The image of a 64 MiB disk cut to 40 MiB: the backup is gone.
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    b.bytes().resize(40 << 20);
    auto table = gpt_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions.size() == 2);
    REQUIRE(table->warnings.size() == 1);
    CHECK_THAT(table->warnings[0], Catch::Contains("truncated image?"));
}

TEST_CASE("gpt: Microsoft reserved partitions are not probed", "[gpt]") {
    auto b = make_gpt(kDiskSize, 512, {{kMsReservedGuid, 2048, 4095}, {kLinuxDataGuid, 4096, 8191}});
    auto table = gpt_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions[0].container);
    CHECK_FALSE(table->partitions[1].container);
}

TEST_CASE("gpt: no protective MBR, no GPT (as Linux)", "[gpt]") {
    auto b = make_gpt(kDiskSize, 512, kTwoParts);
    b.u8(0x1BE + 4, 0x83);
    CHECK(*gpt_plugin.probe(*b.device()) == kNotMine);
}

TEST_CASE("gpt: GUIDs print in the usual mixed-endian form", "[gpt]") {
    CHECK(gpt::guid_to_string(kMsReservedGuid) == "E3C9E316-0B5C-4DB8-817D-F92DF00215AE");
}
