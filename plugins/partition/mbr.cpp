// SPDX-License-Identifier: GPL-2.0-or-later
// MS-DOS MBR partition tables, with extended/logical partitions, numbered as
// Linux numbers them (block/partitions/msdos.c): primaries 1-4, logicals
// from 5 in the order the EBR chain gives them.
#include "plugins/partition/mbr.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include <boost/endian/buffers.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::mbr {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

constexpr std::uint64_t kEntriesOffset = 0x1BE;
constexpr std::uint8_t kTypeGptProtective = 0xEE;
/// Linux's DISK_MAX_PARTS: partitions past this are not made.
constexpr unsigned kMaxPartitions = 256;
/// EBR links followed without finding a data partition (Linux's loopct).
constexpr unsigned kMaxEmptyLinks = 100;

// One 16-byte partition entry (formats.md §4.1). CHS fields are ignored, as
// Linux ignores them.
struct MbrEntry {
    std::uint8_t boot_ind;                // 0x80 active, 0x00 inactive, else not an MBR
    std::uint8_t start_chs[3];
    std::uint8_t sys_ind;                 // partition type
    std::uint8_t end_chs[3];
    be::little_uint32_buf_t start_sect;   // in logical sectors, relative (see EBR rules)
    be::little_uint32_buf_t nr_sects;     // in logical sectors
};
static_assert(sizeof(MbrEntry) == 16 && alignof(MbrEntry) == 1);

// Sector 0 of the disk, and of every extended boot record (EBR).
struct MbrSector {
    std::uint8_t boot_code[440];
    be::little_uint32_buf_t disk_signature;  // 0x1B8
    std::uint8_t reserved[2];
    MbrEntry entries[4];                     // 0x1BE
    std::uint8_t signature[2];               // 0x1FE: 55 AA
};
static_assert(sizeof(MbrSector) == 512);
static_assert(offsetof(MbrSector, entries) == kEntriesOffset);

bool has_signature(const MbrSector& s) { return s.signature[0] == 0x55 && s.signature[1] == 0xAA; }

bool is_extended(std::uint8_t type) { return type == 0x05 || type == 0x0F || type == 0x85; }

/// Neither 0 nor 0x80 in a boot flag: a FAT boot sector, not a table.
bool boot_flags_valid(const MbrSector& s) {
    for (const MbrEntry& e : s.entries)
        if (e.boot_ind != 0x00 && e.boot_ind != 0x80) return false;
    return true;
}

std::string type_name(std::uint8_t type) { return fmt::format("{:#04x}", type); }

Result<Score> probe(const Device& disk) {
    VMDF_TRY_ASSIGN(auto sector, read_struct<MbrSector>(disk, 0));
    if (!has_signature(sector) || !boot_flags_valid(sector)) return kNotMine;
    bool any = false;
    for (const MbrEntry& e : sector.entries) {
        // A protective entry makes this GPT's disk (Linux skips msdos then).
        if (e.sys_ind == kTypeGptProtective) return kNotMine;
        any = any || e.nr_sects.value() != 0;
    }
    // No partitions at all: let the filesystem probes look at the whole disk.
    return any ? 50 : kNotMine;
}

/// Walks the EBR chain of one extended partition (Linux parse_extended):
/// data entries are relative to the current EBR, the link to the next EBR is
/// relative to the start of the outermost extended partition.
void walk_extended(const Device& disk, std::uint64_t sector_size, std::uint64_t ext_start,
                   std::uint64_t ext_size, PartitionTable& table, unsigned& next_number) {
    std::uint64_t this_sector = ext_start;  // in logical sectors
    std::uint64_t this_size = ext_size;
    unsigned empty_links = 0;
    while (next_number <= kMaxPartitions) {
        if (++empty_links > kMaxEmptyLinks) {
            table.warnings.push_back("extended partition chain loops or is too long, stopped");
            return;
        }
        auto offset = checked_mul(this_sector, sector_size);
        auto ebr = offset ? read_struct<MbrSector>(disk, *offset) : fail(Errc::corrupt, "");
        if (!ebr) {
            table.warnings.push_back(fmt::format(
                "extended boot record at sector {} unreadable, logical partitions after it lost",
                this_sector));
            return;
        }
        if (!has_signature(*ebr)) return;  // end of chain, as Linux treats it

        for (unsigned i = 0; i < 4; ++i) {
            const MbrEntry& e = ebr->entries[i];
            const std::uint64_t start = e.start_sect.value(), size = e.nr_sects.value();
            if (size == 0 || is_extended(e.sys_ind)) continue;
            const std::uint64_t first = this_sector + start;
            // Entries 3 and 4 often hold garbage: keep them only if they fit.
            if (i >= 2 && (start + size > this_size || first < ext_start ||
                           first + size > ext_start + ext_size))
                continue;
            table.partitions.push_back(Partition{next_number, first * sector_size,
                                                 size * sector_size, type_name(e.sys_ind), false});
            empty_links = 0;
            if (++next_number > kMaxPartitions) return;
        }
        const MbrEntry* link = nullptr;
        for (const MbrEntry& e : ebr->entries)
            if (e.nr_sects.value() != 0 && is_extended(e.sys_ind)) {
                link = &e;
                break;
            }
        if (!link) return;
        this_sector = ext_start + link->start_sect.value();
        this_size = link->nr_sects.value();
    }
}

Result<PartitionTable> list(const Device& disk) {
    VMDF_TRY_ASSIGN(auto mbr, read_struct<MbrSector>(disk, 0));
    PartitionTable table;
    table.sector_size = disk.block_size();
    const std::uint64_t ss = table.sector_size;

    unsigned next_logical = 5;
    for (unsigned i = 0; i < 4; ++i) {
        const MbrEntry& e = mbr.entries[i];
        const std::uint64_t start = e.start_sect.value(), size = e.nr_sects.value();
        if (size == 0) continue;
        if (is_extended(e.sys_ind)) {
            // Linux makes a tiny device for the container itself; it holds
            // no filesystem, so it is never probed.
            table.partitions.push_back(
                Partition{i + 1, start * ss, std::min<std::uint64_t>(size, 2) * ss,
                          type_name(e.sys_ind), true});
            walk_extended(disk, ss, start, size, table, next_logical);
            continue;
        }
        table.partitions.push_back(
            Partition{i + 1, start * ss, size * ss, type_name(e.sys_ind), false});
    }
    std::stable_sort(table.partitions.begin(), table.partitions.end(),
                     [](const Partition& a, const Partition& b) { return a.number < b.number; });
    return table;
}

constexpr Magic kMagics[] = {{0x1FE, "\x55\xAA"sv}};

}  // namespace
}  // namespace vmdf::mbr

namespace vmdf {
constexpr PartitionPlugin mbr_plugin{"mbr", mbr::kMagics, mbr::probe, mbr::list};
}
