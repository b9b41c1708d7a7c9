#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# ploop_tool: writes ploop v2 deltas and v1 images; see data/fixtures.d/ploop.sh
# (the fixtures) and bench/bench.py (the benchmark's ploop guest), its users.
import struct, sys

SECTOR = 512
# ploop_pvd_header, 64 bytes: m_Sig, m_Type, m_Heads, m_Cylinders, m_Sectors,
# m_Size, m_SizeInSectors, m_DiskInUse, m_FirstBlockOffset, m_Flags,
# m_FormatExtensionOffset
HEADER = struct.Struct('<16sIIIIIQIIIQ')
assert HEADER.size == 64

def clusters(path, size):
    with open(path, 'rb') as f:
        while True:
            block = f.read(size)
            if not block:
                return
            yield block

def bat_of(path):
    with open(path, 'rb') as f:
        head = f.read(64)
        fields = HEADER.unpack(head)
        entries = fields[5]  # m_Size
        bat = struct.unpack('<%dI' % entries, f.read(4 * entries))
    return fields, bat

def delta(parent, child, out):
    csize = 2048 * SECTOR
    with open(child, 'rb') as f:
        f.seek(0, 2)
        size = f.tell()
    assert size % csize == 0
    n = size // csize
    first = -(-(64 + 4 * n) // csize)  # header + BAT, in whole clusters
    bat = [0] * n
    with open(out, 'wb') as o:
        host = first
        for i, (a, b) in enumerate(zip(clusters(parent, csize), clusters(child, csize))):
            if a != b:
                bat[i] = host  # v2: a cluster index
                o.seek(host * csize)
                o.write(b)
                host += 1
        o.truncate(host * csize)  # a trailing all-zero cluster stays a hole
        sectors = size // SECTOR
        o.seek(0)
        o.write(HEADER.pack(b'WithouFreSpacExt', 2, 16, sectors // 16 // 32, 2048, n,
                            sectors, 0, first * 2048, 0, 0))
        o.write(struct.pack('<%dI' % n, *bat))

def check_delta(out, parent, child, qemu_raw):
    fields, bat = bat_of(out)
    csize = fields[4] * SECTOR  # m_Sectors
    zero = bytes(csize)
    for i, (a, b, q) in enumerate(zip(clusters(parent, csize), clusters(child, csize),
                                      clusters(qemu_raw, csize))):
        if (a != b) != (bat[i] != 0):
            sys.exit('%s: cluster %d: mapped %s, differs %s' % (out, i, bat[i] != 0, a != b))
        if q != (b if bat[i] else zero):
            sys.exit('%s: cluster %d: qemu reads other bytes' % (out, i))

def to_v1(src, dst, zero_data_off=False):
    fields, bat = bat_of(src)
    assert fields[0] == b'WithouFreSpacExt' and fields[6] < 2**32
    per = fields[4]  # m_Sectors
    fields = list(fields)
    fields[0] = b'WithoutFreeSpace'
    if zero_data_off:
        fields[8] = 0
    with open(dst, 'r+b') as o:
        o.write(HEADER.pack(*fields))
        o.write(struct.pack('<%dI' % len(bat), *[e * per for e in bat]))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'delta':
    delta(*args)
elif cmd == 'check-delta':
    check_delta(*args)
elif cmd == 'to-v1':
    to_v1(args[0], args[1], len(args) > 2)
else:
    sys.exit('ploop_tool: unknown command ' + cmd)
