// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/plugin.hpp"

namespace vmdf {
extern const FilesystemPlugin btrfs_plugin;
}

namespace vmdf::btrfs {

// The kernel's space accounting for statfs, on figures already read from
// the image (exposed for tests).

/// A device of the filesystem, from its DEV_ITEM.
struct DeviceSpace {
    std::uint64_t total_bytes = 0, bytes_used = 0;
    bool present = false;   ///< found among the guest's devices
    bool writable = false;  ///< present on a writable block device
};

/// A block group: a chunk and its BLOCK_GROUP_ITEM.
struct BlockGroupSpace {
    std::uint64_t length = 0, used = 0, flags = 0;
    bool writable = false;  ///< btrfs_chunk_writeable; if not, a read-only group
};

struct SpaceModel {
    std::uint64_t total_bytes = 0;   ///< superblock total_bytes
    std::uint32_t sectorsize = 4096, nodesize = 16384;
    bool free_space_tree = false;    ///< the free_space_tree mount option
    unsigned global_roots = 0;       ///< trees counted by the global reserve
    std::uint64_t global_roots_used = 0;  ///< their root items' bytes_used
    std::vector<DeviceSpace> devices;
    std::vector<BlockGroupSpace> block_groups;
};

/// btrfs_calc_avail_data_space: what new data chunks could still take from
/// the unallocated space, for the data profile the allocator would choose
/// among `data_profiles` (block group profile bits in use by data).
std::uint64_t avail_data_space(std::span<const DeviceSpace> devices, std::uint64_t data_profiles);

/// btrfs_statfs for a mounted filesystem described by `model`.
StatVfs compute_statfs(const SpaceModel& model);

}  // namespace vmdf::btrfs
