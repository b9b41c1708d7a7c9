# LVM2 fixtures (sourced by make_fixtures.sh, which provides $OUT, $HERE,
# MANIFEST and die).
#
# No device-mapper here, so the guests were made once in the libguestfs
# appliance by data/make_lvm_fixtures.sh and are kept in data/ as
# lvm-*.img.xz; data/expected/lvm.txt holds what the appliance's kernel
# and libguestfs virt-df reported for them. Unpacked sparse, as they are:
#   lvm-guest.img       MBR: ext4 /boot in p1, PV in p2 (vg_guest: root in two
#                       segments, swap, home)
#   lvm-span-a.img,     two whole-disk PVs of vgspan: striped LVs (64 KiB and
#   lvm-span-b.img      4 KiB stripes), a linear LV with a segment on each,
#                       LVs wholly on one disk
#   lvm-raid.img        GPT, five PVs of vgraid: raid4/5/6 layouts, raid10,
#                       raid1, mirror, raid0, a three-stripe LV
#   lvm-thin.img        vgthin: a thin pool with two thin LVs and a thin
#                       snapshot (activation-skipped), an old-style snapshot
#   lvm-wrap.img        vgwrap: two metadata copies, the text wrapping around
#                       the end of the first metadata area
#
# The manifest gets /boot only: the host kernel can mount it; LVs it cannot
# assemble (test/kernel_oracle_test.sh mounts manifest entries by offset).

command -v xz >/dev/null || die "required tool 'xz' not found"

for lvm_image in lvm-guest.img lvm-span-a.img lvm-span-b.img lvm-raid.img lvm-thin.img lvm-wrap.img; do
    [[ -r $HERE/$lvm_image.xz ]] || die "$HERE/$lvm_image.xz missing (made by data/make_lvm_fixtures.sh)"
    rm -f "$OUT/$lvm_image"
    xz -dc "$HERE/$lvm_image.xz" | dd of="$OUT/$lvm_image" bs=64K iflag=fullblock conv=sparse status=none
done
unset lvm_image

MANIFEST+=("lvm-guest.img /dev/sda1 $((2048 * 512)) $((32768 * 512)) ext4")
