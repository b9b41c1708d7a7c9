# FAT12/16/32 and exFAT fixtures (sourced by make_fixtures.sh, which
# provides new_file, die, $TREE, $WORK, $OUT, $MiB and MANIFEST).
#
# No mount: mkfs.fat (dosfstools) makes the filesystems, deterministic with
# -i VOLID --invariant, and mcopy (mtools) copies files in, at an offset
# for a partition (IMAGE@@OFFSET). mkfs.exfat (exfatprogs) has no way to
# add files without a mount, so the exFAT images are fresh; tune.exfat -I
# pins their volume serial.
#
# This kernel has no vfat and no exfat driver, so data/expected/fat.txt
# and exfat.txt hold figures computed from fsck.fat -n -v and dump.exfat
# (see their headers), not a mount's.

for tool in mkfs.fat mcopy mmd mkfs.exfat tune.exfat; do
    command -v "$tool" >/dev/null || die "required tool '$tool' (dosfstools, mtools, exfatprogs) not found"
done
export MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0

# fat_populate IMAGE OFFSET FULL: copies $TREE (FULL=1) or its small files
# into the FAT filesystem at OFFSET bytes. Symlinks are skipped (FAT has
# none); the hard link becomes a second copy.
fat_populate() {
    local img=$1 off=$2 full=$3
    if [[ $full == 1 ]]; then
        mcopy -Q -s -m -i "$img@@$off" "$TREE"/empty "$TREE"/small.txt "$TREE"/medium.bin \
            "$TREE"/large.bin "$TREE"/sparse.bin "$TREE"/sub "$TREE"/many ::/
    else
        mcopy -Q -m -i "$img@@$off" "$TREE"/small.txt "$TREE"/sub/nested.txt ::/
    fi
}

# mkfat NAME SIZE FULL [mkfs.fat args...]: a FAT filesystem on a bare disk.
fat_volid=0
mkfat() {
    local name=$1 size=$2 full=$3
    shift 3
    fat_volid=$((fat_volid + 1))
    new_file "$OUT/$name" "$size"
    mkfs.fat -i "$(printf '5644%04x' "$fat_volid")" --invariant "$@" "$OUT/$name" >/dev/null
    fat_populate "$OUT/$name" 0 "$full"
    MANIFEST+=("$name /dev/sda 0 $size vfat")
}

mkfat fat12-floppy.img 1474560 0 -F 12 -f 2 -r 224 -s 1 -M 0xF0
mkfat fat12-hd.img $((8 * MiB)) 1 -F 12
mkfat fat16.img $((64 * MiB)) 1 -F 16
mkfat fat16-s64.img $((200 * MiB)) 1 -F 16 -s 64
mkfat fat16-4k-sectors.img $((64 * MiB)) 1 -F 16 -S 4096
mkfat fat32.img $((128 * MiB)) 1 -F 32
mkfat fat32-s1.img $((80 * MiB)) 1 -F 32 -s 1
mkfat fat32-4k-sectors.img $((512 * MiB)) 1 -F 32 -S 4096 -s 1
mkfat fat32-one-fat.img $((100 * MiB)) 1 -F 32 -f 1 -s 2
# 40 GiB, sparse: mkfs.fat writes only the FATs (5 MiB each).
mkfat fat32-huge.img $((40 * 1024 * MiB)) 1 -F 32

# An EFI System Partition (FAT32) in a GPT disk, beside an ext4 partition.
img=$OUT/gpt-esp.img
new_file "$img" $((192 * MiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-00000000fa70 \
    -n 1:2048:264191 -t 1:EF00 -c 1:EFI -u 1:5644460a-0000-4000-a000-00000000fa71 \
    -n 2:264192:0    -t 2:8300 -c 2:root -u 2:5644460a-0000-4000-a000-00000000fa72 \
    "$img" >/dev/null
mkfs.fat -F 32 -i 5644fa71 --invariant --offset 2048 "$img" $((262144 / 2)) >/dev/null 2>&1
fat_populate "$img" $((2048 * 512)) 1
MANIFEST+=("gpt-esp.img /dev/sda1 $((2048 * 512)) $((262144 * 512)) vfat")

# mkexfat NAME SIZE SERIAL [mkfs.exfat args...]
mkexfat() {
    local name=$1 size=$2 serial=$3
    shift 3
    new_file "$OUT/$name" "$size"
    mkfs.exfat "$@" "$OUT/$name" >/dev/null
    tune.exfat -I "$serial" "$OUT/$name" >/dev/null
    MANIFEST+=("$name /dev/sda 0 $size exfat")
}

mkexfat exfat.img $((64 * MiB)) 0x5644e001
mkexfat exfat-c512.img $((32 * MiB)) 0x5644e002 -c 512
mkexfat exfat-c128k.img $((256 * MiB)) 0x5644e003 -c 128K
mkexfat exfat-pack.img $((64 * MiB)) 0x5644e004 --pack-bitmap
# 40 GiB, sparse.
mkexfat exfat-huge.img $((40 * 1024 * MiB)) 0x5644e005
