// SPDX-License-Identifier: GPL-2.0-or-later
// An LVM2 volume group from its metadata text (lib/format_text/import_vsn1.c
// reads the same sections): its PVs, its LVs and their segments, and the
// LVs built from them: linear, striped, mirror, raid0/1/4/5/6/10, zero and
// error segments through lvm_map; thin LVs through dm_thin; old-style
// snapshots through dm_snapshot. Which LVs are rows follows libguestfs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/byte_reader.hpp"
#include "core/plugin.hpp"
#include "plugins/volume/lvm_label.hpp"
#include "plugins/volume/lvm_map.hpp"
#include "plugins/volume/lvm_text.hpp"

namespace vmdf::lvm {

/// Stripes, mirror legs or RAID images of one segment. LVM's own limits
/// are 128 stripes (MAX_STRIPES) and 64 RAID images (DEFAULT_RAID_MAX_IMAGES).
constexpr std::uint64_t kMaxAreas = 256;
/// LVs built on LVs (a thin pool's data on a RAID LV on ...): real stacks
/// are three or four deep.
constexpr unsigned kMaxLvDepth = 16;

struct PvInfo {
    std::string name;  // "pv0"
    std::string uuid;  // as in the label: no dashes
    std::string id;    // as in the metadata and in LVM's messages: with dashes
    std::string hint;  // "device", the path it had when last seen
    DevicePtr device;  // nullptr: missing
    std::uint64_t pe_start = 0;  // sectors
    std::uint64_t pe_count = 0;  // extents
};

struct SegInfo {
    std::uint64_t start_extent = 0, extent_count = 0;
    std::string type;  // without "+FLAGS"
    std::vector<std::string> type_flags;
    const lvm_text::Node* node = nullptr;
};

struct LvInfo {
    std::string name;
    std::set<std::string> status, flags;
    std::vector<SegInfo> segments;  // in file order
    std::optional<std::uint64_t> segment_count;
};

/// Where an area of a segment lies: a PV's extents or another LV's.
struct Placed {
    DevicePtr device;
    std::uint64_t offset = 0;  // bytes
};

/// A VG's PVs and LVs. LV devices are built when first asked for, LVs
/// below them first (RAID images, thin pool parts), and kept; the segment
/// types are mapped by piece(), in lvm_segment.cpp.
class VolumeGroup {
public:
    VolumeGroup(std::string name, std::uint64_t extent_size, std::uint32_t block_size,
                std::map<std::string, PvInfo> pvs, std::map<std::string, LvInfo> lvs,
                std::vector<std::string> lv_order)
        : name_(std::move(name)), extent_bytes_(extent_size * kSector), block_size_(block_size),
          pvs_(std::move(pvs)), lvs_(std::move(lvs)), lv_order_(std::move(lv_order)) {}

    const std::string& name() const { return name_; }

    /// The listed LVs; problems with single LVs go to `warnings`.
    void volumes(std::vector<LogicalVolume>& out, std::vector<std::string>& warnings);

    /// Two LVs using the same extents of a PV (LVM's own check_pv_segments
    /// refuses such a VG): one warning per pair.
    void check_overlaps(std::vector<std::string>& warnings) const;

private:
    std::string dev_name(const std::string& lv) const { return "/dev/" + name_ + "/" + lv; }
    Result<DevicePtr> lv_device(const std::string& lv, unsigned depth);
    Result<DevicePtr> build(const LvInfo& lv, unsigned depth);
    Result<Piece> piece(const SegInfo& seg, unsigned depth);
    Result<Placed> place(const std::string& area, std::uint64_t first, std::uint64_t count, unsigned depth);
    Result<Placed> place_image(const std::string& lv, std::uint64_t data_offset, std::uint64_t bytes,
                               unsigned depth);
    Result<DevicePtr> thin_device(const LvInfo& lv, const SegInfo& seg, unsigned depth);
    Result<DevicePtr> snapshot_device(const LvInfo& cow, const LvInfo& snapshot, unsigned depth);
    Result<std::uint64_t> bytes(std::uint64_t extents) const {
        auto b = checked_mul(extents, extent_bytes_);
        if (!b) return failf(Errc::corrupt, std::nullopt, "{} extents overflow a byte count", extents);
        return *b;
    }

    std::string name_;
    std::uint64_t extent_bytes_;
    std::uint32_t block_size_;
    std::map<std::string, PvInfo> pvs_;
    std::map<std::string, LvInfo> lvs_;
    std::vector<std::string> lv_order_;
    std::map<std::string, DevicePtr> built_;
    std::map<std::string, Error> failed_;
    std::set<std::string> building_;
};

/// "6uOqBp-g9t4-..." as the label stores it: without the dashes.
std::string strip_dashes(std::string_view id);

/// The `key` list of a striped or mirror segment: "name", extent, "name",
/// extent ..., `count` areas (lvm_segment.cpp).
Result<std::vector<std::pair<std::string, std::uint64_t>>> area_pairs(const lvm_text::Node& seg,
                                                                        std::string_view key,
                                                                        std::uint64_t count);

/// A list of strings as a set: the status and flags of a VG or LV.
Result<std::set<std::string>> string_set(const lvm_text::Node& node, std::string_view key);

/// One VG from the newest copy of its metadata; `pv_devices` by label UUID.
/// PVs that are missing and LVs that cannot be read are `warnings`.
Result<VolumeGroup> load_vg(const lvm_text::Node& vg, const std::map<std::string, DevicePtr>& pv_devices,
                            std::vector<std::string>& warnings);

}  // namespace vmdf::lvm
