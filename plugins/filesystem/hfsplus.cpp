// SPDX-License-Identifier: GPL-2.0-or-later
// HFS+ (placeholder: claims nothing yet).
#include "plugins/filesystem/hfsplus.hpp"

namespace vmdf::hfsplus {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::hfsplus

namespace vmdf {
constexpr FilesystemPlugin hfsplus_plugin{"hfsplus", {}, hfsplus::probe, hfsplus::open};
}
