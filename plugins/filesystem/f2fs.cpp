// SPDX-License-Identifier: GPL-2.0-or-later
// F2FS (placeholder: claims nothing yet).
#include "plugins/filesystem/f2fs.hpp"

namespace vmdf::f2fs {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::f2fs

namespace vmdf {
constexpr FilesystemPlugin f2fs_plugin{"f2fs", {}, f2fs::probe, f2fs::open};
}
