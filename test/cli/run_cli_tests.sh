#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Golden command-line tests: each CASE.args holds virt-df's arguments (one
# per line, run from the fixture directory); CASE.expected holds what it
# must print: stdout, then a line "--- stderr", stderr, then "--- exit N".
# Set VIRT_DF_BLESS=1 to rewrite the .expected files from the current tool,
# and VIRT_DF_CASES=GLOB (e.g. 'qcow2-*') to run or bless only some cases.
set -uo pipefail

cases_dir=$1
fixtures=${VIRT_DF_FIXTURES:?}
virt_df=${VIRT_DF:?}
failures=0 total=0

# Guest names that test the label rules: longer than the 36-byte column,
# and with the characters CSV must quote.
ln -sf ext4-1k.img "$fixtures/a-very-long-guest-name-for-testing.img"
ln -sf ext4-1k.img "$fixtures/guest, with \"quotes\".img"

for args_file in "$cases_dir"/*.args; do
    name=$(basename "$args_file" .args)
    # shellcheck disable=SC2053  # the glob is meant to match
    [[ $name == ${VIRT_DF_CASES:-*} ]] || continue
    # CASE.requires: a build feature the case needs ("libvirt") or needs
    # absent ("!libvirt"), out of the space-separated VIRT_DF_FEATURES.
    if [[ -f ${args_file%.args}.requires ]]; then
        read -r need < "${args_file%.args}.requires"
        have=" ${VIRT_DF_FEATURES:-} "
        if [[ $need == !* ]]; then [[ $have != *" ${need#!} "* ]]; else [[ $have == *" $need "* ]]; fi ||
            { echo "skip: $name (needs $need)"; continue; }
    fi
    expected_file=${args_file%.args}.expected
    mapfile -t args < "$args_file"
    actual=$(cd "$fixtures" && {
        "$virt_df" "${args[@]}" 2>"$fixtures/.stderr.$$"
        status=$?
        echo "--- stderr"
        cat "$fixtures/.stderr.$$"
        echo "--- exit $status"
    })
    rm -f "$fixtures/.stderr.$$"
    total=$((total + 1))
    if [[ ${VIRT_DF_BLESS:-0} == 1 ]]; then
        printf '%s\n' "$actual" > "$expected_file"
        echo "blessed: $name"
    elif diff -u "$expected_file" <(printf '%s\n' "$actual") > /dev/null; then
        echo "ok: $name"
    else
        echo "FAIL: $name"
        diff -u "$expected_file" <(printf '%s\n' "$actual")
        failures=$((failures + 1))
    fi
done
echo "$((total - failures)) of $total command-line cases passed"
[[ $failures -eq 0 ]]
