// SPDX-License-Identifier: GPL-2.0-or-later
// GUID Partition Tables (UEFI spec 2.10 §5.3), validated as Linux validates
// them (block/partitions/efi.c): a protective MBR is required, the primary
// header is preferred, the backup is used when the primary is bad. The
// logical sector size is found by where "EFI PART" is (formats.md §4.4).
#include "plugins/partition/gpt.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/crc32.hpp"

namespace vmdf::gpt {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint8_t kTypeGptProtective = 0xEE;
constexpr std::uint32_t kEntrySize = 128;  // Linux accepts no other size
/// The entry array is read whole to check its CRC: refuse absurd ones.
constexpr std::uint64_t kMaxEntryArrayBytes = 4 << 20;
/// Linux's DISK_MAX_PARTS: entries past it never become devices.
constexpr std::uint32_t kMaxPartitions = 256;

// UEFI §5.3.2 GPT Header.
struct GptHeader {
    char signature[8];                                   // "EFI PART"
    be::little_uint32_buf_t revision;                    // 0x00010000
    be::little_uint32_buf_t header_size;                 // 92 <= n <= logical sector size
    be::little_uint32_buf_t header_crc32;                // over header_size bytes, this field 0
    be::little_uint32_buf_t reserved;
    be::little_uint64_buf_t my_lba;                      // 24: where this header is
    be::little_uint64_buf_t alternate_lba;               // 32: where the other one is
    be::little_uint64_buf_t first_usable_lba;            // 40
    be::little_uint64_buf_t last_usable_lba;             // 48
    std::uint8_t disk_guid[16];                          // 56
    be::little_uint64_buf_t partition_entry_lba;         // 72
    be::little_uint32_buf_t num_partition_entries;       // 80
    be::little_uint32_buf_t sizeof_partition_entry;      // 84
    be::little_uint32_buf_t partition_entry_array_crc32; // 88
};
static_assert(sizeof(GptHeader) == 92 && alignof(GptHeader) == 1);
static_assert(offsetof(GptHeader, my_lba) == 24);
static_assert(offsetof(GptHeader, partition_entry_lba) == 72);

// UEFI §5.3.3 GPT Partition Entry.
struct GptEntry {
    std::uint8_t partition_type_guid[16];  // all zero: unused
    std::uint8_t unique_partition_guid[16];
    be::little_uint64_buf_t starting_lba;  // 32
    be::little_uint64_buf_t ending_lba;    // 40, inclusive
    be::little_uint64_buf_t attributes;    // 48
    std::uint8_t partition_name[72];       // 56, UTF-16LE
};
static_assert(sizeof(GptEntry) == kEntrySize);
static_assert(offsetof(GptEntry, starting_lba) == 32);

struct MbrEntry {
    std::uint8_t boot_ind, start_chs[3], sys_ind, end_chs[3];
    be::little_uint32_buf_t start_sect, nr_sects;
};
struct ProtectiveMbr {
    std::uint8_t boot_code[446];
    MbrEntry entries[4];
    std::uint8_t signature[2];
};
static_assert(sizeof(ProtectiveMbr) == 512);

/// Partition types libguestfs list_filesystems never looks into: Microsoft
/// reserved, LDM metadata and data, and the Windows shadow-copy partition.
constexpr std::string_view kNotProbedTypes[] = {
    "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
    "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3",
    "AF9B60A0-1431-4F62-BC68-3311714A69AD",
    "CADDEBF1-4400-4DE8-B103-12117DCF3CCF",
};

/// A header found valid, with its entries.
struct ValidTable {
    GptHeader header;
    std::vector<std::byte> entries;
    /// Set when the table is sound but describes a larger disk than this
    /// one: a truncated image, or a disk shrunk after partitioning.
    std::string larger_disk;
};

/// Linux is_gpt_valid(): the header at `lba` and its entry array.
Result<ValidTable> read_table(const Device& disk, std::uint64_t sector_size, std::uint64_t lba) {
    const std::uint64_t last_lba = disk.size() / sector_size - 1;
    const std::uint64_t offset = lba * sector_size;
    VMDF_TRY_ASSIGN(auto sector, read_bytes(disk, offset, sector_size, sector_size));
    VMDF_TRY_ASSIGN(auto header, ByteReader(sector, offset).at<GptHeader>(0));
    if (std::string_view(header.signature, 8) != "EFI PART")
        return failf(Errc::corrupt, offset, "no \"EFI PART\" signature at LBA {}", lba);
    const std::uint32_t header_size = header.header_size.value();
    if (header_size < sizeof(GptHeader) || header_size > sector_size)
        return failf(Errc::corrupt, offset + 12, "header size {} out of range (92 to {})",
                     header_size, sector_size);
    std::vector<std::byte> crc_input(sector.begin(), sector.begin() + header_size);
    std::fill_n(crc_input.begin() + offsetof(GptHeader, header_crc32), 4, std::byte{0});
    if (crc32_ieee(crc_input) != header.header_crc32.value())
        return failf(Errc::corrupt, offset + 16, "header CRC mismatch (stored {:#010x}, computed {:#010x})",
                     header.header_crc32.value(), crc32_ieee(crc_input));
    if (header.my_lba.value() != lba)
        return failf(Errc::corrupt, offset + 24, "MyLBA {} is not the LBA it was read from ({})",
                     header.my_lba.value(), lba);
    const std::uint64_t first = header.first_usable_lba.value(), last = header.last_usable_lba.value();
    if (last < first)
        return failf(Errc::corrupt, offset + 40, "usable LBAs {}..{} are reversed", first, last);
    std::string larger_disk;
    if (last > last_lba)
        larger_disk = fmt::format("the GPT describes a disk of at least {} sectors, this one has {}",
                                  last + 1, last_lba + 1);
    if (header.sizeof_partition_entry.value() != kEntrySize)
        return failf(Errc::unsupported, offset + 84, "partition entry size {} (only {} is used)",
                     header.sizeof_partition_entry.value(), kEntrySize);
    const std::uint64_t count = header.num_partition_entries.value();
    if (count == 0) return failf(Errc::corrupt, offset + 80, "no partition entries");
    const std::uint64_t array_bytes = count * kEntrySize;
    if (array_bytes > kMaxEntryArrayBytes)
        return failf(Errc::corrupt, offset + 80, "{} partition entries exceed the limit of {}",
                     count, kMaxEntryArrayBytes / kEntrySize);
    auto array_offset = checked_mul(header.partition_entry_lba.value(), sector_size);
    if (!array_offset)
        return failf(Errc::corrupt, offset + 72, "entry array LBA {} out of range",
                     header.partition_entry_lba.value());
    VMDF_TRY_ASSIGN(auto entries, read_bytes(disk, *array_offset, array_bytes, kMaxEntryArrayBytes));
    if (crc32_ieee(entries) != header.partition_entry_array_crc32.value())
        return failf(Errc::corrupt, *array_offset, "partition entry array CRC mismatch");
    return ValidTable{header, std::move(entries), std::move(larger_disk)};
}

bool has_protective_entry(const Device& disk) {
    auto mbr = read_struct<ProtectiveMbr>(disk, 0);
    if (!mbr || mbr->signature[0] != 0x55 || mbr->signature[1] != 0xAA) return false;
    // Linux is_pmbr_valid(): an 0xEE entry that starts at LBA 1 (hybrid
    // MBRs have other entries beside it; GPT still wins).
    for (const MbrEntry& e : mbr->entries)
        if (e.sys_ind == kTypeGptProtective && e.start_sect.value() == 1) return true;
    return false;
}

Result<Score> probe(const Device& disk) { return has_protective_entry(disk) ? kCertain : kNotMine; }

/// The sector sizes to try: the device's own first, then the usual others.
std::vector<std::uint64_t> candidate_sector_sizes(const Device& disk) {
    std::vector<std::uint64_t> sizes{disk.block_size()};
    for (std::uint64_t s : {512u, 4096u})
        if (s != disk.block_size()) sizes.push_back(s);
    return sizes;
}

/// Why no header was found at one place; a header whose signature was there
/// says more than a sector size that was wrong.
struct Problem {
    std::string text;
    bool signature_seen = false;

    void keep(const Error& error) {
        const bool seen = error.message.find("signature") == std::string::npos;
        if (text.empty() || (seen && !signature_seen)) {
            text = error.to_string();
            signature_seen = seen;
        }
    }
};

Result<PartitionTable> list(const Device& disk) {
    std::optional<ValidTable> table;
    std::uint64_t sector_size = 0;
    std::vector<std::string> warnings;
    Problem primary_problem, backup_problem;

    // Linux refuses a table whose usable LBAs run past the disk. A truncated
    // image still holds whole partitions worth reporting, so such a primary
    // is kept in reserve and used, with a warning, if no backup is valid.
    std::optional<ValidTable> oversized;
    std::uint64_t oversized_sector_size = 0;
    for (std::uint64_t ss : candidate_sector_sizes(disk)) {
        if (disk.size() / ss < 3) continue;
        auto primary = read_table(disk, ss, 1);
        if (primary && primary->larger_disk.empty()) {
            table = std::move(*primary);
            sector_size = ss;
            break;
        }
        if (primary) {
            primary_problem.text = primary->larger_disk;
            primary_problem.signature_seen = true;
            oversized = std::move(*primary);
            oversized_sector_size = ss;
            continue;
        }
        primary_problem.keep(primary.error());
    }
    if (!table) {
        for (std::uint64_t ss : candidate_sector_sizes(disk)) {
            if (disk.size() / ss < 3) continue;
            auto backup = read_table(disk, ss, disk.size() / ss - 1);
            if (backup && backup->larger_disk.empty()) {
                table = std::move(*backup);
                sector_size = ss;
                warnings.push_back(fmt::format("primary GPT header is bad ({}), using the backup",
                                               primary_problem.text));
                break;
            }
            if (!backup) backup_problem.keep(backup.error());
        }
    }
    if (!table && oversized) {
        warnings.push_back(oversized->larger_disk + " (truncated image?): partitions past the end are cut or dropped");
        table = std::move(oversized);
        sector_size = oversized_sector_size;
    }
    if (!table) {
        // Too short for a protective MBR, a header and a backup at every
        // sector size: nothing was read to complain about.
        if (primary_problem.text.empty() && backup_problem.text.empty())
            return failf(Errc::corrupt, std::nullopt,
                         "no valid GPT header: the disk ({} bytes) is too small to hold one",
                         disk.size());
        return failf(Errc::corrupt, std::nullopt, "no valid GPT header: primary: {}; backup: {}",
                     primary_problem.text, backup_problem.text);
    }

    PartitionTable result;
    result.sector_size = static_cast<std::uint32_t>(sector_size);
    result.warnings = std::move(warnings);
    const std::uint64_t last_lba = disk.size() / sector_size - 1;
    const std::uint32_t count =
        std::min(table->header.num_partition_entries.value(), kMaxPartitions - 1);
    ByteReader entries(table->entries, table->header.partition_entry_lba.value() * sector_size);
    for (std::uint32_t i = 0; i < count; ++i) {
        VMDF_TRY_ASSIGN(auto entry, entries.at<GptEntry>(std::uint64_t{i} * kEntrySize));
        std::array<std::uint8_t, 16> type{};
        std::copy(std::begin(entry.partition_type_guid), std::end(entry.partition_type_guid),
                  type.begin());
        if (type == std::array<std::uint8_t, 16>{}) continue;  // unused slot
        const std::uint64_t start = entry.starting_lba.value(), end = entry.ending_lba.value();
        // Linux is_pte_valid() skips an entry past the last LBA; it keeps its
        // number for the ones after it. One that only ends past the disk is
        // passed on, for the scan to cut it and say so (truncated images).
        if (start > last_lba || end < start) {
            result.warnings.push_back(fmt::format(
                "partition {} (LBA {}..{}) lies outside the disk, skipped", i + 1, start, end));
            continue;
        }
        std::string type_guid = guid_to_string(type);
        bool not_probed = std::find(std::begin(kNotProbedTypes), std::end(kNotProbedTypes),
                                    type_guid) != std::end(kNotProbedTypes);
        result.partitions.push_back(Partition{i + 1, start * sector_size,
                                              (end - start + 1) * sector_size,
                                              std::move(type_guid), not_probed});
    }
    return result;
}

constexpr Magic kMagics[] = {{0x1FE, "\x55\xAA"sv}};

}  // namespace

std::string guid_to_string(const std::array<std::uint8_t, 16>& g) {
    return fmt::format("{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-"
                       "{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
                       g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11],
                       g[12], g[13], g[14], g[15]);
}

}  // namespace vmdf::gpt

namespace vmdf {
constexpr PartitionPlugin gpt_plugin{"gpt", gpt::kMagics, gpt::probe, gpt::list};
}
