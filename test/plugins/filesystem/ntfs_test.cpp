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

TEST_CASE("ntfs: a BitLocker boot sector is not NTFS's (the bitlocker plugin's)", "[ntfs]") {
    PatchedDevice dev(open_fixture("ntfs-default.img"));
    patch_bytes(dev, 3, "-FVE-FS-");
    CHECK(*ntfs_plugin.probe(dev) == kNotMine);
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

namespace {

/// The first cluster of the first run of the unnamed attribute `type` of
/// MFT record `number` of ntfs-default.img.
std::uint64_t first_lcn(const Device& dev, std::uint64_t number, std::uint32_t type) {
    const std::uint64_t attr = attribute_offset(dev, record_offset(dev, number), type);
    const std::uint64_t pairs = attr + read_le(dev, attr + 32, 2);
    const std::uint64_t header = read_le(dev, pairs, 1);
    const unsigned len_size = header & 0xF, off_size = static_cast<unsigned>(header >> 4);
    return read_le(dev, pairs + 1 + len_size, off_size);
}

/// Writes a restart page at `at`: version major.minor, its restart area's
/// current LSN, clients in use and flags.
void restart_page(PatchedDevice& dev, std::uint64_t at, int major, int minor, std::uint64_t lsn,
                  std::uint16_t clients, std::uint16_t flags) {
    // A restart page is zeros past its restart area (not the 0xFF of an
    // empty log, which would end ntfs-3g's search for the second page).
    for (std::uint64_t i = 0x40; i < 4096; ++i) dev.byte(at + i, 0);
    patch_bytes(dev, at, "RSTR");
    dev.le16(at + 4, 0x1E).le16(at + 6, 9).le32(at + 16, 4096).le32(at + 20, 4096).le16(at + 24, 0x30);
    dev.le16(at + 26, static_cast<std::uint16_t>(minor)).le16(at + 28, static_cast<std::uint16_t>(major));
    dev.le32(at + 0x30, static_cast<std::uint32_t>(lsn)).le32(at + 0x34, static_cast<std::uint32_t>(lsn >> 32));
    dev.le16(at + 0x38, 1).le16(at + 0x3A, 0xFFFF).le16(at + 0x3C, clients).le16(at + 0x3E, flags);
}

StatVfs recorded(const std::string& image) {
    for (const KernelRecord& r : kernel_records())
        if (r.image == image) return r.stat;
    FAIL("no record for " << image);
    return {};
}

}  // namespace

TEST_CASE("ntfs: an unclean $LogFile is reported, figures still given", "[ntfs]") {
    auto base = open_fixture("ntfs-default.img");
    const std::uint64_t log = first_lcn(*base, 2, 0x80) * kCluster;
    const StatVfs clean = recorded("ntfs-default.img");
    struct Case {
        const char* what;
        int major, minor;
        std::uint16_t clients, flags;
        const char* warning;  // nullptr: none
    };
    const Case cases[] = {
        {"clients in use, not clean", 1, 1, 0, 0, "did not shut down cleanly"},
        {"clean flag", 1, 1, 0, 0x2, nullptr},
        {"no clients", 1, 1, 0xFFFF, 0, nullptr},
        {"version 2.0: metadata cached", 2, 0, 0xFFFF, 0x2, "metadata cached"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(base);
        restart_page(dev, log, c.major, c.minor, 100, c.clients, c.flags);
        auto fs = ntfs_plugin.open(dev, {});
        REQUIRE(fs);
        CHECK(fs->stat == clean);
        if (!c.warning) {
            CHECK(fs->warnings.empty());
        } else {
            REQUIRE(fs->warnings.size() == 1);
            CHECK_THAT(fs->warnings[0], Catch::Contains(c.warning));
        }
    }
    // Of two restart pages the one with the later LSN counts.
    PatchedDevice newer(base);
    restart_page(newer, log, 1, 1, 100, 0, 0);
    restart_page(newer, log + 4096, 1, 1, 200, 0xFFFF, 0x2);
    CHECK(ntfs_plugin.open(newer, {})->warnings.empty());
    PatchedDevice older(base);
    restart_page(older, log, 1, 1, 100, 0, 0);
    restart_page(older, log + 4096, 1, 1, 50, 0xFFFF, 0x2);
    CHECK(ntfs_plugin.open(older, {})->warnings.size() == 1);
    // Not empty, but no valid restart page.
    PatchedDevice garbage(base);
    patch_bytes(garbage, log, "RSTR");
    garbage.le32(log + 16, 1000);
    auto fs = ntfs_plugin.open(garbage, {});
    REQUIRE(fs);
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("nor has a valid restart page"));
}

TEST_CASE("ntfs: a volume Windows left hibernated is reported, figures as ntfs-3g's", "[ntfs]") {
    // data/fixtures.d/ntfs.sh: /hiberfil.sys beginning "hibr".
    auto dev = open_fixture("ntfs-hibernated.img");
    auto fs = ntfs_plugin.open(*dev, {});
    REQUIRE(fs);
    CHECK(fs->stat == recorded("ntfs-hibernated.img"));
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::StartsWith("hibernated: Windows was hibernated"));
}

TEST_CASE("ntfs: hiberfil.sys: \"HIBR\" and a short file count, anything else not", "[ntfs]") {
    auto base = open_fixture("ntfs-hibernated.img");
    // Find the header: the only cluster of the volume that begins "hibr".
    std::uint64_t header = 0;
    std::vector<std::byte> cluster(4);
    for (std::uint64_t at = 0; at < base->size() && !header; at += kCluster) {
        REQUIRE(base->read(at, cluster));
        if (std::memcmp(cluster.data(), "hibr", 4) == 0) header = at;
    }
    REQUIRE(header != 0);
    PatchedDevice upper(base);
    patch_bytes(upper, header, "HIBR");
    CHECK(ntfs_plugin.open(upper, {})->warnings.size() == 1);
    PatchedDevice wake(base);
    patch_bytes(wake, header, "wake");
    CHECK(ntfs_plugin.open(wake, {})->warnings.empty());
}

TEST_CASE("ntfs: a damaged root index is a warning, not an error", "[ntfs][corrupt]") {
    PatchedDevice dev(open_fixture("ntfs-hibernated.img"));
    // $INDEX_ROOT is named ($I30): found by type alone.
    std::uint64_t root = record_offset(dev, 5) + read_le(dev, record_offset(dev, 5) + 0x14, 2);
    while (read_le(dev, root, 4) != 0x90) {
        REQUIRE(read_le(dev, root, 4) != 0xFFFFFFFF);
        root += read_le(dev, root + 4, 4);
    }
    const std::uint64_t value = root + read_le(dev, root + 20, 2);
    dev.le32(value + 16 + 4, 0xFFFF);  // index_length past the value
    auto fs = ntfs_plugin.open(dev, {});
    REQUIRE(fs);
    CHECK(fs->stat == recorded("ntfs-hibernated.img"));
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("could not tell whether Windows is hibernated"));
}

TEST_CASE("ntfs: a fragmented $MFT continued through an attribute list", "[ntfs]") {
    // data/ntfs-frag.img.xz: $MFT in hundreds of runs, more than record 0
    // holds, so ntfs-3g moved them to extension records.
    auto dev = open_fixture("ntfs-frag.img");
    const std::uint64_t rec0 = read_le(*dev, 0x30, 8) * kCluster;
    CHECK(attribute_offset(*dev, rec0, 0x20) > rec0);  // $ATTRIBUTE_LIST
    auto fs = ntfs_plugin.open(*dev, {});
    REQUIRE(fs);
    CHECK(fs->warnings.empty());
    CHECK(fs->stat == recorded("ntfs-frag.img"));
}
