// SPDX-License-Identifier: GPL-2.0-or-later
// PLACEHOLDER: being written (issue 6). Claims nothing yet.
#include "plugins/filesystem/fat.hpp"

namespace vmdf::fat {
namespace {
Result<Score> probe(const Device&) { return kNotMine; }
Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented");
}
}  // namespace
}  // namespace vmdf::fat

namespace vmdf {
constexpr FilesystemPlugin fat_plugin{"fat", {}, fat::probe, fat::open};
}
