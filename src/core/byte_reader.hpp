// SPDX-License-Identifier: GPL-2.0-or-later
// Bounds-checked access to on-disk structures. Every struct is copied out of
// the bytes (never a pointer cast), and every size from disk is checked
// before it is used to allocate or to read.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "core/device.hpp"
#include "core/result.hpp"

namespace vmdf {

/// a * b, or nothing if it overflows.
inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

/// a + b, or nothing if it overflows.
inline std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}

/// Reads one on-disk struct at `offset`.
template <class T>
Result<T> read_struct(const Device& dev, std::uint64_t offset) {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) == 1);
    T value;
    VMDF_TRY(dev.read(offset, std::as_writable_bytes(std::span{&value, 1})));
    return value;
}

/// Reads `length` bytes, refusing more than `cap` (a limit named by the caller).
inline Result<std::vector<std::byte>> read_bytes(const Device& dev, std::uint64_t offset,
                                                 std::uint64_t length, std::uint64_t cap) {
    if (length > cap)
        return failf(Errc::corrupt, offset, "{} bytes requested, more than the limit of {}",
                     length, cap);
    std::vector<std::byte> buf(static_cast<std::size_t>(length));
    VMDF_TRY(dev.read(offset, buf));
    return buf;
}

/// A view of bytes already read (a sector, a block), with checked access.
class ByteReader {
public:
    /// `base_offset` is where the bytes came from, used only in messages.
    ByteReader(std::span<const std::byte> data, std::uint64_t base_offset)
        : data_(data), base_(base_offset) {}

    std::size_t size() const { return data_.size(); }

    template <class T>
    Result<T> at(std::uint64_t offset) const {
        static_assert(std::is_trivially_copyable_v<T> && alignof(T) == 1);
        auto raw = bytes(offset, sizeof(T));
        if (!raw) return std::move(raw).failure();
        T value;
        std::memcpy(&value, raw->data(), sizeof(T));
        return value;
    }

    Result<std::span<const std::byte>> bytes(std::uint64_t offset, std::uint64_t length) const {
        if (length > data_.size() || offset > data_.size() - length)
            return failf(Errc::truncated, base_ + offset,
                         "{} bytes at offset {} run past a {}-byte buffer", length, offset,
                         data_.size());
        return data_.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
    }

private:
    std::span<const std::byte> data_;
    std::uint64_t base_;
};

}  // namespace vmdf
