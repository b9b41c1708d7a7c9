// SPDX-License-Identifier: GPL-2.0-or-later
// UFS1/UFS2 (placeholder: claims nothing yet).
#include "plugins/filesystem/ufs.hpp"

namespace vmdf::ufs {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::ufs

namespace vmdf {
constexpr FilesystemPlugin ufs_plugin{"ufs", {}, ufs::probe, ufs::open};
}
