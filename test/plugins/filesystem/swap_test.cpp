// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include "plugins/filesystem/swap.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;
using test::ImageBuilder;

TEST_CASE("swap: recognised and not listed", "[swap]") {
    ImageBuilder b(64 << 10);
    b.put(4086, "SWAPSPACE2").le32(1024, 1).le32(1028, 15).le32(1032, 1);
    auto dev = b.device();
    REQUIRE(*swap_plugin.probe(*dev) == kCertain);
    auto fs = swap_plugin.open(*dev, {});
    REQUIRE(fs);
    CHECK_FALSE(fs->listed);
    CHECK(fs->type == "swap");
    CHECK(fs->stat.bsize == 4096);
    CHECK(fs->stat.blocks == 15);
    CHECK(fs->stat.bfree == 14);
}

TEST_CASE("swap: a big-endian header and 64K pages", "[swap]") {
    ImageBuilder b(256 << 10);
    b.put(65526, "SWAPSPACE2").u8(1027, 1).u8(1031, 3);
    auto fs = swap_plugin.open(*b.device(), {});
    REQUIRE(fs);
    CHECK(fs->stat.bsize == 65536);
    CHECK(fs->stat.blocks == 3);
}

TEST_CASE("swap: a hibernation image is still swap", "[swap]") {
    ImageBuilder b(64 << 10);
    b.put(4086, "S1SUSPEND");
    CHECK(*swap_plugin.probe(*b.device()) == kCertain);
}

TEST_CASE("swap: no signature, not swap", "[swap]") {
    ImageBuilder b(64 << 10);
    CHECK(*swap_plugin.probe(*b.device()) == kNotMine);
    ImageBuilder tiny(100);
    CHECK(*swap_plugin.probe(*tiny.device()) == kNotMine);
}
