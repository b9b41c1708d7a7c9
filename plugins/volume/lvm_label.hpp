// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 physical volume labels and metadata areas (formats.md §3): the
// LABELONE label in one of the first four sectors, its pv_header, and the
// committed text of a metadata area. Structures from lvm2's
// lib/label/label.h and lib/format_text/layout.h; read as
// lib/format_text/format-text.c reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/device.hpp"
#include "core/result.hpp"

namespace vmdf::lvm {

constexpr std::uint64_t kSector = 512;
/// lib/label/label.h LABEL_SCAN_SECTORS: the label is in one of these.
constexpr std::uint64_t kLabelScanSectors = 4;
constexpr std::string_view kLabelId{"LABELONE", 8};

/// A disk_locn of the pv_header: bytes from the start of the device.
struct Locn {
    std::uint64_t offset = 0, size = 0;
};

struct PvLabel {
    std::string uuid;  // 32 characters
    std::uint64_t device_size = 0;
    std::vector<Locn> data_areas, metadata_areas;
};

/// The first four sectors of `dev` (as many as it has).
Result<std::vector<std::byte>> read_head(const Device& dev);

/// The label in `head`; nothing when there is none, an error for one that
/// is there but broken. `label_sector` is set to the sector it is in.
Result<std::optional<PvLabel>> find_label(std::span<const std::byte> head, std::uint64_t& label_sector);

/// The committed metadata text of one metadata area (slot 0), or nothing
/// when the area holds none (a new PV) or is marked ignored.
Result<std::optional<std::string>> read_metadata_area(const Device& dev, const Locn& mda);

}  // namespace vmdf::lvm
