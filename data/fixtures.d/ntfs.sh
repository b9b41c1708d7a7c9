# ntfs fixtures (sourced by make_fixtures.sh, which provides new_file,
# sparse_copy, poke, die, $TREE, $WORK, $OUT, $MiB and MANIFEST).
#
# Every image is made by mkntfs (ntfs-3g's tools) without mounting:
# -Q (quick: no zeroing), -T (timestamps at the epoch), -F (a file, not a
# device); ntfscp then copies the regular files at the top of $TREE in.
# mkntfs picks a random volume serial and GUIDs; ntfs_pin_serial rewrites
# the serial in both boot sectors so that at least the boot sector is the
# same from run to run (the figures never depend on it).
#
# The expected figures (data/expected/ntfs.txt) come from ntfs-3g itself,
# not the kernel (this kernel has no ntfs3): record_kernel_statfs.sh's
# "mount -t ntfs -o ro" runs /sbin/mount.ntfs, a link to ntfs-3g.

command -v mkntfs >/dev/null || die "required tool 'mkntfs' (ntfs-3g) not found"
command -v ntfscp >/dev/null || die "required tool 'ntfscp' (ntfs-3g) not found"

ntfs_serial=0
# ntfs_pin_serial FILE OFFSET LENGTH SECTOR: fixed serial in the boot
# sector and in its backup (the last sector of the partition).
ntfs_pin_serial() {
    local img=$1 off=$2 len=$3 sector=$4 hex
    ntfs_serial=$((ntfs_serial + 1))
    printf -v hex '%02x0000000a464456' "$ntfs_serial"  # LE 0x5644460a000000NN
    poke "$img" $((off + 0x48)) "$hex"
    poke "$img" $((off + len - sector + 0x48)) "$hex"
}

# ntfs_populate FILE: copies the top-level regular files of $TREE in.
ntfs_populate() {
    local img=$1 f
    for f in "$TREE"/*; do
        [[ -f $f && ! -L $f ]] || continue
        ntfscp -f "$img" "$f" "/${f##*/}" >"$WORK/ntfscp.log" 2>&1 ||
            { cat "$WORK/ntfscp.log" >&2; die "ntfscp failed for $img"; }
    done
}

# mkntfs_whole NAME SIZE SECTOR CLUSTER: a populated NTFS on a bare disk.
mkntfs_whole() {
    local name=$1 size=$2 sector=$3 cluster=$4 img=$OUT/$1
    new_file "$img" "$size"
    mkntfs -F -q -Q -T -s "$sector" -c "$cluster" -L fixture "$img" >"$WORK/mkntfs.log" 2>&1 ||
        { cat "$WORK/mkntfs.log" >&2; die "mkntfs failed for $name"; }
    ntfs_pin_serial "$img" 0 "$size" "$sector"
    ntfs_populate "$img"
    MANIFEST+=("$name /dev/sda 0 $size ntfs")
}

fill "$WORK/ntfs-pad" 1200

mkntfs_whole ntfs-default.img $((64 * MiB)) 512 4096
mkntfs_whole ntfs-4ksector.img $((64 * MiB)) 4096 4096
# With 512-byte clusters, an odd number of clusters in total, free or used
# makes df (which rounds 1K-blocks up) and virt-df (which rounds down)
# differ by one in test/kernel_oracle_test.sh. So: one more sector (mkntfs
# leaves the last one for the backup boot sector) gives an even total, and
# a 3-cluster file (ntfs-pad) an even free count.
mkntfs_whole ntfs-512c.img $((64 * MiB + 512)) 512 512
ntfscp -f "$OUT/ntfs-512c.img" "$WORK/ntfs-pad" /pad >/dev/null 2>&1 || die "ntfscp failed"
mkntfs_whole ntfs-64kc.img $((128 * MiB)) 512 65536
mkntfs_whole ntfs-2mc.img $((512 * MiB)) 4096 $((2 * MiB))
# Large and sparse: a $Bitmap of 4 MiB (32 Mi clusters of 512 bytes).
mkntfs_whole ntfs-large.img $((16 * 1024 * MiB + 512)) 512 512
ntfscp -f "$OUT/ntfs-large.img" "$WORK/ntfs-pad" /pad >/dev/null 2>&1 || die "ntfscp failed"

# NTFS in a GPT partition of type "Microsoft basic data" (0700), made in a
# file of its own (-p: the partition's start, stored as hidden sectors) and
# spliced in.
ntfs_gpt=$OUT/ntfs-gpt.img
new_file "$ntfs_gpt" $((96 * MiB))
sgdisk -o -U 5644460a-0000-4000-c000-000000000001 \
    -n 1:2048:+64M -t 1:0700 -u 1:5644460a-0000-4000-c000-000000000002 "$ntfs_gpt" >/dev/null 2>&1 ||
    die "sgdisk failed for ntfs-gpt.img"
new_file "$WORK/ntfs-part.img" $((64 * MiB))
mkntfs -F -q -Q -T -p 2048 -L fixture "$WORK/ntfs-part.img" >"$WORK/mkntfs.log" 2>&1 ||
    { cat "$WORK/mkntfs.log" >&2; die "mkntfs failed for ntfs-gpt.img"; }
ntfs_pin_serial "$WORK/ntfs-part.img" 0 $((64 * MiB)) 512
ntfs_populate "$WORK/ntfs-part.img"
dd if="$WORK/ntfs-part.img" of="$ntfs_gpt" bs=65536 seek=$((2048 * 512)) oflag=seek_bytes \
    conv=notrunc,sparse status=none
rm -f "$WORK/ntfs-part.img"
MANIFEST+=("ntfs-gpt.img /dev/sda1 $((2048 * 512)) $((64 * MiB)) ntfs")

# Windows left hibernated: a hiberfil.sys whose header begins "hibr".
# ntfs-3g refuses such a volume read-write, and mounts it read-only as it
# is (which libguestfs does); virt-df gives the figures with a warning.
{ printf 'hibr'; head -c 8188 /dev/zero; } >"$WORK/hiberfil.sys"
mkntfs_whole ntfs-hibernated.img $((64 * MiB)) 512 4096
ntfscp -f "$OUT/ntfs-hibernated.img" "$WORK/hiberfil.sys" /hiberfil.sys >/dev/null 2>&1 ||
    die "ntfscp failed for ntfs-hibernated.img"

# A fragmented $MFT: the volume filled by one file, then by thousands of
# small ones, so that each 16-record extension of $MFT lands between the
# small files' clusters (ntfs-3g's allocator then takes the MFT zone for
# data). ntfscp would take minutes for so many files, so the image was made
# once through an ntfs-3g mount and is committed as data/ntfs-frag.img.xz;
# NTFS_REGENERATE=1 (root, FUSE) remakes it.
ntfs_regenerate() {
    local img=$WORK/ntfs-frag.img mnt=$WORK/ntfs-mnt s i=0
    new_file "$img" $((160 * MiB))
    mkntfs -F -q -Q -T -c 4096 -L frag "$img" >/dev/null 2>&1 || die "mkntfs failed for ntfs-frag.img"
    ntfs_pin_serial "$img" 0 $((160 * MiB)) 512
    mkdir -p "$mnt"
    ntfs-3g "$img" "$mnt"
    { yes filler || true; } | head -c $((136 * MiB)) >"$mnt/big.bin"
    s=$(printf 'a%.0s' $(seq 1 2000))
    while printf '%s' "$s" >"$mnt/f$i" 2>/dev/null; do i=$((i + 1)); done
    rm -f "$mnt/f$i"
    umount "$mnt"
    sparse_copy "$img" "$img.sparse"
    xz -9e -c "$img.sparse" >"$HERE/ntfs-frag.img.xz"
    rm -rf "$mnt" "$img" "$img.sparse"
}
if [[ ${NTFS_REGENERATE:-0} == 1 ]]; then ntfs_regenerate; fi
xz -dc "$HERE/ntfs-frag.img.xz" | cp --sparse=always /dev/stdin "$OUT/ntfs-frag.img"
chmod 644 "$OUT/ntfs-frag.img"
MANIFEST+=("ntfs-frag.img /dev/sda 0 $(stat -c %s "$OUT/ntfs-frag.img") ntfs")

# BitLocker (Windows 7 and later): no tool makes one on Linux, so this is
# a synthetic volume header, libblkid's and libbde's layout: EB 58 90
# "-FVE-FS-", 512-byte sectors, the FVE metadata offset (64 KiB) at 176,
# and "-FVE-FS-" there. Behind it an MBR disk with an NTFS partition, as a
# Windows guest with an encrypted data volume has. Not in the manifest:
# virt-df, like libguestfs, lists no BitLocker volume.
img=$OUT/bitlocker.img
new_file "$img" $((80 * MiB))
sfdisk -q "$img" >/dev/null <<'PARTS'
label: dos
label-id: 0x5644b100
unit: sectors

p1 : start=2048,   size=65536, type=7
p2 : start=67584,  size=4096,  type=7
PARTS
new_file "$WORK/ntfs-part.img" $((32 * MiB))
mkntfs -F -q -Q -T -p 2048 -L system "$WORK/ntfs-part.img" >"$WORK/mkntfs.log" 2>&1 ||
    { cat "$WORK/mkntfs.log" >&2; die "mkntfs failed for bitlocker.img"; }
ntfs_pin_serial "$WORK/ntfs-part.img" 0 $((32 * MiB)) 512
dd if="$WORK/ntfs-part.img" of="$img" bs=65536 seek=$((2048 * 512)) oflag=seek_bytes \
    conv=notrunc,sparse status=none
rm -f "$WORK/ntfs-part.img"
MANIFEST+=("bitlocker.img /dev/sda1 $((2048 * 512)) $((32 * MiB)) ntfs")
bl=$((67584 * 512))
printf '\xeb\x58\x90-FVE-FS-\x00\x02\x08' | dd of="$img" bs=1 seek=$bl conv=notrunc status=none
poke "$img" $((bl + 176)) 0000010000000000
poke "$img" $((bl + 510)) 55aa
printf -- '-FVE-FS-' | dd of="$img" bs=1 seek=$((bl + 65536)) conv=notrunc status=none
