# xfs fixtures (sourced by make_fixtures.sh, which provides new_file,
# sparse_copy, poke, die, $TREE, $WORK, $OUT, $MiB and MANIFEST).
#
# Every image is made by mkfs.xfs without mounting: -p PROTOFILE copies
# $TREE in, -m uuid= pins the UUID, so block and inode counts, and the AG
# headers, are the same from run to run. mkfs.xfs preallocates its log
# (unwritten extents, which still cost disk space), so each image is built
# in $WORK and copied out with cp --sparse=always, which leaves the
# never-written log as a hole.
#
# Four images need a mount to make (files created and deleted, a crash), so
# they were made once as root and are committed xz-compressed next to this
# directory; XFS_REGENERATE=1 rebuilds them (see xfs_regenerate below):
#   data/xfs-frag*.img.xz  fragmented free space, 1 KiB blocks: without
#                          inobtcount (bnobt, cntbt and finobt past one
#                          leaf), without any per-AG reservation, with rmapbt
#                          (xz: the images are 320 MiB, almost all zeros)
#   data/xfs-dirty.img.xz  a log that needs recovery (not in the manifest:
#                          the kernel replays it, virt-df warns instead)

command -v mkfs.xfs >/dev/null || die "required tool 'mkfs.xfs' (xfsprogs) not found"

XFS_DATA=$HERE
XFS_PROTO=$WORK/xfs.proto

# xfs_proto_dir DIR INDENT: protofile lines for the entries of DIR.
# (Hard links become separate files: protofiles cannot express them.)
xfs_proto_dir() {
    local dir=$1 indent=$2 entry name
    while IFS= read -r entry; do
        name=${entry##*/}
        if [[ -L $entry ]]; then
            echo "$indent$name l--777 0 0 $(readlink "$entry")"
        elif [[ -d $entry ]]; then
            echo "$indent$name d--755 0 0"
            xfs_proto_dir "$entry" "$indent "
            echo "$indent\$"
        else
            echo "$indent$name ---644 0 0 $entry"
        fi
    done < <(find "$dir" -mindepth 1 -maxdepth 1 | LC_ALL=C sort)
}

{
    echo "/dev/null"  # boot image: unused
    echo "0 0"        # block and inode counts: unused
    echo "d--755 0 0"
    xfs_proto_dir "$TREE" " "
    echo "\$"
} >"$XFS_PROTO"

# UUIDs of their own (not next_uuid's shared counter), so that an XFS
# image does not change when fixtures are added to other formats.
xfs_uuid_counter=0
xfs_next_uuid() {
    xfs_uuid_counter=$((xfs_uuid_counter + 1))
    printf -v UUID '5644460a-0000-4000-8f5f-%012x' "$xfs_uuid_counter"
}

# mkxfs FILE SIZE [mkfs.xfs args...]: a populated XFS filling FILE.
mkxfs() {
    local file=$1 size=$2 tmp=$WORK/xfs.tmp
    shift 2
    xfs_next_uuid
    new_file "$tmp" "$size"
    mkfs.xfs -q -f -K -m uuid="$UUID" -p "$XFS_PROTO" "$@" "$tmp" >"$WORK/mkfs.xfs.log" 2>&1 ||
        { cat "$WORK/mkfs.xfs.log" >&2; die "mkfs.xfs failed for ${file##*/} ($*)"; }
    sparse_copy "$tmp" "$file"
    rm -f "$tmp"
}

# xwhole NAME SIZE [mkfs.xfs args...]: an XFS on a bare disk, in the manifest.
xwhole() {
    local name=$1 size=$2
    shift 2
    mkxfs "$OUT/$name" "$size" "$@"
    MANIFEST+=("$name /dev/sda 0 $size xfs")
}

GiB=$((1024 * MiB))

# mkfs.xfs refuses data sections under 300 MB; 512 MiB gives its default
# geometry for small disks: 4 AGs of 32768 4 KiB blocks, log in AG 2.
# Defaults (xfsprogs 6.1): v5, finobt, reflink, inobtcount, bigtime,
# sparse inodes, no rmapbt.
xwhole xfs-default.img      $((512 * MiB))
xwhole xfs-1k.img           $((512 * MiB))  -b size=1024
xwhole xfs-4k-sect4k.img    $((512 * MiB))  -b size=4096 -s size=4096
# Blocks larger than a page: Linux mounts them since 6.12.
xwhole xfs-64k.img          $((1 * GiB))    -b size=65536
xwhole xfs-noreflink.img    $((512 * MiB))  -m reflink=0
xwhole xfs-rmapbt.img       $((1 * GiB))    -m rmapbt=1
# Neither finobt nor reflink nor rmapbt: no per-AG reservation, so the
# kernel never reads the AGFs of a clean mount.
xwhole xfs-nofinobt.img     $((512 * MiB))  -m finobt=0,inobtcount=0,reflink=0,bigtime=0
xwhole xfs-noinobtcount.img $((512 * MiB))  -m inobtcount=0
xwhole xfs-maxpct1.img      $((512 * MiB))  -i maxpct=1
xwhole xfs-agcount2.img     $((512 * MiB))  -d agcount=2
# 7 AGs of a size that is no power of two, the last one short, so that
# sb_logstart (agno << agblklog | agbno) is not a linear block number.
xwhole xfs-agcount7.img     $((1000 * MiB)) -d agcount=7
# mkfs.xfs wants a 64 MiB log inside one AG, hence AGs of 96 MiB.
xwhole xfs-manyags.img      $((6 * GiB))    -d agcount=64
xwhole xfs-stripe.img       $((1 * GiB))    -d su=64k,sw=4
# 1 TiB: 4 AGs of 256 GiB, a 512 MiB log; only metadata is written.
xwhole xfs-huge.img         $((1024 * GiB))

# External log: the filesystem image and the log device image.
new_file "$WORK/xfs.log.tmp" $((80 * MiB))
mkxfs "$OUT/xfs-extlog.img" $((512 * MiB)) -l logdev="$WORK/xfs.log.tmp",size=64m
sparse_copy "$WORK/xfs.log.tmp" "$OUT/xfs-extlog.log"
rm -f "$WORK/xfs.log.tmp"
MANIFEST+=("xfs-extlog.img /dev/sda 0 $((512 * MiB)) xfs logdev=@xfs-extlog.log")

# A realtime device: the data figures do not change. (Linux 6.18 here is
# built without CONFIG_XFS_RT: "unmountable"; xfs_test.cpp checks it.)
new_file "$WORK/xfs.rt.tmp" $((256 * MiB))
mkxfs "$OUT/xfs-rtdev.img" $((512 * MiB)) -r rtdev="$WORK/xfs.rt.tmp"
sparse_copy "$WORK/xfs.rt.tmp" "$OUT/xfs-rtdev.rt"
rm -f "$WORK/xfs.rt.tmp"
MANIFEST+=("xfs-rtdev.img /dev/sda 0 $((512 * MiB)) xfs rtdev=@xfs-rtdev.rt")

# v4 (no CRCs), with 4 KiB and with 512-byte blocks (v5 needs >= 1 KiB).
# Linux 6.18 is built without V4 support, so the kernel records say
# "unmountable"; xfs_test.cpp checks them against xfs_db's fields.
xwhole xfs-v4.img           $((512 * MiB))  -m crc=0
xwhole xfs-v4-512.img       $((512 * MiB))  -m crc=0 -b size=512

# XFS in partition 2 of a GPT disk (partition 1 left blank).
img=$OUT/gpt-xfs.img
new_file "$img" $((1 * GiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-0000000000f5 \
    -n 1:2048:206847  -t 1:8300 -c 1:blank -u 1:5644460a-0000-4000-a000-0000000000f1 \
    -n 2:206848:1845247 -t 2:8300 -c 2:xfs -u 2:5644460a-0000-4000-a000-0000000000f2 \
    "$img" >/dev/null
mkxfs "$WORK/xfs-part.img" $(((1845247 - 206848 + 1) * 512))
dd if="$WORK/xfs-part.img" of="$img" bs=65536 seek=$((206848 * 512)) oflag=seek_bytes \
    conv=notrunc,sparse status=none
rm -f "$WORK/xfs-part.img"
found=$(blkid -p -o value -s TYPE -O $((206848 * 512)) "$img" || true)
[[ $found == xfs ]] || die "gpt-xfs.img: blkid sees '$found' in p2, expected 'xfs'"
MANIFEST+=("gpt-xfs.img /dev/sda2 $((206848 * 512)) $(((1845247 - 206848 + 1) * 512)) xfs")

# xfs_frag NAME UUID_SUFFIX FILES [mkfs.xfs args...]: FILES one-block files
# in the root directory (AG 0), then every other one of the first 700 and
# every 50th deleted, unmounted cleanly: AG 0's free space is in pieces.
xfs_frag() {
    local name=$1 uuid=5644460a-0000-4000-8000-$2 files=$3 mnt=$WORK/xfs-mnt
    local img=$WORK/$name.img i
    shift 3
    new_file "$img" $((320 * MiB))
    mkfs.xfs -q -f -K -m uuid="$uuid" -b size=1024 "$@" "$img"
    mkdir -p "$mnt"
    mount -o loop "$img" "$mnt"
    for i in $(seq 1 "$files"); do printf 'fragment %s\n' "$i" >"$mnt/f$i"; done
    sync
    for i in $(seq 1 "$files"); do
        if (( (i <= 700 && i % 2 == 0) || i % 50 == 0 )); then rm -f "$mnt/f$i"; fi
    done
    umount "$mnt"
    sparse_copy "$img" "$img.sparse"
    xz -9e -c "$img.sparse" >"$XFS_DATA/$name.img.xz"
    rm -f "$img" "$img.sparse"
}

# xfs_regenerate: remakes the committed images data/xfs-*.img.xz.
# Needs root and loop devices; run as XFS_REGENERATE=1 make_fixtures.sh DIR.
xfs_regenerate() {
    # 5000 files and no inobtcount: AG 0's free-space btrees outgrow one
    # leaf (121 records with 1 KiB blocks), and so does its finobt (60
    # records), which a read-write mount then walks.
    xfs_frag xfs-frag 0000000f7a60 5000 -m inobtcount=0
    # No finobt, reflink or rmapbt: no per-AG reservation, so the kernel
    # never reads the AGFs and holds back none of their btree blocks.
    xfs_frag xfs-frag-nores 0000000f7a61 400 -m finobt=0,inobtcount=0,reflink=0
    # rmapbt: agf_btreeblks counts rmapbt blocks too, which statfs does not
    # hold back (they are the rmapbt reservation's).
    xfs_frag xfs-frag-rmapbt 0000000f7a62 400 -m rmapbt=1

    # A log that needs recovery: files written, the log forced to disk,
    # then the filesystem shut down before the metadata was written back.
    local mnt=$WORK/xfs-mnt img=$WORK/xfs-dirty.img i
    new_file "$img" $((320 * MiB))
    mkfs.xfs -q -f -K -m uuid=5644460a-0000-4000-8000-0000000d1e70 "$img"
    mount -o loop "$img" "$mnt"
    for i in $(seq -w 1 500); do printf 'dirty %s\n' "$i" >"$mnt/d$i"; done
    xfs_io -x -c 'shutdown -f' "$mnt"
    umount "$mnt"
    sparse_copy "$img" "$img.sparse"
    xz -9e -c "$img.sparse" >"$XFS_DATA/xfs-dirty.img.xz"
    rm -rf "$mnt" "$img" "$img.sparse"
}
if [[ ${XFS_REGENERATE:-0} == 1 ]]; then xfs_regenerate; fi

# The committed images (see the header).
for xfs_name in xfs-frag xfs-frag-nores xfs-frag-rmapbt xfs-dirty; do
    xz -dc "$XFS_DATA/$xfs_name.img.xz" | cp --sparse=always /dev/stdin "$OUT/$xfs_name.img"
    chmod 644 "$OUT/$xfs_name.img"
    if [[ $xfs_name != xfs-dirty ]]; then
        MANIFEST+=("$xfs_name.img /dev/sda 0 $(stat -c %s "$OUT/$xfs_name.img") xfs")
    fi
done
unset xfs_name

# Damaged copies for tests, not in the manifest. Offsets are those of
# xfs-agcount2.img: 4 KiB blocks, 512-byte sectors, AG 1 at block 65536.
xfs_ag1=$((65536 * 4096))
# AG 1's AGF magic "XAGF" -> "XAGX" (with its CRC now wrong too).
sparse_copy "$OUT/xfs-agcount2.img" "$OUT/xfs-bad-agf.img"
poke "$OUT/xfs-bad-agf.img" $((xfs_ag1 + 512 + 3)) 58
# AG 1's AGI with one byte past its last field changed: the CRC (over the
# whole sector) no longer matches.
sparse_copy "$OUT/xfs-agcount2.img" "$OUT/xfs-bad-agi-crc.img"
poke "$OUT/xfs-bad-agi-crc.img" $((xfs_ag1 + 1024 + 400)) 77
unset xfs_ag1 found img

