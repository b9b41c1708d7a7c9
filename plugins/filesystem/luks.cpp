// SPDX-License-Identifier: GPL-2.0-or-later
// LUKS containers, recognised and reported as encrypted (placeholder: claims nothing yet).
#include "plugins/filesystem/luks.hpp"

namespace vmdf::luks {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::luks

namespace vmdf {
constexpr FilesystemPlugin luks_plugin{"luks", {}, luks::probe, luks::open};
}
