# windows fixtures (sourced by make_fixtures.sh, which provides new_file,
# die, $TREE, $WORK, $OUT, $MiB and MANIFEST): a Windows guest's disk as
# Windows Setup lays it out on GPT, made with the real tools, no mount:
#   p1  100 MiB  EFI system partition, FAT32
#   p2   16 MiB  Microsoft reserved (MSR): never looked into, as virt-df
#   p3  160 MiB  the system volume, NTFS
#   p4  rest     Windows recovery environment, NTFS (listed, as virt-df does)

for tool in mkfs.fat mcopy mkntfs ntfscp; do
    command -v "$tool" >/dev/null || die "required tool '$tool' not found"
done

win_img=$OUT/windows-guest.img
win_total=$((512 * MiB / 512))
win_last=$((win_total - 34))
new_file "$win_img" $((512 * MiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-00000000000b \
    -n 1:2048:206847      -t 1:EF00 -c 1:"EFI system partition" -u 1:5644460a-0000-4000-a000-0000000000b1 \
    -n 2:206848:239615    -t 2:0C01 -c 2:"Microsoft reserved partition" -u 2:5644460a-0000-4000-a000-0000000000b2 \
    -n 3:239616:567295    -t 3:0700 -c 3:"Basic data partition" -u 3:5644460a-0000-4000-a000-0000000000b3 \
    -n 4:567296:$win_last -t 4:2700 -c 4:"Recovery" -u 4:5644460a-0000-4000-a000-0000000000b4 \
    "$win_img" >/dev/null

# The ESP: FAT32 in place (--offset is in sectors; the size in KiB), with
# 512-byte clusters, as Windows formats a 100 MiB ESP, and a boot loader's
# files. --invariant pins what mkfs.fat would take from the clock; -i after
# it the volume id.
mkfs.fat -F 32 -s 1 -n SYSTEM --invariant -i 5644460b --offset 2048 "$win_img" $((204800 / 2)) \
    >/dev/null 2>&1
win_esp="$win_img@@$((2048 * 512))"
for dir in ::/EFI ::/EFI/Microsoft ::/EFI/Boot; do MTOOLS_SKIP_CHECK=1 mmd -i "$win_esp" "$dir"; done
MTOOLS_SKIP_CHECK=1 mcopy -i "$win_esp" "$TREE/medium.bin" ::/EFI/Boot/bootx64.efi
MTOOLS_SKIP_CHECK=1 mcopy -i "$win_esp" "$TREE/small.txt" ::/EFI/Microsoft/BCD

# win_ntfs START_SECTOR SECTORS LABEL: an NTFS volume made beside the disk,
# populated with ntfscp, then copied into its partition.
win_ntfs() {
    local start=$1 sectors=$2 label=$3 vol=$WORK/win-ntfs.img
    rm -f "$vol"
    truncate -s $((sectors * 512)) "$vol"
    mkntfs -F -q -Q -s 512 -L "$label" -p "$start" -H 255 -S 63 "$vol" >/dev/null 2>&1
    ntfscp -q "$vol" "$TREE/large.bin" /pagefile.sys >/dev/null
    ntfscp -q "$vol" "$TREE/small.txt" /bootmgr >/dev/null
    dd if="$vol" of="$win_img" bs=512 seek="$start" conv=notrunc,sparse status=none
    rm -f "$vol"
}
win_ntfs 239616 $((567296 - 239616)) Windows
win_ntfs 567296 $((win_last - 567296 + 1)) Recovery

MANIFEST+=("windows-guest.img /dev/sda1 $((2048 * 512)) $((204800 * 512)) vfat")
MANIFEST+=("windows-guest.img /dev/sda3 $((239616 * 512)) $(((567296 - 239616) * 512)) ntfs")
MANIFEST+=("windows-guest.img /dev/sda4 $((567296 * 512)) $(((win_last - 567296 + 1) * 512)) ntfs")
