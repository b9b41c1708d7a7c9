// SPDX-License-Identifier: GPL-2.0-or-later
// The qcow2 plugin: every fixture made by qemu-img (data/fixtures.d/qcow2.sh)
// against its raw source (the same rows and figures, the same bytes) or
// against `qemu-img convert -O raw`; then images built here or patched, for
// each mapping case and each refusal.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include <zlib.h>
#include <zstd.h>

#include "core/image.hpp"
#include "core/scan.hpp"
#include "plugins/plugins.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

// --- Opening fixtures through the image layer, as virt-df does ------------------

Result<DevicePtr> open_qcow2(const std::string& name, const std::string& snapshot = {},
                             const std::string& format = {}, std::vector<std::string>* warnings = nullptr) {
    std::vector<std::string> ignored;
    return open_image(ImageRequest{fixture_path(name), format, 0, snapshot}, builtin_plugins().images,
                      warnings ? *warnings : ignored);
}

DevicePtr must_open(const std::string& name, const std::string& snapshot = {}) {
    auto dev = open_qcow2(name, snapshot);
    INFO(name << (snapshot.empty() ? "" : " --snapshot=" + snapshot) << ": "
              << (dev ? "" : dev.error().to_string()));
    REQUIRE(dev);
    return *dev;
}

ScanReport scan(DevicePtr dev) {
    std::vector<GuestDisk> disks{{"guest", std::move(dev)}};
    return scan_guest(disks, builtin_plugins());
}

void check_same_rows(const ScanReport& actual, const ScanReport& expected) {
    REQUIRE(actual.rows.size() == expected.rows.size());
    for (std::size_t i = 0; i < actual.rows.size(); ++i) {
        INFO("row " << i << ": " << expected.rows[i].device);
        CHECK(actual.rows[i].device == expected.rows[i].device);
        CHECK(actual.rows[i].type == expected.rows[i].type);
        CHECK(actual.rows[i].stat == expected.rows[i].stat);
    }
}

/// Both devices, read whole in 1 MiB pieces, hold the same bytes.
void check_same_bytes(const Device& actual, const Device& expected) {
    REQUIRE(actual.size() == expected.size());
    constexpr std::size_t kChunk = 1 << 20;
    std::vector<std::byte> a(kChunk), b(kChunk);
    for (std::uint64_t offset = 0; offset < actual.size(); offset += kChunk) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, actual.size() - offset));
        auto ra = actual.read(offset, std::span(a).first(n));
        INFO(actual.name() << " at " << offset << ": " << (ra ? "" : ra.error().to_string()));
        REQUIRE(ra);
        REQUIRE(expected.read(offset, std::span(b).first(n)));
        if (std::memcmp(a.data(), b.data(), n) != 0) {
            std::size_t i = 0;
            while (a[i] == b[i]) ++i;
            FAIL(actual.name() << " differs from " << expected.name() << " at byte " << offset + i);
        }
    }
}

StatVfs kernel_figures(const std::string& image, const std::string& device) {
    for (const KernelRecord& r : kernel_records())
        if (r.image == image && r.device == device && r.mountable) return r.stat;
    FAIL("no kernel record for " << image << " " << device);
    return {};
}

}  // namespace

namespace {

struct Variant {
    const char* qcow2;
    const char* raw;         // the raw fixture it was made from
    const char* bytes_like;  // what its disk reads as, if not `raw`
};

// Made by qemu-img convert (or written into) from a raw fixture, so the
// guest disk is that fixture's, byte for byte.
constexpr Variant kVariants[] = {
    {"qcow2-v2.qcow2", "gpt-512.img", nullptr},         // version 2, 64 KiB clusters
    {"qcow2-v3.qcow2", "mbr-logical.img", nullptr},     // version 3
    {"qcow2-c512.qcow2", "ext4-1k.img", nullptr},       // 512-byte clusters
    {"qcow2-c2m.qcow2", "gpt-4k.img", nullptr},         // 2 MiB clusters, 4 KiB sectors
    {"qcow2-zlib.qcow2", "gpt-512.img", nullptr},       // deflate
    {"qcow2-zstd.qcow2", "mbr-logical.img", nullptr},   // zstd
    {"qcow2-zlib-c512.qcow2", "ext2-1k.img", nullptr},  // deflate, 512-byte clusters
    {"qcow2-zstd-c2m.qcow2", "ext3-2k.img", nullptr},   // zstd, 2 MiB clusters
    {"qcow2-extl2.qcow2", "ext4-4k.img", nullptr},      // subclusters
    {"qcow2-datafile.qcow2", "ext4-1k.img", nullptr},   // external data file
    {"qcow2-datafile-raw.qcow2", "ext2-1k.img", nullptr},
    {"qcow2-prealloc.qcow2", "gpt-512.img", nullptr},    // zero flag over preallocated clusters
    {"qcow2-chain-base.qcow2", "gpt-512.img", nullptr},  // v2, 4 KiB clusters
    {"qcow2-dirty.qcow2", "mbr-logical.img", nullptr},
    {"qcow2-short-backing.qcow2", "ext4-1k.img", "qcow2-short-backing.raw"},
};

}  // namespace

TEST_CASE("qcow2: every variant has the rows, figures and bytes of its raw source", "[qcow2][fixtures]") {
    for (const Variant& v : kVariants) {
        INFO(v.qcow2);
        const DevicePtr dev = must_open(v.qcow2);
        const ScanReport expected = scan(open_fixture(v.raw));
        REQUIRE_FALSE(expected.rows.empty());
        const ScanReport actual = scan(dev);
        check_same_rows(actual, expected);
        CHECK(actual.warnings == expected.warnings);
        CHECK(dev->name() == fixture_path(v.qcow2));
        check_same_bytes(*dev, *open_fixture(v.bytes_like ? v.bytes_like : v.raw));
    }
}

namespace {

/// The rows of the disk the chain (and the snapshot image) builds:
/// gpt-512.img with ext2-1k.img in p4 and, at the top, ext4-1k.img in p2.
void check_chain_rows(const ScanReport& report, bool top) {
    REQUIRE(report.rows.size() == 3);
    CHECK(report.rows[0].device == "/dev/sda2");
    CHECK(report.rows[0].stat ==
          (top ? kernel_figures("ext4-1k.img", "/dev/sda") : kernel_figures("gpt-512.img", "/dev/sda2")));
    CHECK(report.rows[1].device == "/dev/sda4");
    CHECK(report.rows[1].stat == kernel_figures("ext2-1k.img", "/dev/sda"));
    CHECK(report.rows[2].device == "/dev/sda5");
    CHECK(report.rows[2].stat == kernel_figures("gpt-512.img", "/dev/sda5"));
}

}  // namespace

TEST_CASE("qcow2: a chain three deep reads each layer over the one below", "[qcow2][chain]") {
    const DevicePtr top = must_open("qcow2-chain-top.qcow2");
    check_chain_rows(scan(top), true);
    check_same_bytes(*top, *open_fixture("qcow2-chain-top.raw"));
    const DevicePtr mid = must_open("qcow2-chain-mid.qcow2");
    check_chain_rows(scan(mid), false);
    check_same_bytes(*mid, *open_fixture("qcow2-chain-mid.raw"));

    // A byte the top layer holds maps onto the top file; one it leaves to
    // the layers below maps down the chain to the base file.
    const auto here = top->map_block(34603008 + 1024);  // p2's superblock, written in the top
    REQUIRE_FALSE(here.empty());
    CHECK(here.front().device->name().ends_with("qcow2-chain-top.qcow2"));
    const auto below = top->map_block(512);  // the GPT header, from the base
    REQUIRE(below.size() >= 2);
    CHECK(below.back().device->name().ends_with("qcow2-chain-base.qcow2"));
    CHECK(top->contiguous(0) > 0);
}

TEST_CASE("qcow2: extended L2 subclusters over a raw backing file", "[qcow2][extl2]") {
    const DevicePtr dev = must_open("qcow2-extl2-overlay.qcow2");
    const ScanReport report = scan(dev);
    REQUIRE(report.rows.size() == 3);
    CHECK(report.rows[0].stat == kernel_figures("ext4-1k.img", "/dev/sda"));
    CHECK(report.rows[1].stat == kernel_figures("gpt-512.img", "/dev/sda4"));
    CHECK(report.rows[2].stat == kernel_figures("gpt-512.img", "/dev/sda5"));
    check_same_bytes(*dev, *open_fixture("qcow2-extl2-overlay.raw"));
}

TEST_CASE("qcow2: zero clusters hide the backing file, with or without an offset", "[qcow2][zero]") {
    const DevicePtr dev = must_open("qcow2-zero.qcow2");
    const ScanReport report = scan(dev);
    REQUIRE(report.rows.size() == 1);  // p4 and p5 lost their superblocks
    CHECK(report.rows[0].device == "/dev/sda2");
    CHECK(report.rows[0].stat == kernel_figures("gpt-512.img", "/dev/sda2"));
    check_same_bytes(*dev, *open_fixture("qcow2-zero.raw"));
}

TEST_CASE("qcow2: internal snapshots by name and by ID, with their own disk size", "[qcow2][snapshot]") {
    const DevicePtr current = must_open("qcow2-snapshot.qcow2");
    CHECK(current->size() == 300u << 20);
    check_chain_rows(scan(current), true);
    check_same_bytes(*current, *open_fixture("qcow2-snapshot.raw"));

    for (const char* which : {"clean", "1"}) {
        const DevicePtr clean = must_open("qcow2-snapshot.qcow2", which);
        CHECK(clean->size() == 256u << 20);
        check_same_bytes(*clean, *open_fixture("gpt-512.img"));
    }
    for (const char* which : {"p4-ext2", "2"}) {
        const DevicePtr mid = must_open("qcow2-snapshot.qcow2", which);
        check_chain_rows(scan(mid), false);
        check_same_bytes(*mid, *open_fixture("qcow2-chain-mid.raw"));
    }

    auto unknown = open_qcow2("qcow2-snapshot.qcow2", "nightly");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().to_string() ==
          "qcow2: no snapshot 'nightly' (ID or name); the image has: 1 'clean', 2 'p4-ext2'");
    auto none = open_qcow2("qcow2-v3.qcow2", "clean");
    REQUIRE_FALSE(none);
    CHECK_THAT(none.error().message, Catch::Equals("no snapshot 'clean': the image has none"));
}

TEST_CASE("qcow2: refusals and warnings name the feature", "[qcow2][errors]") {
    auto luks = open_qcow2("qcow2-luks.qcow2");
    REQUIRE_FALSE(luks);
    CHECK(luks.error().code == Errc::unsupported);
    CHECK_THAT(luks.error().message, Catch::Contains("encrypted (LUKS, crypt_method 2)"));

    std::vector<std::string> warnings;
    REQUIRE(open_qcow2("qcow2-dirty.qcow2", {}, {}, &warnings));
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("not closed cleanly"));

    auto missing = open_qcow2("qcow2-missing-backing.qcow2");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().to_string() ==
          "backing file " + fixture_path("qcow2-no-such-base.qcow2") + ": No such file or directory");

    auto loop = open_qcow2("qcow2-loop-a.qcow2");
    REQUIRE_FALSE(loop);
    CHECK_THAT(loop.error().to_string(), Catch::Contains("loop in the chain of images"));
}

TEST_CASE("qcow2: CVE-2010-3851, a raw disk holding a qcow2 header", "[qcow2][format]") {
    // Probed, the header wins: the disk is the host file it names.
    const DevicePtr probed = must_open("qcow2-trap.img");
    check_same_rows(scan(probed), scan(open_fixture("ext4-1k.img")));
    // --format=raw: the guest's own disk, and the named file is never read.
    auto raw = open_qcow2("qcow2-trap.img", {}, "raw");
    REQUIRE(raw);
    CHECK((*raw)->map_block(0).empty());  // the file itself, not a view
    check_same_rows(scan(*raw), scan(open_fixture("mbr-logical.img")));
}

// --- Images built or patched in memory --------------------------------------------

namespace {

/// What an image plugin gets from the core, with the backing file and data
/// file supplied by the test, and the requests recorded.
struct TestContext {
    std::vector<std::string> warnings;
    std::vector<std::pair<std::string, std::string>> backing_requests;
    DevicePtr backing, data_file;
    std::string snapshot;

    ImageContext make() {
        return ImageContext{
            .path = "test.qcow2",
            .snapshot = snapshot,
            .block_size = 0,
            .open_backing = [this](const std::string& name, std::string_view format) -> Result<DevicePtr> {
                backing_requests.emplace_back(name, std::string(format));
                if (!backing) return fail(Errc::io, "No such file or directory");
                return backing;
            },
            .open_file = [this](const std::string&) -> Result<DevicePtr> {
                if (!data_file) return fail(Errc::io, "No such file or directory");
                return data_file;
            },
            .warnings = warnings,
        };
    }
};

Result<DevicePtr> open_with(DevicePtr file, TestContext& tc) {
    return qcow2_plugin.open(std::move(file), tc.make());
}

void put_be(std::vector<std::byte>& bytes, std::uint64_t offset, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes[offset + i] = std::byte(v >> (8 * (n - 1 - i)) & 0xFF);
}

PatchedDevice& patch_be(PatchedDevice& dev, std::uint64_t offset, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
        dev.byte(offset + i, static_cast<std::uint8_t>(v >> (8 * (n - 1 - i)) & 0xFF));
    return dev;
}

std::uint64_t read_be(const Device& dev, std::uint64_t offset, int n = 8) {
    std::vector<std::byte> b(n);
    REQUIRE(dev.read(offset, b));
    std::uint64_t v = 0;
    for (std::byte x : b) v = v << 8 | static_cast<std::uint8_t>(x);
    return v;
}

/// A version 3 image: header (112 bytes, no extensions), one L1 entry at
/// cluster 1 pointing at the L2 table in cluster 2, data from cluster 3.
class Qcow2Builder {
public:
    Qcow2Builder(unsigned cluster_bits, std::uint64_t size, std::uint64_t incompatible = 0,
                 unsigned clusters = 8)
        : bits_(cluster_bits),
          cluster_(std::uint64_t{1} << cluster_bits),
          extended_((incompatible & 16) != 0),
          bytes_(cluster_ * clusters) {
        be(0, 0x514649FB, 4).be(4, 3, 4).be(20, bits_, 4).be(24, size, 8);
        be(36, 1, 4).be(40, cluster_, 8);  // l1_size, l1_table_offset
        be(72, incompatible, 8).be(96, 4, 4).be(100, 112, 4);
        be(cluster_, 2 * cluster_, 8);  // L1[0] -> L2 in cluster 2
    }
    Qcow2Builder& be(std::uint64_t offset, std::uint64_t v, int n) {
        put_be(bytes_, offset, v, n);
        return *this;
    }
    Qcow2Builder& fill(std::uint64_t offset, std::uint64_t length, std::uint8_t v) {
        std::memset(bytes_.data() + offset, v, length);
        return *this;
    }
    Qcow2Builder& put(std::uint64_t offset, std::span<const std::byte> data) {
        std::memcpy(bytes_.data() + offset, data.data(), data.size());
        return *this;
    }
    Qcow2Builder& l2(std::uint64_t index, std::uint64_t entry, std::uint64_t bitmap = 0) {
        const std::uint64_t at = 2 * cluster_ + index * (extended_ ? 16 : 8);
        be(at, entry, 8);
        if (extended_) be(at + 8, bitmap, 8);
        return *this;
    }
    /// A header extension at `offset` (112 for the first).
    Qcow2Builder& extension(std::uint64_t offset, std::uint32_t type, std::string_view data) {
        be(offset, type, 4).be(offset + 4, data.size(), 4);
        std::memcpy(bytes_.data() + offset + 8, data.data(), data.size());
        return *this;
    }
    std::uint64_t cluster(std::uint64_t n) const { return n * cluster_; }
    std::uint64_t cluster_size() const { return cluster_; }
    /// The descriptor of a compressed cluster at byte `host` spanning `sectors` 512-byte sectors.
    std::uint64_t compressed(std::uint64_t host, std::uint64_t sectors) const {
        return std::uint64_t{1} << 62 | (sectors - 1) << (62 - (bits_ - 8)) | host;
    }
    DevicePtr device() const { return std::make_shared<MemoryDevice>("test.qcow2", bytes_); }

private:
    unsigned bits_;
    std::uint64_t cluster_;
    bool extended_;
    std::vector<std::byte> bytes_;
};

std::vector<std::byte> read_all(const Device& dev, std::uint64_t offset, std::uint64_t length) {
    std::vector<std::byte> out(length);
    auto r = dev.read(offset, out);
    INFO((r ? "" : r.error().to_string()));
    REQUIRE(r);
    return out;
}

bool all_equal(std::span<const std::byte> bytes, std::uint8_t v) {
    return std::all_of(bytes.begin(), bytes.end(), [&](std::byte b) { return b == std::byte{v}; });
}

std::vector<std::byte> raw_deflate(std::span<const std::byte> in) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    std::vector<std::byte> out(deflateBound(&z, in.size()));
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::vector<std::byte> zstd_frame(std::span<const std::byte> in) {
    std::vector<std::byte> out(ZSTD_compressBound(in.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = std::byte(static_cast<std::uint8_t>(seed + i % 251));
    return v;
}

}  // namespace

TEST_CASE("qcow2: probe takes the magic, and only it", "[qcow2][probe]") {
    TestContext tc;
    Qcow2Builder b(16, 1 << 20);
    CHECK(*qcow2_plugin.probe(*b.device()) == kCertain);
    CHECK(*qcow2_plugin.probe(*open_fixture("ext4-1k.img")) == kNotMine);
    // Version 1 ("qcow") shares the magic: claimed, then refused by name.
    auto v1 = open_with(Qcow2Builder(16, 1 << 20).be(4, 1, 4).device(), tc);
    REQUIRE_FALSE(v1);
    CHECK_THAT(v1.error().message, Catch::Contains("version 1 (the older qcow format)"));
}

TEST_CASE("qcow2: standard L2 entries: data, zero flag over an offset, unallocated", "[qcow2][map]") {
    TestContext tc;
    Qcow2Builder b(16, 4 << 16);  // four clusters
    b.fill(b.cluster(3), b.cluster_size(), 0xAA).fill(b.cluster(4), b.cluster_size(), 0xBB);
    b.l2(0, b.cluster(3) | std::uint64_t{1} << 63);  // data
    b.l2(1, b.cluster(4) | 1);                       // zero flag over an offset: zeros
    b.l2(2, 1);                                      // zero, no offset
    // cluster 3 unallocated: the backing file, here shorter than the disk
    tc.backing =
        std::make_shared<MemoryDevice>("base", std::vector<std::byte>((3 << 16) + 100, std::byte{0xCC}));
    auto dev = open_with(b.device(), tc);
    REQUIRE(dev);  // no backing name: the context's backing is not used
    CHECK(tc.backing_requests.empty());
    const auto all = read_all(**dev, 0, 4 << 16);
    CHECK(all_equal(std::span(all).subspan(0, 1 << 16), 0xAA));
    CHECK(all_equal(std::span(all).subspan(1 << 16, 3 << 16), 0x00));

    // With a backing file (name, format from the extension).
    Qcow2Builder c(16, 4 << 16);
    c.extension(112, 0xE2792ACA, "raw").be(120 + 8, 0, 8);  // format extension, then the end
    c.be(8, 0x200, 8).be(16, 8, 4).put(0x200, std::as_bytes(std::span("base.img", 8)));
    c.fill(c.cluster(4), c.cluster_size(), 0xBB).l2(1, c.cluster(4) | 1);
    auto over = open_with(c.device(), tc);
    REQUIRE(over);
    REQUIRE(tc.backing_requests.size() == 1);
    CHECK(tc.backing_requests[0] == std::pair<std::string, std::string>{"base.img", "raw"});
    const auto mixed = read_all(**over, 0, 4 << 16);
    CHECK(all_equal(std::span(mixed).subspan(0, 1 << 16), 0xCC));        // unallocated: backing
    CHECK(all_equal(std::span(mixed).subspan(1 << 16, 1 << 16), 0x00));  // zero flag wins
    CHECK(all_equal(std::span(mixed).subspan(2 << 16, 1 << 16), 0xCC));
    CHECK(all_equal(std::span(mixed).subspan(3 << 16, 100), 0xCC));     // backing's last bytes
    CHECK(all_equal(std::span(mixed).subspan((3 << 16) + 100), 0x00));  // past its end: zeros
}

TEST_CASE("qcow2: extended L2 entries: each subcluster's state", "[qcow2][extl2]") {
    TestContext tc;
    Qcow2Builder b(14, 2 << 14, 16);  // 16 KiB clusters, 512-byte subclusters
    b.be(8, 0x200, 8).be(16, 4, 4).put(0x200, std::as_bytes(std::span("base", 4)));
    b.fill(b.cluster(3), b.cluster_size(), 0xAA);
    // Cluster 0: subclusters 0-1 allocated, 2 zero, the rest from backing.
    b.l2(0, b.cluster(3), 0b11 | std::uint64_t{0b100} << 32);
    // Cluster 1 unallocated: subcluster 5 zero, the rest from backing.
    b.l2(1, 0, std::uint64_t{1} << (32 + 5));
    tc.backing = std::make_shared<MemoryDevice>("base", std::vector<std::byte>(2 << 14, std::byte{0xCC}));
    auto dev = open_with(b.device(), tc);
    REQUIRE(dev);
    const auto all = read_all(**dev, 0, 2 << 14);
    CHECK(all_equal(std::span(all).subspan(0, 1024), 0xAA));
    CHECK(all_equal(std::span(all).subspan(1024, 512), 0x00));
    CHECK(all_equal(std::span(all).subspan(1536, (1 << 14) - 1536), 0xCC));
    CHECK(all_equal(std::span(all).subspan((1 << 14), 5 * 512), 0xCC));
    CHECK(all_equal(std::span(all).subspan((1 << 14) + 5 * 512, 512), 0x00));
    CHECK(all_equal(std::span(all).subspan((1 << 14) + 6 * 512), 0xCC));
    // A read from the middle of one subcluster into the next.
    const auto piece = read_all(**dev, 1000, 600);
    CHECK(all_equal(std::span(piece).first(24), 0xAA));
    CHECK(all_equal(std::span(piece).subspan(24, 512), 0x00));
    CHECK(all_equal(std::span(piece).subspan(536), 0xCC));

    // Allocated and zero at once, or allocated without a cluster: invalid.
    for (auto [entry, bitmap] :
         {std::pair<std::uint64_t, std::uint64_t>{b.cluster(3), 1 | std::uint64_t{1} << 32}, {0, 1}}) {
        Qcow2Builder bad(14, 2 << 14, 16);
        bad.l2(0, entry, bitmap);
        auto d = open_with(bad.device(), tc);
        REQUIRE(d);
        std::vector<std::byte> buf(512);
        auto r = (*d)->read(0, buf);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("invalid subcluster bitmap"));
        CHECK(r.error().offset == std::optional<std::uint64_t>(bad.cluster(2)));
    }

    // Extended L2 needs 16 KiB clusters.
    auto small = open_with(Qcow2Builder(13, 1 << 20, 16).device(), tc);
    REQUIRE_FALSE(small);
    CHECK_THAT(small.error().message, Catch::Contains("extended L2 entries with 8192-byte clusters"));
}

TEST_CASE("qcow2: compressed clusters must fill exactly one cluster", "[qcow2][compressed]") {
    TestContext tc;
    const auto full = pattern(1 << 16, 7);
    const auto read_cluster0 = [&](const std::vector<std::byte>& stream, bool zstd) {
        Qcow2Builder b(16, 1 << 16, zstd ? 8 : 0);
        if (zstd) b.be(104, 1, 1);
        const std::uint64_t host = b.cluster(3) + 100;  // compressed data is byte aligned
        b.put(host, stream);
        b.l2(0, b.compressed(host, (100 + stream.size() + 511) / 512));
        auto dev = open_with(b.device(), tc);
        REQUIRE(dev);
        std::vector<std::byte> out(1 << 16);
        auto r = (*dev)->read(0, out);
        return std::pair{r ? std::string() : r.error().message, out};
    };
    for (bool zstd : {false, true}) {
        INFO((zstd ? "zstd" : "deflate"));
        const auto compress = [&](std::span<const std::byte> in) {
            return zstd ? zstd_frame(in) : raw_deflate(in);
        };
        auto [ok, out] = read_cluster0(compress(full), zstd);
        CHECK(ok.empty());
        CHECK(out == full);
        auto [shorter, ignored1] = read_cluster0(compress(std::span(full).first(30000)), zstd);
        CHECK_THAT(shorter, Catch::Contains(zstd ? "zstd" : "inflates to 30000 bytes, not 65536"));
        const auto big = pattern((1 << 16) + 1, 7);
        auto [longer, ignored2] = read_cluster0(compress(big), zstd);
        CHECK_THAT(longer, Catch::Contains("to more than 65536 bytes"));
        auto stream = compress(full);
        for (std::size_t i = 0; i < stream.size(); i += 3) stream[i] = ~stream[i];
        auto [garbage, ignored3] = read_cluster0(stream, zstd);
        CHECK_FALSE(garbage.empty());
    }
    // zstd: two frames that fill the cluster together.
    auto two = zstd_frame(std::span(full).first(40000));
    const auto second = zstd_frame(std::span(full).subspan(40000));
    two.insert(two.end(), second.begin(), second.end());
    auto [ok2, out2] = read_cluster0(two, true);
    CHECK(ok2.empty());
    CHECK(out2 == full);
}

TEST_CASE("qcow2: external data file, host offset 0 with the COPIED bit", "[qcow2][datafile]") {
    TestContext tc;
    Qcow2Builder b(16, 2 << 16, 4);
    b.extension(112, 0x44415441, "disk.data");
    b.l2(0, std::uint64_t{1} << 63);            // offset 0, COPIED: data file at 0
    b.l2(1, std::uint64_t{1} << 62 | 0x30000);  // compressed: not allowed with a data file
    auto missing = open_with(b.device(), tc);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message == "No such file or directory");
    tc.data_file = std::make_shared<MemoryDevice>("disk.data", pattern(1 << 16, 3));  // shorter than the disk
    auto dev = open_with(b.device(), tc);
    REQUIRE(dev);
    CHECK(read_all(**dev, 0, 1 << 16) == pattern(1 << 16, 3));
    std::vector<std::byte> buf(512);
    auto r = (*dev)->read(1 << 16, buf);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message,
               Catch::Contains("compressed cluster at guest offset 0x10000 with an external data file"));

    Qcow2Builder unnamed(16, 2 << 16, 4);
    auto no_name = open_with(unnamed.device(), tc);
    REQUIRE_FALSE(no_name);
    CHECK_THAT(no_name.error().message, Catch::Contains("does not name"));
}

TEST_CASE("qcow2: header fields out of range are refused with their offsets", "[qcow2][corrupt]") {
    TestContext tc;
    struct Case {
        const char* what;
        std::uint64_t offset;
        std::uint64_t value;
        int width;
        Errc code;
        const char* message;
    };
    const Case cases[] = {
        {"version 4", 4, 4, 4, Errc::unsupported, "qcow2 version 4 is not supported"},
        {"cluster_bits 8", 20, 8, 4, Errc::corrupt, "cluster_bits 8 below the minimum of 9"},
        {"cluster_bits 22", 20, 22, 4, Errc::unsupported, "clusters over 2 MiB"},
        {"AES", 32, 1, 4, Errc::unsupported, "encrypted (AES, crypt_method 1)"},
        {"LUKS", 32, 2, 4, Errc::unsupported, "encrypted (LUKS, crypt_method 2)"},
        {"crypt_method 9", 32, 9, 4, Errc::corrupt, "unknown crypt_method 9"},
        {"l1_size huge", 36, 0xFFFFFFFF, 4, Errc::corrupt, "l1_size 4294967295 above the limit of 4194304"},
        {"L1 unaligned", 40, 0x30200, 8, Errc::corrupt, "L1 table offset 0x30200 is not cluster aligned"},
        {"header_length 100", 100, 100, 4, Errc::corrupt, "header_length 100 out of range"},
        {"header_length odd", 100, 105, 4, Errc::corrupt, "header_length 105 out of range"},
        {"refcount_order 7", 96, 7, 4, Errc::corrupt, "refcount_order 7 above 6"},
        {"nb_snapshots", 60, 70000, 4, Errc::corrupt, "nb_snapshots 70000 above the limit of 65536"},
        {"backing name long", 16, 2000, 4, Errc::corrupt, "backing file name (2000 bytes"},
        {"unknown feature", 72, std::uint64_t{1} << 40, 8, Errc::unsupported,
         "unsupported incompatible feature: bit 40"},
        {"zstd without the bit", 104, 1, 1, Errc::corrupt,
         "compression_type 1 without the compression type bit"},
        {"size", 24, std::uint64_t{1} << 63, 8, Errc::corrupt,
         "virtual size 9223372036854775808 out of range"},
    };
    const DevicePtr base = open_fixture("qcow2-v3.qcow2");
    REQUIRE(read_be(*base, 100, 4) == 112);  // qemu-img's v3 header_length
    for (const Case& c : cases) {
        INFO(c.what);
        auto dev = std::make_shared<PatchedDevice>(base);
        if (std::string_view(c.what) == "backing name long") patch_be(*dev, 8, 0x1000, 8);
        patch_be(*dev, c.offset, c.value, c.width);
        auto r = open_with(dev, tc);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == c.code);
        CHECK_THAT(r.error().message, Catch::Contains(c.message));
        CHECK(r.error().offset.has_value());
    }
}

TEST_CASE("qcow2: unknown incompatible features are named from the feature table", "[qcow2][corrupt]") {
    TestContext tc;
    Qcow2Builder b(16, 1 << 20, std::uint64_t{1} << 5 | std::uint64_t{1} << 63);
    std::string table(96, '\0');
    table[0] = 0, table[1] = 5;
    table.replace(2, 11, "fancy thing");
    table[48] = 1, table[49] = 63;  // a compatible feature's name: not this one
    table.replace(50, 5, "other");
    b.extension(112, 0x6803F857, table);
    auto r = open_with(b.device(), tc);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "unsupported incompatible features: fancy thing (bit 5), bit 63");
    CHECK(r.error().offset == std::optional<std::uint64_t>(72));

    // The dirty and corrupt bits only warn.
    Qcow2Builder warned(16, 1 << 20, 3);
    REQUIRE(open_with(warned.device(), tc));
    REQUIRE(tc.warnings.size() == 2);
    CHECK_THAT(tc.warnings[0], Catch::Contains("not closed cleanly"));
    CHECK_THAT(tc.warnings[1], Catch::Contains("marked corrupt"));
}

TEST_CASE("qcow2: tables pointing past the end of the file or off cluster boundaries", "[qcow2][corrupt]") {
    TestContext tc;
    const DevicePtr base = open_fixture("qcow2-v3.qcow2");
    const std::uint64_t l1 = read_be(*base, 40);
    const std::uint64_t l2 = read_be(*base, l1) & 0x00FFFFFFFFFFFE00;
    REQUIRE(l2 != 0);

    auto past = std::make_shared<PatchedDevice>(base);
    patch_be(*past, l1, std::uint64_t{1} << 63 | 0x7FFF0000, 8);
    auto r = open_with(past, tc);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message,
               Catch::StartsWith("L1 entry 0: L2 table at 0x7fff0000 runs past the end of the file"));
    CHECK(r.error().offset == std::optional<std::uint64_t>(l1));

    auto unaligned = std::make_shared<PatchedDevice>(base);
    patch_be(*unaligned, l1, l2 + 512, 8);
    r = open_with(unaligned, tc);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("is not cluster aligned"));

    // An L2 entry (guest cluster 0: the MBR) past the end: the read fails.
    auto data_past = std::make_shared<PatchedDevice>(base);
    patch_be(*data_past, l2, std::uint64_t{1} << 63 | 0x10000000000, 8);
    auto dev = open_with(data_past, tc);
    REQUIRE(dev);
    std::vector<std::byte> sector(512);
    auto rr = (*dev)->read(0, sector);
    REQUIRE_FALSE(rr);
    CHECK_THAT(rr.error().message, Catch::Contains("cluster at 0x10000000000 is past the end of the file"));
    CHECK(rr.error().offset == std::optional<std::uint64_t>(l2));
    // ... and the scan reports no rows instead of crashing.
    CHECK(scan(*dev).rows.empty());

    auto data_unaligned = std::make_shared<PatchedDevice>(base);
    patch_be(*data_unaligned, l2, (read_be(*base, l2) & 0x00FFFFFFFFFFFE00) + 512, 8);
    dev = open_with(data_unaligned, tc);
    REQUIRE(dev);
    rr = (*dev)->read(0, sector);
    REQUIRE_FALSE(rr);
    CHECK_THAT(rr.error().message, Catch::Contains("is not cluster aligned"));

    // A huge disk with the largest L1 allowed: the table would run past
    // the end of the file, which is checked before anything is allocated.
    auto huge = std::make_shared<PatchedDevice>(base);
    patch_be(*huge, 24, std::uint64_t{1} << 60, 8);
    patch_be(*huge, 36, 4u << 20, 4);
    r = open_with(huge, tc);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::truncated);
    CHECK_THAT(r.error().message, Catch::Contains("L1 table (4194304 entries at"));
}

TEST_CASE("qcow2: truncated files", "[qcow2][corrupt]") {
    TestContext tc;
    const DevicePtr base = open_fixture("qcow2-v3.qcow2");
    const std::uint64_t l1 = read_be(*base, 40);
    for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{50}, std::uint64_t{100}, l1 + 4}) {
        INFO("cut at " << size);
        auto r = open_with(std::make_shared<PatchedDevice>(base, size), tc);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::truncated);
    }
    // Cut after the L1 table, in the middle of the data: the open works, and
    // the clusters past the end are errors, not zeros.
    auto cut = std::make_shared<PatchedDevice>(base, base->size() / 2);
    auto dev = open_with(cut, tc);
    if (dev) {
        std::vector<std::byte> buf(1 << 20);
        bool failed = false;
        for (std::uint64_t off = 0; off < (*dev)->size() && !failed; off += buf.size())
            failed = !(*dev)->read(off, buf);
        CHECK(failed);
    } else {
        CHECK(dev.error().code == Errc::corrupt);  // an L2 table was cut off
    }
}

TEST_CASE("qcow2: damaged compressed clusters are read errors", "[qcow2][compressed][corrupt]") {
    TestContext tc;
    for (const char* name : {"qcow2-zlib.qcow2", "qcow2-zstd.qcow2"}) {
        INFO(name);
        const DevicePtr base = open_fixture(name);
        const std::uint64_t l1 = read_be(*base, 40);
        const std::uint64_t l2 = read_be(*base, l1) & 0x00FFFFFFFFFFFE00;
        // The first compressed cluster whose data spans several sectors.
        std::uint64_t index = 0, entry = 0;
        for (; index < 8192; ++index) {
            entry = read_be(*base, l2 + 8 * index);
            if ((entry >> 62 & 1) == 1 && (entry >> 54 & 0xFF) >= 2) break;
        }
        REQUIRE(index < 8192);
        const std::uint64_t guest = index << 16, l2_at = l2 + 8 * index;
        const std::string where = fmt::format("compressed cluster for guest offset {:#x}", guest);
        const std::uint64_t host = entry & ((std::uint64_t{1} << 54) - 1);
        auto dev = std::make_shared<PatchedDevice>(base);
        for (std::uint64_t i = 0; i < 64; ++i) dev->byte(host + i, static_cast<std::uint8_t>(0xA5 ^ i));
        auto opened = open_with(dev, tc);
        REQUIRE(opened);
        std::vector<std::byte> sector(512);
        auto r = (*opened)->read(guest, sector);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::StartsWith(where));

        // One sector of a longer stream: the data ends early.
        auto shortened = std::make_shared<PatchedDevice>(base);
        patch_be(*shortened, l2_at, entry & ~(std::uint64_t{0xFF} << 54), 8);
        opened = open_with(shortened, tc);
        REQUIRE(opened);
        r = (*opened)->read(guest, sector);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::StartsWith(where));
    }
}

TEST_CASE("qcow2: random damage to the metadata never crashes", "[qcow2][corrupt][fuzz]") {
    std::mt19937_64 rng(20261122);
    for (const char* name : {"qcow2-zlib.qcow2", "qcow2-extl2.qcow2", "qcow2-snapshot.qcow2"}) {
        const DevicePtr base = open_fixture(name);
        const std::uint64_t metadata_end = std::min<std::uint64_t>(base->size(), 0x60000);
        for (int round = 0; round < 100; ++round) {
            TestContext tc;
            tc.snapshot = round % 3 == 0 && std::string_view(name) == "qcow2-snapshot.qcow2" ? "1" : "";
            auto dev = std::make_shared<PatchedDevice>(base);
            const int changes = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < changes; ++i)
                dev->byte(rng() % metadata_end, static_cast<std::uint8_t>(rng()));
            auto opened = open_with(dev, tc);
            if (opened) CHECK(scan(*opened).rows.size() <= 8);
        }
    }
}
