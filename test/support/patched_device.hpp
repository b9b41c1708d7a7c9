// SPDX-License-Identifier: GPL-2.0-or-later
// A device that reads through to another one, with some bytes replaced:
// for corrupting a real image in a test without copying it.
#pragma once

#include <algorithm>
#include <cstring>
#include <map>

#include "core/device.hpp"

namespace vmdf::test {

class PatchedDevice final : public Device {
public:
    explicit PatchedDevice(DevicePtr base, std::uint64_t size = UINT64_MAX)
        : Device(base->name(), std::min(size, base->size()), base->block_size()),
          base_(std::move(base)) {}

    PatchedDevice& le32(std::uint64_t offset, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) patches_[offset + i] = std::byte(v >> (8 * i) & 0xFF);
        return *this;
    }
    PatchedDevice& le16(std::uint64_t offset, std::uint16_t v) {
        for (int i = 0; i < 2; ++i) patches_[offset + i] = std::byte(v >> (8 * i) & 0xFF);
        return *this;
    }
    PatchedDevice& byte(std::uint64_t offset, std::uint8_t v) {
        patches_[offset] = std::byte{v};
        return *this;
    }

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        VMDF_TRY(base_->read(offset, out));
        for (auto it = patches_.lower_bound(offset); it != patches_.end() && it->first < offset + out.size(); ++it)
            out[it->first - offset] = it->second;
        return {};
    }

private:
    DevicePtr base_;
    std::map<std::uint64_t, std::byte> patches_;
};

}  // namespace vmdf::test
