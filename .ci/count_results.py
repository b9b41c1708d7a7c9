#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Counts test cases in meson's testlog.json: prints "PASSED FAILED SKIPPED".

A meson test may hold many cases: Catch2 prints "test cases: N | P passed |
F failed" (or "All tests passed (... in N test cases)"), the shell suites
print "ok: " and "FAIL: " lines. Any other test counts as one case."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        test = json.loads(line)
        out = test.get("stdout") or ""
        result = test.get("result")
        if result == "SKIP":
            skipped += 1
            continue
        catch_all = re.search(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)", out)
        catch_some = re.search(r"test cases:\s+(\d+) \|\s+(\d+) passed \|\s+(\d+) failed", out)
        oks = len(re.findall(r"^ok: ", out, re.M))
        fails = len(re.findall(r"^FAIL: ", out, re.M))
        if catch_all:
            p, f = int(catch_all.group(1)), 0
        elif catch_some:
            p, f = int(catch_some.group(2)), int(catch_some.group(3))
        elif oks or fails:
            p, f = oks, fails
        else:
            p, f = 0, 0
        # A test that failed without naming a failed case (a crash, a
        # timeout) still counts as one failure.
        if result != "OK" and f == 0:
            f = 1
        if p == 0 and f == 0:
            p = 1
        passed += p
        failed += f
print(passed, failed, skipped)
