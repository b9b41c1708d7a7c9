#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""virt-df benchmark (issue 9): time, bytes read, peak RSS, scaling.

    python3 bench/bench.py BUILDDIR [--quick] [--runs N] [--max-guests N]

Makes a guest set with real tools (mke2fs, sgdisk, mkfs.xfs, mkfs.btrfs,
mkfs.vfat, mkswap, qemu-img, data/ploop_tool.py) in BUILDDIR/bench, with
fixed UUIDs and clocks: the ext4, vfat, swap, qcow2 and ploop images are
the same bytes from run to run; XFS and btrfs differ (their mkfs take no
fixed clock, and mkfs.btrfs no fixed device UUID), their figures do not. It
runs BUILDDIR/virt-df on each guest and prints one table: median wall time
of repeated runs (warm cache), cold-cache time where caches can be dropped,
bytes read and read calls (virt-df -v's last line, cross-checked with
strace on the image file descriptors), peak RSS (wait4's ru_maxrss) and,
for ext4-only guests, bytes read over the size of the ext4 superblock plus
group descriptor table. Then the scaling runs (--domxml, 1 to 1000 guests,
-P 1 and -P 2), libguestfs' virt-df for comparison where it is installed,
and the issue's targets with PASS or MISS.

Nothing here asserts on time: the exit status is 1 only when a guest cannot
be made, virt-df fails on one, or strace and virt-df -v disagree. Timings on a loaded machine are noisy; the
load average is printed with them.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
DATA = os.path.join(SRC, 'data')
MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB
FAKE_TIME = '1700000000'


def uuid(n, kind='b'):
    """Fixed UUIDs, distinct from the test fixtures' (5644460a-...)."""
    return '5644460b-0000-4000-%s000-%012x' % (kind, n)


class Failed(Exception):
    pass


def tool_env():
    env = dict(os.environ)
    env['PATH'] = env.get('PATH', '/usr/bin:/bin') + ':/usr/sbin:/sbin'
    env['LC_ALL'] = 'C'
    env['E2FSPROGS_FAKE_TIME'] = FAKE_TIME
    env['MKE2FS_CONFIG'] = os.path.join(DATA, 'mke2fs.conf')
    env['SOURCE_DATE_EPOCH'] = FAKE_TIME
    return env


ENV = tool_env()


def sh(*cmd, stdin=None, capture=False):
    r = subprocess.run([str(c) for c in cmd], input=stdin, env=ENV, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise Failed('%s: exit %d\n%s%s' % (' '.join(map(str, cmd)), r.returncode,
                                            r.stdout, r.stderr))
    return r.stdout if capture else None


def new_file(path, size):
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, 'wb') as f:
        f.truncate(size)


def splice(src, dst, offset):
    """Copies SRC into DST at OFFSET, keeping holes (dd conv=sparse)."""
    sh('dd', 'if=' + src, 'of=' + dst, 'bs=65536', 'seek=%d' % offset, 'oflag=seek_bytes',
       'conv=notrunc,sparse', 'status=none')


# --- the guests ----------------------------------------------------------------

def make_tree(work):
    """A small deterministic tree for mke2fs -d and mkfs.btrfs --rootdir."""
    tree = os.path.join(work, 'tree')
    if os.path.isdir(tree):
        shutil.rmtree(tree)
    os.makedirs(os.path.join(tree, 'etc'))
    os.makedirs(os.path.join(tree, 'var', 'log'))
    os.makedirs(os.path.join(tree, 'many'))
    line = b'virt-df benchmark guest data\n'
    with open(os.path.join(tree, 'var', 'log', 'messages'), 'wb') as f:
        f.write(line * (400000 // len(line)))
    with open(os.path.join(tree, 'etc', 'hostname'), 'wb') as f:
        f.write(b'bench\n')
    for i in range(50):
        open(os.path.join(tree, 'many', 'entry-%02d' % i), 'wb').close()
    for root, dirs, files in os.walk(tree):
        for n in dirs + files:
            os.utime(os.path.join(root, n), (int(FAKE_TIME), int(FAKE_TIME)))
    os.utime(tree, (int(FAKE_TIME), int(FAKE_TIME)))
    return tree


def mkext4(img, offset, length, n, tree, work):
    opts = ('offset=%d,hash_seed=%s,lazy_itable_init=1,lazy_journal_init=1,'
            'nodiscard,root_owner=0:0' % (offset, uuid(n, 'c')))
    sh('mke2fs', '-F', '-q', '-t', 'ext4', '-U', uuid(n), '-E', opts, '-d', tree,
       img, '%dk' % (length // 1024))
    # mke2fs -d copies each file's ctime (which cannot be set), its atime and
    # its owner: pin them, as data/make_fixtures.sh does, so that the image
    # is the same bytes from run to run.
    cmds = []
    for root, dirs, files in os.walk(tree):
        for name in sorted(dirs + files):
            rel = os.path.relpath(os.path.join(root, name), tree)
            cmds += ['sif /%s %s' % (rel, x) for x in
                     ('ctime @' + FAKE_TIME, 'atime @' + FAKE_TIME, 'uid 0', 'gid 0')]
    debugfs(img, offset, '\n'.join(cmds) + '\n', work)


def ext4_meta_bytes(img, offset):
    """Size of the ext4 superblock (1024 bytes) plus the group descriptor
    table (whole blocks), from dumpe2fs -h."""
    out = sh('dumpe2fs', '-h', '%s?offset=%d' % (img, offset), capture=True)
    f = dict(re.findall(r'^([A-Za-z ]+):\s+(\S+)', out, re.M))
    bsize = int(f['Block size'])
    blocks = int(f['Block count'])
    first = int(f['First block'])
    per = int(f['Blocks per group'])
    desc = int(f.get('Group descriptor size', 32))
    groups = -(-(blocks - first) // per)
    return 1024 + -(-(groups * desc) // bsize) * bsize


def debugfs(img, offset, cmds, work):
    path = os.path.join(work, 'debugfs.cmds')
    with open(path, 'w') as f:
        f.write(cmds)
    out = sh('debugfs', '-w', '-f', path, '%s?offset=%d' % (img, offset), capture=True)
    bad = [l for l in out.splitlines() if l and not l.startswith('debugfs')
           and not l.startswith('Allocated inode')]
    if bad:
        raise Failed('debugfs %s: %s' % (img, '\n'.join(bad)))


class Guest:
    def __init__(self, name, args, files, note='', ext4=None, raw_ext4=False):
        self.name = name
        self.args = args          # virt-df arguments naming the guest
        self.files = files        # image files: strace counts reads on these
        self.note = note
        self.ext4 = ext4          # superblock + GDT bytes when every fs is ext4
        self.raw_ext4 = raw_ext4  # counted for the ext4 bytes-read target
        self.skip = None
        self.r = {}


def small_ext4(work, tree):
    """64 MiB raw disk, MBR, one ext4 partition from 1 MiB."""
    img = os.path.join(work, 'small-ext4.img')
    new_file(img, 64 * MiB)
    sh('sfdisk', '-q', img, stdin='label: dos\nlabel-id: 0x5644460b\nunit: sectors\n'
       'start=2048, type=83\n')
    mkext4(img, MiB, 63 * MiB, 1, tree, work)
    return img, Guest('small ext4 (raw)', ['-a', img], [img],
                      ext4=ext4_meta_bytes(img, MiB), raw_ext4=True)


def gpt_multi(work, tree):
    """1 GiB GPT disk: ESP (vfat), ext4, XFS, btrfs, swap."""
    img = os.path.join(work, 'gpt-multi.img')
    new_file(img, GiB)
    parts = [('ef00', 64, 'esp'), ('8300', 128, 'ext4'), ('8300', 512, 'xfs'),
             ('8300', 200, 'btrfs'), ('8200', 64, 'swap')]
    args = ['sgdisk', '-a', '2048', '-U', uuid(2, 'a')]
    start = 2048
    offs = []
    for i, (code, size, _) in enumerate(parts, 1):
        args += ['-n', '%d:%d:%d' % (i, start, start + size * 2048 - 1),
                 '-t', '%d:%s' % (i, code), '-u', '%d:%s' % (i, uuid(10 + i, 'a'))]
        offs.append(start * 512)
        start += size * 2048
    sh(*args, img)
    tmp = os.path.join(work, 'part.tmp')
    for (code, size, kind), off, n in zip(parts, offs, range(20, 30)):
        if kind == 'ext4':
            mkext4(img, off, size * MiB, n, tree, work)
            continue
        new_file(tmp, size * MiB)
        if kind == 'esp':
            sh('mkfs.vfat', '--invariant', '-F', '32', '-i', '5644460b', '-n', 'ESP', tmp)
        elif kind == 'xfs':
            sh('mkfs.xfs', '-q', '-f', '-K', '-m', 'uuid=' + uuid(n), tmp)
        elif kind == 'btrfs':
            sh('mkfs.btrfs', '-q', '-f', '-K', '-U', uuid(n), '-r', tree, tmp)
        elif kind == 'swap':
            os.chmod(tmp, 0o600)
            sh('mkswap', '-q', '-U', uuid(n), tmp)
        splice(tmp, img, off)
    os.unlink(tmp)
    return Guest('GPT: vfat ext4 xfs btrfs swap', ['-a', img], [img])


def lvm_span(work):
    """The two-disk LVM guest LVM2 made in the libguestfs appliance
    (data/lvm-span-{a,b}.img.xz), each disk converted to qcow2."""
    files = []
    for d in 'ab':
        xz = os.path.join(DATA, 'lvm-span-%s.img.xz' % d)
        if not os.path.exists(xz):
            g = Guest('LVM on 2 qcow2 disks', [], [])
            g.skip = 'data/lvm-span-%s.img.xz missing' % d
            return g
        raw = os.path.join(work, 'lvm-span-%s.img' % d)
        with open(raw, 'wb') as out:
            subprocess.run(['xz', '-dc', xz], stdout=out, check=True)
        q = os.path.join(work, 'lvm-span-%s.qcow2' % d)
        if os.path.exists(q):
            os.unlink(q)
        sh('qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, q)
        os.unlink(raw)
        files.append(q)
    return Guest('LVM on 2 qcow2 disks', ['-a', files[0], '-a', files[1]], files)


def chain_states(work, base, tree):
    """States A (BASE) <- B <- C of the small ext4 guest, changed by debugfs."""
    b = os.path.join(work, 'state-b.img')
    c = os.path.join(work, 'state-c.img')
    shutil.copyfile(base, b)
    debugfs(b, MiB, 'write %s/var/log/messages /copy-b\nsif /copy-b uid 0\n'
            'sif /copy-b gid 0\nmkdir /dir-b\n' % tree, work)
    shutil.copyfile(b, c)
    debugfs(c, MiB, 'rm /var/log/messages\nwrite %s/var/log/messages /copy-c\n'
            'sif /copy-c uid 0\nsif /copy-c gid 0\n' % tree, work)
    return b, c


def qcow2_chain(work, base, b, c):
    """base.qcow2 <- mid.qcow2 <- top.qcow2: each overlay holds only the
    clusters its state changed (qemu-img convert -B)."""
    q = [os.path.join(work, 'chain-%s.qcow2' % n) for n in ('base', 'mid', 'top')]
    for p in q:
        if os.path.exists(p):
            os.unlink(p)
    sh('qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', base, q[0])
    sh('qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '-B', os.path.basename(q[0]),
       '-F', 'qcow2', b, q[1])
    sh('qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '-B', os.path.basename(q[1]),
       '-F', 'qcow2', c, q[2])
    sh('qemu-img', 'compare', '-q', '-f', 'qcow2', '-F', 'raw', q[2], c)
    return Guest('qcow2 chain, 3 deep', ['-a', q[2]], q, ext4=ext4_meta_bytes(c, MiB))


PLOOP_GUIDS = ['{5644460b-0000-4000-c000-00000000000%s}' % x for x in 'abc']


def ploop_guest(work, base, b, c):
    """A ploop directory: raw base A and two deltas (A->B, B->C) written by
    data/ploop_tool.py as the test fixtures write theirs, and checked the
    same way with qemu-img."""
    d = os.path.join(work, 'ploop.hdd')
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    root = os.path.join(d, 'root.hds')
    shutil.copyfile(base, root)
    tool = os.path.join(DATA, 'ploop_tool.py')
    files = [root]
    for parent, child, guid in ((base, b, PLOOP_GUIDS[1]), (b, c, PLOOP_GUIDS[2])):
        delta = root + '.' + guid
        sh(sys.executable, tool, 'delta', parent, child, delta)
        sh('qemu-img', 'check', '-q', '-f', 'parallels', delta)
        files.append(delta)
    sectors = os.path.getsize(base) // 512
    images = ''.join(
        '   <Image>\n    <GUID>%s</GUID>\n    <Type>%s</Type>\n    <File>%s</File>\n   </Image>\n'
        % (g, 'Plain' if i == 0 else 'Compressed', os.path.basename(f))
        for i, (g, f) in enumerate(zip(PLOOP_GUIDS, files)))
    shots = ''.join('  <Shot>\n   <GUID>%s</GUID>\n   <ParentGUID>%s</ParentGUID>\n  </Shot>\n'
                    % (g, p) for g, p in zip(PLOOP_GUIDS, ['{00000000-0000-0000-0000-000000000000}']
                                             + PLOOP_GUIDS[:2]))
    desc = os.path.join(d, 'DiskDescriptor.xml')
    with open(desc, 'w') as f:
        f.write('<?xml version="1.0"?>\n<Parallels_disk_image>\n <Disk_Parameters>\n'
                '  <Disk_size>%d</Disk_size>\n  <Cylinders>%d</Cylinders>\n  <Heads>16</Heads>\n'
                '  <Sectors>63</Sectors>\n  <Padding>0</Padding>\n </Disk_Parameters>\n'
                ' <StorageData>\n  <Storage>\n   <Start>0</Start>\n   <End>%d</End>\n'
                '   <Blocksize>2048</Blocksize>\n%s  </Storage>\n </StorageData>\n'
                ' <Snapshots>\n  <TopGUID>%s</TopGUID>\n%s </Snapshots>\n</Parallels_disk_image>\n'
                % (sectors, sectors // 16 // 63, sectors, images, PLOOP_GUIDS[2], shots))
    # virt-df's image layer reads (and counts) the descriptor too.
    return Guest('ploop, base + 2 deltas', ['-a', d], [desc] + files,
                 ext4=ext4_meta_bytes(c, MiB))


def big_ext4(work, tree):
    img = os.path.join(work, 'ext4-4t.img')
    new_file(img, 4 * TiB)
    mkext4(img, 0, 4 * TiB, 3, tree, work)
    return Guest('4 TiB ext4 (sparse raw)', ['-a', img], [img],
                 ext4=ext4_meta_bytes(img, 0), raw_ext4=True)


def big_xfs(work):
    img = os.path.join(work, 'xfs-4t.img')
    new_file(img, 4 * TiB)
    sh('mkfs.xfs', '-q', '-f', '-K', '-m', 'uuid=' + uuid(4), img)
    return Guest('4 TiB XFS (sparse raw)', ['-a', img], [img])


def btrfs_raid1(work, tree):
    files = [os.path.join(work, 'btrfs-raid1-%s.img' % d) for d in 'ab']
    for f in files:
        new_file(f, 256 * MiB)
    try:
        sh('mkfs.btrfs', '-q', '-f', '-K', '-U', uuid(5), '-d', 'raid1', '-m', 'raid1',
           '-r', tree, *files)
        note = ''
    except Failed:
        # --rootdir takes one device in some btrfs-progs releases.
        for f in files:
            new_file(f, 256 * MiB)
        sh('mkfs.btrfs', '-q', '-f', '-K', '-U', uuid(5), '-d', 'raid1', '-m', 'raid1', *files)
        note = 'empty (mkfs.btrfs --rootdir refused two devices)'
    return Guest('btrfs raid1, 2 disks', ['-a', files[0], '-a', files[1]], files, note=note)


def make_guests(work, quick):
    os.makedirs(work, exist_ok=True)
    tree = make_tree(work)
    base, g = small_ext4(work, tree)
    guests = [g]
    b, c = chain_states(work, base, tree)
    if not quick:
        guests.append(gpt_multi(work, tree))
        guests.append(lvm_span(work))
    guests.append(qcow2_chain(work, base, b, c))
    if not quick:
        guests.append(ploop_guest(work, base, b, c))
        guests.append(big_ext4(work, tree))
        guests.append(big_xfs(work))
        guests.append(btrfs_raid1(work, tree))
    for p in (b, c):
        os.unlink(p)
    return base, guests


# --- measuring -------------------------------------------------------------------

def run_timed(argv, stderr_path=os.devnull):
    """One run: wall seconds, CPU seconds (user + system, all threads), peak
    RSS in KiB, exit status. posix_spawn keeps the harness's own cost out of
    the figures as far as possible."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    t = time.perf_counter() - t0
    return t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, os.waitstatus_to_exitcode(status)


def drop_caches():
    try:
        os.sync()
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('3\n')
        return True
    except OSError:
        return False


READ_RE = re.compile(r'read (\d+) bytes in (\d+) calls')


def verbose_counts(virt_df, g):
    r = subprocess.run([virt_df, '-v'] + g.args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''
    m = READ_RE.search(last)
    return r.returncode, r.stdout, (int(m.group(1)), int(m.group(2))) if m else None, r.stderr


SYSCALL_RE = re.compile(r'^(?:\d+\s+)?(pread64|read|preadv|preadv2|readv)\((\d+)<([^>]*)>.*\)\s+=\s+(-?\d+)')


def strace_counts(virt_df, g, work):
    """Bytes and calls of the read syscalls on the guest's image files."""
    if not shutil.which('strace'):
        return None
    d = tempfile.mkdtemp(dir=work)
    try:
        r = subprocess.run(['strace', '-f', '-ff', '-qq', '-y', '-s', '0', '-o',
                            os.path.join(d, 'trace'), '-e', 'trace=pread64,read,preadv,preadv2,readv',
                            virt_df] + g.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            return None
        images = {os.path.realpath(f) for f in g.files}
        total = calls = 0
        for name in os.listdir(d):
            with open(os.path.join(d, name)) as f:
                for line in f:
                    m = SYSCALL_RE.match(line)
                    if m and m.group(3) in images and int(m.group(4)) >= 0:
                        total += int(m.group(4))
                        calls += 1
        return total, calls
    finally:
        shutil.rmtree(d)


def measure(virt_df, g, work, runs, cold_ok):
    rc, out, counts, err = verbose_counts(virt_df, g)
    if rc != 0:
        raise Failed('%s: virt-df exit %d\n%s' % (g.name, rc, err))
    g.r['rows'] = max(0, len(out.splitlines()) - 1)
    g.r['counts'] = counts
    g.r['strace'] = strace_counts(virt_df, g, work)
    argv = [virt_df] + g.args
    for _ in range(2):  # warm the page cache
        run_timed(argv)
    times, cpu, rss = [], [], []
    for _ in range(runs):
        t, c, m, code = run_timed(argv)
        if code != 0:
            raise Failed('%s: virt-df exit %d' % (g.name, code))
        times.append(t)
        cpu.append(c)
        rss.append(m)
    g.r['median'] = statistics.median(times)
    g.r['cpu'] = statistics.median(cpu)
    g.r['min'] = min(times)
    g.r['rss'] = max(rss)
    if cold_ok:
        cold = []
        for _ in range(3):
            drop_caches()
            cold.append(run_timed(argv)[0])
        g.r['cold'] = statistics.median(cold)


# --- scaling -----------------------------------------------------------------------

DOMXML = """<domain type='kvm'>
  <name>bench-%(i)04d</name>
  <uuid>5644460b-0000-4000-e000-%(i)012d</uuid>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(overlay)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def make_fleet(work, base, n):
    """N guests, each a domain XML file with its own qcow2 overlay over the
    small ext4 guest (linked clones). qemu-img makes the first overlay; the
    others are copies of it (the same backing file, so the same bytes)."""
    d = os.path.join(work, 'fleet')
    os.makedirs(d, exist_ok=True)
    first = os.path.join(d, 'overlay-0001.qcow2')
    if not os.path.exists(first):
        sh('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', os.path.abspath(base), '-F', 'raw',
           first)
    xmls = []
    for i in range(1, n + 1):
        ov = os.path.join(d, 'overlay-%04d.qcow2' % i)
        if not os.path.exists(ov):
            shutil.copyfile(first, ov)
        x = os.path.join(d, 'guest-%04d.xml' % i)
        if not os.path.exists(x):
            with open(x, 'w') as f:
                f.write(DOMXML % {'i': i, 'overlay': ov})
        xmls.append(x)
    return xmls


SCALE_RUNS = 9


def scale(virt_df, xmls, counts):
    res = {}
    for n in counts:
        args = []
        for x in xmls[:n]:
            args += ['--domxml', x]
        for p in (1, 2):
            argv = [virt_df, '-P', str(p)] + args
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0 or len(r.stdout.splitlines()) != n + 1:
                raise Failed('--domxml x%d -P %d: exit %d, %d lines\n%s' % (
                    n, p, r.returncode, len(r.stdout.splitlines()), r.stderr[-2000:]))
            ts, cs, rss = [], [], []
            for _ in range(SCALE_RUNS):
                t, c, m, code = run_timed(argv)
                ts.append(t)
                cs.append(c)
                rss.append(m)
            res[(n, p)] = {'median': statistics.median(ts), 'min': min(ts),
                           'cpu': statistics.median(cs), 'rss': max(rss)}
    return res


def linearity(res, counts, p, key):
    """Cost per added guest from the middle count (200) to the largest
    (1000), over the cost per added guest from 1 guest to the middle count:
    about 1 when time is linear in the guest count (a fixed start-up cost
    cancels out), N-fold when it grows as N squared. Linear when within
    0.5x..2x (N squared gives about 6x with these counts; on a loaded
    machine the 1->200 span of a few tens of ms is noisy, hence the slack).
    Also the least-squares line t = a + b*N, for reading."""
    xs = list(counts)
    ys = [res[(n, p)][key] for n in counts]
    k = len(xs)
    mx, my = sum(xs) / k, sum(ys) / k
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0
    a = my - b * mx
    lo, big = min(counts), max(counts)
    mids = [n for n in counts if lo < n < big]
    if not mids:
        return a, b, None, None
    mid = max(mids)
    y = {n: res[(n, p)][key] for n in counts}
    s1 = (y[mid] - y[lo]) / (mid - lo)
    s2 = (y[big] - y[mid]) / (big - mid)
    ratio = s2 / s1 if s1 > 0 else float('inf')
    return a, b, ratio, 0.5 <= ratio <= 2.0


# --- libguestfs ----------------------------------------------------------------------

def libguestfs(virt_df, g, ours):
    lg = '/usr/bin/virt-df'
    if not os.access(lg, os.X_OK):
        return 'libguestfs virt-df: not installed (libguestfs-tools), skipped'
    env = dict(os.environ, LIBGUESTFS_BACKEND='direct', LIBGUESTFS_BACKEND_SETTINGS='force_tcg')
    t0 = time.perf_counter()
    try:
        r = subprocess.run([lg, '-a', g.files[0]], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return 'libguestfs virt-df: no answer in 300 s, skipped'
    t = time.perf_counter() - t0
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or [''])[-1]
        return 'libguestfs virt-df: failed (exit %d: %s), skipped' % (r.returncode, tail[:200])
    mine = subprocess.run([virt_df] + g.args, stdout=subprocess.PIPE, text=True).stdout
    return ('libguestfs virt-df (direct backend, TCG) on %s: %.2f s, %.0fx this '
            'virt-df\'s warm median; %s:\n%s' % (
                g.name, t, t / ours,
                'the same output' if mine == r.stdout else 'OTHER OUTPUT than this virt-df',
                '\n'.join('    ' + l for l in r.stdout.splitlines())))


# --- report ----------------------------------------------------------------------------

def ms(t):
    return '%.2f' % (t * 1000) if t is not None else '-'


def mib(kib):
    return '%.1f' % (kib / 1024)


def report_scaling(virt_df, work, base, counts):
    """The scaling table; None when this virt-df has no --domxml."""
    xmls = make_fleet(work, base, max(counts))
    load = os.getloadavg()
    probe = subprocess.run([virt_df, '--domxml', xmls[0]], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    if 'without support for libvirt' in probe.stderr:
        print()
        print('Scaling: not measured: this virt-df was built without libvirt (no --domxml)')
        return None
    res = scale(virt_df, xmls, counts)
    print()
    print('Scaling: N guests read with --domxml, each its own qcow2 overlay over the small ext4 '
          'guest; median wall, fastest wall and median CPU of %d runs, peak RSS' % SCALE_RUNS)
    print('%6s | %9s %8s %8s %8s %7s | %9s %8s %8s %8s %7s' % (
        'guests', '-P1 ms', 'min ms', 'cpu ms', 'ms/guest', 'RSS MiB',
        '-P2 ms', 'min ms', 'cpu ms', 'ms/guest', 'RSS MiB'))
    for n in counts:
        cells = []
        for p in (1, 2):
            x = res[(n, p)]
            cells += [ms(x['median']), ms(x['min']), ms(x['cpu']), ms(x['median'] / n),
                      mib(x['rss'])]
        print('%6d | %9s %8s %8s %8s %7s | %9s %8s %8s %8s %7s' % (n, *cells))
    # Wall time is judged only on a machine that is not overloaded: with more
    # runnable processes than CPUs it measures the scheduler as much as virt-df.
    judge_wall = load[0] < (os.cpu_count() or 1)
    lin = {}
    for p in (1, 2):
        parts = []
        oks = []
        for key, what in (('min', 'fastest wall'), ('cpu', 'CPU')):
            a, b, ratio, ok = linearity(res, counts, p, key)
            parts.append('%s %.1f ms + %.3f ms x N%s' % (
                what, a * 1000, b * 1000,
                ' (cost per guest %d->%d / %d->%d: %.2fx)' % (
                    sorted(counts)[-2], max(counts), min(counts), sorted(counts)[-2], ratio)
                if ratio is not None else ''))
            if key == 'cpu' or judge_wall:
                oks.append(ok)
        lin[p] = None if None in oks else all(oks)
        print('-P%d: %s' % (p, '; '.join(parts)))
    if 200 in counts:
        print('200 guests (issue 7): -P1 %s ms, -P2 %s ms (median wall)' % (
            ms(res[(200, 1)]['median']), ms(res[(200, 2)]['median'])))

    return res, lin, judge_wall, load


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('builddir')
    ap.add_argument('--virt-df', help='the binary (default BUILDDIR/virt-df)')
    ap.add_argument('--work', help='where the guests go (default BUILDDIR/bench)')
    ap.add_argument('--quick', action='store_true',
                    help='2 guests, 3 runs, 1 and 10 guests to scale: a smoke run')
    ap.add_argument('--runs', type=int, help='timed runs per guest (default 21)')
    ap.add_argument('--max-guests', type=int, default=1000)
    ap.add_argument('--no-libguestfs', action='store_true',
                    help='do not time libguestfs\' virt-df even if it is installed')
    ap.add_argument('--no-cold', action='store_true',
                    help='do not drop the page cache (implied by --quick)')
    o = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    virt_df = os.path.abspath(o.virt_df or os.path.join(o.builddir, 'virt-df'))
    work = os.path.abspath(o.work or os.path.join(o.builddir, 'bench'))
    runs = o.runs or (3 if o.quick else 21)
    o.no_cold = o.no_cold or o.quick
    if not os.access(virt_df, os.X_OK):
        sys.exit('bench: %s: no virt-df binary (build it first: meson compile -C %s)'
                 % (virt_df, o.builddir))

    print('virt-df benchmark: %s' % virt_df)
    bt = ''
    try:
        info = json.load(open(os.path.join(o.builddir, 'meson-info', 'intro-buildoptions.json')))
        bt = next(x['value'] for x in info if x['name'] == 'buildtype')
    except (OSError, ValueError, StopIteration):
        pass
    print('build type: %s; %d CPUs; load average at start: %.2f %.2f %.2f' % (
        bt or 'unknown', os.cpu_count(), *os.getloadavg()))
    print('guests in %s' % work)
    t0 = time.time()
    try:
        base, guests = make_guests(work, o.quick)
    except Failed as e:
        print('bench: could not make the guests: %s' % e, file=sys.stderr)
        return 1
    print('made %d guests in %.1f s' % (len(guests), time.time() - t0))

    cold_ok = not o.no_cold and drop_caches()
    errors = 0
    for g in guests:
        if g.name.startswith('LVM') and not g.skip:
            out = subprocess.run([virt_df] + g.args, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout
            if '/dev/vgspan/' not in out:
                g.skip = 'virt-df lists no /dev/vgspan/* LV (no LVM support in this build yet)'
        if g.skip:
            continue
        try:
            measure(virt_df, g, work, runs, cold_ok)
        except Failed as e:
            print('bench: %s' % e, file=sys.stderr)
            g.skip = 'virt-df failed'
            errors += 1

    print()
    print('Per guest: median and fastest of %d warm runs (after 2 unmeasured), median CPU '
          '(user+sys), cold = median of 3 runs each after dropping the page cache' % runs)
    head = ('%-30s %4s %9s %7s %7s %8s %10s %6s %14s %7s %9s' % (
        'guest', 'rows', 'median ms', 'min ms', 'cpu ms', 'cold ms', 'bytes read', 'calls',
        'strace b/calls', 'RSS MiB', 'read/meta'))
    print(head)
    print('-' * len(head))
    for g in guests:
        if g.skip:
            print('%-30s skipped: %s' % (g.name, g.skip))
            continue
        r = g.r
        c = r['counts']
        st = r['strace']
        ratio = '%.2f' % (c[0] / g.ext4) if c and g.ext4 else '-'
        print('%-30s %4d %9s %7s %7s %8s %10s %6s %14s %7s %9s%s' % (
            g.name, r['rows'], ms(r['median']), ms(r['min']), ms(r['cpu']), ms(r.get('cold')),
            c[0] if c else '?', c[1] if c else '?',
            '%d/%d' % st if st else 'n/a', mib(r['rss']), ratio,
            '  (' + g.note + ')' if g.note else ''))
    su = [run_timed([virt_df, '--version']) for _ in range(runs)]
    libs = subprocess.run(['ldd', virt_df], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True).stdout.count('=>')
    startup = statistics.median(x[0] for x in su), statistics.median(x[1] for x in su)
    print('%-30s %4s %9s %7s %7s   (process start-up alone; %d shared libraries)' % (
        'virt-df --version', '', ms(startup[0]), ms(min(x[0] for x in su)), ms(startup[1]), libs))
    if o.no_cold:
        print('cold: not measured (--no-cold)')
    elif not cold_ok:
        print('cold: not available here (cannot write /proc/sys/vm/drop_caches)')
    print('bytes read, calls: virt-df -v\'s last line; strace: read syscalls on the image files\' '
          'descriptors (ploop: with DiskDescriptor.xml)')
    print('read/meta: bytes read / (ext4 superblock + group descriptor table) where every '
          'filesystem is ext4; qcow2 and ploop include their image metadata')
    mism = [g.name for g in guests if not g.skip and g.r['strace'] and g.r['counts']
            and tuple(g.r['strace']) != tuple(g.r['counts'])]
    nost = [g.name for g in guests if not g.skip and not g.r['strace']]
    print('strace cross-check: %s%s' % (
        'equal for every guest traced' if not mism else 'DIFFER for ' + ', '.join(mism),
        '; not traced: ' + ', '.join(nost) if nost else ''))
    errors += len(mism)

    counts = [1, 10] if o.quick else [n for n in (1, 10, 100, 200, 1000) if n <= o.max_guests]
    try:
        scaled = report_scaling(virt_df, work, base, counts)
    except Failed as e:
        print('bench: scaling: %s' % e, file=sys.stderr)
        return 1

    small = guests[0]
    if not o.no_libguestfs and not o.quick and not small.skip:
        print()
        print(libguestfs(virt_df, small, small.r['median']))

    print()
    print('load average at end: %.2f %.2f %.2f' % os.getloadavg())
    print('Targets (issue 9)%s:' % (', not judged in a --quick run' if o.quick else ''))

    def target(ok, what, why):
        if o.quick:
            ok = None  # a smoke run judges nothing
        print('  %-4s %s: %s' % ({True: 'PASS', False: 'MISS', None: '----'}[ok], what, why))

    big_n = max(counts)
    if not small.skip:
        target(small.r['median'] < 0.005, '< 5 ms per small guest, warm, one virt-df per guest',
               'small ext4 guest: median %s ms wall, %s ms CPU, of which process start-up '
               '(--version) %s ms CPU' % (ms(small.r['median']), ms(small.r['cpu']),
                                          ms(startup[1])))
    res, lin, judge_wall, load = scaled or (None, {1: None, 2: None}, False, None)
    if res:
        per = res[(big_n, 1)]['median'] / big_n
        target(per < 0.005, '< 5 ms per small guest, warm, in one --domxml run',
               '%d guests -P1: %s ms wall per guest' % (big_n, ms(per)))
    ext = [g for g in guests if g.raw_ext4 and not g.skip and g.r['counts']]
    if ext:
        worst = max(g.r['counts'][0] / g.ext4 for g in ext)
        target(worst <= 2.0, 'ext4 bytes read within 2x of superblock + GDT',
               ', '.join('%s: %d / %d bytes = %.2fx' % (g.name, g.r['counts'][0], g.ext4,
                                                        g.r['counts'][0] / g.ext4) for g in ext))
    measured = [g for g in guests if not g.skip]
    if measured:
        top = max(measured, key=lambda g: g.r['rss'])
        big = [g for g in measured if '4 TiB' in g.name]
        if big and not small.skip:
            spread = max(g.r['rss'] for g in big) - small.r['rss']
            target(top.r['rss'] < 32 * 1024 and spread < 4 * 1024,
                   'peak RSS < 32 MiB, independent of image size',
                   'largest %s MiB (%s); the 4 TiB guests %+.1f MiB over the 64 MiB one; '
                   '%s' % (mib(top.r['rss']), top.name, spread / 1024,
                           '%d guests -P2: %s MiB' % (big_n, mib(res[(big_n, 2)]['rss']))
                           if res else 'no scaling run'))
        else:
            target(None if o.quick else top.r['rss'] < 32 * 1024, 'peak RSS < 32 MiB',
                   'largest %s MiB (no 4 TiB guest measured)' % mib(top.r['rss']))
    target(None if lin[1] is None else lin[1] and lin[2], 'linear time in guest count',
           'not checked: too few guest counts' if lin[1] is None and res else
           'not checked: no scaling run' if lin[1] is None else
           '-P1 %s, -P2 %s (cost-per-guest ratio within 0.5x..2x for %s)' % (
               'linear' if lin[1] else 'NOT linear', 'linear' if lin[2] else 'NOT linear',
               'fastest wall and CPU time' if judge_wall else
               'CPU time; wall time not judged at load average %.1f on %d CPUs' % (
                   load[0], os.cpu_count())))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
