// SPDX-License-Identifier: GPL-2.0-or-later
// XFS on real images (made by mkfs.xfs in data/fixtures.d/xfs.sh), and on
// the same images with fields set out of range, checksums broken, btrees
// looped and logs left dirty. Every figure of every mountable fixture is
// checked against the kernel in fixtures_test.cpp; this file covers what
// the kernel here cannot mount (v4, realtime) and what must fail.
#include <catch2/catch.hpp>

#include <array>
#include <random>

#include "core/crc32.hpp"
#include "plugins/filesystem/xfs.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

// xfs-default.img and xfs-agcount2.img: 4 KiB blocks, 512-byte sectors.
constexpr std::uint64_t kSect = 512;
constexpr std::uint64_t kAg1 = 65536ull * 4096;  // AG 1 of xfs-agcount2.img
constexpr std::uint64_t kAgf1 = kAg1 + kSect, kAgi1 = kAg1 + 2 * kSect;

void be(PatchedDevice& dev, std::uint64_t offset, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
        dev.byte(offset + static_cast<std::uint64_t>(i),
                 static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - i))));
}

std::uint64_t get_be(const Device& dev, std::uint64_t offset, int bytes) {
    std::vector<std::byte> raw(static_cast<std::size_t>(bytes));
    REQUIRE(dev.read(offset, raw));
    std::uint64_t v = 0;
    for (std::byte b : raw) v = v << 8 | std::to_integer<std::uint64_t>(b);
    return v;
}

/// Recomputes a v5 checksum (crc32c of `length` bytes at `at`, the field
/// at `crc_offset` taken as zero, stored inverted and little-endian), so
/// that the patched field, not the checksum, is what the plugin finds wrong.
void reseal(PatchedDevice& dev, std::uint64_t at, std::uint64_t length, std::uint64_t crc_offset) {
    std::vector<std::byte> bytes(static_cast<std::size_t>(length));
    REQUIRE(dev.read(at, bytes));
    for (std::size_t i = 0; i < 4; ++i) bytes[crc_offset + i] = std::byte{0};
    dev.le32(at + crc_offset, ~crc32c_raw(~0u, bytes));
}
void reseal_sb(PatchedDevice& dev) { reseal(dev, 0, kSect, 224); }

Error open_error(const Device& dev, bool read_write = false) {
    auto fs = xfs_plugin.open(dev, FilesystemContext{read_write, {}});
    REQUIRE_FALSE(fs);
    return fs.error();
}

Filesystem open_ok(const Device& dev, bool read_write = false) {
    auto fs = xfs_plugin.open(dev, FilesystemContext{read_write, {}});
    INFO((fs ? std::string() : fs.error().to_string()));
    REQUIRE(fs);
    return *fs;
}

}  // namespace

TEST_CASE("xfs: a clean filesystem is reported as type xfs, without warnings", "[xfs]") {
    for (const char* image : {"xfs-default.img", "xfs-1k.img", "xfs-64k.img", "xfs-frag.img"}) {
        INFO(image);
        const Filesystem fs = open_ok(*open_fixture(image));
        CHECK(fs.type == "xfs");
        CHECK(fs.warnings.empty());
    }
}

TEST_CASE("xfs: v4 and realtime filesystems, against xfs_db's fields", "[xfs]") {
    // This kernel has neither CONFIG_XFS_SUPPORT_V4 nor CONFIG_XFS_RT, so
    // these are checked against what mkfs.xfs wrote (xfs_db -r -c sb):
    // f_blocks = dblocks - logblocks; f_bfree = fdblocks - 8 per AG (a
    // clean v4 mount reads no AGF, so no allocbt blocks are held back);
    // f_files capped by maxicount = imax_pct of dblocks in inode chunks;
    // read-write also holds back min(dblocks / 20, 8192) blocks.
    struct Case {
        const char* image;
        std::uint64_t bsize, dblocks, logblocks, fdblocks, icount, ifree, inopblog, chunk_blocks;
        bool per_ag_resv;  // read-write: finobt/refcountbt reservations on top
    };
    const Case cases[] = {
        {"xfs-v4.img", 4096, 131072, 16384, 113053, 320, 204, 4, 4, false},
        {"xfs-v4-512.img", 512, 1048576, 131072, 904561, 320, 204, 1, 32, false},
        // v5 with a realtime device: the data device's figures are as
        // without one (sb_rblocks 65536 is not counted).
        {"xfs-rtdev.img", 4096, 131072, 16384, 113026, 320, 204, 3, 8, true},
    };
    for (const Case& c : cases) {
        INFO(c.image);
        auto dev = open_fixture(c.image);
        const std::uint64_t bfree = c.fdblocks - 4 * 8;
        const std::uint64_t maxicount = (c.dblocks * 25 / 100 / c.chunk_blocks * c.chunk_blocks)
                                        << c.inopblog;
        const std::uint64_t files = std::min(c.icount + (bfree << c.inopblog), maxicount);
        const Filesystem ro = open_ok(*dev);
        CHECK(ro.stat == StatVfs{c.bsize, c.bsize, c.dblocks - c.logblocks, bfree, bfree, files,
                                 files - (c.icount - c.ifree)});
        const Filesystem rw = open_ok(*dev, true);
        const std::uint64_t resblks = std::min<std::uint64_t>(c.dblocks / 20, 8192);
        if (c.per_ag_resv)
            CHECK(rw.stat.bfree < bfree - resblks);
        else
            CHECK(rw.stat.bfree == bfree - resblks);
    }
}

TEST_CASE("xfs: a bad magic scores 0", "[xfs]") {
    PatchedDevice dev(open_fixture("xfs-default.img"));
    CHECK(*xfs_plugin.probe(dev) == kCertain);
    dev.byte(3, 'C');
    CHECK(*xfs_plugin.probe(dev) == kNotMine);
}

TEST_CASE("xfs: out-of-range superblock fields are corrupt, with their offset", "[xfs][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        std::uint64_t value;
        int bytes;
        std::uint64_t reported_offset;
    };
    const Case cases[] = {
        {"sb_blocksize not a power of 2", 4, 3000, 4, 4},
        {"sb_blocklog past 64 KiB", 120, 17, 1, 4},
        {"sb_sectsize below 512", 102, 256, 2, 102},
        {"sb_versionnum 3", 100, 0xB4A3, 2, 100},
        {"sb_features2 without lazy counters", 200, 0x188, 4, 200},
        {"sb_agblocks under 16 MiB", 84, 100, 4, 84},
        {"sb_agcount not matching the size", 88, 5, 4, 88},
        {"sb_agcount 0", 88, 0, 4, 88},
        {"sb_agblklog", 124, 20, 1, 124},
        {"sb_inodesize", 104, 300, 2, 104},
        {"sb_inopblock", 106, 7, 2, 106},
        {"sb_inopblog", 123, 2, 1, 123},
        {"sb_imax_pct over 100", 127, 101, 1, 127},
        {"sb_logblocks 0", 96, 0, 4, 96},
        {"sb_logstart past its AG", 48, 65542 + 32760, 8, 48},
        {"sb_rextsize 0", 80, 0, 4, 80},
        {"sb_unit without the alignment feature", 184, 8, 4, 184},
        {"sb_shared_vn", 179, 1, 1, 179},
        {"sb_inprogress", 126, 1, 1, 126},
        {"sb_dirblklog", 192, 10, 1, 192},
        {"sb_dblocks leaving a runt AG", 8, 3 * 32768 + 10, 8, 8},
        {"needsrepair", 216, 0xB | 0x10, 4, 216},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("xfs-default.img"));
        be(dev, c.offset, c.value, c.bytes);
        reseal_sb(dev);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == c.reported_offset);
    }
}

TEST_CASE("xfs: unknown incompatible features are refused and named", "[xfs][corrupt]") {
    PatchedDevice dev(open_fixture("xfs-default.img"));
    be(dev, 216, 0xB | 0x80000000, 4);
    reseal_sb(dev);
    const Error e = open_error(dev);
    CHECK(e.code == Errc::unsupported);
    CHECK(e.offset == 216u);
    CHECK_THAT(e.message, Catch::Contains("0x80000000"));

    PatchedDevice zoned(open_fixture("xfs-default.img"));
    be(zoned, 216, 0xB | 0x200, 4);
    reseal_sb(zoned);
    CHECK_THAT(open_error(zoned).message, Catch::Contains("ftype,sparse,bigtime,zoned"));
}

TEST_CASE("xfs: unknown read-only features: a warning read-only, refused read-write",
          "[xfs][corrupt]") {
    PatchedDevice dev(open_fixture("xfs-default.img"));
    be(dev, 212, 0xD | 0x100, 4);
    reseal_sb(dev);
    const Filesystem ro = open_ok(dev);
    REQUIRE(ro.warnings.size() == 1);
    CHECK_THAT(ro.warnings[0], Catch::Contains("0x100"));
    CHECK(open_error(dev, true).code == Errc::unsupported);
}

TEST_CASE("xfs: a superblock whose CRC is wrong is refused, as the kernel does", "[xfs][corrupt]") {
    PatchedDevice dev(open_fixture("xfs-default.img"));
    dev.byte(108, 'X');  // sb_fname: harmless, but checksummed
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == 224u);
    CHECK_THAT(e.message, Catch::Contains("checksum"));
}

TEST_CASE("xfs: a data section larger than the device is truncated", "[xfs][corrupt]") {
    PatchedDevice dev(open_fixture("xfs-default.img"));
    // 5 AGs' worth: sb_agcount must follow for the geometry to hold.
    be(dev, 8, 5 * 32768, 8);
    be(dev, 88, 5, 4);
    reseal_sb(dev);
    CHECK(open_error(dev).code == Errc::truncated);
}

TEST_CASE("xfs: the image cut at every structure boundary fails cleanly", "[xfs][corrupt]") {
    auto base = open_fixture("xfs-agcount2.img");
    const std::uint64_t cuts[] = {0,           3,        100,      263,       264,
                                  511,         512,      1024,     1536,      4096,
                                  kAg1,        kAgf1,    kAgi1,    kAgi1 + 100, kAg1 + 4096,
                                  base->size() - 4096, base->size() - 1};
    for (std::uint64_t size : cuts) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        auto fs = xfs_plugin.open(cut, {});
        REQUIRE_FALSE(fs);
        CHECK(fs.error().code == Errc::truncated);
    }
}

TEST_CASE("xfs: damaged AG headers from the fixture script", "[xfs][corrupt]") {
    const Error agf = open_error(*open_fixture("xfs-bad-agf.img"));
    CHECK(agf.code == Errc::corrupt);
    CHECK(agf.offset == kAgf1);
    CHECK_THAT(agf.message, Catch::Contains("AGF 1"));
    const Error agi = open_error(*open_fixture("xfs-bad-agi-crc.img"));
    CHECK(agi.code == Errc::corrupt);
    CHECK(agi.offset == kAgi1 + 312);
    CHECK_THAT(agi.message, Catch::Contains("checksum"));
}

TEST_CASE("xfs: AGF and AGI fields out of range are corrupt, with their offset", "[xfs][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t header;  // kAgf1 or kAgi1
        std::uint64_t offset;
        std::uint64_t value;
        int bytes;
    };
    const Case cases[] = {
        {"agf_seqno", kAgf1, 8, 0, 4},
        {"agf_length over sb_agblocks", kAgf1, 12, 70000, 4},
        {"agf_length under 64 blocks", kAgf1, 12, 10, 4},
        {"agf_flcount past the AGFL", kAgf1, 48, 200, 4},
        {"agf_freeblks past the AG", kAgf1, 52, 70000, 4},
        {"agf_bno_level 0", kAgf1, 28, 0, 4},
        {"agf_cnt_level too deep", kAgf1, 32, 9, 4},
        {"agf_btreeblks past the AG", kAgf1, 60, 70000, 4},
        {"agf_refcount_level 0", kAgf1, 92, 0, 4},
        {"agf_uuid", kAgf1, 64, 0xFF, 1},
        {"agi_seqno", kAgi1, 8, 5, 4},
        {"agi_level 0", kAgi1, 24, 0, 4},
        {"agi_free_level too deep", kAgi1, 332, 12, 4},
        {"agi_freecount above agi_count", kAgi1, 28, 0x7FFFFFFF, 4},
        {"agi_count more than fit", kAgi1, 16, 0x7FFFFFFF, 4},
        {"agi_unlinked outside the AG", kAgi1, 40, 0x7FFFFFF0, 4},
        {"agi_fblocks past the AG", kAgi1, 340, 70000, 4},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("xfs-agcount2.img"));
        REQUIRE(xfs_plugin.open(dev, {}));
        be(dev, c.header + c.offset, c.value, c.bytes);
        reseal(dev, c.header, kSect, c.header == kAgf1 ? 216 : 312);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == c.header + c.offset);
    }
}

TEST_CASE("xfs: a looping or overfull finobt is corrupt, read-write only", "[xfs][corrupt]") {
    // xfs-frag.img: 1 KiB blocks, no inobtcount, so a read-write mount
    // walks AG 0's finobt: a root over two leaves.
    auto base = open_fixture("xfs-frag.img");
    constexpr std::uint64_t kBlock = 1024, kAgi0 = 2 * kSect;
    const std::uint64_t root = get_be(*base, kAgi0 + 328, 4) * kBlock;
    REQUIRE(get_be(*base, kAgi0 + 332, 4) == 2);  // agi_free_level
    REQUIRE(get_be(*base, root + 6, 2) >= 2);     // bb_numrecs
    // Pointers follow room for (1024 - 56) / 8 = 121 keys of 4 bytes.
    const std::uint64_t first_leaf = get_be(*base, root + 56 + 4 * 121, 4) * kBlock;
    const std::uint64_t second_leaf = get_be(*base, first_leaf + 12, 4) * kBlock;  // bb_rightsib

    SECTION("the second leaf's right sibling is the first: a cycle") {
        PatchedDevice dev(base);
        be(dev, second_leaf + 12, first_leaf / kBlock, 4);
        reseal(dev, second_leaf, kBlock, 52);
        CHECK(open_ok(dev).stat == open_ok(*base).stat);  // read-only: not walked
        const Error e = open_error(dev, true);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == first_leaf);
        CHECK_THAT(e.message, Catch::Contains("cycle"));
    }
    SECTION("the root claims more records than fit") {
        PatchedDevice dev(base);
        be(dev, root + 6, 122, 2);
        reseal(dev, root, kBlock, 52);
        const Error e = open_error(dev, true);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == root + 6);
    }
    SECTION("a leaf whose checksum is wrong") {
        PatchedDevice dev(base);
        dev.byte(second_leaf + 100, 0x5A);
        const Error e = open_error(dev, true);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == second_leaf + 52);
    }
    SECTION("a level that points back at the root") {
        PatchedDevice dev(base);
        be(dev, root + 56 + 4 * 121, root / kBlock, 4);
        reseal(dev, root, kBlock, 52);
        CHECK(open_error(dev, true).code == Errc::corrupt);
    }
}

TEST_CASE("xfs: a log that needs recovery is reported, figures from the AG headers",
          "[xfs]") {
    // xfs-dirty.img: 500 files created, the log forced, the filesystem shut
    // down. Its AG headers are still mkfs's: 4 AGs, 65504 free blocks,
    // 64 inodes (61 free). After replaying the log the kernel reports
    // f_bfree 60858 and 503 inodes in use (measured on 6.18); replay is
    // not implemented, hence the warning.
    const Filesystem fs = open_ok(*open_fixture("xfs-dirty.img"));
    REQUIRE(fs.warnings.size() == 1);
    CHECK_THAT(fs.warnings[0], Catch::Contains("the log needs recovery"));
    const std::uint64_t bfree = 65504 - 4 * 8;
    CHECK(fs.stat == StatVfs{4096, 4096, 81920 - 16384, bfree, bfree, 163840, 163840 - 3});
}

TEST_CASE("xfs: an unmount record turned into something else leaves the log dirty", "[xfs]") {
    // xfs-default.img's log starts at AG 2, block 6: a record header, then
    // the unmount record's operation header (flags at byte 9).
    PatchedDevice dev(open_fixture("xfs-default.img"));
    const std::uint64_t log = (2 * 32768 + 6) * 4096ull;
    REQUIRE(get_be(dev, log, 4) == 0xFEEDBABE);
    REQUIRE(get_be(dev, log + kSect + 9, 1) == 0x20);  // XLOG_UNMOUNT_TRANS
    dev.byte(log + kSect + 9, 0);
    const Filesystem fs = open_ok(dev);
    REQUIRE(fs.warnings.size() == 1);
    CHECK_THAT(fs.warnings[0], Catch::Contains("needs recovery"));

    // The record header's magic damaged: no record before the head, which
    // the kernel calls an inconsistent log and will not mount. (Zeroing it
    // instead would make an empty log, which the kernel takes as clean.)
    PatchedDevice torn(open_fixture("xfs-default.img"));
    torn.byte(log, 0x11);
    const Filesystem broken = open_ok(torn);
    REQUIRE(broken.warnings.size() == 1);
    CHECK_THAT(broken.warnings[0], Catch::Contains("log"));
}

TEST_CASE("xfs: an external log is looked for among the guest's devices", "[xfs]") {
    auto fs_dev = open_fixture("xfs-extlog.img");
    auto log_dev = open_fixture("xfs-extlog.log");
    const std::vector<NamedDevice> with_log{{"/dev/sda", fs_dev}, {"/dev/sdb", log_dev}};
    auto found = xfs_plugin.open(*fs_dev, FilesystemContext{false, with_log});
    REQUIRE(found);
    CHECK(found->warnings.empty());

    const std::vector<NamedDevice> alone{{"/dev/sda", fs_dev}};
    auto missing = xfs_plugin.open(*fs_dev, FilesystemContext{false, alone});
    REQUIRE(missing);
    REQUIRE(missing->warnings.size() == 1);
    CHECK_THAT(missing->warnings[0], Catch::Contains("external log"));
    CHECK(missing->stat == found->stat);

    auto dirty_log = std::make_shared<PatchedDevice>(log_dev);
    dirty_log->byte(kSect + 9, 0);  // its unmount record, as above
    const std::vector<NamedDevice> with_dirty{{"/dev/sda", fs_dev}, {"/dev/sdb", dirty_log}};
    auto dirty = xfs_plugin.open(*fs_dev, FilesystemContext{false, with_dirty});
    REQUIRE(dirty);
    REQUIRE(dirty->warnings.size() == 1);
    CHECK_THAT(dirty->warnings[0], Catch::Contains("needs recovery"));
}

TEST_CASE("xfs: random changes to resealed headers never crash or hang", "[xfs][corrupt][fuzz]") {
    // Random bytes in the superblock, AGF and AGI (checksums recomputed
    // mostly, so that the changes reach the field checks) and in the log's
    // first blocks, read both ways: every open ends in figures or an error.
    std::mt19937_64 rng(20261122);
    for (const char* image : {"xfs-agcount2.img", "xfs-frag.img"}) {
        auto base = open_fixture(image);
        const std::uint64_t block = get_be(*base, 4, 4), agblocks = get_be(*base, 84, 4);
        const std::uint64_t logstart = get_be(*base, 48, 8), agblklog = get_be(*base, 124, 1);
        const std::uint64_t log =
            ((logstart >> agblklog) * agblocks + (logstart & ((1ull << agblklog) - 1))) * block;
        const std::uint64_t ag1 = agblocks * block;
        struct Target {
            std::uint64_t at, length, crc;  // crc 0: none
        };
        const Target targets[] = {{0, kSect, 224},          {kSect, kSect, 216},
                                  {2 * kSect, kSect, 312},  {ag1 + kSect, kSect, 216},
                                  {ag1 + 2 * kSect, kSect, 312}, {log, 2 * kSect, 0}};
        for (int round = 0; round < 300; ++round) {
            PatchedDevice dev(base);
            const Target& t = targets[rng() % std::size(targets)];
            const int changes = 1 + static_cast<int>(rng() % 4);
            for (int i = 0; i < changes; ++i)
                dev.byte(t.at + rng() % t.length, static_cast<std::uint8_t>(rng()));
            if (t.crc != 0 && rng() % 8 != 0) reseal(dev, t.at, t.length, t.crc);
            for (bool rw : {false, true}) {
                auto fs = xfs_plugin.open(dev, FilesystemContext{rw, {}});
                if (fs) CHECK(fs->type == "xfs");
            }
        }
    }
}
