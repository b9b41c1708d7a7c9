// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of the hfsplus plugin (placeholder).
#include <catch2/catch.hpp>
