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

// The sanitizers' runtimes read /proc, probe memory through pipes of their
// own and fork a tracer (LeakSanitizer) when they report: all forbidden in
// the sandbox, so sanitizer builds do not enter it. clang says it has them
// with __has_feature, gcc with __SANITIZE_*__.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VMDF_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
#define VMDF_SANITIZER_BUILD 1
#endif
#endif
#ifndef VMDF_SANITIZER_BUILD
#define VMDF_SANITIZER_BUILD 0
#endif
inline constexpr bool kSanitizerBuild = VMDF_SANITIZER_BUILD;

/// Confines this process (all its threads, and any it creates later).
/// Irreversible. Layers the kernel lacks are skipped and said so in the
/// report; the syscall filter failing to load is reported likewise.
SandboxReport enter_sandbox();

}  // namespace vmdf
