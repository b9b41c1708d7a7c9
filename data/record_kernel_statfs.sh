#!/bin/bash
# record_kernel_statfs.sh FIXTUREDIR
#
# The "oracle" for virt-df's tests: loop-mounts, read-only, every filesystem
# listed in FIXTUREDIR/manifest.txt (written by make_fixtures.sh) and prints
# what the running kernel's statvfs() reports for it, one line each:
#
#   IMAGE DEVICE f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree
#
# or "IMAGE DEVICE unmountable" if the kernel refuses the filesystem.
# The output is what data/expected-statfs.txt holds (minus its header).
#
# Needs root and loop devices; exits 77 (the "skip" code of meson/automake)
# otherwise.  Images are never modified: the mounts are read-only, which
# also makes mount(8) attach the loop device read-only.  We deliberately do
# not fall back to options such as "noload" because they change the figures
# we are trying to record.

set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 FIXTUREDIR" >&2
    exit 2
fi
FIX=$1
PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C

if [[ $(id -u) -ne 0 ]]; then
    echo "$0: must be run as root (loop mounts); skipping" >&2
    exit 77
fi
if ! losetup -f >/dev/null 2>&1; then
    echo "$0: no free loop device / no loop support; skipping" >&2
    exit 77
fi
if [[ ! -r $FIX/manifest.txt ]]; then
    echo "$0: $FIX/manifest.txt not found (run make_fixtures.sh first)" >&2
    exit 1
fi

MNT=$(mktemp -d "${TMPDIR:-/tmp}/virt-df-oracle.XXXXXX")
LOOPDEV=""

# Undo whatever is currently set up, also on error or Ctrl-C.  mount(8)
# sets autoclear on loop devices it creates, so unmounting normally frees
# the loop too; the explicit detach only covers the case where it did not.
release() {
    if mountpoint -q "$MNT"; then
        umount "$MNT"
    fi
    if [[ -n $LOOPDEV ]] && losetup "$LOOPDEV" >/dev/null 2>&1; then
        losetup -d "$LOOPDEV" 2>/dev/null || true
    fi
    LOOPDEV=""
}
trap 'release; rm -f "$MNT.err"; rmdir "$MNT"' EXIT

# Python reports f_bsize and f_frsize unambiguously; stat -f is the fallback
# (%s = f_bsize, %S = f_frsize in GNU stat's statvfs mode).
read_statvfs() {
    if command -v python3 >/dev/null; then
        python3 -c 'import os, sys
s = os.statvfs(sys.argv[1])
print(s.f_bsize, s.f_frsize, s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree)' "$1"
    else
        stat -f -c '%s %S %b %f %a %c %d' "$1"
    fi
}

while read -r img dev off len fstype; do
    [[ -z $img || $img == \#* ]] && continue
    # No -t: let mount probe, as a user would.  On kernels built with
    # EXT4_USE_FOR_EXT2 the ext4 driver handles ext2/ext3 too.
    if mount -o "ro,loop,offset=$off,sizelimit=$len" "$FIX/$img" "$MNT" \
        </dev/null 2>"$MNT.err"; then
        LOOPDEV=$(findmnt -n -o SOURCE --mountpoint "$MNT")
        echo "$img $dev $(read_statvfs "$MNT")"
        release
    else
        echo "$img $dev unmountable"
        echo "$0: $img $dev ($fstype): $(tr '\n' ' ' <"$MNT.err")" >&2
    fi
    rm -f "$MNT.err"
done <"$FIX/manifest.txt"
