#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel as the oracle, live: where this runs as root with loop devices,
# (1) mount every fixture read-only again and check that the recorded
# figures (data/expected/*.txt) are still what the kernel says, and
# (2) check virt-df's own printed figures against statvfs on those mounts.
# Elsewhere it is skipped (exit 77), and the recorded figures stand in.
set -euo pipefail

data_dir=$1
fixtures=${VIRT_DF_FIXTURES:?}
virt_df=${VIRT_DF:?}

if [[ $(id -u) -ne 0 ]] || ! losetup -f >/dev/null 2>&1; then
    echo "skipped: needs root and loop devices to mount the fixtures"
    exit 77
fi

work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"; }
trap cleanup EXIT

failures=0

# (1) The records still hold, read-only and read-write.
for mode in ro rw; do
    # Only files the recorder produced: figures for filesystems this kernel
    # cannot mount (FAT, exFAT) come from their tools and say so instead.
    if [[ $mode == ro ]]; then
        recorded=$(find "$data_dir/expected" -name '*.txt' ! -name '*-rw.txt')
        bash "$data_dir/record_kernel_statfs.sh" "$fixtures" > "$work/live.txt"
    else
        recorded=$(find "$data_dir/expected" -name '*-rw.txt')
        bash "$data_dir/record_kernel_statfs.sh" --rw "$fixtures" > "$work/live.txt"
    fi
    # shellcheck disable=SC2086
    recorded=$(grep -l '^# Produced by: data/record_kernel_statfs.sh' $recorded)
    # Every recorded line must be live; formats without rw records are
    # not required to have them.
    # shellcheck disable=SC2086
    missing=$(grep -hv '^#' $recorded | sort | comm -23 - <(sort "$work/live.txt"))
    if [[ -n $missing ]]; then
        echo "FAIL: recorded $mode figures the kernel no longer reports:"
        echo "$missing"
        echo "live:"
        grep -F -f <(echo "$missing" | awk '{print $1" "$2" "}') "$work/live.txt" || true
        failures=$((failures + 1))
    else
        echo "ok: $(grep -hv '^#' $recorded | wc -l) recorded $mode figures equal the kernel's"
    fi
done

# (2) virt-df's printed figures against the kernel's statvfs, on the same
# filesystems.
while read -r image device offset length fstype extra; do
    [[ -z $image || $image == \#* ]] && continue
    # Filesystems that need other devices (an external log, more btrfs
    # members) are checked by (1) alone, whose recorder sets those up.
    [[ -n ${extra:-} ]] && continue
    opts=ro
    [[ $device == btrfsvol:* ]] && opts+=",subvol=${device#btrfsvol:/dev/*/}"
    # Read-only, on a writable loop device over a copy, as the recorder
    # does (libguestfs mounts read-only on a writable overlay).
    cp --sparse=always "$fixtures/$image" "$work/copy.img"
    loop=$(losetup -f --show --offset "$offset" --sizelimit "$length" "$work/copy.img")
    if ! mount -o "$opts" "$loop" "$mnt" 2>/dev/null; then
        echo "note: $image $device: the kernel does not mount it here"
        losetup -d "$loop"
        continue
    fi
    # statvfs in virt-df's 1K units: scaled by f_bsize, rounding down as
    # virt-df does (df rounds up, which differs for blocks under 1 KiB).
    read -r kernel_blocks kernel_inodes < <(python3 -c '
import os, sys
s = os.statvfs(sys.argv[1])
k = lambda n: n * (s.f_bsize // 1024) if s.f_bsize >= 1024 else n // (1024 // s.f_bsize)
print(f"{k(s.f_blocks)},{k(s.f_blocks - s.f_bfree)},{k(s.f_bavail)}",
      f"{s.f_files},{s.f_files - s.f_ffree},{s.f_ffree}")' "$mnt")
    umount "$mnt"
    losetup -d "$loop" 2>/dev/null || true
    rm -f "$work/copy.img"
    ours_blocks=$("$virt_df" --csv -a "$fixtures/$image" 2>/dev/null |
                  awk -F, -v d="$device" '$2 == d {print $3","$4","$5}')
    ours_inodes=$("$virt_df" --csv -i -a "$fixtures/$image" 2>/dev/null |
                  awk -F, -v d="$device" '$2 == d {print $3","$4","$5}')
    if [[ $ours_blocks != "$kernel_blocks" || $ours_inodes != "$kernel_inodes" ]]; then
        echo "FAIL: $image $device ($fstype): the kernel says $kernel_blocks / $kernel_inodes," \
             "virt-df says ${ours_blocks:-nothing} / ${ours_inodes:-nothing}"
        failures=$((failures + 1))
    else
        echo "ok: $image $device ($fstype): $kernel_blocks / $kernel_inodes"
    fi
done < "$fixtures/manifest.txt"

[[ $failures -eq 0 ]]
