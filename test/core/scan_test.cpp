// SPDX-License-Identifier: GPL-2.0-or-later
// The scan's rules, with small fake plugins: which layer is tried when, what
// a tie does, the row order, and what a bad partition does to the rest.
#include <catch2/catch.hpp>

#include <string_view>

#include "core/scan.hpp"
#include "plugins/plugins.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;
using namespace std::string_view_literals;
using test::ImageBuilder;

namespace {

// "FAKEFS" at 0, then the block count as a byte at 8.
Result<Score> fake_fs_probe(const Device&) { return 50; }
Result<Filesystem> fake_fs_open(const Device& dev, const FilesystemContext&) {
    std::vector<std::byte> b(9);
    VMDF_TRY(dev.read(0, b));
    Filesystem fs;
    fs.type = "fakefs";
    fs.stat = StatVfs{1024, 1024, std::to_integer<std::uint64_t>(b[8]), 1, 1, 0, 0};
    return fs;
}
Result<Filesystem> broken_fs_open(const Device&, const FilesystemContext&) { return fail(Errc::corrupt, "bad thing", 0x10); }

constexpr Magic kFakeMagics[] = {{0, "FAKEFS"sv}};
constexpr Magic kBrokenMagics[] = {{0, "BROKEN"sv}};
constexpr Magic kPvMagics[] = {{0, "FAKEPV"sv}};
constexpr FilesystemPlugin kFakeFs{"fakefs", kFakeMagics, fake_fs_probe, fake_fs_open};
constexpr FilesystemPlugin kTwinFs{"twinfs", kFakeMagics, fake_fs_probe, fake_fs_open};
constexpr FilesystemPlugin kBrokenFs{"brokenfs", kBrokenMagics, fake_fs_probe, broken_fs_open};

// A volume manager whose members hold "FAKEPV" and whose one volume is the
// concatenation of its members.
Result<Score> fake_pv_probe(const Device&) { return 100; }
Result<std::vector<LogicalVolume>> fake_assemble(std::span<const DevicePtr> members,
                                                 std::vector<std::string>& warnings) {
    warnings.push_back(std::to_string(members.size()) + " members");
    ImageBuilder lv(4096);
    lv.put(0, "FAKEFS").u8(8, 77);
    return std::vector<LogicalVolume>{{"/dev/vg/lv", lv.device("/dev/vg/lv")}};
}
constexpr VolumeManagerPlugin kFakeVm{"fakevm", kPvMagics, fake_pv_probe, fake_assemble};

const FilesystemPlugin* const kFs[] = {&kFakeFs, &kBrokenFs};
const FilesystemPlugin* const kTwins[] = {&kFakeFs, &kTwinFs};
const VolumeManagerPlugin* const kVms[] = {&kFakeVm};
const PartitionPlugin* const kParts[] = {&gpt_plugin, &mbr_plugin};

PluginSet fake_plugins(std::span<const FilesystemPlugin* const> fs = kFs) {
    return PluginSet{{}, kParts, fs, kVms};
}

/// A 1 MiB MBR disk; partition i at 64 KiB * (i + 1), 64 KiB long, holding `content[i]`.
ImageBuilder mbr_disk(const std::vector<std::string>& content) {
    ImageBuilder b(1 << 20);
    for (std::size_t i = 0; i < content.size(); ++i) {
        const auto start = static_cast<std::uint32_t>(128 * (i + 1));
        b.mbr_entry(0, static_cast<int>(i), 0x83, start, 128);
        b.put(start * 512ull, content[i]).u8(start * 512ull + 8, static_cast<std::uint8_t>(10 + i));
    }
    return b;
}

}  // namespace

TEST_CASE("scan: disk names as Linux gives them", "[scan]") {
    CHECK(disk_device_name(0) == "/dev/sda");
    CHECK(disk_device_name(25) == "/dev/sdz");
    CHECK(disk_device_name(26) == "/dev/sdaa");
    CHECK(disk_device_name(701) == "/dev/sdzz");
    CHECK(disk_device_name(702) == "/dev/sdaaa");
}

TEST_CASE("scan: whole-disk filesystems come before partitions, then volumes", "[scan]") {
    ImageBuilder whole(4096);
    whole.put(0, "FAKEFS").u8(8, 5);
    auto parted = mbr_disk({"FAKEFS", "FAKEPV", "", "FAKEFS"});
    std::vector<GuestDisk> disks{{"a.img", parted.device()}, {"b.img", whole.device()}};
    const ScanReport report = scan_guest(disks, fake_plugins());
    REQUIRE(report.rows.size() == 4);
    CHECK(report.rows[0].device == "/dev/sdb");
    CHECK(report.rows[1].device == "/dev/sda1");
    CHECK(report.rows[1].stat.blocks == 10);
    CHECK(report.rows[2].device == "/dev/sda4");
    CHECK(report.rows[3].device == "/dev/vg/lv");
    CHECK(report.rows[3].stat.blocks == 77);
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0] == "fakevm: 1 members");
}

TEST_CASE("scan: a broken filesystem is a warning; the others still print", "[scan][corrupt]") {
    auto parted = mbr_disk({"BROKEN", "FAKEFS"});
    std::vector<GuestDisk> disks{{"guest.img", parted.device()}};
    const ScanReport report = scan_guest(disks, fake_plugins());
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].device == "/dev/sda2");
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0] == "guest.img: /dev/sda1: brokenfs: @0x10: bad thing");
}

TEST_CASE("scan: two plugins claiming a device is an error, not a coin toss", "[scan][corrupt]") {
    ImageBuilder whole(4096);
    whole.put(0, "FAKEFS");
    std::vector<GuestDisk> disks{{"guest.img", whole.device()}};
    const ScanReport report = scan_guest(disks, fake_plugins(kTwins));
    CHECK(report.rows.empty());
    REQUIRE(report.warnings.size() == 1);
    CHECK_THAT(report.warnings[0], Catch::Contains("both fakefs and twinfs claim this device"));
}

TEST_CASE("scan: a partition past the end of the disk is cut, or dropped", "[scan][corrupt]") {
    ImageBuilder b(1 << 20);
    b.mbr_entry(0, 0, 0x83, 1024, 2048);   // ends past the 2048-sector disk
    b.mbr_entry(0, 1, 0x83, 4096, 100);    // starts past it
    b.put(1024 * 512, "FAKEFS").u8(1024 * 512 + 8, 3);
    std::vector<GuestDisk> disks{{"guest.img", b.device()}};
    const ScanReport report = scan_guest(disks, fake_plugins());
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].device == "/dev/sda1");
    REQUIRE(report.warnings.size() == 2);
    CHECK_THAT(report.warnings[0], Catch::Contains("/dev/sda1: mbr: partition extends past the end"));
    CHECK_THAT(report.warnings[1], Catch::Contains("/dev/sda2: mbr: partition starts at byte"));
}

TEST_CASE("scan: an empty disk gives no rows and no warnings", "[scan]") {
    ImageBuilder b(1 << 20);
    std::vector<GuestDisk> disks{{"guest.img", b.device()}};
    const ScanReport report = scan_guest(disks, builtin_plugins());
    CHECK(report.rows.empty());
    CHECK(report.warnings.empty());
}

TEST_CASE("scan: a guest past its time limit ends with warnings, not a hang", "[scan][corrupt]") {
    auto parted = mbr_disk({"FAKEFS"});
    std::vector<GuestDisk> disks{{"guest.img", parted.device()}};
    ScanOptions options;
    options.time_limit = std::chrono::seconds(-1);  // over before it starts
    const ScanReport report = scan_guest(disks, fake_plugins(), options);
    CHECK(report.rows.empty());
    REQUIRE_FALSE(report.warnings.empty());
    CHECK_THAT(report.warnings.back(), Catch::Matchers::Contains("cut short"));
}

namespace {

// An MD-like manager: members carry "FAKEMD" at 1024 and their score as a
// byte at 1030 (100 a good superblock, 10 a damaged one). Its one volume,
// /dev/md0, holds a FAKEPV: an LVM PV on an MD array.
constexpr Magic kMdMagics[] = {{1024, "FAKEMD"sv}};
Result<Score> fake_md_probe(const Device& dev) {
    std::vector<std::byte> b(1);
    VMDF_TRY(dev.read(1030, b));
    return std::to_integer<int>(b[0]);
}
Result<std::vector<LogicalVolume>> fake_md_assemble(std::span<const DevicePtr> members,
                                                    std::vector<std::string>& warnings) {
    warnings.push_back(std::to_string(members.size()) + " md members");
    ImageBuilder md(4096);
    md.put(0, "FAKEPV");
    return std::vector<LogicalVolume>{{"/dev/md0", md.device("/dev/md0")}};
}
constexpr VolumeManagerPlugin kFakeMd{"fakemd", kMdMagics, fake_md_probe, fake_md_assemble};

// A manager whose volume is a member of itself under a new name each
// time: hostile, and must not keep the scan going round.
constexpr Magic kLoopMagics[] = {{0, "LOOPY"sv}};
Result<Score> loop_probe(const Device&) { return 100; }
Result<std::vector<LogicalVolume>> loop_assemble(std::span<const DevicePtr>, std::vector<std::string>&) {
    static unsigned runs = 0;
    ImageBuilder v(4096);
    v.put(0, "LOOPY");
    const std::string name = "/dev/loop" + std::to_string(++runs);
    return std::vector<LogicalVolume>{{name, v.device(name)}};
}
constexpr VolumeManagerPlugin kLoopVm{"loopvm", kLoopMagics, loop_probe, loop_assemble};

const VolumeManagerPlugin* const kStack[] = {&kFakeMd, &kFakeVm};
const VolumeManagerPlugin* const kLoop[] = {&kLoopVm};

/// `mbr_disk`, with partition i also carrying an MD member scoring `md[i]` (0: none).
ImageBuilder md_disk(const std::vector<std::string>& content, const std::vector<int>& md) {
    ImageBuilder b = mbr_disk(content);
    for (std::size_t i = 0; i < md.size(); ++i)
        if (md[i] > 0)
            b.put(128 * (i + 1) * 512 + 1024, "FAKEMD").u8(128 * (i + 1) * 512 + 1030, static_cast<std::uint8_t>(md[i]));
    return b;
}

}  // namespace

TEST_CASE("scan: a volume-manager member is not read as the filesystem it holds", "[scan]") {
    // Like an MD 0.90 or 1.0 member: the array's filesystem at byte 0 and
    // the member's superblock further on. The member wins, as in libblkid.
    auto parted = md_disk({"FAKEFS", "FAKEFS"}, {100, 100});
    std::vector<GuestDisk> disks{{"guest.img", parted.device()}};
    const ScanReport report = scan_guest(disks, PluginSet{{}, kParts, kFs, kStack});
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].device == "/dev/vg/lv");  // md0 is a PV of vg
    CHECK(report.warnings == std::vector<std::string>{"fakemd: 2 md members", "fakevm: 1 members"});
}

TEST_CASE("scan: a doubtful member signature yields to a filesystem", "[scan][corrupt]") {
    // p1: a damaged superblock beside a filesystem: the filesystem. p2: a
    // damaged superblock alone: a member, so that its manager can say why.
    auto parted = md_disk({"FAKEFS", ""}, {10, 10});
    std::vector<GuestDisk> disks{{"guest.img", parted.device()}};
    const ScanReport report = scan_guest(disks, PluginSet{{}, kParts, kFs, kStack});
    REQUIRE(report.rows.size() == 2);
    CHECK(report.rows[0].device == "/dev/sda1");
    CHECK(report.rows[1].device == "/dev/vg/lv");
    CHECK(report.warnings == std::vector<std::string>{"fakemd: 1 md members", "fakevm: 1 members"});
}

TEST_CASE("scan: LVM on MD assembles the volume group once, with every PV", "[scan]") {
    // p1 is a PV on the disk, p2 and p3 members of an array that is a PV.
    // The PV manager runs again once md0 is found: its last run counts.
    auto parted = md_disk({"FAKEPV", "", ""}, {0, 100, 100});
    std::vector<GuestDisk> disks{{"guest.img", parted.device()}};
    const ScanReport report = scan_guest(disks, PluginSet{{}, kParts, kFs, kStack});
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].device == "/dev/vg/lv");
    CHECK(report.rows[0].stat.blocks == 77);
    CHECK(report.warnings == std::vector<std::string>{"fakemd: 2 md members", "fakevm: 2 members"});
}

TEST_CASE("scan: volumes that keep making members of their own end the assembly", "[scan][corrupt]") {
    auto parted = mbr_disk({"LOOPY"});
    std::vector<GuestDisk> disks{{"guest.img", parted.device()}};
    const ScanReport report = scan_guest(disks, PluginSet{{}, kParts, kFs, kLoop});
    CHECK(report.rows.empty());
    REQUIRE(report.warnings.size() == 1);
    CHECK_THAT(report.warnings[0], Catch::Contains("rounds of assembly"));
}
