// SPDX-License-Identifier: GPL-2.0-or-later
// An LVM2 volume group and its LVs: see lvm_vg.hpp. How each segment type
// maps its areas is in lvm_segment.cpp.
#include "plugins/volume/lvm_vg.hpp"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/byte_reader.hpp"
#include "plugins/volume/dm_snapshot.hpp"
#include "plugins/volume/dm_thin.hpp"

namespace vmdf::lvm {

using lvm_text::Node;

Result<DevicePtr> VolumeGroup::lv_device(const std::string& name, unsigned depth) {
    if (auto it = built_.find(name); it != built_.end()) return it->second;
    if (auto it = failed_.find(name); it != failed_.end()) return fail(it->second);
    auto lv = lvs_.find(name);
    if (lv == lvs_.end()) return failf(Errc::corrupt, std::nullopt, "no logical volume '{}' in the metadata", name);
    if (building_.count(name))
        return failf(Errc::corrupt, std::nullopt, "logical volume '{}' is built on itself", name);
    if (depth > kMaxLvDepth)
        return failf(Errc::corrupt, std::nullopt, "logical volumes stacked more than {} deep", kMaxLvDepth);
    building_.insert(name);
    auto dev = build(lv->second, depth);
    building_.erase(name);
    if (!dev) {
        Error error = std::move(dev).error();
        if (depth > 0) error.within(name);
        failed_.emplace(name, error);
        return fail(std::move(error));
    }
    built_.emplace(name, *dev);
    return *dev;
}

Result<Placed> VolumeGroup::place(const std::string& area, std::uint64_t first, std::uint64_t count,
                                  unsigned depth) {
    VMDF_TRY_ASSIGN(const std::uint64_t length, bytes(count));
    VMDF_TRY_ASSIGN(const std::uint64_t skip, bytes(first));
    if (auto pv = pvs_.find(area); pv != pvs_.end()) {
        const PvInfo& p = pv->second;
        if (!p.device)
            return failf(Errc::corrupt, std::nullopt, "physical volume {} (UUID {}{}) is missing", p.name, p.id,
                         p.hint.empty() ? "" : ", last seen as " + p.hint);
        auto end = checked_add(first, count);
        if (!end || *end > p.pe_count)
            return failf(Errc::corrupt, std::nullopt, "extents {}..{} of {} run past its {} extents", first,
                         first + count - 1, p.name, p.pe_count);
        auto start = checked_mul(p.pe_start, kSector);
        auto offset = start ? checked_add(*start, skip) : std::nullopt;
        if (!offset || *offset > p.device->size() || length > p.device->size() - *offset)
            return failf(Errc::corrupt, std::nullopt,
                         "extents {}..{} of {} run past the end of its device ({} bytes)", first,
                         first + count - 1, p.name, p.device->size());
        return Placed{p.device, *offset};
    }
    if (lvs_.count(area)) {
        VMDF_TRY_ASSIGN(DevicePtr dev, lv_device(area, depth + 1));
        if (skip > dev->size() || length > dev->size() - skip)
            return failf(Errc::corrupt, std::nullopt, "extents {}..{} of logical volume {} run past its end",
                         first, first + count - 1, area);
        return Placed{dev, skip};
    }
    return failf(Errc::corrupt, std::nullopt, "unknown physical or logical volume '{}'", area);
}

Result<Placed> VolumeGroup::place_image(const std::string& lv, std::uint64_t data_offset, std::uint64_t length,
                                        unsigned depth) {
    if (!lvs_.count(lv)) return failf(Errc::corrupt, std::nullopt, "unknown logical volume '{}'", lv);
    VMDF_TRY_ASSIGN(DevicePtr dev, lv_device(lv, depth + 1));
    if (data_offset > dev->size() || length > dev->size() - data_offset)
        return failf(Errc::corrupt, std::nullopt, "image {} of {} bytes is too small for {} bytes of data", lv,
                     dev->size(), length);
    return Placed{dev, data_offset};
}

Result<DevicePtr> VolumeGroup::thin_device(const LvInfo& lv, const SegInfo& seg, unsigned depth) {
    const Node& node = *seg.node;
    if (lv.segments.size() != 1) return fail(Errc::unsupported, "a thin volume of several segments");
    if (node.find("external_origin"))
        return fail(Errc::unsupported, "a thin volume with an external origin");
    VMDF_TRY_ASSIGN(const std::string pool_name, node.get_string("thin_pool"));
    VMDF_TRY_ASSIGN(const std::uint64_t device_id, node.get_uint("device_id"));
    auto pool = lvs_.find(pool_name);
    if (pool == lvs_.end() || pool->second.segments.size() != 1 || pool->second.segments[0].type != "thin-pool")
        return failf(Errc::corrupt, std::nullopt, "thin pool '{}' not found", pool_name);
    const Node& pool_node = *pool->second.segments[0].node;
    VMDF_TRY_ASSIGN(const std::string tmeta, pool_node.get_string("metadata"));
    VMDF_TRY_ASSIGN(const std::string tdata, pool_node.get_string("pool"));
    VMDF_TRY_ASSIGN(const std::uint64_t chunk, pool_node.get_uint("chunk_size"));
    ThinVolumeSpec spec;
    spec.name = dev_name(lv.name);
    VMDF_TRY_ASSIGN(spec.metadata, lv_device(tmeta, depth + 1));
    VMDF_TRY_ASSIGN(spec.data, lv_device(tdata, depth + 1));
    spec.data_block_sectors = chunk;
    spec.device_id = device_id;
    VMDF_TRY_ASSIGN(spec.size, bytes(seg.extent_count));
    auto dev = open_thin_volume(spec);
    if (!dev) return fail(std::move(std::move(dev).error().within("dm-thin")));
    return *dev;
}

Result<DevicePtr> VolumeGroup::snapshot_device(const LvInfo& cow, const LvInfo& snapshot, unsigned depth) {
    const SegInfo& seg = snapshot.segments[0];
    if (seg.node->find("merging_store"))
        return fail(Errc::unsupported, "the snapshot is being merged into its origin");
    VMDF_TRY_ASSIGN(const std::string origin, seg.node->get_string("origin"));
    SnapshotSpec spec;
    spec.name = dev_name(cow.name);
    VMDF_TRY_ASSIGN(spec.origin, lv_device(origin, depth + 1));
    VMDF_TRY_ASSIGN(spec.cow, lv_device(cow.name, depth));
    VMDF_TRY_ASSIGN(spec.size, bytes(seg.extent_count));
    auto dev = open_snapshot(spec);
    if (!dev) return fail(std::move(std::move(dev).error().within("dm-snapshot")));
    return *dev;
}

Result<DevicePtr> VolumeGroup::build(const LvInfo& lv, unsigned depth) {
    if (lv.segments.empty()) return fail(Errc::corrupt, "no segments");
    if (lv.segment_count && *lv.segment_count != lv.segments.size())
        return failf(Errc::corrupt, std::nullopt, "segment_count is {} but there are {} segments", *lv.segment_count,
                     lv.segments.size());
    std::vector<const SegInfo*> segs;
    for (const SegInfo& s : lv.segments) segs.push_back(&s);
    std::sort(segs.begin(), segs.end(),
              [](const SegInfo* a, const SegInfo* b) { return a->start_extent < b->start_extent; });
    // The segments must tile the LV from extent 0 (lib/metadata/merge.c
    // check_lv_segments: "LV segments corrupted").
    std::uint64_t next = 0;
    for (const SegInfo* s : segs) {
        if (s->extent_count == 0) return failf(Errc::corrupt, std::nullopt, "a segment of 0 extents at {}", s->start_extent);
        if (s->start_extent < next)
            return failf(Errc::corrupt, std::nullopt, "segments overlap at extent {}", s->start_extent);
        if (s->start_extent > next)
            return failf(Errc::corrupt, std::nullopt, "extents {}..{} are in no segment", next, s->start_extent - 1);
        auto end = checked_add(next, s->extent_count);
        if (!end) return fail(Errc::corrupt, "segment extent counts overflow");
        next = *end;
    }
    VMDF_TRY_ASSIGN(const std::uint64_t size, bytes(next));
    if (segs[0]->type == "thin") return thin_device(lv, *segs[0], depth);
    std::vector<Piece> pieces;
    for (const SegInfo* s : segs) {
        for (const char* whole : {"thin", "thin-pool", "snapshot", "cache", "cache-pool", "writecache", "vdo",
                                  "vdo-pool", "integrity"})
            if (s->type == whole) return failf(Errc::unsupported, std::nullopt, "unsupported segment type {}", s->type);
        VMDF_TRY_ASSIGN(Piece p, piece(*s, depth));
        pieces.push_back(std::move(p));
    }
    return make_lv_device(dev_name(lv.name), size, block_size_, std::move(pieces));
}

void VolumeGroup::volumes(std::vector<LogicalVolume>& out, std::vector<std::string>& warnings) {
    // Old-style snapshots (lib/snapshot/snapshot.c): an LV "snapshotN" with
    // one "snapshot" segment names the origin and the COW store LV. On disk
    // snapshotN carries VISIBLE and the COW LV does not; LVM shows the pair
    // under the COW LV's name ("snap"), and so does libguestfs.
    std::map<std::string, const LvInfo*> snapshot_of;  // by COW LV
    for (const auto& [name, lv] : lvs_)
        if (lv.segments.size() == 1 && lv.segments[0].type == "snapshot") {
            const Node& seg = *lv.segments[0].node;
            auto cow = seg.get_string(seg.find("merging_store") ? "merging_store" : "cow_store");
            if (cow && lvs_.count(*cow)) snapshot_of[*cow] = &lv;
        }
    std::set<std::string> snapshots;  // the snapshotN LVs that were paired
    for (const auto& [cow, snapshot] : snapshot_of) snapshots.insert(snapshot->name);
    for (const std::string& name : lv_order_) {
        if (snapshots.count(name)) continue;  // listed under its COW LV's name
        const LvInfo& lv = lvs_.at(name);
        auto snap = snapshot_of.find(name);
        const LvInfo* pair = snap != snapshot_of.end() ? snap->second : nullptr;
        // libguestfs lists `lvs -S "lv_role=public && lv_skip_activation!=yes"`:
        // visible LVs that are not pools, nor flagged to skip activation.
        if (!lv.status.count("VISIBLE") && !(pair && pair->status.count("VISIBLE"))) continue;
        if (lv.flags.count("ACTIVATION_SKIP") || (pair && pair->flags.count("ACTIVATION_SKIP"))) {
            spdlog::debug("{}: activation skipped, not listed", dev_name(name));
            continue;
        }
        if (!lv.segments.empty()) {
            const std::string& type = lv.segments[0].type;
            if (type == "thin-pool" || type == "cache-pool" || type == "vdo-pool") continue;
        }
        auto dev = pair ? snapshot_device(lv, *pair, 0) : lv_device(name, 0);
        if (!dev) {
            warnings.push_back(std::move(dev).error().within(dev_name(name)).to_string());
            continue;
        }
        out.push_back({dev_name(name), *dev});
    }
}

void VolumeGroup::check_overlaps(std::vector<std::string>& warnings) const {
    struct Use {
        std::uint64_t first, end;
        const std::string* lv;
    };
    std::map<std::string, std::vector<Use>> uses;  // by PV
    for (const auto& [name, lv] : lvs_)
        for (const SegInfo& seg : lv.segments) {
            if (seg.type != "striped") continue;
            auto n = seg.node->get_uint("stripe_count");
            if (!n || *n == 0 || *n > kMaxAreas || seg.extent_count % *n != 0) continue;
            auto areas = area_pairs(*seg.node, "stripes", *n);
            if (!areas) continue;
            for (const auto& [area, first] : *areas)
                if (auto end = checked_add(first, seg.extent_count / *n); end && pvs_.count(area))
                    uses[area].push_back({first, *end, &name});
        }
    for (auto& [pv, list] : uses) {
        std::sort(list.begin(), list.end(), [](const Use& a, const Use& b) { return a.first < b.first; });
        const Use* reach = nullptr;  // of the uses so far, the one ending last
        for (const Use& use : list) {
            if (use.first == use.end) continue;
            if (reach && use.first < reach->end && use.lv != reach->lv)
                warnings.push_back(fmt::format("volume group {}: logical volumes {} and {} both use extent {} of {}",
                                               name_, *reach->lv, *use.lv, use.first, pv));
            if (!reach || use.end > reach->end) reach = &use;
        }
    }
}

std::string strip_dashes(std::string_view id) {
    std::string out;
    for (char c : id)
        if (c != '-') out.push_back(c);
    return out;
}

Result<std::set<std::string>> string_set(const Node& node, std::string_view key) {
    VMDF_TRY_ASSIGN(auto list, node.get_string_list(key));
    return std::set<std::string>(list.begin(), list.end());
}

namespace {

Result<LvInfo> load_lv(const Node& section) {
    LvInfo lv;
    lv.name = section.key;
    VMDF_TRY_ASSIGN(lv.status, string_set(section, "status"));
    VMDF_TRY_ASSIGN(lv.flags, string_set(section, "flags"));
    if (section.find("segment_count")) {
        VMDF_TRY_ASSIGN(const std::uint64_t n, section.get_uint("segment_count"));
        lv.segment_count = n;
    }
    for (const Node& child : section.children) {
        if (!child.is_section || !child.key.starts_with("segment")) continue;
        SegInfo seg;
        seg.node = &child;
        auto fields = [&]() -> Status {
            VMDF_TRY_ASSIGN(seg.start_extent, child.get_uint("start_extent"));
            VMDF_TRY_ASSIGN(seg.extent_count, child.get_uint("extent_count"));
            VMDF_TRY_ASSIGN(std::string type, child.get_string("type"));
            // "raid5+RESHAPE": flags after the type (flags.c read_lvflags).
            std::size_t plus = type.find('+');
            seg.type = type.substr(0, plus);
            while (plus != std::string::npos) {
                const std::size_t next = type.find('+', plus + 1);
                seg.type_flags.push_back(type.substr(plus + 1, next == std::string::npos ? next : next - plus - 1));
                plus = next;
            }
            return {};
        }();
        if (!fields) return fail(std::move(std::move(fields).error().within(child.key)));
        lv.segments.push_back(std::move(seg));
    }
    return lv;
}

}  // namespace

Result<VolumeGroup> load_vg(const Node& vg, const std::map<std::string, DevicePtr>& pv_devices,
                            std::vector<std::string>& warnings) {
    VMDF_TRY_ASSIGN(const std::uint64_t extent_size, vg.get_uint("extent_size"));
    if (extent_size == 0 || !checked_mul(extent_size, kSector))
        return failf(Errc::corrupt, std::nullopt, "extent_size {} out of range", extent_size);
    const Node* pv_section = vg.section("physical_volumes");
    if (!pv_section) return fail(Errc::corrupt, "no physical_volumes section");
    std::map<std::string, PvInfo> pvs;
    std::uint32_t block_size = 512;
    for (const Node& p : pv_section->children) {
        if (!p.is_section) continue;
        PvInfo pv;
        pv.name = p.key;
        auto fields = [&]() -> Status {
            VMDF_TRY_ASSIGN(pv.id, p.get_string("id"));
            pv.uuid = strip_dashes(pv.id);
            VMDF_TRY_ASSIGN(pv.pe_start, p.get_uint("pe_start"));
            VMDF_TRY_ASSIGN(pv.pe_count, p.get_uint("pe_count"));
            if (auto hint = p.get_string("device")) pv.hint = *hint;
            return {};
        }();
        if (!fields) return fail(std::move(std::move(fields).error().within(p.key)));
        if (auto dev = pv_devices.find(pv.uuid); dev != pv_devices.end()) {
            pv.device = dev->second;
            block_size = std::max(block_size, pv.device->block_size());
        } else {
            warnings.push_back(fmt::format("volume group {}: physical volume {} (UUID {}{}) is missing", vg.key,
                                           pv.name, pv.id, pv.hint.empty() ? "" : ", last seen as " + pv.hint));
        }
        pvs.emplace(pv.name, std::move(pv));
    }
    std::map<std::string, LvInfo> lvs;
    std::vector<std::string> order;
    if (const Node* lv_section = vg.section("logical_volumes"))
        for (const Node& l : lv_section->children) {
            if (!l.is_section) continue;
            auto lv = load_lv(l);
            if (!lv) {
                warnings.push_back(std::move(lv).error().within(fmt::format("/dev/{}/{}", vg.key, l.key)).to_string());
                continue;
            }
            if (!lvs.emplace(l.key, std::move(*lv)).second) {
                warnings.push_back(fmt::format("volume group {}: two logical volumes named {}", vg.key, l.key));
                continue;
            }
            order.push_back(l.key);
        }
    return VolumeGroup(vg.key, extent_size, block_size, std::move(pvs), std::move(lvs), std::move(order));
}

}  // namespace vmdf::lvm
