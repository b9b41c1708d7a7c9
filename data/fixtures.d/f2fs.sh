# F2FS fixtures (sourced by make_fixtures.sh, which provides new_file, die,
# $TREE, $WORK, $OUT, $MiB and MANIFEST).
#
# No mount: mkfs.f2fs makes the filesystems (-U: fixed UUID, -r: fixed
# checkpoint version seed, -T: fixed timestamps, -t 0: no discard of the
# file) and sload.f2fs copies $TREE in. mkfs.f2fs also stores the running
# kernel's version string, so images differ from host to host in those
# bytes only; every figure is the same.
#
# This kernel has no f2fs driver: data/expected/f2fs.txt holds the figures
# of the libguestfs appliance's kernel (data/record_appliance_statfs.sh).

for tool in mkfs.f2fs sload.f2fs fsck.f2fs; do
    command -v "$tool" >/dev/null || die "required tool '$tool' (f2fs-tools) not found"
done

# mkf2fs NAME SIZE UUID_SUFFIX POPULATE [mkfs.f2fs args...]
mkf2fs() {
    local name=$1 size=$2 uuid=$3 populate=$4 img=$OUT/$1
    shift 4
    new_file "$img" "$size"
    mkfs.f2fs -f -q -r -t 0 -T 1700000000 -U "5644460a-0000-4000-f2f5-$uuid" "$@" "$img" \
        >"$WORK/mkfs.f2fs.log" 2>&1 || { cat "$WORK/mkfs.f2fs.log" >&2; die "mkfs.f2fs failed for $name"; }
    if [[ $populate == 1 ]]; then
        # sload.f2fs 1.15 writes one inode with a stale checksum under
        # inode_checksum, then its own fsck pass fixes it and exits 1; so
        # judge the result by a read-only fsck rather than the exit status.
        sload.f2fs -f "$TREE" -T 1700000000 "$img" >"$WORK/sload.log" 2>&1 || true
        fsck.f2fs --dry-run "$img" >"$WORK/fsck.f2fs.log" 2>&1 ||
            { cat "$WORK/sload.log" "$WORK/fsck.f2fs.log" >&2; die "sload.f2fs failed for $name"; }
    fi
    MANIFEST+=("$name /dev/sda 0 $size f2fs")
}

# 64 MiB leaves only 16 MB to users (mkfs.f2fs overprovisions small
# volumes heavily), too little for sload.f2fs to place $TREE: kept empty.
mkf2fs f2fs-64m.img $((64 * MiB)) 000000000001 0
mkf2fs f2fs-128m.img $((128 * MiB)) 000000000002 1
mkf2fs f2fs-features.img $((512 * MiB)) 000000000003 1 -O extra_attr,inode_checksum,sb_checksum
# Sections of 4 segments; fixed 5% overprovisioning.
mkf2fs f2fs-1g-s4.img $((1024 * MiB)) 000000000004 1 -s 4 -o 5
# -i (large NAT bitmap) keeps the NAT at 2 segments: fewer node IDs than
# user blocks, so f2fs_statfs's inode figures come from the NAT; and the
# checkpoint's checksum sits right after its fixed fields (offset 192).
mkf2fs f2fs-2g-nat.img $((2048 * MiB)) 000000000005 1 -i
