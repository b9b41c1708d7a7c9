// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "core/device.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;

namespace {
std::shared_ptr<MemoryDevice> counting_device(std::size_t n) {
    std::vector<std::byte> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = std::byte(i & 0xFF);
    return std::make_shared<MemoryDevice>("mem", std::move(data));
}
}  // namespace

TEST_CASE("device: a read fills the whole buffer", "[device]") {
    auto dev = counting_device(4096);
    std::vector<std::byte> buf(16);
    REQUIRE(dev->read(100, buf));
    CHECK(buf[0] == std::byte{100});
    CHECK(buf[15] == std::byte{115});
}

TEST_CASE("device: a read past the end is truncated, never short", "[device][corrupt]") {
    auto dev = counting_device(4096);
    std::vector<std::byte> buf(16);
    auto r = dev->read(4090, buf);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::truncated);
    CHECK(r.error().offset == 4090u);
    // offset + length overflowing 64 bits must not wrap into range
    CHECK_FALSE(dev->read(UINT64_MAX - 4, buf));
    CHECK(dev->read(4096, std::span<std::byte>{}));
}

TEST_CASE("device: a slice is a window of its parent", "[device]") {
    auto dev = counting_device(4096);
    auto slice = SliceDevice::create(dev, "/dev/sda1", 1024, 512, 512);
    REQUIRE(slice);
    std::vector<std::byte> buf(4);
    REQUIRE((*slice)->read(0, buf));
    CHECK(buf[0] == std::byte{0});  // 1024 & 0xFF
    CHECK((*slice)->size() == 512);
    CHECK_FALSE((*slice)->read(510, buf));
    auto where = (*slice)->map_block(10);
    REQUIRE(where.size() == 1);
    CHECK(where[0].device == dev.get());
    CHECK(where[0].offset == 1034);
    CHECK((*slice)->contiguous(10) == 502);
}

TEST_CASE("device: a slice past its parent is refused", "[device][corrupt]") {
    auto dev = counting_device(4096);
    CHECK_FALSE(SliceDevice::create(dev, "p", 4000, 200, 512));
    CHECK_FALSE(SliceDevice::create(dev, "p", UINT64_MAX, 2, 512));
    CHECK_FALSE(SliceDevice::create(dev, "p", 2, UINT64_MAX, 512));
    CHECK(SliceDevice::create(dev, "p", 4096, 0, 512));
}

TEST_CASE("device: a missing file gives the OS's reason", "[device]") {
    auto r = FileDevice::open("/nonexistent/disk.img");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "No such file or directory");
    auto dir = FileDevice::open("/");
    REQUIRE_FALSE(dir);
    CHECK(dir.error().message == "Is a directory");
}

TEST_CASE("device: files are read with pread and counted", "[device]") {
    const std::string path = "device_test.tmp";
    {
        std::ofstream f(path, std::ios::binary);
        f << std::string(8192, 'x');
    }
    auto file = FileDevice::open(path);
    REQUIRE(file);
    CHECK((*file)->size() == 8192);
    CHECK((*file)->block_size() == 512);
    const IoStats before = io_stats();
    std::vector<std::byte> buf(100);
    REQUIRE((*file)->read(8000, buf));
    CHECK(buf[99] == std::byte{'x'});
    CHECK(io_stats().bytes_read - before.bytes_read == 100);
    CHECK(io_stats().read_calls - before.read_calls == 1);
    auto sized = FileDevice::open(path, 4096);
    REQUIRE(sized);
    CHECK((*sized)->block_size() == 4096);
    std::remove(path.c_str());
}

TEST_CASE("device: a small read inside a recent one does not reach the file again", "[device]") {
    const std::string path = "device_recent_test.tmp";
    {
        std::ofstream f(path, std::ios::binary);
        for (int i = 0; i < 16384; ++i) f.put(static_cast<char>(i % 251));
    }
    auto file = FileDevice::open(path);
    REQUIRE(file);
    const IoStats before = io_stats();
    std::vector<std::byte> sector(512), inside(8), big(8192);
    REQUIRE((*file)->read(1024, sector));
    REQUIRE((*file)->read(1024, sector));      // the same again
    REQUIRE((*file)->read(1024 + 100, inside));  // inside it
    CHECK(inside[0] == std::byte{(1024 + 100) % 251});
    CHECK(io_stats().read_calls - before.read_calls == 1);
    REQUIRE((*file)->read(1024 + 508, inside));  // runs past it: read
    CHECK(inside[7] == std::byte{(1024 + 515) % 251});
    CHECK(io_stats().read_calls - before.read_calls == 2);
    REQUIRE((*file)->read(0, big));  // larger than a recent read may be: never kept
    REQUIRE((*file)->read(0, big));
    CHECK(io_stats().read_calls - before.read_calls == 4);
    std::remove(path.c_str());
}

TEST_CASE("device: reads stop once the guest's time limit has passed", "[device][corrupt]") {
    auto dev = counting_device(4096);
    std::vector<std::byte> buf(16);
    {
        const ReadDeadline deadline(std::chrono::seconds(-1));  // already over
        auto r = dev->read(0, buf);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::io);
        CHECK_THAT(r.error().message, Catch::Matchers::Contains("time limit"));
        {
            // An inner, longer limit never extends an outer one.
            const ReadDeadline inner(std::chrono::hours(1));
            CHECK_FALSE(dev->read(0, buf));
        }
    }
    CHECK(dev->read(0, buf));  // the limit ends with its scope
}
