// SPDX-License-Identifier: GPL-2.0-or-later
// ploop and Parallels images, DiskDescriptor.xml (placeholder: claims nothing yet).
#include "plugins/image/ploop.hpp"

namespace vmdf::ploop {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<DevicePtr> open(DevicePtr, const ImageContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::ploop

namespace vmdf {
constexpr ImagePlugin ploop_plugin{"ploop", {}, ploop::probe, ploop::open};
}
