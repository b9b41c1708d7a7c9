// SPDX-License-Identifier: GPL-2.0-or-later
// dm-snapshot: a snapshot volume, its origin seen through a persistent
// exception store (drivers/md/dm-snap-persistent.c). Used by the LVM plugin
// for old-style (non-thin) snapshot LVs; knows nothing of LVM.
#pragma once

#include <cstdint>
#include <string>

#include "core/device.hpp"

namespace vmdf {

struct SnapshotSpec {
    std::string name;          ///< "/dev/VG/snap"
    DevicePtr origin;          ///< the origin LV as it is now
    DevicePtr cow;             ///< the COW store (the snapshot LV's own extents)
    std::uint64_t size = 0;    ///< bytes: the origin's size
};

/// The origin as it was when the snapshot was taken: chunks the store has
/// an exception for are read from the store, the rest from the origin.
Result<DevicePtr> open_snapshot(const SnapshotSpec& spec);

}  // namespace vmdf
