# HFS+ and HFSX fixtures (sourced by make_fixtures.sh, which provides
# new_file, die, $HERE, $OUT, $WORK, $MiB and MANIFEST).
#
# No Debian 12 package makes HFS+ (hfsprogs is gone), so the images are
# kept in data/, xz-compressed, and only unpacked here:
#
#   hfsplus-apple.img   made by Mac OS X's newfs_hfs (10 MiB, 4 KiB blocks,
#                       label "123456789ABCDE"): util-linux's blkid test
#                       image tests/ts/blkid/images-fs/hfsplus.img.xz
#                       (GPL-2.0-or-later; see data/README)
#   the others          written by data/make_hfsplus.py (see its header),
#                       with xz -9:
#     hfsplus-512.img      make_hfsplus.py OUT 16777216 512
#     hfsplus-8k.img       make_hfsplus.py OUT 33554432 8192 --node-size 8192
#     hfsx.img             make_hfsplus.py OUT 25165824 4096 --hfsx --node-size 8192
#     hfsplus-wrapped.img  make_hfsplus.py OUT 33554432 4096 --wrapper
#
# The kernel here has no hfsplus driver: data/expected/hfsplus.txt holds
# figures computed from hfsplus_statfs's formula (its header says how each
# was checked); data/record_appliance_statfs_fs2.sh can record the
# libguestfs appliance kernel's own instead.

command -v xz >/dev/null || die "required tool 'xz' not found"

for name in hfsplus-apple hfsplus-512 hfsplus-8k hfsx hfsplus-wrapped; do
    xz -dc "$HERE/$name.img.xz" |
        dd of="$OUT/$name.img" bs=64K iflag=fullblock conv=sparse status=none ||
        die "cannot unpack $name.img.xz"
    MANIFEST+=("$name.img /dev/sda 0 $(stat -c %s "$OUT/$name.img") hfsplus")
done

# An Apple HFS+ partition of a GPT disk: hfsplus-512.img's volume, which
# fills it exactly (Linux looks for the backup volume header 1 KiB before
# the end of the partition).
img=$OUT/hfsplus-gpt.img
new_file "$img" $((18 * MiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-00000000af50 \
    -n 1:2048:34815 -t 1:48465300-0000-11AA-AA11-00306543ECAC -c 1:mac \
    -u 1:5644460a-0000-4000-a000-00000000af51 "$img" >/dev/null
dd if="$OUT/hfsplus-512.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
MANIFEST+=("hfsplus-gpt.img /dev/sda1 $MiB $((16 * MiB)) hfsplus")
