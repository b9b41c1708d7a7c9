// SPDX-License-Identifier: GPL-2.0-or-later
// open_image: formats, directories, backing-file chains and their limits.
#include <catch2/catch.hpp>

#include "core/image.hpp"

using namespace vmdf;

TEST_CASE("relative backing names are taken from the referring image's directory") {
    CHECK(resolve_relative("/imgs/top.qcow2", "base.qcow2") == "/imgs/base.qcow2");
    CHECK(resolve_relative("top.qcow2", "base.qcow2") == "base.qcow2");
    CHECK(resolve_relative("a/b/top.qcow2", "../base.qcow2") == "a/b/../base.qcow2");
    CHECK(resolve_relative("/imgs/top.qcow2", "/abs/base.raw") == "/abs/base.raw");
}
