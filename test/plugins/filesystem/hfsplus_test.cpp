// SPDX-License-Identifier: GPL-2.0-or-later
// HFS+ and HFSX on the fixtures of data/fixtures.d/hfsplus.sh (one made by
// Mac OS X, the others by data/make_hfsplus.py), against the figures
// recorded for them (data/expected/hfsplus.txt: hfsplus_statfs's formula,
// checked as its header says), and on the same images with volume header
// fields set out of range or cut short.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "plugins/filesystem/hfsplus.hpp"
#include "core/scan.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kVh = 1024;  // the volume header of a bare volume

const char* const kBareVolumes[] = {"hfsplus-apple.img", "hfsplus-512.img", "hfsplus-8k.img",
                                    "hfsx.img"};

void be16(PatchedDevice& dev, std::uint64_t offset, std::uint16_t v) {
    dev.byte(offset, static_cast<std::uint8_t>(v >> 8)).byte(offset + 1, static_cast<std::uint8_t>(v));
}
void be32(PatchedDevice& dev, std::uint64_t offset, std::uint32_t v) {
    be16(dev, offset, static_cast<std::uint16_t>(v >> 16));
    be16(dev, offset + 2, static_cast<std::uint16_t>(v));
}
std::uint32_t read_be32(const Device& dev, std::uint64_t offset) {
    std::vector<std::byte> raw(4);
    REQUIRE(dev.read(offset, raw));
    std::uint32_t v = 0;
    for (std::byte b : raw) v = v << 8 | std::to_integer<std::uint32_t>(b);
    return v;
}

Error open_error(const Device& dev) {
    auto fs = hfsplus_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

/// A device that reads as `base` and then zeros, up to `size` bytes: a
/// volume far larger than any fixture, without the bytes.
class Enlarged final : public Device {
public:
    Enlarged(DevicePtr base, std::uint64_t size)
        : Device(base->name(), size, base->block_size()), base_(std::move(base)) {}

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        std::fill(out.begin(), out.end(), std::byte{0});
        if (offset >= base_->size()) return {};
        const std::uint64_t n = std::min<std::uint64_t>(out.size(), base_->size() - offset);
        return base_->read(offset, out.first(static_cast<std::size_t>(n)));
    }

private:
    DevicePtr base_;
};

}  // namespace

TEST_CASE("hfsplus: figures equal the recorded ones (data/expected/hfsplus.txt)",
          "[hfsplus][fixtures]") {
    check_tool_records("hfsplus.txt", "hfsplus", 6);
}

TEST_CASE("hfsplus: bare volumes, HFSX and a wrapped volume open", "[hfsplus]") {
    for (const char* name : {"hfsplus-apple.img", "hfsplus-512.img", "hfsplus-8k.img", "hfsx.img",
                             "hfsplus-wrapped.img"}) {
        INFO(name);
        auto dev = open_fixture(name);
        CHECK(*hfsplus_plugin.probe(*dev) == kCertain);
        auto fs = hfsplus_plugin.open(*dev, {});
        REQUIRE(fs);
        CHECK(fs->type == "hfsplus");
        CHECK(fs->stat.files == 0xFFFFFFFF);
        CHECK(fs->stat.bfree == fs->stat.bavail);
        CHECK(fs->warnings.empty());
    }
}

TEST_CASE("hfsplus: the kernel's block size is the allocation block size, at most a page, "
          "aligned to the volume's start", "[hfsplus]") {
    // 512-byte allocation blocks: 512, f_blocks = totalBlocks.
    auto small = hfsplus_plugin.open(*open_fixture("hfsplus-512.img"), {});
    REQUIRE(small);
    CHECK(small->stat.bsize == 512);
    CHECK(small->stat.blocks == 32768);
    // 8 KiB allocation blocks: a 4 KiB page, twice as many blocks.
    auto big = hfsplus_plugin.open(*open_fixture("hfsplus-8k.img"), {});
    REQUIRE(big);
    CHECK(big->stat.bsize == 4096);
    CHECK(big->stat.blocks == 2 * 4096);
    // The wrapped volume starts at sector 15: 512-byte blocks, 8 per 4 KiB
    // allocation block.
    auto wrapped = hfsplus_plugin.open(*open_fixture("hfsplus-wrapped.img"), {});
    REQUIRE(wrapped);
    CHECK(wrapped->stat.bsize == 512);
    CHECK(wrapped->stat.blocks % 8 == 0);
}

TEST_CASE("hfsplus: free blocks are the header's, not a count of the allocation file",
          "[hfsplus]") {
    auto base = open_fixture("hfsplus-512.img");
    auto clean = hfsplus_plugin.open(*base, {});
    REQUIRE(clean);
    // Clear the whole first byte of the allocation file (its start block
    // is the first extent of the fork at 0x70 + 0x10): nothing changes.
    const std::uint64_t alloc_start = read_be32(*base, kVh + 0x80);
    PatchedDevice bitmap(base);
    bitmap.byte(alloc_start * 512, 0x00);
    CHECK(hfsplus_plugin.open(bitmap, {})->stat == clean->stat);
    // freeBlocks and nextCatalogID are taken as they are.
    PatchedDevice header(base);
    be32(header, kVh + 0x30, 1234);
    be32(header, kVh + 0x40, 1000);
    auto patched = hfsplus_plugin.open(header, {});
    REQUIRE(patched);
    CHECK(patched->stat.bfree == 1234);
    CHECK(patched->stat.bavail == 1234);
    CHECK(patched->stat.ffree == 0xFFFFFFFF - 1000);
}

TEST_CASE("hfsplus: f_blocks and f_bfree are shifted in 32 bits, as the kernel does",
          "[hfsplus]") {
    // hfsplus-8k: 8 KiB allocation blocks in 4 KiB kernel blocks. A volume
    // of 2^31 + 3 of them (16 TiB) gives (2^31 + 3) << 1, which wraps to 6.
    constexpr std::uint32_t total = 0x80000003, free = 0x80000001;
    constexpr std::uint64_t size = std::uint64_t{total} * 8192;
    auto enlarged = std::make_shared<Enlarged>(open_fixture("hfsplus-8k.img"), size);
    PatchedDevice dev(enlarged);
    be32(dev, kVh + 0x2C, total);
    be32(dev, kVh + 0x30, free);
    be16(dev, size - 1024, 0x482B);  // the backup header's signature, at the new end
    auto fs = hfsplus_plugin.open(dev, {});
    REQUIRE(fs);
    CHECK(fs->stat.bsize == 4096);
    CHECK(fs->stat.blocks == 6);
    CHECK(fs->stat.bfree == 2);
}

TEST_CASE("hfsplus: an unclean volume is read, with a warning", "[hfsplus]") {
    PatchedDevice dev(open_fixture("hfsplus-apple.img"));
    be32(dev, kVh + 4, 0);  // attributes: kHFSVolumeUnmountedBit clear
    auto fs = hfsplus_plugin.open(dev, {});
    REQUIRE(fs);
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("not cleanly unmounted"));
}

TEST_CASE("hfsplus: not HFS+ scores 0", "[hfsplus]") {
    PatchedDevice bad(open_fixture("hfsplus-512.img"));
    be16(bad, kVh, 0x1234);
    CHECK(*hfsplus_plugin.probe(bad) == kNotMine);
    CHECK(open_error(bad).code == Errc::corrupt);
    // Plain HFS (an MDB without an embedded volume) is not this plugin's.
    PatchedDevice hfs(open_fixture("hfsplus-wrapped.img"));
    be16(hfs, kVh + 0x7C, 0);
    CHECK(*hfsplus_plugin.probe(hfs) == kNotMine);
    CHECK(open_error(hfs).code == Errc::unsupported);
}

TEST_CASE("hfsplus: out-of-range header fields are corrupt, with their offset",
          "[hfsplus][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        int width;
        std::uint32_t value;
        Errc code;
        std::uint64_t reported;
    };
    const Case cases[] = {
        {"version 3", kVh + 2, 2, 3, Errc::corrupt, kVh + 2},
        {"version 6", kVh + 2, 2, 6, Errc::corrupt, kVh + 2},
        {"block size 256", kVh + 0x28, 4, 256, Errc::corrupt, kVh + 0x28},
        {"block size 3072", kVh + 0x28, 4, 3072, Errc::corrupt, kVh + 0x28},
        {"block size 0", kVh + 0x28, 4, 0, Errc::corrupt, kVh + 0x28},
        {"no blocks", kVh + 0x2C, 4, 0, Errc::corrupt, kVh + 0x2C},
        {"more free than total", kVh + 0x30, 4, 0xFFFFFFFF, Errc::corrupt, kVh + 0x30},
        {"blocks past the device", kVh + 0x2C, 4, 0x00FFFFFF, Errc::truncated, kVh + 0x2C},
        {"catalog file of no blocks", kVh + 0x110 + 0x14, 4, 0, Errc::corrupt, kVh + 0x110},
        {"catalog file past the volume", kVh + 0x110 + 0x10, 4, 0x7FFFFFFF, Errc::corrupt, kVh + 0x110},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("hfsplus-512.img"));
        if (c.width == 2) be16(dev, c.offset, static_cast<std::uint16_t>(c.value));
        else be32(dev, c.offset, c.value);
        const Error e = open_error(dev);
        CHECK(e.code == c.code);
        CHECK(e.offset == c.reported);
    }
}

TEST_CASE("hfsplus: B-tree header nodes are checked as hfs_btree_open checks them",
          "[hfsplus][corrupt]") {
    auto base = open_fixture("hfsplus-512.img");
    const std::uint64_t catalog = read_be32(*base, kVh + 0x110 + 0x10) * 512;
    const std::uint64_t extents = read_be32(*base, kVh + 0xC0 + 0x10) * 512;
    SECTION("not a header node") {
        PatchedDevice dev(base);
        dev.byte(catalog + 8, 0xFF);
        CHECK_THAT(open_error(dev).message, Catch::Contains("not a header node"));
    }
    SECTION("a catalog key length other than 516") {
        PatchedDevice dev(base);
        be16(dev, catalog + 0x22, 10);
        const Error e = open_error(dev);
        CHECK(e.offset == catalog + 0x22);
        CHECK_THAT(e.message, Catch::Contains("maximum key length"));
    }
    SECTION("an extents tree with variable index keys") {
        PatchedDevice dev(base);
        be32(dev, extents + 0x34, 6);
        CHECK(open_error(dev).offset == extents + 0x34);
    }
    SECTION("a node size not a power of 2") {
        PatchedDevice dev(base);
        be16(dev, catalog + 0x20, 3000);
        CHECK(open_error(dev).offset == catalog + 0x20);
    }
}

TEST_CASE("hfsplus: the backup volume header must be there, as Linux requires",
          "[hfsplus][corrupt]") {
    auto base = open_fixture("hfsplus-apple.img");
    PatchedDevice dev(base);
    be16(dev, base->size() - 1024, 0);
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == base->size() - 1024);
    // HFSX's backup must say HX too.
    PatchedDevice hfsx(open_fixture("hfsx.img"));
    be16(hfsx, hfsx.size() - 1024, 0x482B);
    CHECK(open_error(hfsx).code == Errc::corrupt);
}

TEST_CASE("hfsplus: a wrapper's fields are checked as hfsplus_read_mdb checks them",
          "[hfsplus][corrupt]") {
    auto base = open_fixture("hfsplus-wrapped.img");
    SECTION("attributes without the locked and spared bits") {
        PatchedDevice dev(base);
        be16(dev, kVh + 0x0A, 0x0100);
        CHECK(open_error(dev).offset == kVh + 0x0A);
    }
    SECTION("an allocation block size not a multiple of 512") {
        PatchedDevice dev(base);
        be32(dev, kVh + 0x14, 1000);
        CHECK(open_error(dev).offset == kVh + 0x14);
    }
    SECTION("an embedded volume past the device") {
        PatchedDevice dev(base);
        be16(dev, kVh + 0x80, 0xFFFF);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::truncated);
        CHECK(e.offset == kVh + 0x7E);
    }
    SECTION("a wrapper inside the wrapper") {
        PatchedDevice dev(base);
        be16(dev, 15 * 512 + kVh, 0x4244);
        CHECK(open_error(dev).code == Errc::corrupt);
    }
}

TEST_CASE("hfsplus: blocks smaller than the disk's sectors are refused", "[hfsplus]") {
    auto dev = FileDevice::open(fixture_path("hfsplus-512.img"), 4096);
    REQUIRE(dev);
    const Error e = open_error(**dev);
    CHECK(e.code == Errc::unsupported);
    // 4 KiB blocks are fine on 4 KiB sectors.
    auto apple = FileDevice::open(fixture_path("hfsplus-apple.img"), 4096);
    REQUIRE(apple);
    CHECK(hfsplus_plugin.open(**apple, {}));
}

TEST_CASE("hfsplus: the image cut short fails cleanly", "[hfsplus][corrupt]") {
    for (const char* name : kBareVolumes) {
        auto base = open_fixture(name);
        const std::uint64_t cuts[] = {0, 1024, 1500, 4096, base->size() / 2, base->size() - 512};
        for (std::uint64_t size : cuts) {
            INFO(name << " cut at " << size);
            PatchedDevice cut(base, size);
            CHECK(*hfsplus_plugin.probe(cut) == (size >= 1536 ? kCertain : kNotMine));
            const Error e = open_error(cut);
            CHECK(e.code == Errc::truncated);
        }
    }
}

TEST_CASE("hfsplus: random bytes in the volume header and B-tree header nodes give figures or "
          "an error, never a crash",
          "[hfsplus][corrupt]") {
    std::mt19937_64 rng(20261122);
    for (const char* name : kBareVolumes) {
        INFO(name);
        auto base = open_fixture(name);
        const std::uint64_t block_size = read_be32(*base, kVh + 0x28);
        // The first extents of the extents and catalog files (forks at
        // 0xC0 and 0x110, extents 16 bytes in): their header nodes.
        const std::uint64_t nodes[] = {read_be32(*base, kVh + 0xD0) * block_size,
                                       read_be32(*base, kVh + 0x120) * block_size};
        for (int round = 0; round < 300; ++round) {
            PatchedDevice dev(base);
            const int changes = 1 + static_cast<int>(rng() % 6);
            for (int i = 0; i < changes; ++i) {
                const std::uint64_t where = rng() % 3;
                const std::uint64_t at = where == 0 ? kVh + rng() % 512 : nodes[where - 1] + rng() % 0x38;
                dev.byte(at, static_cast<std::uint8_t>(rng()));
            }
            (void)hfsplus_plugin.probe(dev);
            auto fs = hfsplus_plugin.open(dev, {});
            if (!fs) continue;
            CHECK(fs->stat.bfree <= fs->stat.blocks);
            CHECK(fs->stat.blocks * fs->stat.frsize <= dev.size());
        }
    }
}
