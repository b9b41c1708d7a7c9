#!/bin/bash
# record_appliance_statfs.sh [--figures-only] FIXTUREDIR IMAGE...
#
# The oracle for filesystems this host's kernel cannot mount (f2fs,
# iso9660, hfsplus, ufs, vfat, ...): the libguestfs appliance's kernel
# (Debian's 6.1 on the machine these records were made on). In ONE
# appliance launch, each IMAGE of FIXTUREDIR is added read-only as the
# next disk (/dev/sda, /dev/sdb, ...), every filesystem that
# FIXTUREDIR/manifest.txt lists for it is mounted as virt-df's libguestfs
# mounts it (mount-ro: "mount -o ro" without a type, so blkid decides
# the type), and statvfs is asked. Output, one pair per filesystem, in
# data/expected/*.txt's format:
#
#   IMAGE DEVICE unmountable
#   #tools IMAGE DEVICE f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree
#
# The first line is what data/record_kernel_statfs.sh prints on a host
# without the driver (so that test/kernel_oracle_test.sh still finds every
# filesystem recorded); the "#tools" line holds the appliance kernel's
# figures, or "#tools IMAGE DEVICE unmountable" if that kernel refused it
# too. --figures-only leaves out the first line. The kernel's version is
# printed to stderr, for the header of the expected file.
#
# Needs libguestfs (guestfish) and its appliance; runs under TCG when
# there is no KVM, which takes a minute or two per launch: give all the
# images of a format, or several formats, to one call.

set -euo pipefail

pair=1
if [[ ${1:-} == --figures-only ]]; then
    pair=0
    shift
fi
if [[ $# -lt 2 ]]; then
    echo "usage: $0 [--figures-only] FIXTUREDIR IMAGE..." >&2
    exit 2
fi
FIX=$1
shift
export LC_ALL=C
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
if [[ ! -e /dev/kvm ]]; then
    export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
fi
command -v guestfish >/dev/null || { echo "$0: guestfish (libguestfs-tools) not found" >&2; exit 77; }
[[ -r $FIX/manifest.txt ]] || { echo "$0: $FIX/manifest.txt not found" >&2; exit 1; }

# Linux's name for the index-th disk: sda .. sdz, sdaa ...
disk_name() {
    local i=$1 name=""
    while :; do
        name=$(printf "\\$(printf '%03o' $((97 + i % 26)))")$name
        i=$((i / 26 - 1))
        ((i >= 0)) || break
    done
    echo "sd$name"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
script=$work/script
rows=()   # "IMAGE DEVICE APPLIANCE_DEVICE"
{
    index=0
    for img in "$@"; do
        [[ -r $FIX/$img ]] || { echo "$0: $FIX/$img not found" >&2; exit 1; }
        echo "add-drive-opts $FIX/$img readonly:true format:raw"
        disk=$(disk_name "$index")
        while read -r m_img m_dev _; do
            [[ $m_img == "$img" ]] || continue
            # /dev/sdaN in the manifest is the image's own disk.
            rows+=("$img $m_dev /dev/$disk${m_dev#/dev/sda}")
        done <"$FIX/manifest.txt"
        index=$((index + 1))
    done
    echo "run"
    echo "echo @@kernel"
    echo "debug sh 'uname -r'"
    for row in "${rows[@]}"; do
        read -r img dev adev <<<"$row"
        echo "echo @@row $img $dev"
        # "-": carry on after an error. "mounts" shows whether the mount
        # took, so that statvfs of the appliance's own root is never read.
        echo "-mount-ro $adev /"
        echo "echo @@mounts"
        echo "mounts"
        echo "echo @@statvfs"
        echo "-statvfs /"
        echo "-umount-all"
    done
} >"$script"
[[ ${#rows[@]} -gt 0 ]] || { echo "$0: the manifest lists no filesystem in these images" >&2; exit 1; }

guestfish <"$script" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }

awk -v pair="$pair" -v rows="${#rows[@]}" '
function flush() {
    if (img == "") return
    if (pair) print img, dev, "unmountable"
    if (mounted && ("ffree" in f))
        print "#tools", img, dev, f["bsize"], f["frsize"], f["blocks"], f["bfree"], f["bavail"], f["files"], f["ffree"]
    else
        print "#tools", img, dev, "unmountable"
    img = ""; delete f; done++
}
/^@@kernel$/ { section = "kernel"; next }
/^@@row / { flush(); img = $2; dev = $3; mounted = 0; section = "row"; next }
/^@@mounts$/ { section = "mounts"; next }
/^@@statvfs$/ { section = "statvfs"; next }
section == "kernel" { print "appliance kernel: " $0 > "/dev/stderr"; section = ""; next }
section == "mounts" && /^\/dev\// { mounted = 1; next }
section == "statvfs" && /^[a-z]+: / { sub(/:$/, "", $1); f[$1] = $2; next }
END { flush(); if (done != rows) { print "missing rows" > "/dev/stderr"; exit 1 } }
' "$work/out"
# Mount errors are expected for some fixtures; show them for the record.
grep -v '^libguestfs: warning' "$work/err" >&2 || true
