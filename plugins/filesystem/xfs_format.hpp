// SPDX-License-Identifier: GPL-2.0-or-later
// XFS on-disk structures and limits, all big-endian except the CRC fields
// (little-endian). Layouts and names from the kernel's
// fs/xfs/libxfs/xfs_format.h (xfs_dsb, xfs_agf, xfs_agi, xfs_btree_block)
// and xfs_log_format.h (xlog_rec_header, xlog_op_header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <boost/endian/buffers.hpp>

namespace vmdf::xfs {

namespace be = boost::endian;

constexpr std::uint32_t kSbMagic = 0x58465342;   // "XFSB"
constexpr std::uint32_t kAgfMagic = 0x58414746;  // "XAGF"
constexpr std::uint32_t kAgiMagic = 0x58414749;  // "XAGI"
constexpr std::uint32_t kFinobtMagic = 0x46494254;     // "FIBT" (v4)
constexpr std::uint32_t kFinobtCrcMagic = 0x46494233;  // "FIB3" (v5)
constexpr std::uint32_t kLogHeaderMagic = 0xFEEDBABE;  // XLOG_HEADER_MAGIC_NUM

// Limits the kernel's superblock verifier enforces (xfs_format.h, xfs_fs.h).
constexpr std::uint32_t kMinBlockLog = 9, kMaxBlockLog = 16;     // 512 B .. 64 KiB
constexpr std::uint32_t kMinCrcBlockSize = 1024;                  // v5
constexpr std::uint32_t kMinSectorLog = 9, kMaxSectorLog = 15;   // 512 B .. 32 KiB
constexpr std::uint32_t kMinInodeLog = 8, kMaxInodeLog = 11;     // 256 B .. 2 KiB
constexpr std::uint64_t kMinAgBytes = 1ull << 24, kMaxAgBytes = 1ull << 40;
constexpr std::uint64_t kMinAgBlocks = 64;
constexpr std::uint64_t kMaxLogBlocks = 1024 * 1024;
constexpr std::uint64_t kMaxLogBytes = (2ull << 30) - 10 * 1024 * 1024;
constexpr std::uint64_t kMinRtExtBytes = 4096, kMaxRtExtBytes = 1ull << 30;
constexpr std::uint32_t kMaxLogRecordBytes = 256 * 1024;    // XLOG_MAX_RECORD_BSIZE
constexpr std::uint32_t kInodesPerChunk = 64;
constexpr std::uint32_t kNullAgBlock = 0xFFFFFFFF;
constexpr std::uint32_t kNullAgIno = 0xFFFFFFFF;
/// XFS_ALLOCBT_AGFL_RESERVE + 4 blocks for a bmbt split, per AG (>= 4.10).
constexpr std::uint64_t kSetAsidePerAg = 8;

// sb_versionnum
constexpr std::uint16_t kVersionNumBits = 0x000F;
constexpr std::uint16_t kVersion4 = 4, kVersion5 = 5;
constexpr std::uint16_t kVersionNlink = 0x0020, kVersionAlign = 0x0080,
                        kVersionDalign = 0x0100, kVersionShared = 0x0200,
                        kVersionLogV2 = 0x0400, kVersionSector = 0x0800,
                        kVersionExtFlg = 0x1000, kVersionDirV2 = 0x2000,
                        kVersionMoreBits = 0x8000;
constexpr std::uint16_t kVersionOkBits = 0xFFFF & ~kVersionShared;
// sb_features2
constexpr std::uint32_t kFeatures2LazySbCount = 0x2, kFeatures2Attr2 = 0x8,
                        kFeatures2ProjId32 = 0x80, kFeatures2Crc = 0x100,
                        kFeatures2Ftype = 0x200;
constexpr std::uint32_t kFeatures2OkBits =
    kFeatures2LazySbCount | kFeatures2Attr2 | kFeatures2ProjId32 | kFeatures2Ftype;
// sb_features_ro_compat
constexpr std::uint32_t kRoCompatFinobt = 0x1, kRoCompatRmapbt = 0x2,
                        kRoCompatReflink = 0x4, kRoCompatInobtCount = 0x8;
constexpr std::uint32_t kRoCompatKnown = 0xF;
// sb_features_incompat, with the names xfs_info uses
constexpr std::uint32_t kIncompatNeedsRepair = 0x10, kIncompatMetadir = 0x100,
                        kIncompatZoned = 0x200, kIncompatSpinodes = 0x2,
                        kIncompatMetaUuid = 0x4;
struct FeatureName {
    std::uint32_t bit;
    const char* name;
};
constexpr FeatureName kIncompatNames[] = {
    {0x1, "ftype"},        {0x2, "sparse"},   {0x4, "meta_uuid"}, {0x8, "bigtime"},
    {0x10, "needsrepair"}, {0x20, "nrext64"}, {0x40, "exchange"}, {0x80, "parent"},
    {0x100, "metadir"},    {0x200, "zoned"},  {0x400, "zone_gaps"},
};
/// What Linux 6.18 mounts (XFS_SB_FEAT_INCOMPAT_ALL).
constexpr std::uint32_t kIncompatKnown = 0x7FF;

// The superblock (struct xfs_dsb), at byte 0 of AG 0; CRC'd over one
// sector (sb_sectsize) on v5.
struct Superblock {
    be::big_uint32_buf_t sb_magicnum;        // 0
    be::big_uint32_buf_t sb_blocksize;       // 4, bytes
    be::big_uint64_buf_t sb_dblocks;         // 8, data blocks
    be::big_uint64_buf_t sb_rblocks;         // 16, realtime blocks
    be::big_uint64_buf_t sb_rextents;        // 24
    std::uint8_t sb_uuid[16];                // 32
    be::big_uint64_buf_t sb_logstart;        // 48, AG-relative fsblock; 0 = external log
    be::big_uint64_buf_t sb_rootino;         // 56
    be::big_uint64_buf_t sb_rbmino;          // 64
    be::big_uint64_buf_t sb_rsumino;         // 72
    be::big_uint32_buf_t sb_rextsize;        // 80, blocks
    be::big_uint32_buf_t sb_agblocks;        // 84
    be::big_uint32_buf_t sb_agcount;         // 88
    be::big_uint32_buf_t sb_rbmblocks;       // 92
    be::big_uint32_buf_t sb_logblocks;       // 96
    be::big_uint16_buf_t sb_versionnum;      // 100
    be::big_uint16_buf_t sb_sectsize;        // 102
    be::big_uint16_buf_t sb_inodesize;       // 104
    be::big_uint16_buf_t sb_inopblock;       // 106
    char sb_fname[12];                       // 108
    std::uint8_t sb_blocklog;                // 120
    std::uint8_t sb_sectlog;                 // 121
    std::uint8_t sb_inodelog;                // 122
    std::uint8_t sb_inopblog;                // 123
    std::uint8_t sb_agblklog;                // 124
    std::uint8_t sb_rextslog;                // 125
    std::uint8_t sb_inprogress;              // 126: mkfs has not finished
    std::uint8_t sb_imax_pct;                // 127
    be::big_uint64_buf_t sb_icount;          // 128 (lazy: stale while mounted)
    be::big_uint64_buf_t sb_ifree;           // 136 (lazy)
    be::big_uint64_buf_t sb_fdblocks;        // 144 (lazy)
    be::big_uint64_buf_t sb_frextents;       // 152
    be::big_uint64_buf_t sb_uquotino;        // 160
    be::big_uint64_buf_t sb_gquotino;        // 168
    be::big_uint16_buf_t sb_qflags;          // 176
    std::uint8_t sb_flags;                   // 178
    std::uint8_t sb_shared_vn;               // 179
    be::big_uint32_buf_t sb_inoalignmt;      // 180
    be::big_uint32_buf_t sb_unit;            // 184, stripe unit in blocks
    be::big_uint32_buf_t sb_width;           // 188
    std::uint8_t sb_dirblklog;               // 192
    std::uint8_t sb_logsectlog;              // 193
    be::big_uint16_buf_t sb_logsectsize;     // 194
    be::big_uint32_buf_t sb_logsunit;        // 196, bytes
    be::big_uint32_buf_t sb_features2;       // 200
    be::big_uint32_buf_t sb_bad_features2;   // 204
    be::big_uint32_buf_t sb_features_compat;       // 208 (v5 from here on)
    be::big_uint32_buf_t sb_features_ro_compat;    // 212
    be::big_uint32_buf_t sb_features_incompat;     // 216
    be::big_uint32_buf_t sb_features_log_incompat; // 220
    be::little_uint32_buf_t sb_crc;          // 224: crc32c of the sector, this field as 0
    be::big_uint32_buf_t sb_spino_align;     // 228
    be::big_uint64_buf_t sb_pquotino;        // 232
    be::big_uint64_buf_t sb_lsn;             // 240
    std::uint8_t sb_meta_uuid[16];           // 248: with the meta_uuid feature
};
static_assert(sizeof(Superblock) == 264 && alignof(Superblock) == 1);
static_assert(std::is_trivially_copyable_v<Superblock>);
static_assert(offsetof(Superblock, sb_logstart) == 48);
static_assert(offsetof(Superblock, sb_agblocks) == 84);
static_assert(offsetof(Superblock, sb_versionnum) == 100);
static_assert(offsetof(Superblock, sb_blocklog) == 120);
static_assert(offsetof(Superblock, sb_icount) == 128);
static_assert(offsetof(Superblock, sb_unit) == 184);
static_assert(offsetof(Superblock, sb_features2) == 200);
static_assert(offsetof(Superblock, sb_features_ro_compat) == 212);
static_assert(offsetof(Superblock, sb_crc) == 224);
static_assert(offsetof(Superblock, sb_meta_uuid) == 248);

// The free-space header (struct xfs_agf), sector 1 of each AG.
struct Agf {
    be::big_uint32_buf_t agf_magicnum;        // 0
    be::big_uint32_buf_t agf_versionnum;      // 4: 1
    be::big_uint32_buf_t agf_seqno;           // 8: AG number
    be::big_uint32_buf_t agf_length;          // 12: blocks in this AG
    be::big_uint32_buf_t agf_bno_root;        // 16 (agf_roots[])
    be::big_uint32_buf_t agf_cnt_root;        // 20
    be::big_uint32_buf_t agf_rmap_root;       // 24
    be::big_uint32_buf_t agf_bno_level;       // 28 (agf_levels[])
    be::big_uint32_buf_t agf_cnt_level;       // 32
    be::big_uint32_buf_t agf_rmap_level;      // 36
    be::big_uint32_buf_t agf_flfirst;         // 40
    be::big_uint32_buf_t agf_fllast;          // 44
    be::big_uint32_buf_t agf_flcount;         // 48: blocks on the free list
    be::big_uint32_buf_t agf_freeblks;        // 52
    be::big_uint32_buf_t agf_longest;         // 56
    be::big_uint32_buf_t agf_btreeblks;       // 60: non-root bnobt+cntbt(+rmapbt) blocks
    std::uint8_t agf_uuid[16];                // 64
    be::big_uint32_buf_t agf_rmap_blocks;     // 80: rmapbt blocks, root included
    be::big_uint32_buf_t agf_refcount_blocks; // 84
    be::big_uint32_buf_t agf_refcount_root;   // 88
    be::big_uint32_buf_t agf_refcount_level;  // 92
    std::uint8_t agf_spare64[112];            // 96
    be::big_uint64_buf_t agf_lsn;             // 208
    be::little_uint32_buf_t agf_crc;          // 216
    be::big_uint32_buf_t agf_spare2;          // 220
};
static_assert(sizeof(Agf) == 224 && alignof(Agf) == 1);
static_assert(offsetof(Agf, agf_flcount) == 48 && offsetof(Agf, agf_btreeblks) == 60);
static_assert(offsetof(Agf, agf_rmap_blocks) == 80 && offsetof(Agf, agf_crc) == 216);

// The inode header (struct xfs_agi), sector 2 of each AG.
struct Agi {
    be::big_uint32_buf_t agi_magicnum;        // 0
    be::big_uint32_buf_t agi_versionnum;      // 4: 1
    be::big_uint32_buf_t agi_seqno;           // 8
    be::big_uint32_buf_t agi_length;          // 12
    be::big_uint32_buf_t agi_count;           // 16: allocated inodes
    be::big_uint32_buf_t agi_root;            // 20
    be::big_uint32_buf_t agi_level;           // 24
    be::big_uint32_buf_t agi_freecount;       // 28
    be::big_uint32_buf_t agi_newino;          // 32
    be::big_uint32_buf_t agi_dirino;          // 36
    be::big_uint32_buf_t agi_unlinked[64];    // 40
    std::uint8_t agi_uuid[16];                // 296
    be::little_uint32_buf_t agi_crc;          // 312
    be::big_uint32_buf_t agi_pad32;           // 316
    be::big_uint64_buf_t agi_lsn;             // 320
    be::big_uint32_buf_t agi_free_root;       // 328: finobt root
    be::big_uint32_buf_t agi_free_level;      // 332
    be::big_uint32_buf_t agi_iblocks;         // 336 (inobtcount)
    be::big_uint32_buf_t agi_fblocks;         // 340 (inobtcount)
};
static_assert(sizeof(Agi) == 344 && alignof(Agi) == 1);
static_assert(offsetof(Agi, agi_freecount) == 28 && offsetof(Agi, agi_crc) == 312);
static_assert(offsetof(Agi, agi_free_root) == 328 && offsetof(Agi, agi_fblocks) == 340);

// A short-form (AG) btree block header (struct xfs_btree_block): 16 bytes
// on v4, 56 with the v5 CRC fields.
struct ShortBtreeBlock {
    be::big_uint32_buf_t bb_magic;       // 0
    be::big_uint16_buf_t bb_level;       // 4: 0 = leaf
    be::big_uint16_buf_t bb_numrecs;     // 6
    be::big_uint32_buf_t bb_leftsib;     // 8
    be::big_uint32_buf_t bb_rightsib;    // 12
    be::big_uint64_buf_t bb_blkno;       // 16 (v5): 512-byte disk address of this block
    be::big_uint64_buf_t bb_lsn;         // 24
    std::uint8_t bb_uuid[16];            // 32
    be::big_uint32_buf_t bb_owner;       // 48: AG number
    be::little_uint32_buf_t bb_crc;      // 52: crc32c of the block, this field as 0
};
static_assert(sizeof(ShortBtreeBlock) == 56 && alignof(ShortBtreeBlock) == 1);
constexpr std::uint32_t kShortBtreeHeaderV4 = 16, kShortBtreeHeaderV5 = 56;

// A log record header (struct xlog_rec_header), one 512-byte basic block.
// Every other basic block of a record starts with the record's cycle
// number instead of its data (which is saved in h_cycle_data).
struct LogRecordHeader {
    be::big_uint32_buf_t h_magicno;      // 0
    be::big_uint32_buf_t h_cycle;        // 4
    be::big_uint32_buf_t h_version;      // 8: 1, or 2 for v2 logs
    be::big_uint32_buf_t h_len;          // 12: data bytes after the header(s)
    be::big_uint64_buf_t h_lsn;          // 16
    be::big_uint64_buf_t h_tail_lsn;     // 24
    be::little_uint32_buf_t h_crc;       // 32
    be::big_uint32_buf_t h_prev_block;   // 36
    be::big_uint32_buf_t h_num_logops;   // 40
    be::big_uint32_buf_t h_cycle_data[64];  // 44
    be::big_uint32_buf_t h_fmt;          // 300
    std::uint8_t h_fs_uuid[16];          // 304
    be::big_uint32_buf_t h_size;         // 320: iclog size; > 32 KiB adds extended headers
};
static_assert(sizeof(LogRecordHeader) == 324 && offsetof(LogRecordHeader, h_fs_uuid) == 304);
constexpr std::uint32_t kLogHeaderCycleSize = 32 * 1024;  // XLOG_HEADER_CYCLE_SIZE
constexpr std::uint32_t kLogVersion2 = 2;

// An operation header (struct xlog_op_header), first in a record's data.
struct LogOpHeader {
    be::big_uint32_buf_t oh_tid;         // 0 (overwritten by the cycle number)
    be::big_uint32_buf_t oh_len;         // 4
    std::uint8_t oh_clientid;            // 8
    std::uint8_t oh_flags;               // 9
    be::big_uint16_buf_t oh_res2;        // 10
};
static_assert(sizeof(LogOpHeader) == 12);
constexpr std::uint8_t kLogUnmountTrans = 0x20;  // XLOG_UNMOUNT_TRANS

}  // namespace vmdf::xfs
