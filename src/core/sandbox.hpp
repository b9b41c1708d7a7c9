// SPDX-License-Identifier: GPL-2.0-or-later
// Confinement for the parsing phase. Guest disks are written by the guest,
// which may be hostile; libguestfs parses them in a throwaway VM, this tool
// parses them in-process. So once every image file (and backing file) is
// open and before any guest-controlled byte is parsed, the process gives
// up everything but reading the descriptors it holds, writing to stdout and
// stderr, allocating memory, running its threads and exiting.
#pragma once

#include <string>

namespace vmdf {

struct SandboxReport {
    bool seccomp = false;   ///< the syscall filter is in force
    bool landlock = false;  ///< no file can be opened, by path, at all
    std::string detail;     ///< why a layer is not active, for -v
};

/// Confines this process (all its threads, and any it creates later).
/// Irreversible. Layers the kernel lacks are skipped and said so in the
/// report; the syscall filter failing to load is reported likewise.
SandboxReport enter_sandbox();

}  // namespace vmdf
