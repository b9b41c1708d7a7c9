// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of the ploop plugin (placeholder).
#include <catch2/catch.hpp>
