// SPDX-License-Identifier: GPL-2.0-or-later
// The fixture images made by data/make_fixtures.sh (meson builds them before
// the tests run) and the figures the kernel reported for them.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/device.hpp"
#include "core/plugin.hpp"

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

/// One line of data/expected-statfs.txt.
struct KernelRecord {
    std::string image, device;
    bool mountable = true;
    StatVfs stat;
};

inline std::vector<KernelRecord> kernel_records() {
    const char* path = std::getenv("VIRT_DF_EXPECTED");
    REQUIRE(path != nullptr);
    std::ifstream in(path);
    REQUIRE(in);
    std::vector<KernelRecord> records;
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
    return records;
}

}  // namespace vmdf::test
