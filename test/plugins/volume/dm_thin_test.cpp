// SPDX-License-Identifier: GPL-2.0-or-later
// dm-thin: the thin volumes of dm.img (made by lvm2 in the libguestfs
// appliance, data/make_dm_fixtures.sh) against that kernel's figures, and
// metadata built or damaged here.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "core/crc32.hpp"
#include "plugins/filesystem/ext4.hpp"
#include "plugins/volume/dm_thin.hpp"
#include "support/fixtures.hpp"
#include "support/image_builder.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kBlock = 4096;

/// The "#appliance IMAGE DEVICE ..." figures of data/expected/dm.txt.
std::map<std::string, StatVfs> appliance_figures() {
    std::map<std::string, StatVfs> out;
    for (const auto& r : appliance_records("dm.txt")) out[r.device] = r.stat;
    return out;
}

/// NAME -> (offset, length) from data/dm-layout.txt, copied beside the images.
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> layout() {
    std::ifstream in(fixture_path("dm-layout.txt"));
    REQUIRE(in);
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream f(line);
        std::string name, offset, length;
        f >> name >> offset >> length;
        out[name] = {offset == "-" ? 0 : std::stoull(offset), std::stoull(length)};
    }
    return out;
}

struct Pool {
    DevicePtr disk, metadata, data;
};

Pool pool() {
    auto l = layout();
    Pool p;
    p.disk = open_fixture("dm.img");
    auto slice = [&](const std::string& name) {
        auto [offset, length] = l.at(name);
        auto s = SliceDevice::create(p.disk, name, offset, length, 512);
        REQUIRE(s);
        return DevicePtr(*s);
    };
    p.metadata = slice("pool_tmeta");
    p.data = slice("pool_tdata");
    return p;
}

ThinVolumeSpec spec(const Pool& p, std::uint64_t id, std::string name = "/dev/vgdm/thin1") {
    return ThinVolumeSpec{std::move(name), p.metadata, p.data, 128, id, 64 << 20};
}

Result<Filesystem> ext4_of(const ThinVolumeSpec& s) {
    auto dev = open_thin_volume(s);
    if (!dev) return std::move(dev).failure();
    return ext4_plugin.open(**dev, {});
}

std::uint64_t le64(std::span<const std::byte> b, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 8; i-- > 0;) v = v << 8 | std::to_integer<std::uint64_t>(b[at + i]);
    return v;
}

void put_le(std::vector<std::byte>& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + static_cast<std::size_t>(i)] = std::byte(v >> (8 * i) & 0xFF);
}

/// dm_bm_checksum of a 4 KiB block, stored in its first four bytes.
void seal(std::vector<std::byte>& block, std::uint32_t xor_value) {
    put_le(block, 0, crc32c_raw(~0u, std::span(block).subspan(4)) ^ xor_value, 4);
}

std::vector<std::byte> read_block(const Device& dev, std::uint64_t block) {
    std::vector<std::byte> b(kBlock);
    REQUIRE(dev.read(block * kBlock, b));
    return b;
}

/// The metadata device with `block` replaced by `bytes`.
DevicePtr with_block(DevicePtr base, std::uint64_t block, const std::vector<std::byte>& bytes) {
    auto patched = std::make_shared<PatchedDevice>(base);
    for (std::size_t i = 0; i < bytes.size(); ++i)
        patched->byte(block * kBlock + i, std::to_integer<std::uint8_t>(bytes[i]));
    return patched;
}

/// Where thin device `id`'s mapping tree is rooted: the top-level tree of
/// dm.img is a single leaf of (device id, root) pairs.
std::uint64_t device_root(const Device& metadata, std::uint64_t id) {
    const auto sb = read_block(metadata, 0);
    const auto top = read_block(metadata, le64(sb, 320));
    const std::uint32_t nr = static_cast<std::uint32_t>(le64(top, 16) & 0xffffffff);
    const std::uint32_t max = static_cast<std::uint32_t>(le64(top, 16) >> 32);
    for (std::uint32_t i = 0; i < nr; ++i)
        if (le64(top, 32 + 8 * i) == id) return le64(top, 32 + 8 * (max + i));
    FAIL("no device " << id);
    return 0;
}

// --- Synthetic metadata --------------------------------------------------------

constexpr std::uint32_t kSbXor = 160774, kNodeXor = 121107;
/// What dm-btree gives a node of 8-byte values: (4096 - 32) / 16, rounded down to a
/// multiple of 3 (calc_max_entries).
constexpr std::uint32_t kMaxEntries = 252;

std::vector<std::byte> make_node(std::uint64_t blocknr, bool leaf,
                                 const std::vector<std::pair<std::uint64_t, std::uint64_t>>& entries) {
    std::vector<std::byte> b(kBlock);
    put_le(b, 4, leaf ? 2 : 1, 4);
    put_le(b, 8, blocknr, 8);
    put_le(b, 16, entries.size(), 4);
    put_le(b, 20, kMaxEntries, 4);
    put_le(b, 24, 8, 4);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        put_le(b, 32 + 8 * i, entries[i].first, 8);
        put_le(b, 32 + 8 * (kMaxEntries + i), entries[i].second, 8);
    }
    seal(b, kNodeXor);
    return b;
}

/// Metadata of 8 blocks: the superblock, the top-level tree in block 1
/// (device 5 -> block 2), and `device_tree` from block 2 on.
std::shared_ptr<MemoryDevice> make_metadata(const std::vector<std::vector<std::byte>>& device_tree) {
    std::vector<std::byte> image(8 * kBlock);
    std::vector<std::byte> sb(kBlock);
    put_le(sb, 32, 27022010, 8);  // magic
    put_le(sb, 40, 2, 4);         // version
    put_le(sb, 320, 1, 8);        // data_mapping_root
    put_le(sb, 336, 128, 4);      // data_block_size
    put_le(sb, 340, 8, 4);        // metadata_block_size
    put_le(sb, 344, 8, 8);        // metadata_nr_blocks
    seal(sb, kSbXor);
    std::vector<std::vector<std::byte>> blocks{sb, make_node(1, true, {{5, 2}})};
    blocks.insert(blocks.end(), device_tree.begin(), device_tree.end());
    for (std::size_t i = 0; i < blocks.size(); ++i)
        std::copy(blocks[i].begin(), blocks[i].end(), image.begin() + static_cast<long>(i * kBlock));
    return std::make_shared<MemoryDevice>("tmeta", image);
}

/// A data device of 4 blocks of 64 KiB, block k filled with byte 'A' + k.
std::shared_ptr<MemoryDevice> make_data() {
    std::vector<std::byte> bytes(4 * 65536);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte('A' + i / 65536);
    return std::make_shared<MemoryDevice>("tdata", bytes);
}

}  // namespace

TEST_CASE("dm_thin: thin1 and its thin snapshot have the appliance kernel's figures",
          "[dm_thin][fixtures]") {
    const auto figures = appliance_figures();
    const Pool p = pool();
    auto thin1 = ext4_of(spec(p, 1));
    REQUIRE(thin1);
    CHECK(thin1->stat == figures.at("/dev/vgdm/thin1"));
    auto snap = ext4_of(spec(p, 2, "/dev/vgdm/thin1snap"));
    REQUIRE(snap);
    CHECK(snap->stat == figures.at("/dev/vgdm/thin1snap"));
    // The snapshot was taken before thin1 changed: they differ.
    CHECK(snap->stat.bfree != thin1->stat.bfree);
}

TEST_CASE("dm_thin: a device id the pool does not have", "[dm_thin]") {
    auto dev = open_thin_volume(spec(pool(), 7));
    REQUIRE_FALSE(dev);
    CHECK_THAT(dev.error().to_string(), Catch::Contains("thin device id 7 is not in the pool"));
}

TEST_CASE("dm_thin: the pool's chunk size must match its metadata", "[dm_thin]") {
    ThinVolumeSpec s = spec(pool(), 1);
    s.data_block_sectors = 256;
    auto dev = open_thin_volume(s);
    REQUIRE_FALSE(dev);
    CHECK_THAT(dev.error().message, Catch::Contains("128 sectors in its metadata but 256"));
    s.data_block_sectors = 100;  // not a multiple of 64 KiB
    CHECK_FALSE(open_thin_volume(s));
}

TEST_CASE("dm_thin: damaged superblocks", "[dm_thin]") {
    const Pool p = pool();
    ThinVolumeSpec s = spec(p, 1);
    auto patched = std::make_shared<PatchedDevice>(p.metadata);
    s.metadata = patched;
    std::string expected;
    SECTION("a flipped byte, checksum left stale") {
        patched->byte(44, 0x55);
        expected = "thin superblock checksum";
    }
    SECTION("no magic") {
        patched->byte(32, 0);
        expected = "no thin pool superblock";
    }
    SECTION("an unknown incompatible feature, checksum valid") {
        auto sb = read_block(*p.metadata, 0);
        put_le(sb, 360, 1, 4);
        seal(sb, kSbXor);
        s.metadata = with_block(p.metadata, 0, sb);
        expected = "unknown incompatible features 0x1";
    }
    SECTION("a metadata device cut short: the mapping root is past its end") {
        s.metadata = std::make_shared<PatchedDevice>(p.metadata, 2 * kBlock);
        expected = "the metadata has 2 blocks";
    }
    auto dev = open_thin_volume(s);
    REQUIRE_FALSE(dev);
    CHECK_THAT(dev.error().message, Catch::Contains(expected));
}

TEST_CASE("dm_thin: damaged mapping-tree nodes", "[dm_thin]") {
    const Pool p = pool();
    const std::uint64_t root = device_root(*p.metadata, 1);
    auto node = read_block(*p.metadata, root);
    // thin1 maps some 500 chunks: its root is an internal node.
    REQUIRE((le64(node, 4) & 0xffffffff) == 1);
    ThinVolumeSpec s = spec(p, 1);
    SECTION("a child pointing back to its parent") {
        const std::uint64_t max = le64(node, 16) >> 32;
        put_le(node, 32 + 8 * max, root, 8);  // value[0] = the root itself
        seal(node, kNodeXor);
        s.metadata = with_block(p.metadata, root, node);
        auto fs = ext4_of(s);
        REQUIRE_FALSE(fs);
        CHECK_THAT(fs.error().message, Catch::Contains("B-tree loop"));
    }
    SECTION("a node that says it belongs elsewhere") {
        put_le(node, 8, root + 1, 8);
        seal(node, kNodeXor);
        s.metadata = with_block(p.metadata, root, node);
        auto fs = ext4_of(s);
        REQUIRE_FALSE(fs);
        CHECK_THAT(fs.error().message, Catch::Contains("says it is block"));
    }
    SECTION("a stale checksum") {
        node[100] ^= std::byte{1};
        s.metadata = with_block(p.metadata, root, node);
        auto fs = ext4_of(s);
        REQUIRE_FALSE(fs);
        CHECK_THAT(fs.error().message, Catch::Contains("checksum"));
    }
    SECTION("more entries than fit, checksum valid") {
        put_le(node, 20, 1000, 4);
        seal(node, kNodeXor);
        s.metadata = with_block(p.metadata, root, node);
        auto fs = ext4_of(s);
        REQUIRE_FALSE(fs);
        CHECK_THAT(fs.error().message, Catch::Contains("do not fit a block"));
    }
    SECTION("a data device too small for the mappings") {
        auto cut = SliceDevice::create(p.data, "tdata", 0, 1 << 20, 512);
        REQUIRE(cut);
        s.data = *cut;
        auto fs = ext4_of(s);
        REQUIRE_FALSE(fs);
        CHECK_THAT(fs.error().message, Catch::Contains("past the end of the pool's data device"));
    }
}

TEST_CASE("dm_thin: mapped blocks read from the data device, unmapped ones as zeros", "[dm_thin]") {
    // Virtual block 1 -> data block 2, virtual block 3 -> data block 0.
    auto meta = make_metadata({make_node(2, true, {{1, 2ull << 24 | 7}, {3, 0}})});
    auto dev = open_thin_volume(ThinVolumeSpec{"/dev/vg/t", meta, make_data(), 128, 5, 4 * 65536});
    REQUIRE(dev);
    std::vector<std::byte> buf(3 * 65536);
    REQUIRE((*dev)->read(65536 - 10, std::span(buf).first(65536 + 20)));
    CHECK(buf[0] == std::byte{0});            // block 0: unmapped
    CHECK(buf[10] == std::byte{'C'});         // block 1 -> data block 2
    CHECK(buf[65536 + 9] == std::byte{'C'});
    CHECK(buf[65536 + 10] == std::byte{0});   // block 2: unmapped
    REQUIRE((*dev)->read(3 * 65536, std::span(buf).first(65536)));
    CHECK(buf[0] == std::byte{'A'});          // block 3 -> data block 0
}

TEST_CASE("dm_thin: damaged synthetic trees", "[dm_thin]") {
    std::vector<std::vector<std::byte>> tree;
    std::string expected;
    SECTION("an internal node that is its own child") {
        tree = {make_node(2, false, {{0, 2}})};
        expected = "B-tree loop: node 2 is its own ancestor";
    }
    SECTION("a chain of internal nodes whose last points back to the first") {
        for (std::uint64_t b = 2; b < 8; ++b) tree.push_back(make_node(b, false, {{0, b < 7 ? b + 1 : 2}}));
        expected = "B-tree loop: node 2 is its own ancestor";
    }
    SECTION("keys out of order") {
        tree = {make_node(2, true, {{3, 0}, {1, 1ull << 24}})};
        expected = "keys out of order";
    }
    SECTION("a pointer to the superblock") {
        tree = {make_node(2, false, {{0, 0}})};
        expected = "pointer to metadata block 0";
    }
    auto dev = open_thin_volume(ThinVolumeSpec{"/dev/vg/t", make_metadata(tree), make_data(), 128, 5, 4 * 65536});
    REQUIRE(dev);
    std::vector<std::byte> buf(512);
    auto r = (*dev)->read(0, buf);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains(expected));
}
