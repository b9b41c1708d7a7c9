// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/options.hpp"

#include <charconv>

#include <unistd.h>

#include <boost/program_options.hpp>

namespace po = boost::program_options;

namespace vmdf {

namespace {

po::options_description describe_options() {
    po::options_description desc;
    desc.add_options()
        ("add,a", po::value<std::vector<std::string>>())
        ("blocksize", po::value<std::vector<std::string>>())
        ("connect,c", po::value<std::string>())
        ("csv", po::bool_switch())
        ("domain,d", po::value<std::vector<std::string>>())
        ("domxml", po::value<std::vector<std::string>>())
        ("format", po::value<std::vector<std::string>>())
        ("human-readable,h", po::bool_switch())
        ("help", po::bool_switch())
        ("inodes,i", po::bool_switch())
        ("long-options", po::bool_switch())
        ("mount-mode", po::value<std::string>())
        ("no-sandbox", po::bool_switch())
        ("one-per-guest", po::bool_switch())
        ("short-options", po::bool_switch())
        ("snapshot", po::value<std::vector<std::string>>())
        ("uuid", po::bool_switch())
        ("verbose,v", po::bool_switch())
        ("version,V", po::bool_switch())
        (",x", po::bool_switch())
        (",P", po::value<std::string>());
    return desc;
}

/// Stands for "no value" in --format and --blocksize after normalising.
constexpr const char* kNoValue = "\x01";

/// --format and --blocksize take an optional value, getopt style: only as
/// "--format=VALUE"; a bare "--format" or an empty "--format=" means "back
/// to the default", and the next word is never taken as the value. Boost
/// has no such option kind, so both spellings become "--format=<kNoValue>".
std::vector<std::string> normalise_optional_values(int argc, const char* const argv[]) {
    std::vector<std::string> args(argv, argv + argc);
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--") break;
        for (const char* name : {"--format", "--blocksize"})
            if (args[i] == name || args[i] == std::string(name) + "=") args[i] = std::string(name) + "=" + kNoValue;
    }
    return args;
}

template <class T>
std::optional<T> parse_number(const std::string& s) {
    T value{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return value;
}

}  // namespace

Options parse_options(int argc, const char* const argv[]) {
    const po::options_description desc = describe_options();
    po::options_description all;
    all.add(desc).add_options()("positional", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("positional", -1);

    const std::vector<std::string> args = normalise_optional_values(argc, argv);
    po::parsed_options parsed{nullptr};
    try {
        parsed = po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                     .options(all)
                     .positional(positional)
                     .style(po::command_line_style::unix_style)
                     .run();
    } catch (const po::error& e) {
        throw UsageError(e.what(), true);
    }

    Options opts;
    // --format and --blocksize apply to the -a options that follow, so the
    // options are walked in command-line order.
    std::optional<std::string> format;
    std::optional<std::uint32_t> blocksize;
    std::optional<std::string> snapshot;
    bool format_pending = false, blocksize_pending = false, snapshot_pending = false;
    std::vector<std::string> positionals;
    for (const po::option& o : parsed.options) {
        std::string value = o.value.empty() ? "" : o.value.front();
        if (value == kNoValue) value.clear();
        if (o.string_key == "add") {
            opts.inputs.push_back({InputRef::Kind::drive, opts.drives.size()});
            opts.drives.push_back(DriveSpec{value, format, blocksize, snapshot});
            format_pending = blocksize_pending = snapshot_pending = false;
        } else if (o.string_key == "snapshot") {
            snapshot = value.empty() ? std::nullopt : std::optional(value);
            snapshot_pending = true;
        } else if (o.string_key == "format") {
            format = value.empty() ? std::nullopt : std::optional(value);
            format_pending = true;
        } else if (o.string_key == "blocksize") {
            if (value.empty()) {
                blocksize.reset();
            } else {
                auto n = parse_number<std::uint32_t>(value);
                if (!n) throw UsageError("--blocksize option is not numeric");
                if (*n != 512 && *n != 4096)
                    throw UsageError("--blocksize=" + value + ": the sector size must be 512 or 4096");
                blocksize = *n;
            }
            blocksize_pending = true;
        } else if (o.string_key == "domain") {
            opts.inputs.push_back({InputRef::Kind::domain, opts.domains.size()});
            opts.domains.push_back(value);
        } else if (o.string_key == "domxml") {
            opts.domain_xml_files.push_back(value);
        } else if (o.string_key == "connect") {
            opts.connect_uri = value;
        } else if (o.string_key == "-P") {
            auto n = parse_number<std::size_t>(value);
            if (!n) throw UsageError("-P option is not numeric");
            opts.threads = *n;
        } else if (o.string_key == "mount-mode") {
            if (value != "ro" && value != "rw")
                throw UsageError("--mount-mode=" + value + ": must be ro or rw");
            opts.read_write = value == "rw";
        } else if (o.string_key == "positional") {
            positionals.push_back(value);
        } else if (o.string_key == "csv") {
            opts.csv = true;
        } else if (o.string_key == "human-readable") {
            opts.human = true;
        } else if (o.string_key == "inodes") {
            opts.inodes = true;
        } else if (o.string_key == "no-sandbox") {
            opts.sandbox = false;
        } else if (o.string_key == "uuid") {
            opts.uuid = true;
        } else if (o.string_key == "verbose") {
            opts.verbose = true;
        } else if (o.string_key == "-x") {
            opts.trace = true;
        } else if (o.string_key == "help") {
            opts.action = Options::Action::help;
            return opts;
        } else if (o.string_key == "version") {
            opts.action = Options::Action::version;
            return opts;
        } else if (o.string_key == "long-options") {
            opts.action = Options::Action::long_options;
            return opts;
        } else if (o.string_key == "short-options") {
            opts.action = Options::Action::short_options;
            return opts;
        }
        // --one-per-guest: accepted and ignored, as in virt-df since 1.22.
    }

    // Old-style arguments, only when no -a or -d was given: a path (has a
    // '/' or names an existing file) is a disk, anything else a domain.
    if (!positionals.empty()) {
        if (!opts.drives.empty() || !opts.domains.empty() || !opts.domain_xml_files.empty())
            throw UsageError("extra arguments on the command line", true);
        for (const auto& arg : positionals) {
            if (arg.find('/') != std::string::npos || ::access(arg.c_str(), F_OK) == 0) {
                opts.inputs.push_back({InputRef::Kind::drive, opts.drives.size()});
                opts.drives.push_back(DriveSpec{arg, std::nullopt, std::nullopt, std::nullopt});
            } else {
                opts.inputs.push_back({InputRef::Kind::domain, opts.domains.size()});
                opts.domains.push_back(arg);
            }
        }
    }
    if (format_pending) throw UsageError("--format parameter must appear before -a parameter");
    if (snapshot_pending) throw UsageError("--snapshot parameter must appear before -a parameter");
    if (blocksize_pending) throw UsageError("--blocksize parameter must appear before -a parameter");
    if (opts.human && opts.csv) throw UsageError("you cannot use -h and --csv options together.");
    // --domxml files are guests of their own (like all-guests mode); -a and
    // -d make up one guest. The two cannot be mixed.
    if (!opts.domain_xml_files.empty() && !opts.inputs.empty())
        throw UsageError("--domxml cannot be used together with -a or -d", true);
    return opts;
}

std::string usage_text() {
    return "virt-df: display free space on virtual filesystems\n"
           "Copyright (C) 2026 the virt-df authors.\n"
           "Usage:\n"
           "  virt-df [--options] -d domname\n"
           "  virt-df [--options] -a disk.img [-a disk.img ...]\n"
           "Options:\n"
           "  -a|--add image       Add image\n"
           "  --blocksize[=512|4096]\n"
           "                       Set sector size of the disk for -a option\n"
           "  -c|--connect uri     Specify libvirt URI for -d option\n"
           "  --csv                Output as Comma-Separated Values\n"
           "  -d|--domain guest    Add disks from libvirt guest\n"
           "  --domxml file        Add a guest from its libvirt domain XML\n"
           "  --format[=raw|..]    Force disk format for -a option\n"
           "  -h|--human-readable  Print sizes in human-readable format\n"
           "  --help               Display brief help\n"
           "  -i|--inodes          Display inodes\n"
           "  --mount-mode=ro|rw   Figures as for a read-only (default) or read-write mount\n"
           "  --no-sandbox         Parse guest data unconfined (for debugging)\n"
           "  --one-per-guest      Separate appliance per guest\n"
           "  -P nr_threads        Use at most nr_threads\n"
           "  --snapshot=name      Read -a images as at this qcow2/ploop snapshot\n"
           "  --uuid               Print UUIDs instead of names\n"
           "  -v|--verbose         Verbose messages\n"
           "  -V|--version         Display version and exit\n"
           "  -x                   Trace every read of the disk images\n"
           "For more information, see the manpage virt-df(1).\n";
}

std::string long_options_text() {
    return "--add\n--blocksize\n--connect\n--csv\n--domain\n--domxml\n--format\n--human-readable\n"
           "--help\n--inodes\n--mount-mode\n--no-sandbox\n--one-per-guest\n--snapshot\n--uuid\n--verbose\n--version\n";
}

std::string short_options_text() { return "-a\n-c\n-d\n-h\n-i\n-P\n-v\n-V\n-x\n"; }

}  // namespace vmdf
