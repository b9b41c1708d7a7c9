// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <span>

namespace vmdf {

/// The IEEE 802.3 / zlib CRC-32 (reflected, polynomial 0xEDB88320, initial
/// value and final XOR ~0), as GPT uses it (UEFI spec, Appendix A).
std::uint32_t crc32_ieee(std::span<const std::byte> data);

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as the kernel's
/// crc32c(seed, data) computes it: from `seed`, with no final inversion.
/// ext4 metadata checksums are this with seed ~0.
std::uint32_t crc32c_raw(std::uint32_t seed, std::span<const std::byte> data);

}  // namespace vmdf
