// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of dm_thin (placeholder).
#include <catch2/catch.hpp>
