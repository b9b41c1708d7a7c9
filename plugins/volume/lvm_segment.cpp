// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 segment types (lib/striped, lib/mirror, lib/raid, lib/zero, lib/error
// in lvm2's sources) as device-mapper maps them: each segment of an LV
// becomes a Piece of its lvm_map device, its areas placed on PVs or on
// other LVs (RAID images, mirror legs) by the volume group.
#include "plugins/volume/lvm_vg.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::lvm {

using lvm_text::Node;
using lvm_text::Value;

/// "name", extent, "name", extent ...: the areas of a striped or mirror segment.
Result<std::vector<std::pair<std::string, std::uint64_t>>> area_pairs(const Node& seg, std::string_view key,
                                                                        std::uint64_t count) {
    VMDF_TRY_ASSIGN(const std::vector<Value>* items, seg.get_list(key));
    if (items->size() != 2 * count)
        return failf(Errc::corrupt, std::nullopt, "'{}' holds {} items, not {} (two per area)", key, items->size(),
                     2 * count);
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (std::size_t i = 0; i < items->size(); i += 2) {
        const Value& name = (*items)[i];
        const Value& extent = (*items)[i + 1];
        if (!name.is_string() || !extent.is_integer() || extent.integer < 0)
            return failf(Errc::corrupt, std::nullopt, "'{}' on line {} is not a list of names and extents", key,
                         name.line);
        out.emplace_back(name.text, static_cast<std::uint64_t>(extent.integer));
    }
    return out;
}

namespace {

struct RaidType {
    std::string_view name;
    unsigned level;
    Parity algorithm;
};
constexpr RaidType kParityTypes[] = {
    {"raid4", 5, Parity::parity_0},  // dm-raid: "raid4 layout = raid5_0"
    {"raid5", 5, Parity::left_symmetric},  // = raid5_ls (libdm-deptree.c)
    {"raid5_ls", 5, Parity::left_symmetric},
    {"raid5_la", 5, Parity::left_asymmetric},
    {"raid5_rs", 5, Parity::right_symmetric},
    {"raid5_ra", 5, Parity::right_asymmetric},
    {"raid5_n", 5, Parity::parity_n},
    {"raid6", 6, Parity::rotating_zero_restart},  // = raid6_zr
    {"raid6_zr", 6, Parity::rotating_zero_restart},
    {"raid6_nr", 6, Parity::rotating_n_restart},
    {"raid6_nc", 6, Parity::rotating_n_continue},
    {"raid6_n_6", 6, Parity::parity_n},
    {"raid6_ls_6", 6, Parity::left_symmetric_6},
    {"raid6_la_6", 6, Parity::left_asymmetric_6},
    {"raid6_rs_6", 6, Parity::right_symmetric_6},
    {"raid6_ra_6", 6, Parity::right_asymmetric_6},
};

/// Segment flags (the "+FLAG" suffixes of a type) that leave the data
/// where it was; others (RESHAPE...) mean an operation is under way.
constexpr std::string_view kHarmlessSegmentFlags[] = {"METADATA_FORMAT", "CROP_METADATA"};


/// The data images of a raid segment: each entry of `raids` whose name
/// has "_rmeta_" is a metadata image, the next one its data image
/// (lib/raid/raid.c _raid_text_import_areas).
Result<std::vector<std::string>> raid_images(const Node& seg, std::string_view key, std::uint64_t count) {
    VMDF_TRY_ASSIGN(std::vector<std::string> names, seg.get_string_list(key));
    std::vector<std::string> images;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i].find("_rmeta_") != std::string::npos) ++i;
        if (i >= names.size()) return failf(Errc::corrupt, std::nullopt, "'{}' ends in a metadata image", key);
        images.push_back(names[i]);
    }
    if (images.size() != count)
        return failf(Errc::corrupt, std::nullopt, "'{}' names {} data images, not {}", key, images.size(), count);
    return images;
}

Result<std::uint64_t> area_count(const Node& seg, std::string_view key) {
    VMDF_TRY_ASSIGN(const std::uint64_t n, seg.get_uint(key));
    if (n == 0 || n > kMaxAreas)
        return failf(Errc::corrupt, std::nullopt, "{} {} out of range (1..{})", key, n, kMaxAreas);
    return n;
}

/// stripe_size in bytes, checked as dm-stripe and dm-raid check it: it
/// must divide each area.
Result<std::uint64_t> chunk_bytes(const Node& seg, std::uint64_t area_bytes) {
    VMDF_TRY_ASSIGN(const std::uint64_t sectors, seg.get_uint("stripe_size"));
    auto chunk = checked_mul(sectors, kSector);
    if (sectors == 0 || !chunk || area_bytes % *chunk != 0)
        return failf(Errc::corrupt, std::nullopt, "stripe_size {} sectors does not divide an area of {} bytes",
                     sectors, area_bytes);
    return *chunk;
}

}  // namespace

Result<Piece> VolumeGroup::piece(const SegInfo& seg, unsigned depth) {
    const Node& node = *seg.node;
    Piece p;
    VMDF_TRY_ASSIGN(p.start, bytes(seg.start_extent));
    VMDF_TRY_ASSIGN(p.length, bytes(seg.extent_count));
    for (const std::string& flag : seg.type_flags)
        if (std::find(std::begin(kHarmlessSegmentFlags), std::end(kHarmlessSegmentFlags), flag) ==
            std::end(kHarmlessSegmentFlags))
            return failf(Errc::unsupported, std::nullopt, "segment type {}+{}: an operation ({}) is under way",
                         seg.type, flag, flag);
    const std::string& type = seg.type;

    if (type == "striped") {
        VMDF_TRY_ASSIGN(const std::uint64_t n, area_count(node, "stripe_count"));
        if (seg.extent_count % n != 0)
            return failf(Errc::corrupt, std::nullopt, "{} extents do not divide into {} stripes", seg.extent_count, n);
        VMDF_TRY_ASSIGN(auto areas, area_pairs(node, "stripes", n));
        for (const auto& [area, first] : areas) {
            VMDF_TRY_ASSIGN(Placed placed, place(area, first, seg.extent_count / n, depth));
            p.areas.push_back({placed.device, placed.offset});
        }
        if (n == 1) return p;  // linear: LVM writes it as one stripe
        p.layout = Layout::striped;
        VMDF_TRY_ASSIGN(p.chunk, chunk_bytes(node, p.length / n));
        return p;
    }
    if (type == "mirror") {
        // dm-mirror reads from its default (first) leg; any in-sync leg
        // holds the same data. The first that can be read is used.
        VMDF_TRY_ASSIGN(const std::uint64_t n, area_count(node, "mirror_count"));
        VMDF_TRY_ASSIGN(auto legs, area_pairs(node, "mirrors", n));
        std::optional<Error> first_error;
        for (const auto& [leg, first] : legs) {
            auto placed = place(leg, first, seg.extent_count, depth);
            if (placed) {
                p.areas.push_back({placed->device, placed->offset});
                return p;
            }
            if (!first_error) first_error = std::move(placed).error();
        }
        return fail(std::move(*first_error));
    }
    if (type == "zero" || type == "error") {
        p.layout = type == "zero" ? Layout::zero : Layout::error;
        return p;
    }
    if (!type.starts_with("raid"))
        return failf(Errc::unsupported, std::nullopt, "unsupported segment type {}", type);

    // RAID (lib/raid/raid.c): images are LVs; data may start data_offset
    // sectors into each (space kept for reshaping).
    // raid0 writes stripe_count, the others device_count (_raid_text_import_area_count).
    VMDF_TRY_ASSIGN(const std::uint64_t devices,
                    area_count(node, node.find("device_count") ? "device_count" : "stripe_count"));
    std::uint64_t data_offset = 0;
    if (node.find("data_offset")) {
        VMDF_TRY_ASSIGN(const std::uint64_t sectors, node.get_uint("data_offset"));
        auto b = checked_mul(sectors, kSector);
        if (!b) return failf(Errc::corrupt, std::nullopt, "data_offset {} overflows", sectors);
        data_offset = *b;
    }
    VMDF_TRY_ASSIGN(const auto images,
                    raid_images(node, type == "raid0" && node.find("raid0_lvs") ? "raid0_lvs" : "raids", devices));
    auto usable = [&](const std::string& image) {
        // A leg being rebuilt holds stale data (LV status REBUILD).
        auto it = lvs_.find(image);
        return it == lvs_.end() || !it->second.status.count("REBUILD");
    };

    if (type == "raid1") {
        std::optional<Error> first_error;
        for (const std::string& image : images) {
            if (!usable(image)) continue;
            auto placed = place_image(image, data_offset, p.length, depth);
            if (placed) {
                p.areas.push_back({placed->device, placed->offset});
                return p;
            }
            if (!first_error) first_error = std::move(placed).error();
        }
        if (first_error) return fail(std::move(*first_error));
        return fail(Errc::corrupt, "no raid1 image is in sync");
    }
    if (type == "raid0" || type == "raid0_meta") {
        if (seg.extent_count % devices != 0)
            return failf(Errc::corrupt, std::nullopt, "{} extents do not divide into {} stripes", seg.extent_count,
                         devices);
        for (const std::string& image : images) {
            VMDF_TRY_ASSIGN(Placed placed, place_image(image, data_offset, p.length / devices, depth));
            p.areas.push_back({placed.device, placed.offset});
        }
        p.layout = Layout::striped;
        VMDF_TRY_ASSIGN(p.chunk, chunk_bytes(node, p.length / devices));
        return p;
    }
    if (type == "raid10" || type == "raid10_near") {
        std::uint64_t copies = 2;  // lv_raid_data_copies: raid10 defaults to 2
        if (node.find("data_copies")) {
            VMDF_TRY_ASSIGN(copies, node.get_uint("data_copies"));
            if (copies < 2) copies = 2;
        }
        if (copies > devices)
            return failf(Errc::corrupt, std::nullopt, "data_copies {} exceeds device_count {}", copies, devices);
        if ((seg.extent_count * copies) % devices != 0)
            return failf(Errc::corrupt, std::nullopt, "{} extents in {} copies do not divide into {} images",
                         seg.extent_count, copies, devices);
        const std::uint64_t area = p.length / devices * copies;
        std::optional<Error> missing;
        for (const std::string& image : images) {
            auto placed = usable(image) ? place_image(image, data_offset, area, depth)
                                        : Result<Placed>(fail(Errc::corrupt, image + " is being rebuilt"));
            if (placed) {
                p.areas.push_back({placed->device, placed->offset});
            } else {
                // Near copies sit on neighbouring images: one missing image
                // leaves a copy of every chunk (checked when read).
                if (!missing) missing = std::move(placed).error();
                p.areas.push_back({nullptr, 0});
            }
        }
        const auto present = std::count_if(p.areas.begin(), p.areas.end(), [](const Area& a) { return a.device != nullptr; });
        if (static_cast<std::uint64_t>(present) + copies <= devices && missing) return fail(std::move(*missing));
        p.layout = Layout::raid10_near;
        p.copies = static_cast<unsigned>(copies);
        VMDF_TRY_ASSIGN(p.chunk, chunk_bytes(node, area));
        return p;
    }
    auto parity = std::find_if(std::begin(kParityTypes), std::end(kParityTypes),
                               [&](const RaidType& t) { return t.name == type; });
    if (parity == std::end(kParityTypes))
        return failf(Errc::unsupported, std::nullopt, "unsupported segment type {}", type);
    const std::uint64_t parity_devices = parity->level == 6 ? 2 : 1;
    if (devices <= parity_devices)
        return failf(Errc::corrupt, std::nullopt, "{} with {} devices", type, devices);
    const std::uint64_t data = devices - parity_devices;
    if (seg.extent_count % data != 0)
        return failf(Errc::corrupt, std::nullopt, "{} extents do not divide into {} data images", seg.extent_count, data);
    for (const std::string& image : images) {
        if (!usable(image))
            return failf(Errc::unsupported, std::nullopt,
                         "image {} is being rebuilt; reading a degraded {} is not supported", image, type);
        auto placed = place_image(image, data_offset, p.length / data, depth);
        if (!placed) {
            Error error = std::move(placed).error();
            error.message += fmt::format("; reading a degraded {} (parity reconstruction) is not supported", type);
            return fail(std::move(error.within(image)));
        }
        p.areas.push_back({placed->device, placed->offset});
    }
    p.layout = Layout::parity;
    p.level = parity->level;
    p.algorithm = parity->algorithm;
    VMDF_TRY_ASSIGN(p.chunk, chunk_bytes(node, p.length / data));
    return p;
}

}  // namespace vmdf::lvm
