// SPDX-License-Identifier: GPL-2.0-or-later
#include "app.hpp"

#include <algorithm>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config.h"
#include "core/image.hpp"
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
        std::vector<std::string> image_warnings;
        auto device = open_image(ImageRequest{drive.path, drive.format.value_or(""),
                                              drive.blocksize.value_or(0), drive.snapshot.value_or("")},
                                 plugins.images, image_warnings);
        for (const auto& warning : image_warnings)
            err << "virt-df: warning: " << drive.path << ": " << warning << "\n";
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
