// SPDX-License-Identifier: GPL-2.0-or-later
// Every plugin of the executable. Add a format: its file pair, one include
// here, one line in plugin_list.cpp, one in meson.build, and its tests.
#pragma once

#include "plugins/filesystem/bitlocker.hpp"
#include "plugins/filesystem/ext4.hpp"
#include "plugins/filesystem/swap.hpp"
#include "plugins/filesystem/xfs.hpp"
#include "plugins/filesystem/btrfs.hpp"
#include "plugins/filesystem/exfat.hpp"
#include "plugins/filesystem/fat.hpp"
#include "plugins/filesystem/ntfs.hpp"
#include "plugins/filesystem/f2fs.hpp"
#include "plugins/filesystem/hfsplus.hpp"
#include "plugins/filesystem/iso9660.hpp"
#include "plugins/filesystem/luks.hpp"
#include "plugins/filesystem/ufs.hpp"
#include "plugins/image/ploop.hpp"
#include "plugins/image/qcow2.hpp"
#include "plugins/image/raw.hpp"
#include "plugins/partition/gpt.hpp"
#include "plugins/partition/mbr.hpp"
#include "plugins/volume/lvm.hpp"
#include "plugins/volume/md.hpp"
