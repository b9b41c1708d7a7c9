// SPDX-License-Identifier: GPL-2.0-or-later
// dm-snapshot persistent exception stores (placeholder).
#include "plugins/volume/dm_snapshot.hpp"

namespace vmdf {

Result<DevicePtr> open_snapshot(const SnapshotSpec&) {
    return fail(Errc::unsupported, "snapshot volumes are not read yet");
}

}  // namespace vmdf
