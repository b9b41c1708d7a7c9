// SPDX-License-Identifier: GPL-2.0-or-later
// The sandbox, tested in a forked child (it cannot be undone): after
// enter_sandbox() no file opens, nothing but stdout/stderr is written, no
// process is started, and the descriptors already open still read.
#include <catch2/catch.hpp>

#include <cerrno>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sandbox.hpp"

using namespace vmdf;

namespace {

/// Runs `body` in a child process; its exit status.
template <class Body>
int in_child(Body body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(body());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("sandbox: after entering, only held descriptors are read and stdout/stderr written",
          "[sandbox]") {
    if (kSanitizerBuild) {
        WARN("not checked: the sanitizers' runtime needs what the sandbox forbids");
        return;
    }
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const int held = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    REQUIRE(held >= 0);
    const int status = in_child([&] {
        const SandboxReport report = enter_sandbox();
        if (!report.seccomp) return 10;
        char byte;
        if (::pread(held, &byte, 1, 0) != 1) return 11;                 // held: readable
        if (::open("/etc/hostname", O_RDONLY) >= 0) return 12;          // no new files
        if (::open("/tmp/virt-df-sandbox-test", O_WRONLY | O_CREAT, 0600) >= 0) return 13;
        if (::write(pipe_fds[1], "x", 1) >= 0) return 14;               // no other writes
        if (::write(STDERR_FILENO, "", 0) < 0) return 15;               // stderr: allowed
        if (::fork() >= 0) return 16;                                   // no processes
        std::thread worker([] {});                                      // threads: allowed
        worker.join();
        return 0;
    });
    ::close(held);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    CHECK(status == 0);
}
