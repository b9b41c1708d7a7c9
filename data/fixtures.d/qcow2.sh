# qcow2 fixtures (sourced by make_fixtures.sh, which provides die, poke,
# $OUT and the raw fixtures made before this file: ext*, gpt-*, mbr-*).
#
# qemu-img and qemu-io (qemu-utils) turn raw fixtures whose figures the
# kernel recorded (data/expected/ext.txt) into qcow2 images of every kind,
# so the tests can demand the same rows and figures from both, and the same
# bytes from virt-df as from `qemu-img convert -O raw` (the *.raw files
# here). No manifest lines: those are for raw images the kernel can mount.
# The bytes of the snapshot and LUKS images vary (dates, salts); the
# guest-visible disks do not.

for tool in qemu-img qemu-io; do
    command -v "$tool" >/dev/null || die "required tool '$tool' (qemu-utils) not found"
done

# qcow2_put IMAGE OFFSET SOURCE: writes the raw file SOURCE into the qcow2
# IMAGE at guest OFFSET (through a raw window onto the image), as guest
# writes would: data clusters where SOURCE has data, zero clusters (v3) or
# zeros (v2) elsewhere, nothing outside the window.
qcow2_put() {
    local img=$1 off=$2 src=$3 size
    size=$(stat -c %s "$src")
    qemu-img convert -n -f raw "$src" --target-image-opts \
        "driver=raw,offset=$off,size=$size,file.driver=qcow2,file.file.driver=file,file.file.filename=$img"
}

# qcow2_raw IMAGE [qemu-img convert options]: IMAGE's guest disk as
# qemu sees it, in IMAGE-without-.qcow2.raw, for byte comparisons.
qcow2_raw() {
    local img=$1
    shift
    qemu-img convert -O raw "$@" "$img" "${img%.qcow2}.raw"
}

# Partitions of gpt-512.img (see make_fixtures.sh), in bytes.
qcow2_p2=$((67584 * 512))   # ext4, 64 MiB
qcow2_p4=$((231424 * 512))  # ext3, 64 MiB
qcow2_p5=$((362496 * 512))  # ext4

qcow2_fixtures() (
    # Relative names everywhere: backing files are found next to the image.
    cd "$OUT" || die "cannot enter $OUT"
    rm -f qcow2-*

    # --- Whole images converted from raw ones: versions, cluster sizes,
    # compression, extended L2 entries.
    qemu-img convert -O qcow2 -o compat=0.10 gpt-512.img qcow2-v2.qcow2
    qemu-img convert -O qcow2 -o compat=1.1 mbr-logical.img qcow2-v3.qcow2
    qemu-img convert -O qcow2 -o cluster_size=512 ext4-1k.img qcow2-c512.qcow2
    qemu-img convert -O qcow2 -o cluster_size=2M gpt-4k.img qcow2-c2m.qcow2
    qemu-img convert -c -O qcow2 -o compression_type=zlib gpt-512.img qcow2-zlib.qcow2
    qemu-img convert -c -O qcow2 -o compression_type=zstd mbr-logical.img qcow2-zstd.qcow2
    qemu-img convert -c -O qcow2 -o cluster_size=512 ext2-1k.img qcow2-zlib-c512.qcow2
    qemu-img convert -c -O qcow2 -o cluster_size=2M,compression_type=zstd ext3-2k.img qcow2-zstd-c2m.qcow2
    qemu-img convert -O qcow2 -o extended_l2=on ext4-4k.img qcow2-extl2.qcow2

    # --- External data files: plain, and raw (the data file is the disk).
    qemu-img create -q -f qcow2 -o data_file=qcow2-datafile.data qcow2-datafile.qcow2 64M
    qemu-img convert -n -O qcow2 ext4-1k.img qcow2-datafile.qcow2
    qemu-img create -q -f qcow2 -o data_file=qcow2-datafile-raw.data,data_file_raw=on \
        qcow2-datafile-raw.qcow2 64M
    qemu-img convert -n -O qcow2 ext2-1k.img qcow2-datafile-raw.qcow2

    # --- Metadata preallocation: every cluster allocated. 1-2 MiB (empty
    # in gpt-512.img) gets a pattern, then zeros without unmapping: zero
    # clusters whose host clusters still hold 0xaa, so the zero flag has to
    # win over the offset. The copy leaves zero areas alone.
    qemu-img create -q -f qcow2 -o preallocation=metadata qcow2-prealloc.qcow2 256M
    qemu-io -c "write -q -P 0xaa 1M 1M" -c "write -q -z 1M 1M" qcow2-prealloc.qcow2
    qemu-img convert -n -O qcow2 --target-is-zero gpt-512.img qcow2-prealloc.qcow2

    # --- A chain three deep, each layer different, all figures known:
    # base (v2, 4 KiB clusters) = gpt-512.img; mid puts ext2-1k.img in
    # p4; top (16 KiB clusters) puts ext4-1k.img in p2. (A v2 overlay has
    # no zero clusters: the zeros of a 64 MiB filesystem would be written.)
    qemu-img convert -O qcow2 -o compat=0.10,cluster_size=4096 gpt-512.img qcow2-chain-base.qcow2
    qemu-img create -q -f qcow2 -b qcow2-chain-base.qcow2 -F qcow2 qcow2-chain-mid.qcow2
    qcow2_put qcow2-chain-mid.qcow2 "$qcow2_p4" ext2-1k.img
    qemu-img create -q -f qcow2 -o cluster_size=16K \
        -b qcow2-chain-mid.qcow2 -F qcow2 qcow2-chain-top.qcow2
    qcow2_put qcow2-chain-top.qcow2 "$qcow2_p2" ext4-1k.img
    qcow2_raw qcow2-chain-mid.qcow2
    qcow2_raw qcow2-chain-top.qcow2

    # --- Extended L2 over a raw backing file, 1 KiB subclusters: p2 gets
    # ext4-1k.img (allocated and zero subclusters), and 1 KiB at 24 KiB
    # (free space after the GPT entries) leaves the rest of cluster 0
    # unallocated, so the partition table comes from the backing file.
    qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=32K \
        -b gpt-512.img -F raw qcow2-extl2-overlay.qcow2
    qcow2_put qcow2-extl2-overlay.qcow2 "$qcow2_p2" ext4-1k.img
    qemu-io -c "write -q -P 0x11 24K 1K" qcow2-extl2-overlay.qcow2
    qcow2_raw qcow2-extl2-overlay.qcow2

    # --- Zero clusters over a backing file: p5's first MiB unallocated
    # then zeroed (zero flag, no offset), p4's first MiB written then
    # zeroed in place (zero flag over an offset). Neither reads through.
    qemu-img create -q -f qcow2 -b gpt-512.img -F raw qcow2-zero.qcow2
    qemu-io -c "write -q -z $qcow2_p5 1M" -c "write -q -P 0x55 $qcow2_p4 1M" \
        -c "write -q -z $qcow2_p4 1M" qcow2-zero.qcow2
    qcow2_raw qcow2-zero.qcow2

    # --- A backing file shorter than the disk: zeros after its end (and a
    # pattern written there).
    qemu-img create -q -f qcow2 -b ext4-1k.img -F raw qcow2-short-backing.qcow2 100M
    qemu-io -c "write -q -P 0x5a 80M 4K" qcow2-short-backing.qcow2
    qcow2_raw qcow2-short-backing.qcow2

    # --- Internal snapshots: "clean" (ID 1) is gpt-512.img; "p4-ext2"
    # (ID 2) is the chain's mid disk; then the disk grows to 300 MiB and
    # becomes the chain's top disk (plus 44 MiB of zeros).
    qemu-img convert -O qcow2 gpt-512.img qcow2-snapshot.qcow2
    qemu-img snapshot -c clean qcow2-snapshot.qcow2
    qcow2_put qcow2-snapshot.qcow2 "$qcow2_p4" ext2-1k.img
    qemu-img snapshot -c p4-ext2 qcow2-snapshot.qcow2
    qemu-img resize -q qcow2-snapshot.qcow2 300M
    qcow2_put qcow2-snapshot.qcow2 "$qcow2_p2" ext4-1k.img
    qcow2_raw qcow2-snapshot.qcow2

    # --- Refused or warned about: LUKS encryption; a dirty image
    # (incompatible bit 0 set in place, byte 79 of the big-endian field at
    # 72); a missing backing file; a loop of backing files.
    qemu-img create -q -f qcow2 --object secret,id=s0,data=x \
        -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 qcow2-luks.qcow2 64M
    cp --sparse=always qcow2-v3.qcow2 qcow2-dirty.qcow2
    poke qcow2-dirty.qcow2 79 01
    qemu-img create -q -f qcow2 -u -b qcow2-no-such-base.qcow2 -F qcow2 qcow2-missing-backing.qcow2 64M
    qemu-img create -q -f qcow2 -u -b qcow2-loop-b.qcow2 -F qcow2 qcow2-loop-a.qcow2 64M
    qemu-img create -q -f qcow2 -u -b qcow2-loop-a.qcow2 -F qcow2 qcow2-loop-b.qcow2 64M

    # --- CVE-2010-3851: a raw disk (mbr-logical.img) whose guest wrote a
    # qcow2 header into its boot code, naming a host file as backing file
    # with no format. Probed, it is a qcow2 image showing that file
    # (ext4-1k.img); with --format=raw it is the guest's own disk. Header:
    # version 2, backing name at 72 (11 bytes), 64 KiB clusters, 64 MiB,
    # one zero L1 entry at 64 KiB (the empty gap before partition 1).
    sparse_copy mbr-logical.img qcow2-trap.img
    poke qcow2-trap.img 0 514649fb000000020000000000000048
    poke qcow2-trap.img 16 0000000b000000100000000004000000
    poke qcow2-trap.img 32 00000000000000010000000000010000
    poke qcow2-trap.img 48 00000000000200000000000100000000
    poke qcow2-trap.img 64 0000000000000000
    printf 'ext4-1k.img' | dd of=qcow2-trap.img bs=1 seek=72 conv=notrunc status=none
    [[ $(qemu-img info --output=json qcow2-trap.img) == *'"backing-filename": "ext4-1k.img"'* ]] ||
        die "qcow2-trap.img: qemu-img does not read it as qcow2 with a backing file"
)
qcow2_fixtures
