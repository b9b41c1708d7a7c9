// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 (formats.md §3): the plugin. Claims PVs by their label
// (lvm_label), takes the newest copy of each VG's metadata text from the
// PVs' metadata areas (lvm_text), and lists the VGs' LVs (lvm_vg), named
// and ordered as libguestfs lists them.
#include "plugins/volume/lvm.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "plugins/volume/lvm_label.hpp"
#include "plugins/volume/lvm_text.hpp"
#include "plugins/volume/lvm_vg.hpp"

namespace vmdf::lvm {
namespace {

using lvm_text::Node;

constexpr Score kGoodLabel = 90, kDamagedLabel = 10;

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(auto head, read_head(dev));
    std::uint64_t sector = 0;
    auto label = find_label(head, sector);
    // A broken label is still claimed, weakly, so that assemble() says what
    // is wrong with it rather than the device silently holding nothing (a
    // filesystem on the device wins over such a claim). A good label scores
    // just below certain: an MD 0.90 or 1.0 member whose array is a PV
    // shows the PV's label too, and is MD's (libblkid, likewise, probes
    // RAID members before LVM2 ones).
    if (!label) return kDamagedLabel;
    return *label ? kGoodLabel : kNotMine;
}

/// A copy of a VG's metadata, from one metadata area.
struct MetadataCopy {
    std::shared_ptr<const Node> root;
    const Node* vg = nullptr;
    std::string id;
    std::uint64_t seqno = 0;
};

/// The VG section of a metadata text: the top-level section, beside the
/// `contents` and `version` settings (export.c _print_header, import.c).
Result<MetadataCopy> parse_copy(const std::string& text) {
    VMDF_TRY_ASSIGN(Node root, lvm_text::parse(text));
    auto shared = std::make_shared<const Node>(std::move(root));
    VMDF_TRY_ASSIGN(const std::string contents, shared->get_string("contents"));
    if (contents != "Text Format Volume Group")
        return failf(Errc::unsupported, std::nullopt, "metadata contents \"{}\"", contents);
    VMDF_TRY_ASSIGN(const std::uint64_t version, shared->get_uint("version"));
    if (version != 1) return failf(Errc::unsupported, std::nullopt, "metadata text version {}", version);
    const Node* vg = nullptr;
    for (const Node& child : shared->children)
        if (child.is_section) {
            if (vg) return fail(Errc::corrupt, "more than one volume group in one metadata text");
            vg = &child;
        }
    if (!vg) return fail(Errc::corrupt, "no volume group section in the metadata text");
    MetadataCopy copy;
    copy.root = shared;
    copy.vg = vg;
    VMDF_TRY_ASSIGN(copy.id, vg->get_string("id"));
    VMDF_TRY_ASSIGN(copy.seqno, vg->get_uint("seqno"));
    return copy;
}

Result<std::vector<LogicalVolume>> assemble(std::span<const DevicePtr> members, std::vector<std::string>& warnings) {
    std::map<std::string, DevicePtr> pv_devices;       // by label UUID
    std::map<std::string, MetadataCopy> newest;        // by VG id
    std::vector<std::string> vg_order;                 // VG ids, first seen first
    std::vector<std::pair<std::string, std::string>> metadata_less;  // (uuid, device) without metadata areas
    for (const DevicePtr& dev : members) {
        const std::string& where = dev->name();
        auto head = read_head(*dev);
        std::uint64_t sector = 0;
        auto label = head ? find_label(*head, sector) : Result<std::optional<PvLabel>>(std::move(head).failure());
        if (!label) {
            warnings.push_back(std::move(label).error().within(where).to_string());
            continue;
        }
        if (!*label) continue;
        const PvLabel& pv = **label;
        if (!pv_devices.emplace(pv.uuid, dev).second) {
            warnings.push_back(fmt::format("{}: a second physical volume with UUID {}, ignored", where, pv.uuid));
            continue;
        }
        if (pv.metadata_areas.empty()) metadata_less.emplace_back(pv.uuid, where);
        for (const Locn& mda : pv.metadata_areas) {
            auto text = read_metadata_area(*dev, mda);
            if (!text) {
                warnings.push_back(std::move(text).error().within(fmt::format("metadata area at {}", mda.offset))
                                       .within(where).to_string());
                continue;
            }
            if (!*text) continue;
            auto copy = parse_copy(**text);
            if (!copy) {
                warnings.push_back(std::move(copy).error().within(fmt::format("metadata area at {}", mda.offset))
                                       .within(where).to_string());
                continue;
            }
            // Every metadata write raises seqno; the highest is current
            // (lib/metadata/metadata.c, formats.md §3.6).
            auto [it, fresh] = newest.try_emplace(copy->id, *copy);
            if (fresh) vg_order.push_back(copy->id);
            else if (copy->seqno > it->second.seqno) it->second = *copy;
            else if (copy->seqno < it->second.seqno)
                spdlog::debug("{}: metadata area at {}: seqno {} of VG {} is stale (newest {})", where, mda.offset,
                              copy->seqno, copy->vg->key, it->second.seqno);
        }
    }

    std::vector<LogicalVolume> volumes;
    std::set<std::string> names, claimed;
    for (const std::string& id : vg_order) {
        const MetadataCopy& copy = newest.at(id);
        const Node& vg_node = *copy.vg;
        if (!names.insert(vg_node.key).second) {
            warnings.push_back(fmt::format("two volume groups are named {}; the second (id {}) is not listed",
                                           vg_node.key, id));
            continue;
        }
        if (const Node* pvs = vg_node.section("physical_volumes"))
            for (const Node& p : pvs->children)
                if (auto pid = p.get_string("id")) claimed.insert(strip_dashes(*pid));
        if (auto status = string_set(vg_node, "status"); status && status->count("EXPORTED")) {
            warnings.push_back(fmt::format("volume group {} is exported; its logical volumes are not listed",
                                           vg_node.key));
            continue;
        }
        auto vg = load_vg(vg_node, pv_devices, warnings);
        if (!vg) {
            warnings.push_back(std::move(vg).error().within("volume group " + vg_node.key).to_string());
            continue;
        }
        vg->check_overlaps(warnings);
        vg->volumes(volumes, warnings);
    }
    for (const auto& [uuid, where] : metadata_less)
        if (!claimed.count(uuid))
            warnings.push_back(fmt::format("{}: physical volume {} has no metadata area and no volume group found "
                                           "names it",
                                           where, uuid));
    // libguestfs sorts the "/dev/VG/LV" names it gets from lvs
    // (daemon/lvm.ml convert_lvm_output: List.sort compare, bytewise).
    std::sort(volumes.begin(), volumes.end(),
              [](const LogicalVolume& a, const LogicalVolume& b) { return a.name < b.name; });
    return volumes;
}

// The label may be in any of the first four sectors.
constexpr Magic kMagics[] = {{0, kLabelId}, {512, kLabelId}, {1024, kLabelId}, {1536, kLabelId}};

}  // namespace
}  // namespace vmdf::lvm

namespace vmdf {
constexpr VolumeManagerPlugin lvm_plugin{"lvm", lvm::kMagics, lvm::probe, lvm::assemble};
}