// SPDX-License-Identifier: GPL-2.0-or-later
// ISO 9660 on real images (xorriso, data/fixtures.d/iso9660.sh) against the
// figures the libguestfs appliance's kernel reported, and on the same
// images with descriptors damaged, both-endian halves disagreeing, or the
// image cut short.
#include <catch2/catch.hpp>

#include "core/scan.hpp"
#include "plugins/filesystem/iso9660.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kPvd = 16 * 2048;  // the primary volume descriptor

std::uint64_t read_le(const Device& dev, std::uint64_t offset, unsigned size) {
    std::vector<std::byte> raw(size);
    REQUIRE(dev.read(offset, raw));
    std::uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(raw[i])} << (8 * i);
    return v;
}

void be32(PatchedDevice& dev, std::uint64_t offset, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) dev.byte(offset + i, static_cast<std::uint8_t>(v >> (8 * (3 - i))));
}

Error open_error(const Device& dev) {
    auto fs = iso9660_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

StatVfs expected(const std::string& image) { return tool_record("iso9660.txt", image); }

}  // namespace

TEST_CASE("iso9660: figures equal the recorded ones (data/expected/iso9660.txt)", "[iso9660]") {
    const auto records = tool_records()["iso9660.txt"];
    REQUIRE(records.size() >= 3);
    for (const KernelRecord& r : records) {
        INFO(r.image << " " << r.device);
        std::vector<GuestDisk> disks{{r.image, open_fixture(r.image)}};
        const ScanReport report = scan_guest(disks, builtin_plugins());
        CHECK(report.warnings.empty());
        auto row = std::find_if(report.rows.begin(), report.rows.end(),
                                [&](const FilesystemRow& f) { return f.device == r.device; });
        REQUIRE(row != report.rows.end());
        CHECK(row->type == "iso9660");
        CHECK(row->stat == r.stat);
        // All used, nothing free, no inodes: what isofs_statfs says of a CD.
        CHECK(row->stat.bfree == 0);
        CHECK(row->stat.files == 0);
    }
}

TEST_CASE("iso9660: the volume space size and block size are the descriptor's", "[iso9660]") {
    auto dev = open_fixture("iso-rr-joliet.iso");
    auto fs = iso9660_plugin.open(*dev, {});
    REQUIRE(fs);
    CHECK(fs->stat == StatVfs{2048, 2048, read_le(*dev, kPvd + 80, 4), 0, 0, 0, 0});
    CHECK(fs->stat.blocks * 2048 == dev->size());
}

TEST_CASE("iso9660: a missing signature scores 0", "[iso9660]") {
    PatchedDevice dev(open_fixture("iso-plain.iso"));
    CHECK(*iso9660_plugin.probe(dev) == kCertain);
    dev.byte(kPvd + 1, 'X');
    CHECK(*iso9660_plugin.probe(dev) == kNotMine);
    PatchedDevice small(open_fixture("iso-plain.iso"), kPvd + 100);
    CHECK(*iso9660_plugin.probe(small) == kNotMine);
}

TEST_CASE("iso9660: both-endian halves that disagree: the little-endian one counts, as in Linux",
          "[iso9660][corrupt]") {
    const StatVfs clean = expected("iso-plain.iso");
    PatchedDevice dev(open_fixture("iso-plain.iso"));
    be32(dev, kPvd + 84, 12345);  // the big-endian half of the volume space size
    auto fs = iso9660_plugin.open(dev, {});
    REQUIRE(fs);
    CHECK(fs->stat == clean);
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("12345 big-endian"));

    PatchedDevice le(open_fixture("iso-plain.iso"));
    le.le32(kPvd + 80, 1000);
    fs = iso9660_plugin.open(le, {});
    REQUIRE(fs);
    CHECK(fs->stat.blocks == 1000);
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("1000 little-endian"));

    PatchedDevice size(open_fixture("iso-plain.iso"));
    size.byte(kPvd + 130, 0x04);  // big-endian block size 0x0400
    fs = iso9660_plugin.open(size, {});
    REQUIRE(fs);
    CHECK(fs->stat.bsize == 2048);
    CHECK_THAT(fs->warnings.at(0), Catch::Contains("logical block size is 2048 little-endian but 1024"));
}

TEST_CASE("iso9660: block sizes Linux does not mount are errors", "[iso9660][corrupt]") {
    PatchedDevice big(open_fixture("iso-plain.iso"));
    big.le16(kPvd + 128, 4096);
    Error e = open_error(big);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == kPvd + 128);

    PatchedDevice small(open_fixture("iso-plain.iso"));
    small.le16(kPvd + 128, 512);
    e = open_error(small);
    CHECK(e.code == Errc::unsupported);
    CHECK(e.offset == kPvd + 128);

    // On a disk of 4096-byte sectors isofs refuses 2048-byte blocks.
    auto sectors_4k = FileDevice::open(fixture_path("iso-plain.iso"), 4096);
    REQUIRE(sectors_4k);
    e = open_error(**sectors_4k);
    CHECK(e.code == Errc::unsupported);
}

TEST_CASE("iso9660: the descriptor scan follows Linux's", "[iso9660]") {
    // No primary descriptor before the terminator.
    PatchedDevice none(open_fixture("iso-plain.iso"));
    none.byte(kPvd, 3);  // a volume partition descriptor, skipped
    Error e = open_error(none);
    CHECK(e.code == Errc::corrupt);
    CHECK_THAT(e.message, Catch::Contains("no primary volume descriptor"));

    // A Joliet descriptor with no primary one before it is used instead.
    auto joliet = open_fixture("iso-rr-joliet.iso");
    REQUIRE(read_le(*joliet, kPvd + 2048, 1) == 2);  // the Joliet SVD follows the PVD
    PatchedDevice svd_first(joliet);
    svd_first.byte(kPvd, 0);  // the PVD becomes a boot record
    auto fs = iso9660_plugin.open(svd_first, {});
    REQUIRE(fs);
    CHECK(fs->stat == expected("iso-rr-joliet.iso"));

    // A supplementary descriptor of an unknown escape with no primary before.
    PatchedDevice unknown(joliet);
    unknown.byte(kPvd, 0).byte(kPvd + 2048 + 90, 0x41);
    e = open_error(unknown);
    CHECK(e.offset == kPvd + 2048 + 88);
}

TEST_CASE("iso9660: a bad root directory record is corrupt", "[iso9660][corrupt]") {
    PatchedDevice length(open_fixture("iso-plain.iso"));
    length.byte(kPvd + 156, 20);
    Error e = open_error(length);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == kPvd + 156);

    PatchedDevice outside(open_fixture("iso-plain.iso"));
    outside.le32(kPvd + 156 + 2, 0x00FFFFFF);
    e = open_error(outside);
    CHECK(e.code == Errc::truncated);

    PatchedDevice not_dir(open_fixture("iso-plain.iso"));
    const std::uint64_t root = read_le(not_dir, kPvd + 156 + 2, 4) * 2048;
    not_dir.byte(root + 25, 0);
    e = open_error(not_dir);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == root);
}

TEST_CASE("iso9660: the image cut short", "[iso9660][corrupt]") {
    auto base = open_fixture("iso-rr-joliet.iso");
    // Before the descriptors end: an error; after the root directory: the
    // figures, with a warning that the volume runs past the device.
    for (std::uint64_t size : {kPvd + 2048, kPvd + 2048 + 1000}) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        CHECK(open_error(cut).code == Errc::truncated);
    }
    PatchedDevice cut(base, base->size() - 2048 * 10);
    auto fs = iso9660_plugin.open(cut, {});
    REQUIRE(fs);
    CHECK(fs->stat == expected("iso-rr-joliet.iso"));
    REQUIRE(fs->warnings.size() == 1);
    CHECK_THAT(fs->warnings[0], Catch::Contains("past the end of the device"));
}

TEST_CASE("iso9660: a UDF bridge disc is left to UDF, as blkid and Linux treat it", "[iso9660]") {
    // iso-plain.iso's descriptors end at sector 17; a Volume Recognition
    // Sequence after them (as genisoimage -udf writes) makes it UDF.
    PatchedDevice dev(open_fixture("iso-plain.iso"));
    REQUIRE(read_le(dev, 17 * 2048, 1) == 255);
    const char* ids[] = {"BEA01", "NSR02", "TEA01"};
    for (std::uint64_t i = 0; i < 3; ++i) {
        const std::uint64_t at = (18 + i) * 2048;
        dev.byte(at, 0).byte(at + 6, 1);
        for (std::uint64_t k = 0; k < 5; ++k) dev.byte(at + 1 + k, static_cast<std::uint8_t>(ids[i][k]));
    }
    const Error e = open_error(dev);
    CHECK(e.code == Errc::unsupported);
    CHECK_THAT(e.message, Catch::Contains("UDF"));
}
