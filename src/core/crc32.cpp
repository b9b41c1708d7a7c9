// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/crc32.hpp"

#include <array>

namespace vmdf {

namespace {

constexpr std::array<std::uint32_t, 256> make_table(std::uint32_t polynomial) {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? polynomial ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}

constexpr auto kIeeeTable = make_table(0xEDB88320u);
constexpr auto kCastagnoliTable = make_table(0x82F63B78u);

std::uint32_t update(const std::array<std::uint32_t, 256>& table, std::uint32_t crc,
                     std::span<const std::byte> data) {
    for (std::byte b : data)
        crc = table[(crc ^ static_cast<std::uint8_t>(b)) & 0xFFu] ^ (crc >> 8);
    return crc;
}

}  // namespace

std::uint32_t crc32_ieee(std::span<const std::byte> data) {
    return update(kIeeeTable, 0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;
}

std::uint32_t crc32c_raw(std::uint32_t seed, std::span<const std::byte> data) {
    return update(kCastagnoliTable, seed, data);
}

}  // namespace vmdf
