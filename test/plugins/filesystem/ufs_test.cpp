// SPDX-License-Identifier: GPL-2.0-or-later
// UFS1 and UFS2 in both byte orders, on the fixtures makefs made in
// data/fixtures.d/ufs.sh, against the figures recorded for them
// (data/expected/ufs.txt: ufs_statfs's formula, checked as its header
// says), and on the same images with superblock fields set out of range
// or cut short.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "plugins/filesystem/ufs.hpp"
#include "core/scan.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

/// A fixture's superblock: where it is and in which byte order.
struct Sb {
    const char* image;
    std::uint64_t at;
    bool big;
};
constexpr Sb kUfs1Le{"ufs1-le.img", 8192, false}, kUfs1Be{"ufs1-be.img", 8192, true},
    kUfs2Le{"ufs2-le.img", 65536, false}, kUfs2Be{"ufs2-be.img", 65536, true};
constexpr Sb kAll[] = {kUfs1Le, kUfs1Be, kUfs2Le, kUfs2Be};

void put32(PatchedDevice& dev, const Sb& sb, std::uint64_t field, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        const int shift = sb.big ? 8 * (3 - i) : 8 * i;
        dev.byte(sb.at + field + static_cast<std::uint64_t>(i), static_cast<std::uint8_t>(v >> shift));
    }
}
void put64(PatchedDevice& dev, const Sb& sb, std::uint64_t field, std::uint64_t v) {
    const auto hi = static_cast<std::uint32_t>(v >> 32), lo = static_cast<std::uint32_t>(v);
    put32(dev, sb, field + (sb.big ? 0 : 4), hi);
    put32(dev, sb, field + (sb.big ? 4 : 0), lo);
}

Error open_error(const Device& dev) {
    auto fs = ufs_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

// Superblock fields (fs/ufs/ufs_fs.h).
constexpr std::uint64_t kSize = 36, kDsize = 40, kNcg = 44, kBsize = 48, kFsize = 52, kFrag = 56,
                        kMinfree = 60, kFragshift = 96, kSbsize = 104, kIpg = 184,
                        kOldNbfree = 196, kOldNifree = 200, kOldNffree = 204, kClean = 209,
                        kMaxbsize = 860, kNbfree = 1016, kNifree = 1024, kNffree = 1032,
                        kSize64 = 1080, kPostblformat = 1356, kMagic = 1372;

}  // namespace

TEST_CASE("ufs: figures equal the recorded ones (data/expected/ufs.txt)", "[ufs][fixtures]") {
    check_tool_records("ufs.txt", "ufs", 5);
}

TEST_CASE("ufs: both versions in both byte orders open, with the formula's figures", "[ufs]") {
    for (const Sb& sb : kAll) {
        INFO(sb.image);
        auto dev = open_fixture(sb.image);
        CHECK(*ufs_plugin.probe(*dev) == kCertain);
        auto fs = ufs_plugin.open(*dev, {});
        REQUIRE(fs);
        CHECK(fs->type == "ufs");
        CHECK(fs->stat.bsize == fs->stat.frsize);
        CHECK(fs->warnings.empty());
    }
    // ufs1-le: 2 groups of 128 inodes, 141 of them free; 7381 free
    // 8-fragment blocks and 3 free fragments; 5% of 65455 data fragments
    // kept for root.
    auto fs = ufs_plugin.open(*open_fixture("ufs1-le.img"), {});
    REQUIRE(fs);
    CHECK(fs->stat == StatVfs{1024, 1024, 65455, 7381 * 8 + 3, 7381 * 8 + 3 - 65455 * 5 / 100, 256, 141});
    // Same filesystem, other byte order.
    CHECK(ufs_plugin.open(*open_fixture("ufs1-be.img"), {})->stat == fs->stat);
}

TEST_CASE("ufs: which totals are read", "[ufs]") {
    SECTION("UFS2: the 64-bit fs_cstotal, whatever the old one says") {
        for (const Sb& sb : {kUfs2Le, kUfs2Be}) {
            auto base = open_fixture(sb.image);
            auto clean = ufs_plugin.open(*base, {});
            REQUIRE(clean);
            PatchedDevice old(base);
            put32(old, sb, kOldNbfree, 1);
            put32(old, sb, kOldNifree, 1);
            CHECK(ufs_plugin.open(old, {})->stat == clean->stat);
            PatchedDevice wide(base);
            put64(wide, sb, kNbfree, 10);
            put64(wide, sb, kNffree, 3);
            put64(wide, sb, kNifree, 7);
            auto patched = ufs_plugin.open(wide, {});
            REQUIRE(patched);
            CHECK(patched->stat.bfree == 10 * 8 + 3);
            CHECK(patched->stat.ffree == 7);
        }
    }
    SECTION("UFS1: the 64-bit totals while fs_maxbsize = fs_bsize, else the 32-bit ones") {
        auto base = open_fixture("ufs1-le.img");
        PatchedDevice dev(base);
        put64(dev, kUfs1Le, kNbfree, 100);
        put64(dev, kUfs1Le, kNffree, 0);
        put32(dev, kUfs1Le, kOldNbfree, 200);
        put32(dev, kUfs1Le, kOldNffree, 5);
        CHECK(ufs_plugin.open(dev, {})->stat.bfree == 100 * 8);
        put32(dev, kUfs1Le, kMaxbsize, 0);
        CHECK(ufs_plugin.open(dev, {})->stat.bfree == 200 * 8 + 5);
    }
}

TEST_CASE("ufs: the root reserve and the inode total as the kernel computes them", "[ufs]") {
    auto base = open_fixture("ufs1-le.img");
    SECTION("minfree 0: everything free is available") {
        PatchedDevice dev(base);
        put32(dev, kUfs1Le, kMinfree, 0);
        auto fs = ufs_plugin.open(dev, {});
        CHECK(fs->stat.bavail == fs->stat.bfree);
    }
    SECTION("a reserve larger than the free space: nothing available") {
        PatchedDevice dev(base);
        put32(dev, kUfs1Le, kMinfree, 99);
        CHECK(ufs_plugin.open(dev, {})->stat.bavail == 0);
        put32(dev, kUfs1Le, kMinfree, 0xFFFFFFFF);  // mul_u64_u32_div does not overflow
        CHECK(ufs_plugin.open(dev, {})->stat.bavail == 0);
    }
    SECTION("rounding down: 65455 * 13 / 100 = 8509.15") {
        PatchedDevice dev(base);
        put32(dev, kUfs1Le, kMinfree, 13);
        auto fs = ufs_plugin.open(dev, {});
        CHECK(fs->stat.bavail == fs->stat.bfree - 8509);
    }
    SECTION("s_ncg * s_ipg wraps at 32 bits") {
        PatchedDevice dev(base);
        put32(dev, kUfs1Le, kNcg, 0x10000);
        put32(dev, kUfs1Le, kIpg, 0x10000);
        CHECK(ufs_plugin.open(dev, {})->stat.files == 0);
    }
}

TEST_CASE("ufs: not UFS, or a superblock where Linux does not look, scores 0", "[ufs]") {
    PatchedDevice bad(open_fixture("ufs1-le.img"));
    put32(bad, kUfs1Le, kMagic, 0x12345678);
    CHECK(*ufs_plugin.probe(bad) == kNotMine);
    CHECK(open_error(bad).code == Errc::corrupt);
    // A UFS2 magic at 8192 (where this makefs writes UFS2 superblocks):
    // ufstype=ufs2 does not look there.
    PatchedDevice ufs2_at_8192(open_fixture("ufs1-le.img"));
    put32(ufs2_at_8192, kUfs1Le, kMagic, 0x19540119);
    CHECK(*ufs_plugin.probe(ufs2_at_8192) == kNotMine);
}

TEST_CASE("ufs: out-of-range superblock fields are corrupt, with their offset", "[ufs][corrupt]") {
    struct Case {
        const char* what;
        Sb sb;
        std::uint64_t field;
        std::uint32_t value;
        std::uint64_t reported;  // field offset in the superblock
    };
    const Case cases[] = {
        {"fragment size 3000", kUfs1Le, kFsize, 3000, kFsize},
        {"fragment size 256", kUfs1Be, kFsize, 256, kFsize},
        {"fragment size 8192", kUfs2Le, kFsize, 8192, kFsize},
        {"block size 2048", kUfs2Be, kBsize, 2048, kBsize},
        {"block size 12288", kUfs1Le, kBsize, 12288, kBsize},
        {"16 fragments per block", kUfs1Le, kBsize, 16384, kBsize},
        {"superblock size 100", kUfs1Le, kSbsize, 100, kSbsize},
        {"superblock size past 8 fragments", kUfs2Le, kSbsize, 16384, kSbsize},
        {"fragment shift 2", kUfs1Be, kFragshift, 2, kFragshift},
        {"frag 4", kUfs2Be, kFrag, 4, kFragshift},
        {"no cylinder groups", kUfs1Le, kNcg, 0, kNcg},
        {"more data than fragments", kUfs1Le, kDsize, 70000, kDsize},
        {"more free than data", kUfs2Le, kNbfree, 0, kNbfree},
        {"more free inodes than inodes", kUfs1Be, kNifree, 0, kNifree},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture(c.sb.image));
        if (c.field == kNbfree) put64(dev, c.sb, kNbfree, 1'000'000);
        else if (c.field == kNifree) put64(dev, c.sb, kNifree, 1'000'000);
        else put32(dev, c.sb, c.field, c.value);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == c.sb.at + c.reported);
    }
}

TEST_CASE("ufs: a filesystem larger than its device is truncated", "[ufs][corrupt]") {
    PatchedDevice ufs1(open_fixture("ufs1-le.img"));
    put32(ufs1, kUfs1Le, kSize, 65537);
    Error e = open_error(ufs1);
    CHECK(e.code == Errc::truncated);
    CHECK(e.offset == 8192 + kSize);
    PatchedDevice ufs2(open_fixture("ufs2-be.img"));
    put64(ufs2, kUfs2Be, kSize64, std::uint64_t{1} << 60);
    e = open_error(ufs2);
    CHECK(e.code == Errc::truncated);
    CHECK(e.offset == 65536 + kSize64);
}

TEST_CASE("ufs: 4.2BSD rotational tables and small fragments on big sectors are refused",
          "[ufs]") {
    PatchedDevice old(open_fixture("ufs1-be.img"));
    put32(old, kUfs1Be, kPostblformat, 0xFFFFFFFF);
    CHECK(open_error(old).code == Errc::unsupported);
    auto big_sectors = FileDevice::open(fixture_path("ufs1-le.img"), 4096);
    REQUIRE(big_sectors);
    CHECK(open_error(**big_sectors).code == Errc::unsupported);
}

TEST_CASE("ufs: an unclean filesystem is read, with a warning", "[ufs]") {
    PatchedDevice dev(open_fixture("ufs2-le.img"));
    dev.byte(65536 + kClean, 0);
    auto fs = ufs_plugin.open(dev, {});
    REQUIRE(fs);
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("not cleanly unmounted"));
}

TEST_CASE("ufs: the image cut short fails cleanly", "[ufs][corrupt]") {
    for (const Sb& sb : kAll) {
        auto base = open_fixture(sb.image);
        const std::uint64_t cuts[] = {0, sb.at, sb.at + 1000, sb.at + 4096, base->size() / 2,
                                      base->size() - 512};
        for (std::uint64_t size : cuts) {
            INFO(sb.image << " cut at " << size);
            PatchedDevice cut(base, size);
            const Error e = open_error(cut);
            // Cut before the superblock ends: no UFS found; after: too
            // small for the fragments the superblock counts.
            CHECK(e.code == (size >= sb.at + 1376 ? Errc::truncated : Errc::corrupt));
        }
    }
}

TEST_CASE("ufs: random bytes in the superblock give figures or an error, never a crash",
          "[ufs][corrupt]") {
    std::mt19937_64 rng(20261122);
    for (const Sb& sb : kAll) {
        auto base = open_fixture(sb.image);
        for (int round = 0; round < 300; ++round) {
            PatchedDevice dev(base);
            const int changes = 1 + static_cast<int>(rng() % 6);
            for (int i = 0; i < changes; ++i)
                dev.byte(sb.at + rng() % kMagic, static_cast<std::uint8_t>(rng()));
            (void)ufs_plugin.probe(dev);
            auto fs = ufs_plugin.open(dev, {});
            if (!fs) continue;
            // Whatever was read, the figures hang together.
            CHECK(fs->stat.bfree <= fs->stat.blocks);
            CHECK(fs->stat.bavail <= fs->stat.bfree);
            CHECK(fs->stat.blocks * fs->stat.frsize <= dev.size());
        }
    }
}
