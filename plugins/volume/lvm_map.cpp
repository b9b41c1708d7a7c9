// SPDX-License-Identifier: GPL-2.0-or-later
// A logical volume's device: see lvm_map.hpp.
#include "plugins/volume/lvm_map.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace vmdf::lvm {

std::uint64_t parity_device(unsigned level, Parity algorithm, std::uint64_t n, std::uint64_t stripe,
                            std::uint64_t dd) {
    const std::uint64_t data = n - (level == 6 ? 2 : 1);
    std::uint64_t pd = 0;
    if (level == 5) {
        switch (algorithm) {
            case Parity::left_asymmetric:
                pd = data - stripe % n;
                return dd >= pd ? dd + 1 : dd;
            case Parity::right_asymmetric:
                pd = stripe % n;
                return dd >= pd ? dd + 1 : dd;
            case Parity::left_symmetric:
                pd = data - stripe % n;
                return (pd + 1 + dd) % n;
            case Parity::right_symmetric:
                pd = stripe % n;
                return (pd + 1 + dd) % n;
            case Parity::parity_0: return dd + 1;
            default: return dd;  // parity_n
        }
    }
    // Level 6: P at pd, Q after it (or at 0 when P is last).
    auto skip_pq = [&](std::uint64_t p) { return p == n - 1 ? dd + 1 : (dd >= p ? dd + 2 : dd); };
    switch (algorithm) {
        case Parity::left_asymmetric: return skip_pq(n - 1 - stripe % n);
        case Parity::right_asymmetric:
        case Parity::rotating_zero_restart: return skip_pq(stripe % n);
        case Parity::rotating_n_restart: return skip_pq(n - 1 - (stripe + 1) % n);
        case Parity::left_symmetric: return (n - 1 - stripe % n + 2 + dd) % n;
        case Parity::right_symmetric: return (stripe % n + 2 + dd) % n;
        case Parity::rotating_n_continue: return (n - 1 - stripe % n + 1 + dd) % n;
        case Parity::parity_0: return dd + 2;
        case Parity::left_asymmetric_6:
            pd = data - stripe % (n - 1);
            return dd >= pd ? dd + 1 : dd;
        case Parity::right_asymmetric_6:
            pd = stripe % (n - 1);
            return dd >= pd ? dd + 1 : dd;
        case Parity::left_symmetric_6: return (data - stripe % (n - 1) + 1 + dd) % (n - 1);
        case Parity::right_symmetric_6: return (stripe % (n - 1) + 1 + dd) % (n - 1);
        default: return dd;  // parity_n
    }
}

namespace {

/// A logical volume: its segments, each mapped onto PVs or other LVs.
class LvDevice final : public Device {
public:
    LvDevice(std::string name, std::uint64_t size, std::uint32_t block_size, std::vector<Piece> pieces)
        : Device(std::move(name), size, block_size), pieces_(std::move(pieces)) {}

    std::vector<Location> map_block(std::uint64_t offset) const override {
        auto t = locate(offset);
        if (!t || !t->area) return {};
        std::vector<Location> chain{{t->area->device.get(), t->offset}};
        auto below = t->area->device->map_block(t->offset);
        chain.insert(chain.end(), below.begin(), below.end());
        return chain;
    }

    std::uint64_t contiguous(std::uint64_t offset) const override {
        auto t = locate(offset);
        return t ? t->run : 0;
    }

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
        while (!out.empty()) {
            VMDF_TRY_ASSIGN(const Target t, locate(offset));
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(t.run, out.size()));
            if (t.area) {
                VMDF_TRY(t.area->device->read(t.offset, out.first(n)));
            } else {
                std::memset(out.data(), 0, n);
            }
            out = out.subspan(n);
            offset += n;
        }
        return {};
    }

private:
    struct Target {
        const Area* area;       // nullptr: zeros
        std::uint64_t offset;   // on area->device
        std::uint64_t run;      // bytes mapped the same way from here
    };

    Result<Target> locate(std::uint64_t offset) const {
        auto it = std::upper_bound(pieces_.begin(), pieces_.end(), offset,
                                   [](std::uint64_t o, const Piece& p) { return o < p.start; });
        if (it == pieces_.begin()) return fail(Errc::corrupt, "no segment maps this offset", offset);
        const Piece& p = *std::prev(it);
        const std::uint64_t o = offset - p.start;
        if (o >= p.length) return fail(Errc::corrupt, "no segment maps this offset", offset);
        const std::uint64_t left = p.length - o;
        if (p.layout == Layout::linear) return Target{&p.areas[0], p.areas[0].offset + o, left};
        if (p.layout == Layout::zero) return Target{nullptr, 0, left};
        if (p.layout == Layout::error)
            return fail(Errc::io, "an \"error\" segment: reads fail, as device-mapper's error target", offset);
        // Chunked layouts (dm-stripe stripe_map_sector; MD raid10 and raid5).
        const std::uint64_t chunk = o / p.chunk, within = o % p.chunk;
        const std::uint64_t run = std::min(p.chunk - within, left);
        const std::uint64_t n = p.areas.size();
        if (p.layout == Layout::striped) {
            const Area& a = p.areas[chunk % n];
            return Target{&a, a.offset + chunk / n * p.chunk + within, run};
        }
        if (p.layout == Layout::raid10_near) {
            // raid10_find_phys, near copies: copy k of chunk c is at
            // position c * copies + k of the device-major order.
            for (unsigned k = 0; k < p.copies; ++k) {
                const std::uint64_t v = chunk * p.copies + k;
                const Area& a = p.areas[v % n];
                if (a.device) return Target{&a, a.offset + v / n * p.chunk + within, run};
            }
            return fail(Errc::io, "every copy of this raid10 chunk is on a missing image", offset);
        }
        const std::uint64_t data = n - (p.level == 6 ? 2 : 1);
        const std::uint64_t stripe = chunk / data;
        const Area& a = p.areas[parity_device(p.level, p.algorithm, n, stripe, chunk % data)];
        return Target{&a, a.offset + stripe * p.chunk + within, run};
    }

    std::vector<Piece> pieces_;
};

}  // namespace

DevicePtr make_lv_device(std::string name, std::uint64_t size, std::uint32_t block_size,
                         std::vector<Piece> pieces) {
    return std::make_shared<LvDevice>(std::move(name), size, block_size, std::move(pieces));
}

}  // namespace vmdf::lvm
