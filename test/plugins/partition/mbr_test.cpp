// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include "plugins/partition/mbr.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;
using test::ImageBuilder;

namespace {
constexpr std::uint64_t kSector = 512;
constexpr std::uint64_t kDiskSize = 64 << 20;
}  // namespace

TEST_CASE("mbr: primaries keep their slot numbers", "[mbr]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x83, 2048, 4096, 0x80).mbr_entry(0, 2, 0x82, 8192, 2048);
    auto dev = b.device();
    REQUIRE(*mbr_plugin.probe(*dev) > 0);
    auto table = mbr_plugin.list(*dev);
    REQUIRE(table);
    REQUIRE(table->partitions.size() == 2);
    CHECK(table->partitions[0].number == 1);
    CHECK(table->partitions[0].offset == 2048 * kSector);
    CHECK(table->partitions[0].length == 4096 * kSector);
    CHECK(table->partitions[0].type == "0x83");
    CHECK(table->partitions[1].number == 3);
}

TEST_CASE("mbr: logical partitions from 5, along the EBR chain", "[mbr]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x83, 2048, 2048).mbr_entry(0, 1, 0x05, 10000, 60000);
    // EBR 1 at 10000: data at +63, link to the next EBR at ext+20000.
    b.mbr_entry(10000 * kSector, 0, 0x83, 63, 1000).mbr_entry(10000 * kSector, 1, 0x05, 20000, 5000);
    // EBR 2 at 30000: data only; entry 2 holds garbage that does not fit.
    b.mbr_entry(30000 * kSector, 0, 0x8E, 2048, 2000).mbr_entry(30000 * kSector, 2, 0x83, 1, 900000);
    auto table = mbr_plugin.list(*b.device());
    REQUIRE(table);
    REQUIRE(table->partitions.size() == 4);
    CHECK(table->partitions[1].number == 2);
    CHECK(table->partitions[1].container);
    CHECK(table->partitions[1].length == 2 * kSector);
    CHECK(table->partitions[2].number == 5);
    CHECK(table->partitions[2].offset == 10063 * kSector);
    CHECK(table->partitions[3].number == 6);
    CHECK(table->partitions[3].offset == 32048 * kSector);
    CHECK(table->partitions[3].type == "0x8e");
    CHECK(table->warnings.empty());
}

TEST_CASE("mbr: an EBR chain that loops stops", "[mbr][corrupt]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x0F, 10000, 60000);
    b.mbr_entry(10000 * kSector, 1, 0x05, 0, 60000);  // links to itself, no data
    auto table = mbr_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions.size() == 1);
    CHECK(table->warnings.size() == 1);
}

TEST_CASE("mbr: a looping chain with data stops at 256 partitions", "[mbr][corrupt]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x05, 10000, 60000);
    b.mbr_entry(10000 * kSector, 0, 0x83, 1, 10).mbr_entry(10000 * kSector, 1, 0x05, 0, 60000);
    auto table = mbr_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions.back().number == 256);
}

TEST_CASE("mbr: an EBR past the end of the disk loses the rest, with a warning", "[mbr][corrupt]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x05, 0xFFFFFF00, 100);
    auto table = mbr_plugin.list(*b.device());
    REQUIRE(table);
    CHECK(table->partitions.size() == 1);
    CHECK(table->warnings.size() == 1);
}

TEST_CASE("mbr: a protective MBR is left to GPT", "[mbr]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0xEE, 1, 1000);
    CHECK(*mbr_plugin.probe(*b.device()) == kNotMine);
}

TEST_CASE("mbr: boot flags other than 0 and 0x80 mean no MBR", "[mbr]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x83, 2048, 4096, 0x12);
    CHECK(*mbr_plugin.probe(*b.device()) == kNotMine);
}

TEST_CASE("mbr: an empty table claims nothing", "[mbr]") {
    ImageBuilder b(kDiskSize);
    b.u8(510, 0x55).u8(511, 0xAA);
    CHECK(*mbr_plugin.probe(*b.device()) == kNotMine);
}

TEST_CASE("mbr: 4096-byte sectors scale every LBA", "[mbr]") {
    ImageBuilder b(kDiskSize);
    b.mbr_entry(0, 0, 0x83, 256, 1024);
    auto table = mbr_plugin.list(*b.device("mem", 4096));
    REQUIRE(table);
    CHECK(table->partitions[0].offset == 256 * 4096);
    CHECK(table->sector_size == 4096);
}

TEST_CASE("mbr: a truncated disk cannot be read", "[mbr][corrupt]") {
    ImageBuilder b(300);
    auto r = mbr_plugin.list(*b.device());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::truncated);
}
