// SPDX-License-Identifier: GPL-2.0-or-later
// PLACEHOLDER: being written (issue 6). Claims nothing yet.
#include "plugins/filesystem/exfat.hpp"

namespace vmdf::exfat {
namespace {
Result<Score> probe(const Device&) { return kNotMine; }
Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented");
}
}  // namespace
}  // namespace vmdf::exfat

namespace vmdf {
constexpr FilesystemPlugin exfat_plugin{"exfat", {}, exfat::probe, exfat::open};
}
