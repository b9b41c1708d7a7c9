// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <string>

namespace vmdf {

/// `count` blocks of `block_size` bytes as virt-df -h prints them: gnulib
/// human_readable() with human_autoscale | human_base_1024 | human_SI |
/// human_round_to_nearest. Powers of 1024, suffixes K M G T P E Z Y with
/// no "B"; one decimal below 10; exact halves round to even; under 1024
/// bytes a plain number. `decimal_point` follows the locale in virt-df.
std::string human_size(std::uint64_t count, std::uint64_t block_size,
                       const std::string& decimal_point = ".");

}  // namespace vmdf
