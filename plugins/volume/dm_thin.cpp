// SPDX-License-Identifier: GPL-2.0-or-later
// dm-thin volumes (placeholder).
#include "plugins/volume/dm_thin.hpp"

namespace vmdf {

Result<DevicePtr> open_thin_volume(const ThinVolumeSpec&) {
    return fail(Errc::unsupported, "thin volumes are not read yet");
}

}  // namespace vmdf
