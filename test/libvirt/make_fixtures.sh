#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The libvirt test driver's host and guests for the libvirt-* CLI cases and
# the unit tests, in FIXTURES/libvirt: the domain XML from this directory,
# and db's chain of images (db-top.qcow2 -> db-mid.qcow2 -> ../ext2-1k.img)
# with db-flat.img, the same disk flattened into a raw file. Needs the
# fixtures of data/make_fixtures.sh (ext2-1k.img) and qemu-img.
# Usage: make_fixtures.sh SOURCE_DIR FIXTURES
set -euo pipefail
src=$1
out=$2/libvirt
export E2FSPROGS_FAKE_TIME=1700000000   # debugfs timestamps: deterministic bytes

rm -rf "$out"
mkdir -p "$out"
cp "$src"/*.xml "$out"/
cd "$out"

# db-flat.img: ext2-1k.img with a 200 KiB file added, so that the figures
# tell whether the qcow2 layer in the middle was read.
cp --sparse=always ../ext2-1k.img db-flat.img
head -c $((200 * 1024)) /dev/zero | tr '\0' 'x' > payload
debugfs -w -R "write payload payload" db-flat.img >/dev/null 2>&1
rm payload
# db-mid.qcow2 holds only the clusters where db-flat.img differs from its
# backing file; db-top.qcow2 is an empty overlay on it.
qemu-img convert -q -f raw -O qcow2 -B ../ext2-1k.img -F raw db-flat.img db-mid.qcow2
qemu-img create -q -f qcow2 -b db-mid.qcow2 -F qcow2 db-top.qcow2
qemu-img compare -q -f qcow2 -F raw db-top.qcow2 db-flat.img
