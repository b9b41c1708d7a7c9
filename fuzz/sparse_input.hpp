// SPDX-License-Identifier: GPL-2.0-or-later
// The fuzzers' input: a sparse disk in a few bytes, so that a seed can hold
// the metadata of a 1 GiB filesystem (its superblocks, group headers, trees)
// without its data. Format, little-endian:
//
//   u64 device size (capped at kMaxFuzzDeviceSize)
//   then records until the end:  u64 offset, u16 length, `length` bytes
//
// Bytes no record covers read as zeros. Seeds come from fuzz/make_seeds.py,
// which records exactly what virt-df reads of each fixture (-x).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "core/device.hpp"

namespace vmdf::fuzz {

constexpr std::uint64_t kMaxFuzzDeviceSize = std::uint64_t{1} << 44;  // 16 TiB

class SparseDevice final : public Device {
public:
    /// The device `data` describes (never fails: what cannot be parsed is
    /// ignored, as a fuzzer's input may be anything).
    static std::shared_ptr<SparseDevice> parse(const std::uint8_t* data, std::size_t size);

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        std::fill(out.begin(), out.end(), std::byte{0});
        const std::uint64_t end = offset + out.size();
        // Extents are disjoint and sorted: start from the last one before `offset`.
        auto it = extents_.upper_bound(offset);
        if (it != extents_.begin()) --it;
        for (; it != extents_.end() && it->first < end; ++it) {
            const std::uint64_t from = std::max(offset, it->first);
            const std::uint64_t to = std::min(end, it->first + it->second.size());
            if (from >= to) continue;
            std::memcpy(out.data() + (from - offset), it->second.data() + (from - it->first), to - from);
        }
        return {};
    }

private:
    SparseDevice(std::uint64_t size, std::map<std::uint64_t, std::vector<std::byte>> extents)
        : Device("fuzz.img", size, 512), extents_(std::move(extents)) {}
    std::map<std::uint64_t, std::vector<std::byte>> extents_;
};

inline std::uint64_t load_le(const std::uint8_t* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

inline std::shared_ptr<SparseDevice> SparseDevice::parse(const std::uint8_t* data, std::size_t size) {
    std::uint64_t device_size = size >= 8 ? load_le(data, 8) : 0;
    device_size = std::min(device_size, kMaxFuzzDeviceSize);
    std::map<std::uint64_t, std::vector<std::byte>> extents;
    std::size_t pos = 8;
    while (pos + 10 <= size) {
        const std::uint64_t offset = load_le(data + pos, 8);
        std::size_t length = static_cast<std::size_t>(load_le(data + pos + 8, 2));
        pos += 10;
        length = std::min(length, size - pos);
        const std::uint8_t* bytes = data + pos;
        pos += length;
        if (offset >= device_size) continue;
        length = static_cast<std::size_t>(std::min<std::uint64_t>(length, device_size - offset));
        if (length == 0) continue;
        // Later records win where they overlap earlier ones: cut those.
        std::vector<std::byte> chunk(length);
        std::memcpy(chunk.data(), bytes, length);
        const std::uint64_t end = offset + length;
        auto it = extents.lower_bound(offset);
        if (it != extents.begin()) {
            auto prev = std::prev(it);
            if (prev->first + prev->second.size() > offset) {
                const std::uint64_t prev_end = prev->first + prev->second.size();
                std::vector<std::byte> tail;
                if (prev_end > end)
                    tail.assign(prev->second.begin() + static_cast<std::ptrdiff_t>(end - prev->first),
                                prev->second.end());
                prev->second.resize(offset - prev->first);
                if (!tail.empty()) extents.emplace(end, std::move(tail));
            }
        }
        for (it = extents.lower_bound(offset); it != extents.end() && it->first < end;) {
            const std::uint64_t it_end = it->first + it->second.size();
            if (it_end > end) {
                std::vector<std::byte> tail(it->second.begin() + static_cast<std::ptrdiff_t>(end - it->first),
                                            it->second.end());
                it = extents.erase(it);
                extents.emplace(end, std::move(tail));
                break;
            }
            it = extents.erase(it);
        }
        extents.emplace(offset, std::move(chunk));
    }
    return std::shared_ptr<SparseDevice>(new SparseDevice(device_size, std::move(extents)));
}

}  // namespace vmdf::fuzz
