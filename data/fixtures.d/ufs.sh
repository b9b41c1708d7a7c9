# UFS1 and UFS2 (FreeBSD/NetBSD FFS) fixtures (sourced by make_fixtures.sh,
# which provides new_file, die, $TREE, $WORK, $OUT, $MiB and MANIFEST).
#
# makefs (Debian's package: the MirOS port of NetBSD makefs) builds each
# image from $TREE without mounting, in either byte order. Deterministic:
# an mtree spec pins every owner and time (-T alone leaves atime and ctime
# as they are in the tree), and setarch -R turns off address randomisation,
# because makefs writes a few in-core pointer fields of the superblock
# (fs_ocsp, fs_csp...) to disk as they are.
#
# This makefs writes UFS2 superblocks at byte 8192, where UFS1 keeps them,
# while FreeBSD's newfs and Linux's ufs driver (ufstype=ufs2) use 65536 for
# UFS2, and Linux does not mount these images as they are. mkufs2 therefore
# moves the superblock to 65536 (setting fs_sblockloc to match) and clears
# the one at 8192. Byte 65536 lies in cylinder group 0's inode table: the
# geometries below are chosen so that the inodes it covers are unused (the
# script checks it), and those hold nothing but a generation number.
#
# The kernel here has no ufs driver: data/expected/ufs.txt holds figures
# computed from ufs_statfs's formula (its header says how each was
# checked); data/record_appliance_statfs_fs2.sh can record the libguestfs
# appliance kernel's own instead.

for tool in makefs od dd sgdisk; do
    command -v "$tool" >/dev/null || die "required tool '$tool' (makefs, coreutils, gdisk) not found"
done

# ufs_spec DIR: an mtree spec of DIR's entries, every node owned by
# root and dated 1700000000, in the nested form ("..", back up a level).
ufs_spec() {
    local dir=$1 entry name
    for entry in "$dir"/*; do
        [[ -e $entry || -L $entry ]] || continue
        name=${entry##*/}
        if [[ -L $entry ]]; then
            echo "$name type=link mode=0777 link=$(readlink "$entry")"
        elif [[ -d $entry ]]; then
            echo "$name type=dir mode=0755"
            ufs_spec "$entry"
            echo ".."
        else
            echo "$name type=file mode=0644"
        fi
    done
}
{
    echo "/set uid=0 gid=0 time=1700000000.0"
    echo ". type=dir mode=0755"
    ufs_spec "$TREE"
} >"$WORK/ufs.spec"

# ufs_makefs IMAGE SIZE ENDIAN OPTIONS: makefs, without address
# randomisation where setarch can turn it off.
ufs_makefs() {
    local img=$1 size=$2 endian=$3 opts=$4
    rm -f "$img"
    local run=()
    if setarch "$(uname -m)" -R true 2>/dev/null; then run=(setarch "$(uname -m)" -R); fi
    "${run[@]}" makefs -t ffs -F "$WORK/ufs.spec" -o "$opts" -B "$endian" -s "$size" \
        -T 1700000000 "$img" "$TREE" >"$WORK/makefs.log" 2>&1 ||
        { cat "$WORK/makefs.log" >&2; die "makefs failed for $img"; }
}

# ufs_u32 IMAGE OFFSET ENDIAN: an unsigned 32-bit field.
ufs_u32() {
    local e=little
    [[ $3 == be ]] && e=big
    od -An -t u4 --endian="$e" -j "$2" -N 4 "$1" | tr -d ' '
}

# mkufs2 IMAGE SIZE ENDIAN OPTIONS: a UFS2 image with its superblock at
# 65536 (see above).
mkufs2() {
    local img=$1 size=$2 endian=$3 opts=$4 sb=8192 to=65536
    ufs_makefs "$img" "$size" "$endian" "version=2,$opts"
    [[ $(ufs_u32 "$img" $((sb + 1372)) "$endian") == $((0x19540119)) ]] ||
        die "$img: no UFS2 superblock at $sb"
    local fsize sbsize iblkno ipg
    fsize=$(ufs_u32 "$img" $((sb + 52)) "$endian")
    sbsize=$(ufs_u32 "$img" $((sb + 104)) "$endian")
    iblkno=$(ufs_u32 "$img" $((sb + 16)) "$endian")
    ipg=$(ufs_u32 "$img" $((sb + 184)) "$endian")
    local first=$(((to - iblkno * fsize) / 256)) count=$(((sbsize + 255) / 256)) i mode
    ((to >= iblkno * fsize && first + count <= ipg)) ||
        die "$img: byte $to is not in cylinder group 0's inode table"
    for ((i = first; i < first + count; i++)); do
        mode=$(od -An -t x2 -j $((iblkno * fsize + i * 256)) -N 2 "$img" | tr -d ' ')
        [[ $mode == 0000 ]] || die "$img: inode $i, under byte $to, is in use"
    done
    dd if="$img" of="$img" bs=1 skip=$sb seek=$to count="$sbsize" conv=notrunc status=none
    # fs_sblockloc (offset 1000, 64-bit) = 65536, in the image's byte order.
    if [[ $endian == be ]]; then
        printf '\0\0\0\0\0\x01\0\0' | dd of="$img" bs=1 seek=$((to + 1000)) conv=notrunc status=none
    else
        printf '\0\0\x01\0\0\0\0\0' | dd of="$img" bs=1 seek=$((to + 1000)) conv=notrunc status=none
    fi
    dd if=/dev/zero of="$img" bs=1 seek=$sb count="$sbsize" conv=notrunc status=none
    ufs2_clear_free_gens "$img" "$endian" "$to"
}

# ufs2_clear_free_gens IMAGE ENDIAN SB: makefs gives the unused inodes it
# initialises a generation number from a clock-seeded random(); zero those
# (di_gen, offset 80 of a 256-byte inode) so that images are the same
# from run to run. Cylinder group G starts at fragment G * fs_fpg; its
# header is at fs_cblkno, its inode table at fs_iblkno, and cg_initediblk
# (offset 120 of the header) counts the inodes initialised.
ufs2_clear_free_gens() {
    local img=$1 endian=$2 sb=$3 fsize fpg ncg cblkno iblkno g base inited table i
    fsize=$(ufs_u32 "$img" $((sb + 52)) "$endian")
    fpg=$(ufs_u32 "$img" $((sb + 188)) "$endian")
    ncg=$(ufs_u32 "$img" $((sb + 44)) "$endian")
    cblkno=$(ufs_u32 "$img" $((sb + 12)) "$endian")
    iblkno=$(ufs_u32 "$img" $((sb + 16)) "$endian")
    for ((g = 0; g < ncg; g++)); do
        base=$((g * fpg))
        inited=$(ufs_u32 "$img" $(((base + cblkno) * fsize + 120)) "$endian")
        table=$(((base + iblkno) * fsize))
        i=0
        while read -r -a bytes; do
            if [[ ${bytes[0]}${bytes[1]} == 0000 && ${bytes[80]}${bytes[81]}${bytes[82]}${bytes[83]} != 00000000 ]]; then
                dd if=/dev/zero of="$img" bs=1 seek=$((table + i * 256 + 80)) count=4 \
                    conv=notrunc status=none
            fi
            i=$((i + 1))
        done < <(od -An -v -t x1 -w256 -j "$table" -N $((inited * 256)) "$img")
    done
}

# Whole-disk images (64 MiB; 48 MiB for the 512-byte-fragment one).
ufs_makefs "$OUT/ufs1-le.img" $((64 * MiB)) le version=1
MANIFEST+=("ufs1-le.img /dev/sda 0 $((64 * MiB)) ufs")
ufs_makefs "$OUT/ufs1-be.img" $((64 * MiB)) be version=1
MANIFEST+=("ufs1-be.img /dev/sda 0 $((64 * MiB)) ufs")
# density=8192: an inode table long enough to reach byte 65536.
mkufs2 "$OUT/ufs2-le.img" $((64 * MiB)) le density=8192
MANIFEST+=("ufs2-le.img /dev/sda 0 $((64 * MiB)) ufs")
mkufs2 "$OUT/ufs2-be.img" $((48 * MiB)) be density=8192,bsize=4096,fsize=512,minfree=0
MANIFEST+=("ufs2-be.img /dev/sda 0 $((48 * MiB)) ufs")

# A FreeBSD-UFS partition of a GPT disk: UFS1, 32 KiB blocks of 4 KiB
# fragments, 8% kept for root.
img=$OUT/ufs-gpt.img
new_file "$img" $((66 * MiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-0000000075f5 \
    -n 1:2048:133119 -t 1:516E7CB6-6ECF-11D6-8FF8-00022D09712B -c 1:root \
    -u 1:5644460a-0000-4000-a000-0000000075f1 "$img" >/dev/null
ufs_makefs "$WORK/ufs-part.img" $((64 * MiB)) le version=1,bsize=32768,fsize=4096,minfree=8
dd if="$WORK/ufs-part.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$WORK/ufs-part.img"
MANIFEST+=("ufs-gpt.img /dev/sda1 $MiB $((64 * MiB)) ufs")
