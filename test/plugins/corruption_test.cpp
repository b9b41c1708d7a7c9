// SPDX-License-Identifier: GPL-2.0-or-later
// Hostile input: real fixtures with seeded random bytes changed in their
// metadata, and cut at random points. Every scan must end with rows and
// warnings, never a crash, a hang or a huge allocation (run under
// -Db_sanitize=address,undefined to check the latter).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <random>
#include <set>

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

/// Reads through to another device and remembers where it read: the
/// structures a scan of the intact image visits.
class RecordingDevice final : public Device {
public:
    explicit RecordingDevice(DevicePtr base)
        : Device(base->name(), base->size(), base->block_size()), base_(std::move(base)) {}
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& reads() const { return reads_; }

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        reads_.emplace_back(offset, offset + out.size());
        return base_->read(offset, out);
    }

private:
    DevicePtr base_;
    mutable std::vector<std::pair<std::uint64_t, std::uint64_t>> reads_;
};

/// Every disk image data/make_fixtures.sh made (its manifest's first column).
std::vector<std::string> every_fixture() {
    std::ifstream manifest(fixture_path("manifest.txt"));
    std::set<std::string> names;
    for (std::string line; std::getline(manifest, line);)
        if (!line.empty() && line[0] != '#') names.insert(line.substr(0, line.find(' ')));
    return {names.begin(), names.end()};
}

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

// Issue 8's corrupt corpus over every fixture: the intact scan's reads give
// the structures (their ends are the boundaries to cut at, their bytes the
// metadata to flip bits in). Each scan must return (no crash: run under the
// sanitizers by the hostile gate) within a bound far above a real scan's
// milliseconds, and a cut that loses a row must say so, unless the cut is
// below the first structure (nothing is recognised, as for an empty disk).
TEST_CASE("corruption: every fixture, cut at its structures' boundaries and bit-flipped in them",
          "[corrupt][fuzz]") {
    using Clock = std::chrono::steady_clock;
    constexpr auto kBound = std::chrono::seconds(20);
    // Every format's primary superblock or table ends before this (btrfs's,
    // the last, at 68 KiB): cut below it, a filesystem is simply not there.
    constexpr std::uint64_t kPastSuperblocks = 128 << 10;
    std::mt19937_64 rng(20261122);
    const auto fixtures = every_fixture();
    REQUIRE(fixtures.size() >= 50);
    std::size_t scans = 0;
    for (const std::string& image : fixtures) {
        INFO(image);
        const DevicePtr base = open_fixture(image);
        auto recorder = std::make_shared<RecordingDevice>(base);
        const std::size_t intact_rows = scan(recorder).rows.size();
        auto reads = recorder->reads();
        if (reads.empty()) continue;
        std::sort(reads.begin(), reads.end());

        std::set<std::uint64_t> cuts;
        for (const auto& [start, end] : reads) {
            cuts.insert(start);
            cuts.insert(end - 1);  // the last byte of the structure is missing
        }
        std::vector<std::uint64_t> cut_list(cuts.begin(), cuts.end());
        std::shuffle(cut_list.begin(), cut_list.end(), rng);
        cut_list.resize(std::min<std::size_t>(cut_list.size(), 48));
        for (int i = 0; i < 8; ++i) cut_list.push_back(rng() % base->size());
        for (const std::uint64_t cut : cut_list) {
            INFO("cut at byte " << cut);
            const auto start = Clock::now();
            const ScanReport report = scan(std::make_shared<PatchedDevice>(base, cut));
            CHECK(Clock::now() - start < kBound);
            if (report.rows.size() < intact_rows && cut >= kPastSuperblocks) CHECK_FALSE(report.warnings.empty());
            ++scans;
        }

        for (int round = 0; round < 48; ++round) {
            auto dev = std::make_shared<PatchedDevice>(base);
            const int flips = 1 + static_cast<int>(rng() % 8);
            std::string what;
            for (int i = 0; i < flips; ++i) {
                const auto& [start, end] = reads[rng() % reads.size()];
                const std::uint64_t at = start + rng() % (end - start);
                std::array<std::byte, 1> byte{};
                REQUIRE(base->read(at, byte));
                dev->byte(at, static_cast<std::uint8_t>(std::to_integer<unsigned>(byte[0]) ^ (1u << (rng() % 8))));
                what += " " + std::to_string(at);
            }
            INFO("bits flipped at" << what);
            const auto start = Clock::now();
            const ScanReport report = scan(dev);
            CHECK(Clock::now() - start < kBound);
            ++scans;
        }
    }
    INFO(scans << " scans");
    CHECK(scans > 1000);
}
