// SPDX-License-Identifier: GPL-2.0-or-later
// Every plugin of the executable. Add a format: its file pair, one include
// here, one line in plugin_list.cpp, one in meson.build, and its tests.
#pragma once

#include "plugins/filesystem/ext4.hpp"
#include "plugins/filesystem/swap.hpp"
#include "plugins/filesystem/xfs.hpp"
#include "plugins/filesystem/btrfs.hpp"
#include "plugins/filesystem/exfat.hpp"
#include "plugins/filesystem/fat.hpp"
#include "plugins/filesystem/ntfs.hpp"
#include "plugins/image/raw.hpp"
#include "plugins/partition/gpt.hpp"
#include "plugins/partition/mbr.hpp"
