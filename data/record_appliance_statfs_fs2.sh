#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# record_appliance_statfs_fs2.sh FIXTURE_DIR FSTYPE...
#
# Records the statvfs figures that the libguestfs appliance's kernel (Debian
# 12: Linux 6.1) reports for the fixtures of the given types (manifest.txt's
# FSTYPE column: hfsplus, ufs, vfat, exfat), for filesystems this machine's
# kernel cannot mount. One appliance launch for all of them: each image is
# added read-only as a drive, and each filesystem mounted read-only in turn,
# stat'ed and unmounted. Prints, for each, the lines data/expected/*.txt
# keep for such figures:
#
#   IMAGE DEVICE unmountable
#   #tools IMAGE DEVICE f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree
#
# How each is mounted:
#  * most types with mount-ro, as virt-df does (mount -o ro, type found by
#    blkid);
#  * ufs as libguestfs's inspection mounts it: ro,ufstype=ufs2, and if that
#    fails ro,ufstype=44bsd. A plain mount-ro would give the kernel's default
#    ufstype=old, which reads only a superblock at 8192 (UFS1); what it
#    gives is printed too, as a "# mount-ro:" comment.
# A filesystem that does not mount is printed as "# IMAGE DEVICE: no mount".
#
# Slow: the appliance runs under TCG here (no KVM), a few minutes in all.
# Needs guestfish (libguestfs-tools) and read access to the images.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 FIXTURE_DIR FSTYPE..." >&2
    exit 2
fi
dir=$(cd "$1" && pwd)
shift
types=" $* "
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
if [[ ! -e /dev/kvm ]]; then
    export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
fi

# The appliance names drives sda..sdz, sdaa.. in the order they are added.
drive_name() {
    local n=$1 name=""
    while true; do
        name=$(printf "\\x$(printf %x $((97 + n % 26)))")$name
        n=$((n / 26 - 1))
        ((n >= 0)) || break
    done
    echo "sd$name"
}

declare -A drive
images=()
lines=()
while read -r image device offset length fstype extra; do
    [[ -z $image || $image == \#* ]] && continue
    [[ $types == *" $fstype "* ]] || continue
    if [[ -z ${drive[$image]:-} ]]; then
        drive[$image]=$(drive_name ${#images[@]})
        images+=("$image")
    fi
    lines+=("$image $device $fstype")
done <"$dir/manifest.txt"
((${#lines[@]} > 0)) || { echo "$0: no fixtures of types:$types" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
script=$work/script.gf
for image in "${images[@]}"; do
    echo "add-drive-opts $dir/$image readonly:true format:raw" >>"$script"
done
echo run >>"$script"
echo "echo @@kernel" >>"$script"
echo "-debug sh 'uname -r'" >>"$script"
for line in "${lines[@]}"; do
    read -r image device fstype <<<"$line"
    # /dev/sdaN of the image alone is /dev/<its drive>N here.
    dev=/dev/${drive[$image]}${device#/dev/sda}
    if [[ $fstype == ufs ]]; then
        {
            echo "echo @@ $image $device mount-ro"
            echo "-mount-ro $dev /"
            echo "-statvfs /"
            echo "-umount-all"
            echo "echo @@ $image $device ufstype=ufs2"
            echo "-mount-options ro,ufstype=ufs2 $dev /"
            echo "-statvfs /"
            echo "-umount-all"
            echo "echo @@ $image $device ufstype=44bsd"
            echo "-mount-options ro,ufstype=44bsd $dev /"
            echo "-statvfs /"
            echo "-umount-all"
        } >>"$script"
    else
        {
            echo "echo @@ $image $device mount-ro"
            echo "-mount-ro $dev /"
            echo "-statvfs /"
            echo "-umount-all"
        } >>"$script"
    fi
done
echo "echo @@ end" >>"$script"

guestfish -f "$script" >"$work/out" 2>"$work/err" || true
grep -q '^@@ end' "$work/out" || { cat "$work/err" >&2; echo "$0: guestfish failed" >&2; exit 1; }

kernel=$(sed -n '/^@@kernel$/{n;p;q}' "$work/out")
echo "# Recorded by data/record_appliance_statfs_fs2.sh in the libguestfs appliance"
echo "# (kernel $kernel), $(date -u +%Y-%m-%d)."

# One record per "@@ IMAGE DEVICE HOW" marker: the statvfs fields that
# follow it, if the mount worked.
awk '
function flush() {
    if (key != "" && "bsize" in f)
        fig[key] = f["bsize"] " " f["frsize"] " " f["blocks"] " " f["bfree"] " " f["bavail"] \
            " " f["files"] " " f["ffree"]
    key = ""
    delete f
}
/^@@kernel$/ { getline; next }
/^@@ / {
    flush()
    if ($2 == "end") next
    id = $2 " " $3
    key = id " " $4
    if (!(id in seen)) { seen[id] = 1; ids[++n] = id }
    if ($4 != "mount-ro") ufs[id] = 1
    next
}
/^[a-z]+: / { name = $1; sub(":", "", name); f[name] = $2 }
END {
    flush()
    for (i = 1; i <= n; i++) {
        id = ids[i]
        chosen = fig[id " mount-ro"]
        if (ufs[id]) chosen = (id " ufstype=ufs2") in fig ? fig[id " ufstype=ufs2"] : fig[id " ufstype=44bsd"]
        print id " unmountable"
        print (chosen == "" ? "# " id ": no mount" : "#tools " id " " chosen)
        if (ufs[id]) print "# mount-ro: " ((id " mount-ro") in fig ? fig[id " mount-ro"] : "no mount")
    }
}' "$work/out"
