// SPDX-License-Identifier: GPL-2.0-or-later
// UFS1 and UFS2 (the BSD fast filesystem, FFS), in either byte order, with
// the figures Linux's ufs driver reports (fs/ufs/super.c: ufs_statfs;
// statfs.md §7): the fragment size as block size, fs_dsize fragments in
// all, free = whole free blocks in fragments plus free fragments (the
// superblock's summary totals, fs_cstotal), minus fs_minfree percent of
// fs_dsize for non-root users; inodes = fs_ncg * fs_ipg, free = cs_nifree.
//
// Which ufstype. Linux reads UFS only with the ufstype= mount option that
// fits the filesystem, and without one takes ufstype=old, which looks for a
// superblock at 8192 only and reads the 32-bit fs_cstotal. libguestfs's
// inspection mounts UFS as ufstype=ufs2 (superblock at 65536) and, if that
// fails, ufstype=44bsd (at 8192); libguestfs virt-df's own mount_ro passes
// no ufstype. Decision: these figures are those of the mount that fits,
// as inspection makes it (ufs2, then 44bsd): a UFS2 superblock is read at
// 65536, a UFS1 one at 8192, the only places those types look, and the
// free counts come from the totals ufs_setup_cstotal picks for that type.
// What libguestfs virt-df shows differs in two ways: a UFS2 filesystem does
// not mount as ufstype=old, so it has no row there at all; and a UFS1 one
// is read from the 32-bit fs_cstotal, where 44bsd reads the 64-bit totals
// if fs_maxbsize = fs_bsize (FreeBSD 5 and later, NetBSD). Both sets of
// totals are kept equal by the BSDs and makefs, so the figures are the
// same unless a writer let them drift apart. The superblock is validated
// as ufs_fill_super validates it.
#include "plugins/filesystem/ufs.hpp"

#include <bit>
#include <cstring>
#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::ufs {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

/// Where ufs_fill_super reads the superblock: UFS_SBLOCK for 44bsd,
/// SBLOCK_UFS2 for ufs2.
constexpr std::uint64_t kUfs1Offset = 8192, kUfs2Offset = 65536;
constexpr std::uint32_t kUfs1Magic = 0x00011954, kUfs2Magic = 0x19540119;
constexpr std::uint64_t kMagicOffset = 1372;  // fs_magic
/// Fragments 512 B to 4 KiB, blocks of at least 4 KiB and at most 8
/// fragments (ufs_fill_super).
constexpr std::uint32_t kMinFragment = 512, kMaxFragment = 4096, kMinBlock = 4096;
constexpr std::uint32_t kMaxFragsPerBlock = 8;
/// The superblock is read as at most UFS_MAXFRAG fragments; fs_magic must be
/// inside what is read.
constexpr std::uint32_t kMaxFrag = 8;
/// fs_postblformat of 4.2BSD's static rotational tables, which
/// ufstype=44bsd refuses.
constexpr std::int32_t k42PostblFormat = -1;
/// fs_clean when the filesystem was not unmounted cleanly.
constexpr std::uint8_t kFsActive = 0;

/// A 32- or 64-bit field in either byte order.
template <class Le, class Be>
struct Field {
    std::uint8_t raw[sizeof(Le)];
    auto value(bool big) const {
        if (big) {
            Be v;
            std::memcpy(&v, raw, sizeof raw);
            return v.value();
        }
        Le v;
        std::memcpy(&v, raw, sizeof raw);
        return v.value();
    }
};
using U32 = Field<be::little_uint32_buf_t, be::big_uint32_buf_t>;
using U64 = Field<be::little_uint64_buf_t, be::big_uint64_buf_t>;
using S32 = Field<be::little_int32_buf_t, be::big_int32_buf_t>;

// The superblock's first 1376 bytes (struct ufs_super_block_first, _second
// and _third of fs/ufs/ufs_fs.h; FreeBSD's struct fs).
struct SuperBlock {
    std::uint8_t pad_0[12];
    U32 cblkno;               // 0x00C (not used here)
    std::uint8_t pad_10[0x24 - 0x10];
    U32 size;                 // 0x024: fragments (UFS1)
    U32 dsize;                // 0x028: data fragments (UFS1)
    U32 ncg;                  // 0x02C: cylinder groups
    U32 bsize;                // 0x030
    U32 fsize;                // 0x034
    U32 frag;                 // 0x038: fragments per block
    U32 minfree;              // 0x03C: percent kept for root
    std::uint8_t pad_40[0x60 - 0x40];
    U32 fragshift;            // 0x060: log2(frag)
    std::uint8_t pad_64[4];
    U32 sbsize;               // 0x068: bytes of superblock
    std::uint8_t pad_6c[0xB8 - 0x6C];
    U32 ipg;                  // 0x0B8: inodes per group
    U32 fpg;                  // 0x0BC
    U32 old_cs_ndir;          // 0x0C0: fs_cstotal of UFS1 (32-bit)
    U32 old_cs_nbfree;        // 0x0C4
    U32 old_cs_nifree;        // 0x0C8
    U32 old_cs_nffree;        // 0x0CC
    std::uint8_t fmod;        // 0x0D0
    std::uint8_t clean;       // 0x0D1
    std::uint8_t pad_d2[0x35C - 0xD2];
    U32 maxbsize;             // 0x35C: = fs_bsize once the 64-bit totals are kept
    std::uint8_t pad_360[0x3F0 - 0x360];
    U64 cs_ndir;              // 0x3F0: fs_cstotal of UFS2 / updated UFS1 (64-bit)
    U64 cs_nbfree;            // 0x3F8
    U64 cs_nifree;            // 0x400
    U64 cs_nffree;            // 0x408
    std::uint8_t pad_410[0x438 - 0x410];
    U64 size64;               // 0x438: fragments (UFS2)
    U64 dsize64;              // 0x440: data fragments (UFS2)
    std::uint8_t pad_448[0x54C - 0x448];
    S32 postblformat;         // 0x54C
    std::uint8_t pad_550[0x55C - 0x550];
    U32 magic;                // 0x55C
};
static_assert(sizeof(SuperBlock) == 1376 && alignof(SuperBlock) == 1);
static_assert(offsetof(SuperBlock, dsize) == 40);
static_assert(offsetof(SuperBlock, ipg) == 184);
static_assert(offsetof(SuperBlock, old_cs_ndir) == 192);
static_assert(offsetof(SuperBlock, maxbsize) == 860);
static_assert(offsetof(SuperBlock, cs_ndir) == 1008);
static_assert(offsetof(SuperBlock, size64) == 1080);
static_assert(offsetof(SuperBlock, postblformat) == 1356);
static_assert(offsetof(SuperBlock, magic) == kMagicOffset);

/// A superblock found where Linux looks for it, and its byte order.
struct Found {
    SuperBlock sb;
    std::uint64_t offset;
    bool ufs2;
    bool big;
};

/// The magic at `offset`, little-endian first as ufs_fill_super tries it.
Result<std::optional<Found>> find_at(const Device& dev, std::uint64_t offset, std::uint32_t magic,
                                     bool ufs2) {
    if (dev.size() < offset + sizeof(SuperBlock)) return std::optional<Found>{};
    VMDF_TRY_ASSIGN(const SuperBlock sb, read_struct<SuperBlock>(dev, offset));
    for (const bool big : {false, true})
        if (sb.magic.value(big) == magic) return std::optional<Found>{Found{sb, offset, ufs2, big}};
    return std::optional<Found>{};
}

/// ufstype=ufs2 first, then 44bsd, as libguestfs's inspection mounts.
Result<std::optional<Found>> find(const Device& dev) {
    VMDF_TRY_ASSIGN(auto ufs2, find_at(dev, kUfs2Offset, kUfs2Magic, true));
    if (ufs2) return ufs2;
    return find_at(dev, kUfs1Offset, kUfs1Magic, false);
}

bool is_power_of_2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

Failure bad_field(const Found& f, std::size_t field, std::string message) {
    return fail(Errc::corrupt, std::move(message), f.offset + field);
}

Result<Filesystem> figures(const Device& dev, const Found& f) {
    const SuperBlock& sb = f.sb;
    const bool big = f.big;
    const std::uint32_t fsize = sb.fsize.value(big), bsize = sb.bsize.value(big);
    // The checks of ufs_fill_super, in its order.
    if (!is_power_of_2(fsize) || fsize < kMinFragment || fsize > kMaxFragment)
        return bad_field(f, offsetof(SuperBlock, fsize), fmt::format("fragment size {} invalid", fsize));
    if (!is_power_of_2(bsize) || bsize < kMinBlock)
        return bad_field(f, offsetof(SuperBlock, bsize), fmt::format("block size {} invalid", bsize));
    if (bsize / fsize > kMaxFragsPerBlock)
        return bad_field(f, offsetof(SuperBlock, bsize),
                         fmt::format("{} fragments per block, more than {}", bsize / fsize,
                                     kMaxFragsPerBlock));
    const std::uint32_t sbsize = sb.sbsize.value(big);
    if (sbsize < sizeof(SuperBlock) || sbsize > kMaxFrag * fsize)
        return bad_field(f, offsetof(SuperBlock, sbsize), fmt::format("superblock size {} invalid", sbsize));
    if (!f.ufs2 && sb.postblformat.value(big) == k42PostblFormat)
        return fail(Errc::unsupported,
                    "4.2BSD rotational tables: Linux mounts this only as ufstype=old",
                    f.offset + offsetof(SuperBlock, postblformat));
    // What the kernel takes on trust but is needed to make sense of the
    // figures: the fragment shift matches, and the counts fit.
    const std::uint32_t frag = bsize / fsize;
    if (sb.frag.value(big) != frag || sb.fragshift.value(big) != static_cast<std::uint32_t>(std::countr_zero(frag)))
        return bad_field(f, offsetof(SuperBlock, fragshift),
                         fmt::format("{} fragments per block (shift {}) do not match {}-byte blocks "
                                     "of {}-byte fragments",
                                     sb.frag.value(big), sb.fragshift.value(big), bsize, fsize));
    const std::uint32_t ncg = sb.ncg.value(big), ipg = sb.ipg.value(big);
    if (ncg == 0) return bad_field(f, offsetof(SuperBlock, ncg), "no cylinder groups");

    const std::size_t size_field = f.ufs2 ? offsetof(SuperBlock, size64) : offsetof(SuperBlock, size);
    const std::uint64_t size = f.ufs2 ? sb.size64.value(big) : sb.size.value(big);
    const std::uint64_t dsize = f.ufs2 ? sb.dsize64.value(big) : sb.dsize.value(big);
    if (dsize > size)
        return bad_field(f, f.ufs2 ? offsetof(SuperBlock, dsize64) : offsetof(SuperBlock, dsize),
                         fmt::format("{} data fragments, more than the {} in all", dsize, size));
    const auto bytes = checked_mul(size, fsize);
    if (!bytes || *bytes > dev.size())
        return failf(Errc::truncated, f.offset + size_field,
                     "{} fragments of {} bytes exceed the size of the device ({} bytes)", size, fsize,
                     dev.size());
    if (fsize < dev.block_size())
        return fail(Errc::unsupported,
                    fmt::format("{}-byte fragments are smaller than the disk's {}-byte sectors: "
                                "Linux cannot mount this",
                                fsize, dev.block_size()),
                    f.offset + offsetof(SuperBlock, fsize));

    // ufs_setup_cstotal: UFS2, and a UFS1 whose fs_maxbsize says the
    // 64-bit totals are kept (FreeBSD 5 and later, NetBSD), use the 64-bit
    // fs_cstotal; older UFS1 the 32-bit one.
    const bool wide = f.ufs2 || sb.maxbsize.value(big) == bsize;
    const std::uint64_t nbfree = wide ? sb.cs_nbfree.value(big) : sb.old_cs_nbfree.value(big);
    const std::uint64_t nffree = wide ? sb.cs_nffree.value(big) : sb.old_cs_nffree.value(big);
    const std::uint64_t nifree = wide ? sb.cs_nifree.value(big) : sb.old_cs_nifree.value(big);
    const std::size_t nbfree_field =
        wide ? offsetof(SuperBlock, cs_nbfree) : offsetof(SuperBlock, old_cs_nbfree);
    // ufs_freefrags: blocks in fragments (a shift by fs_fragshift) plus
    // loose fragments.
    const auto block_frags = checked_mul(nbfree, frag);
    const auto free = block_frags ? checked_add(*block_frags, nffree) : std::nullopt;
    if (!free || *free > dsize)
        return bad_field(f, nbfree_field,
                         fmt::format("{} free blocks and {} free fragments exceed the {} data "
                                     "fragments",
                                     nbfree, nffree, dsize));
    // f_files is s_ncg * s_ipg, both __u32: the product wraps at 32 bits.
    const std::uint32_t files = ncg * ipg;
    if (nifree > std::uint64_t{ncg} * ipg)
        return bad_field(f, wide ? offsetof(SuperBlock, cs_nifree) : offsetof(SuperBlock, old_cs_nifree),
                         fmt::format("{} free inodes, more than the {} of {} groups of {}", nifree,
                                     std::uint64_t{ncg} * ipg, ncg, ipg));
    // s_root_blocks = mul_u64_u32_div(s_dsize, s_minfree, 100), exact:
    // dsize = 100q + r, so dsize * minfree / 100 = q * minfree + r * minfree / 100.
    // Past 64 bits it is more than any free count, and nothing is available.
    const std::uint32_t minfree = sb.minfree.value(big);
    const auto root_q = checked_mul(dsize / 100, minfree);
    const auto root = root_q ? checked_add(*root_q, dsize % 100 * minfree / 100) : std::nullopt;

    Filesystem fs;
    fs.type = "ufs";
    StatVfs& st = fs.stat;
    st.bsize = st.frsize = fsize;  // sb->s_blocksize: the fragment size
    st.blocks = dsize;
    st.bfree = *free;
    st.bavail = root && *free > *root ? *free - *root : 0;
    st.files = files;
    st.ffree = nifree;
    if (sb.clean == kFsActive)
        fs.warnings.push_back(
            "not cleanly unmounted (fs_clean 0): the free counts of the superblock, which these "
            "figures are, may be stale until fsck");
    return fs;
}

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(const auto found, find(dev));
    if (!found) return kNotMine;
    const std::uint32_t fsize = found->sb.fsize.value(found->big);
    const std::uint32_t bsize = found->sb.bsize.value(found->big);
    // A magic alone is four bytes: a plausible geometry makes it certain.
    return is_power_of_2(fsize) && is_power_of_2(bsize) && bsize >= fsize ? kCertain : 50;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(const auto found, find(dev));
    if (!found) return fail(Errc::corrupt, "no UFS superblock at 65536 (UFS2) or 8192 (UFS1)");
    return figures(dev, *found);
}

constexpr Magic kMagics[] = {
    {kUfs1Offset + kMagicOffset, "\x54\x19\x01\x00"sv},  // UFS1, little-endian
    {kUfs1Offset + kMagicOffset, "\x00\x01\x19\x54"sv},  // UFS1, big-endian
    {kUfs2Offset + kMagicOffset, "\x19\x01\x54\x19"sv},  // UFS2, little-endian
    {kUfs2Offset + kMagicOffset, "\x19\x54\x01\x19"sv},  // UFS2, big-endian
};

}  // namespace
}  // namespace vmdf::ufs

namespace vmdf {
constexpr FilesystemPlugin ufs_plugin{"ufs", ufs::kMagics, ufs::probe, ufs::open};
}
