#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hostile_test.sh SOURCE_ROOT WORK_DIR: the sanitizer and fuzzing gate.
#
# Builds the project a second time with clang, -fsanitize=address,undefined
# and the libFuzzer targets (fuzz/), then (1) runs the unit, command-line
# and read-only suites of that build, and (2) runs every fuzz target for
# VIRT_DF_FUZZ_SECONDS (default 20) on seeds made from the test fixtures.
# Any sanitizer report, crash, leak, timeout or oversized allocation fails.
# A longer run of one target: see fuzz/README.
#
# It is part of the whole suite (and so of CI). Most of its time is the
# second build (29 minutes in all on two busy cores): skip it while
# iterating with `meson test -C build --no-suite hostile`, or VIRT_DF_HOSTILE=0.
set -uo pipefail

if [[ ${VIRT_DF_HOSTILE:-1} == 0 ]]; then
    echo "skipped: VIRT_DF_HOSTILE=0"
    exit 77
fi

src=$1
work=$2
seconds=${VIRT_DF_FUZZ_SECONDS:-20}
failures=0

if ! command -v clang++ >/dev/null; then
    echo "skipped: clang++ is not installed (tools/install-deps.sh installs it)"
    exit 77
fi

if [[ ! -f $work/build.ninja ]]; then
    CXX=clang++ meson setup "$work" "$src" -Dfuzz=true -Dtests=true \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null ||
        { echo "FAIL: configuring the sanitizer build"; exit 1; }
fi
if ! meson compile -C "$work" >"$work/compile.log" 2>&1; then
    echo "FAIL: building with sanitizers"
    tail -30 "$work/compile.log"
    exit 1
fi

# (1) The suites, sanitized. UBSan findings are made fatal.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Any single allocation above 512 MiB is a finding: the largest table a
# plugin may keep is 64 MiB (see SECURITY in the man page).
export ASAN_OPTIONS=detect_leaks=1:max_allocation_size_mb=512:allocator_may_return_null=0
export VIRT_DF_SANITIZED=1
for suite in unit cli read-only; do
    if meson test -C "$work" --print-errorlogs "$suite" >"$work/test-$suite.log" 2>&1; then
        echo "ok: sanitized $suite"
    else
        echo "FAIL: sanitized $suite"
        grep -E "ERROR: |runtime error|FAIL|FAILED" "$work/test-$suite.log" | head -40
        failures=$((failures + 1))
    fi
done

# (2) Every fuzz target, a short run each on the fixtures' seeds.
seeds=$work/fuzz-seeds
python3 "$src/fuzz/make_seeds.py" "$work/virt-df" "$work/test/fixtures" "$seeds" >/dev/null
for target in "$work"/fuzz/fuzz_*; do
    [[ -f $target && -x $target ]] || continue  # not the fuzz_*.p object directories
    name=$(basename "$target")
    corpus=$work/fuzz-corpus/$name
    mkdir -p "$corpus" "$work/fuzz-artifacts"
    if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=512 \
        -max_len=1100000 -print_final_stats=1 -artifact_prefix="$work/fuzz-artifacts/$name-" \
        "$corpus" "$seeds" >"$work/$name.log" 2>&1; then
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/$name.log" | grep -oE '[0-9]+$')
        echo "ok: $name (${runs:-?} runs in ${seconds}s)"
    else
        echo "FAIL: $name"
        grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$work/$name.log" | head -20
        failures=$((failures + 1))
    fi
done
[[ $failures -eq 0 ]]
