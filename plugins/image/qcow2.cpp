// SPDX-License-Identifier: GPL-2.0-or-later
// qcow2 images (placeholder: claims nothing yet).
#include "plugins/image/qcow2.hpp"

namespace vmdf::qcow2 {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<DevicePtr> open(DevicePtr, const ImageContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::qcow2

namespace vmdf {
constexpr ImagePlugin qcow2_plugin{"qcow2", {}, qcow2::probe, qcow2::open};
}
