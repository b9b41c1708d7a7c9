// SPDX-License-Identifier: GPL-2.0-or-later
// Work on many guests at once, output in guest order: the workers take the
// next guest as they come free, and the calling thread hands each result on
// as soon as it and all those before it are done (as libguestfs' parallel.c
// prints its per-guest memstreams in domain order).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include <sched.h>

namespace vmdf::guests {

/// CPUs this process may run on (its affinity mask, which containers and
/// taskset narrow), at least 1.
inline std::size_t usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return static_cast<std::size_t>(CPU_COUNT(&set));
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? n : 1;
}

/// Calls work(i) for every i in [0, count) on up to `threads` threads, and
/// emit(i, result) on the calling thread in index order. With one thread
/// (or one item) all runs on the calling thread. An exception thrown by
/// work(i) is rethrown by the emit loop when it reaches i.
template <class Work, class Emit>
void run_ordered(std::size_t count, std::size_t threads, Work work, Emit emit) {
    using R = std::invoke_result_t<Work&, std::size_t>;
    if (threads > count) threads = count;
    if (threads <= 1) {
        for (std::size_t i = 0; i < count; ++i) emit(i, work(i));
        return;
    }

    struct Slot {
        std::optional<R> result;
        std::exception_ptr exception;
        bool done = false;
    };
    std::vector<Slot> slots(count);
    std::mutex mutex;
    std::condition_variable ready;
    std::atomic<std::size_t> next{0};

    auto worker = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < count;) {
            std::optional<R> result;
            std::exception_ptr exception;
            try {
                result.emplace(work(i));
            } catch (...) {
                exception = std::current_exception();
            }
            {
                std::lock_guard lock(mutex);
                slots[i].result = std::move(result);
                slots[i].exception = exception;
                slots[i].done = true;
            }
            ready.notify_all();
        }
    };
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);

    std::exception_ptr first_exception;
    for (std::size_t i = 0; i < count && !first_exception; ++i) {
        Slot slot;
        {
            std::unique_lock lock(mutex);
            ready.wait(lock, [&] { return slots[i].done; });
            slot = std::move(slots[i]);
        }
        try {
            if (slot.exception) std::rethrow_exception(slot.exception);
            emit(i, std::move(*slot.result));
        } catch (...) {
            first_exception = std::current_exception();
            next = count;  // the workers finish what they hold and stop
        }
    }
    pool.clear();  // joins
    if (first_exception) std::rethrow_exception(first_exception);
}

}  // namespace vmdf::guests
