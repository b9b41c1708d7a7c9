// SPDX-License-Identifier: GPL-2.0-or-later
// Raw images: the file (or block device) is the guest's disk, byte for byte.
#include "plugins/image/raw.hpp"

namespace vmdf::raw {
namespace {

/// The smallest positive score: raw is chosen only when no container format
/// claims the file (QEMU's raw driver does the same).
Result<Score> probe(const Device&) { return 1; }

Result<DevicePtr> open(DevicePtr file, const ImageContext& context) {
    if (!context.snapshot.empty())
        return fail(Errc::unsupported, "a raw image has no snapshots (--snapshot)");
    return file;
}

}  // namespace
}  // namespace vmdf::raw

namespace vmdf {
constexpr ImagePlugin raw_plugin{"raw", {}, raw::probe, raw::open};
}
