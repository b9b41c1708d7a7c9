// SPDX-License-Identifier: GPL-2.0-or-later
// F2FS on real images (mkfs.f2fs and sload.f2fs, data/fixtures.d/f2fs.sh),
// against the figures the libguestfs appliance's kernel reported, and on
// the same images with fields set out of range, checksums broken or the
// image cut short.
#include <catch2/catch.hpp>

#include <array>

#include "plugins/filesystem/f2fs.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr std::uint64_t kSb1 = 1024, kSb2 = kBlock + 1024;  // the two superblock copies

std::uint64_t read_le(const Device& dev, std::uint64_t offset, unsigned size) {
    std::vector<std::byte> raw(size);
    REQUIRE(dev.read(offset, raw));
    std::uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(raw[i])} << (8 * i);
    return v;
}

void put_le(PatchedDevice& dev, std::uint64_t offset, std::uint64_t v, unsigned size) {
    for (unsigned i = 0; i < size; ++i) dev.byte(offset + i, static_cast<std::uint8_t>(v >> (8 * i)));
}

/// f2fs_crc32, written out again so that the tests do not trust the plugin's.
std::uint32_t crc(std::uint32_t c, std::span<const std::byte> data) {
    for (std::byte b : data) {
        c ^= std::to_integer<std::uint32_t>(b);
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c;
}

/// Recomputes the checksum of the checkpoint block at `at` after patches.
void fix_cp_checksum(PatchedDevice& dev, std::uint64_t at) {
    std::vector<std::byte> block(kBlock);
    REQUIRE(dev.read(at, block));
    const std::uint64_t off = read_le(dev, at + 164, 4);
    REQUIRE(off == kBlock - 4);
    dev.le32(at + off, crc(0xF2F52010, std::span(block).first(off)));
}

/// The first block of checkpoint pack 0 or 1, and its last block.
struct Pack {
    std::uint64_t head, tail;
};
Pack pack(const Device& dev, int index) {
    const std::uint64_t cp = read_le(dev, kSb1 + 76, 4) + static_cast<std::uint64_t>(index) * 512;
    const std::uint64_t blocks = read_le(dev, cp * kBlock + 136, 4);
    return {cp * kBlock, (cp + blocks - 1) * kBlock};
}

/// Sets a checkpoint field in both blocks of a pack, checksums fixed.
void patch_pack(PatchedDevice& dev, int index, std::uint64_t field, std::uint64_t value, unsigned size) {
    const Pack p = pack(dev, index);
    for (std::uint64_t at : {p.head, p.tail}) {
        put_le(dev, at + field, value, size);
        fix_cp_checksum(dev, at);
    }
}

Error open_error(const Device& dev) {
    auto fs = f2fs_plugin.open(dev, {});
    REQUIRE_FALSE(fs);
    return fs.error();
}

StatVfs expected(const std::string& image) { return tool_record("f2fs.txt", image); }

}  // namespace

TEST_CASE("f2fs: figures equal the recorded ones (data/expected/f2fs.txt)", "[f2fs]") {
    const auto records = tool_records()["f2fs.txt"];
    REQUIRE(records.size() >= 4);
    for (const KernelRecord& r : records) {
        INFO(r.image);
        auto fs = f2fs_plugin.open(*open_fixture(r.image), {});
        REQUIRE(fs);
        CHECK(fs->type == "f2fs");
        CHECK(fs->listed);
        CHECK(fs->warnings.empty());
        CHECK(fs->stat == r.stat);
    }
}

TEST_CASE("f2fs: the formula's parts, on a fresh 64 MiB volume", "[f2fs]") {
    // 16384 blocks from segment 0 at block 512; 4096 user blocks, 80 of
    // them used; 232957 node IDs, more than user blocks, so the inode
    // figures are the block figures.
    auto fs = f2fs_plugin.open(*open_fixture("f2fs-64m.img"), {});
    REQUIRE(fs);
    auto dev = open_fixture("f2fs-64m.img");
    const std::uint64_t user = read_le(*dev, pack(*dev, 0).head + 8, 8);
    const std::uint64_t valid = read_le(*dev, pack(*dev, 0).head + 16, 8);
    CHECK(fs->stat.blocks == 16384 - 512);
    CHECK(fs->stat.bfree == user - valid);
    CHECK(fs->stat.files == user);
    CHECK(fs->stat.ffree == fs->stat.bavail);
}

TEST_CASE("f2fs: a bad magic in both superblocks scores 0", "[f2fs]") {
    PatchedDevice dev(open_fixture("f2fs-128m.img"));
    CHECK(*f2fs_plugin.probe(dev) == kCertain);
    dev.byte(kSb1, 0);
    CHECK(*f2fs_plugin.probe(dev) == kCertain);  // the second copy
    dev.byte(kSb2, 0);
    CHECK(*f2fs_plugin.probe(dev) == kNotMine);
}

TEST_CASE("f2fs: a bad first superblock falls back to the second, as the kernel does", "[f2fs]") {
    PatchedDevice dev(open_fixture("f2fs-128m.img"));
    dev.le32(kSb1 + 20, 10);  // log_blocks_per_seg
    auto fs = f2fs_plugin.open(dev, {});
    REQUIRE(fs);
    CHECK(fs->stat == expected("f2fs-128m.img"));
}

TEST_CASE("f2fs: out-of-range superblock fields are errors, with their offset", "[f2fs][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        unsigned size;
        std::uint64_t value;
        Errc code;
        std::uint64_t reported;  // the field the error names
    };
    const Case cases[] = {
        {"magic", 0, 4, 0xF2F52011, Errc::corrupt, 0},
        {"block size 8 KiB", 16, 4, 13, Errc::unsupported, 16},
        {"1024 blocks per segment", 20, 4, 10, Errc::corrupt, 20},
        {"sector size 2^8", 8, 4, 8, Errc::corrupt, 8},
        {"sectors per block", 12, 4, 2, Errc::corrupt, 12},
        {"segment count below the minimum", 48, 4, 8, Errc::corrupt, 48},
        {"no sections", 44, 4, 0, Errc::corrupt, 44},
        {"fewer main segments than sections", 68, 4, 7, Errc::corrupt, 44},
        {"segments beyond the block count", 36, 8, 0x1000, Errc::corrupt, 48},
        {"no sections per zone", 28, 4, 0, Errc::corrupt, 28},
        {"too many extensions", 1148, 4, 65, Errc::corrupt, 1148},
        {"checkpoint payload too large", 1664, 4, 504, Errc::corrupt, 1664},
        {"root inode", 96, 4, 4, Errc::corrupt, 96},
        {"SIT not after the checkpoint", 80, 4, 1537, Errc::corrupt, 80},
        {"main area not after the SSA", 92, 4, 0x20000, Errc::corrupt, 92},
        {"block count past the device", 36, 8, 0x100000, Errc::truncated, 36},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("f2fs-128m.img"));
        for (std::uint64_t sb : {kSb1, kSb2}) put_le(dev, sb + c.offset, c.value, c.size);
        const Error e = open_error(dev);
        CHECK(e.code == c.code);
        CHECK(e.offset == kSb1 + c.reported);
    }
}

TEST_CASE("f2fs: a superblock checksum mismatch (sb_checksum) is corrupt", "[f2fs][corrupt]") {
    PatchedDevice dev(open_fixture("f2fs-features.img"));
    REQUIRE(read_le(dev, kSb1 + 32, 4) == 3068);  // checksum_offset: the crc field
    dev.byte(kSb1 + 124, 'X');                      // the volume name
    auto fs = f2fs_plugin.open(dev, {});
    REQUIRE(fs);  // the second copy is intact
    CHECK(fs->stat == expected("f2fs-features.img"));
    dev.byte(kSb2 + 124, 'X');
    const Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == kSb1 + 3068);
    CHECK_THAT(e.message, Catch::Contains("checksum"));

    PatchedDevice offset(open_fixture("f2fs-features.img"));
    for (std::uint64_t sb : {kSb1, kSb2}) offset.le32(sb + 32, 3064);
    CHECK(open_error(offset).offset == kSb1 + 32);
}

TEST_CASE("f2fs: multi-device and zoned volumes are unsupported", "[f2fs]") {
    PatchedDevice multi(open_fixture("f2fs-128m.img"));
    for (std::uint64_t sb : {kSb1, kSb2}) multi.byte(sb + 2201, '/');
    CHECK(open_error(multi).code == Errc::unsupported);
    PatchedDevice zoned(open_fixture("f2fs-128m.img"));
    for (std::uint64_t sb : {kSb1, kSb2}) zoned.byte(sb + 2180, 0x02);
    CHECK(open_error(zoned).code == Errc::unsupported);
}

TEST_CASE("f2fs: of two valid checkpoint packs the newer one counts", "[f2fs]") {
    PatchedDevice dev(open_fixture("f2fs-128m.img"));
    const StatVfs before = expected("f2fs-128m.img");
    const std::uint64_t version = read_le(dev, pack(dev, 0).head, 8);
    const std::uint64_t user = read_le(dev, pack(dev, 1).head + 8, 8);
    const std::uint64_t valid = read_le(dev, pack(dev, 1).head + 16, 8);
    patch_pack(dev, 1, 16, valid + 100, 8);
    // Same version: the first pack wins ("ver_after" is strict).
    auto same = f2fs_plugin.open(dev, {});
    REQUIRE(same);
    CHECK(same->stat == before);
    patch_pack(dev, 1, 0, version + 1, 8);
    auto newer = f2fs_plugin.open(dev, {});
    REQUIRE(newer);
    CHECK(newer->stat.bfree == user - valid - 100);
    // A version that wrapped around is older, not newer.
    patch_pack(dev, 1, 0, version - 1, 8);
    CHECK(f2fs_plugin.open(dev, {})->stat == before);
}

TEST_CASE("f2fs: a checkpoint with a bad checksum or torn pack is skipped", "[f2fs][corrupt]") {
    PatchedDevice dev(open_fixture("f2fs-128m.img"));
    const Pack first = pack(dev, 0), second = pack(dev, 1);
    dev.byte(first.head + 16, 0xFF);  // valid_block_count, checksum now stale
    auto fs = f2fs_plugin.open(dev, {});
    REQUIRE(fs);
    // The second pack's counts (sload.f2fs left mkfs.f2fs's checkpoint there).
    CHECK(fs->stat.blocks == expected("f2fs-128m.img").blocks);
    CHECK(fs->stat.bfree == read_le(dev, second.head + 8, 8) - read_le(dev, second.head + 16, 8));
    // The second pack torn: its last block of another version.
    put_le(dev, second.tail, read_le(dev, second.tail, 8) + 1, 8);
    fix_cp_checksum(dev, second.tail);
    Error e = open_error(dev);
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == first.head + 4092);
    CHECK_THAT(e.message, Catch::Contains("checksum"));

    PatchedDevice bad_offset(open_fixture("f2fs-128m.img"));
    for (int i = 0; i < 2; ++i) bad_offset.le32(pack(bad_offset, i).head + 164, 100);
    CHECK(open_error(bad_offset).offset == first.head + 164);

    PatchedDevice bad_count(open_fixture("f2fs-128m.img"));
    for (int i = 0; i < 2; ++i) {
        bad_count.le32(pack(bad_count, i).head + 136, 513);
        fix_cp_checksum(bad_count, pack(bad_count, i).head);
    }
    CHECK(open_error(bad_count).offset == first.head + 136);
}

TEST_CASE("f2fs: out-of-range checkpoint counters are corrupt", "[f2fs][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t field;
        unsigned size;
        std::uint64_t value;
    };
    const Case cases[] = {
        {"no user blocks", 8, 8, 0},
        {"user blocks beyond the main area", 8, 8, 1u << 30},
        {"more valid blocks than user blocks", 16, 8, 1u << 30},
        {"more valid nodes than node IDs", 144, 4, 0xFFFFFFF0},
        {"no reserved segments", 24, 4, 0},
        {"no overprovision segments", 28, 4, 0},
        {"CP_ERROR_FLAG", 132, 4, 0x89},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        PatchedDevice dev(open_fixture("f2fs-128m.img"));
        for (int i = 0; i < 2; ++i) patch_pack(dev, i, c.field, c.value, c.size);
        const Error e = open_error(dev);
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == pack(dev, 0).head + (c.field == 28 ? 24 : c.field));
    }
}

TEST_CASE("f2fs: an unclean checkpoint is reported with a warning", "[f2fs]") {
    PatchedDevice dev(open_fixture("f2fs-128m.img"));
    const std::uint64_t flags = read_le(dev, pack(dev, 0).head + 132, 4);
    REQUIRE((flags & 1) == 1);  // CP_UMOUNT_FLAG
    for (int i = 0; i < 2; ++i) patch_pack(dev, i, 132, (flags & ~std::uint64_t{1}) | 0x2, 4);
    auto fs = f2fs_plugin.open(dev, {});
    REQUIRE(fs);
    CHECK(fs->stat == expected("f2fs-128m.img"));
    REQUIRE(fs->warnings.size() == 2);
    CHECK_THAT(fs->warnings[0], Catch::Contains("roll-forward recovery"));
    CHECK_THAT(fs->warnings[1], Catch::Contains("orphan"));
}

TEST_CASE("f2fs: the image cut short fails cleanly", "[f2fs][corrupt]") {
    auto base = open_fixture("f2fs-128m.img");
    const std::uint64_t cuts[] = {0, 1024, 2048, 4096, 8191, 1 << 20, 3 << 20, base->size() - 4096};
    for (std::uint64_t size : cuts) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        if (size < 4096) {
            CHECK(*f2fs_plugin.probe(cut) == kNotMine);
            continue;
        }
        const Error e = open_error(cut);
        CHECK(e.code == Errc::truncated);
    }
}
