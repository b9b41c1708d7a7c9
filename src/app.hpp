// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "cli/options.hpp"

namespace vmdf {

/// The guest name virt-df shows for a set of -a images: the first image's
/// basename, then one '+' per extra disk (RHBZ#880801).
std::string display_name(const std::vector<DriveSpec>& drives);

/// Runs one invocation; returns the exit status (0 or 1, as virt-df).
int run(const Options& opts, std::ostream& out, std::ostream& err);

}  // namespace vmdf
