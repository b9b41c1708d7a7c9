// SPDX-License-Identifier: GPL-2.0-or-later
// Every fixture, scanned whole, against the figures the kernel reported when
// it mounted the same filesystem read-only (data/expected/*.txt).
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "core/scan.hpp"
#include "support/fixtures.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

ScanReport scan_fixture(const std::string& image, bool read_write = false) {
    std::vector<GuestDisk> disks{{image, open_fixture(image)}};
    return scan_guest(disks, builtin_plugins(), ScanOptions{read_write});
}

void check_against_kernel(bool read_write) {
    const auto records = kernel_records(read_write);
    REQUIRE(records.size() >= 20);
    std::map<std::string, ScanReport> reports;
    for (const KernelRecord& expected : records) {
        if (!expected.mountable) continue;
        INFO(expected.image << " " << expected.device << (read_write ? " (rw)" : " (ro)"));
        auto [it, fresh] = reports.try_emplace(expected.image);
        if (fresh) it->second = scan_fixture(expected.image, read_write);
        const auto& rows = it->second.rows;
        auto row = std::find_if(rows.begin(), rows.end(),
                                [&](const FilesystemRow& r) { return r.device == expected.device; });
        REQUIRE(row != rows.end());
        CHECK(row->stat.bsize == expected.stat.bsize);
        CHECK(row->stat.frsize == expected.stat.frsize);
        CHECK(row->stat.blocks == expected.stat.blocks);
        CHECK(row->stat.bfree == expected.stat.bfree);
        CHECK(row->stat.bavail == expected.stat.bavail);
        CHECK(row->stat.files == expected.stat.files);
        CHECK(row->stat.ffree == expected.stat.ffree);
    }
}

}  // namespace

TEST_CASE("fixtures: every figure equals the kernel's, read-only", "[fixtures][kernel]") {
    check_against_kernel(false);
}

TEST_CASE("fixtures: every figure equals the kernel's, read-write (--mount-mode=rw)",
          "[fixtures][kernel]") {
    check_against_kernel(true);
}

TEST_CASE("fixtures: every figure equals the format's own tools where the kernel has no driver",
          "[fixtures][fat][exfat]") {
    const auto by_file = tool_records();
    REQUIRE(by_file.count("fat.txt") == 1);
    REQUIRE(by_file.count("exfat.txt") == 1);
    for (const auto& [file, records] : by_file) {
        REQUIRE(records.size() >= 5);
        for (const KernelRecord& expected : records) {
            INFO(file << ": " << expected.image << " " << expected.device);
            const ScanReport report = scan_fixture(expected.image);
            auto row = std::find_if(report.rows.begin(), report.rows.end(),
                                    [&](const FilesystemRow& r) { return r.device == expected.device; });
            REQUIRE(row != report.rows.end());
            CHECK(row->stat == expected.stat);
        }
    }
}

TEST_CASE("fixtures: no rows beyond the filesystems the kernel knows", "[fixtures]") {
    // Every recorded filesystem, mountable here or not (ext4 with 64 KiB
    // blocks is reported, with a warning, though x86 kernels refuse it).
    std::map<std::string, std::set<std::string>> expected;
    for (const KernelRecord& r : kernel_records()) expected[r.image].insert(r.device);
    for (const auto& [image, devices] : expected) {
        INFO(image);
        std::set<std::string> found;
        for (const auto& row : scan_fixture(image).rows) found.insert(row.device);
        CHECK(found == devices);
    }
}

TEST_CASE("fixtures: ext4 with 64 KiB blocks, against mke2fs's own overhead", "[fixtures][ext4]") {
    // No kernel here mounts it, so the figures are checked against what
    // mke2fs stored: 4096 blocks, 1044 overhead clusters, 3003 free, 204
    // reserved, 81 (2%) held back by ext4_set_resv_clusters.
    const ScanReport report = scan_fixture("ext4-64k.img");
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].stat == StatVfs{65536, 65536, 4096 - 1044, 3003, 3003 - 204 - 81, 4096, 3973});
    REQUIRE(report.warnings.size() == 1);
    CHECK_THAT(report.warnings[0], Catch::Contains("refuse to mount"));
}

// The "#tools" records of the formats this host cannot mount were checked
// once against the libguestfs appliance's kernel: its output is kept in
// data/appliance-statfs-6.1.txt, and every one of its figures must stay
// equal to what data/expected/ records (and so to what virt-df prints).
TEST_CASE("fixtures: the appliance kernel's figures equal the recorded ones",
          "[fixtures][kernel]") {
    const auto appliance =
        prefixed_records(expected_file("..") / "appliance-statfs-6.1.txt", "#tools ");
    REQUIRE(appliance.size() >= 38);
    std::map<std::string, StatVfs> recorded;
    for (const auto& [file, records] : tool_records())
        for (const KernelRecord& r : records) recorded[r.image + " " + r.device] = r.stat;
    for (const KernelRecord& kernel : appliance) {
        INFO(kernel.image << " " << kernel.device);
        REQUIRE(recorded.count(kernel.image + " " + kernel.device) == 1);
        CHECK(recorded.at(kernel.image + " " + kernel.device) == kernel.stat);
    }
}
