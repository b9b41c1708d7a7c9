// SPDX-License-Identifier: GPL-2.0-or-later
// qcow2 on-disk structures and limits, all big-endian. Layouts and names
// from QEMU's docs/interop/qcow2.txt ("Header", "Header extensions",
// "Cluster mapping", "Extended L2 Entries", "Snapshots"); the limits are
// the ones QEMU's block/qcow2.h enforces when it opens an image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <boost/endian/buffers.hpp>

namespace vmdf::qcow2 {

namespace be = boost::endian;

constexpr std::uint32_t kMagic = 0x514649FB;  // "QFI\xfb"

// cluster_bits: at least 512-byte clusters (spec); QEMU opens at most 2 MiB
// (MAX_CLUSTER_BITS), and extended L2 entries need 16 KiB ones.
constexpr std::uint32_t kMinClusterBits = 9, kMaxClusterBits = 21;
constexpr std::uint32_t kMinExtendedL2ClusterBits = 14;
constexpr std::uint64_t kMaxClusterSize = std::uint64_t{1} << kMaxClusterBits;

constexpr std::uint32_t kV2HeaderLength = 72;
constexpr std::uint32_t kV3MinHeaderLength = 104;
constexpr std::uint32_t kMaxRefcountOrder = 6;
/// Backing file names: "Must not be longer than 1023 bytes".
constexpr std::uint32_t kMaxBackingNameLength = 1023;
/// Backing-format and data-file names (extensions): QEMU keeps the format in
/// a 16-byte buffer; a data file name is a path.
constexpr std::uint32_t kMaxFormatNameLength = 15;
constexpr std::uint32_t kMaxDataFileNameLength = 4096;

/// QCOW_MAX_L1_SIZE: 32 MiB of L1 entries, which covers 2^61 bytes of guest
/// with 2 MiB clusters. Tables are read only as far as the disk size needs.
constexpr std::uint64_t kMaxL1Entries = (32u << 20) / 8;
/// QCOW_MAX_SNAPSHOTS, QCOW_MAX_SNAPSHOT_EXTRA_DATA, QCOW_MAX_SNAPSHOTS_SIZE.
constexpr std::uint32_t kMaxSnapshots = 65536;
constexpr std::uint32_t kMaxSnapshotExtraData = 1024;
constexpr std::uint64_t kMaxSnapshotTableBytes = 64u << 20;

// crypt_method
constexpr std::uint32_t kCryptNone = 0, kCryptAes = 1, kCryptLuks = 2;

// incompatible_features
constexpr std::uint64_t kIncompatDirty = 1u << 0;
constexpr std::uint64_t kIncompatCorrupt = 1u << 1;
constexpr std::uint64_t kIncompatDataFile = 1u << 2;
constexpr std::uint64_t kIncompatCompression = 1u << 3;
constexpr std::uint64_t kIncompatExtendedL2 = 1u << 4;
constexpr std::uint64_t kIncompatKnown = 0x1F;

// compression_type (header byte 104)
constexpr std::uint8_t kCompressionDeflate = 0, kCompressionZstd = 1;

// Header extension types
constexpr std::uint32_t kExtEnd = 0x00000000;
constexpr std::uint32_t kExtBackingFormat = 0xE2792ACA;
constexpr std::uint32_t kExtFeatureTable = 0x6803F857;
constexpr std::uint32_t kExtDataFile = 0x44415441;  // "DATA"

// L1 and L2 entries ("Cluster mapping")
constexpr std::uint64_t kOffsetMask = 0x00FFFFFFFFFFFE00;  // bits 9-55
constexpr std::uint64_t kFlagCopied = std::uint64_t{1} << 63;
constexpr std::uint64_t kFlagCompressed = std::uint64_t{1} << 62;
constexpr std::uint64_t kFlagZero = 1;  // standard descriptor bit 0
/// Extended L2: 32 subclusters; bitmap bits 0-31 allocated, 32-63 zero.
constexpr std::uint32_t kSubclustersPerCluster = 32;
constexpr std::uint64_t kBitmapAllAlloc = 0xFFFFFFFF;

// The header ("Header"): 72 bytes in version 2; version 3 adds the fields
// from 72 on, and header_length says which of them are present.
struct Header {
    be::big_uint32_buf_t magic;                    // 0: "QFI\xfb"
    be::big_uint32_buf_t version;                  // 4: 2 or 3
    be::big_uint64_buf_t backing_file_offset;      // 8: 0 = no backing file
    be::big_uint32_buf_t backing_file_size;        // 16: name length, not NUL-terminated
    be::big_uint32_buf_t cluster_bits;             // 20
    be::big_uint64_buf_t size;                     // 24: virtual disk size, bytes
    be::big_uint32_buf_t crypt_method;             // 32
    be::big_uint32_buf_t l1_size;                  // 36: entries in the active L1
    be::big_uint64_buf_t l1_table_offset;          // 40: cluster aligned
    be::big_uint64_buf_t refcount_table_offset;    // 48
    be::big_uint32_buf_t refcount_table_clusters;  // 56
    be::big_uint32_buf_t nb_snapshots;             // 60
    be::big_uint64_buf_t snapshots_offset;         // 64: cluster aligned
    // version 3
    be::big_uint64_buf_t incompatible_features;  // 72
    be::big_uint64_buf_t compatible_features;    // 80
    be::big_uint64_buf_t autoclear_features;     // 88
    be::big_uint32_buf_t refcount_order;         // 96
    be::big_uint32_buf_t header_length;          // 100
    std::uint8_t compression_type;               // 104: if header_length > 104
    std::uint8_t padding[7];                     // 105
};
static_assert(sizeof(Header) == 112 && alignof(Header) == 1);
static_assert(std::is_trivially_copyable_v<Header>);
static_assert(offsetof(Header, snapshots_offset) == 64 && offsetof(Header, incompatible_features) == 72 &&
              offsetof(Header, header_length) == 100 && offsetof(Header, compression_type) == 104);

// A header extension's head; its data follows, padded to 8 bytes.
struct ExtensionHeader {
    be::big_uint32_buf_t type;    // 0
    be::big_uint32_buf_t length;  // 4: bytes of data, without the padding
};
static_assert(sizeof(ExtensionHeader) == 8 && alignof(ExtensionHeader) == 1);

// One entry of the feature name table (extension 0x6803f857).
struct FeatureNameEntry {
    std::uint8_t type;  // 0: incompatible, 1: compatible, 2: autoclear
    std::uint8_t bit;   // 0-63
    char name[46];      // zero padded, not necessarily terminated
};
static_assert(sizeof(FeatureNameEntry) == 48 && alignof(FeatureNameEntry) == 1);

// The fixed part of a snapshot table entry ("Snapshots"); then extra data,
// the ID string, the name, and padding to 8 bytes.
struct SnapshotHeader {
    be::big_uint64_buf_t l1_table_offset;  // 0
    be::big_uint32_buf_t l1_size;          // 8
    be::big_uint16_buf_t id_str_size;      // 12
    be::big_uint16_buf_t name_size;        // 14
    be::big_uint32_buf_t date_sec;         // 16
    be::big_uint32_buf_t date_nsec;        // 20
    be::big_uint64_buf_t vm_clock_nsec;    // 24
    be::big_uint32_buf_t vm_state_size;    // 32
    be::big_uint32_buf_t extra_data_size;  // 36
};
static_assert(sizeof(SnapshotHeader) == 40 && alignof(SnapshotHeader) == 1);

// The extra data QEMU writes (v3 requires at least these 16 bytes).
struct SnapshotExtra {
    be::big_uint64_buf_t vm_state_size_large;  // 40 in the entry
    be::big_uint64_buf_t disk_size;            // 48: the snapshot's virtual size
};
static_assert(sizeof(SnapshotExtra) == 16 && alignof(SnapshotExtra) == 1);

}  // namespace vmdf::qcow2
