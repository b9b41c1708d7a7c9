// SPDX-License-Identifier: GPL-2.0-or-later
// btrfs on a small filesystem built here, byte by byte (so that every tree
// block can be broken in a chosen way and sealed again with a good
// checksum), on the real images of data/fixtures.d/btrfs.sh, and the
// kernel's space accounting on its own.
#include <catch2/catch.hpp>

#include <random>

#include "core/crc32.hpp"
#include "plugins/filesystem/btrfs.hpp"
#include "support/fixtures.hpp"
#include "support/image_builder.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kSb = 0x10000;     // superblock
constexpr std::uint64_t kNode = 4096;      // sectorsize and nodesize
constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kDevSize = 16 * kMiB;
// Where things are: logical = physical (single chunks at their own address).
constexpr std::uint64_t kSysChunk = 1 * kMiB, kMetaChunk = 2 * kMiB, kDataChunk = 4 * kMiB;
constexpr std::uint64_t kChunkRoot = kSysChunk, kRootTree = kMetaChunk,
                        kExtentTree = kMetaChunk + kNode, kCsumTree = kMetaChunk + 2 * kNode,
                        kSpareBlock = kMetaChunk + 3 * kNode;
constexpr std::uint8_t kFsid[16] = {0x56, 0x44, 0x46, 0x0a, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0xb7, 0xf5};
constexpr std::uint64_t kData = 1, kSystem = 2, kMetadata = 4;

struct TestKey {
    std::uint64_t objectid;
    std::uint8_t type;
    std::uint64_t offset;
};

struct TestItem {
    TestKey key;
    std::vector<std::byte> data;
};

/// Little-endian bytes, for item bodies.
class Bytes {
public:
    explicit Bytes(std::size_t size) : b_(size) {}
    Bytes& le(std::size_t at, std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) b_[at + static_cast<std::size_t>(i)] = std::byte(v >> (8 * i) & 0xFF);
        return *this;
    }
    Bytes& put(std::size_t at, const std::uint8_t* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) b_[at + i] = std::byte{p[i]};
        return *this;
    }
    std::vector<std::byte> done() const { return b_; }

private:
    std::vector<std::byte> b_;
};

std::uint8_t dev_uuid(std::uint64_t devid) { return static_cast<std::uint8_t>(0xd0 + devid); }

std::vector<std::byte> chunk_item(std::uint64_t length, std::uint64_t type,
                                  std::vector<std::pair<std::uint64_t, std::uint64_t>> stripes) {
    Bytes b(48 + 32 * stripes.size());
    b.le(0, length, 8).le(8, 2, 8).le(16, 65536, 8).le(24, type, 8);
    b.le(32, 65536, 4).le(36, 65536, 4).le(40, kNode, 4).le(44, stripes.size(), 2).le(46, 1, 2);
    for (std::size_t i = 0; i < stripes.size(); ++i) {
        b.le(48 + 32 * i, stripes[i].first, 8).le(56 + 32 * i, stripes[i].second, 8);
        const std::uint8_t u[16] = {dev_uuid(stripes[i].first)};
        b.put(64 + 32 * i, u, 16);
    }
    return b.done();
}

std::vector<std::byte> dev_item(std::uint64_t devid, std::uint64_t total, std::uint64_t used) {
    const std::uint8_t u[16] = {dev_uuid(devid)};
    Bytes b(98);
    b.le(0, devid, 8).le(8, total, 8).le(16, used, 8).le(24, kNode, 4).le(28, kNode, 4).le(32, kNode, 4);
    return b.put(0x42, u, 16).put(0x52, kFsid, 16).done();
}

std::vector<std::byte> root_item(std::uint64_t bytenr, std::uint64_t used, std::uint8_t level = 0) {
    Bytes b(439);
    return b.le(160, 1, 8).le(176, bytenr, 8).le(192, used, 8).le(216, 1, 4).le(238, level, 1).done();
}

std::vector<std::byte> bg_item(std::uint64_t used, std::uint64_t flags) {
    return Bytes(24).le(0, used, 8).le(8, 256, 8).le(16, flags, 8).done();
}

/// Seals a tree block (or the superblock): crc32c of all but the first 32 bytes.
void seal(std::vector<std::byte>& image, std::uint64_t at, std::uint64_t size) {
    const std::uint32_t c = ~crc32c_raw(~0u, std::span(image).subspan(at + 32, size - 32));
    for (int i = 0; i < 4; ++i) image[at + static_cast<std::uint64_t>(i)] = std::byte(c >> (8 * i) & 0xFF);
}

void put_key(ImageBuilder& b, std::uint64_t at, const TestKey& k) {
    b.le64(at, k.objectid).u8(at + 8, k.type).le64(at + 9, k.offset);
}

void put_header(ImageBuilder& b, std::uint64_t at, std::uint64_t owner, std::uint32_t nritems,
                std::uint8_t level) {
    for (int i = 0; i < 16; ++i) b.u8(at + 32 + static_cast<std::uint64_t>(i), kFsid[i]);
    b.le64(at + 0x30, at).le64(at + 0x50, 1).le64(at + 0x58, owner).le32(at + 0x60, nritems).u8(at + 0x64, level);
}

void write_leaf(ImageBuilder& b, std::uint64_t at, std::uint64_t owner, const std::vector<TestItem>& items) {
    put_header(b, at, owner, static_cast<std::uint32_t>(items.size()), 0);
    std::uint64_t end = kNode - 101;
    for (std::size_t i = 0; i < items.size(); ++i) {
        end -= items[i].data.size();
        const std::uint64_t slot = at + 101 + 25 * i;
        put_key(b, slot, items[i].key);
        b.le32(slot + 17, static_cast<std::uint32_t>(end)).le32(slot + 21, static_cast<std::uint32_t>(items[i].data.size()));
        std::memcpy(b.bytes().data() + at + 101 + end, items[i].data.data(), items[i].data.size());
    }
    seal(b.bytes(), at, kNode);
}

/// An internal node of `level` at `at`: (first key of child, child address).
void write_node(ImageBuilder& b, std::uint64_t at, std::uint64_t owner, std::uint8_t level,
                const std::vector<std::pair<TestKey, std::uint64_t>>& ptrs) {
    put_header(b, at, owner, static_cast<std::uint32_t>(ptrs.size()), level);
    for (std::size_t i = 0; i < ptrs.size(); ++i) {
        put_key(b, at + 101 + 33 * i, ptrs[i].first);
        b.le64(at + 101 + 33 * i + 17, ptrs[i].second).le64(at + 101 + 33 * i + 25, 1);
    }
    seal(b.bytes(), at, kNode);
}

/// A one-device btrfs of 16 MiB with 4 KiB sectors and nodes: a system
/// chunk (the chunk tree), a metadata chunk (root, extent and csum trees)
/// and a data chunk, all single. Tests change the lists, then build().
struct TinyBtrfs {
    std::uint64_t total_bytes = kDevSize, num_devices = 1;
    std::uint64_t data_used = kMiB;
    std::uint64_t meta_flags = kMetadata;  // of the metadata block group
    std::vector<TestItem> chunk_tree = {
        {{1, 216, 1}, dev_item(1, kDevSize, 7 * kMiB)},
        {{256, 228, kSysChunk}, chunk_item(kMiB, kSystem, {{1, kSysChunk}})},
        {{256, 228, kMetaChunk}, chunk_item(2 * kMiB, kMetadata, {{1, kMetaChunk}})},
        {{256, 228, kDataChunk}, chunk_item(4 * kMiB, kData, {{1, kDataChunk}})},
    };
    std::vector<TestItem> root_tree = {
        {{2, 132, 0}, root_item(kExtentTree, kNode)},
        {{7, 132, 0}, root_item(kCsumTree, kNode)},
    };
    std::vector<TestItem> extent_tree() const {
        return {{{kSysChunk, 192, kMiB}, bg_item(kNode, kSystem)},
                {{kMetaChunk, 192, 2 * kMiB}, bg_item(4 * kNode, meta_flags)},
                {{kDataChunk, 192, 4 * kMiB}, bg_item(data_used, kData)}};
    }
    std::vector<std::byte> sys_array = [] {
        std::vector<std::byte> a(17);
        const auto c = chunk_item(kMiB, kSystem, {{1, kSysChunk}});
        a[0] = std::byte{0}; a[1] = std::byte{1};  // objectid 256
        a[8] = std::byte{228};
        a[9 + 2] = std::byte{0x10};  // offset 1 MiB
        a.insert(a.end(), c.begin(), c.end());
        return a;
    }();

    ImageBuilder build(std::uint64_t devid = 1) const {
        ImageBuilder b(kDevSize);
        write_superblock(b, devid);
        write_leaf(b, kChunkRoot, 3, chunk_tree);
        write_leaf(b, kRootTree, 1, root_tree);
        write_leaf(b, kExtentTree, 2, extent_tree());
        write_leaf(b, kCsumTree, 7, {});
        return b;
    }

    void write_superblock(ImageBuilder& b, std::uint64_t devid) const {
        for (int i = 0; i < 16; ++i) b.u8(kSb + 0x20 + static_cast<std::uint64_t>(i), kFsid[i]);
        b.le64(kSb + 0x30, kSb).put(kSb + 0x40, "_BHRfS_M").le64(kSb + 0x48, 1);
        b.le64(kSb + 0x50, kRootTree).le64(kSb + 0x58, kChunkRoot);
        b.le64(kSb + 0x70, total_bytes).le64(kSb + 0x78, kMiB + 5 * kNode);
        b.le64(kSb + 0x80, 6).le64(kSb + 0x88, num_devices);
        b.le32(kSb + 0x90, kNode).le32(kSb + 0x94, kNode).le32(kSb + 0x98, kNode).le32(kSb + 0x9C, kNode);
        b.le32(kSb + 0xA0, static_cast<std::uint32_t>(sys_array.size())).le64(kSb + 0xA4, 1);
        const auto item = dev_item(devid, kDevSize, 7 * kMiB);
        std::memcpy(b.bytes().data() + kSb + 0xC9, item.data(), item.size());
        std::memcpy(b.bytes().data() + kSb + 0x32B, sys_array.data(), sys_array.size());
        seal(b.bytes(), kSb, 4096);
    }
};

Error open_error(const Device& dev, const FilesystemContext& context = {}) {
    auto fs = btrfs_plugin.open(dev, context);
    REQUIRE_FALSE(fs);
    return fs.error();
}

/// Changes a 32-bit field of a tree block or the superblock and seals it again.
void poke32(ImageBuilder& b, std::uint64_t block, std::uint64_t size, std::uint64_t at, std::uint32_t v) {
    b.le32(at, v);
    seal(b.bytes(), block, size);
}

}  // namespace

TEST_CASE("btrfs: a hand-built filesystem gives btrfs_statfs's figures", "[btrfs]") {
    auto dev = TinyBtrfs{}.build().device();
    REQUIRE(*btrfs_plugin.probe(*dev) == kCertain);
    auto ro = btrfs_plugin.open(*dev, {});
    REQUIRE(ro);
    CHECK(ro->type == "btrfs");
    CHECK(ro->warnings.empty());
    CHECK(ro->subvolumes.empty());
    // 4096 blocks; used 1 MiB + 20 KiB = 261 blocks; global reserve 960 KiB
    // = 240 blocks (4 KiB nodes, extent and csum trees, no free space tree);
    // available 9 MiB unallocated - 1 MiB, and the 3 MiB free inside the
    // data chunk (the devices count as writable, as under libguestfs).
    CHECK(ro->stat == StatVfs{4096, 4096, 4096, 4096 - 261 - 240, 2048 + 768, 0, 0});
    FilesystemContext rw;
    rw.read_write = true;
    auto rw_fs = btrfs_plugin.open(*dev, rw);
    REQUIRE(rw_fs);
    CHECK(rw_fs->stat == ro->stat);
}

TEST_CASE("btrfs: a bad magic scores 0", "[btrfs]") {
    ImageBuilder b = TinyBtrfs{}.build();
    b.put(kSb + 0x40, "_BHRfS_X");
    CHECK(*btrfs_plugin.probe(*b.device()) == kNotMine);
    CHECK(*btrfs_plugin.probe(*ImageBuilder(4096).device()) == kNotMine);
}

TEST_CASE("btrfs: a superblock whose checksum is wrong is refused, as the kernel does", "[btrfs][corrupt]") {
    ImageBuilder b = TinyBtrfs{}.build();
    b.u8(kSb + 0x12B, 'X');  // the label
    const Error e = open_error(*b.device());
    CHECK(e.code == Errc::corrupt);
    CHECK(e.offset == kSb);
}

TEST_CASE("btrfs: out-of-range superblock fields are corrupt, with their offset", "[btrfs][corrupt]") {
    struct Case {
        const char* what;
        std::uint64_t offset;
        std::uint32_t value;
    };
    const Case cases[] = {
        {"bytenr", 0x30, 0x20000},
        {"root not aligned", 0x50, kRootTree + 512},
        {"bytes_used below 6 nodes", 0x78, 4096},
        {"num_devices 0", 0x88, 0},
        {"sectorsize not a power of 2", 0x90, 3000},
        {"sectorsize 2 KiB", 0x90, 2048},
        {"nodesize below the sectorsize", 0x94, 2048},
        {"nodesize 128 KiB", 0x94, 128 << 10},
        {"stripesize", 0x9C, 8192},
        {"sys_chunk_array_size past 2048", 0xA0, 5000},
        {"sys_chunk_array_size too small", 0xA0, 20},
        {"csum_type", 0xC4, 9},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        ImageBuilder b = TinyBtrfs{}.build();
        poke32(b, kSb, 4096, kSb + c.offset, c.value);
        const Error e = open_error(*b.device());
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == kSb + c.offset);
    }
    ImageBuilder level = TinyBtrfs{}.build();
    level.u8(kSb + 0xC6, 9);
    seal(level.bytes(), kSb, 4096);
    CHECK(open_error(*level.device()).offset == kSb + 0xC6);
}

TEST_CASE("btrfs: features the kernel does not mount are unsupported", "[btrfs]") {
    for (std::uint32_t incompat : {0x2000u, 0x4000u, 0x1000u, 0x80000000u}) {
        INFO(incompat);
        ImageBuilder b = TinyBtrfs{}.build();
        poke32(b, kSb, 4096, kSb + 0xBC, incompat);
        CHECK(open_error(*b.device()).code == Errc::unsupported);
    }
}

TEST_CASE("btrfs: the image cut at every structure boundary fails cleanly", "[btrfs][corrupt]") {
    auto base = TinyBtrfs{}.build().device();
    const std::uint64_t cuts[] = {0,
                                  kSb,
                                  kSb + 0x32B,
                                  kSb + 4095,
                                  kChunkRoot,
                                  kChunkRoot + 100,
                                  kRootTree + kNode - 1,
                                  kExtentTree + 200,
                                  kCsumTree + 1,
                                  kDataChunk,  // the trees are whole: the device is shorter than its dev item says
                                  kDevSize - 1};
    for (std::uint64_t size : cuts) {
        INFO("cut at " << size);
        PatchedDevice cut(base, size);
        auto fs = btrfs_plugin.open(cut, {});
        REQUIRE_FALSE(fs);
        CHECK(fs.error().code == Errc::truncated);
    }
}

TEST_CASE("btrfs: tree blocks are checked as the kernel's tree-checker does", "[btrfs][corrupt]") {
    SECTION("a checksum that does not match") {
        ImageBuilder b = TinyBtrfs{}.build();
        b.u8(kRootTree + 200, 0x55);
        const Error e = open_error(*b.device());
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == kRootTree);
        CHECK_THAT(e.message, Catch::Contains("checksum"));
    }
    SECTION("a leaf claiming more items than fit") {
        ImageBuilder b = TinyBtrfs{}.build();
        poke32(b, kRootTree, kNode, kRootTree + 0x60, 1000);
        const Error e = open_error(*b.device());
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == kRootTree + 0x60);
    }
    SECTION("item data outside the leaf") {
        ImageBuilder b = TinyBtrfs{}.build();
        poke32(b, kRootTree, kNode, kRootTree + 101 + 17, 5000);
        const Error e = open_error(*b.device());
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == kRootTree + 101 + 17);
    }
    SECTION("keys out of order") {
        TinyBtrfs fs;
        std::swap(fs.root_tree[0], fs.root_tree[1]);
        const Error e = open_error(*fs.build().device());
        CHECK(e.code == Errc::corrupt);
        CHECK_THAT(e.message, Catch::Contains("out of order"));
    }
    SECTION("a block that is not where its header says") {
        ImageBuilder b = TinyBtrfs{}.build();
        b.le64(kExtentTree + 0x30, kCsumTree);
        seal(b.bytes(), kExtentTree, kNode);
        CHECK(open_error(*b.device()).offset == kExtentTree + 0x30);
    }
    SECTION("a level other than its parent says") {
        ImageBuilder b = TinyBtrfs{}.build();
        b.u8(kSb + 0xC6, 1);  // root_level 1 for a leaf
        seal(b.bytes(), kSb, 4096);
        CHECK_THAT(open_error(*b.device()).message, Catch::Contains("level 0 where 1"));
    }
    SECTION("another filesystem's block") {
        ImageBuilder b = TinyBtrfs{}.build();
        b.u8(kCsumTree + 0x20, 0xEE);
        seal(b.bytes(), kCsumTree, kNode);
        CHECK(open_error(*b.device()).offset == kCsumTree + 0x20);
    }
}

TEST_CASE("btrfs: a tree that loops, or reaches a block twice, is corrupt", "[btrfs][corrupt]") {
    const TestKey first{2, 132, 0};
    SECTION("a node pointing at itself") {
        ImageBuilder b = TinyBtrfs{}.build();
        write_node(b, kSpareBlock, 1, 1, {{first, kSpareBlock}});
        b.le64(kSb + 0x50, kSpareBlock).u8(kSb + 0xC6, 1);
        seal(b.bytes(), kSb, 4096);
        const Error e = open_error(*b.device());
        CHECK(e.code == Errc::corrupt);
        CHECK_THAT(e.message, Catch::Contains("loop"));
    }
    SECTION("two pointers to one leaf") {
        ImageBuilder b = TinyBtrfs{}.build();
        write_node(b, kSpareBlock, 1, 1, {{first, kRootTree}, {{9, 132, 0}, kRootTree}});
        b.le64(kSb + 0x50, kSpareBlock).u8(kSb + 0xC6, 1);
        seal(b.bytes(), kSb, 4096);
        CHECK_THAT(open_error(*b.device()).message, Catch::Contains("referenced twice"));
    }
    SECTION("a pointer whose key is not the child's first") {
        ImageBuilder b = TinyBtrfs{}.build();
        write_node(b, kSpareBlock, 1, 1, {{{2, 132, 1}, kRootTree}});
        b.le64(kSb + 0x50, kSpareBlock).u8(kSb + 0xC6, 1);
        seal(b.bytes(), kSb, 4096);
        CHECK_THAT(open_error(*b.device()).message, Catch::Contains("first key"));
    }
    SECTION("a tree of two levels is read through its node") {
        ImageBuilder b = TinyBtrfs{}.build();
        write_node(b, kSpareBlock, 1, 1, {{first, kRootTree}});
        b.le64(kSb + 0x50, kSpareBlock).u8(kSb + 0xC6, 1);
        seal(b.bytes(), kSb, 4096);
        auto fs = btrfs_plugin.open(*b.device(), {});
        REQUIRE(fs);
        CHECK(fs->stat.blocks == 4096);
    }
}

TEST_CASE("btrfs: chunks that do not fit their devices are corrupt", "[btrfs][corrupt]") {
    SECTION("a stripe past the end of its device") {
        TinyBtrfs fs;
        fs.chunk_tree[3].data = chunk_item(4 * kMiB, kData, {{1, 14 * kMiB}});
        const Error e = open_error(*fs.build().device());
        CHECK(e.code == Errc::corrupt);
        CHECK_THAT(e.message, Catch::Contains("past the end of devid 1"));
        CHECK(e.offset.has_value());
    }
    SECTION("no stripes") {
        TinyBtrfs fs;
        fs.chunk_tree[3].data = chunk_item(4 * kMiB, kData, {});
        CHECK_THAT(open_error(*fs.build().device()).message, Catch::Contains("num_stripes is 0"));
    }
    SECTION("an absurd stripe count") {
        ImageBuilder b = TinyBtrfs{}.build();
        b.le16(kSb + 0x32B + 17 + 44, 60000);
        seal(b.bytes(), kSb, 4096);
        const Error e = open_error(*b.device());
        CHECK(e.code == Errc::corrupt);
        CHECK(e.offset == kSb + 0x32B);
    }
    SECTION("a stripe count the profile does not allow") {
        TinyBtrfs fs;
        fs.chunk_tree[3].data = chunk_item(4 * kMiB, kData | 0x10, {{1, kDataChunk}});  // RAID1, 1 stripe
        CHECK(open_error(*fs.build().device()).code == Errc::corrupt);
    }
    SECTION("chunks that overlap") {
        TinyBtrfs fs;
        fs.chunk_tree[3].data = chunk_item(5 * kMiB, kData, {{1, kDataChunk}});
        fs.chunk_tree.insert(fs.chunk_tree.begin() + 3,
                             TestItem{{256, 228, 3 * kMiB}, chunk_item(kMiB, kData, {{1, 9 * kMiB}})});
        CHECK_THAT(open_error(*fs.build().device()).message, Catch::Contains("overlaps"));
    }
    SECTION("a chunk without its block group") {
        TinyBtrfs fs;
        fs.chunk_tree.push_back({{256, 228, 8 * kMiB}, chunk_item(kMiB, kData, {{1, 8 * kMiB}})});
        CHECK_THAT(open_error(*fs.build().device()).message, Catch::Contains("has no block group"));
    }
    SECTION("a system chunk not in the sys_chunk_array") {
        ImageBuilder b = TinyBtrfs{}.build();
        b.u8(kSb + 0x32B + 17 + 24, kData);
        seal(b.bytes(), kSb, 4096);
        CHECK_THAT(open_error(*b.device()).message, Catch::Contains("not a system chunk"));
    }
    SECTION("block group flags that are not the chunk's") {
        TinyBtrfs fs;
        fs.chunk_tree[3].data = chunk_item(4 * kMiB, kData | 0x8, {{1, kDataChunk}});  // RAID0
        CHECK_THAT(open_error(*fs.build().device()).message, Catch::Contains("block group at logical"));
    }
    SECTION("devices larger than the filesystem") {
        TinyBtrfs fs;
        fs.total_bytes = 8 * kMiB;
        CHECK(open_error(*fs.build().device()).offset == kSb + 0x70);
    }
}

TEST_CASE("btrfs: a bad copy of a DUP block is passed over for the good one", "[btrfs][corrupt]") {
    // The metadata chunk in two copies, the second at 10 MiB.
    constexpr std::uint64_t kCopy = 10 * kMiB;
    TinyBtrfs fs;
    fs.chunk_tree[0].data = dev_item(1, kDevSize, 9 * kMiB);
    fs.meta_flags = kMetadata | 0x20;
    fs.chunk_tree[2].data = chunk_item(2 * kMiB, fs.meta_flags, {{1, kMetaChunk}, {1, kCopy}});
    ImageBuilder b = fs.build();
    std::memcpy(b.bytes().data() + kCopy, b.bytes().data() + kMetaChunk, 4 * kNode);
    b.u8(kRootTree + 300, 0x55);  // checksum mismatch in the first copy
    poke32(b, kExtentTree, kNode, kExtentTree + 0x50, 7);  // a stale generation
    auto opened = btrfs_plugin.open(*b.device(), {});
    INFO((opened ? "" : opened.error().to_string()));
    REQUIRE(opened);
    CHECK(opened->stat.blocks == 4096);
    b.u8(kCopy + 300, 0x55);  // and now in the second
    const Error e = open_error(*b.device());
    CHECK(e.offset == kRootTree);  // the first copy's problem is the one told
}

TEST_CASE("btrfs: a missing member is reported, with a degraded mount's figures", "[btrfs]") {
    // devid 2, 16 MiB, holds nothing yet.
    TinyBtrfs fs;
    fs.total_bytes = 2 * kDevSize;
    fs.num_devices = 2;
    fs.chunk_tree.insert(fs.chunk_tree.begin() + 1, TestItem{{1, 216, 2}, dev_item(2, kDevSize, 0)});
    auto one = fs.build().device("/dev/sda");
    auto two = fs.build(2).device("/dev/sdb");
    const std::vector<NamedDevice> both{{"/dev/sda", one}, {"/dev/sdb", two}};
    FilesystemContext rw;
    rw.read_write = true;

    rw.guest_devices = both;
    auto whole = btrfs_plugin.open(*one, rw);
    REQUIRE(whole);
    CHECK(whole->warnings.empty());
    CHECK(whole->stat.blocks == 8192);
    CHECK(whole->stat.bavail == 768 + 2048 + 3840);  // + devid 2's 15 MiB
    auto from_two = btrfs_plugin.open(*two, rw);
    REQUIRE(from_two);
    CHECK(from_two->stat == whole->stat);

    rw.guest_devices = std::span(both).first(1);
    auto degraded = btrfs_plugin.open(*one, rw);
    REQUIRE(degraded);
    REQUIRE(degraded->warnings.size() == 1);
    CHECK_THAT(degraded->warnings[0], Catch::Contains("devid 2 of 2") && Catch::Contains("degraded"));
    CHECK(degraded->stat.blocks == 8192);
    CHECK(degraded->stat.bavail == 768 + 2048);

    // devid 2 alone cannot be read: the chunk tree is on devid 1, in a single chunk.
    CHECK_THAT(open_error(*two).message, Catch::Contains("lies only on devid 1"));
}

TEST_CASE("btrfs: a member with another device uuid is not a member", "[btrfs]") {
    TinyBtrfs fs;
    fs.total_bytes = 2 * kDevSize;
    fs.chunk_tree.insert(fs.chunk_tree.begin() + 1, TestItem{{1, 216, 2}, dev_item(2, kDevSize, 0)});
    auto one = fs.build().device("/dev/sda");
    ImageBuilder stranger = fs.build(2);
    stranger.u8(kSb + 0xC9 + 0x42, 0x77);
    seal(stranger.bytes(), kSb, 4096);
    const std::vector<NamedDevice> both{{"/dev/sda", one}, {"/dev/sdb", stranger.device()}};
    FilesystemContext context;
    context.guest_devices = both;
    auto opened = btrfs_plugin.open(*one, context);
    REQUIRE(opened);
    CHECK(opened->warnings.size() == 1);
}

TEST_CASE("btrfs: a log tree to replay is reported, figures still given", "[btrfs]") {
    ImageBuilder b = TinyBtrfs{}.build();
    auto clean = btrfs_plugin.open(*b.device(), {});
    REQUIRE(clean);
    b.le64(kSb + 0x60, kSpareBlock);
    seal(b.bytes(), kSb, 4096);
    auto dirty = btrfs_plugin.open(*b.device(), {});
    REQUIRE(dirty);
    REQUIRE(dirty->warnings.size() == 1);
    CHECK_THAT(dirty->warnings[0], Catch::Contains("log tree needs replay"));
    CHECK(dirty->stat == clean->stat);
}

TEST_CASE("btrfs: random changes to sealed metadata never crash", "[btrfs][corrupt][fuzz]") {
    const auto base = TinyBtrfs{}.build().device();
    struct Region {
        std::uint64_t at, size;
    };
    const Region regions[] = {{kSb, 4096}, {kChunkRoot, kNode}, {kRootTree, kNode}, {kExtentTree, kNode}};
    std::mt19937_64 rng(5);
    int opened = 0;
    for (int round = 0; round < 3000; ++round) {
        PatchedDevice dev(base);
        const Region& r = regions[rng() % std::size(regions)];
        const int changes = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < changes; ++i)
            dev.byte(r.at + 32 + rng() % (r.size - 32), static_cast<std::uint8_t>(rng()));
        std::vector<std::byte> block(r.size);
        REQUIRE(dev.read(r.at, block));
        dev.le32(r.at, ~crc32c_raw(~0u, std::span(block).subspan(32)));
        auto fs = btrfs_plugin.open(dev, {});
        opened += fs ? 1 : 0;
    }
    CHECK(opened > 0);  // some changes are harmless
}

TEST_CASE("btrfs: the allocator simulation, as btrfs_calc_avail_data_space", "[btrfs]") {
    constexpr std::uint64_t G = 1ull << 30, M = kMiB;
    using btrfs::DeviceSpace;
    const std::vector<DeviceSpace> three = {{10 * G, 0, true, true}, {20 * G, 0, true, true},
                                            {10 * G, 0, true, true}};
    // RAID1: the smallest device paired with the next, then nothing pairs.
    CHECK(btrfs::avail_data_space(three, 0x10) == 2 * (10 * G - M));
    // RAID0 stripes over all three, then over the two left, then one.
    CHECK(btrfs::avail_data_space(three, 0x8) == 3 * (10 * G - M) + 10 * G);
    // Read-only devices: the kernel plans single chunks whatever the profile.
    std::vector<DeviceSpace> ro = three;
    for (auto& d : ro) d.writable = false;
    CHECK(btrfs::avail_data_space(ro, 0x10) == 40 * G - 3 * M);
    // Too few writable devices for RAID1: single.
    std::vector<DeviceSpace> one_missing = three;
    one_missing[1].present = false;
    one_missing[2].writable = false;
    CHECK(btrfs::avail_data_space(one_missing, 0x10) == 20 * G - 2 * M);
    // Less than 1 MiB + a stripe left: nothing; DUP needs two stripes.
    CHECK(btrfs::avail_data_space(std::vector<DeviceSpace>{{M + 64 * 1024, 0, true, true}}, 0) == 0);
    CHECK(btrfs::avail_data_space(std::vector<DeviceSpace>{{M + 128 * 1024, 0, true, true}}, 0x20) == 0);
    CHECK(btrfs::avail_data_space(std::vector<DeviceSpace>{{M + 128 * 1024, 0, true, true}}, 0) == 128 * 1024);
}

// --- Real images (data/fixtures.d/btrfs.sh) -------------------------------------

TEST_CASE("btrfs: subvolumes in libguestfs' order, default one left out", "[btrfs][fixtures]") {
    auto fs = btrfs_plugin.open(*open_fixture("btrfs-subvol.img"), {});
    REQUIRE(fs);
    // ids 256..261; 260 was deleted.
    CHECK(fs->subvolumes == std::vector<std::string>{"home", "dir/deeper/nested", "home/inner",
                                                     "home/docs/x", "snaps/home-snap"});
    // Default "@" (256): "@/home" is listed as "home", which a subvol= mount
    // cannot find, so virt-df shows only "var".
    auto other = btrfs_plugin.open(*open_fixture("btrfs-subvol-default.img"), {});
    REQUIRE(other);
    CHECK(other->subvolumes == std::vector<std::string>{"var"});
}

TEST_CASE("btrfs: members on two disks, and one of them missing", "[btrfs][fixtures]") {
    auto a = open_fixture("btrfs-2disk-a.img");
    auto b = open_fixture("btrfs-2disk-b.img");
    const std::vector<NamedDevice> both{{"/dev/sda", a}, {"/dev/sdb", b}};
    FilesystemContext context;
    context.guest_devices = both;
    auto from_a = btrfs_plugin.open(*a, context);
    auto from_b = btrfs_plugin.open(*b, context);
    REQUIRE(from_a);
    REQUIRE(from_b);
    CHECK(from_a->warnings.empty());
    CHECK(from_a->stat == from_b->stat);
    CHECK(from_a->stat.blocks == 256 * kMiB / 4096);  // RAID1 over 2 x 256 MiB

    context.guest_devices = std::span(both).first(1);
    auto alone = btrfs_plugin.open(*a, context);
    REQUIRE(alone);
    REQUIRE(alone->warnings.size() == 1);
    CHECK_THAT(alone->warnings[0], Catch::Contains("devid 2 of 2"));
    CHECK(alone->stat.blocks == from_a->stat.blocks);
    CHECK(alone->stat.bavail < from_a->stat.bavail);
}

TEST_CASE("btrfs: a partition of a multi-device disk sees its siblings", "[btrfs][fixtures]") {
    auto disk = open_fixture("btrfs-raid10.img");
    std::vector<NamedDevice> parts;
    const std::uint64_t sizes[] = {256, 256, 256, 320};
    std::uint64_t start = kMiB;
    for (int i = 0; i < 4; ++i) {
        auto slice = SliceDevice::create(disk, "/dev/sda" + std::to_string(i + 1), start, sizes[i] * kMiB, 512);
        REQUIRE(slice);
        parts.push_back({"/dev/sda" + std::to_string(i + 1), *slice});
        start += sizes[i] * kMiB;
    }
    FilesystemContext context;
    context.guest_devices = parts;
    auto all = btrfs_plugin.open(*parts[2].device, context);
    REQUIRE(all);
    CHECK(all->warnings.empty());
    // Without devid 1 (a RAID10 chunk tolerates one missing stripe).
    context.guest_devices = std::span(parts).subspan(1);
    auto three = btrfs_plugin.open(*parts[2].device, context);
    REQUIRE(three);
    CHECK_THAT(three->warnings[0], Catch::Contains("devid 1 of 4"));
    CHECK(three->stat.blocks == all->stat.blocks);
}
