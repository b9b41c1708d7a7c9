# MD RAID, dm-thin, dm-snapshot and LUKS fixtures (sourced by make_fixtures.sh,
# which provides $HERE, $OUT, $WORK, $MiB, MANIFEST, new_file, mkext, die).
#
# MD arrays, thin pools and snapshots need the md and dm drivers, which
# this machine lacks: those images were made once in the libguestfs
# appliance by data/make_dm_fixtures.sh and are kept compressed in data/
# (dm.img, md-raid1.img, md-levels.img, md-degraded.img). Their figures
# (data/expected/dm.txt and md.txt) are that appliance kernel's; where the
# dm pieces lie in dm.img is in data/dm-layout.txt, copied beside them.
#
# LUKS containers are made here: cryptsetup formats a plain file without
# device-mapper. Fixed UUIDs; the salts and keys are random, which changes
# nothing virt-df reads (it reports the container, never its contents).

for tool in xz cryptsetup; do
    command -v "$tool" >/dev/null || die "required tool '$tool' (xz-utils, cryptsetup) not found"
done

md_unpack() {
    xz -dc "$HERE/$1.xz" | dd of="$OUT/$1" bs=64K iflag=fullblock conv=sparse status=none
}

for name in dm.img md-raid1.img md-levels.img md-degraded.img; do
    md_unpack "$name"
done
cp "$HERE/dm-layout.txt" "$OUT/dm-layout.txt"

# RAID1 arrays hold their filesystem in one piece on each member: the
# kernel oracle can loop-mount a member's data area. Partitions are 20 MiB
# (md-raid1) or 16 MiB (md-degraded) from sector 2048; the data offset is
# 2048 sectors for 1.2 and 0 for 0.90 and 1.0 (whose superblock is at the
# end); the array sizes come from mdadm --examine (Used Dev Size) in the
# appliance log. md-raid1.img: md127 is 1.2 (p1+p2), md126 0.90 (p3+p4),
# md125 1.0 (p5+p6).
MANIFEST+=("md-raid1.img /dev/md127 $((2 * MiB)) $((38912 * 512)) ext4")
MANIFEST+=("md-raid1.img /dev/md126 $((83968 * 512)) $((40832 * 512)) ext4")
MANIFEST+=("md-raid1.img /dev/md125 $((165888 * 512)) $((40832 * 512)) ext4")
# md-degraded.img: p1 with p2 stale (md127), p3 alone (md126), p4+p5
# complete (md125).
MANIFEST+=("md-degraded.img /dev/md127 $(((2048 + 2048) * 512)) $((30720 * 512)) ext4")
MANIFEST+=("md-degraded.img /dev/md126 $(((2048 + 2 * 32768 + 2048) * 512)) $((30720 * 512)) ext4")
MANIFEST+=("md-degraded.img /dev/md125 $(((2048 + 3 * 32768 + 2048) * 512)) $((30720 * 512)) ext4")

# luks_format FILE SIZE TYPE UUID [cryptsetup args...]
luks_format() {
    local file=$1 size=$2 type=$3 uuid=$4
    shift 4
    new_file "$file" "$size"
    printf 'virt-df fixture key' >"$WORK/luks.key"
    cryptsetup luksFormat --batch-mode --type "$type" --pbkdf pbkdf2 \
        --pbkdf-force-iterations 1000 --uuid "$uuid" --key-file "$WORK/luks.key" "$@" \
        "$file" >"$WORK/luks.log" 2>&1 || { cat "$WORK/luks.log" >&2; die "cryptsetup failed for $file"; }
}
luks2_small=(--luks2-metadata-size 16k --luks2-keyslots-size 512k)

luks_format "$OUT/luks1.img" $((8 * MiB)) luks1 5644460a-0000-4000-c000-000000000001
luks_format "$OUT/luks2.img" $((8 * MiB)) luks2 5644460a-0000-4000-c000-000000000002 "${luks2_small[@]}"
# The primary header's magic wiped: only the secondary header (at 16 KiB) is left.
sparse_copy "$OUT/luks2.img" "$OUT/luks2-secondary.img"
poke "$OUT/luks2-secondary.img" 0 000000000000

# A guest disk: ext4 in p1, an encrypted p2.
img=$OUT/luks-gpt.img
new_file "$img" $((48 * MiB))
sgdisk -a 2048 -U 5644460a-0000-4000-a000-00000000c0de \
    -n 1:2048:34815  -t 1:8300 -u 1:5644460a-0000-4000-a000-00000000c0d1 \
    -n 2:34816:90111 -t 2:8309 -u 2:5644460a-0000-4000-a000-00000000c0d2 \
    "$img" >/dev/null
mkext "$img" /dev/sda1 $((2048 * 512)) $((32768 * 512)) ext4 4096
luks_format "$WORK/luks-part.img" $((55296 * 512)) luks2 5644460a-0000-4000-c000-000000000003 \
    "${luks2_small[@]}"
dd if="$WORK/luks-part.img" of="$img" bs=512 seek=34816 conv=notrunc,sparse status=none
rm -f "$WORK/luks-part.img"
