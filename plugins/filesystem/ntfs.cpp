// SPDX-License-Identifier: GPL-2.0-or-later
// PLACEHOLDER: being written (issue 6). Claims nothing yet.
#include "plugins/filesystem/ntfs.hpp"

namespace vmdf::ntfs {
namespace {
Result<Score> probe(const Device&) { return kNotMine; }
Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented");
}
}  // namespace
}  // namespace vmdf::ntfs

namespace vmdf {
constexpr FilesystemPlugin ntfs_plugin{"ntfs", {}, ntfs::probe, ntfs::open};
}
