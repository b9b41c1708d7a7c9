// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include <boost/endian/buffers.hpp>

#include "core/byte_reader.hpp"
#include "support/image_builder.hpp"

using namespace vmdf;

namespace {
struct Pair {
    boost::endian::little_uint32_buf_t a;
    boost::endian::big_uint16_buf_t b;
};
static_assert(sizeof(Pair) == 6);
}  // namespace

TEST_CASE("byte reader: structs are copied out with their byte order", "[byte_reader]") {
    test::ImageBuilder b(64);
    b.le32(8, 0x11223344).u8(12, 0xAB).u8(13, 0xCD);
    auto dev = b.device();
    auto pair = read_struct<Pair>(*dev, 8);
    REQUIRE(pair);
    CHECK(pair->a.value() == 0x11223344u);
    CHECK(pair->b.value() == 0xABCDu);
    CHECK_FALSE(read_struct<Pair>(*dev, 60));
}

TEST_CASE("byte reader: bounds are checked without overflow", "[byte_reader][corrupt]") {
    std::vector<std::byte> data(32);
    ByteReader r(data, 0x1000);
    CHECK(r.at<Pair>(26));
    auto past = r.at<Pair>(27);
    REQUIRE_FALSE(past);
    CHECK(past.error().code == Errc::truncated);
    CHECK(past.error().offset == 0x1000u + 27);
    CHECK_FALSE(r.bytes(UINT64_MAX, 2));
    CHECK_FALSE(r.bytes(1, UINT64_MAX));
}

TEST_CASE("byte reader: read_bytes refuses sizes over the caller's cap", "[byte_reader][corrupt]") {
    test::ImageBuilder b(64);
    auto dev = b.device();
    auto r = read_bytes(*dev, 0, 1 << 30, 1 << 20);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::corrupt);
    CHECK(read_bytes(*dev, 0, 64, 64));
}

TEST_CASE("byte reader: checked arithmetic", "[byte_reader]") {
    CHECK(checked_mul(1ull << 32, 1ull << 31) == (1ull << 63));
    CHECK_FALSE(checked_mul(1ull << 32, 1ull << 32));
    CHECK_FALSE(checked_add(UINT64_MAX, 1));
}

TEST_CASE("error: where and offset make one line", "[error]") {
    Error e{Errc::corrupt, "s_log_block_size 40 out of range (max 6)", 0x418, {}};
    e.within("ext4").within("/dev/sda2").within("guest.img");
    CHECK(e.to_string() == "guest.img: /dev/sda2: ext4: @0x418: s_log_block_size 40 out of range (max 6)");
}
