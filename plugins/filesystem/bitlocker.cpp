// SPDX-License-Identifier: GPL-2.0-or-later
// BitLocker volumes, recognised and reported as encrypted (placeholder: claims nothing yet).
#include "plugins/filesystem/bitlocker.hpp"

namespace vmdf::bitlocker {
namespace {

Result<Score> probe(const Device&) { return kNotMine; }

Result<Filesystem> open(const Device&, const FilesystemContext&) {
    return fail(Errc::unsupported, "not implemented yet");
}

}  // namespace
}  // namespace vmdf::bitlocker

namespace vmdf {
constexpr FilesystemPlugin bitlocker_plugin{"bitlocker", {}, bitlocker::probe, bitlocker::open};
}
