// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2 text metadata parser (placeholder).
#pragma once
