// SPDX-License-Identifier: GPL-2.0-or-later
// dm-thin: the volumes of a thin pool, read through the pool's metadata
// (Documentation/admin-guide/device-mapper/thin-provisioning.rst; the
// on-disk format of drivers/md/dm-thin-metadata.c and persistent-data/).
// Used by the LVM plugin for thin LVs; knows nothing of LVM.
#pragma once

#include <cstdint>
#include <string>

#include "core/device.hpp"

namespace vmdf {

struct ThinVolumeSpec {
    std::string name;                     ///< the device name, "/dev/VG/thinlv"
    DevicePtr metadata;                   ///< the pool's metadata device (_tmeta)
    DevicePtr data;                       ///< the pool's data device (_tdata)
    std::uint64_t data_block_sectors = 0; ///< the pool's chunk size in 512-byte sectors
    std::uint64_t device_id = 0;          ///< the thin device's id in the pool
    std::uint64_t size = 0;               ///< bytes
};

/// A device whose reads map through the pool's mapping B-tree; unmapped
/// blocks read as zeros, as dm-thin returns them.
Result<DevicePtr> open_thin_volume(const ThinVolumeSpec& spec);

}  // namespace vmdf
