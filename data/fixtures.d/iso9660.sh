# ISO 9660 fixtures (sourced by make_fixtures.sh, which provides new_file,
# die, $TREE, $WORK, $OUT, $MiB and MANIFEST).
#
# xorriso's mkisofs emulation makes them from $TREE (its 4 MiB sparse file
# left out: an ISO stores holes as zeros). SOURCE_DATE_EPOCH pins every
# date and the volume's "UUID" (its creation time), so the images are
# byte-identical from run to run.
#
# This kernel has no isofs driver: data/expected/iso9660.txt holds the
# figures of the libguestfs appliance's kernel
# (data/record_appliance_statfs.sh).

command -v xorriso >/dev/null || die "required tool 'xorriso' not found"

# mkiso NAME [mkisofs args...]: an ISO image of $TREE.
mkiso() {
    local name=$1
    shift
    rm -f "$OUT/$name"
    SOURCE_DATE_EPOCH=1700000000 xorriso -as mkisofs -quiet -o "$OUT/$name" -m sparse.bin "$@" \
        "$TREE" >"$WORK/xorriso.log" 2>&1 || { cat "$WORK/xorriso.log" >&2; die "xorriso failed for $name"; }
}

# Plain ISO 9660 (8.3 names, no extensions).
mkiso iso-plain.iso -V PLAIN
MANIFEST+=("iso-plain.iso /dev/sda 0 $(stat -c %s "$OUT/iso-plain.iso") iso9660")
# Rock Ridge and Joliet, as Linux distribution media have them.
mkiso iso-rr-joliet.iso -V RR_JOLIET -R -J
MANIFEST+=("iso-rr-joliet.iso /dev/sda 0 $(stat -c %s "$OUT/iso-rr-joliet.iso") iso9660")
# Only one of the two: Linux then reads Joliet's tree, or Rock Ridge's.
mkiso iso-joliet.iso -V JOLIET -J
MANIFEST+=("iso-joliet.iso /dev/sda 0 $(stat -c %s "$OUT/iso-joliet.iso") iso9660")
mkiso iso-rr.iso -V ROCKRIDGE -R
MANIFEST+=("iso-rr.iso /dev/sda 0 $(stat -c %s "$OUT/iso-rr.iso") iso9660")
# Hybrid: an MBR whose partition 1 (at 32 KiB) holds a second, mountable
# set of volume descriptors, as isohybrid media for USB sticks have.
mkiso iso-hybrid.img -V HYBRID -R -J -partition_offset 16 --protective-msdos-label
iso_size=$(stat -c %s "$OUT/iso-hybrid.img")
MANIFEST+=("iso-hybrid.img /dev/sda1 32768 $((iso_size - 32768)) iso9660")
