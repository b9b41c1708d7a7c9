#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make_seeds.py VIRT_DF FIXTURE_DIR OUT_DIR: one fuzzing seed per fixture.

A seed is the sparse-disk input of fuzz/sparse_input.hpp holding exactly
the bytes virt-df reads of the fixture (traced with -x), so that it carries
the image's metadata and none of its data. Disks of several files and
images with backing files are seeded from their first file only."""
import os
import re
import struct
import subprocess
import sys

MAX_SEED_BYTES = 1 << 20   # keep seeds small: libFuzzer copies each input
MAX_RECORD = 0xFFFF

virt_df, fixtures, out_dir = (os.path.abspath(p) for p in sys.argv[1:4])
os.makedirs(out_dir, exist_ok=True)
read_line = re.compile(r"^virt-df: read (\S+) offset (0x[0-9a-f]+) length (\d+)$")

names = sorted(n for n in os.listdir(fixtures)
               if os.path.isfile(os.path.join(fixtures, n)) and not n.startswith(".")
               and not n.endswith((".txt", ".xml", ".stamp")))
made = 0
for name in names:
    path = os.path.join(fixtures, name)
    trace = subprocess.run([virt_df, "-x", "-a", name], cwd=fixtures, capture_output=True,
                           text=True, timeout=60).stderr
    ranges = []
    for line in trace.splitlines():
        m = read_line.match(line)
        if m and m.group(1) == name:
            start = int(m.group(2), 16)
            ranges.append((start, start + int(m.group(3))))
    if not ranges:
        continue
    ranges.sort()
    merged = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    seed = bytearray(struct.pack("<Q", os.path.getsize(path)))
    with open(path, "rb") as image:
        for start, end in merged:
            for piece in range(start, end, MAX_RECORD):
                length = min(MAX_RECORD, end - piece)
                image.seek(piece)
                data = image.read(length)
                if len(seed) + 10 + len(data) > MAX_SEED_BYTES:
                    break
                seed += struct.pack("<QH", piece, len(data)) + data
    with open(os.path.join(out_dir, name + ".seed"), "wb") as f:
        f.write(seed)
    made += 1
print(f"{made} seeds in {out_dir}")
