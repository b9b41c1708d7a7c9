// SPDX-License-Identifier: GPL-2.0-or-later
// PLACEHOLDER: being written (issue 5). Claims nothing yet.
#include "plugins/filesystem/xfs.hpp"

namespace vmdf::xfs {
namespace {
Result<Score> probe(const Device&) { return kNotMine; }
Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented");
}
}  // namespace
}  // namespace vmdf::xfs

namespace vmdf {
constexpr FilesystemPlugin xfs_plugin{"xfs", {}, xfs::probe, xfs::open};
}
