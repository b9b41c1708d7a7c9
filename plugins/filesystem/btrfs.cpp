// SPDX-License-Identifier: GPL-2.0-or-later
// PLACEHOLDER: being written (issue 5). Claims nothing yet.
#include "plugins/filesystem/btrfs.hpp"

namespace vmdf::btrfs {
namespace {
Result<Score> probe(const Device&) { return kNotMine; }
Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented");
}
}  // namespace
}  // namespace vmdf::btrfs

namespace vmdf {
constexpr FilesystemPlugin btrfs_plugin{"btrfs", {}, btrfs::probe, btrfs::open};
}
