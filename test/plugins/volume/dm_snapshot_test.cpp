// SPDX-License-Identifier: GPL-2.0-or-later
// Tests of dm_snapshot (placeholder).
#include <catch2/catch.hpp>
