// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include "output/human.hpp"

using vmdf::human_size;

// Vectors from virt-df-reference.md §1.5, computed with gnulib human.c.
TEST_CASE("human: the reference vectors", "[human]") {
    CHECK(human_size(31728, 1024) == "31M");
    CHECK(human_size(28, 1024) == "28K");
    CHECK(human_size(30064, 1024) == "29M");
    CHECK(human_size(0, 4096) == "0");
    CHECK(human_size(1, 512) == "512");
    CHECK(human_size(1024, 1) == "1.0K");
    CHECK(human_size(10188052, 1024) == "9.7G");
    CHECK(human_size(2621440, 4096) == "10G");
    CHECK(human_size(1952000, 4096) == "7.4G");
    CHECK(human_size(262143, 4096) == "1.0G");
    CHECK(human_size(9728, 1024) == "9.5M");
    CHECK(human_size(10752, 1024) == "10M");
    CHECK(human_size(11776, 1024) == "12M");
    CHECK(human_size(1048064, 1024) == "1.0G");
}

TEST_CASE("human: under 1024 bytes is a plain number", "[human]") {
    CHECK(human_size(1023, 1) == "1023");
    CHECK(human_size(2, 512) == "1.0K");
    CHECK(human_size(5, 1) == "5");
}

TEST_CASE("human: tenths round half to even on the exact value", "[human]") {
    // 1.05K exactly = 1075.2 bytes is not representable; 1.25K = 1280 bytes is.
    CHECK(human_size(1280, 1) == "1.2K");   // exact half, 2 is even
    CHECK(human_size(1331, 1) == "1.3K");   // 1.2998.. rounds up
    CHECK(human_size(1408, 1) == "1.4K");   // 1.375 -> 1.4
    CHECK(human_size(10188, 1) == "9.9K");  // 9.949.. -> 9.9
    CHECK(human_size(10189, 1) == "10K");   // 9.950.. -> 10.0 -> 10
}

TEST_CASE("human: rounding to 1024 moves to the next unit", "[human]") {
    CHECK(human_size(1048575, 1) == "1.0M");
    CHECK(human_size(1023, 1024) == "1023K");
}

TEST_CASE("human: huge values use the largest suffixes without overflow", "[human]") {
    CHECK(human_size(UINT64_MAX, 65536) == "1.0Y");  // just under 2^80 bytes
    CHECK(human_size(std::uint64_t{1} << 50, 1) == "1.0P");
    CHECK(human_size(std::uint64_t{4} << 40, 1) == "4.0T");
}

TEST_CASE("human: the decimal point can follow a locale", "[human]") {
    CHECK(human_size(1952000, 4096, ",") == "7,4G");
}
