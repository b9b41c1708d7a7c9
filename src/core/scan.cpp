// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/scan.hpp"

#include <algorithm>
#include <map>
#include <string_view>

#include <spdlog/spdlog.h>

namespace vmdf {

namespace {

/// Does `dev` carry at least one of the plugin's magics? No magics: always.
bool magics_match(std::span<const Magic> magics, const Device& dev) {
    if (magics.empty()) return true;
    for (const Magic& m : magics) {
        std::vector<std::byte> buf(m.bytes.size());
        if (!dev.read(m.offset, buf)) continue;  // too small for this magic
        if (std::equal(buf.begin(), buf.end(), m.bytes.begin(), m.bytes.end(),
                       [](std::byte a, char b) { return a == static_cast<std::byte>(b); }))
            return true;
    }
    return false;
}

/// What the scan collects as it walks one guest, in two passes: first the
/// devices that may hold a filesystem (whole disks without a partition
/// table, partitions), then what each of them holds, so that a filesystem
/// spanning several devices (btrfs) can find its other members.
class GuestScan {
public:
    GuestScan(const PluginSet& plugins, const ScanOptions& options)
        : plugins_(plugins), options_(options) {}

    /// Pass one: the disk itself, or its partitions.
    void collect_devices(const GuestDisk& disk, const std::string& dev_name);
    /// Pass two: a filesystem, a volume-manager member, or nothing, for
    /// every device collected; then the volumes assembled from members.
    void scan_contents();

    ScanReport finish() {
        ScanReport report;
        // libguestfs list_filesystems order: whole devices, partitions, then
        // volumes (MD and LVM).
        for (auto* rows : {&whole_rows_, &partition_rows_, &volume_rows_})
            report.rows.insert(report.rows.end(), rows->begin(), rows->end());
        report.warnings = std::move(warnings_);
        return report;
    }

private:
    struct Candidate {
        NamedDevice named;
        std::string source;                 // the image, for messages
        std::vector<FilesystemRow>* rows;   // where its rows go
    };

    void scan_content(const Candidate& candidate, std::span<const NamedDevice> guest_devices);
    void assemble_volumes();
    void warn(const std::string& source, Error error) {
        if (!source.empty()) error.within(source);
        warnings_.push_back(error.to_string());
    }
    void warn(const std::string& source, const std::string& dev, std::string_view layer,
              const std::string& message) {
        Error error{Errc::corrupt, message, std::nullopt, {}};
        error.within(std::string(layer));
        if (!dev.empty()) error.within(dev);
        warn(source, std::move(error));
    }

    const PluginSet& plugins_;
    const ScanOptions& options_;
    std::vector<Candidate> whole_disks_, partitions_;
    std::vector<FilesystemRow> whole_rows_, partition_rows_, volume_rows_;
    std::vector<std::string> warnings_;
    std::map<const VolumeManagerPlugin*, std::vector<DevicePtr>> members_;
    std::vector<const VolumeManagerPlugin*> manager_order_;  // first-claim order
};

void GuestScan::scan_content(const Candidate& candidate,
                             std::span<const NamedDevice> guest_devices) {
    const std::string& name = candidate.named.name;
    const Device& dev = *candidate.named.device;
    const std::string& source = candidate.source;
    auto fs_plugin = choose_plugin(plugins_.filesystems, dev);
    if (!fs_plugin) {
        warn(source, std::move(fs_plugin).error().within(name));
        return;
    }
    if (*fs_plugin) {
        const FilesystemPlugin& plugin = **fs_plugin;
        auto fs = plugin.open(dev, FilesystemContext{options_.read_write, guest_devices});
        if (!fs) {
            warn(source, std::move(fs).error().within(std::string(plugin.name)).within(name));
            return;
        }
        for (const auto& w : fs->warnings) warn(source, name, plugin.name, w);
        spdlog::debug("{}: {}: bsize {} blocks {} bfree {} bavail {} files {} ffree {}{}",
                      name, fs->type, fs->stat.bsize, fs->stat.blocks, fs->stat.bfree,
                      fs->stat.bavail, fs->stat.files, fs->stat.ffree,
                      fs->listed ? "" : " (not listed)");
        if (!fs->listed) return;
        candidate.rows->push_back(FilesystemRow{name, fs->type, fs->stat});
        // libguestfs lists each non-default btrfs subvolume right after
        // its device, as a "btrfsvol:" mountable with the same figures.
        for (const auto& path : fs->subvolumes)
            candidate.rows->push_back(FilesystemRow{"btrfsvol:" + name + "/" + path, fs->type, fs->stat});
        return;
    }
    auto vm_plugin = choose_plugin(plugins_.volume_managers, dev);
    if (!vm_plugin) {
        warn(source, std::move(vm_plugin).error().within(name));
        return;
    }
    if (*vm_plugin) {
        spdlog::debug("{}: member of {}", name, (*vm_plugin)->name);
        auto [it, inserted] = members_.try_emplace(*vm_plugin);
        if (inserted) manager_order_.push_back(*vm_plugin);
        it->second.push_back(candidate.named.device);
        return;
    }
    spdlog::debug("{}: no filesystem or volume found", name);
}

void GuestScan::collect_devices(const GuestDisk& disk, const std::string& dev_name) {
    auto table_plugin = choose_plugin(plugins_.partitions, *disk.device);
    if (!table_plugin) {
        warn(disk.source, std::move(table_plugin).error().within(dev_name));
        return;
    }
    if (!*table_plugin) {
        whole_disks_.push_back(Candidate{{dev_name, disk.device}, disk.source, &whole_rows_});
        return;
    }
    const PartitionPlugin& plugin = **table_plugin;
    spdlog::debug("{}: {} partition table", dev_name, plugin.name);
    auto table = plugin.list(*disk.device);
    if (!table) {
        warn(disk.source, std::move(table).error().within(std::string(plugin.name)).within(dev_name));
        return;
    }
    for (const auto& w : table->warnings) warn(disk.source, dev_name, plugin.name, w);

    const std::uint64_t disk_size = disk.device->size();
    for (const Partition& part : table->partitions) {
        const std::string part_name = dev_name + std::to_string(part.number);
        spdlog::debug("{}: type {} offset {} length {}{}", part_name, part.type, part.offset,
                      part.length, part.container ? " (container, not probed)" : "");
        if (part.container) continue;
        // Like the kernel (block/partitions/core.c), a partition that starts
        // past the end of the disk is dropped and one that ends past it is cut.
        if (part.offset >= disk_size) {
            warn(disk.source, part_name, plugin.name,
                 fmt::format("partition starts at byte {}, past the end of the disk ({} bytes)",
                             part.offset, disk_size));
            continue;
        }
        std::uint64_t length = part.length;
        if (length > disk_size - part.offset) {
            length = disk_size - part.offset;
            warn(disk.source, part_name, plugin.name,
                 fmt::format("partition extends past the end of the disk, cut to {} bytes",
                             length));
        }
        auto slice = SliceDevice::create(disk.device, part_name, part.offset, length,
                                         table->sector_size);
        if (!slice) {
            warn(disk.source, std::move(slice).error().within(part_name));
            continue;
        }
        partitions_.push_back(Candidate{{part_name, *slice}, disk.source, &partition_rows_});
    }
}

void GuestScan::scan_contents() {
    std::vector<NamedDevice> guest_devices;
    for (const auto* list : {&whole_disks_, &partitions_})
        for (const Candidate& c : *list) guest_devices.push_back(c.named);
    for (const auto* list : {&whole_disks_, &partitions_})
        for (const Candidate& c : *list) scan_content(c, guest_devices);
    assemble_volumes();
}

void GuestScan::assemble_volumes() {
    for (const VolumeManagerPlugin* plugin : manager_order_) {
        std::vector<std::string> problems;
        auto volumes = plugin->assemble(members_[plugin], problems);
        for (const auto& p : problems) warn("", "", plugin->name, p);
        if (!volumes) {
            warn("", std::move(volumes).error().within(std::string(plugin->name)));
            continue;
        }
        std::vector<NamedDevice> lv_devices;
        for (const LogicalVolume& lv : *volumes) lv_devices.push_back({lv.name, lv.device});
        for (const NamedDevice& lv : lv_devices)
            scan_content(Candidate{lv, "", &volume_rows_}, lv_devices);
    }
}

}  // namespace

std::string disk_device_name(std::size_t index) {
    // Bijective base 26, as the kernel's sd driver names disks (sd_format_disk_name).
    std::string letters;
    std::size_t n = index + 1;
    while (n > 0) {
        --n;
        letters.insert(letters.begin(), static_cast<char>('a' + n % 26));
        n /= 26;
    }
    return "/dev/sd" + letters;
}

template <class Plugin>
Result<const Plugin*> choose_plugin(std::span<const Plugin* const> plugins, const Device& dev) {
    const Plugin* best = nullptr;
    const Plugin* rival = nullptr;
    Score best_score = kNotMine;
    for (const Plugin* plugin : plugins) {
        if (!magics_match(plugin->magics, dev)) continue;
        auto score = plugin->probe(dev);
        if (!score) {
            Error error = std::move(score).error();
            return fail(std::move(error.within(std::string(plugin->name))));
        }
        if (*score > best_score) {
            best = plugin;
            best_score = *score;
            rival = nullptr;
        } else if (*score == best_score && *score > kNotMine) {
            rival = plugin;
        }
    }
    if (rival)
        return failf(Errc::ambiguous, std::nullopt, "both {} and {} claim this device (score {})",
                     best->name, rival->name, best_score);
    if (best) spdlog::debug("{}: {} (score {})", dev.name(), best->name, best_score);
    return best;
}

template Result<const ImagePlugin*> choose_plugin(std::span<const ImagePlugin* const>,
                                                  const Device&);
template Result<const PartitionPlugin*> choose_plugin(std::span<const PartitionPlugin* const>,
                                                      const Device&);
template Result<const FilesystemPlugin*> choose_plugin(std::span<const FilesystemPlugin* const>,
                                                       const Device&);
template Result<const VolumeManagerPlugin*> choose_plugin(
    std::span<const VolumeManagerPlugin* const>, const Device&);

ScanReport scan_guest(std::span<const GuestDisk> disks, const PluginSet& plugins,
                      const ScanOptions& options) {
    const ReadDeadline deadline(options.time_limit);
    GuestScan scan(plugins, options);
    for (std::size_t i = 0; i < disks.size(); ++i) scan.collect_devices(disks[i], disk_device_name(i));
    scan.scan_contents();
    ScanReport report = scan.finish();
    // Probes that fail to read only decline, so say why rows may be missing.
    if (deadline.expired())
        report.warnings.push_back(fmt::format(
            "the scan of this guest took longer than {} s and was cut short: some filesystems "
            "may be missing",
            std::chrono::duration_cast<std::chrono::seconds>(options.time_limit).count()));
    return report;
}

}  // namespace vmdf
