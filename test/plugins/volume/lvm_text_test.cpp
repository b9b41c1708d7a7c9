// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of the LVM2 text metadata parser (placeholder).
#include <catch2/catch.hpp>
