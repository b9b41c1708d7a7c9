#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make_hfsplus.py: writes small HFS+ / HFSX volumes for virt-df's tests.

Debian 12 has no tool that makes HFS+ (hfsprogs is gone), so this writes
the structures of Apple's Technical Note TN1150 ("HFS Plus Volume Format")
directly: the volume header at byte 1024 and its copy 1024 bytes before the
end, the allocation file (a bitmap, one bit per allocation block, most
significant bit first), an empty extents overflow B-tree (a header node
only) and a catalog B-tree of one leaf node holding the root folder, one
subfolder, a few files with their data (one extent each) and the thread
records of all of them. No attributes file, no journal, no startup file.
Optionally the volume is wrapped in an HFS "BD" master directory block
whose embedded-volume extent points at it, as Mac OS 8.1-9 formatted disks
(TN1150, "HFS Wrapper"); only the MDB fields that Linux's
hfsplus_read_mdb and blkid read are filled in.

Everything is deterministic: fixed dates, names and contents. The output
has not been mounted by a Linux hfsplus driver yet (none was at hand);
its volume headers were checked with hpfsck -v (see the header of
data/expected/hfsplus.txt, which also says how to record the libguestfs
appliance kernel's figures for it).

usage: make_hfsplus.py OUT SIZE_BYTES BLOCK_SIZE [--hfsx] [--node-size N]
                       [--wrapper]
"""

import argparse
import struct

HFS_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01
DATE = 1700000000 + HFS_EPOCH_OFFSET

# Catalog node IDs (TN1150 "Catalog File").
ROOT_PARENT_ID, ROOT_FOLDER_ID = 1, 2
EXTENTS_FILE_ID, CATALOG_FILE_ID, ALLOCATION_FILE_ID = 3, 4, 6
FIRST_USER_ID = 16

FOLDER_RECORD, FILE_RECORD, FOLDER_THREAD, FILE_THREAD = 1, 2, 3, 4
NODE_LEAF, NODE_HEADER = 0xFF, 1  # BTNodeDescriptor.kind (-1 and 1)
BIG_KEYS, VARIABLE_INDEX_KEYS = 2, 4  # BTHeaderRec.attributes
VOLUME_UNMOUNTED = 1 << 8  # kHFSVolumeUnmountedBit
VOLUME_NAME = "virt-df"


def fill(name, size):
    """Non-zero, compressible file contents, as make_fixtures.sh's fill."""
    line = f"virt-df fixture data for {name}\n".encode()
    return (line * (size // len(line) + 1))[:size]


# The tree: (parent folder name or None for root, name, size or None for a folder).
TREE = [
    (None, "empty", 0),
    (None, "small.txt", 5000),
    (None, "medium.bin", 300000),
    (None, "large.bin", 2000000),
    (None, "sub", None),
    ("sub", "nested.txt", 12345),
]


def unistr(name):
    """HFSUniStr255: length then UTF-16BE characters."""
    data = name.encode("utf-16-be")
    return struct.pack(">H", len(name)) + data


def catalog_key(parent_id, name):
    """HFSPlusCatalogKey: keyLength excludes itself."""
    body = struct.pack(">I", parent_id) + unistr(name)
    return struct.pack(">H", len(body)) + body


def bsd_info(mode):
    """HFSPlusBSDInfo: owner, group, admin/owner flags, mode, special."""
    return struct.pack(">IIBBHI", 0, 0, 0, 0, mode, 0)


def fork_data(logical_size, clump, extents):
    """HFSPlusForkData: size, clump, total blocks, 8 extent descriptors."""
    total = sum(count for _, count in extents)
    out = struct.pack(">QII", logical_size, clump, total)
    for start, count in extents + [(0, 0)] * (8 - len(extents)):
        out += struct.pack(">II", start, count)
    return out


def folder_record(folder_id, valence):
    rec = struct.pack(">hHII", FOLDER_RECORD, 0, valence, folder_id)
    rec += struct.pack(">5I", DATE, DATE, DATE, DATE, 0)
    rec += bsd_info(0o040755) + bytes(16) + bytes(16)
    rec += struct.pack(">II", 0, 0)  # textEncoding, reserved
    assert len(rec) == 88
    return rec


def file_record(file_id, data_fork):
    rec = struct.pack(">hHII", FILE_RECORD, 0, 0, file_id)
    rec += struct.pack(">5I", DATE, DATE, DATE, DATE, 0)
    rec += bsd_info(0o100644) + bytes(16) + bytes(16)
    rec += struct.pack(">II", 0, 0)
    rec += data_fork + fork_data(0, 0, [])
    assert len(rec) == 248
    return rec


def thread_record(kind, parent_id, name):
    return struct.pack(">hhI", kind, 0, parent_id) + unistr(name)


def node(kind, height, records, node_size, flink=0):
    """A B-tree node: descriptor, records, offsets from the end backwards."""
    out = bytearray(node_size)
    struct.pack_into(">IIBBHH", out, 0, flink, 0, kind, height, len(records), 0)
    pos = 14
    offsets = []
    for rec in records:
        offsets.append(pos)
        out[pos:pos + len(rec)] = rec
        pos += len(rec)
    offsets.append(pos)  # free space
    assert pos + 2 * len(offsets) <= node_size, "records do not fit in one node"
    for i, off in enumerate(offsets):
        struct.pack_into(">H", out, node_size - 2 * (i + 1), off)
    return bytes(out)


def header_node(node_size, total_nodes, used_nodes, depth, root, leaf_records, first_leaf,
                last_leaf, max_key_len, clump, key_compare, attributes):
    """Node 0: BTHeaderRec (106 bytes), user data (128) and the node map."""
    header = struct.pack(">HIIIIHHIIHIBBI", depth, root, leaf_records, first_leaf, last_leaf,
                         node_size, max_key_len, total_nodes, total_nodes - used_nodes, 0,
                         clump, 0, key_compare, attributes) + bytes(64)
    assert len(header) == 106
    map_len = node_size - 256
    node_map = bytearray(map_len)
    for i in range(used_nodes):
        node_map[i // 8] |= 0x80 >> (i % 8)
    return node(NODE_HEADER, 0, [header, bytes(128), bytes(node_map)], node_size)


def case_fold(name):
    # Every name here is ASCII: HFS+'s case-insensitive order is then the
    # order of the lower-cased names.
    return name.lower().encode("utf-16-be")


def build_volume(size, block_size, hfsx, node_size):
    """The HFS+ volume as bytes, `size` long."""
    assert size % block_size == 0 and block_size >= 512
    total_blocks = size // block_size
    used = bytearray(total_blocks)  # 1 = allocated

    next_free = [0]

    def allocate(nbytes):
        """Contiguous blocks after the last ones allocated: (start, count)."""
        count = max(1, -(-nbytes // block_size))
        start = next_free[0]
        assert start + count <= (size - 1024) // block_size, "volume too small"
        for i in range(start, start + count):
            used[i] = 1
        next_free[0] = start + count
        return start, count

    # The first 1536 bytes (boot blocks, volume header) and the last 1024
    # (alternate volume header, reserved sector) are allocated.
    for i in range(-(-1536 // block_size)):
        used[i] = 1
    next_free[0] = -(-1536 // block_size)
    for i in range((size - 1024) // block_size, total_blocks):
        used[i] = 1

    bitmap_bytes = -(-total_blocks // 8)
    alloc_ext = allocate(bitmap_bytes)
    ext_nodes = 4
    ext_ext = allocate(ext_nodes * node_size)
    cat_nodes = 4
    cat_ext = allocate(cat_nodes * node_size)

    # Files and folders, with IDs in tree order.
    next_id = FIRST_USER_ID
    folder_ids = {None: ROOT_FOLDER_ID}
    entries = []  # (parent_id, name, id, size, extent)
    contents = {}
    for parent, name, fsize in TREE:
        parent_id = folder_ids[parent]
        cnid = next_id
        next_id += 1
        if fsize is None:
            folder_ids[name] = cnid
            entries.append((parent_id, name, cnid, None, None))
        else:
            extent = allocate(fsize) if fsize else None
            if extent:
                contents[extent[0]] = fill(name, fsize)
            entries.append((parent_id, name, cnid, fsize, extent))

    # Catalog leaf records, sorted by (parent ID, name) as the catalog's
    # key compare orders them (case-folding for HFS+, binary for this HFSX).
    records = []
    valence = {fid: 0 for fid in folder_ids.values()}
    for parent_id, _, _, _, _ in entries:
        valence[parent_id] += 1
    records.append((ROOT_PARENT_ID, VOLUME_NAME,
                    catalog_key(ROOT_PARENT_ID, VOLUME_NAME) +
                    folder_record(ROOT_FOLDER_ID, valence[ROOT_FOLDER_ID])))
    records.append((ROOT_FOLDER_ID, "", catalog_key(ROOT_FOLDER_ID, "") +
                    thread_record(FOLDER_THREAD, ROOT_PARENT_ID, VOLUME_NAME)))
    for parent_id, name, cnid, fsize, extent in entries:
        key = catalog_key(parent_id, name)
        if fsize is None:
            records.append((parent_id, name, key + folder_record(cnid, valence[cnid])))
            thread = thread_record(FOLDER_THREAD, parent_id, name)
        else:
            fork = fork_data(fsize, 0, [extent] if extent else [])
            records.append((parent_id, name, key + file_record(cnid, fork)))
            thread = thread_record(FILE_THREAD, parent_id, name)
        records.append((cnid, "", catalog_key(cnid, "") + thread))
    order = (lambda n: n.encode("utf-16-be")) if hfsx else case_fold
    records.sort(key=lambda r: (r[0], order(r[1])))
    leaf = node(NODE_LEAF, 1, [r[2] for r in records], node_size)

    key_compare = 0xBC if hfsx else 0xCF  # kHFSBinaryCompare / kHFSCaseFolding
    cat_clump = cat_ext[1] * block_size
    catalog = header_node(node_size, cat_nodes, 2, 1, 1, len(records), 1, 1, 516, cat_clump,
                          key_compare, BIG_KEYS | VARIABLE_INDEX_KEYS) + leaf
    ext_clump = ext_ext[1] * block_size
    extents = header_node(node_size, ext_nodes, 1, 0, 0, 0, 0, 0, 10, ext_clump, 0, BIG_KEYS)

    bitmap = bytearray(alloc_ext[1] * block_size)
    for i in range(total_blocks):
        if used[i]:
            bitmap[i // 8] |= 0x80 >> (i % 8)
    free_blocks = total_blocks - sum(used)

    files = sum(1 for e in entries if e[3] is not None)
    folders = sum(1 for e in entries if e[3] is None)
    next_alloc = next_free[0]
    vh = struct.pack(">2sHI4sI", b"HX" if hfsx else b"H+", 5 if hfsx else 4, VOLUME_UNMOUNTED,
                     b"10.0", 0)
    vh += struct.pack(">4I", DATE, DATE, 0, DATE)
    vh += struct.pack(">IIIIIIIIIIQ", files, folders, block_size, total_blocks, free_blocks,
                      next_alloc, 65536, 65536, next_id, 1, 1)
    vh += bytes(32)  # finderInfo
    vh += fork_data(alloc_ext[1] * block_size, alloc_ext[1] * block_size, [alloc_ext])
    vh += fork_data(ext_nodes * node_size, ext_clump, [ext_ext])
    vh += fork_data(cat_nodes * node_size, cat_clump, [cat_ext])
    vh += fork_data(0, 0, [])  # attributes file: none
    vh += fork_data(0, 0, [])  # startup file: none
    assert len(vh) == 512

    image = bytearray(size)
    image[1024:1536] = vh
    image[size - 1024:size - 512] = vh

    def put(extent, data):
        image[extent[0] * block_size:extent[0] * block_size + len(data)] = data

    put(alloc_ext, bitmap)
    put(ext_ext, extents)
    put(cat_ext, catalog)
    for start, data in contents.items():
        put((start, 0), data)
    return bytes(image)


def wrap(volume, size):
    """An HFS wrapper of `size` bytes whose embedded volume is `volume`.

    The HFS volume has 2048-byte allocation blocks starting at sector 7
    (after the boot blocks, the MDB and a 4-sector bitmap); the embedded
    volume is its allocation blocks from 2 on, so it starts at sector
    7 + 2 * 4 = 15: not a multiple of 8 sectors, which makes Linux read it
    in 512-byte blocks (hfsplus_read_wrapper halves the block size until
    the volume's start is aligned to it).
    """
    ablk_size, ablk_start, bitmap_start, embed_start = 2048, 7, 3, 2
    sectors_per_ablk = ablk_size // 512
    nblocks = (size // 512 - ablk_start - 2) // sectors_per_ablk
    embed_count = len(volume) // ablk_size
    assert len(volume) % ablk_size == 0 and embed_start + embed_count <= nblocks
    mdb = bytearray(162)
    struct.pack_into(">2sIIH", mdb, 0, b"BD", DATE, DATE, 0x8000 | 0x0200 | VOLUME_UNMOUNTED)
    struct.pack_into(">HHHHIIHIH", mdb, 0x0C, 0, bitmap_start, 0, nblocks, ablk_size, ablk_size,
                     ablk_start, FIRST_USER_ID, nblocks - embed_start - embed_count)
    name = b"virt-df wrapper"
    mdb[0x24] = len(name)
    mdb[0x25:0x25 + len(name)] = name
    struct.pack_into(">2sHH", mdb, 0x7C, b"H+", embed_start, embed_count)
    image = bytearray(size)
    image[1024:1024 + len(mdb)] = mdb
    image[size - 1024:size - 1024 + len(mdb)] = mdb  # alternate MDB
    # The wrapper's bitmap: its first blocks and the embedded volume are used.
    used = embed_start + embed_count
    bitmap = bytearray(4 * 512)
    for i in range(used):
        bitmap[i // 8] |= 0x80 >> (i % 8)
    image[bitmap_start * 512:bitmap_start * 512 + len(bitmap)] = bitmap
    offset = (ablk_start + embed_start * sectors_per_ablk) * 512
    image[offset:offset + len(volume)] = volume
    return bytes(image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("size", type=int)
    parser.add_argument("block_size", type=int)
    parser.add_argument("--hfsx", action="store_true", help="HFSX ('HX', version 5, binary names)")
    parser.add_argument("--node-size", type=int, default=4096)
    parser.add_argument("--wrapper", action="store_true",
                        help="wrap in an HFS volume of SIZE bytes (the HFS+ volume is smaller)")
    args = parser.parse_args()
    if args.wrapper:
        # The embedded volume: whole 2048-byte HFS blocks from 2 on, a
        # multiple of its own block size, ending before the alternate MDB.
        inner = (args.size - (7 + 2 * 4) * 512 - 1024) // args.block_size * args.block_size
        image = wrap(build_volume(inner, args.block_size, args.hfsx, args.node_size), args.size)
    else:
        image = build_volume(args.size, args.block_size, args.hfsx, args.node_size)
    with open(args.out, "wb") as f:
        f.write(image)


if __name__ == "__main__":
    main()
