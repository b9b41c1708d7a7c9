#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make_demo.sh OUT.img
# Builds the demo guest disk kept (xz-compressed) as data/demo.img.xz: a GPT
# disk like a small Linux guest's, made with the real tools and no root:
#   p1  16 MiB  ext2  (/boot)
#   p2   8 MiB  swap
#   p3  rest    ext4  (/), with a few files
# Regenerate with: bash data/make_demo.sh demo.img && xz -9 -c demo.img > data/demo.img.xz
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C E2FSPROGS_FAKE_TIME=1700000000
export MKE2FS_CONFIG=$(cd "$(dirname "$0")" && pwd)/mke2fs.conf

out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
MiB=$((1024 * 1024))

rm -f "$out"
truncate -s $((64 * MiB)) "$out"
sgdisk -o -n 1:2048:+16M -t 1:8300 -c 1:boot -n 2:0:+8M -t 2:8200 -c 2:swap \
    -n 3:0:0 -t 3:8300 -c 3:root "$out" >/dev/null
# Fixed GUIDs, so that the image is the same every time it is made.
sgdisk -U 5644460a-0000-4000-a000-000000000001 -u 1:5644460a-0000-4000-a000-000000000011 \
    -u 2:5644460a-0000-4000-a000-000000000012 -u 3:5644460a-0000-4000-a000-000000000013 \
    "$out" >/dev/null

part_offset() { sgdisk -i "$1" "$out" | awk '/First sector/ {print $3 * 512}'; }
part_length() { sgdisk -i "$1" "$out" | awk '/Partition size/ {print $3 * 512}'; }

mkdir -p "$work/boot" "$work/root/etc" "$work/root/var/log"
(yes "vmlinuz placeholder" || true) | head -c 3000000 > "$work/boot/vmlinuz"
echo "demo" > "$work/root/etc/hostname"
(yes "Nov 21 00:00:00 demo kernel: a log line" || true) | head -c 6000000 > "$work/root/var/log/messages"

mke2fs -F -q -t ext2 -b 1024 -U 5644460a-0000-4000-b000-000000000001 -d "$work/boot" \
    -E "offset=$(part_offset 1),root_owner=0:0" "$out" "$(( $(part_length 1) / 1024 ))k"
mkswap -q -U 5644460a-0000-4000-b000-000000000002 \
    --offset "$(part_offset 2)" "$out" "$(( $(part_length 2) / 1024 ))" 2>/dev/null ||
    { # older util-linux: build the swap area separately and copy it in
      truncate -s "$(part_length 2)" "$work/swap"; mkswap -q "$work/swap" >/dev/null
      dd if="$work/swap" of="$out" bs=512 seek=$(( $(part_offset 2) / 512 )) conv=notrunc,sparse status=none; }
mke2fs -F -q -t ext4 -b 4096 -U 5644460a-0000-4000-b000-000000000003 -d "$work/root" \
    -E "offset=$(part_offset 3),root_owner=0:0" "$out" "$(( $(part_length 3) / 1024 ))k"
