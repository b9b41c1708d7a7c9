#!/bin/bash
# make_lvm_fixtures.sh: builds the LVM2 guest images kept in data/ as
# lvm-*.img.xz, and records what the Linux kernel and libguestfs virt-df
# report for them in data/expected/lvm.txt.
#
# This machine has no device-mapper, so the guests are made, and their
# figures recorded, in the libguestfs appliance (its Debian 6.1 kernel and
# LVM 2.03.16): one appliance builds every volume group with a shell script
# (data/make_lvm_fixtures.sh writes it below) and records, for each listed
# LV, statvfs of a read-only mount (guestfish mount-ro + statvfs, as
# libguestfs virt-df does) and the SHA-1 of the whole LV as device-mapper
# presents it; then libguestfs virt-df itself runs on every guest, so that
# the row names and their order are recorded too.
#
# Not run at build time (it takes 10-20 minutes under TCG). Run it by hand
# after changing the recipes, then commit the new images and lvm.txt:
#   bash data/make_lvm_fixtures.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
export LC_ALL=C
MiB=$((1024 * 1024))

for tool in guestfish virt-df xz tar; do
    command -v "$tool" >/dev/null || { echo "$0: required tool '$tool' not found" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/virt-df-lvm.XXXXXX")
# Kept when something fails, for its logs.
trap 'if [[ $? -eq 0 ]]; then rm -rf "$WORK"; else echo "$0: failed; see $WORK" >&2; fi' EXIT

# The guests' disks, in the order they are attached after a scratch disk
# for the tools. The appliance's kernel may name them in another order
# than libguestfs does (its API translates), so the build script finds
# each by its size, and the sizes differ.
DISKS=(lvm-guest.img lvm-span-a.img lvm-span-b.img lvm-raid.img lvm-thin.img lvm-wrap.img)
SIZES=(96 48 52 336 160 16)

# Files copied into every filesystem: text that compresses well, a file
# with holes, a directory of many entries.
tree=$WORK/tree
mkdir -p "$tree/etc" "$tree/var/log" "$tree/many"
(yes "virt-df lvm fixture" || true) | head -c 300000 >"$tree/var/log/messages"
(yes "configuration line" || true) | head -c 5000 >"$tree/etc/config"
truncate -s $((2 * MiB)) "$tree/sparse.bin"
for i in $(seq -w 1 60); do : >"$tree/many/entry-$i"; done
(yes "added after the snapshot" || true) | head -c 700000 >"$WORK/later.bin"
tar -C "$WORK" -cf "$WORK/tools.tar" tree later.bin

for i in "${!DISKS[@]}"; do
    rm -f "$WORK/${DISKS[i]}"
    truncate -s $((SIZES[i] * MiB)) "$WORK/${DISKS[i]}"
done
truncate -s $((64 * MiB)) "$WORK/scratch.img"

# The script the appliance runs (POSIX sh: the appliance has no bash
# guarantees). LVM's own defaults are kept except where noted.
cat >"$WORK/build.sh" <<'EOF'
set -eux
uname -rv
T=/sysroot/tree
M=/tmp/m
mkdir -p $M
# disk SECTORS: the kernel's name for the disk of that size.
disk() {
    for b in /sys/block/sd*; do
        if [ "$(cat $b/size)" = "$1" ]; then echo /dev/${b##*/}; return; fi
    done
    echo "no disk of $1 sectors" >&2
    exit 1
}
GUEST=$(disk 196608)
SPAN_A=$(disk 98304)
SPAN_B=$(disk 106496)
RAID=$(disk 688128)
THIN=$(disk 327680)
WRAP=$(disk 32768)
# fill DEVICE: a new ext4 with the tree in it.
fill() {
    mkfs.ext4 -q -F "$1"
    mount "$1" $M
    cp -a $T/. $M/
    umount $M
}
synced() {
    # Until no raid or mirror LV of the VG is still synchronising.
    while lvm lvs --noheadings -o sync_percent "$1" | grep -E '[0-9]' | grep -qv '100.00'; do
        sleep 2
    done
}

# --- A typical guest: MBR, ext4 /boot, an LVM PV with root, swap, home.
sfdisk -q $GUEST <<TABLE
label: dos
label-id: 0x5644470a
unit: sectors
start=2048, size=32768, type=83
start=34816, type=8e
TABLE
mkfs.ext4 -q -F -L boot ${GUEST}1
mount ${GUEST}1 $M; cp -a $T/etc $M/; umount $M
lvm pvcreate -q ${GUEST}2
lvm vgcreate -q vg_guest ${GUEST}2
lvm lvcreate -q -n root -L 40m vg_guest
lvm lvcreate -q -n swap -L 8m vg_guest
lvm lvcreate -q -n home -L 12m vg_guest
# root gets a second segment after swap and home.
lvm lvextend -q -L +8m vg_guest/root
mkswap /dev/vg_guest/swap >/dev/null
fill /dev/vg_guest/root
fill /dev/vg_guest/home

# --- Two whole disks, one VG: striped LVs across both, a linear LV with a
# segment on each disk, and LVs lying wholly on one disk (the cases of a
# missing disk). 1 MiB extents.
lvm pvcreate -q $SPAN_A $SPAN_B
lvm vgcreate -q -s 1m vgspan $SPAN_A $SPAN_B
lvm lvcreate -q -n striped -i2 -I64k -L 24m vgspan
lvm lvcreate -q -n striped4k -i2 -I4k -L 8m vgspan
lvm lvcreate -q -n onlya -L 8m vgspan $SPAN_A
lvm lvcreate -q -n span -L 6m vgspan $SPAN_A
lvm lvextend -q -L +6m vgspan/span $SPAN_B
lvm lvcreate -q -n onlyb -L 8m vgspan $SPAN_B
for lv in striped striped4k onlya span onlyb; do fill /dev/vgspan/$lv; done

# --- RAID and mirror layouts over five GPT partitions of one disk.
sfdisk -q $RAID <<TABLE
label: gpt
unit: sectors
start=2048, size=131072, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
start=133120, size=131072, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
start=264192, size=131072, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
start=395264, size=131072, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
start=526336, size=131072, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
TABLE
lvm pvcreate -q ${RAID}1 ${RAID}2 ${RAID}3 ${RAID}4 ${RAID}5
lvm vgcreate -q -s 1m vgraid ${RAID}1 ${RAID}2 ${RAID}3 ${RAID}4 ${RAID}5
for t in raid4 raid5 raid5_la raid5_ra raid5_rs raid5_n; do
    lvm lvcreate -q -y --type $t -i2 -L 8m -n $t vgraid
done
for t in raid6 raid6_nr raid6_nc; do
    lvm lvcreate -q -y --type $t -i3 -L 9m -n $t vgraid
done
lvm lvcreate -q -y --type raid10 -i2 -m1 -L 8m -n raid10 vgraid
lvm lvcreate -q -y --type raid1 -m1 -L 8m -n raid1 vgraid
lvm lvcreate -q -y --type mirror -m1 --mirrorlog core -L 8m -n mirror vgraid
lvm lvcreate -q -y --type raid0 -i2 -L 8m -n raid0 vgraid
lvm lvcreate -q -y -i3 -I16k -L 9m -n striped3 vgraid
synced vgraid
for lv in raid4 raid5 raid5_la raid5_ra raid5_rs raid5_n raid6 raid6_nr raid6_nc \
          raid10 raid1 mirror raid0 striped3; do
    fill /dev/vgraid/$lv
done
synced vgraid

# --- Thin provisioning and an old-style snapshot. thin1snap (a thin
# snapshot) gets LVM's activation-skip flag, so libguestfs lists it not.
lvm pvcreate -q $THIN
lvm vgcreate -q -s 1m vgthin $THIN
lvm lvcreate -q -y --type thin-pool -L 32m -n pool vgthin
lvm lvcreate -q -V 64m -T vgthin/pool -n thin1
lvm lvcreate -q -V 48m -T vgthin/pool -n thin2
fill /dev/vgthin/thin1
fill /dev/vgthin/thin2
lvm lvcreate -q -s -n thin1snap vgthin/thin1
mount /dev/vgthin/thin1 $M; cp /sysroot/later.bin $M/; umount $M
lvm lvcreate -q -n origin -L 24m vgthin
fill /dev/vgthin/origin
lvm lvcreate -q -s -L 8m -n snap vgthin/origin
mount /dev/vgthin/origin $M; cp /sysroot/later.bin $M/; rm -r $M/many; umount $M

# --- A small metadata area whose text has wrapped around its end: two
# copies (start and end of the PV), changed until the newest text of the
# first copy runs past the end of its area. mda_header at 4096: start (24),
# size (32), raw_locns[0] offset (40) and size (48), little-endian.
lvm pvcreate -q --metadatasize 32k --dataalignment 64k --pvmetadatacopies 2 $WRAP
lvm vgcreate -q -s 1m vgwrap $WRAP
lvm lvcreate -q -n lv -L 8m vgwrap
fill /dev/vgwrap/lv
i=0
while :; do
    set -- $(dd if=$WRAP bs=8 skip=$(( (4096 + 32) / 8 )) count=3 2>/dev/null | od -An -tu8)
    if [ $(( $2 + $3 )) -gt $1 ]; then
        echo "vgwrap: metadata text at $2 + $3 wraps the $1-byte area after $i changes"
        break
    fi
    i=$((i + 1))
    [ $i -lt 500 ] || { echo "vgwrap: no wrap after $i changes" >&2; exit 1; }
    lvm lvchange -q --addtag "change$i" vgwrap/lv
done

sync
lvm lvs -a -o vg_name,lv_name,lv_attr,segtype,stripes,stripe_size,devices,lv_size --units s || true
EOF

# Which LVs are recorded (libguestfs lists them: public, not activation-skip).
RECORD=(
    "lvm-guest.img /dev/sdb1"
    "lvm-guest.img /dev/vg_guest/home"
    "lvm-guest.img /dev/vg_guest/root"
)
for lv in onlya onlyb span striped striped4k; do RECORD+=("lvm-span-a.img+lvm-span-b.img /dev/vgspan/$lv"); done
for lv in mirror raid0 raid1 raid10 raid4 raid5 raid5_la raid5_n raid5_ra raid5_rs raid6 raid6_nc raid6_nr striped3; do
    RECORD+=("lvm-raid.img /dev/vgraid/$lv")
done
for lv in origin snap thin1 thin2; do RECORD+=("lvm-thin.img /dev/vgthin/$lv"); done
RECORD+=("lvm-wrap.img /dev/vgwrap/lv")

args=()
for d in "${DISKS[@]}"; do args+=(-a "$WORK/$d"); done
echo "$0: building the guests in the appliance (slow under TCG)..." >&2
guestfish -a "$WORK/scratch.img" "${args[@]}" >"$WORK/build.out" <<GF
run
mkfs ext2 /dev/sda
mount /dev/sda /
tar-in $WORK/tools.tar /
upload $WORK/build.sh /build.sh
debug sh "sh /sysroot/build.sh >/sysroot/build.log 2>&1 || echo FAILED >>/sysroot/build.log"
download /build.log $WORK/build.log
GF
if grep -q FAILED "$WORK/build.log"; then
    tail -40 "$WORK/build.log" >&2
    echo "$0: the build script failed" >&2
    exit 1
fi

# A second appliance records the figures, from the disks as they were left.
{
    echo "run"
    echo "vg-activate-all true"
    echo "mount /dev/sda /"
    echo "mkdir-p /mnt"
    for rec in "${RECORD[@]}"; do
        read -r _ dev <<<"$rec"
        echo "echo RECORD $rec"
        echo "checksum-device sha1 $dev"
        echo "blockdev-getsize64 $dev"
        echo "mount-ro $dev /mnt"
        echo "statvfs /mnt"
        echo "umount /mnt"
    done
} >"$WORK/record.gf"
echo "$0: recording..." >&2
guestfish -a "$WORK/scratch.img" "${args[@]}" -f "$WORK/record.gf" >"$WORK/record.out"

# libguestfs virt-df on each guest, as a user would run it.
GUESTS=(
    "lvm-guest.img"
    "lvm-span-a.img lvm-span-b.img"
    "lvm-span-a.img"
    "lvm-span-b.img"
    "lvm-raid.img"
    "lvm-thin.img"
    "lvm-wrap.img"
)
: >"$WORK/virt-df.out"
for guest in "${GUESTS[@]}"; do
    args=()
    for d in $guest; do args+=(-a "$d"); done
    echo "$0: virt-df ${args[*]}" >&2
    # Appliances are sometimes killed from outside on a shared machine: retry.
    for try in 1 2 3; do
        (cd "$WORK" && virt-df --csv "${args[@]}" >"$WORK/one.csv" 2>"$WORK/one.err") && break
        echo "$0: virt-df ${args[*]} failed (try $try): $(tail -1 "$WORK/one.err")" >&2
        [[ $try != 3 ]] || exit 1
        sleep 30
    done
    sed "s|^|#virt-df ${guest// /+} |" "$WORK/one.csv" >>"$WORK/virt-df.out"
done

# data/expected/lvm.txt. Guests of one disk get ordinary records, which the
# shared fixture test checks; the others, and thin/snapshot LVs (read
# through dm_thin/dm_snapshot), "#disks" lines read by lvm_test.cpp only.
out=$HERE/expected/lvm.txt
{
    cat <<HEADER
# Figures for the LVM2 fixtures (data/lvm-*.img.xz), made and recorded by
# data/make_lvm_fixtures.sh in the libguestfs appliance: Linux $(sed -n 's/^\([0-9][^ ]*\) #.* \(Debian [^ ]*\) .*/\1, \2/p' "$WORK/build.log" | head -1)
# (Debian's 6.1 kernel), LVM 2.03.16, e2fsprogs 1.47.0. NOT recorded by record_kernel_statfs.sh:
# this machine has no device-mapper. statvfs of a read-only mount (guestfish mount-ro +
# statvfs, what libguestfs virt-df measures), $(date -u +%Y-%m-%d).
# Columns: IMAGE DEVICE f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree
# "#disks IMAGES DEVICE ..." : the same for guests of several disks (IMAGES joined by +,
#   attached in that order) and for thin and snapshot LVs; read by lvm_test.cpp only.
# "#sha1 IMAGES DEVICE BYTES SHA1": the whole LV as device-mapper presented it.
# "#virt-df IMAGES LINE": libguestfs virt-df 1.48 --csv on those disks, verbatim. Given
#   one disk of vgspan, it lists no LV at all; this tool lists the LVs lying wholly on
#   the disk given and warns about the others (lvm_test.cpp checks that instead).
HEADER
    python3 - "$WORK/record.out" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = 0
while i < len(lines):
    line = lines[i]
    if line.startswith("RECORD "):
        _, images, dev = line.split()
        sha1 = lines[i + 1].strip()
        size = lines[i + 2].strip()
        i += 3
        st = {}
        while i < len(lines) and ":" in lines[i]:
            k, v = lines[i].split(":", 1)
            st[k.strip()] = v.strip()
            i += 1
        figs = " ".join(st[k] for k in ("bsize", "frsize", "blocks", "bfree", "bavail", "files", "ffree"))
        multi = "+" in images or "/vgthin/" in dev
        prefix = "#disks " if multi else ""
        print(f"{prefix}{images} {dev} {figs}")
        print(f"#sha1 {images} {dev} {size} {sha1}")
        continue
    i += 1
PY
    cat "$WORK/virt-df.out"
    sed -n '/LV .*VG\|VG .*LV/,$p' "$WORK/build.log" | sed 's/^/#lvs /'
} >"$out"
# /dev/sdb1 is the appliance's name for the guest's /dev/sda1.
sed -i 's|lvm-guest.img /dev/sdb1|lvm-guest.img /dev/sda1|' "$out"

for d in "${DISKS[@]}"; do
    xz -9e -T1 -c "$WORK/$d" >"$HERE/$d.xz"
done
ls -l "$HERE"/lvm-*.img.xz >&2
echo "$0: wrote $out" >&2
