// SPDX-License-Identifier: GPL-2.0-or-later
// Hostile input: real fixtures with seeded random bytes changed in their
// metadata, and cut at random points. Every scan must end with rows and
// warnings, never a crash, a hang or a huge allocation (run under
// -Db_sanitize=address,undefined to check the latter).
#include <catch2/catch.hpp>

#include <random>

#include "core/scan.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

// Where the metadata is: partition tables, superblocks, group descriptors.
struct Target {
    const char* image;
    std::uint64_t metadata_end;  // bytes from the start worth corrupting
};
constexpr Target kTargets[] = {
    {"ext4-4k.img", 64 << 10},          {"ext2-1k.img", 16 << 10},
    {"ext4-64bit-metabg.img", 64 << 10}, {"ext4-bigalloc16k.img", 64 << 10},
    {"mbr-logical.img", 4 << 10},       {"gpt-512.img", 24 << 10},
};

ScanReport scan(DevicePtr dev) {
    std::vector<GuestDisk> disks{{"fuzz.img", std::move(dev)}};
    return scan_guest(disks, builtin_plugins());
}

}  // namespace

TEST_CASE("corruption: random byte changes in metadata never crash the scan", "[corrupt][fuzz]") {
    std::mt19937_64 rng(20261121);
    for (const Target& t : kTargets) {
        auto base = open_fixture(t.image);
        for (int round = 0; round < 150; ++round) {
            auto dev = std::make_shared<PatchedDevice>(base);
            const int changes = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < changes; ++i)
                dev->byte(rng() % t.metadata_end, static_cast<std::uint8_t>(rng()));
            const ScanReport report = scan(dev);
            CHECK(report.rows.size() <= 8);
        }
    }
}

TEST_CASE("corruption: images cut anywhere never crash the scan", "[corrupt][fuzz]") {
    std::mt19937_64 rng(7);
    for (const Target& t : kTargets) {
        auto base = open_fixture(t.image);
        for (int round = 0; round < 40; ++round) {
            const std::uint64_t size = round < 20 ? rng() % (t.metadata_end * 2) : rng() % base->size();
            const ScanReport report = scan(std::make_shared<PatchedDevice>(base, size));
            CHECK(report.rows.size() <= 8);
        }
    }
}
