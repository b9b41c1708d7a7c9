// SPDX-License-Identifier: GPL-2.0-or-later
// Opening a guest disk: the image file, its container format, and the other
// files the container refers to (qcow2 backing files and data files, ploop
// deltas). Everything a disk needs is opened here, before any guest-written
// partition table or filesystem is parsed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "core/plugin.hpp"

namespace vmdf {

/// How deep a chain of backing files (or deltas) may go. qemu-img's own
/// chains rarely pass a dozen; a longer one is taken to be hostile.
constexpr unsigned kMaxImageChainDepth = 64;

struct ImageRequest {
    std::string path;              ///< a file, a block device, or a directory
    std::string format;            ///< an image plugin's name; empty = detect
    std::uint32_t block_size = 0;  ///< --blocksize; 0 = 512
    std::string snapshot;          ///< --snapshot; empty = the current state
};

/// The guest-visible disk of `request`. Problems that were worked around
/// (a dirty image) are appended to `warnings`, without the path.
Result<DevicePtr> open_image(const ImageRequest& request,
                             std::span<const ImagePlugin* const> images,
                             std::vector<std::string>& warnings);

/// `name` as written inside the image at `referrer`: absolute as it is,
/// relative to the referring image's directory otherwise (as qemu does).
std::string resolve_relative(const std::string& referrer, const std::string& name);

}  // namespace vmdf
