// SPDX-License-Identifier: GPL-2.0-or-later
// LUKS: containers made by cryptsetup (data/fixtures.d/md.sh) are
// recognised, never listed, and always mentioned.
#include <catch2/catch.hpp>

#include "core/scan.hpp"
#include "plugins/filesystem/luks.hpp"
#include "support/fixtures.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

Filesystem open_luks(const std::string& image) {
    auto dev = open_fixture(image);
    REQUIRE(*luks_plugin.probe(*dev) == kCertain);
    auto fs = luks_plugin.open(*dev, {});
    REQUIRE(fs);
    CHECK_FALSE(fs->listed);
    CHECK(fs->type == "crypto_LUKS");
    REQUIRE(fs->warnings.size() == 1);
    return *fs;
}

}  // namespace

TEST_CASE("luks: LUKS1 and LUKS2 containers are recognised and not listed", "[luks][fixtures]") {
    CHECK(open_luks("luks1.img").warnings[0] ==
          "encrypted (LUKS1, UUID 5644460a-0000-4000-c000-000000000001): not reported: virt-df "
          "cannot read encrypted volumes without the key");
    CHECK(open_luks("luks2.img").warnings[0] ==
          "encrypted (LUKS2, UUID 5644460a-0000-4000-c000-000000000002): not reported: virt-df "
          "cannot read encrypted volumes without the key");
}

TEST_CASE("luks: LUKS2 with its primary header wiped, found by the secondary", "[luks][fixtures]") {
    CHECK_THAT(open_luks("luks2-secondary.img").warnings[0],
               Catch::StartsWith("encrypted (LUKS2, UUID 5644460a-0000-4000-c000-000000000002, "
                                 "primary header damaged)"));
}

TEST_CASE("luks: an encrypted partition beside ext4, scanned", "[luks][fixtures]") {
    std::vector<GuestDisk> disks{{"luks-gpt.img", open_fixture("luks-gpt.img")}};
    const ScanReport report = scan_guest(disks, builtin_plugins());
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].device == "/dev/sda1");
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0] ==
          "luks-gpt.img: /dev/sda2: luks: encrypted (LUKS2, UUID "
          "5644460a-0000-4000-c000-000000000003): not reported: virt-df cannot read encrypted "
          "volumes without the key");
}

TEST_CASE("luks: near misses are not LUKS", "[luks]") {
    ImageBuilder v3(64 << 10);
    v3.put(0, "LUKS\xba\xbe").u8(7, 3);  // version 3
    CHECK(*luks_plugin.probe(*v3.device()) == kNotMine);
    ImageBuilder tiny(4);
    tiny.put(0, "LUKS");
    CHECK(*luks_plugin.probe(*tiny.device()) == kNotMine);
    // A secondary header that says it lives elsewhere.
    ImageBuilder moved(64 << 10);
    moved.put(0x4000, "SKUL\xba\xbe").u8(0x4007, 2).u8(0x4000 + 256 + 6, 0x80);
    CHECK(*luks_plugin.probe(*moved.device()) == kNotMine);
    // A secondary header where it says it is.
    ImageBuilder second(64 << 10);
    second.put(0x8000, "SKUL\xba\xbe").u8(0x8007, 2).u8(0x8000 + 256 + 6, 0x80);
    CHECK(*luks_plugin.probe(*second.device()) == kCertain);
    auto fs = luks_plugin.open(*second.device(), {});
    REQUIRE(fs);
    CHECK_THAT(fs->warnings[0], Catch::Contains("UUID none, primary header damaged"));
}
