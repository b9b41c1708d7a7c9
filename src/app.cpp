// SPDX-License-Identifier: GPL-2.0-or-later
// One invocation, in three phases: find the guests and their disks (the
// command line, libvirt, domain XML files); open every image of every
// guest, sequentially; then scan the guests, in parallel, printing each
// guest's rows whole and in guest order. No file is opened after the second
// phase, so that the scan can run confined to the open descriptors.
#include "app.hpp"

#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config.h"
#include "core/image.hpp"
#include "core/sandbox.hpp"
#include "core/scan.hpp"
#include "guests/parallel.hpp"
#include "output/writer.hpp"
#ifdef HAVE_LIBVIRT
#include "guests/domxml.hpp"
#include "guests/libvirt.hpp"
#endif

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

/// One disk to open, and how messages name it (the path as it was given).
struct DiskSpec {
    ImageRequest request;
    std::string label;
};

/// One guest: one group of rows.
struct GuestSpec {
    std::string name;                 ///< the rows' prefix
    std::vector<DiskSpec> disks;      ///< sda, sdb, ... in this order
    std::vector<std::string> errors;  ///< from its definition: nothing is opened
};

/// A guest after the open phase.
struct OpenedGuest {
    std::vector<GuestDisk> disks;
    std::vector<std::string> errors;    ///< the guest failed
    std::vector<std::string> warnings;  ///< problems worked around
};

OpenedGuest open_guest(const GuestSpec& spec, const PluginSet& plugins) {
    OpenedGuest opened;
    opened.errors = spec.errors;
    if (!opened.errors.empty()) return opened;
    for (const DiskSpec& disk : spec.disks) {
        std::vector<std::string> image_warnings;
        auto device = open_image(disk.request, plugins.images, image_warnings);
        for (const auto& warning : image_warnings) opened.warnings.push_back(disk.label + ": " + warning);
        if (!device) {
            // One unreadable disk fails the guest: without it the others
            // would get other device names, and volumes would be partial.
            opened.errors.push_back(disk.label + ": " + device.error().to_string());
            opened.disks.clear();
            return opened;
        }
        opened.disks.push_back(GuestDisk{disk.label, std::move(*device)});
    }
    return opened;
}

/// Between opening and parsing: from here on the process can read the
/// descriptors it holds and write to stdout/stderr, nothing else (see
/// core/sandbox.hpp). -v says what is in force.
void confine(const Options& opts) {
    if (!opts.sandbox) {
        spdlog::debug("sandbox: off (--no-sandbox)");
        return;
    }
    if (kSanitizerBuild) {
        spdlog::debug("sandbox: off (sanitizer build)");
        return;
    }
    const SandboxReport sandbox = enter_sandbox();
    spdlog::debug("sandbox: seccomp {}, landlock {}{}{}", sandbox.seccomp ? "on" : "OFF",
                  sandbox.landlock ? "on" : "OFF", sandbox.detail.empty() ? "" : ": ",
                  sandbox.detail);
}

/// The rows of one guest that opened, and its scan warnings.
ScanReport scan(OpenedGuest& guest, const PluginSet& plugins, const Options& opts) {
    ScanReport report = scan_guest(guest.disks, plugins, ScanOptions{opts.read_write});
    guest.disks.clear();  // the descriptors are closed as soon as possible
    return report;
}

#ifdef HAVE_LIBVIRT

/// The disks of `domain` by virt-df's -d rules (guests::plan_disk). A disk
/// that cannot be read is an error of the guest: "vdc: reason".
void add_domain_disks(const guests::DomainDef& domain, const guests::LibvirtConnection* conn,
                      GuestSpec& guest) {
    for (std::size_t i = 0; i < domain.disks.size(); ++i) {
        guests::DiskDef disk = domain.disks[i];
        const std::string label = guests::disk_label(disk, i);
        if (disk.type == "volume" && conn != nullptr && disk.device != "cdrom" && disk.device != "floppy") {
            auto path = conn->volume_path(disk.pool, disk.volume);
            if (!path) {
                guest.errors.push_back(label + ": " + path.error().message);
                continue;
            }
            disk.type = "file";
            disk.source = *path;
        }
        const guests::DiskPlan plan = guests::plan_disk(disk);
        switch (plan.action) {
        case guests::DiskPlan::Action::skip:
            spdlog::debug("{}: {}: {}", domain.name, label, plan.reason);
            break;
        case guests::DiskPlan::Action::fail:
            guest.errors.push_back(label + ": " + plan.reason);
            break;
        case guests::DiskPlan::Action::open:
            // The chain below the image is followed from the image headers,
            // as qemu does; libvirt's <backingStore> only records it.
            for (const auto& level : disk.backing)
                spdlog::debug("{}: {}: <backingStore> {} ({})", domain.name, label, level.source,
                              level.format.empty() ? "format not given" : level.format);
            guest.disks.push_back(DiskSpec{ImageRequest{plan.path, plan.format, 0, ""}, plan.path});
            break;
        }
    }
}

/// Every libvirt domain, each a guest of its own, sorted by name.
Result<std::vector<GuestSpec>> libvirt_guests(const Options& opts) {
    VMDF_TRY_ASSIGN(auto conn, guests::LibvirtConnection::open(opts.connect_uri));
    VMDF_TRY_ASSIGN(auto listing, conn.all_domains());
    std::vector<GuestSpec> result;
    for (std::size_t i = 0; i < listing.domains.size(); ++i) {
        const guests::DomainXml& dom = listing.domains[i];
        GuestSpec guest{opts.uuid && !dom.uuid.empty() ? dom.uuid : dom.name, {}, {}};
        if (!listing.errors[i].empty()) {
            guest.errors.push_back(listing.errors[i]);
        } else if (auto def = guests::parse_domain_xml(dom.xml); !def) {
            guest.errors.push_back("domain XML: " + def.error().to_string());
        } else {
            add_domain_disks(*def, &conn, guest);
        }
        result.push_back(std::move(guest));
    }
    return result;
}

/// One guest per --domxml file, in command-line order. A file that cannot
/// be read is a failed guest named by its path.
std::vector<GuestSpec> domain_xml_guests(const Options& opts) {
    std::vector<GuestSpec> result;
    for (const std::string& file : opts.domain_xml_files) {
        auto def = guests::read_domain_xml(file);
        if (!def) {
            result.push_back(GuestSpec{file, {}, {def.error().to_string()}});
            continue;
        }
        GuestSpec guest{opts.uuid && !def->uuid.empty() ? def->uuid : def->name, {}, {}};
        add_domain_disks(*def, nullptr, guest);
        result.push_back(std::move(guest));
    }
    return result;
}

#endif  // HAVE_LIBVIRT

/// -a and -d in command-line order (old-style arguments included).
std::vector<InputRef> inputs_of(const Options& opts) {
    if (!opts.inputs.empty()) return opts.inputs;
    std::vector<InputRef> inputs;  // an Options not made by parse_options
    for (std::size_t i = 0; i < opts.drives.size(); ++i) inputs.push_back({InputRef::Kind::drive, i});
    for (std::size_t i = 0; i < opts.domains.size(); ++i) inputs.push_back({InputRef::Kind::domain, i});
    return inputs;
}

/// The one guest that the -a and -d options make up together.
Result<GuestSpec> single_guest(const Options& opts) {
    const std::vector<InputRef> inputs = inputs_of(opts);
    GuestSpec guest;
#ifdef HAVE_LIBVIRT
    std::optional<guests::LibvirtConnection> conn;
#endif
    for (std::size_t n = 0; n < inputs.size(); ++n) {
        if (inputs[n].kind == InputRef::Kind::drive) {
            const DriveSpec& drive = opts.drives[inputs[n].index];
            guest.disks.push_back(DiskSpec{ImageRequest{drive.path, drive.format.value_or(""),
                                                        drive.blocksize.value_or(0),
                                                        drive.snapshot.value_or("")},
                                           drive.path});
            if (n == 0) guest.name = display_name({drive});
            continue;
        }
#ifdef HAVE_LIBVIRT
        const std::string& wanted = opts.domains[inputs[n].index];
        if (!conn) {
            VMDF_TRY_ASSIGN(auto opened, guests::LibvirtConnection::open(opts.connect_uri));
            conn.emplace(std::move(opened));
        }
        VMDF_TRY_ASSIGN(const guests::DomainXml dom, conn->lookup(wanted));
        auto def = guests::parse_domain_xml(dom.xml);
        if (!def) return fail(Errc::corrupt, wanted + ": domain XML: " + def.error().to_string());
        GuestSpec domain_guest;
        add_domain_disks(*def, &*conn, domain_guest);
        if (!domain_guest.errors.empty())
            return fail(Errc::unsupported, wanted + ": " + domain_guest.errors.front());
        for (auto& disk : domain_guest.disks) guest.disks.push_back(std::move(disk));
        // As typed (libguestfs), or the UUID the lookup found.
        if (n == 0) guest.name = opts.uuid ? dom.uuid : wanted;
#else
        return fail(Errc::unsupported, "compiled without support for libvirt.");
#endif
    }
    guest.name.append(inputs.empty() ? 0 : inputs.size() - 1, '+');  // RHBZ#880801
    return guest;
}

void format_rows(const OutputStyle& style, const std::string& name, const ScanReport& report,
                 std::string& out) {
    for (const FilesystemRow& row : report.rows) out += format_row(style, name, row.device, row.stat);
}

/// -a and -d: one guest. As libguestfs: a disk that cannot be opened stops
/// the run before the title is printed.
int run_single(const Options& opts, const PluginSet& plugins, std::ostream& out, std::ostream& err) {
    auto spec = single_guest(opts);
    if (!spec) {
        err << "virt-df: " << spec.error().message << "\n";
        return 1;
    }
    OpenedGuest guest = open_guest(*spec, plugins);
    for (const auto& warning : guest.warnings) err << "virt-df: warning: " << warning << "\n";
    if (!guest.errors.empty()) {
        for (const auto& error : guest.errors) err << "virt-df: " << error << "\n";
        return 1;
    }

    confine(opts);
    const ScanReport report = scan(guest, plugins, opts);
    for (const auto& warning : report.warnings) err << "virt-df: warning: " << warning << "\n";

    const OutputStyle style{opts.csv, opts.human, opts.inodes};
    std::string text = format_title(style);
    format_rows(style, spec->name, report, text);
    out << text;
    out.flush();
    return out ? 0 : 1;
}

#ifdef HAVE_LIBVIRT

/// Open files are not limited by guests' sizes but by the host's guest
/// count (every image of every guest is opened before the scan), so the
/// soft limit is raised to the hard one.
void raise_open_file_limit() {
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/// What one guest prints, kept whole so that guests never interleave.
struct GuestOutput {
    std::string out;
    std::string err;
    bool failed = false;
};

/// Every libvirt guest, or every --domxml guest: each its own row group;
/// one guest's failure is reported (prefixed with its name) and the others
/// still print.
int run_many(const Options& opts, std::vector<GuestSpec> specs, const PluginSet& plugins,
             std::ostream& out, std::ostream& err) {
    raise_open_file_limit();
    std::vector<OpenedGuest> opened;
    opened.reserve(specs.size());
    for (const GuestSpec& spec : specs) opened.push_back(open_guest(spec, plugins));
    confine(opts);

    const OutputStyle style{opts.csv, opts.human, opts.inodes};
    out << format_title(style);
    out.flush();

    const std::size_t threads = opts.threads != 0 ? opts.threads : guests::usable_cpus();
    bool any_failed = false;
    guests::run_ordered(
        specs.size(), threads,
        [&](std::size_t i) {
            const std::string& name = specs[i].name;
            OpenedGuest& guest = opened[i];
            GuestOutput result;
            for (const auto& w : guest.warnings) result.err += "virt-df: warning: " + name + ": " + w + "\n";
            if (!guest.errors.empty()) {
                for (const auto& e : guest.errors) result.err += "virt-df: " + name + ": " + e + "\n";
                result.failed = true;
                return result;
            }
            const ScanReport report = scan(guest, plugins, opts);
            for (const auto& w : report.warnings) result.err += "virt-df: warning: " + name + ": " + w + "\n";
            format_rows(style, name, report, result.out);
            return result;
        },
        [&](std::size_t, GuestOutput result) {
            out << result.out;
            out.flush();
            err << result.err;
            err.flush();
            any_failed = any_failed || result.failed;
        });
    return any_failed || !out ? 1 : 0;
}

#endif  // HAVE_LIBVIRT

}  // namespace

std::string display_name(const std::vector<DriveSpec>& drives) {
    if (drives.empty()) return "";
    // A directory standing for its descriptor (ploop's "root.hdd/") is
    // named without the trailing slashes; "/" stays "/".
    std::string path = drives.front().path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    const auto slash = path.size() > 1 ? path.rfind('/') : std::string::npos;
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    name.append(drives.size() - 1, '+');
    return name;
}

int run(const Options& opts, std::ostream& out, std::ostream& err) {
    set_up_logging(opts);
    const PluginSet plugins = builtin_plugins();
    int status = 0;

    const bool all_guests = opts.drives.empty() && opts.domains.empty() && opts.domain_xml_files.empty();
    if (!opts.domain_xml_files.empty() || all_guests) {
#ifdef HAVE_LIBVIRT
        std::vector<GuestSpec> specs;
        if (all_guests) {
            auto listed = libvirt_guests(opts);
            if (!listed) {
                err << "virt-df: " << listed.error().message << "\n";
                return 1;
            }
            specs = std::move(*listed);
        } else {
            specs = domain_xml_guests(opts);
        }
        status = run_many(opts, std::move(specs), plugins, out, err);
#else
        err << "virt-df: compiled without support for libvirt.\n";
        return 1;
#endif
    } else {
        status = run_single(opts, plugins, out, err);
    }

    const IoStats io = io_stats();
    spdlog::debug("read {} bytes in {} calls", io.bytes_read, io.read_calls);
    return status;
}

}  // namespace vmdf
