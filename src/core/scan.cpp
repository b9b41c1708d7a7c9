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

/// A plugin and the score it gave; plugin is nullptr when none claims.
template <class Plugin>
struct Choice {
    const Plugin* plugin = nullptr;
    Score score = kNotMine;
};

/// The plugin with the highest score for `dev`; a tie at the top is an
/// `ambiguous` error.
template <class Plugin>
Result<Choice<Plugin>> choose(std::span<const Plugin* const> plugins, const Device& dev) {
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
    return Choice<Plugin>{best, best_score};
}

/// How many times the volume managers are run over the members found: each
/// run scans the volumes it made, whose contents may be members of another
/// manager (LVM on MD) or, on hostile input, of one that ran already. Real
/// stacks settle in two or three.
constexpr std::size_t kMaxAssemblyRounds = 8;

/// Volume-manager scores up to this are doubtful claims (a damaged label):
/// a filesystem on the same device wins over them.
constexpr Score kDoubtfulMember = kCertain / 2;

/// What the scan of some devices found: rows, warnings, and the devices
/// volume managers claimed as members, in the order they were met.
struct Findings {
    std::vector<FilesystemRow> rows;
    std::vector<std::string> warnings;
    std::vector<std::pair<const VolumeManagerPlugin*, NamedDevice>> claims;
};

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
        for (const Findings* f : {&whole_, &partitions_found_, &volumes_}) {
            report.rows.insert(report.rows.end(), f->rows.begin(), f->rows.end());
            warnings_.insert(warnings_.end(), f->warnings.begin(), f->warnings.end());
        }
        report.warnings = std::move(warnings_);
        return report;
    }

private:
    struct Candidate {
        NamedDevice named;
        std::string source;  // the image, for messages
    };

    void scan_content(const Candidate& candidate, std::span<const NamedDevice> guest_devices,
                      Findings& out);
    void assemble_volumes();
    static void warn(std::vector<std::string>& to, const std::string& source, Error error) {
        if (!source.empty()) error.within(source);
        to.push_back(error.to_string());
    }
    static void warn(std::vector<std::string>& to, const std::string& source, const std::string& dev,
                     std::string_view layer, const std::string& message) {
        Error error{Errc::corrupt, message, std::nullopt, {}};
        error.within(std::string(layer));
        if (!dev.empty()) error.within(dev);
        warn(to, source, std::move(error));
    }

    const PluginSet& plugins_;
    const ScanOptions& options_;
    std::vector<Candidate> whole_disks_, partitions_;
    Findings whole_, partitions_found_, volumes_;
    std::vector<std::string> warnings_;  // pass one's: partition tables
};

void GuestScan::scan_content(const Candidate& candidate,
                             std::span<const NamedDevice> guest_devices, Findings& out) {
    const std::string& name = candidate.named.name;
    const Device& dev = *candidate.named.device;
    const std::string& source = candidate.source;
    // Volume-manager members first, as libblkid probes RAID signatures
    // before filesystems and stops at one: an MD 0.90 or 1.0 member holds
    // the array's filesystem at byte 0, and must not be listed as that
    // filesystem. A manager that is sure (a valid signature) takes the
    // device; an unsure one (a damaged label) gets it only when no
    // filesystem does, so that a stale signature does not hide a
    // filesystem and a damaged member is still reported by its manager.
    auto manager = choose(plugins_.volume_managers, dev);
    if (!manager) {
        warn(out.warnings, source, std::move(manager).error().within(name));
        return;
    }
    if (manager->plugin && manager->score > kDoubtfulMember) {
        spdlog::debug("{}: member of {}", name, manager->plugin->name);
        out.claims.emplace_back(manager->plugin, candidate.named);
        return;
    }
    auto fs_plugin = choose(plugins_.filesystems, dev);
    if (!fs_plugin) {
        warn(out.warnings, source, std::move(fs_plugin).error().within(name));
        return;
    }
    if (fs_plugin->plugin) {
        const FilesystemPlugin& plugin = *fs_plugin->plugin;
        if (manager->plugin)
            spdlog::debug("{}: {} rather than a doubtful {} member", name, plugin.name,
                          manager->plugin->name);
        auto fs = plugin.open(dev, FilesystemContext{options_.read_write, guest_devices});
        if (!fs) {
            warn(out.warnings, source, std::move(fs).error().within(std::string(plugin.name)).within(name));
            return;
        }
        for (const auto& w : fs->warnings) warn(out.warnings, source, name, plugin.name, w);
        spdlog::debug("{}: {}: bsize {} blocks {} bfree {} bavail {} files {} ffree {}{}",
                      name, fs->type, fs->stat.bsize, fs->stat.blocks, fs->stat.bfree,
                      fs->stat.bavail, fs->stat.files, fs->stat.ffree,
                      fs->listed ? "" : " (not listed)");
        if (!fs->listed) return;
        out.rows.push_back(FilesystemRow{name, fs->type, fs->stat});
        // libguestfs lists each non-default btrfs subvolume right after
        // its device, as a "btrfsvol:" mountable with the same figures.
        for (const auto& path : fs->subvolumes)
            out.rows.push_back(FilesystemRow{"btrfsvol:" + name + "/" + path, fs->type, fs->stat});
        return;
    }
    if (manager->plugin) {
        spdlog::debug("{}: member of {}", name, manager->plugin->name);
        out.claims.emplace_back(manager->plugin, candidate.named);
        return;
    }
    spdlog::debug("{}: no filesystem or volume found", name);
}

void GuestScan::collect_devices(const GuestDisk& disk, const std::string& dev_name) {
    auto table_plugin = choose_plugin(plugins_.partitions, *disk.device);
    if (!table_plugin) {
        warn(warnings_, disk.source, std::move(table_plugin).error().within(dev_name));
        return;
    }
    if (!*table_plugin) {
        whole_disks_.push_back(Candidate{{dev_name, disk.device}, disk.source});
        return;
    }
    const PartitionPlugin& plugin = **table_plugin;
    spdlog::debug("{}: {} partition table", dev_name, plugin.name);
    auto table = plugin.list(*disk.device);
    if (!table) {
        warn(warnings_, disk.source, std::move(table).error().within(std::string(plugin.name)).within(dev_name));
        return;
    }
    for (const auto& w : table->warnings) warn(warnings_, disk.source, dev_name, plugin.name, w);

    const std::uint64_t disk_size = disk.device->size();
    for (const Partition& part : table->partitions) {
        const std::string part_name = dev_name + std::to_string(part.number);
        spdlog::debug("{}: type {} offset {} length {}{}", part_name, part.type, part.offset,
                      part.length, part.container ? " (container, not probed)" : "");
        if (part.container) continue;
        // Like the kernel (block/partitions/core.c), a partition that starts
        // past the end of the disk is dropped and one that ends past it is cut.
        if (part.offset >= disk_size) {
            warn(warnings_, disk.source, part_name, plugin.name,
                 fmt::format("partition starts at byte {}, past the end of the disk ({} bytes)",
                             part.offset, disk_size));
            continue;
        }
        std::uint64_t length = part.length;
        if (length > disk_size - part.offset) {
            length = disk_size - part.offset;
            warn(warnings_, disk.source, part_name, plugin.name,
                 fmt::format("partition extends past the end of the disk, cut to {} bytes",
                             length));
        }
        auto slice = SliceDevice::create(disk.device, part_name, part.offset, length,
                                         table->sector_size);
        if (!slice) {
            warn(warnings_, disk.source, std::move(slice).error().within(part_name));
            continue;
        }
        partitions_.push_back(Candidate{{part_name, *slice}, disk.source});
    }
}

void GuestScan::scan_contents() {
    std::vector<NamedDevice> guest_devices;
    for (const auto* list : {&whole_disks_, &partitions_})
        for (const Candidate& c : *list) guest_devices.push_back(c.named);
    for (const Candidate& c : whole_disks_) scan_content(c, guest_devices, whole_);
    for (const Candidate& c : partitions_) scan_content(c, guest_devices, partitions_found_);
    assemble_volumes();
}

void GuestScan::assemble_volumes() {
    // Volumes can hold members of another manager (LVM PVs on MD arrays),
    // or of the same one. So the managers run to a fixed point: each round
    // gives every manager all the members found so far, on the disks and in
    // the volumes of the round before, and runs again those whose members
    // changed. Only the last round's results count, so an LVM volume group
    // with a PV on an MD array is assembled whole, never once without that
    // PV. Managers are indexed as the registry orders them, which is also
    // the order of their rows.
    const auto managers = plugins_.volume_managers;
    const auto index_of = [&](const VolumeManagerPlugin* plugin) {
        return static_cast<std::size_t>(std::find(managers.begin(), managers.end(), plugin) -
                                        managers.begin());
    };
    std::vector<Findings> results(managers.size());  // each manager's last run
    // The names of the members of that run. Names, not devices: a volume is
    // a new device object each time its manager runs, but keeps its name.
    std::vector<std::vector<std::string>> used(managers.size());
    for (std::size_t round = 0;; ++round) {
        std::vector<std::vector<DevicePtr>> members(managers.size());
        std::vector<std::vector<std::string>> names(managers.size());
        const auto add = [&](const Findings& f) {
            for (const auto& [plugin, member] : f.claims) {
                members[index_of(plugin)].push_back(member.device);
                names[index_of(plugin)].push_back(member.name);
            }
        };
        add(whole_);
        add(partitions_found_);
        for (const Findings& f : results) add(f);
        if (names == used) break;
        if (round == kMaxAssemblyRounds) {
            volumes_.warnings.push_back(fmt::format(
                "volumes still changed after {} rounds of assembly (volumes that hold their own "
                "members?): the last round's are listed",
                kMaxAssemblyRounds));
            break;
        }
        for (std::size_t i = 0; i < managers.size(); ++i) {
            if (names[i] == used[i]) continue;
            const VolumeManagerPlugin& plugin = *managers[i];
            used[i] = names[i];
            Findings found;
            if (!members[i].empty()) {
                std::vector<std::string> problems;
                auto volumes = plugin.assemble(members[i], problems);
                for (const auto& p : problems) warn(found.warnings, "", "", plugin.name, p);
                if (!volumes) {
                    warn(found.warnings, "", std::move(volumes).error().within(std::string(plugin.name)));
                } else {
                    std::vector<NamedDevice> lv_devices;
                    for (const LogicalVolume& lv : *volumes) lv_devices.push_back({lv.name, lv.device});
                    for (const NamedDevice& lv : lv_devices)
                        scan_content(Candidate{lv, ""}, lv_devices, found);
                }
            }
            results[i] = std::move(found);
        }
    }
    for (Findings& f : results) {
        volumes_.rows.insert(volumes_.rows.end(), f.rows.begin(), f.rows.end());
        volumes_.warnings.insert(volumes_.warnings.end(), f.warnings.begin(), f.warnings.end());
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
    VMDF_TRY_ASSIGN(const Choice<Plugin> choice, choose(plugins, dev));
    return choice.plugin;
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
