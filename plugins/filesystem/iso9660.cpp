// SPDX-License-Identifier: GPL-2.0-or-later
// ISO 9660 (placeholder: claims nothing yet).
#include "plugins/filesystem/iso9660.hpp"

namespace vmdf::iso9660 {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::iso9660

namespace vmdf {
constexpr FilesystemPlugin iso9660_plugin{"iso9660", {}, iso9660::probe, iso9660::open};
}
