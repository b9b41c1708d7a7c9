// SPDX-License-Identifier: GPL-2.0-or-later
#include "src/output/human.hpp"

namespace vmdf {

namespace {

__extension__ using u128 = unsigned __int128;  // exact products of 64-bit counts and sizes

/// numerator / denominator rounded to the nearest integer, halves to even.
u128 round_half_even(u128 numerator, u128 denominator) {
    u128 q = numerator / denominator, r = numerator % denominator;
    const u128 twice = 2 * r;
    if (twice > denominator || (twice == denominator && (q & 1))) ++q;
    return q;
}

std::string to_decimal(u128 v) {
    std::string s;
    do {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        v /= 10;
    } while (v != 0);
    return s;
}

}  // namespace

std::string human_size(std::uint64_t count, std::uint64_t block_size,
                       const std::string& decimal_point) {
    static constexpr char kSuffixes[] = "KMGTPEZY";
    constexpr int kMaxExponent = 8;
    // Exact in 128 bits for any 64-bit count and block size up to 2^64.
    const u128 bytes = static_cast<u128>(count) * block_size;
    if (bytes < 1024) return to_decimal(bytes);

    int exponent = 0;
    u128 scale = 1;
    while (exponent < kMaxExponent && bytes / scale >= 1024) {
        scale *= 1024;
        ++exponent;
    }
    if (bytes / scale < 10) {
        // One decimal: tenths, rounded on the exact value.
        const u128 tenths = round_half_even(bytes * 10, scale);
        if (tenths < 100)
            return to_decimal(tenths / 10) + decimal_point + to_decimal(tenths % 10) +
                   kSuffixes[exponent - 1];
        return "10" + std::string(1, kSuffixes[exponent - 1]);  // 9.95.. rounds up to 10
    }
    u128 whole = round_half_even(bytes, scale);
    if (whole == 1024 && exponent < kMaxExponent)
        return "1" + decimal_point + "0" + kSuffixes[exponent];
    return to_decimal(whole) + kSuffixes[exponent - 1];
}

}  // namespace vmdf
