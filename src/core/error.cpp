// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/error.hpp"

#include <fmt/format.h>

namespace vmdf {

const char* to_string(Errc code) {
    switch (code) {
    case Errc::io: return "I/O error";
    case Errc::truncated: return "truncated";
    case Errc::corrupt: return "corrupt";
    case Errc::unsupported: return "unsupported";
    case Errc::ambiguous: return "ambiguous";
    }
    return "error";
}

Error& Error::within(std::string layer) {
    where.insert(where.begin(), std::move(layer));
    return *this;
}

std::string Error::to_string() const {
    std::string out;
    for (const auto& layer : where) {
        out += layer;
        out += ": ";
    }
    if (offset) out += fmt::format("@{:#x}: ", *offset);
    out += message;
    return out;
}

}  // namespace vmdf
