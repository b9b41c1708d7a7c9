// SPDX-License-Identifier: GPL-2.0-or-later
#include "src/output/writer.hpp"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "src/output/human.hpp"

namespace vmdf {

namespace {

constexpr std::size_t kLabelWidth = 36;

/// df/output.c scale(): to 1K units, an integer factor either way.
std::uint64_t scale_to_1k(std::uint64_t n, std::uint64_t block_size) {
    if (block_size >= 1024) return n * (block_size / 1024);
    return n / (1024 / block_size);
}

/// Printed as virt-df's PRIi64 of an int64_t holding the value.
std::string as_int64(std::uint64_t v) { return fmt::format("{}", static_cast<std::int64_t>(v)); }

}  // namespace

std::string csv_field(const std::string& field) {
    if (field.find_first_of(" \",\n") == std::string::npos) return field;
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string format_title(const OutputStyle& style) {
    const char* c2 = style.inodes ? "Inodes" : style.human ? "Size" : "1K-blocks";
    const char* c3 = style.inodes ? "IUsed" : "Used";
    const char* c4 = style.inodes ? "IFree" : "Available";
    const char* c5 = style.inodes ? "IUse%" : "Use%";
    if (!style.csv) return fmt::format("{:<36}{:>10} {:>10} {:>10} {:>5}\n", "Filesystem", c2, c3, c4, c5);
    std::string line = "VirtualMachine,Filesystem";
    for (const char* c : {c2, c3, c4, c5}) line += "," + csv_field(c);
    return line + "\n";
}

float used_percent(const OutputStyle& style, const StatVfs& st) {
    // guestfs's statvfs fields are int64; the double result is narrowed to
    // float before it is printed, which decides some roundings.
    const auto total = static_cast<std::int64_t>(style.inodes ? st.files : st.blocks);
    const auto free = static_cast<std::int64_t>(style.inodes ? st.ffree : st.bfree);
    if (total == 0) return 0.0f;
    return static_cast<float>(100. - 100. * static_cast<double>(free) / static_cast<double>(total));
}

std::string format_row(const OutputStyle& style, const std::string& name,
                       const std::string& device, const StatVfs& st) {
    std::string cols[4];
    if (style.inodes) {
        // -h does not apply to inode counts.
        cols[0] = as_int64(st.files);
        cols[1] = as_int64(st.files - st.ffree);
        cols[2] = as_int64(st.ffree);
    } else if (style.human) {
        cols[0] = human_size(st.blocks, st.bsize);
        cols[1] = human_size(st.blocks - st.bfree, st.bsize);
        cols[2] = human_size(st.bavail, st.bsize);
    } else {
        cols[0] = as_int64(scale_to_1k(st.blocks, st.bsize));
        cols[1] = as_int64(scale_to_1k(st.blocks - st.bfree, st.bsize));
        cols[2] = as_int64(scale_to_1k(st.bavail, st.bsize));
    }
    const float percent = used_percent(style, st);

    if (style.csv) {
        cols[3] = fmt::format("{:.1f}", static_cast<double>(percent));
        std::string line = csv_field(name) + "," + csv_field(device);
        for (const auto& c : cols) line += "," + csv_field(c);
        return line + "\n";
    }
    cols[3] = fmt::format("{:3.0f}%", std::ceil(static_cast<double>(percent)));
    std::string label = name + ":" + device;
    // Labels are measured in bytes, as strlen does; a long one gets a line
    // of its own and the figures go under, indented by the label width.
    if (label.size() <= kLabelWidth)
        label.append(kLabelWidth - label.size(), ' ');
    else
        label += "\n" + std::string(kLabelWidth, ' ');
    return label + fmt::format("{:>10} {:>10} {:>10} {:>5}\n", cols[0], cols[1], cols[2], cols[3]);
}

}  // namespace vmdf
