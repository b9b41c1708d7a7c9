// SPDX-License-Identifier: GPL-2.0-or-later
// virt-df's command line (guestfs-tools df/main.c): same options, same
// argument rules, parsed with Boost.Program_options.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmdf {

/// A usage mistake: main() prints "virt-df: <what>" (plus the --help hint
/// when `hint` is set) and exits 1.
class UsageError : public std::runtime_error {
public:
    explicit UsageError(const std::string& what, bool hint = false)
        : std::runtime_error(what), hint_(hint) {}
    bool hint() const { return hint_; }

private:
    bool hint_;
};

/// One -a: --format, --blocksize and --snapshot apply to the -a options after them.
struct DriveSpec {
    std::string path;
    std::optional<std::string> format;          ///< none: detect
    std::optional<std::uint32_t> blocksize;     ///< logical sector size
    std::optional<std::string> snapshot;        ///< --snapshot: qcow2/ploop snapshot
};

/// Where one -a or -d (or old-style argument) went: its disks come in
/// this order, and the first one names the guest.
struct InputRef {
    enum class Kind { drive, domain };
    Kind kind;
    std::size_t index;  ///< into Options::drives or Options::domains
};

struct Options {
    enum class Action { run, help, version, long_options, short_options };
    Action action = Action::run;

    std::vector<DriveSpec> drives;     ///< -a, and old-style file arguments
    std::vector<std::string> domains;  ///< -d, and old-style name arguments
    std::vector<InputRef> inputs;      ///< drives and domains in command-line order
    std::vector<std::string> domain_xml_files;  ///< --domxml: each file one guest
    std::string connect_uri;           ///< -c
    bool csv = false;
    bool human = false;
    bool inodes = false;
    bool uuid = false;
    bool verbose = false;
    bool trace = false;                ///< -x: log every read
    bool read_write = false;           ///< --mount-mode=rw
    bool sandbox = true;               ///< off with --no-sandbox
    std::size_t threads = 0;           ///< -P, 0 = automatic (one per CPU)
};

/// Throws UsageError.
Options parse_options(int argc, const char* const argv[]);

/// The --help text.
std::string usage_text();

/// --long-options and --short-options (bash completion): one per line.
std::string long_options_text();
std::string short_options_text();

}  // namespace vmdf
