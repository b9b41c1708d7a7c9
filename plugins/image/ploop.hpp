// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include "core/plugin.hpp"

namespace vmdf {
extern const ImagePlugin ploop_plugin;
}
