// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/sandbox.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sched.h>
#include <linux/landlock.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

namespace vmdf {

namespace {

/// Landlock (Linux 5.13+): a ruleset that handles every filesystem access
/// right of ABI 1 and grants none, so no path can be opened, created or
/// removed any more. Descriptors already open stay usable.
bool restrict_filesystem(std::string& detail) {
    const landlock_ruleset_attr ruleset{
        .handled_access_fs =
            LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
            LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
            LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
            LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
            LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
            LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM,
    };
    const long fd = ::syscall(SYS_landlock_create_ruleset, &ruleset, sizeof ruleset, 0);
    if (fd < 0) {
        detail += std::string("landlock unavailable (") + std::strerror(errno) + "); ";
        return false;
    }
    const bool ok = ::syscall(SYS_landlock_restrict_self, fd, 0) == 0;
    if (!ok) detail += std::string("landlock refused (") + std::strerror(errno) + "); ";
    ::close(static_cast<int>(fd));
    return ok;
}

/// The syscall filter. Everything not listed fails with EPERM (rather than
/// killing the process): a parser bug that tries something else gets an
/// error it reports, and the guest still gets its rows.
bool filter_syscalls(std::string& detail) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        detail += "seccomp unavailable; ";
        return false;
    }
    int rc = 0;
    auto allow = [&](int syscall) {
        if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscall, 0);
    };
    // Reading the descriptors already held.
    for (int sc : {SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(readv), SCMP_SYS(preadv),
                   SCMP_SYS(preadv2), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
                   SCMP_SYS(close)})
        allow(sc);
    // Writing: stdout and stderr only.
    for (int sc : {SCMP_SYS(write), SCMP_SYS(writev)})
        for (int fd : {STDOUT_FILENO, STDERR_FILENO})
            if (rc == 0)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 1,
                                      SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(fd)));
    // Memory.
    for (int sc : {SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise)}) allow(sc);
    // mmap and mprotect, but never executable memory.
    for (int sc : {SCMP_SYS(mmap), SCMP_SYS(mprotect)})
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    // Threads (-P) and their synchronisation; time for the per-guest limit.
    for (int sc : {SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(gettid),
                   SCMP_SYS(getpid), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
                   SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
                   SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
                   SCMP_SYS(sigaltstack), SCMP_SYS(getrandom)})
        allow(sc);
    // New threads only (CLONE_THREAD), never new processes; clone3's flags
    // sit in memory a filter cannot read, so it fails and glibc falls back.
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    // Ending: normally, or by abort() (tgkill to itself).
    for (int sc : {SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(tgkill)}) allow(sc);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) detail += std::string("seccomp not loaded (") + std::strerror(-rc) + "); ";
    return rc == 0;
}

}  // namespace

SandboxReport enter_sandbox() {
    SandboxReport report;
    // Both layers require it, and it is right on its own: nothing run from
    // here on may gain privileges.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        report.detail = std::string("no_new_privs refused (") + std::strerror(errno) + ")";
        return report;
    }
    report.landlock = restrict_filesystem(report.detail);
    report.seccomp = filter_syscalls(report.detail);
    if (!report.detail.empty()) report.detail.resize(report.detail.size() - 2);  // "; "
    return report;
}

}  // namespace vmdf
