// SPDX-License-Identifier: GPL-2.0-or-later
// Linux swap areas (include/linux/swap.h: union swap_header). Recognised so
// that a swap partition is known for what it is, and, as in virt-df, never
// printed: a swap area has no statfs figures.
#include "plugins/filesystem/swap.hpp"

#include <string_view>

#include <boost/endian/buffers.hpp>
#include <boost/endian/conversion.hpp>
#include <fmt/format.h>

#include "core/byte_reader.hpp"

namespace vmdf::swap {
namespace {

namespace be = boost::endian;
using namespace std::string_view_literals;

/// The signature ends the first page; the page size is the creator's.
constexpr std::uint64_t kPageSizes[] = {4096, 8192, 16384, 65536};
constexpr std::uint64_t kInfoOffset = 1024;

// swap_header.info, in the byte order of the machine that ran mkswap.
struct SwapInfo {
    std::uint8_t version[4];      // 1024: 1
    std::uint8_t last_page[4];    // 1028: the last usable page
    std::uint8_t nr_badpages[4];  // 1032
    std::uint8_t sws_uuid[16];    // 1036
    std::uint8_t sws_volume[16];  // 1052
};
static_assert(sizeof(SwapInfo) == 44);

std::uint32_t load(const std::uint8_t (&raw)[4], bool big_endian) {
    return big_endian ? be::load_big_u32(raw) : be::load_little_u32(raw);
}

/// The page size whose last 10 bytes hold a swap or hibernation signature.
Result<std::uint64_t> find_page_size(const Device& dev) {
    for (std::uint64_t page : kPageSizes) {
        char sig[10];
        if (!dev.read(page - sizeof sig, std::as_writable_bytes(std::span{sig}))) continue;
        const std::string_view s(sig, sizeof sig);
        // Hibernation images are written over a swap signature.
        if (s == "SWAPSPACE2" || s == "SWAP-SPACE" || s.starts_with("S1SUSPEND") ||
            s.starts_with("S2SUSPEND") || s.starts_with("ULSUSPEND") || s == "LINHIB0001")
            return page;
    }
    return std::uint64_t{0};
}

Result<Score> probe(const Device& dev) {
    VMDF_TRY_ASSIGN(auto page, find_page_size(dev));
    return page ? kCertain : kNotMine;
}

Result<Filesystem> open(const Device& dev, const FilesystemContext&) {
    VMDF_TRY_ASSIGN(auto page, find_page_size(dev));
    Filesystem fs;
    fs.type = "swap";
    fs.listed = false;
    VMDF_TRY_ASSIGN(auto info, read_struct<SwapInfo>(dev, kInfoOffset));
    // The kernel byte-swaps the header when the version looks swapped.
    const bool big = load(info.version, false) != 1 && load(info.version, true) == 1;
    const std::uint64_t last_page = load(info.last_page, big);
    const std::uint64_t bad = load(info.nr_badpages, big);
    // Page 0 is the header: usable pages are 1..last_page, less bad ones.
    fs.stat.bsize = fs.stat.frsize = page;
    fs.stat.blocks = last_page;
    fs.stat.bfree = fs.stat.bavail = last_page > bad ? last_page - bad : 0;
    return fs;
}

constexpr Magic kMagics[] = {
    {4086, "SWAPSPACE2"sv}, {8182, "SWAPSPACE2"sv}, {16374, "SWAPSPACE2"sv}, {65526, "SWAPSPACE2"sv},
    {4086, "SWAP-SPACE"sv}, {8182, "SWAP-SPACE"sv}, {16374, "SWAP-SPACE"sv}, {65526, "SWAP-SPACE"sv},
    {4086, "S1SUSPEND"sv},  {4086, "S2SUSPEND"sv},  {4086, "ULSUSPEND"sv},   {4086, "LINHIB0001"sv},
};

}  // namespace
}  // namespace vmdf::swap

namespace vmdf {
constexpr FilesystemPlugin swap_plugin{"swap", swap::kMagics, swap::probe, swap::open};
}
