// SPDX-License-Identifier: GPL-2.0-or-later
// virt-df: disk usage inside virtual machine disk images, read directly.
#include <iostream>

#include "app.hpp"
#include "cli/options.hpp"
#include "config.h"

int main(int argc, char** argv) noexcept try {
    std::ios::sync_with_stdio(false);
    const vmdf::Options opts = vmdf::parse_options(argc, argv);
    switch (opts.action) {
    case vmdf::Options::Action::help: std::cout << vmdf::usage_text(); return 0;
    case vmdf::Options::Action::version: std::cout << "virt-df " VIRT_DF_VERSION "\n"; return 0;
    case vmdf::Options::Action::long_options: std::cout << vmdf::long_options_text(); return 0;
    case vmdf::Options::Action::short_options: std::cout << vmdf::short_options_text(); return 0;
    case vmdf::Options::Action::run: break;
    }
    return vmdf::run(opts, std::cout, std::cerr);
} catch (const vmdf::UsageError& e) {
    std::cerr << "virt-df: " << e.what() << "\n";
    if (e.hint()) std::cerr << "Try \u2018virt-df --help\u2019 for more information.\n";
    return 1;
} catch (const std::exception& e) {
    std::cerr << "virt-df: internal error: " << e.what() << "\n";
    return 1;
}
