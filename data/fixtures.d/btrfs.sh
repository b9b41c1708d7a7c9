# btrfs fixtures (sourced by make_fixtures.sh, which provides $OUT, $WORK,
# $TREE, $MiB, MANIFEST, new_file, fill, next_uuid, die).
#
# mkfs.btrfs (btrfs-progs 6.2) writes every image without mounting:
# --rootdir populates, -U pins the fsid (device uuids and times still vary
# from run to run, the figures do not).  Members of multi-device
# filesystems are made in files of their own and copied into the
# partitions of one GPT disk, so that each image holds a whole filesystem.
# Those get a random fsid: the kernel remembers the members of every
# multi-device btrfs it has seen, and a new image with an old fsid but new
# device uuids then fails to mount ("devinfo init for devid 1 failed: -17").
# Subvolumes cannot be made without mounting here (mkfs.btrfs 6.2 has no
# --subvol), and mkfs.btrfs --rootdir numbers inodes as the source tree's
# filesystem does (st_ino), so trees of many files come out in a different
# shape each time: those images were made once and are kept in data/ (see
# the recipes by unpack_image below).

for tool in mkfs.btrfs btrfstune xz; do
    command -v "$tool" >/dev/null || die "required tool '$tool' not found"
done

# mkbtrfs IMAGE [mkfs.btrfs args...]: a whole-disk btrfs.
mkbtrfs() {
    local img=$1
    shift
    next_uuid
    mkfs.btrfs -q -f -K -U "$UUID" "$@" "$img" >"$WORK/mkfs.log" 2>&1 ||
        { cat "$WORK/mkfs.log" >&2; die "mkfs.btrfs failed for $img"; }
}

# whole_btrfs NAME SIZE [mkfs.btrfs args...]
whole_btrfs() {
    local name=$1 size=$2
    shift 2
    new_file "$OUT/$name" "$size"
    mkbtrfs "$OUT/$name" "$@"
    # mkfs.btrfs --rootdir grows a file too small for the tree: keep the
    # manifest honest.
    [[ $(stat -c %s "$OUT/$name") == "$size" ]] || die "$name: mkfs.btrfs changed its size"
    MANIFEST+=("$name /dev/sda 0 $size btrfs")
}

# gpt_btrfs NAME "mkfs args" SIZE_MiB...: a GPT disk whose partitions (1 MiB
# aligned, in order) are the members of one btrfs, each listed as a row
# with the other members as device= options.
gpt_btrfs() {
    local name=$1 args=$2 img=$OUT/$1 start=2048 total=2 i j extra
    shift 2
    local sizes=("$@") offs=() files=() table
    table=$'label: gpt\nlabel-id: 5644460A-0000-4000-A000-00000000B7F5\nunit: sectors\n'
    for i in "${!sizes[@]}"; do
        offs+=($((start * 512)))
        files+=("$WORK/member$i")
        new_file "$WORK/member$i" $((sizes[i] * MiB))
        table+="start=$start, size=$((sizes[i] * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4"$'\n'
        start=$((start + sizes[i] * 2048))
        total=$((total + sizes[i]))
    done
    new_file "$img" $((total * MiB))
    sfdisk -q "$img" <<<"$table" >/dev/null || die "sfdisk failed for $name"
    # shellcheck disable=SC2086  # $args is a list of options
    mkfs.btrfs -q -f -K $args "${files[@]}" >"$WORK/mkfs.log" 2>&1 ||
        { cat "$WORK/mkfs.log" >&2; die "mkfs.btrfs failed for $name"; }
    for i in "${!sizes[@]}"; do
        dd if="${files[i]}" of="$img" bs=1M seek="${offs[i]}" oflag=seek_bytes \
            conv=notrunc,sparse status=none
        rm -f "${files[i]}"
    done
    for i in "${!sizes[@]}"; do
        extra=""
        for j in "${!sizes[@]}"; do
            [[ $j == "$i" ]] && continue
            extra+=${extra:+,}device=@$name:${offs[j]}:$((sizes[j] * MiB))
        done
        MANIFEST+=("$name /dev/sda$((i + 1)) ${offs[i]} $((sizes[i] * MiB)) btrfs${extra:+ $extra}")
    done
}

# unpack_image NAME: a committed image, decompressed sparse.
unpack_image() {
    xz -dc "$HERE/$1.xz" | dd of="$OUT/$1" bs=64K iflag=fullblock conv=sparse status=none
}

# Large files to copy in: several data chunks, nearly full.
BTRFS_BIG=$WORK/btrfs-big
mkdir -p "$BTRFS_BIG"
for i in 1 2 3; do fill "$BTRFS_BIG/big$i" $((55 * MiB)); done

# ---------------------------------------------------------------------------
# Whole-disk filesystems: profiles, node and sector sizes, features.
# ---------------------------------------------------------------------------
whole_btrfs btrfs-default.img     $((512 * MiB))   # data single, metadata DUP, FST
whole_btrfs btrfs-msingle.img     $((512 * MiB)) -m single
whole_btrfs btrfs-dup.img         $((512 * MiB)) -d dup -m dup
whole_btrfs btrfs-mixed.img       $((256 * MiB)) -M
whole_btrfs btrfs-node64k.img     $((512 * MiB)) -n 65536
whole_btrfs btrfs-nofst.img       $((512 * MiB)) -R ^free-space-tree
whole_btrfs btrfs-quota.img       $((512 * MiB)) -R quota
whole_btrfs btrfs-xxhash.img      $((512 * MiB)) --csum xxhash
whole_btrfs btrfs-populated.img   $((512 * MiB)) -r "$TREE"
whole_btrfs btrfs-full.img        $((320 * MiB)) -r "$BTRFS_BIG"
whole_btrfs btrfs-mixed-full.img  $((256 * MiB)) -M -r "$BTRFS_BIG"
# 64 KiB sectors: mkfs makes it, x86 kernels refuse to mount it.
whole_btrfs btrfs-sector64k.img   $((512 * MiB)) -s 65536
# 2 TiB, sparse: 1 GiB metadata chunks, 64-bit sizes.
whole_btrfs btrfs-huge.img        $((2 * 1024 * 1024 * MiB))
# The metadata_uuid feature: tree blocks carry another fsid than the superblock.
whole_btrfs btrfs-metauuid.img    $((512 * MiB))
btrfstune -f -M 5644460a-0000-4000-8000-00000000b7f5 "$OUT/btrfs-metauuid.img" >/dev/null 2>&1 ||
    die "btrfstune -M failed"

# ---------------------------------------------------------------------------
# GPT disks: one btrfs in a partition, and multi-device filesystems whose
# members are partitions of the same disk (one row per member, as
# libguestfs lists them).  Unequal sizes exercise the allocator simulation.
# (mkfs.btrfs --rootdir takes one device only, so these stay empty.)
# ---------------------------------------------------------------------------
gpt_btrfs btrfs-gpt.img    "-r $TREE"                 300
gpt_btrfs btrfs-raid1.img  "-d raid1 -m raid1"        256 384
gpt_btrfs btrfs-raid0.img  "-d raid0 -m raid0"        256 256
gpt_btrfs btrfs-raid10.img "-d raid10 -m raid10"      256 256 256 320
gpt_btrfs btrfs-raid1c3.img "-d raid1c3 -m raid1c3"   256 256 320
gpt_btrfs btrfs-raid5.img  "-d raid5 -m raid5"        256 256 256
gpt_btrfs btrfs-raid6.img  "-d raid6 -m raid6"        256 256 256 256
gpt_btrfs btrfs-single2.img "-d single -m raid1"     256 384

# Two disks of one raid1 (not in the manifest: the unit tests scan each
# image alone, and these need each other; test/cli uses them).
new_file "$OUT/btrfs-2disk-a.img" $((256 * MiB))
new_file "$OUT/btrfs-2disk-b.img" $((256 * MiB))
mkfs.btrfs -q -f -K -d raid1 -m raid1 \
    "$OUT/btrfs-2disk-a.img" "$OUT/btrfs-2disk-b.img" >"$WORK/mkfs.log" 2>&1 ||
    { cat "$WORK/mkfs.log" >&2; die "mkfs.btrfs failed for btrfs-2disk"; }

# ---------------------------------------------------------------------------
# Subvolumes, made once with a mount (as root, Linux 6.18):
#   truncate -s 256M btrfs-subvol.img
#   mkfs.btrfs -q -K -U 5644460a-0000-4000-8000-0000b7f50001 btrfs-subvol.img
#   mount -o loop btrfs-subvol.img /mnt && cd /mnt
#   btrfs subvolume create home                # 256
#   mkdir -p dir/deeper
#   btrfs subvolume create dir/deeper/nested   # 257, below a directory
#   btrfs subvolume create home/inner          # 258, inside a subvolume
#   mkdir -p home/docs && btrfs subvolume create home/docs/x  # 259, both
#   btrfs subvolume create gone && btrfs subvolume delete -c gone  # 260, deleted
#   mkdir snaps && btrfs subvolume snapshot home snaps/home-snap  # 261
#   cp -a SOME_SOURCE_TREE home/ && yes subvol data | head -c 3000000 >home/big.txt
#   cd / && umount /mnt && xz -9 btrfs-subvol.img
# and one whose default subvolume is not the top level (libguestfs then
# lists paths relative to it, which a subvol= mount cannot find):
#   mkfs.btrfs -q -K -U 5644460a-0000-4000-8000-0000b7f50002 btrfs-subvol-default.img
#   mount ...; btrfs subvolume create @; btrfs subvolume create @/home
#   btrfs subvolume create var; btrfs subvolume set-default /mnt/@
#   cp -a SOME_SOURCE_TREE /mnt/@/; umount; xz -9
# ---------------------------------------------------------------------------
# Many files: trees with internal nodes (4 KiB nodes: two levels), made by
#   mkdir -p m/a m/b; fill m.src 4500000; (cd m/a && split -b 1500 -a 4 ../../m.src f)
#   fill m.src 3600000; (cd m/b && split -b 9000 -a 3 ../../m.src g)
#   truncate -s 256M btrfs-many.img btrfs-node4k.img
#   mkfs.btrfs -q -K -U 5644460a-0000-4000-8000-0000b7f50003 -r m btrfs-many.img
#   mkfs.btrfs -q -K -U 5644460a-0000-4000-8000-0000b7f50004 -s 4096 -n 4096 -r m btrfs-node4k.img
for name in btrfs-many.img btrfs-node4k.img; do
    unpack_image $name
    MANIFEST+=("$name /dev/sda 0 $((256 * MiB)) btrfs")
done
unpack_image btrfs-subvol.img
for dev in /dev/sda btrfsvol:/dev/sda/home btrfsvol:/dev/sda/dir/deeper/nested \
    btrfsvol:/dev/sda/home/inner btrfsvol:/dev/sda/home/docs/x btrfsvol:/dev/sda/snaps/home-snap; do
    MANIFEST+=("btrfs-subvol.img $dev 0 $((256 * MiB)) btrfs")
done
unpack_image btrfs-subvol-default.img
for dev in /dev/sda btrfsvol:/dev/sda/var; do
    MANIFEST+=("btrfs-subvol-default.img $dev 0 $((256 * MiB)) btrfs")
done
