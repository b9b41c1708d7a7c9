# ploop / Parallels fixtures (sourced by make_fixtures.sh, which provides
# sparse_copy, poke, die, $TREE, $WORK, $OUT, $MiB, gpt512_lines and
# MANIFEST).
#
# Three states of one guest disk, all raw and kernel-checked (the first is
# gpt-512.img, the other two are in the manifest, with their figures in
# data/expected/ploop.txt):
#   A  gpt-512.img
#   B  ploop-state-b.img  A with /large.bin deleted from p2 (ext4)
#   C  ploop-state-c.img  B with large.bin copied into p4 (ext3) as
#                         /copied.bin, and a new directory /newdir
# debugfs makes the changes, without a mount, deterministically (the fake
# clock of make_fixtures.sh, owners pinned to 0).
#
# ploop images of those states (not in the manifest: the kernel cannot
# mount them; the tests compare them with the raw states instead):
#   ploop-v2.hds       C, as `qemu-img convert -O parallels` writes it:
#                      "WithouFreSpacExt", BAT entries in clusters, 1 MiB
#   ploop-v1.hds       B, the same conversion made v1 by ploop_tool to-v1:
#                      "WithoutFreeSpace", BAT entries in sectors
#   ploop-v1-63.hds    A with 63-sector (31.5 KiB) clusters, as old
#                      Parallels images have, made v1 with
#                      m_FirstBlockOffset 0 (data after the BAT)
#   ploop-dirty.hds    ploop-v2.hds with m_DiskInUse "Ynot" (in use)
#   ploop-root.hdd/    DiskDescriptor.xml (Virtuozzo_disk_image, as ploop
#                      writes it), root.hds = A as a Plain (raw) base, and
#                      deltas root.hds.{...b} (A->B) and root.hds.{...c}
#                      (B->C); TopGUID is ...c
#   ploop-compressed.hdd/  the same chain with a Compressed base (qemu-img's
#                      conversion of A) in a Parallels_disk_image descriptor
#                      with comments and entities; its deltas are
#                      ../ploop-root.hdd/root.hds.{...}
#   ploop-missing.hdd/, ploop-loop.hdd/, ploop-badxml.hdd/: broken
#                      descriptors (a missing delta, a GUID loop, a
#                      mismatched end tag) for the command-line cases
#
# No ploop tool is packaged for Debian and qemu-img cannot write overlays in
# this format (qemu 7.2's parallels driver refuses backing files), so the
# deltas are written by ploop_tool (data/ploop_tool.py): a delta holds exactly
# the 1 MiB clusters in which the child differs from its parent. Each file
# ploop_tool writes is checked against qemu's own reading of it: qemu-img
# check finds no corruption, and `qemu-img convert -f parallels` gives the
# child's bytes in the clusters the delta holds and zeros elsewhere
# (deltas), or the whole source (v1 images, through qemu-img compare).

for tool in qemu-img python3; do
    command -v "$tool" >/dev/null || die "required tool '$tool' (qemu-utils, python3) not found"
done

PLOOP_A=$OUT/gpt-512.img
PLOOP_B=$OUT/ploop-state-b.img
PLOOP_C=$OUT/ploop-state-c.img
PLOOP_P2=$((67584 * 512))   # gpt-512.img p2, ext4
PLOOP_P4=$((231424 * 512))  # gpt-512.img p4, ext3 with 1 KiB blocks
PLOOP_GUID_A='{5644460a-0000-4000-c000-00000000000a}'
PLOOP_GUID_B='{5644460a-0000-4000-c000-00000000000b}'
PLOOP_GUID_C='{5644460a-0000-4000-c000-00000000000c}'

# ploop_tool COMMAND ARGS...:
#   delta PARENT CHILD OUT    a v2 delta of CHILD over PARENT, 1 MiB clusters
#   check-delta OUT PARENT CHILD QEMU_RAW
#                             QEMU_RAW (qemu's reading of OUT) holds CHILD's
#                             bytes exactly where OUT maps clusters, zeros
#                             elsewhere, and OUT maps every differing cluster
#   to-v1 IN OUT [zero-data-off]
#                             IN (qemu's v2 output) as v1: magic
#                             "WithoutFreeSpace", BAT entries x m_Sectors;
#                             optionally m_FirstBlockOffset 0
ploop_tool() {
    python3 "$HERE/ploop_tool.py" "$@"
}

# ploop_debugfs IMAGE OFFSET CMDFILE: runs debugfs commands on the ext
# filesystem at OFFSET; debugfs exits 0 even when a command fails, so any
# non-empty line other than the banner, an echoed command or the inode
# number `write` reports is an error.
ploop_debugfs() {
    if ! debugfs -w -f "$3" "$1?offset=$2" >"$WORK/debugfs.log" 2>&1 ||
        grep -v -e '^debugfs' -e '^Allocated inode: ' "$WORK/debugfs.log" | grep -q .; then
        cat "$WORK/debugfs.log" >&2
        die "debugfs failed for $1 at offset $2"
    fi
}

# qemu_reads_as IMAGE RAW: qemu's parallels driver reads IMAGE as RAW.
qemu_reads_as() {
    qemu-img check -q -f parallels "$1" || die "qemu-img check: $1 is not consistent"
    qemu-img compare -q -f parallels -F raw "$1" "$2" || die "qemu reads $1 other than $2"
}

# --- the raw states -----------------------------------------------------------
sparse_copy "$PLOOP_A" "$PLOOP_B"
printf 'rm /large.bin\n' >"$WORK/ploop-b.cmds"
ploop_debugfs "$PLOOP_B" $PLOOP_P2 "$WORK/ploop-b.cmds"
sparse_copy "$PLOOP_B" "$PLOOP_C"
cat >"$WORK/ploop-c.cmds" <<EOF
write $TREE/large.bin /copied.bin
mkdir /newdir
sif /copied.bin uid 0
sif /copied.bin gid 0
sif /newdir uid 0
sif /newdir gid 0
EOF
ploop_debugfs "$PLOOP_C" $PLOOP_P4 "$WORK/ploop-c.cmds"
for line in "${gpt512_lines[@]}"; do
    MANIFEST+=("ploop-state-b.img ${line#* }" "ploop-state-c.img ${line#* }")
done

# --- single images --------------------------------------------------------------
ploop_convert() {  # SRC DST [qemu-img -o options]
    rm -f "$2"
    qemu-img convert -f raw -O parallels ${3:+-o "$3"} "$1" "$2" || die "qemu-img convert $1"
}
ploop_convert "$PLOOP_C" "$OUT/ploop-v2.hds"
[[ $(head -c 16 "$OUT/ploop-v2.hds") == WithouFreSpacExt ]] || die "qemu-img wrote no v2 image"
qemu_reads_as "$OUT/ploop-v2.hds" "$PLOOP_C"

ploop_convert "$PLOOP_B" "$OUT/ploop-v1.hds"
ploop_tool to-v1 "$OUT/ploop-v1.hds" "$OUT/ploop-v1.hds"
qemu_reads_as "$OUT/ploop-v1.hds" "$PLOOP_B"

ploop_convert "$PLOOP_A" "$OUT/ploop-v1-63.hds" cluster_size=$((63 * 512))
ploop_tool to-v1 "$OUT/ploop-v1-63.hds" "$OUT/ploop-v1-63.hds" zero-data-off
qemu_reads_as "$OUT/ploop-v1-63.hds" "$PLOOP_A"

sparse_copy "$OUT/ploop-v2.hds" "$OUT/ploop-dirty.hds"
poke "$OUT/ploop-dirty.hds" 44 596e6f74  # m_DiskInUse = 0x746F6E59 "Ynot"

# --- a snapshot chain in a ploop directory ----------------------------------------
PLOOP_DIR=$OUT/ploop-root.hdd
rm -rf "$PLOOP_DIR"
mkdir -p "$PLOOP_DIR"
sparse_copy "$PLOOP_A" "$PLOOP_DIR/root.hds"
ploop_delta() {  # PARENT CHILD OUT
    ploop_tool delta "$1" "$2" "$3"
    qemu-img check -q -f parallels "$3" || die "qemu-img check: $3 is not consistent"
    rm -f "$WORK/ploop-delta.raw"
    qemu-img convert -f parallels -O raw "$3" "$WORK/ploop-delta.raw" || die "qemu-img convert $3"
    ploop_tool check-delta "$3" "$1" "$2" "$WORK/ploop-delta.raw"
    rm -f "$WORK/ploop-delta.raw"
}
ploop_delta "$PLOOP_A" "$PLOOP_B" "$PLOOP_DIR/root.hds.$PLOOP_GUID_B"
ploop_delta "$PLOOP_B" "$PLOOP_C" "$PLOOP_DIR/root.hds.$PLOOP_GUID_C"

PLOOP_SECTORS=$(($(stat -c %s "$PLOOP_A") / 512))
# ploop_shot GUID PARENT: a <Shot> of <Snapshots>.
ploop_shot() {
    printf '  <Shot>\n   <GUID>%s</GUID>\n   <ParentGUID>%s</ParentGUID>\n  </Shot>\n' "$1" "$2"
}
# ploop_descriptor ROOT_ELEMENT BASE_TYPE BASE_FILE DELTA_PREFIX [SHOTS]:
# a DiskDescriptor.xml for the chain A <- B <- C on stdout, in the layout
# ploop's lib/xml.c writes. SHOTS replaces the Shot elements.
ploop_descriptor() {
    local root=$1 base_type=$2 base_file=$3 prefix=$4 shots=${5:-}
    [[ -n $shots ]] ||
        shots=$(ploop_shot "$PLOOP_GUID_A" '{00000000-0000-0000-0000-000000000000}'
                ploop_shot "$PLOOP_GUID_B" "$PLOOP_GUID_A"
                ploop_shot "$PLOOP_GUID_C" "$PLOOP_GUID_B")
    cat <<EOF
<?xml version="1.0"?>
<$root>
 <Disk_Parameters>
  <Disk_size>$PLOOP_SECTORS</Disk_size>
  <Cylinders>$((PLOOP_SECTORS / 16 / 63))</Cylinders>
  <Heads>16</Heads>
  <Sectors>63</Sectors>
  <Padding>0</Padding>
 </Disk_Parameters>
 <StorageData>
  <Storage>
   <Start>0</Start>
   <End>$PLOOP_SECTORS</End>
   <Blocksize>2048</Blocksize>
   <Image>
    <GUID>$PLOOP_GUID_A</GUID>
    <Type>$base_type</Type>
    <File>$base_file</File>
   </Image>
   <Image>
    <GUID>$PLOOP_GUID_B</GUID>
    <Type>Compressed</Type>
    <File>${prefix}root.hds.$PLOOP_GUID_B</File>
   </Image>
   <Image>
    <GUID>$PLOOP_GUID_C</GUID>
    <Type>Compressed</Type>
    <File>${prefix}root.hds.$PLOOP_GUID_C</File>
   </Image>
  </Storage>
 </StorageData>
 <Snapshots>
  <TopGUID>$PLOOP_GUID_C</TopGUID>
$shots
 </Snapshots>
</$root>
EOF
}
ploop_descriptor Virtuozzo_disk_image Plain root.hds '' >"$PLOOP_DIR/DiskDescriptor.xml"

PLOOP_CDIR=$OUT/ploop-compressed.hdd
rm -rf "$PLOOP_CDIR"
mkdir -p "$PLOOP_CDIR"
ploop_convert "$PLOOP_A" "$PLOOP_CDIR/root.hds"
qemu_reads_as "$PLOOP_CDIR/root.hds" "$PLOOP_A"
# The QEMU spec's root element and Version attribute, a comment, and a file
# name spelt with character references, as an XML writer may escape it.
ploop_descriptor 'Parallels_disk_image Version="1.0"' Compressed \
    '&#x72;oot&#46;hds' ../ploop-root.hdd/ |
    sed -e 's|^</Parallels_disk_image Version="1.0">$|</Parallels_disk_image>|' \
        -e 's|^ <StorageData>$| <!-- written for virt-df'"'"'s tests: <not an element> --> <StorageData>|' \
    >"$PLOOP_CDIR/DiskDescriptor.xml"

# --- broken descriptors for the command-line cases ------------------------------------
for broken in missing loop badxml; do
    rm -rf "$OUT/ploop-$broken.hdd"
    mkdir -p "$OUT/ploop-$broken.hdd"
done
# The middle delta's file is absent.
ploop_descriptor Virtuozzo_disk_image Plain ../ploop-root.hdd/root.hds '' \
    >"$OUT/ploop-missing.hdd/DiskDescriptor.xml"
ln -sf "../ploop-root.hdd/root.hds.$PLOOP_GUID_C" "$OUT/ploop-missing.hdd/root.hds.$PLOOP_GUID_C"
# B's parent is C: the chain from the top never reaches the base.
ploop_descriptor Virtuozzo_disk_image Plain ../ploop-root.hdd/root.hds ../ploop-root.hdd/ \
    "$(ploop_shot "$PLOOP_GUID_B" "$PLOOP_GUID_C"; ploop_shot "$PLOOP_GUID_C" "$PLOOP_GUID_B")" \
    >"$OUT/ploop-loop.hdd/DiskDescriptor.xml"
# </Image> closes a <File>.
ploop_descriptor Virtuozzo_disk_image Plain ../ploop-root.hdd/root.hds ../ploop-root.hdd/ |
    sed -e "s|<File>../ploop-root.hdd/root.hds.$PLOOP_GUID_B</File>|<File>../ploop-root.hdd/root.hds.$PLOOP_GUID_B</Image>|" \
    >"$OUT/ploop-badxml.hdd/DiskDescriptor.xml"
