// SPDX-License-Identifier: GPL-2.0-or-later
// One libFuzzer target per plugin, built from this file with two macros
// (see fuzz/meson.build): VMDF_FUZZ_RUN names the layer's function in
// fuzz_one.hpp and VMDF_FUZZ_PLUGIN the plugin (none for run_scan).
#include "fuzz/fuzz_one.hpp"
#include "plugins/plugins.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    vmdf::fuzz::VMDF_FUZZ_RUN(VMDF_FUZZ_PLUGIN data, size);
    return 0;
}
