#!/bin/bash
# make_fixtures.sh OUTDIR
#
# Builds the raw disk images virt-df's tests read, plus OUTDIR/manifest.txt
# listing every filesystem virt-df is expected to report:
#
#   IMAGE DEVICE OFFSET_BYTES LENGTH_BYTES FSTYPE
#
# Design constraints:
#  * No root: filesystems are populated with `mke2fs -d` and placed inside
#    partitions with `mke2fs -E offset=`, never by mounting.
#  * Deterministic: with the same e2fsprogs version every run produces the
#    same block and inode counts.  That is why we pin our own mke2fs.conf,
#    a fake clock, fixed UUIDs/hash seeds/GUIDs and explicit partition
#    geometry instead of letting tools choose.
#  * Cheap: all images are sparse files; the 4 TiB one relies on lazy
#    inode-table/journal initialisation so almost nothing is written.
#
# The expected kernel figures for these images live in
# data/expected/*.txt and are produced by data/record_kernel_statfs.sh.

set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)

# Partitioning tools live in sbin, which a normal user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
export MKE2FS_CONFIG=$HERE/mke2fs.conf
export E2FSPROGS_FAKE_TIME=1700000000
umask 022

for tool in mke2fs debugfs sfdisk sgdisk fdisk mkswap blkid dd truncate; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: required tool '$tool' not found" >&2
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/virt-df-fixtures.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

MiB=$((1024 * 1024))
MANIFEST=()

die() { echo "$0: $*" >&2; exit 1; }

# Every filesystem / swap area gets its own UUID so that tests which key on
# UUIDs (and the kernel, when several are loop-mounted) never see duplicates.
# A counter keeps them stable from run to run.
uuid_counter=0
next_uuid() {
    uuid_counter=$((uuid_counter + 1))
    printf -v UUID '5644460a-0000-4000-8000-%012x' "$uuid_counter"
    printf -v HASH_SEED '5644460a-0000-4000-9000-%012x' "$uuid_counter"
}

# A fresh, fully sparse file.  Removing first matters: truncating an old
# image would keep its stale contents.
new_file() {
    rm -f "$1"
    truncate -s "$2" "$1"
}

# Writes N bytes of non-zero text.  Content must not be zeros because
# mke2fs -d turns all-zero blocks into holes and "Used" would stay tiny.
fill() {
    local file=$1 bytes=$2
    (yes "virt-df fixture data for ${file##*/}" || true) | head -c "$bytes" >"$file"
}

# The tree copied into every filesystem.  It mixes the cases that affect
# block accounting: empty file, partial last block, files big enough to
# need indirect/extent tree blocks, a file with a hole, fast and slow
# symlinks, a hard link and a directory with enough entries to span
# several blocks.
make_tree() {
    TREE=$WORK/tree
    mkdir -p "$TREE/sub/deeper" "$TREE/many"
    : >"$TREE/empty"
    fill "$TREE/small.txt" 5000
    fill "$TREE/medium.bin" 300000
    fill "$TREE/large.bin" 2000000
    fill "$TREE/sub/nested.txt" 12345
    fill "$TREE/sub/deeper/tiny" 1
    truncate -s $((4 * MiB)) "$TREE/sparse.bin"
    fill "$WORK/chunk" 4096
    dd if="$WORK/chunk" of="$TREE/sparse.bin" conv=notrunc status=none
    dd if="$WORK/chunk" of="$TREE/sparse.bin" bs=4096 seek=$((4 * MiB / 4096 - 1)) \
        conv=notrunc status=none
    ln -s small.txt "$TREE/link"
    # > 60 bytes, so it cannot be stored inline in the inode.
    ln -s sub/deeper/this/target/name/is/deliberately/longer/than/sixty/bytes/x \
        "$TREE/longlink"
    ln "$TREE/small.txt" "$TREE/sub/hardlink"
    local i
    for i in $(seq -w 1 100); do
        : >"$TREE/many/entry-with-a-fairly-long-name-$i"
    done
    find "$TREE" -exec touch -h -d @1700000000 {} +
    # mke2fs -d also copies each file's ctime, which cannot be set from
    # userspace, its atime, which reading the tree for the previous image
    # may have bumped, and the owner of whoever runs this script.  A debugfs
    # pass after mke2fs pins all of them, so images are byte-identical from
    # run to run and user to user (and not merely equal in counts).
    find "$TREE" -mindepth 1 -printf 'sif /%P ctime @1700000000\nsif /%P atime @1700000000\nsif /%P uid 0\nsif /%P gid 0\n' \
        >"$WORK/fix-inodes.cmds"
}

# mkext IMAGE DEVICE OFFSET LENGTH FSTYPE BLOCKSIZE [mke2fs args...]
# Creates a populated ext2/3/4 filesystem occupying LENGTH bytes at OFFSET
# inside IMAGE and records it in the manifest.
mkext() {
    local img=$1 dev=$2 off=$3 len=$4 type=$5 bs=$6
    shift 6
    next_uuid
    # The size argument is in KiB; mke2fs rounds it down to whole blocks,
    # so a partition that is not a multiple of the block size simply
    # leaves a little slack at its end (a case worth testing).
    # nodiscard: discarding a regular file punches holes, pointless here.
    mke2fs -F -q -t "$type" -b "$bs" -U "$UUID" -d "$TREE" \
        -E "offset=$off,hash_seed=$HASH_SEED,lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0" \
        "$@" "$img" "$((len / 1024))k" >"$WORK/mke2fs.log" 2>&1 ||
        { cat "$WORK/mke2fs.log" >&2; die "mke2fs failed for $img at offset $off"; }
    # "?offset=" is e2fsprogs' io-manager syntax for a filesystem inside a file.
    # debugfs exits 0 even when a command fails; any line that is not the
    # banner or an echoed command is an error message.
    if ! debugfs -w -f "$WORK/fix-inodes.cmds" "$img?offset=$off" >"$WORK/debugfs.log" 2>&1 ||
        grep -qv '^debugfs' "$WORK/debugfs.log"; then
        cat "$WORK/debugfs.log" >&2
        die "debugfs failed for $img at offset $off"
    fi
    # Cheap self-check that the geometry we record is where the fs landed.
    local found
    found=$(blkid -p -o value -s TYPE -O "$off" -S "$len" "$img" || true)
    [[ $found == "$type" ]] ||
        die "$img@$off: blkid sees '${found}', expected '$type'"
    MANIFEST+=("${img##*/} $dev $off $len $type")
}

# whole NAME SIZE FSTYPE BLOCKSIZE [mke2fs args...]: filesystem on a bare disk.
whole() {
    local name=$1 size=$2 type=$3 bs=$4
    shift 4
    new_file "$OUT/$name" "$size"
    mkext "$OUT/$name" /dev/sda 0 "$size" "$type" "$bs" "$@"
}

# mkswap cannot write at an offset, so build the area separately and splice
# it in; conv=sparse keeps the unused swap space as holes.
put_swap() {
    local img=$1 off=$2 len=$3 tmp=$WORK/swap.img
    next_uuid
    new_file "$tmp" "$len"
    chmod 600 "$tmp"
    mkswap -q -p 4096 -U "$UUID" -L fixture-swap "$tmp" >/dev/null
    dd if="$tmp" of="$img" bs=65536 seek="$off" oflag=seek_bytes \
        conv=notrunc,sparse status=none
    rm -f "$tmp"
}

# poke IMAGE OFFSET HEXBYTES: overwrite bytes in place (e.g. "28000000").
poke() {
    local img=$1 off=$2 hex=$3 esc=""
    while [[ -n $hex ]]; do
        esc+="\\x${hex:0:2}"
        hex=${hex:2}
    done
    # shellcheck disable=SC2059  # the escapes are the point
    printf "$esc" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
}

sparse_copy() { rm -f "$2"; cp --sparse=always "$1" "$2"; }

make_tree

# ---------------------------------------------------------------------------
# Whole-disk filesystems.
#
# Block sizes not dictated by the file name are chosen so each image has
# several block groups, otherwise features such as sparse_super2, meta_bg
# or flex_bg would make no difference to the layout.
# ---------------------------------------------------------------------------
whole ext2-1k.img              $((64 * MiB))  ext2 1024
whole ext3-2k.img              $((64 * MiB))  ext3 2048
whole ext4-4k.img              $((256 * MiB)) ext4 4096
whole ext4-1k.img              $((64 * MiB))  ext4 1024
# 64 KiB blocks exceed the 4 KiB page size; mke2fs needs -F to agree.
# 256 MiB rather than 64 so that it is large enough to get a journal
# (mke2fs wants at least 1024 journal blocks).
whole ext4-64k.img             $((256 * MiB)) ext4 65536
# 1 KiB blocks: 64 groups, 16 descriptors per block -> 4 meta groups.
whole ext4-64bit-metabg.img    $((512 * MiB)) ext4 1024 -O 64bit,meta_bg,^resize_inode
whole ext4-noflexbg.img        $((64 * MiB))  ext4 1024 -O ^flex_bg
whole ext4-bigalloc16k.img     $((256 * MiB)) ext4 4096 -O bigalloc -C 16384
whole ext4-bigalloc64k.img     $((256 * MiB)) ext4 4096 -O bigalloc -C 65536
whole ext4-nojournal.img       $((64 * MiB))  ext4 4096 -O ^has_journal
whole ext4-sparse-super2.img   $((64 * MiB))  ext4 1024 -O sparse_super2
# mke2fs refuses resize_inode without sparse_super, so drop both.
whole ext3-nosparse.img        $((64 * MiB))  ext3 1024 -O ^sparse_super,^resize_inode
# 4 TiB: exercises 64-bit block counts and 32768 groups.  Only the
# superblock/descriptor copies and a few bitmaps are really written.
whole ext4-huge.img            $((4 * 1024 * 1024 * MiB)) ext4 4096
whole ext4-reserved.img        $((64 * MiB))  ext4 4096 -m 10

# ---------------------------------------------------------------------------
# MBR with primary, swap, extended and logical partitions (512-byte sectors).
# Explicit sector numbers so the layout never depends on tool defaults.
# ---------------------------------------------------------------------------
img=$OUT/mbr-logical.img
new_file "$img" $((256 * MiB))
sfdisk -q "$img" >/dev/null <<'EOF'
label: dos
label-id: 0x5644460a
unit: sectors

p1 : start=2048,   size=131072, type=83
p2 : start=133120, size=32768,  type=82
p3 : start=165888, size=358400, type=5
p5 : start=167936, size=98304,  type=83
p6 : start=268288, size=98304,  type=83
p7 : start=368640, size=32768,  type=83
EOF
mkext "$img" /dev/sda1 $((2048 * 512))   $((131072 * 512)) ext4 4096
put_swap "$img"        $((133120 * 512)) $((32768 * 512))
mkext "$img" /dev/sda5 $((167936 * 512)) $((98304 * 512))  ext2 4096
mkext "$img" /dev/sda6 $((268288 * 512)) $((98304 * 512))  ext4 1024
# p7 is deliberately left blank, p4 unused.

# ---------------------------------------------------------------------------
# GPT, 512-byte sectors.  p5 runs to the last usable LBA, which makes its
# length an odd number of sectors (not a multiple of the fs block size).
# ---------------------------------------------------------------------------
img=$OUT/gpt-512.img
total=$((256 * MiB / 512))
last_usable=$((total - 34))   # backup header + 32 sectors of entries
new_file "$img" $((256 * MiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-000000000512 \
    -n 1:2048:67583       -t 1:EF00 -c 1:efi  -u 1:5644460a-0000-4000-a000-000000000001 \
    -n 2:67584:198655     -t 2:8300 -c 2:root -u 2:5644460a-0000-4000-a000-000000000002 \
    -n 3:198656:231423    -t 3:8200 -c 3:swap -u 3:5644460a-0000-4000-a000-000000000003 \
    -n 4:231424:362495    -t 4:8300 -c 4:old  -u 4:5644460a-0000-4000-a000-000000000004 \
    -n 5:362496:$last_usable -t 5:8300 -c 5:data -u 5:5644460a-0000-4000-a000-000000000005 \
    "$img" >/dev/null
mkext "$img" /dev/sda2 $((67584 * 512))  $((131072 * 512)) ext4 4096
put_swap "$img"        $((198656 * 512)) $((32768 * 512))
mkext "$img" /dev/sda4 $((231424 * 512)) $((131072 * 512)) ext3 1024
mkext "$img" /dev/sda5 $((362496 * 512)) $(((last_usable - 362496 + 1) * 512)) ext4 4096

# ---------------------------------------------------------------------------
# GPT with 4096-byte logical sectors.  sfdisk 2.38 has no --sector-size and
# sgdisk always assumes 512 for plain files, but fdisk -b works on a file
# without root or losetup.  Expert-mode commands pin the GUIDs.
# ---------------------------------------------------------------------------
img=$OUT/gpt-4k.img
new_file "$img" $((256 * MiB))
fdisk -b 4096 "$img" >"$WORK/fdisk.log" 2>&1 <<'EOF' || { cat "$WORK/fdisk.log" >&2; die "fdisk failed"; }
g
n
1
256
16639
n
2
16640
49407
x
i
5644460a-0000-4000-b000-000000004096
u
1
5644460a-0000-4000-b000-000000000001
u
2
5644460a-0000-4000-b000-000000000002
r
w
EOF
[[ $(dd if="$img" bs=4096 skip=1 count=1 status=none | head -c 8) == "EFI PART" ]] ||
    die "gpt-4k.img: no GPT header at 4096-byte LBA 1"
mkext "$img" /dev/sda1 $((256 * 4096))   $((16384 * 4096)) ext4 4096
mkext "$img" /dev/sda2 $((16640 * 4096)) $((32768 * 4096)) ext4 4096

# ---------------------------------------------------------------------------
# Damaged images.  Their manifest lines are added by hand below: only
# filesystems that are intact and completely inside the file are listed.
# ---------------------------------------------------------------------------

# Manifest lines of gpt-512.img, reused for the copies that keep its table.
gpt512_lines=()
for line in "${MANIFEST[@]}"; do
    if [[ $line == gpt-512.img\ * ]]; then gpt512_lines+=("$line"); fi
done

# Overwrite the disk GUID field (header offset 0x38): the signature stays
# "EFI PART" so a reader has to notice the bad CRC, not just a missing magic.
sparse_copy "$OUT/gpt-512.img" "$OUT/gpt-bad-primary.img"
poke "$OUT/gpt-bad-primary.img" $((512 + 0x38)) deadbeefdeadbeef
for line in "${gpt512_lines[@]}"; do
    MANIFEST+=("gpt-bad-primary.img ${line#* }")
done

# Same again for the backup header in the last sector: no valid GPT left,
# only the protective MBR.  Nothing is listed for this image.
sparse_copy "$OUT/gpt-bad-primary.img" "$OUT/gpt-bad-both.img"
poke "$OUT/gpt-bad-both.img" $((256 * MiB - 512 + 0x38)) deadbeefdeadbeef

# Cut in the middle of p4 (ext3): p2 stays whole, p4 and p5 are gone.
sparse_copy "$OUT/gpt-512.img" "$OUT/truncated.img"
truncate -s $(((231424 + 131072 / 2) * 512)) "$OUT/truncated.img"
for line in "${gpt512_lines[@]}"; do
    if [[ $line == *" /dev/sda2 "* ]]; then MANIFEST+=("truncated.img ${line#* }"); fi
done

# Superblock field corruption.  debugfs's set_super_value rewrites the
# metadata_csum checksum, so the bad field itself is what a reader meets.
# s_log_block_size = 40 (absurd block size).
sparse_copy "$OUT/ext4-4k.img" "$OUT/ext4-corrupt-sb.img"
debugfs -w -R "ssv log_block_size 40" "$OUT/ext4-corrupt-sb.img" >/dev/null 2>&1
# s_blocks_per_group = 0 (a reader dividing by it must not crash).
sparse_copy "$OUT/ext4-4k.img" "$OUT/ext4-corrupt-groups.img"
debugfs -w -R "ssv blocks_per_group 0" "$OUT/ext4-corrupt-groups.img" >/dev/null 2>&1
# A flipped byte with the checksum left stale: the kernel refuses the mount.
sparse_copy "$OUT/ext4-4k.img" "$OUT/ext4-bad-csum.img"
poke "$OUT/ext4-bad-csum.img" $((1024 + 0x78)) 58

# Fixtures of other filesystems: one file per format in fixtures.d/, run in
# this shell so they share its helpers and append to MANIFEST.
for part in "$HERE"/fixtures.d/*.sh; do
    # shellcheck source=/dev/null
    [[ -e $part ]] && source "$part"
done

printf '%s\n' "${MANIFEST[@]}" >"$OUT/manifest.txt"
echo "$0: wrote ${#MANIFEST[@]} manifest entries to $OUT/manifest.txt"
