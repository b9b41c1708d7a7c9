// SPDX-License-Identifier: GPL-2.0-or-later
// MD RAID: the arrays of md-raid1.img, md-levels.img and md-degraded.img
// (mdadm 4.2 in the libguestfs appliance, data/make_dm_fixtures.sh) against
// that kernel's figures and libguestfs's names, and damaged superblocks.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/scan.hpp"
#include "plugins/filesystem/ext4.hpp"
#include "plugins/partition/gpt.hpp"
#include "plugins/volume/md.hpp"
#include "support/fixtures.hpp"
#include "support/image_builder.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

/// "IMAGE DEVICE" -> figures, from the "#appliance" lines of data/expected/md.txt.
std::map<std::string, StatVfs> appliance_figures() {
    std::map<std::string, StatVfs> out;
    for (const auto& r : appliance_records("md.txt")) out[r.image + " " + r.device] = r.stat;
    return out;
}

/// The partitions of a GPT fixture, named as the scan names them.
std::vector<DevicePtr> partitions(const std::string& image) {
    auto disk = open_fixture(image);
    auto table = gpt_plugin.list(*disk);
    REQUIRE(table);
    std::vector<DevicePtr> out;
    for (const Partition& p : table->partitions) {
        auto s = SliceDevice::create(disk, "/dev/sda" + std::to_string(p.number), p.offset, p.length, 512);
        REQUIRE(s);
        out.push_back(*s);
    }
    return out;
}

struct Assembled {
    std::vector<LogicalVolume> volumes;
    std::vector<std::string> warnings;
};

Assembled assemble(const std::vector<DevicePtr>& members) {
    Assembled a;
    auto volumes = md_plugin.assemble(members, a.warnings);
    REQUIRE(volumes);
    a.volumes = std::move(*volumes);
    return a;
}

std::vector<std::string> names(const Assembled& a) {
    std::vector<std::string> out;
    for (const auto& v : a.volumes) out.push_back(v.name);
    return out;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

StatVfs ext4_figures(const Device& dev) {
    auto fs = ext4_plugin.open(dev, {});
    REQUIRE(fs);
    return fs->stat;
}

// --- Superblock surgery -------------------------------------------------------------

std::uint64_t get_le(const std::vector<std::byte>& b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n; i-- > 0;) v = v << 8 | std::to_integer<std::uint64_t>(b[at + static_cast<std::size_t>(i)]);
    return v;
}

void set_le(std::vector<std::byte>& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + static_cast<std::size_t>(i)] = std::byte(v >> (8 * i) & 0xFF);
}

/// calc_sb_1_csum.
void seal_v1(std::vector<std::byte>& sb) {
    std::uint64_t sum = 0;
    const std::size_t size = 256 + 2 * get_le(sb, 220, 4);
    set_le(sb, 216, 0, 4);
    for (std::size_t at = 0; at + 4 <= size; at += 4) sum += get_le(sb, at, 4);
    if (size % 4) sum += get_le(sb, size - 2, 2);
    set_le(sb, 216, (sum & 0xffffffff) + (sum >> 32), 4);
}

/// calc_sb_csum (0.90).
void seal_090(std::vector<std::byte>& sb) {
    std::uint64_t sum = 0;
    set_le(sb, 152, 0, 4);
    for (std::size_t at = 0; at < 4096; at += 4) sum += get_le(sb, at, 4);
    set_le(sb, 152, (sum & 0xffffffff) + (sum >> 32), 4);
}

enum class Seal { none, v1, v090 };

/// `member` with its 4 KiB superblock at `at` edited, and resealed.
DevicePtr edited(const DevicePtr& member, std::uint64_t at,
                 const std::function<void(std::vector<std::byte>&)>& edit, Seal seal) {
    std::vector<std::byte> sb(4096);
    REQUIRE(member->read(at, sb));
    edit(sb);
    if (seal == Seal::v1) seal_v1(sb);
    if (seal == Seal::v090) seal_090(sb);
    auto patched = std::make_shared<PatchedDevice>(member);
    for (std::size_t i = 0; i < sb.size(); ++i) patched->byte(at + i, std::to_integer<std::uint8_t>(sb[i]));
    return patched;
}

// md-raid1.img: 20 MiB partitions; 1.2 at 4 KiB, 0.90 at (40960 & ~127) - 128
// sectors, 1.0 at (40960 - 16) & ~7 sectors.
constexpr std::uint64_t kAt12 = 4096, kAt090 = 40832 * 512, kAt10 = 40944 * 512;

}  // namespace

TEST_CASE("md: RAID1 with metadata 1.2, 0.90 and 1.0, named as libguestfs names them",
          "[md][fixtures]") {
    const auto figures = appliance_figures();
    const auto members = partitions("md-raid1.img");
    REQUIRE(members.size() == 6);
    for (const auto& m : members) CHECK(*md_plugin.probe(*m) == kCertain);
    const Assembled a = assemble(members);
    CHECK(a.warnings.empty());
    // In the order of their first members: 1.2 (p1), 0.90 (p3), 1.0 (p5);
    // listed as libguestfs lists /sys/block/md*, sorted.
    REQUIRE(names(a) == std::vector<std::string>{"/dev/md125", "/dev/md126", "/dev/md127"});
    for (const auto& v : a.volumes) {
        INFO(v.name);
        CHECK(ext4_figures(*v.device) == figures.at("md-raid1.img " + v.name));
    }
    CHECK(a.volumes[2].device->size() == 38912u * 512);  // 1.2: data_offset 2048 sectors
    CHECK(a.volumes[1].device->size() == 40832u * 512);  // 0.90: size 20416 KiB
    CHECK(a.volumes[0].device->size() == 40832u * 512);  // 1.0: size 40832 sectors
}

TEST_CASE("md: RAID0, linear and RAID5 arrays, scanned", "[md][fixtures]") {
    const auto figures = appliance_figures();
    std::vector<GuestDisk> disks{{"md-levels.img", open_fixture("md-levels.img")}};
    const ScanReport report = scan_guest(disks, builtin_plugins());
    // md125 (RAID5) is named but not read.
    REQUIRE(report.rows.size() == 2);
    CHECK(report.rows[0].device == "/dev/md126");  // linear, metadata 1.1
    CHECK(report.rows[1].device == "/dev/md127");  // RAID0, 64 KiB chunks
    for (const auto& row : report.rows) {
        INFO(row.device);
        CHECK(row.stat == figures.at("md-levels.img " + row.device));
    }
    REQUIRE(report.warnings.size() == 1);
    CHECK_THAT(report.warnings[0],
               Catch::Contains("/dev/md125: RAID5 is not supported (unsupported level)"));
}

TEST_CASE("md: degraded arrays and a stale member, scanned", "[md][fixtures]") {
    const auto figures = appliance_figures();
    std::vector<GuestDisk> disks{{"md-degraded.img", open_fixture("md-degraded.img")}};
    const ScanReport report = scan_guest(disks, builtin_plugins());
    REQUIRE(report.rows.size() == 3);
    for (const auto& row : report.rows) {
        INFO(row.device);
        CHECK(row.stat == figures.at("md-degraded.img " + row.device));
    }
    // md127 (p1, whose partner p2 fell behind) and md126 (p3 alone) are
    // degraded; md125 is complete.
    CHECK(report.rows[2].device == "/dev/md127");
    CHECK(any_contains(report.warnings, "/dev/sda2: out of date (events 2, the array is at 9)"));
    CHECK(any_contains(report.warnings, "/dev/md127: degraded: 1 of 2 members present"));
    CHECK(any_contains(report.warnings, "/dev/md126: degraded: 1 of 2 members present"));
    CHECK(report.warnings.size() == 3);
}

TEST_CASE("md: damaged 1.x superblocks", "[md]") {
    const auto figures = appliance_figures();
    auto members = partitions("md-raid1.img");
    const auto p1 = members[0], p2 = members[1];
    SECTION("one member's checksum stale: the other one serves") {
        members[0] = edited(p1, kAt12, [](auto& sb) { sb[40] = std::byte{'X'}; }, Seal::none);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda1: @0x10d8: superblock checksum"));
        REQUIRE(names(a) == std::vector<std::string>{"/dev/md125", "/dev/md126", "/dev/md127"});
        CHECK(any_contains(a.warnings, "/dev/md127: degraded: 1 of 2 members present"));
        CHECK(ext4_figures(*a.volumes[2].device) == figures.at("md-raid1.img /dev/md127"));
    }
    SECTION("both members' checksums stale: no array, the others stay") {
        members[0] = edited(p1, kAt12, [](auto& sb) { sb[40] = std::byte{'X'}; }, Seal::none);
        members[1] = edited(p2, kAt12, [](auto& sb) { sb[40] = std::byte{'X'}; }, Seal::none);
        const Assembled a = assemble(members);
        CHECK(a.warnings.size() == 2);
        CHECK(names(a) == std::vector<std::string>{"/dev/md126", "/dev/md127"});
    }
    SECTION("a data offset past the end of the member") {
        for (int i : {0, 1})
            members[i] = edited(members[i], kAt12, [](auto& sb) { set_le(sb, 128, 1ull << 40, 8); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda1: @0x1088: data_size 38912 sectors at data_offset "
                                       "1099511627776 does not fit the member"));
        CHECK(a.volumes.size() == 2);
    }
    SECTION("an array size larger than the members") {
        for (int i : {0, 1})
            members[i] = edited(members[i], kAt12, [](auto& sb) { set_le(sb, 80, ~0ull, 8); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/md127: array size of 18446744073709551615 sectors is "
                                       "more than /dev/sda1 holds"));
        CHECK(a.volumes.size() == 2);
    }
    SECTION("absurd max_dev") {
        members[0] = edited(p1, kAt12, [](auto& sb) { set_le(sb, 220, 5000, 4); }, Seal::none);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "superblock lists 5000 devices (at most 1920)"));
    }
    SECTION("absurd raid_disks, checksum valid") {
        members[0] = edited(p1, kAt12, [](auto& sb) { set_le(sb, 92, 0xffffffff, 4); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings,
                           "/dev/sda1: @0x105c: raid_disks 4294967295 (1.x holds 1 to 1920)"));
    }
    SECTION("the superblock says it is elsewhere") {
        members[0] = edited(p1, kAt12, [](auto& sb) { set_le(sb, 144, 0, 8); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "superblock at sector 8 says it is at sector 0"));
    }
    SECTION("members disagree on the number of members") {
        members[1] = edited(p2, kAt12, [](auto& sb) { set_le(sb, 92, 3, 4); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda2: superblock disagrees with /dev/sda1"));
        CHECK(a.volumes.size() == 3);
    }
    SECTION("both members say the array has one member") {
        for (int i : {0, 1})
            members[i] = edited(members[i], kAt12, [](auto& sb) { set_le(sb, 92, 1, 4); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda2: claims slot 1 of array"));
        REQUIRE(a.volumes.size() == 3);
        CHECK(ext4_figures(*a.volumes[2].device) == figures.at("md-raid1.img /dev/md127"));
    }
    SECTION("two members in the same slot") {
        members[1] = edited(p2, kAt12, [](auto& sb) { set_le(sb, 256 + 2, 0, 2); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "slot 0 of array"));
    }
    SECTION("a RAID1 member being rebuilt is not read") {
        // p1 recovering (only 8 sectors done), p2 in sync: p2 serves.
        members[0] = edited(p1, kAt12, [](auto& sb) {
            set_le(sb, 8, 2, 4);       // MD_FEATURE_RECOVERY_OFFSET
            set_le(sb, 152, 8, 8);     // recovery_offset
            set_le(sb, 200, 3, 8);     // and fresher
        }, Seal::v1);
        const Assembled a = assemble(members);
        REQUIRE(a.volumes.size() == 3);
        auto* slice = dynamic_cast<const SliceDevice*>(a.volumes[2].device.get());
        REQUIRE(slice != nullptr);
        CHECK(slice->map_block(0).front().device == p2.get());
    }
}

TEST_CASE("md: damaged 0.90 and 1.0 superblocks", "[md]") {
    auto members = partitions("md-raid1.img");
    SECTION("0.90 checksums stale") {
        for (int i : {2, 3})
            members[i] = edited(members[i], kAt090, [](auto& sb) { sb[4000] ^= std::byte{1}; }, Seal::none);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda3: @0x13f0098: superblock checksum"));
        CHECK(a.volumes.size() == 2);
    }
    SECTION("a 0.90 size that does not fit the member") {
        for (int i : {2, 3})
            members[i] = edited(members[i], kAt090, [](auto& sb) { set_le(sb, 32, 0xffffffff, 4); }, Seal::v090);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "size 4294967295 KiB does not fit before the superblock"));
        CHECK(a.volumes.size() == 2);
    }
    SECTION("0.90 with no members in its array") {
        for (int i : {2, 3})
            members[i] = edited(members[i], kAt090, [](auto& sb) { set_le(sb, 40, 0, 4); }, Seal::v090);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "raid_disks 0 (0.90 holds 1 to 27)"));
    }
    SECTION("a 1.0 member cut short: its superblock is no longer where 1.0 puts it") {
        auto cut = SliceDevice::create(members[4], "/dev/sda5", 0, members[4]->size() - 65536, 512);
        REQUIRE(cut);
        CHECK(*md_plugin.probe(**cut) == kNotMine);
        members[4] = *cut;
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda5: no MD superblock"));
        CHECK(any_contains(a.warnings, "degraded: 1 of 2 members present"));
        CHECK(a.volumes.size() == 3);
    }
    SECTION("a 1.0 data size reaching into the superblock") {
        for (int i : {4, 5})
            members[i] = edited(members[i], kAt10, [](auto& sb) { set_le(sb, 136, 40960, 8); }, Seal::v1);
        const Assembled a = assemble(members);
        CHECK(any_contains(a.warnings, "/dev/sda5: @0x13fe088: data_size 40960 sectors"));
        CHECK(a.volumes.size() == 2);
    }
}

TEST_CASE("md: a RAID0 array with a member missing is not run", "[md]") {
    const auto members = partitions("md-levels.img");
    const Assembled a = assemble({members[0]});
    CHECK(a.volumes.empty());
    CHECK(any_contains(a.warnings, "(RAID0): 1 of 2 members present, too few to run it"));
}

TEST_CASE("md: devices too small or without a superblock", "[md]") {
    ImageBuilder tiny(1000);
    CHECK(*md_plugin.probe(*tiny.device()) == kNotMine);
    ImageBuilder blank(1 << 20);
    CHECK(*md_plugin.probe(*blank.device()) == kNotMine);
    // The magic with a version it does not belong to.
    ImageBuilder odd(1 << 20);
    odd.le32(4096, 0xa92b4efc).le32(4100, 7);
    CHECK(*md_plugin.probe(*odd.device()) == kNotMine);
    // The magic and version, the rest zeros: claimed weakly (a filesystem
    // on the device would win), then refused clearly.
    ImageBuilder zero(1 << 20);
    zero.le32(4096, 0xa92b4efc).le32(4100, 1);
    auto dev = zero.device("/dev/sdb");
    CHECK(*md_plugin.probe(*dev) == 10);
    const Assembled a = assemble({dev});
    CHECK(a.volumes.empty());
    CHECK(any_contains(a.warnings, "/dev/sdb: @0x1090: superblock at sector 8 says it is at sector 0"));
}
