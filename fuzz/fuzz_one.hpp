// SPDX-License-Identifier: GPL-2.0-or-later
// What one fuzzing input does to one plugin, per layer: shared by the
// libFuzzer targets (fuzz_target.cpp) and the replay of past findings in
// the unit tests (test/plugins/fuzz_regressions_test.cpp). A plugin's error
// values are normal results; findings are crashes, hangs and sanitizer
// reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/scan.hpp"
#include "fuzz/sparse_input.hpp"
#include "plugins/volume/lvm_text.hpp"
#include "plugins/volume/lvm_vg.hpp"

namespace vmdf::fuzz {

/// Reads a device the way a filesystem would, and some more: its first
/// MiB, and eight blocks spread over the rest.
inline void read_around(const Device& dev) {
    std::vector<std::byte> block(4096);
    const std::uint64_t size = dev.size();
    for (std::uint64_t off = 0; off < size && off < (1u << 20); off += block.size())
        (void)dev.read(off, std::span(block).first(std::min<std::uint64_t>(block.size(), size - off)));
    for (std::uint64_t i = 1; i <= 8 && size > block.size(); ++i)
        (void)dev.read((size - block.size()) / 8 * i, block);
}

inline void run_image(const ImagePlugin& plugin, const std::uint8_t* data, std::size_t size) {
    const DevicePtr dev = SparseDevice::parse(data, size);
    auto score = plugin.probe(*dev);
    if (!score || *score == kNotMine) return;
    std::vector<std::string> warnings;
    const ImageContext context{
        .path = "fuzz.img",
        .snapshot = {},
        .block_size = 0,
        .open_backing = [](const std::string&, std::string_view) -> Result<DevicePtr> {
            return fail(Errc::unsupported, "no backing files while fuzzing");
        },
        .open_file = [](const std::string&) -> Result<DevicePtr> {
            return fail(Errc::unsupported, "no files while fuzzing");
        },
        .warnings = warnings,
    };
    auto disk = plugin.open(dev, context);
    if (disk) read_around(**disk);
}

inline void run_partition(const PartitionPlugin& plugin, const std::uint8_t* data, std::size_t size) {
    const DevicePtr dev = SparseDevice::parse(data, size);
    auto score = plugin.probe(*dev);
    if (!score || *score == kNotMine) return;
    (void)plugin.list(*dev);
}

inline void run_filesystem(const FilesystemPlugin& plugin, const std::uint8_t* data, std::size_t size) {
    const DevicePtr dev = SparseDevice::parse(data, size);
    auto score = plugin.probe(*dev);
    if (!score || *score == kNotMine) return;
    const NamedDevice self{"/dev/sda", dev};
    (void)plugin.open(*dev, FilesystemContext{false, std::span(&self, 1)});
}

inline void run_volume(const VolumeManagerPlugin& plugin, const std::uint8_t* data, std::size_t size) {
    const DevicePtr dev = SparseDevice::parse(data, size);
    auto score = plugin.probe(*dev);
    if (!score || *score == kNotMine) return;
    std::vector<std::string> warnings;
    auto volumes = plugin.assemble(std::span<const DevicePtr>(&dev, 1), warnings);
    if (volumes)
        for (const auto& volume : *volumes) read_around(*volume.device);
}

/// LVM2 metadata text, which run_volume reaches only past two checksums (the
/// label's and the metadata area's), so rarely: the input is the text. What
/// parses is loaded as volume groups whose PVs are all present (64 KiB of
/// zeros each, at most 16), and their LVs are built and read.
inline void run_lvm_text(const std::uint8_t* data, std::size_t size) {
    const std::string text = size ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
    auto root = lvm_text::parse(text);
    if (!root) return;
    for (const lvm_text::Node& vg_node : root->children) {
        if (!vg_node.is_section) continue;
        std::map<std::string, DevicePtr> pvs;
        if (const lvm_text::Node* section = vg_node.section("physical_volumes"))
            for (const lvm_text::Node& pv : section->children)
                if (auto id = pv.get_string("id"); id && pvs.size() < 16)
                    pvs.emplace(lvm::strip_dashes(*id),
                                std::make_shared<MemoryDevice>(pv.key, std::vector<std::byte>(64 * 1024)));
        std::vector<std::string> warnings;
        auto vg = lvm::load_vg(vg_node, pvs, warnings);
        if (!vg) continue;
        std::vector<LogicalVolume> volumes;
        vg->check_overlaps(warnings);
        vg->volumes(volumes, warnings);
        for (const auto& volume : volumes) read_around(*volume.device);
    }
}

inline void run_scan(const std::uint8_t* data, std::size_t size) {
    const GuestDisk disks[] = {{"fuzz.img", SparseDevice::parse(data, size)}};
    (void)scan_guest(disks, builtin_plugins());
}

}  // namespace vmdf::fuzz
