// SPDX-License-Identifier: GPL-2.0-or-later
// THE registry: one explicit, constant-initialised list per layer. Order is
// the probing order; the highest score wins and a tie is an error, so order
// only decides which probe runs first. Ordering rules are noted per line.
#include "core/scan.hpp"
#include "plugins/plugins.hpp"

namespace vmdf {
namespace {

constinit const ImagePlugin* const kImagePlugins[] = {
    &qcow2_plugin,
    &ploop_plugin,  // ploop images and DiskDescriptor.xml
    &raw_plugin,  // scores 1: anything else that claims a file wins
};

constinit const PartitionPlugin* const kPartitionPlugins[] = {
    &gpt_plugin,  // claims disks whose MBR has a protective 0xEE entry
    &mbr_plugin,  // declines those, so the two never tie
};

constinit const FilesystemPlugin* const kFilesystemPlugins[] = {
    &ext4_plugin,  // ext2, ext3 and ext4
    &xfs_plugin,
    &btrfs_plugin,
    &ntfs_plugin,   // NTFS, FAT and exFAT boot sectors all end in 55 AA:
    &exfat_plugin,  // each probe checks its own OEM name and geometry,
    &fat_plugin,    // so they never tie
    &f2fs_plugin,
    &iso9660_plugin,
    &hfsplus_plugin,
    &ufs_plugin,
    &luks_plugin,       // recognised and warned about: encrypted, no row
    &bitlocker_plugin,  // likewise
    &swap_plugin,  // recognised, not listed (virt-df skips swap)
};

// Also the order of their rows: libguestfs lists MD arrays before LVs.
constinit const VolumeManagerPlugin* const kVolumeManagerPlugins[] = {
    &md_plugin,   // an MD 0.90/1.0 member of an array that is a PV shows the
    &lvm_plugin,  // PV's label too: lvm scores a good label 90, md 100
};

}  // namespace

PluginSet builtin_plugins() {
    return PluginSet{kImagePlugins, kPartitionPlugins, kFilesystemPlugins, kVolumeManagerPlugins};
}

}  // namespace vmdf
