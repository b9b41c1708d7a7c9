// SPDX-License-Identifier: GPL-2.0-or-later
// Linux MD RAID (placeholder: claims nothing yet).
#include "plugins/volume/md.hpp"

namespace vmdf::md {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<std::vector<LogicalVolume>> assemble(std::span<const DevicePtr>, std::vector<std::string>&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::md

namespace vmdf {
constexpr VolumeManagerPlugin md_plugin{"md", {}, md::probe, md::assemble};
}
