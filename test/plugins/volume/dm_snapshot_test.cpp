// SPDX-License-Identifier: GPL-2.0-or-later
// dm-snapshot: the old-style snapshot "osnap" of dm.img (lvcreate -s -L in
// the libguestfs appliance, data/make_dm_fixtures.sh) against that kernel's
// figures, and its exception store damaged.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "plugins/filesystem/ext4.hpp"
#include "plugins/volume/dm_snapshot.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kChunk = 4096;      // osnap's chunk size (8 sectors)
constexpr std::uint64_t kPerArea = 4096 / 16;

/// The "#appliance IMAGE DEVICE ..." figures of data/expected/dm.txt.
std::map<std::string, StatVfs> appliance_figures() {
    std::map<std::string, StatVfs> out;
    for (const auto& r : appliance_records("dm.txt")) out[r.device] = r.stat;
    return out;
}

/// The origin LV and the COW store, from data/dm-layout.txt.
std::pair<DevicePtr, DevicePtr> origin_and_cow() {
    std::ifstream in(fixture_path("dm-layout.txt"));
    REQUIRE(in);
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> l;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream f(line);
        std::string name, offset, length;
        f >> name >> offset >> length;
        if (offset != "-") l[name] = {std::stoull(offset), std::stoull(length)};
    }
    auto disk = open_fixture("dm.img");
    auto slice = [&](const std::string& name) {
        auto s = SliceDevice::create(disk, name, l.at(name).first, l.at(name).second, 512);
        REQUIRE(s);
        return DevicePtr(*s);
    };
    return {slice("origin"), slice("osnap")};
}

SnapshotSpec snapshot_of(DevicePtr origin, DevicePtr cow) {
    const std::uint64_t size = origin->size();
    return SnapshotSpec{"/dev/vgdm/osnap", std::move(origin), std::move(cow), size};
}

/// The COW store with some bytes patched.
std::shared_ptr<PatchedDevice> patched(const DevicePtr& cow, std::uint64_t size = UINT64_MAX) {
    return std::make_shared<PatchedDevice>(cow, size);
}

void put_le64(PatchedDevice& d, std::uint64_t at, std::uint64_t v) {
    d.le32(at, static_cast<std::uint32_t>(v)).le32(at + 4, static_cast<std::uint32_t>(v >> 32));
}

}  // namespace

TEST_CASE("dm_snapshot: the snapshot reads as the origin was, with the appliance kernel's figures",
          "[dm_snapshot][fixtures]") {
    const auto figures = appliance_figures();
    auto [origin, cow] = origin_and_cow();
    auto snap = open_snapshot(snapshot_of(origin, cow));
    REQUIRE(snap);
    CHECK((*snap)->size() == 24u << 20);
    auto fs = ext4_plugin.open(**snap, {});
    REQUIRE(fs);
    CHECK(fs->stat == figures.at("/dev/vgdm/osnap"));
    // The origin itself, changed since, reads as it is now.
    auto now = ext4_plugin.open(*origin, {});
    REQUIRE(now);
    CHECK(now->stat == figures.at("/dev/vgdm/origin"));
}

TEST_CASE("dm_snapshot: a store the kernel never set up is the origin", "[dm_snapshot]") {
    const auto figures = appliance_figures();
    auto [origin, cow] = origin_and_cow();
    auto blank = patched(cow);
    blank->le32(0, 0);
    auto snap = open_snapshot(snapshot_of(origin, blank));
    REQUIRE(snap);
    auto fs = ext4_plugin.open(**snap, {});
    REQUIRE(fs);
    CHECK(fs->stat == figures.at("/dev/vgdm/origin"));
}

TEST_CASE("dm_snapshot: damaged headers", "[dm_snapshot]") {
    auto [origin, cow] = origin_and_cow();
    auto bad = patched(cow);
    std::string expected;
    SECTION("invalidated (overflowed)") {
        bad->le32(4, 0);
        expected = "the snapshot is invalid";
    }
    SECTION("no magic") {
        bad->le32(0, 0x12345678);
        expected = "no snapshot exception store";
    }
    SECTION("another version") {
        bad->le32(8, 2);
        expected = "snapshot store version 2";
    }
    SECTION("a chunk size that is not a power of two") {
        bad->le32(12, 3);
        expected = "chunk size of 3 sectors";
    }
    SECTION("a zero chunk size") {
        bad->le32(12, 0);
        expected = "chunk size of 0 sectors";
    }
    auto snap = open_snapshot(snapshot_of(origin, bad));
    REQUIRE_FALSE(snap);
    CHECK_THAT(snap.error().to_string(), Catch::Contains(expected));
}

TEST_CASE("dm_snapshot: damaged exception tables", "[dm_snapshot]") {
    auto [origin, cow] = origin_and_cow();
    // Area 0 is chunk 1; its first exception is at byte 4096.
    const std::uint64_t first = kChunk;
    std::shared_ptr<PatchedDevice> bad;
    std::string expected;
    SECTION("an exception pointing past the end of the COW device") {
        bad = patched(cow);
        put_le64(*bad, first + 8, std::uint64_t{1} << 40);
        expected = "past the end of the COW device";
    }
    SECTION("an exception for a chunk past the end of the origin") {
        bad = patched(cow);
        put_le64(*bad, first, std::uint64_t{1} << 40);
        expected = "past the end of the origin";
    }
    SECTION("a COW device cut after the first full area: the table runs off its end") {
        // Area 1 would be at chunk 1 + 257 = 258.
        bad = patched(cow, (1 + kPerArea + 1) * kChunk);
        expected = "lies past the end of the COW device";
    }
    auto snap = open_snapshot(snapshot_of(origin, bad));
    REQUIRE_FALSE(snap);
    CHECK_THAT(snap.error().to_string(), Catch::Contains(expected));
}

TEST_CASE("dm_snapshot: a snapshot larger than its origin", "[dm_snapshot]") {
    auto [origin, cow] = origin_and_cow();
    SnapshotSpec s = snapshot_of(origin, cow);
    s.size += 4096;
    auto snap = open_snapshot(s);
    REQUIRE_FALSE(snap);
    CHECK_THAT(snap.error().message, Catch::Contains("larger than its origin"));
}
