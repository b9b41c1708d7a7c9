// SPDX-License-Identifier: GPL-2.0-or-later
// Plugin descriptors, one kind per layer of the scan. A plugin is a constexpr
// value at the end of its own .cpp file; plugins/plugin_list.cpp lists them
// all, and that list's order is the probing order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/device.hpp"
#include "core/result.hpp"

namespace vmdf {

/// Bytes a format always has at a fixed offset. The core reads these before
/// calling a probe, so most probes never run on devices that cannot be theirs.
/// Write bytes as "..."sv so that embedded NULs are kept.
struct Magic {
    std::uint64_t offset;
    std::string_view bytes;
};

/// Probe answer: 0 = not mine, 1..100 = how sure; an error only for I/O.
using Score = int;
constexpr Score kNotMine = 0;
constexpr Score kCertain = 100;

// --- Containers (raw, qcow2, ploop) ------------------------------------------------

/// What an image plugin may use beyond the file it opens. The callbacks open
/// files the image names (relative names are taken from the image's own
/// directory) and are only valid during ImagePlugin::open.
struct ImageContext {
    std::string path;              ///< the file being opened, as it was named
    std::string_view snapshot;     ///< --snapshot: a snapshot's name, ID or GUID; empty = current
    std::uint32_t block_size = 0;  ///< --blocksize, for devices the plugin makes; 0 = 512
    /// Another image this one builds on (a qcow2 backing file, a ploop
    /// parent delta) as its guest-visible disk. `format` forces an image
    /// plugin by name; empty probes. Chains are depth-limited and
    /// loop-checked here; errors are prefixed "backing file PATH".
    std::function<Result<DevicePtr>(const std::string& name, std::string_view format)> open_backing;
    /// A file read as it is, without probing (a qcow2 external data file).
    std::function<Result<DevicePtr>(const std::string& name)> open_file;
    /// Problems worked around ("image was not closed cleanly").
    std::vector<std::string>& warnings;
};

struct ImagePlugin {
    std::string_view name;  ///< also the value accepted by --format
    std::span<const Magic> magics;
    Result<Score> (*probe)(const Device& file);
    /// The guest-visible disk inside the image file.
    Result<DevicePtr> (*open)(DevicePtr file, const ImageContext& context);
    /// A file this format keeps in a directory that stands for the disk
    /// (ploop: "DiskDescriptor.xml"), so that `-a root.hdd/` works; or empty.
    std::string_view descriptor_file = {};
    /// Another name --format accepts (ploop: "parallels", qemu's name).
    std::string_view alias = {};
};

// --- Partition tables ----------------------------------------------------------

struct Partition {
    unsigned number = 0;           ///< as Linux numbers it: sda<number>
    std::uint64_t offset = 0;      ///< bytes from the start of the disk
    std::uint64_t length = 0;      ///< bytes
    std::string type;              ///< "0x83", or a GPT type GUID
    /// No filesystem is looked for: an MBR extended container, a Microsoft
    /// reserved or LDM partition (libguestfs list_filesystems skips these).
    bool container = false;
};

struct PartitionTable {
    std::uint32_t sector_size = 512;     ///< logical sector size the table uses
    std::vector<Partition> partitions;   ///< in number order
    std::vector<std::string> warnings;   ///< problems that were worked around
};

struct PartitionPlugin {
    std::string_view name;
    std::span<const Magic> magics;
    Result<Score> (*probe)(const Device& disk);
    Result<PartitionTable> (*list)(const Device& disk);
};

// --- Filesystems -----------------------------------------------------------------

/// The figures the kernel's statfs(2) reports for a mounted filesystem, in
/// its own units: blocks of f_bsize (f_frsize) bytes, and inodes.
struct StatVfs {
    std::uint64_t bsize = 0;
    std::uint64_t frsize = 0;
    std::uint64_t blocks = 0;
    std::uint64_t bfree = 0;
    std::uint64_t bavail = 0;
    std::uint64_t files = 0;
    std::uint64_t ffree = 0;

    bool operator==(const StatVfs&) const = default;
};

struct Filesystem {
    std::string type;                   ///< "ext4", "swap", ...
    /// false for what virt-df recognises but does not print (swap).
    bool listed = true;
    StatVfs stat;
    /// btrfs: the paths of the subvolumes other than the default one, in
    /// the order libguestfs lists them ("home", "snapshots/day1"); each
    /// becomes a row "btrfsvol:/dev/sdX/PATH" with the same figures.
    std::vector<std::string> subvolumes;
    std::vector<std::string> warnings;  ///< e.g. "journal needs recovery"
};

/// A device of the guest with the name it is shown under.
struct NamedDevice {
    std::string name;  ///< "/dev/sda2"
    DevicePtr device;
};

/// What a filesystem plugin may know beyond the device it opens.
struct FilesystemContext {
    /// --mount-mode=rw: the figures of a read-write mount (df inside a
    /// running guest) rather than a read-only one (libguestfs virt-df).
    bool read_write = false;
    /// Every whole disk without a partition table and every partition of
    /// the guest, for filesystems that span devices (btrfs). Includes the
    /// device being opened.
    std::span<const NamedDevice> guest_devices;
};

struct FilesystemPlugin {
    std::string_view name;
    std::span<const Magic> magics;
    Result<Score> (*probe)(const Device& dev);
    Result<Filesystem> (*open)(const Device& dev, const FilesystemContext& context);
};

// --- Volume managers (LVM2, MD RAID) ----------------------------------------------

struct LogicalVolume {
    std::string name;   ///< the row name: "/dev/VG/LV", "/dev/md0"
    DevicePtr device;
};

struct VolumeManagerPlugin {
    std::string_view name;
    std::span<const Magic> magics;
    /// Claims a device as a member (an LVM PV, an MD component). A score
    /// above 50 is sure and beats any filesystem on the device; up to 50
    /// (a damaged signature) yields to one.
    Result<Score> (*probe)(const Device& dev);
    /// Given every device of the guest this plugin claimed, the volumes.
    /// Called again, with all members, when more turn up inside volumes
    /// (LVM on MD); only the last call's volumes and warnings are used.
    /// Problems with single volumes go into `warnings`, not the result.
    Result<std::vector<LogicalVolume>> (*assemble)(std::span<const DevicePtr> members,
                                                   std::vector<std::string>& warnings);
};

}  // namespace vmdf
