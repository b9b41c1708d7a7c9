// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 physical volumes, volume groups and logical volumes (placeholder: claims nothing yet).
#include "plugins/volume/lvm.hpp"

namespace vmdf::lvm {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<std::vector<LogicalVolume>> assemble(std::span<const DevicePtr>, std::vector<std::string>&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::lvm

namespace vmdf {
constexpr VolumeManagerPlugin lvm_plugin{"lvm", {}, lvm::probe, lvm::assemble};
}
