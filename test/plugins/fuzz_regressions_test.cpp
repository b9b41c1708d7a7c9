// SPDX-License-Identifier: GPL-2.0-or-later
// Every input a fuzzer once found a crash or hang with (test/fuzz-regressions/
// TARGET-WHAT), replayed through the same code as the fuzz targets: the run
// must finish, and the sanitizer build must report nothing.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

#include "fuzz/fuzz_one.hpp"
#include "plugins/plugins.hpp"

using namespace vmdf;

namespace {

using Replay = std::function<void(const std::uint8_t*, std::size_t)>;

template <class Plugin, class Run>
Replay bind(const Plugin& plugin, Run run) {
    return [&plugin, run](const std::uint8_t* data, std::size_t size) { run(plugin, data, size); };
}

const std::map<std::string, Replay>& replays() {
    static const std::map<std::string, Replay> table{
        {"raw", bind(raw_plugin, fuzz::run_image)},
        {"qcow2", bind(qcow2_plugin, fuzz::run_image)},
        {"ploop", bind(ploop_plugin, fuzz::run_image)},
        {"mbr", bind(mbr_plugin, fuzz::run_partition)},
        {"gpt", bind(gpt_plugin, fuzz::run_partition)},
        {"ext4", bind(ext4_plugin, fuzz::run_filesystem)},
        {"xfs", bind(xfs_plugin, fuzz::run_filesystem)},
        {"btrfs", bind(btrfs_plugin, fuzz::run_filesystem)},
        {"fat", bind(fat_plugin, fuzz::run_filesystem)},
        {"exfat", bind(exfat_plugin, fuzz::run_filesystem)},
        {"ntfs", bind(ntfs_plugin, fuzz::run_filesystem)},
        {"f2fs", bind(f2fs_plugin, fuzz::run_filesystem)},
        {"iso9660", bind(iso9660_plugin, fuzz::run_filesystem)},
        {"hfsplus", bind(hfsplus_plugin, fuzz::run_filesystem)},
        {"ufs", bind(ufs_plugin, fuzz::run_filesystem)},
        {"luks", bind(luks_plugin, fuzz::run_filesystem)},
        {"bitlocker", bind(bitlocker_plugin, fuzz::run_filesystem)},
        {"swap", bind(swap_plugin, fuzz::run_filesystem)},
        {"lvm", bind(lvm_plugin, fuzz::run_volume)},
        {"md", bind(md_plugin, fuzz::run_volume)},
        {"lvm_text", [](const std::uint8_t* data, std::size_t size) { fuzz::run_lvm_text(data, size); }},
        {"scan", [](const std::uint8_t* data, std::size_t size) { fuzz::run_scan(data, size); }},
    };
    return table;
}

}  // namespace

TEST_CASE("fuzz regressions: past findings replay without a crash", "[fuzz]") {
    const char* dir = std::getenv("VIRT_DF_REGRESSIONS");
    REQUIRE(dir != nullptr);  // set by meson test
    int replayed = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        const auto dash = name.find('-');
        if (dash == std::string::npos) continue;  // README
        const auto replay = replays().find(name.substr(0, dash));
        INFO(name);
        REQUIRE(replay != replays().end());
        std::ifstream in(entry.path(), std::ios::binary);
        const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
        replay->second(bytes.data(), bytes.size());
        ++replayed;
    }
    // Also the empty input and a lone size field, through every target.
    const std::uint8_t tiny[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    for (const auto& [target, replay] : replays()) {
        replay(nullptr, 0);
        replay(tiny, sizeof tiny);
    }
    SUCCEED(replayed << " regression inputs replayed");
}
