// SPDX-License-Identifier: GPL-2.0-or-later
// ploop / Parallels: images and snapshot chains made from kernel-checked raw
// disks (data/fixtures.d/ploop.sh) read back byte for byte and give the
// kernel's figures; hostile headers, BATs and descriptors fail cleanly.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "core/image.hpp"
#include "core/scan.hpp"
#include "plugins/image/ploop.hpp"
#include "support/fixtures.hpp"
#include "support/patched_device.hpp"

using namespace vmdf;
using namespace vmdf::test;

namespace {

constexpr std::uint64_t kMiB = 1 << 20;
const std::string kGuidA = "{5644460a-0000-4000-c000-00000000000a}";
const std::string kGuidB = "{5644460a-0000-4000-c000-00000000000b}";
const std::string kGuidC = "{5644460a-0000-4000-c000-00000000000c}";
const std::string kZeroGuid = "{00000000-0000-0000-0000-000000000000}";
// The raw disks the ploop fixtures hold (see data/fixtures.d/ploop.sh).
const std::string kStateA = "gpt-512.img";
const std::string kStateB = "ploop-state-b.img";
const std::string kStateC = "ploop-state-c.img";

Result<DevicePtr> open_path(const std::string& path, std::vector<std::string>& warnings,
                            const std::string& snapshot = "", const std::string& format = "") {
    return open_image(ImageRequest{path, format, 0, snapshot}, builtin_plugins().images, warnings);
}

DevicePtr open_ok(const std::string& path, const std::string& snapshot = "", const std::string& format = "") {
    std::vector<std::string> warnings;
    auto dev = open_path(path, warnings, snapshot, format);
    INFO(path << " --snapshot=" << snapshot << " --format=" << format);
    if (!dev) FAIL(dev.error().to_string());
    return *dev;
}

std::string open_error(const std::string& path, const std::string& snapshot = "") {
    std::vector<std::string> warnings;
    auto dev = open_path(path, warnings, snapshot);
    INFO(path);
    REQUIRE_FALSE(dev);
    return dev.error().to_string();
}

void check_same_bytes(const Device& ploop, const Device& raw) {
    REQUIRE(ploop.size() == raw.size());
    std::vector<std::byte> a(kMiB), b(kMiB);
    for (std::uint64_t off = 0; off < raw.size(); off += kMiB) {
        const auto n = static_cast<std::size_t>(std::min(kMiB, raw.size() - off));
        const auto ra = ploop.read(off, std::span(a).first(n));
        if (!ra) FAIL(ra.error().to_string());
        REQUIRE(raw.read(off, std::span(b).first(n)));
        if (std::memcmp(a.data(), b.data(), n) != 0) FAIL("bytes differ in MiB " << off / kMiB);
    }
}

/// The rows of a scan of `dev` equal the kernel's figures for `raw`.
void check_kernel_figures(DevicePtr dev, const std::string& raw) {
    std::vector<GuestDisk> disks{{"ploop", std::move(dev)}};
    const ScanReport report = scan_guest(disks, builtin_plugins());
    std::vector<KernelRecord> wanted;
    for (const KernelRecord& r : kernel_records())
        if (r.image == raw) wanted.push_back(r);
    REQUIRE(wanted.size() == 3);  // p2 ext4, p4 ext3, p5 ext4 (p3 is swap)
    REQUIRE(report.rows.size() == wanted.size());
    for (const KernelRecord& r : wanted) {
        INFO(raw << " " << r.device);
        auto row = std::find_if(report.rows.begin(), report.rows.end(),
                                [&](const FilesystemRow& f) { return f.device == r.device; });
        REQUIRE(row != report.rows.end());
        CHECK(row->stat == r.stat);
    }
}

/// ploop_plugin.open on a device of its own, with no other files.
Result<DevicePtr> open_device(DevicePtr dev, std::vector<std::string>& warnings) {
    const ImageContext context{
        .path = "patched.hds",
        .snapshot = {},
        .block_size = 0,
        .open_backing = [](const std::string&, std::string_view) -> Result<DevicePtr> {
            return fail(Errc::io, "no backing files here");
        },
        .open_file = [](const std::string&) -> Result<DevicePtr> { return fail(Errc::io, "no files here"); },
        .warnings = warnings,
    };
    return ploop_plugin.open(std::move(dev), context);
}

/// ploop_plugin.open on a device that must open.
DevicePtr open_device_ok(DevicePtr dev) {
    std::vector<std::string> warnings;
    auto opened = open_device(std::move(dev), warnings);
    if (!opened) FAIL(opened.error().to_string());
    return *opened;
}

std::shared_ptr<PatchedDevice> patched(const std::string& fixture, std::uint64_t size = UINT64_MAX) {
    return std::make_shared<PatchedDevice>(open_fixture(fixture), size);
}

void le64(PatchedDevice& dev, std::uint64_t offset, std::uint64_t value) {
    dev.le32(offset, static_cast<std::uint32_t>(value))
        .le32(offset + 4, static_cast<std::uint32_t>(value >> 32));
}

std::string open_device_error(DevicePtr dev, Errc code) {
    std::vector<std::string> warnings;
    auto opened = open_device(std::move(dev), warnings);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == code);
    return opened.error().to_string();
}

/// A directory of DiskDescriptor.xml files, removed afterwards.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("virt-df-ploop-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// Writes `text` as NAME in the directory; returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        const auto file = path_ / name;
        std::ofstream(file, std::ios::binary) << text;
        return file.string();
    }
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

struct Image {
    std::string guid, type, file;
};
struct ShotSpec {
    std::string guid, parent;
};

std::vector<Image> chain_images() {
    return {{kGuidA, "Plain", fixture_path("ploop-root.hdd/root.hds")},
            {kGuidB, "Compressed", fixture_path("ploop-root.hdd/root.hds." + kGuidB)},
            {kGuidC, "Compressed", fixture_path("ploop-root.hdd/root.hds." + kGuidC)}};
}
std::vector<ShotSpec> chain_shots() { return {{kGuidA, kZeroGuid}, {kGuidB, kGuidA}, {kGuidC, kGuidB}}; }

/// A DiskDescriptor.xml as ploop writes it. `top` empty: no <TopGUID>.
std::string descriptor(const std::vector<Image>& images = chain_images(),
                       const std::vector<ShotSpec>& shots = chain_shots(), const std::string& top = kGuidC,
                       const std::string& disk_size = "524288", const std::string& extra_params = "",
                       const std::string& extra_storage_data = "") {
    std::string xml = "<?xml version=\"1.0\"?>\n<Virtuozzo_disk_image>\n <Disk_Parameters>\n"
                      "  <Disk_size>" + disk_size + "</Disk_size>\n  <Padding>0</Padding>\n" + extra_params +
                      " </Disk_Parameters>\n <StorageData>\n" + extra_storage_data +
                      "  <Storage>\n   <Blocksize>2048</Blocksize>\n";
    for (const Image& i : images)
        xml += "   <Image><GUID>" + i.guid + "</GUID><Type>" + i.type + "</Type><File>" + i.file +
               "</File></Image>\n";
    xml += "  </Storage>\n </StorageData>\n <Snapshots>\n";
    if (!top.empty()) xml += "  <TopGUID>" + top + "</TopGUID>\n";
    for (const ShotSpec& s : shots)
        xml += "  <Shot><GUID>" + s.guid + "</GUID><ParentGUID>" + s.parent + "</ParentGUID></Shot>\n";
    return xml + " </Snapshots>\n</Virtuozzo_disk_image>\n";
}

Score probe_text(const std::string& text, const std::string& name = "root.hdd/DiskDescriptor.xml") {
    const MemoryDevice dev(
        name, std::vector<std::byte>(reinterpret_cast<const std::byte*>(text.data()),
                                        reinterpret_cast<const std::byte*>(text.data()) + text.size()));
    auto score = ploop_plugin.probe(dev);
    REQUIRE(score);
    return *score;
}

}  // namespace

// --- real images against the raw disks they were made from --------------------------

TEST_CASE("ploop: every image and snapshot reads as its raw disk, byte for byte", "[ploop]") {
    struct Case {
        std::string path, snapshot, raw;
    };
    const Case cases[] = {
        {"ploop-v2.hds", "", kStateC},           // qemu-img's v2, 1 MiB clusters
        {"ploop-v1.hds", "", kStateB},           // v1: BAT in sectors
        {"ploop-v1-63.hds", "", kStateA},        // v1, 63-sector clusters, data offset 0
        {"ploop-root.hdd", "", kStateC},         // Plain base + 2 deltas
        {"ploop-root.hdd", kGuidB, kStateB},     // the middle snapshot
        {"ploop-root.hdd", kGuidA, kStateA},     // the base alone
        {"ploop-compressed.hdd", "", kStateC},   // Compressed base
    };
    for (const Case& c : cases) {
        INFO(c.path << " --snapshot=" << c.snapshot);
        check_same_bytes(*open_ok(fixture_path(c.path), c.snapshot), *open_fixture(c.raw));
    }
}

TEST_CASE("ploop: unaligned reads across clusters and deltas equal the raw disk's", "[ploop]") {
    std::mt19937_64 rng(3);
    const auto raw = open_fixture(kStateC);
    for (const char* path : {"ploop-v2.hds", "ploop-root.hdd", "ploop-compressed.hdd"}) {
        const auto dev = open_ok(fixture_path(path));
        for (int i = 0; i < 200; ++i) {
            const std::uint64_t length = 1 + rng() % (3 * kMiB);
            const std::uint64_t offset = rng() % (raw->size() - length);
            std::vector<std::byte> a(length), b(length);
            REQUIRE(dev->read(offset, a));
            REQUIRE(raw->read(offset, b));
            INFO(path << " offset " << offset << " length " << length);
            REQUIRE(a == b);
        }
    }
    const auto a = open_fixture(kStateA);
    const auto v63 = open_ok(fixture_path("ploop-v1-63.hds"));
    for (int i = 0; i < 200; ++i) {
        const std::uint64_t length = 1 + rng() % 100000;
        const std::uint64_t offset = rng() % (a->size() - length);
        std::vector<std::byte> x(length), y(length);
        REQUIRE(v63->read(offset, x));
        REQUIRE(a->read(offset, y));
        REQUIRE(x == y);
    }
}

TEST_CASE("ploop: figures equal the kernel's for the raw disk behind each image", "[ploop][kernel]") {
    struct Case {
        std::string path, snapshot, format, raw;
    };
    const Case cases[] = {
        {"ploop-v2.hds", "", "", kStateC},
        {"ploop-v2.hds", "", "parallels", kStateC},
        {"ploop-v1.hds", "", "ploop", kStateB},
        {"ploop-v1-63.hds", "", "", kStateA},
        {"ploop-dirty.hds", "", "", kStateC},
        {"ploop-root.hdd", "", "", kStateC},
        {"ploop-root.hdd/", "", "parallels", kStateC},
        {"ploop-root.hdd/DiskDescriptor.xml", "", "", kStateC},
        {"ploop-root.hdd", kGuidC, "", kStateC},
        {"ploop-root.hdd", kGuidB, "", kStateB},
        // GUIDs match without braces and in any case.
        {"ploop-root.hdd", "5644460A-0000-4000-C000-00000000000A", "", kStateA},
        {"ploop-compressed.hdd/", "", "ploop", kStateC},
        {"ploop-compressed.hdd", "5644460a-0000-4000-c000-00000000000b", "", kStateB},
        {"ploop-compressed.hdd", kGuidA, "", kStateA},
    };
    for (const Case& c : cases) {
        INFO(c.path << " --snapshot=" << c.snapshot << " --format=" << c.format);
        check_kernel_figures(open_ok(fixture_path(c.path), c.snapshot, c.format), c.raw);
    }
}

TEST_CASE("ploop: an image in use opens with a warning", "[ploop]") {
    std::vector<std::string> warnings;
    auto dev = open_path(fixture_path("ploop-dirty.hds"), warnings);
    REQUIRE(dev);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("in use or was not closed cleanly"));
    warnings.clear();
    REQUIRE(open_path(fixture_path("ploop-v2.hds"), warnings));
    CHECK(warnings.empty());
}

TEST_CASE("ploop: the probe claims both signatures and descriptors, nothing else", "[ploop]") {
    for (const char* image : {"ploop-v1.hds", "ploop-v2.hds", "ploop-root.hdd/DiskDescriptor.xml",
                              "ploop-compressed.hdd/DiskDescriptor.xml"}) {
        INFO(image);
        CHECK(ploop_plugin.probe(*open_fixture(image)).value() == kCertain);
    }
    for (const char* image : {"gpt-512.img", "ploop-root.hdd/root.hds", "ext4-1k.img"}) {
        INFO(image);
        CHECK(ploop_plugin.probe(*open_fixture(image)).value() == kNotMine);
    }
    CHECK(probe_text("\xEF\xBB\xBF \n<Anything><StorageData>") == kCertain);
    CHECK(probe_text("<!-- x --><a>\n<StorageData\n/></a>") == kCertain);
    CHECK(probe_text("<domain type='kvm'><devices/></domain>") == kNotMine);
    CHECK(probe_text("<a>StorageData</a>") == kNotMine);
    CHECK(probe_text("<a><StorageDataX/></a>") == kNotMine);
    CHECK(probe_text("x<a><StorageData/></a>") == kNotMine);
    CHECK(probe_text("") == kNotMine);
    CHECK(probe_text("Without") == kNotMine);
    // Only a file named *.xml is taken for a descriptor (see the next case).
    CHECK(probe_text("<a><StorageData/></a>", "x.xml") == kCertain);
    CHECK(probe_text("<a><StorageData/></a>", "disk.img") == kNotMine);
}

TEST_CASE("ploop: a descriptor is detected by its name too, as ploop's tools do", "[ploop]") {
    // A guest may write a descriptor to the start of its raw disk, naming
    // host files; it cannot rename the disk. --format=ploop opens any name.
    TempDir dir;
    const std::string disk = dir.write("guest.img", descriptor());
    CHECK(open_ok(disk)->size() == descriptor().size());  // raw: the XML's own bytes
    check_kernel_figures(open_ok(disk, "", "ploop"), kStateC);
    check_kernel_figures(open_ok(disk, "", "parallels"), kStateC);
}

TEST_CASE("ploop: where the bytes of a chain come from", "[ploop]") {
    const auto dev = open_ok(fixture_path("ploop-root.hdd"));
    // The GPT is the same in all three states: the base's raw file holds it.
    const auto chain = dev->map_block(512);
    REQUIRE(chain.size() >= 2);
    CHECK(chain.back().offset == 512);
    CHECK_THAT(chain.back().device->name(), Catch::EndsWith("ploop-root.hdd/root.hds"));
    CHECK(dev->contiguous(512) == kMiB - 512);
    CHECK(dev->contiguous(dev->size() - 1) == 1);
    CHECK(dev->contiguous(dev->size()) == 0);
    // Somewhere C changed p4: a cluster the top delta holds.
    bool found = false;
    for (std::uint64_t off = 0; off < dev->size() && !found; off += kMiB) {
        const auto at = dev->map_block(off);
        found = !at.empty() && at.front().device->name().ends_with("root.hds." + kGuidC);
    }
    CHECK(found);
}

TEST_CASE("ploop: snapshot errors", "[ploop]") {
    CHECK_THAT(open_error(fixture_path("ploop-root.hdd"), "{nope}"),
               Catch::Contains("no snapshot {nope} (the snapshots are " + kGuidA + ", " + kGuidB + ", " +
                               kGuidC + ")"));
    CHECK_THAT(open_error(fixture_path("ploop-v2.hds"), kGuidA),
               Catch::Contains("a single ploop image has no snapshots"));
}

// --- hostile headers and BATs ------------------------------------------------------

TEST_CASE("ploop: bad header fields are refused with their offsets", "[ploop][corrupt]") {
    struct Patch {
        std::uint64_t offset;
        std::uint32_t value;
        Errc code;
        std::string expected;
    };
    const Patch patches[] = {
        {28, 0, Errc::corrupt, "@0x1c: m_Sectors 0 (the cluster size in sectors) out of range (1 to 131072)"},
        {28, 0x80000000u, Errc::corrupt, "m_Sectors 2147483648"},
        {28, 262144, Errc::corrupt, "m_Sectors 262144"},  // 128 MiB: one step past ploop's limit
        {16, 3, Errc::unsupported, "@0x10: m_Type 3"},
        {52, 2, Errc::unsupported, "CIF_FmtVersionConvert"},
        {48, 0, Errc::corrupt, "m_FirstBlockOffset is 0 in a v2 image"},
        {48, 1, Errc::corrupt, "the data area (byte 512) starts inside the BAT"},
        {48, 0xFFFFFFFFu, Errc::truncated, "starts past the end of the file"},
        {0, 0x58585858, Errc::corrupt, "neither a ploop image"},  // no signature
    };
    for (const Patch& patch : patches) {
        INFO(patch.expected);
        auto p = patched("ploop-v2.hds");
        p->le32(patch.offset, patch.value);
        CHECK_THAT(open_device_error(p, patch.code), Catch::Contains(patch.expected));
    }
    auto p = patched("ploop-v2.hds");
    le64(*p, 36, std::uint64_t{1} << 63);
    CHECK_THAT(open_device_error(p, Errc::corrupt),
               Catch::Contains("m_SizeInSectors 9223372036854775808 is too large"));
}

TEST_CASE("ploop: truncated headers and BATs", "[ploop][corrupt]") {
    CHECK_THAT(open_device_error(patched("ploop-v2.hds", 10), Errc::corrupt), Catch::Contains("neither"));
    CHECK_THAT(open_device_error(patched("ploop-v2.hds", 63), Errc::truncated),
               Catch::Contains("runs past the end"));
    // 256 entries end at byte 1088.
    CHECK_THAT(
        open_device_error(patched("ploop-v2.hds", 1000), Errc::truncated),
        Catch::Contains("the BAT (256 entries, to byte 1088) runs past the end of the file (1000 bytes)"));
    // A BAT of 2^32 - 1 entries for a 512 TiB disk: refused for the file's
    // size, not allocated.
    auto p = patched("ploop-v2.hds");
    p->le32(32, 0xFFFFFFFFu);
    le64(*p, 36, std::uint64_t{1} << 40);
    CHECK_THAT(open_device_error(p, Errc::truncated), Catch::Contains("runs past the end of the file"));
}

TEST_CASE("ploop: a disk larger than its BAT reads zeros past it, in bounded memory", "[ploop][corrupt]") {
    auto p = patched("ploop-v2.hds");
    le64(*p, 36, std::uint64_t{1} << 40);  // 512 TiB; the BAT still has 256 entries
    const auto dev = open_device_ok(p);
    CHECK(dev->size() == std::uint64_t{1} << 49);
    std::vector<std::byte> tail(4096, std::byte{1});
    REQUIRE(dev->read(dev->size() - tail.size(), tail));
    CHECK(std::all_of(tail.begin(), tail.end(), [](std::byte b) { return b == std::byte{0}; }));
    std::vector<std::byte> head(4096), raw(4096);
    REQUIRE(dev->read(0, head));
    REQUIRE(open_fixture(kStateC)->read(0, raw));
    CHECK(head == raw);
}

TEST_CASE("ploop: BAT entries outside the data area fail the read, not the scan", "[ploop][corrupt]") {
    std::vector<std::byte> buf(512);
    SECTION("past the end of the file (v2, in clusters)") {
        auto p = patched("ploop-v2.hds");
        p->le32(64, 0x100000);  // cluster 2^20: 1 TiB into a 30 MiB file
        const auto dev = open_device_ok(p);
        auto read = dev->read(0, buf);
        REQUIRE_FALSE(read);
        CHECK(read.error().code == Errc::corrupt);
        CHECK(read.error().offset == 64u);
        CHECK_THAT(read.error().message,
                   Catch::Contains("BAT entry 0 (1048576) points at bytes 1099511627776"));
        CHECK_THAT(read.error().message, Catch::Contains("past the end of the file"));
        // The rest of the disk still reads.
        REQUIRE(dev->read(40 * kMiB, buf));
        std::vector<GuestDisk> disks{{"bad", dev}};
        const ScanReport report = scan_guest(disks, builtin_plugins());
        CHECK(report.rows.empty());  // no partition table without sector 0
    }
    SECTION("into the header (v1, in sectors)") {
        auto p = patched("ploop-v1.hds");
        p->le32(64, 1);  // sector 1: the BAT itself
        auto read = open_device_ok(p)->read(0, buf);
        REQUIRE_FALSE(read);
        CHECK_THAT(read.error().message, Catch::Contains("before the data area"));
    }
    SECTION("a file cut short in its data area") {
        const auto cut = open_device_ok(patched("ploop-v2.hds", 20 * kMiB));
        std::vector<GuestDisk> disks{{"cut", cut}};
        (void)scan_guest(disks, builtin_plugins());  // must not crash
        std::vector<std::byte> mib(kMiB);
        bool failed = false;
        for (std::uint64_t off = 0; off < cut->size(); off += kMiB) failed |= !cut->read(off, mib);
        CHECK(failed);
    }
}

TEST_CASE("ploop: v1 ignores the high half of m_SizeInSectors", "[ploop]") {
    auto p = patched("ploop-v1.hds");
    p->le32(40, 0xFFFFFFFFu);  // ploop_pvd_header's Unused
    CHECK(open_device_ok(p)->size() == 256 * kMiB);
}

TEST_CASE("ploop: the BAT cache is bounded and refills correctly", "[ploop]") {
    // 512-byte clusters, 4097 chunks of 1024 entries: touching one cluster
    // in each chunk overflows the cache of 4096 chunks once.
    constexpr std::uint64_t entries = 4097 * 1024;
    constexpr std::uint64_t data = (64 + 4 * entries + 511) / 512 * 512;
    std::vector<std::byte> file(data + 2 * 512);
    auto put32 = [&](std::uint64_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) file[at + i] = std::byte(v >> (8 * i) & 0xFF);
    };
    std::memcpy(file.data(), "WithouFreSpacExt", 16);
    put32(16, 2);                                    // m_Type
    put32(28, 1);                                    // m_Sectors: 512-byte clusters
    put32(32, static_cast<std::uint32_t>(entries));  // m_Size
    put32(36, static_cast<std::uint32_t>(entries));  // m_SizeInSectors
    put32(48, static_cast<std::uint32_t>(data / 512));
    put32(64, static_cast<std::uint32_t>(data / 512));                      // cluster 0
    put32(64 + 4 * (entries - 1), static_cast<std::uint32_t>(data / 512 + 1));  // the last one
    file[data] = std::byte{0xA0};
    file[data + 512] = std::byte{0xA1};
    const auto dev = open_device_ok(std::make_shared<MemoryDevice>("cache.hds", std::move(file)));
    std::vector<std::byte> b(1);
    for (std::uint64_t chunk = 0; chunk < 4097; ++chunk) {
        REQUIRE(dev->read(chunk * 1024 * 512, b));
        CHECK(b[0] == (chunk == 0 ? std::byte{0xA0} : std::byte{0}));
    }
    REQUIRE(dev->read(0, b));
    CHECK(b[0] == std::byte{0xA0});
    REQUIRE(dev->read((entries - 1) * 512, b));
    CHECK(b[0] == std::byte{0xA1});
}

// --- DiskDescriptor.xml ----------------------------------------------------------------

TEST_CASE("ploop: descriptors with absolute paths, mixed versions and cluster sizes", "[ploop]") {
    TempDir dir;
    SECTION("absolute paths") {
        dir.write("DiskDescriptor.xml", descriptor());
        check_same_bytes(*open_ok(dir.path()), *open_fixture(kStateC));
    }
    SECTION("a v1 base of 63-sector clusters under v2 deltas of 1 MiB") {
        auto images = chain_images();
        images[0] = {kGuidA, "Compressed", fixture_path("ploop-v1-63.hds")};
        dir.write("DiskDescriptor.xml", descriptor(images));
        check_same_bytes(*open_ok(dir.path()), *open_fixture(kStateC));
    }
    SECTION("a delta in use") {
        auto images = chain_images();
        images[2].file = fixture_path("ploop-dirty.hds");  // all of C, over B
        dir.write("DiskDescriptor.xml", descriptor(images));
        std::vector<std::string> warnings;
        auto dev = open_path(dir.path(), warnings);
        REQUIRE(dev);
        REQUIRE(warnings.size() == 1);
        CHECK(warnings[0] ==
              "ploop delta " + fixture_path("ploop-dirty.hds") +
                  " is in use or was not closed cleanly (m_DiskInUse): the figures may be stale");
        check_same_bytes(**dev, *open_fixture(kStateC));
    }
    SECTION("no <TopGUID>: the predefined top GUID") {
        const std::string top = "{5FBAABE3-6958-40ff-92a7-860e329aab41}";
        auto images = chain_images();
        images[2].guid = top;
        auto shots = chain_shots();
        shots[2].guid = top;
        dir.write("DiskDescriptor.xml", descriptor(images, shots, ""));
        check_kernel_figures(open_ok(dir.path()), kStateC);
    }
    SECTION("a disk smaller than its images") {
        dir.write("DiskDescriptor.xml", descriptor(chain_images(), chain_shots(), kGuidC, "2048"));
        const auto dev = open_ok(dir.path());
        REQUIRE(dev->size() == kMiB);
        std::vector<std::byte> a(kMiB), b(kMiB);
        REQUIRE(dev->read(0, a));
        REQUIRE(open_fixture(kStateC)->read(0, b));
        CHECK(a == b);
    }
}

TEST_CASE("ploop: broken snapshot chains", "[ploop][corrupt]") {
    TempDir dir;
    auto images = chain_images();
    auto shots = chain_shots();
    std::string top = kGuidC;
    std::string expected;
    SECTION("a loop") {
        shots[1].parent = kGuidC;
        expected = "loop in the snapshot chain: " + kGuidC + " is its own ancestor";
    }
    SECTION("its own parent") {
        shots[2].parent = kGuidC;
        expected = "loop in the snapshot chain";
    }
    SECTION("a missing Shot") {
        shots.erase(shots.begin() + 1);
        expected = "no <Shot> with GUID " + kGuidB;
    }
    SECTION("a missing Image") {
        images.erase(images.begin() + 1);
        expected = "no <Image> with GUID " + kGuidB;
    }
    SECTION("no TopGUID and no predefined top") {
        top = "";
        expected = "no <Shot> with GUID {5fbaabe3-6958-40ff-92a7-860e329aab41}";
    }
    SECTION("a Plain overlay") {
        images[1].type = "Plain";
        expected = "is Plain but has a parent";
    }
    SECTION("an unknown image type") {
        images[1].type = "Sparse";
        expected = "<Type> Sparse is neither Plain nor Compressed";
    }
    dir.write("DiskDescriptor.xml", descriptor(images, shots, top));
    CHECK_THAT(open_error(dir.path()),
               Catch::Contains("ploop: DiskDescriptor.xml: ") && Catch::Contains(expected));
}

TEST_CASE("ploop: descriptors this reader refuses", "[ploop][corrupt]") {
    TempDir dir;
    std::string xml, expected;
    SECTION("encrypted") {
        xml = descriptor(chain_images(), chain_shots(), kGuidC, "524288",
                         "<Encryption><KeyId>k</KeyId></Encryption>");
        expected = "the disk is encrypted";
    }
    SECTION("padding") {
        xml = descriptor();
        xml.replace(xml.find("<Padding>0"), 10, "<Padding>1");
        expected = "<Padding> is 1, not 0";
    }
    SECTION("a split image") {
        xml = descriptor(chain_images(), chain_shots(), kGuidC, "524288", "", "<Storage/>");
        expected = "a split image";
    }
    SECTION("a volume") {
        xml = descriptor(chain_images(), chain_shots(), kGuidC, "524288", "",
                         "<Volume><Parent>x</Parent></Volume>");
        expected = "<Volume>";
    }
    SECTION("a disk size that is no number") {
        xml = descriptor(chain_images(), chain_shots(), kGuidC, "0x80000");
        expected = "<Disk_size> is not a number: 0x80000";
    }
    SECTION("a disk size past 2^64 bytes") {
        xml = descriptor(chain_images(), chain_shots(), kGuidC, "1152921504606846976");
        expected = "<Disk_size> 1152921504606846976 is too large";
    }
    SECTION("no disk size") {
        xml = descriptor();
        xml.erase(xml.find("<Disk_size>"), std::string("<Disk_size>524288</Disk_size>").size());
        expected = "<Disk_Parameters> has no <Disk_size>";
    }
    SECTION("no Snapshots") {
        xml = descriptor();
        xml.replace(xml.find("<Snapshots>"), 11, "<Snapshot_s>");
        xml.replace(xml.find("</Snapshots>"), 12, "</Snapshot_s>");
        expected = "no <Snapshots> in <Virtuozzo_disk_image>";
    }
    SECTION("more than 1 MiB") {
        xml = descriptor();
        xml += "<!--" + std::string(kMiB, '-') + "-->";
        expected = "more than the limit of 1048576";
    }
    dir.write("DiskDescriptor.xml", xml);
    CHECK_THAT(open_error(dir.path()), Catch::Contains(expected));
}

TEST_CASE("ploop: files the descriptor names that are missing or no ploop images", "[ploop][corrupt]") {
    TempDir dir;
    auto images = chain_images();
    std::string expected;
    SECTION("missing, named relative to the descriptor") {
        images[1].file = "root.hds.missing";
        expected = "backing file " + dir.path() + "/root.hds.missing: No such file or directory";
    }
    SECTION("a raw file as a delta") {
        images[1].file = fixture_path(kStateB);
        expected = "backing file " + fixture_path(kStateB) + ": ploop: @0x0: no ploop signature";
    }
    SECTION("the descriptor itself as a delta") {
        images[2].file = "DiskDescriptor.xml";
        expected = "DiskDescriptor.xml: ploop: @0x0: no ploop signature";
    }
    SECTION("a Plain base shorter than the disk") {
        images[0].file = fixture_path("ext4-1k.img");
        expected = "the Plain image has 67108864 bytes, fewer than the disk's 268435456";
    }
    SECTION("a delta with a corrupt header") {
        std::string delta(1 << 12, '\0');
        std::ifstream(fixture_path("ploop-root.hdd/root.hds." + kGuidB), std::ios::binary)
            .read(delta.data(), 4096);
        delta[28] = 0;  // m_Sectors 0
        delta[29] = 0;
        images[1].file = dir.write("bad.hds", delta);
        expected = "backing file " + dir.path() + "/bad.hds: ploop: @0x1c: m_Sectors 0";
    }
    dir.write("DiskDescriptor.xml", descriptor(images));
    CHECK_THAT(open_error(dir.path()), Catch::Contains(expected));
}

// --- the XML reader -------------------------------------------------------------------

TEST_CASE("ploop: the XML reader decodes what XML writers write", "[ploop][xml]") {
    const auto doc = ploop::parse_xml(
        "\xEF\xBB\xBF<?xml version='1.0' encoding=\"UTF-8\"?>\n"
        "<!DOCTYPE r [ <!ENTITY x \"y\"> ]>\n"
        "<!-- a comment with <tags> -->\n"
        "<root a='1' b = \"&lt;2&gt;\">\n"
        "  <e>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#xe9;&#x1F600;</e>\n"
        "  <empty/><empty2 c='3'/>\n"
        "  <mixed>one<!-- x -->two<![CDATA[<three>]]><k/>four</mixed>\n"
        "</root >\n<?pi after?>\n");
    if (!doc) FAIL(doc.error().to_string());
    CHECK(doc->name == "root");
    REQUIRE(doc->children.size() == 4);
    CHECK(doc->child("e")->text == "<>&\"'AB\xC3\xA9\xF0\x9F\x98\x80");
    CHECK(doc->child("empty")->text.empty());
    CHECK(doc->child("empty2")->children.empty());
    CHECK(doc->child("mixed")->text == "onetwo<three>four");
    CHECK(doc->child("mixed")->child("k") != nullptr);
    CHECK(doc->child("nothing") == nullptr);
}

TEST_CASE("ploop: the XML reader refuses malformed documents with their line", "[ploop][xml][corrupt]") {
    const std::pair<std::string, std::string> cases[] = {
        {"<a><b></a>", "line 1: </a> closes <b>"},
        {"<a>\n<b>\n", "line 2: <b> is never closed"},
        {"</a>", "</a> closes no element"},
        {"<a/><b/>", "a second root element <b>"},
        {"x<a/>", "text outside the root element"},
        {"<a>&nbsp;</a>", "unknown entity &nbsp;"},
        {"<a>&#0;</a>", "unknown entity &#0;"},
        {"<a>&#x110000;</a>", "unknown entity"},
        {"<a>AT&T</a>", "'&' starts no entity"},
        {"<a b=1/>", "quoted value expected for b in <a>"},
        {"<a b='1/>", "value of b never ends"},
        {"<a b='<'/>", "'<' in an attribute value"},
        {"<a b/>", "'=' expected after b"},
        {"<a\"/>", "'>' expected in <a>"},
        {"<1/>", "a name was expected"},
        {"<a><!-- </a>", "comment never ends"},
        {"<a><![CDATA[x</a>", "CDATA section never ends"},
        {"<?xml", "processing instruction never ends"},
        {"<a><!DOCTYPE a></a>", "a <! declaration inside the document"},
        {"", "no root element"},
        {"<!-- only -->", "no root element"},
    };
    for (const auto& [text, expected] : cases) {
        INFO(text);
        auto doc = ploop::parse_xml(text);
        REQUIRE_FALSE(doc);
        CHECK(doc.error().code == Errc::corrupt);
        CHECK_THAT(doc.error().message, Catch::Contains(expected));
    }
}

TEST_CASE("ploop: the XML reader bounds depth and element count", "[ploop][xml][corrupt]") {
    std::string deep;
    for (int i = 0; i < 33; ++i) deep += "<a>";
    CHECK_THAT(ploop::parse_xml(deep).error().message, Catch::Contains("nested more than 32 deep"));
    std::string many = "<r>";
    for (int i = 0; i < 65536; ++i) many += "<e/>";
    CHECK_THAT(ploop::parse_xml(many + "</r>").error().message, Catch::Contains("more than 65536 elements"));
    std::string enough = "<r>";
    for (int i = 0; i < 65535; ++i) enough += "<e/>";
    CHECK(ploop::parse_xml(enough + "</r>"));
}

// --- random damage --------------------------------------------------------------------

TEST_CASE("ploop: random damage to headers, BATs and descriptors never crashes", "[ploop][corrupt][fuzz]") {
    std::mt19937_64 rng(20261122);
    const auto scan = [](DevicePtr dev) {
        std::vector<GuestDisk> disks{{"fuzz", std::move(dev)}};
        (void)scan_guest(disks, builtin_plugins());
    };
    for (const char* image : {"ploop-v2.hds", "ploop-v1.hds", "ploop-v1-63.hds"}) {
        const auto base = open_fixture(image);
        for (int i = 0; i < 100; ++i) {
            // The header and the first BAT entries; or a cut anywhere.
            auto p = std::make_shared<PatchedDevice>(base, i % 4 == 0 ? rng() % base->size() : UINT64_MAX);
            for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n)
                p->byte(rng() % 1088, static_cast<std::uint8_t>(rng()));
            std::vector<std::string> warnings;
            if (auto dev = open_device(p, warnings)) scan(*dev);
        }
    }
    TempDir dir;
    const std::string xml = descriptor();
    for (int i = 0; i < 100; ++i) {
        std::string damaged = xml;
        for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n)
            damaged[rng() % damaged.size()] = "<>/&;\"' {}x0\n"[rng() % 13];
        if (i % 5 == 0) damaged.resize(rng() % damaged.size());
        dir.write("DiskDescriptor.xml", damaged);
        std::vector<std::string> warnings;
        if (auto dev = open_path(dir.path(), warnings)) scan(*dev);
    }
}
