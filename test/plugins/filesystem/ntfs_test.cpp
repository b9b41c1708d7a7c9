// SPDX-License-Identifier: GPL-2.0-or-later
// NTFS on real images (made by mkntfs and ntfscp in data/fixtures.d/ntfs.sh),
// and on the same images with fields set out of range or cut short.
#include <catch2/catch.hpp>

#include <cstring>

#include "plugins/filesystem/ntfs.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

std::uint64_t read_le(const Device& dev, std::uint64_t offset, unsigned size) {
    std::vector<std::byte> raw(size);
    REQUIRE(dev.read(offset, raw));
    std::uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(raw[i])} << (8 * i);
    return v;
}

/// ntfs-default.img: 4 KiB clusters, 1 KiB MFT records, $MFT contiguous.
constexpr std::uint64_t kCluster = 4096, kRecord = 1024;

std::uint64_t record_offset(const Device& dev, std::uint64_t number) {
    return read_le(dev, 0x30, 8) * kCluster + number * kRecord;
}

/// The byte offset of the first unnamed attribute of `type` in the record
/// at `record` (fixups do not touch the headers looked at here).
std::uint64_t attribute_offset(const Device& dev, std::uint64_t record, std::uint32_t type) {
    std::uint64_t pos = record + read_le(dev, record + 0x14, 2);
    for (int i = 0; i < 32; ++i) {
        const std::uint64_t t = read_le(dev, pos, 4);
        REQUIRE(t != 0xFFFFFFFF);
        if (t == type && read_le(dev, pos + 9, 1) == 0) return pos;
        pos += read_le(dev, pos + 4, 4);
    }
    FAIL("attribute not found");
    return 0;
}

Error open_error(const Device& dev) {
    auto fs = ntfs_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

void patch_bytes(PatchedDevice& dev, std::uint64_t offset, const char* bytes) {
    for (std::size_t i = 0; bytes[i] != 0; ++i) dev.byte(offset + i, static_cast<std::uint8_t>(bytes[i]));
}

}  // namespace

TEST_CASE("ntfs: figures equal ntfs-3g's", "[ntfs]") {
    // data/expected/ntfs.txt (recorded with ntfs-3g -o ro); the fixtures
    // test checks every image, this one the formula's parts directly.
    auto fs = ntfs_plugin.open(*open_fixture("ntfs-default.img"), {});
    REQUIRE(fs);
    CHECK(fs->type == "ntfs");
    CHECK(fs->listed);
    CHECK(fs->warnings.empty());
    CHECK(fs->stat == StatVfs{4096, 4096, 16383, 14157, 14157, 89396, 89372});
    auto big = ntfs_plugin.open(*open_fixture("ntfs-2mc.img"), {});
    REQUIRE(big);
    CHECK(big->stat == StatVfs{2097152, 2097152, 255, 240, 240, 16900096, 16900072});
}

TEST_CASE("ntfs: a bad OEM id scores 0", "[ntfs]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    CHECK(*ntfs_plugin.probe(dev) == kCertain);
    dev.byte(3, 'X');
    CHECK(*ntfs_plugin.probe(dev) == kNotMine);
}

TEST_CASE("ntfs: out-of-range boot sector fields are corrupt, with their offset", "[ntfs][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        unsigned size;
        std::uint64_t value;
    };
    const Case cases[] = {
        {"bytes per sector not a power of 2", 0x0B, 2, 300},
        {"bytes per sector too large", 0x0B, 2, 8192},
        {"sectors per cluster not a power of 2", 0x0D, 1, 3},
        {"cluster larger than 2 MiB (negative shift)", 0x0D, 1, 0xF0},
        {"reserved sectors", 0x0E, 2, 1},
        {"number of FATs", 0x10, 1, 2},
        {"32-bit sector count", 0x20, 4, 1000},
        {"number of sectors 0", 0x28, 8, 0},
        {"$MFT past the volume", 0x30, 8, 0x100000},
        {"$MFT at cluster 0", 0x30, 8, 0},
        {"$MFTMirr past the volume", 0x38, 8, 0x100000},
        {"clusters per MFT record 3", 0x40, 1, 3},
        {"MFT record of 128 bytes", 0x40, 1, 0xF9},
        {"clusters per index record 0", 0x44, 1, 0},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("ntfs-default.img"));
        for (unsigned i = 0; i < c.size; ++i) dev.byte(c.offset + i, static_cast<std::uint8_t>(c.value >> (8 * i)));
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == c.offset);
    }
}

TEST_CASE("ntfs: the negative-shift cluster encoding is decoded", "[ntfs]") {
    // ntfs-2mc.img: 4096-byte sectors, 512 per cluster, which mkntfs
    // writes as 0xF7 (2^(256-247) = 512).
    auto dev = open_fixture("ntfs-2mc.img");
    CHECK(read_le(*dev, 0x0D, 1) == 0xF7);
    CHECK(ntfs_plugin.open(*dev, {})->stat.bsize == 2 * 1024 * 1024);
}

TEST_CASE("ntfs: more sectors than the device holds is truncated", "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    dev.le32(0x28, 0x7FFFFFFF);
    const Error e = open_error(dev);
    CHECK(e.code == Errc::truncated);
    CHECK(e.offset == 0x28);
}

TEST_CASE("ntfs: the image cut short fails cleanly", "[ntfs][corrupt]") {
    auto base = open_fixture("ntfs-default.img");
    const std::uint64_t cuts[] = {0, 100, 511, 4096, 1 << 20, base->size() / 2, base->size() - 4096};
    for (std::uint64_t size : cuts) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        auto fs = ntfs_plugin.open(cut, {});
        REQUIRE_FALSE(fs);
        CHECK(fs.error().code == Errc::truncated);
    }
}

TEST_CASE("ntfs: a bad update sequence (fixup) in an MFT record is corrupt", "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    const std::uint64_t rec0 = record_offset(dev, 0);
    dev.byte(rec0 + 510, static_cast<std::uint8_t>(read_le(dev, rec0 + 510, 1) ^ 0xFF));
    Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == rec0 + 510);
    CHECK_THAT(e.message, Catch::Contains("update sequence"));

    PatchedDevice rec6(open_fixture("ntfs-default.img"));
    const std::uint64_t r6 = record_offset(rec6, 6);
    rec6.byte(r6 + 1022, static_cast<std::uint8_t>(read_le(rec6, r6 + 1022, 1) ^ 0xFF));
    e = open_error(rec6);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == r6 + 1022);
}

TEST_CASE("ntfs: a missing FILE signature is corrupt", "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    patch_bytes(dev, record_offset(dev, 0), "BAAD");
    CHECK(open_error(dev).code == Errc::corrupt);
}

TEST_CASE("ntfs: an attribute length out of the record's bounds is corrupt", "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    const std::uint64_t rec0 = record_offset(dev, 0);
    const std::uint64_t first = rec0 + read_le(dev, rec0 + 0x14, 2);
    dev.le32(first + 4, 0xFFF0);
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == first + 4);
}

TEST_CASE("ntfs: a runlist pointing outside the volume is corrupt", "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    const std::uint64_t data = attribute_offset(dev, record_offset(dev, 0), 0x80);
    const std::uint64_t pairs = data + read_le(dev, data + 32, 2);
    const std::uint64_t header = read_le(dev, pairs, 1);
    const unsigned len_size = header & 0xF, off_size = static_cast<unsigned>(header >> 4);
    REQUIRE(off_size >= 1);
    // The first run rewritten with a 4-byte LCN of 0x40000004, then the
    // end of the runlist (the attribute's padding has room for it).
    REQUIRE(pairs + 1 + len_size + 5 <= data + read_le(dev, data + 4, 4));
    dev.byte(pairs, static_cast<std::uint8_t>(0x40 | len_size));
    const std::uint8_t lcn[] = {0x04, 0x00, 0x00, 0x40, 0x00};
    for (unsigned i = 0; i < 5; ++i) dev.byte(pairs + 1 + len_size + i, lcn[i]);
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == pairs);
    CHECK_THAT(e.message, Catch::Contains("outside the volume"));

    // A negative LCN (delta below cluster 0).
    PatchedDevice neg(open_fixture("ntfs-default.img"));
    neg.byte(pairs + 1 + len_size + off_size - 1, 0x80);  // first run: LCN below 0
    CHECK(open_error(neg).offset == pairs);
}

TEST_CASE("ntfs: a runlist that does not advance or overruns its VCNs is corrupt",
          "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    const std::uint64_t data = attribute_offset(dev, record_offset(dev, 0), 0x80);
    const std::uint64_t pairs = data + read_le(dev, data + 32, 2);
    const unsigned len_size = read_le(dev, pairs, 1) & 0xF;
    for (unsigned i = 0; i < len_size; ++i) dev.byte(pairs + 1 + i, 0);  // a run of 0 clusters
    Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == pairs);

    // highest_vcn smaller than the runs: they run past the attribute.
    PatchedDevice over(open_fixture("ntfs-default.img"));
    over.le32(data + 24, 0);
    over.le32(data + 28, 0);
    e = open_error(over);
    CHECK(e.code == Errc::corrupt);

    // $Bitmap's lowest_vcn not 0: not where a runlist starts.
    PatchedDevice low(open_fixture("ntfs-default.img"));
    const std::uint64_t bitmap = attribute_offset(low, record_offset(low, 6), 0x80);
    low.le32(bitmap + 16, 5);
    e = open_error(low);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == bitmap + 16);
}

TEST_CASE("ntfs: BitLocker is recognised and not listed", "[ntfs]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    patch_bytes(dev, 3, "-FVE-FS-");
    CHECK(*ntfs_plugin.probe(dev) == kCertain);
    auto fs = ntfs_plugin.open(dev, {});
    REQUIRE(fs);
    CHECK_FALSE(fs->listed);
    REQUIRE(fs->warnings.size() == 1);
    CHECK(fs->warnings[0] == "BitLocker-encrypted volume: no figures");
}

TEST_CASE("ntfs: a dirty volume is reported, figures still given", "[ntfs]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    auto clean = ntfs_plugin.open(dev, {});
    REQUIRE(clean);
    const std::uint64_t info = attribute_offset(dev, record_offset(dev, 3), 0x70);
    const std::uint64_t value = info + read_le(dev, info + 20, 2);
    dev.byte(value + 10, static_cast<std::uint8_t>(read_le(dev, value + 10, 1) | 1));
    auto dirty = ntfs_plugin.open(dev, {});
    REQUIRE(dirty);
    REQUIRE(dirty->warnings.size() == 1);
    CHECK_THAT(dirty->warnings[0], Catch::Contains("dirty"));
    CHECK(dirty->stat == clean->stat);
}
