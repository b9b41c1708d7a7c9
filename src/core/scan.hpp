// SPDX-License-Identifier: GPL-2.0-or-later
// The scan, after the OCaml virt-df's Diskimage.scan_machine: for each disk
// try partition schemes, else its contents; for each whole disk and
// partition, a volume manager sure of it (a member, as libblkid lets RAID
// signatures win), else a filesystem, else a manager unsure of it; then let
// the volume managers assemble volumes from the devices they claimed, again
// while volumes turn out to hold members (LVM on MD), and probe those
// volumes for filesystems. The core knows nothing of any particular format.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "core/plugin.hpp"

namespace vmdf {

/// The plugins a scan may use, in probing order.
struct PluginSet {
    std::span<const ImagePlugin* const> images;
    std::span<const PartitionPlugin* const> partitions;
    std::span<const FilesystemPlugin* const> filesystems;
    std::span<const VolumeManagerPlugin* const> volume_managers;
};

/// The registry in plugins/plugin_list.cpp.
PluginSet builtin_plugins();

/// One disk of a guest, already opened (and unwrapped from its container).
struct GuestDisk {
    std::string source;  ///< what the user named: the -a path; used in messages
    DevicePtr device;
};

/// One line of virt-df output.
struct FilesystemRow {
    std::string device;  ///< "/dev/sda1", "/dev/VG/LV"
    std::string type;    ///< "ext4"
    StatVfs stat;
};

struct ScanReport {
    std::vector<FilesystemRow> rows;    ///< in libguestfs list_filesystems order
    std::vector<std::string> warnings;  ///< "guest.img: /dev/sda2: ext4: ..." one line each
};

/// Linux's name for the index-th disk: sda .. sdz, sdaa .. sdzz, sdaaa ...
std::string disk_device_name(std::size_t index);

/// Picks the plugin with the highest score for `dev`; nullptr when none
/// claims it. A tie between two plugins at the top is an `ambiguous` error.
template <class Plugin>
Result<const Plugin*> choose_plugin(std::span<const Plugin* const> plugins, const Device& dev);

/// How long the scan of one guest may read for (see ReadDeadline). Real
/// guests take milliseconds; this only stops hostile ones.
constexpr std::chrono::seconds kGuestTimeLimit{60};

struct ScanOptions {
    bool read_write = false;  ///< --mount-mode=rw (see FilesystemContext)
    std::chrono::steady_clock::duration time_limit = kGuestTimeLimit;
};

ScanReport scan_guest(std::span<const GuestDisk> disks, const PluginSet& plugins,
                      const ScanOptions& options = {});

}  // namespace vmdf
