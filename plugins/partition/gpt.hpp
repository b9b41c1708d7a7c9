// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/plugin.hpp"

namespace vmdf {
extern const PartitionPlugin gpt_plugin;

namespace gpt {
/// "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" from a GUID's 16 on-disk bytes
/// (the first three fields little-endian, the last eight as stored).
std::string guid_to_string(const std::array<std::uint8_t, 16>& raw);
}  // namespace gpt
}  // namespace vmdf
