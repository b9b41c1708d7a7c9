// SPDX-License-Identifier: GPL-2.0-or-later
// The fixture images made by data/make_fixtures.sh (meson builds them before
// the tests run) and the figures the kernel reported for them.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/device.hpp"
#include "core/plugin.hpp"
#include "core/scan.hpp"

namespace vmdf::test {

inline std::string fixture_dir() {
    const char* dir = std::getenv("VIRT_DF_FIXTURES");
    REQUIRE(dir != nullptr);  // set by meson test
    return dir;
}

inline std::string fixture_path(const std::string& name) { return fixture_dir() + "/" + name; }

inline DevicePtr open_fixture(const std::string& name) {
    auto dev = FileDevice::open(fixture_path(name));
    INFO(fixture_path(name));
    REQUIRE(dev);
    return *dev;
}

/// One line of data/expected/*.txt.
struct KernelRecord {
    std::string image, device;
    bool mountable = true;
    StatVfs stat;
};

inline void append_records(std::istream& in, std::vector<KernelRecord>& records) {
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        KernelRecord r;
        fields >> r.image >> r.device;
        std::string first;
        fields >> first;
        if (first == "unmountable") {
            r.mountable = false;
        } else {
            r.stat.bsize = std::stoull(first);
            fields >> r.stat.frsize >> r.stat.blocks >> r.stat.bfree >> r.stat.bavail >>
                r.stat.files >> r.stat.ffree;
        }
        records.push_back(r);
    }
}

/// Every record of data/expected/: FORMAT.txt for read-only mounts,
/// FORMAT-rw.txt for read-write ones.
inline std::vector<KernelRecord> kernel_records(bool read_write = false) {
    const char* dir = std::getenv("VIRT_DF_EXPECTED");
    REQUIRE(dir != nullptr);
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        const bool rw_file = name.ends_with("-rw.txt");
        if (name.ends_with(".txt") && rw_file == read_write) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    REQUIRE_FALSE(files.empty());
    std::vector<KernelRecord> records;
    for (const auto& file : files) {
        std::ifstream in(file);
        REQUIRE(in);
        append_records(in, records);
    }
    return records;
}

/// The records data/expected/FILE keeps on lines starting with PREFIX:
/// "#tools " for figures from a format's own tools, "#appliance " for those
/// of the libguestfs appliance's kernel, where this kernel has no driver.
inline std::vector<KernelRecord> prefixed_records(const std::filesystem::path& file,
                                                  const std::string& prefix) {
    std::ifstream in(file);
    REQUIRE(in);
    std::stringstream kept;
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(prefix)) kept << line.substr(prefix.size()) << "\n";
    std::vector<KernelRecord> records;
    append_records(kept, records);
    return records;
}

inline std::filesystem::path expected_file(const std::string& name) {
    const char* dir = std::getenv("VIRT_DF_EXPECTED");
    REQUIRE(dir != nullptr);
    return std::filesystem::path(dir) / name;
}

/// The "#appliance" records of data/expected/FILE.
inline std::vector<KernelRecord> appliance_records(const std::string& file) {
    return prefixed_records(expected_file(file), "#appliance ");
}

/// The "#tools" records of every data/expected/*.txt, by file name (FAT:
/// fsck.fat -v, exFAT: dump.exfat, ...).
inline std::map<std::string, std::vector<KernelRecord>> tool_records() {
    std::map<std::string, std::vector<KernelRecord>> by_file;
    for (const auto& entry : std::filesystem::directory_iterator(expected_file(""))) {
        auto records = prefixed_records(entry.path(), "#tools ");
        if (!records.empty()) by_file[entry.path().filename().string()] = std::move(records);
    }
    return by_file;
}

/// The "#tools" figures data/expected/FILE records for IMAGE.
inline StatVfs tool_record(const std::string& file, const std::string& image) {
    const auto by_file = tool_records();  // kept: the loop must not outlive it
    for (const KernelRecord& r : by_file.at(file))
        if (r.image == image) return r.stat;
    FAIL("no record for " << image << " in " << file);
    return {};
}

/// Scans each image the "#tools" lines of data/expected/FILE name, as a
/// guest of its own: its one row is a TYPE filesystem with those figures.
inline void check_tool_records(const std::string& file, const std::string& type,
                               std::size_t count) {
    const auto by_file = tool_records();
    REQUIRE(by_file.count(file) == 1);
    const auto& records = by_file.at(file);
    REQUIRE(records.size() == count);
    for (const KernelRecord& expected : records) {
        INFO(expected.image << " " << expected.device);
        std::vector<GuestDisk> disks{{expected.image, open_fixture(expected.image)}};
        const ScanReport report = scan_guest(disks, builtin_plugins(), ScanOptions{});
        auto row = std::find_if(report.rows.begin(), report.rows.end(),
                                [&](const FilesystemRow& r) { return r.device == expected.device; });
        REQUIRE(row != report.rows.end());
        CHECK(row->type == type);
        CHECK(row->stat == expected.stat);
        CHECK(report.rows.size() == 1);
    }
}

}  // namespace vmdf::test
