// SPDX-License-Identifier: GPL-2.0-or-later
// Errors as values: what went wrong (from the plugin), where (added by the core).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmdf {

enum class Errc {
    io,           ///< the operating system refused a read
    truncated,    ///< a structure runs past the end of its device
    corrupt,      ///< a field holds a value the format does not allow
    unsupported,  ///< valid, but a feature this tool does not read
    ambiguous,    ///< two plugins claim the same device
};

const char* to_string(Errc code);

struct Error {
    Errc code = Errc::corrupt;
    std::string message;                  ///< "s_log_block_size 40 out of range (max 6)"
    std::optional<std::uint64_t> offset;  ///< byte offset within the innermost device
    std::vector<std::string> where;       ///< outermost first: "/dev/sda", "gpt", "p2", "ext4"

    /// Prepends a layer name; the core calls this as the error travels up.
    Error& within(std::string layer);

    /// "/dev/sda: gpt: @0x200: header CRC mismatch"
    std::string to_string() const;
};

}  // namespace vmdf
