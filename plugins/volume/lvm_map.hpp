// SPDX-License-Identifier: GPL-2.0-or-later
// A logical volume's device: its segments, each mapped as device-mapper
// maps it: dm-linear, dm-stripe, dm-raid (drivers/md/raid5.c
// raid5_compute_sector, raid10.c near layout) and dm-zero / dm-error. Which
// segment becomes which Piece is the volume group's business (lvm_vg.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/device.hpp"

namespace vmdf::lvm {

// MD's parity layouts (include/linux/raid/pq.h ALGORITHM_*), named by the
// dm-raid types LVM uses (drivers/md/dm-raid.c raid_types[]).
enum class Parity {
    left_asymmetric, right_asymmetric, left_symmetric, right_symmetric, parity_0, parity_n,
    rotating_zero_restart, rotating_n_restart, rotating_n_continue,
    left_asymmetric_6, right_asymmetric_6, left_symmetric_6, right_symmetric_6,
};

enum class Layout { linear, striped, raid10_near, parity, zero, error };

struct Area {
    DevicePtr device;  // nullptr: a missing raid10 image
    std::uint64_t offset = 0;
};

struct Piece {
    std::uint64_t start = 0, length = 0;  // bytes of the LV
    Layout layout = Layout::linear;
    std::vector<Area> areas;
    std::uint64_t chunk = 0;   // bytes: stripe size
    unsigned copies = 1;       // raid10
    unsigned level = 5;        // parity: 5 or 6
    Parity algorithm = Parity::left_symmetric;
};

/// Which device holds data chunk `dd` of stripe row `stripe`: MD's
/// raid5_compute_sector (drivers/md/raid5.c), for `n` devices.
std::uint64_t parity_device(unsigned level, Parity algorithm, std::uint64_t n, std::uint64_t stripe,
                            std::uint64_t dd);

/// A device reading `pieces` (sorted by start, tiling [0, size)).
DevicePtr make_lv_device(std::string name, std::uint64_t size, std::uint32_t block_size,
                         std::vector<Piece> pieces);

}  // namespace vmdf::lvm
