#!/bin/bash
# record_kernel_statfs.sh [--rw] [--type REGEX] FIXTUREDIR
#
# The "oracle" for virt-df's tests: loop-mounts every filesystem listed in
# FIXTUREDIR/manifest.txt (written by make_fixtures.sh) whose FSTYPE matches
# REGEX (default: all), and prints what the running kernel's statvfs()
# reports for it, one line each:
#
#   IMAGE DEVICE f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree
#
# or "IMAGE DEVICE unmountable" if the kernel refuses the filesystem.
# data/expected/*.txt hold this output (minus their headers), one file per
# format; *-rw.txt the same for read-write mounts.
#
# A DEVICE of the form btrfsvol:/dev/sdX/PATH is the btrfs subvolume PATH,
# mounted with -o subvol=PATH.
#
# An optional sixth manifest column holds extra mount options; in it,
# @IMAGE or @IMAGE:OFFSET:LENGTH stands for a loop device made for that
# (part of a) fixture file: "logdev=@xfs-log.img" for an external XFS log,
# "device=@raid1.img:1048576:67108864" for another btrfs member.
#
# Needs root and loop devices; exits 77 (the "skip" code of meson/automake)
# otherwise.  Images are never modified: every mount is of a sparse copy,
# thrown away after.  The copy's loop device is writable even for a
# read-only mount, because that is what libguestfs virt-df measures: it
# mounts read-only, but on a writable overlay.  (btrfs reports less
# Available on a read-only device: its block groups all become read-only.)  We deliberately do not fall back to options such as
# "noload" because they change the figures we are trying to record.

set -euo pipefail

MODE=ro
TYPES=".*"
while [[ $# -gt 1 ]]; do
    case $1 in
        --rw) MODE=rw; shift ;;
        --type) TYPES=$2; shift 2 ;;
        *) break ;;
    esac
done
if [[ $# -ne 1 ]]; then
    echo "usage: $0 [--rw] [--type REGEX] FIXTUREDIR" >&2
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
EXTRA_LOOPS=()

# Replaces each @IMAGE[:OFFSET:LENGTH] in $1 by a loop device over it (over
# a sparse copy in rw mode) and leaves the result in EXPANDED. Not called
# in $(...): the loop devices must be remembered in EXTRA_LOOPS, here.
expand_devices() {
    local opts=$1 out="" item spec img off len file loop
    IFS=, read -ra items <<<"$opts"
    for item in "${items[@]}"; do
        if [[ $item == *=@* ]]; then
            spec=${item#*=@}
            IFS=: read -r img off len <<<"$spec"
            file=$FIX/$img
            cp --sparse=always "$file" "$MNT.extra.${#EXTRA_LOOPS[@]}"
            file=$MNT.extra.${#EXTRA_LOOPS[@]}
            loop=$(losetup -f --show ${off:+--offset "$off"} ${len:+--sizelimit "$len"} "$file")
            EXTRA_LOOPS+=("$loop")
            item=${item%%=@*}=$loop
        fi
        out+=${out:+,}$item
    done
    EXPANDED=$out
}

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
    local loop
    for loop in "${EXTRA_LOOPS[@]}"; do losetup -d "$loop" 2>/dev/null || true; done
    EXTRA_LOOPS=()
    rm -f "$MNT".extra.*
}
trap 'release; rm -f "$MNT.err" "$MNT.img"; rmdir "$MNT"' EXIT

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

while read -r img dev off len fstype extra; do
    [[ -z $img || $img == \#* ]] && continue
    [[ $fstype =~ ^($TYPES)$ ]] || continue
    opts=$MODE
    if [[ -n ${extra:-} ]]; then
        expand_devices "$extra"
        opts+=",$EXPANDED"
    fi
    [[ $dev == btrfsvol:* ]] && opts+=",subvol=${dev#btrfsvol:/dev/*/}"
    cp --sparse=always "$FIX/$img" "$MNT.img"
    # Our own writable loop device: "mount -o ro,loop" would make it read-only.
    LOOPDEV=$(losetup -f --show --offset "$off" --sizelimit "$len" "$MNT.img")
    # No -t: let mount probe, as a user would.  On kernels built with
    # EXT4_USE_FOR_EXT2 the ext4 driver handles ext2/ext3 too.
    if mount -o "$opts" "$LOOPDEV" "$MNT" </dev/null 2>"$MNT.err"; then
        echo "$img $dev $(read_statvfs "$MNT")"
    else
        echo "$img $dev unmountable"
        echo "$0: $img $dev ($fstype): $(tr '\n' ' ' <"$MNT.err")" >&2
    fi
    release
    rm -f "$MNT.img"
    rm -f "$MNT.err"
done <"$FIX/manifest.txt"
