// SPDX-License-Identifier: GPL-2.0-or-later
// virt-df's two output formats, byte for byte as guestfs-tools df/output.c
// prints them (virt-df-reference.md §1.5-1.7). Free of any parsing code.
#pragma once

#include <string>

#include "core/plugin.hpp"

namespace vmdf {

struct OutputStyle {
    bool csv = false;
    bool human = false;   ///< -h (never with csv)
    bool inodes = false;  ///< -i
};

/// The title line, with its newline.
std::string format_title(const OutputStyle& style);

/// One filesystem's line(s): `name` is the guest (or its UUID), `device`
/// the canonical device name.
std::string format_row(const OutputStyle& style, const std::string& name,
                       const std::string& device, const StatVfs& stat);

/// A CSV field, quoted only when it holds a space, '"', ',' or newline.
std::string csv_field(const std::string& field);

/// Use% as virt-df computes it: 100 - 100*bfree/blocks in double, stored in
/// a float (0 when blocks is 0); and IUse% likewise with ffree/files.
float used_percent(const OutputStyle& style, const StatVfs& stat);

}  // namespace vmdf
