// SPDX-License-Identifier: GPL-2.0-or-later
// Builds small disk images in memory for tests (our yaml2obj): bytes and
// little-endian integers at offsets, then a MemoryDevice.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/crc32.hpp"
#include "core/device.hpp"

namespace vmdf::test {

class ImageBuilder {
public:
    explicit ImageBuilder(std::uint64_t size) : bytes_(size) {}

    ImageBuilder& put(std::uint64_t offset, std::string_view data) {
        std::memcpy(bytes_.data() + offset, data.data(), data.size());
        return *this;
    }
    ImageBuilder& u8(std::uint64_t offset, std::uint8_t v) {
        bytes_[offset] = std::byte{v};
        return *this;
    }
    ImageBuilder& le16(std::uint64_t offset, std::uint16_t v) { return le(offset, v, 2); }
    ImageBuilder& le32(std::uint64_t offset, std::uint32_t v) { return le(offset, v, 4); }
    ImageBuilder& le64(std::uint64_t offset, std::uint64_t v) { return le(offset, v, 8); }

    /// An MBR-style 16-byte entry at `table_offset` + 16 * index.
    ImageBuilder& mbr_entry(std::uint64_t table_offset, int index, std::uint8_t type,
                            std::uint32_t start, std::uint32_t count, std::uint8_t boot = 0) {
        const std::uint64_t e = table_offset + 0x1BE + 16 * static_cast<std::uint64_t>(index);
        u8(e, boot).u8(e + 4, type).le32(e + 8, start).le32(e + 12, count);
        return u8(table_offset + 510, 0x55).u8(table_offset + 511, 0xAA);
    }

    std::uint32_t crc32(std::uint64_t offset, std::uint64_t length) const {
        return crc32_ieee(std::span(bytes_).subspan(offset, length));
    }

    std::vector<std::byte>& bytes() { return bytes_; }

    std::shared_ptr<MemoryDevice> device(std::string name = "mem", std::uint32_t block_size = 512) const {
        return std::make_shared<MemoryDevice>(std::move(name), bytes_, block_size);
    }

private:
    ImageBuilder& le(std::uint64_t offset, std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) bytes_[offset + static_cast<std::uint64_t>(i)] = std::byte(v >> (8 * i) & 0xFF);
        return *this;
    }
    std::vector<std::byte> bytes_;
};

/// A GPT (protective MBR, primary and backup headers and arrays) with
/// 128-byte entries, valid CRCs. Entries: (type GUID bytes, first, last LBA).
struct GptEntrySpec {
    std::array<std::uint8_t, 16> type;
    std::uint64_t first_lba, last_lba;
};

inline constexpr std::array<std::uint8_t, 16> kLinuxDataGuid = {
    0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4};
inline constexpr std::array<std::uint8_t, 16> kMsReservedGuid = {
    0x16, 0xE3, 0xC9, 0xE3, 0x5C, 0x0B, 0xB8, 0x4D, 0x81, 0x7D, 0xF9, 0x2D, 0xF0, 0x02, 0x15, 0xAE};

inline void write_gpt_header(ImageBuilder& b, std::uint64_t ss, std::uint64_t lba,
                             std::uint64_t alternate, std::uint64_t array_lba,
                             std::uint64_t last_lba, std::uint32_t entries) {
    const std::uint64_t h = lba * ss;
    b.put(h, "EFI PART").le32(h + 8, 0x00010000).le32(h + 12, 92).le32(h + 16, 0);
    b.le64(h + 24, lba).le64(h + 32, alternate).le64(h + 40, 34).le64(h + 48, last_lba - 33);
    b.le64(h + 72, array_lba).le32(h + 80, entries).le32(h + 84, 128);
    b.le32(h + 88, b.crc32(array_lba * ss, std::uint64_t{entries} * 128));
    b.le32(h + 16, b.crc32(h, 92));
}

inline ImageBuilder make_gpt(std::uint64_t size, std::uint64_t ss,
                             const std::vector<GptEntrySpec>& parts, std::uint32_t entries = 128) {
    ImageBuilder b(size);
    const std::uint64_t last_lba = size / ss - 1;
    b.mbr_entry(0, 0, 0xEE, 1, static_cast<std::uint32_t>(std::min<std::uint64_t>(last_lba, 0xFFFFFFFF)));
    const std::uint64_t backup_array = last_lba - 32;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        for (std::uint64_t array : {std::uint64_t{2}, backup_array}) {
            const std::uint64_t e = array * ss + i * 128;
            for (std::size_t k = 0; k < 16; ++k) b.u8(e + k, parts[i].type[k]);
            b.u8(e + 16, static_cast<std::uint8_t>(i + 1));  // a unique GUID, of sorts
            b.le64(e + 32, parts[i].first_lba).le64(e + 40, parts[i].last_lba);
        }
    }
    write_gpt_header(b, ss, 1, last_lba, 2, last_lba, entries);
    write_gpt_header(b, ss, last_lba, 1, backup_array, last_lba, entries);
    return b;
}

}  // namespace vmdf::test
