// SPDX-License-Identifier: GPL-2.0-or-later
#include "app.hpp"

#include <algorithm>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config.h"
#include "core/scan.hpp"
#include "output/writer.hpp"

namespace vmdf {

namespace {

void set_up_logging(const Options& opts) {
    static auto logger = [] {
        auto l = spdlog::stderr_logger_mt("virt-df");
        l->set_pattern("virt-df: %v");
        return l;
    }();
    spdlog::set_default_logger(logger);
    spdlog::set_level(opts.verbose ? spdlog::level::debug
                      : opts.trace ? spdlog::level::info
                                   : spdlog::level::warn);
    set_read_tracing(opts.trace);
}

/// Opens one -a image and unwraps its container. Errors name the path.
Result<DevicePtr> open_drive(const DriveSpec& drive, const PluginSet& plugins) {
    auto file = FileDevice::open(drive.path, drive.blocksize.value_or(0));
    if (!file) return std::move(file).failure();
    DevicePtr device = std::move(*file);

    const ImagePlugin* format = nullptr;
    if (drive.format) {
        for (const ImagePlugin* p : plugins.images)
            if (p->name == *drive.format) format = p;
        if (!format) {
            std::string known;
            for (const ImagePlugin* p : plugins.images) known += (known.empty() ? "" : ", ") + std::string(p->name);
            return fail(Errc::unsupported,
                        fmt::format("unknown disk format '{}' (this build reads: {})", *drive.format, known));
        }
    } else {
        auto chosen = choose_plugin(plugins.images, *device);
        if (!chosen) return std::move(chosen).failure();
        format = *chosen;
    }
    spdlog::debug("{}: format {}", drive.path, format->name);
    auto opened = format->open(device);
    if (!opened) return fail(std::move(opened.error().within(std::string(format->name))));
    return opened;
}

}  // namespace

std::string display_name(const std::vector<DriveSpec>& drives) {
    if (drives.empty()) return "";
    const std::string& path = drives.front().path;
    const auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    name.append(drives.size() - 1, '+');
    return name;
}

int run(const Options& opts, std::ostream& out, std::ostream& err) {
    set_up_logging(opts);
    if (opts.drives.empty() || !opts.domains.empty()) {
        // -d and all-guests mode need libvirt (a later issue).
        err << "virt-df: compiled without support for libvirt.\n";
        return 1;
    }

    const PluginSet plugins = builtin_plugins();
    std::vector<GuestDisk> disks;
    for (const DriveSpec& drive : opts.drives) {
        auto device = open_drive(drive, plugins);
        if (!device) {
            err << "virt-df: " << drive.path << ": " << device.error().to_string() << "\n";
            return 1;
        }
        disks.push_back(GuestDisk{drive.path, std::move(*device)});
    }

    const ScanReport report = scan_guest(disks, plugins, ScanOptions{opts.read_write});
    for (const auto& warning : report.warnings) err << "virt-df: warning: " << warning << "\n";

    const OutputStyle style{opts.csv, opts.human, opts.inodes};
    const std::string name = display_name(opts.drives);
    out << format_title(style);
    for (const FilesystemRow& row : report.rows) out << format_row(style, name, row.device, row.stat);
    out.flush();

    const IoStats io = io_stats();
    spdlog::debug("read {} bytes in {} calls", io.bytes_read, io.read_calls);
    return out ? 0 : 1;
}

}  // namespace vmdf
