// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "guests/parallel.hpp"

using namespace vmdf::guests;

TEST_CASE("parallel: results come out in index order, whatever order they finish in",
          "[parallel]") {
    for (std::size_t threads : {1u, 2u, 4u, 16u}) {
        INFO("threads " << threads);
        constexpr std::size_t count = 12;
        std::vector<std::size_t> emitted;
        std::vector<std::thread::id> emit_threads;
        run_ordered(
            count, threads,
            [](std::size_t i) {
                // Later items finish first.
                std::this_thread::sleep_for(std::chrono::milliseconds(2 * (count - i)));
                return std::to_string(i);
            },
            [&](std::size_t i, std::string s) {
                CHECK(s == std::to_string(i));
                emitted.push_back(i);
                emit_threads.push_back(std::this_thread::get_id());
            });
        REQUIRE(emitted.size() == count);
        for (std::size_t i = 0; i < count; ++i) CHECK(emitted[i] == i);
        // emit runs on the calling thread only, so output never interleaves
        for (auto id : emit_threads) CHECK(id == std::this_thread::get_id());
    }
}

TEST_CASE("parallel: up to N items run at once", "[parallel]") {
    std::atomic<int> active{0}, peak{0};
    run_ordered(
        8, 4,
        [&](std::size_t) {
            const int now = ++active;
            for (int p = peak; now > p && !peak.compare_exchange_weak(p, now);) {}
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            --active;
            return 0;
        },
        [](std::size_t, int) {});
    CHECK(peak > 1);
    CHECK(peak <= 4);
}

TEST_CASE("parallel: nothing to do, and one thread runs on the caller", "[parallel]") {
    int calls = 0;
    run_ordered(0, 4, [&](std::size_t) { ++calls; return 0; }, [&](std::size_t, int) { ++calls; });
    CHECK(calls == 0);
    std::thread::id worker;
    run_ordered(1, 8, [&](std::size_t) { worker = std::this_thread::get_id(); return 0; },
                [](std::size_t, int) {});
    CHECK(worker == std::this_thread::get_id());
}

TEST_CASE("parallel: an exception in one item reaches the caller after the items before it",
          "[parallel]") {
    std::vector<std::size_t> emitted;
    CHECK_THROWS_WITH(run_ordered(
                          20, 3,
                          [](std::size_t i) {
                              if (i == 5) throw std::runtime_error("item 5");
                              return i;
                          },
                          [&](std::size_t i, std::size_t) { emitted.push_back(i); }),
                      "item 5");
    CHECK(emitted == std::vector<std::size_t>{0, 1, 2, 3, 4});
}

TEST_CASE("parallel: at least one CPU", "[parallel]") { CHECK(usable_cpus() >= 1); }
