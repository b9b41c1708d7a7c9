// SPDX-License-Identifier: GPL-2.0-or-later
// LVM2's text metadata format (the "config" syntax of libdm that LVM writes
// into its metadata areas, formats.md §3.4): sections `name { ... }`,
// settings `key = value`, values that are integers, decimals, "strings"
// with backslash escapes, 'strings' without, bare words, or [lists] of
// those; `#` starts a comment. A tokenizer and a recursive-descent parser
// with limits on size, depth and item count; errors name the line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vmdf::lvm_text {

/// The largest metadata text accepted. LVM keeps the text of one VG in a
/// metadata area of at most a few MiB (its default is 1 MiB); 16 MiB leaves
/// room for huge VGs and still bounds what a hostile area can make us read.
constexpr std::size_t kMaxTextBytes = 16 << 20;
/// Sections nest five deep in real metadata (VG, logical_volumes, LV,
/// segment); anything near this is hostile and would only grow the stack.
constexpr unsigned kMaxDepth = 32;
/// Settings, sections and list elements together. A VG of 10,000 LVs has
/// a few hundred thousand; each costs about 150 bytes of memory here.
constexpr std::size_t kMaxItems = 1 << 19;

struct Limits {
    std::size_t max_text_bytes = kMaxTextBytes;
    unsigned max_depth = kMaxDepth;
    std::size_t max_items = kMaxItems;
};

/// A setting's value: a scalar, or a list of scalars.
struct Value {
    enum class Kind { integer, decimal, string, list };
    Kind kind = Kind::integer;
    std::int64_t integer = 0;   ///< Kind::integer
    std::string text;           ///< Kind::string: the unescaped text; Kind::decimal: as written
    std::vector<Value> items;   ///< Kind::list: scalars only
    unsigned line = 0;

    bool is_string() const { return kind == Kind::string; }
    bool is_integer() const { return kind == Kind::integer; }
};

/// A section (`name { ... }`) or a setting (`name = value`). The parse
/// result is an unnamed root section holding the top-level items.
struct Node {
    std::string key;
    unsigned line = 0;
    bool is_section = false;
    Value value;                 ///< settings only
    std::vector<Node> children;  ///< sections only, in file order

    /// The first child named `key` (setting or section), or nullptr.
    const Node* find(std::string_view key) const;
    /// The first child section named `key`, or nullptr.
    const Node* section(std::string_view key) const;

    // Typed access to a child setting; a missing key, a wrong type or an
    // out-of-range number is a `corrupt` error naming the key and line.
    Result<std::uint64_t> get_uint(std::string_view key) const;
    Result<std::string> get_string(std::string_view key) const;
    Result<const std::vector<Value>*> get_list(std::string_view key) const;
    /// The strings of a list setting; a missing key gives an empty list.
    Result<std::vector<std::string>> get_string_list(std::string_view key) const;
};

/// Parses the whole text. Parsing stops at the first NUL byte (metadata
/// areas store the text NUL-terminated).
Result<Node> parse(std::string_view text, const Limits& limits = {});

}  // namespace vmdf::lvm_text
