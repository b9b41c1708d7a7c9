#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make_dm_fixtures.sh OUTDIR
#
# Makes the device-mapper and MD RAID fixtures kept (xz-compressed) in data/:
#
#   dm.img           MBR, p1 = LVM PV of VG "vgdm" (1 MiB extents):
#                    a thin pool (64 KiB chunks) holding thin1 (ext4) and its
#                    thin snapshot thin1snap (taken before thin1 changed);
#                    a linear LV "origin" (ext4) and an old-style snapshot
#                    "osnap" of it (4 KiB chunks), taken before files were
#                    written into and deleted from the origin.
#   md-raid1.img     GPT, RAID1 pairs: p1+p2 metadata 1.2, p3+p4 0.90,
#                    p5+p6 1.0; ext4 on each.
#   md-levels.img    GPT: RAID0 1.2 (p1+p2, 64 KiB chunks), linear 1.1
#                    (p3+p4), RAID5 1.2 (p5+p6+p7); ext4 on each.
#   md-degraded.img  GPT, RAID1 1.2 arrays: p1+p2 with p2 failed and removed
#                    before more files were written (a stale member), p3
#                    alone (created with "missing"), p4+p5 complete.
#
# This machine has neither device-mapper nor MD, so everything is made in
# the libguestfs appliance (Debian 12, Linux 6.1, lvm2 2.03, mdadm 4.2), in
# one launch: the disks are /dev/sda (dm.img) .. /dev/sdd (md-degraded.img).
# The arrays are made with --homehost=guest, as on another machine, so that
# the appliance names them as it would a guest's (/dev/md127 downwards).
#
# OUTDIR/dm-fixtures.log receives everything the appliance printed: the
# lvs/pvs/vgs reports the byte offsets in data/dm-fixtures.txt come from,
# mdadm --examine of every member, and "STATVFS IMAGE DEVICE ..." lines
# (stat -f of each read-only mount: f_bsize f_frsize f_blocks f_bfree
# f_bavail f_files f_ffree) from which data/expected/dm.txt and md.txt were
# written.  Slow (a few minutes under TCG).  Then:
#   for f in dm md-raid1 md-levels md-degraded; do xz -9 -c OUTDIR/$f.img > data/$f.img.xz; done
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
MiB=$((1024 * 1024))

for f in dm:160 md-raid1:128 md-levels:128 md-degraded:100; do
    rm -f "$OUT/${f%%:*}.img"
    truncate -s $((${f#*:} * MiB)) "$OUT/${f%%:*}.img"
done

# The script run inside the appliance (bash, as root). Each image is
# prepared by a function; "stat_ro IMAGE DEVICE NAME" records the figures
# of a read-only mount of NAME as the row DEVICE of IMAGE.
read -r -d '' inner <<'INNER' || true
set -euo pipefail
exec 2>&1
export LC_ALL=C
mnt=/tmp/mnt
mkdir -p $mnt

fill() { (yes "$1" || true) | head -c "$2" > "$3"; }

stat_ro() {
    mount -o ro "$3" $mnt
    echo "STATVFS $1 $2 $(stat -f -c '%s %S %b %f %a %c %d' $mnt)"
    umount $mnt
}

# mkext DEVICE: ext4 with a few files of compressible text.
mkext() {
    mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1 "$1"
    mount "$1" $mnt
    mkdir $mnt/dir
    fill "first file of $1" 3000000 $mnt/a.txt
    fill "second file of $1" 200000 $mnt/dir/b.txt
    for i in $(seq 1 40); do echo "$i" > $mnt/dir/f$i; done
    umount $mnt
}

# more DEVICE: changes the files after a snapshot.
more() {
    mount "$1" $mnt
    fill "written after the snapshot" 5000000 $mnt/c.txt
    rm -f $mnt/dir/b.txt $mnt/dir/f1*
    umount $mnt
}

dm_image() {
    echo 'label: dos
start=2048, type=8e' | sfdisk -q /dev/sda
    pvcreate -q /dev/sda1
    vgcreate -q -s 1M vgdm /dev/sda1
    lvcreate -q --type thin-pool -L 48M --chunksize 64k --poolmetadatasize 2M -Zn -n pool vgdm
    lvcreate -q -V 64M --thinpool vgdm/pool -n thin1
    mkext /dev/vgdm/thin1
    # Some 300 chunks of 64 KiB, so that thin1's mapping tree has a root
    # above its leaves.
    mount /dev/vgdm/thin1 $mnt
    fill "a big file in thin1" 16000000 $mnt/big.txt
    umount $mnt
    lvcreate -q -s -n thin1snap vgdm/thin1
    lvchange -q -ay -K vgdm/thin1snap
    more /dev/vgdm/thin1
    lvcreate -q -L 24M -n origin vgdm
    mkext /dev/vgdm/origin
    lvcreate -q -s -L 8M -n osnap vgdm/origin
    more /dev/vgdm/origin
    sync
    stat_ro dm.img /dev/vgdm/thin1 /dev/vgdm/thin1
    stat_ro dm.img /dev/vgdm/thin1snap /dev/vgdm/thin1snap
    stat_ro dm.img /dev/vgdm/origin /dev/vgdm/origin
    stat_ro dm.img /dev/vgdm/osnap /dev/vgdm/osnap
    echo "--- lvs"
    lvs -a --units b --nosuffix -o lv_name,segtype,devices,seg_pe_ranges,seg_start_pe,chunk_size,thin_id,lv_size,transaction_id vgdm
    echo "--- pvs"
    pvs --units b --nosuffix -o pv_name,pe_start,pv_size
    echo "--- vgs"
    vgs --units b --nosuffix -o vg_name,vg_extent_size
    echo "--- dmsetup table"
    dmsetup table
    echo "--- dmsetup status"
    dmsetup status
    # Deactivation commits the pool's metadata and closes the snapshot.
    vgchange -q -an vgdm
}

# gpt DISK N SIZE_MIB: N partitions of Linux RAID type.
gpt() {
    local disk=$1 n=$2 size=$(( $3 * 2048 )) i start=2048
    {
        echo 'label: gpt'
        for i in $(seq 1 "$n"); do
            echo "start=$start, size=$size, type=A19D880F-05FC-4D3B-A006-743F0F84911E"
            start=$((start + size))
        done
    } | sfdisk -q "$disk"
}

create() {  # create MD METADATA LEVEL MEMBERS...
    local md=$1 meta=$2 level=$3
    shift 3
    mdadm --create "$md" --run --assume-clean --homehost=guest --metadata="$meta" \
        --level="$level" --raid-devices=$# "$@"
}

examine() {
    local d
    for d in "$@"; do echo "--- mdadm --examine $d"; mdadm --examine "$d" || true; done
}

md_raid1_image() {
    gpt /dev/sdb 6 20
    create /dev/md0 1.2 1 /dev/sdb1 /dev/sdb2
    create /dev/md1 0.90 1 /dev/sdb3 /dev/sdb4
    create /dev/md2 1.0 1 /dev/sdb5 /dev/sdb6
    for md in md0 md1 md2; do mkext /dev/$md; stat_ro md-raid1.img /dev/$md /dev/$md; done
    mdadm --stop /dev/md0 /dev/md1 /dev/md2
    examine /dev/sdb1 /dev/sdb3 /dev/sdb5
}

md_levels_image() {
    gpt /dev/sdc 7 16
    mdadm --create /dev/md3 --run --homehost=guest --metadata=1.2 --level=0 --chunk=64 \
        --raid-devices=2 /dev/sdc1 /dev/sdc2
    create /dev/md4 1.1 linear /dev/sdc3 /dev/sdc4
    create /dev/md5 1.2 5 /dev/sdc5 /dev/sdc6 /dev/sdc7
    for md in md3 md4 md5; do mkext /dev/$md; stat_ro md-levels.img /dev/$md /dev/$md; done
    mdadm --stop /dev/md3 /dev/md4 /dev/md5
    examine /dev/sdc1 /dev/sdc2 /dev/sdc3 /dev/sdc4 /dev/sdc5
}

md_degraded_image() {
    gpt /dev/sdd 5 16
    create /dev/md10 1.2 1 /dev/sdd1 /dev/sdd2
    mkext /dev/md10
    mdadm /dev/md10 --fail /dev/sdd2
    mdadm /dev/md10 --remove /dev/sdd2
    more /dev/md10
    mdadm --create /dev/md11 --run --homehost=guest --metadata=1.2 --level=1 \
        --raid-devices=2 /dev/sdd3 missing
    create /dev/md12 1.2 1 /dev/sdd4 /dev/sdd5
    for md in md10 md11 md12; do
        [[ $md == md10 ]] || mkext /dev/$md
        stat_ro md-degraded.img /dev/$md /dev/$md
    done
    mdadm --stop /dev/md10 /dev/md11 /dev/md12
    examine /dev/sdd1 /dev/sdd2 /dev/sdd3 /dev/sdd4
}

echo "--- versions"
uname -r; lvm version; mdadm --version; mke2fs -V
dm_image
md_raid1_image
md_levels_image
md_degraded_image
sync
echo "--- done"
INNER

encoded=$(printf '%s\n' "$inner" | base64 -w0)
guestfish --rw -a "$OUT/dm.img" -a "$OUT/md-raid1.img" -a "$OUT/md-levels.img" \
    -a "$OUT/md-degraded.img" <<EOF >"$OUT/dm-fixtures.log" 2>&1
run
debug sh "echo $encoded | base64 -d > /tmp/make.sh && bash /tmp/make.sh"
EOF
grep -q '^--- done' "$OUT/dm-fixtures.log" || {
    cat "$OUT/dm-fixtures.log" >&2
    echo "$0: the appliance script failed" >&2
    exit 1
}
grep '^STATVFS' "$OUT/dm-fixtures.log"
