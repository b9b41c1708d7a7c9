// SPDX-License-Identifier: GPL-2.0-or-later
// Golden lines, written out by hand from df/output.c's format strings:
// "%-36s%10s %10s %10s %5s\n" for the title, the 36-wide label, and
// "%10s %10s %10s %5s\n" for the figures.
#include <catch2/catch.hpp>

#include "output/writer.hpp"

using namespace vmdf;

namespace {
// ext4, 4K blocks: 249195 blocks, 223288 free, 206085 available
// (statfs.md §1's example), 65536 inodes, 65525 free.
const StatVfs kExt4{4096, 4096, 249195, 223288, 206085, 65536, 65525};
}  // namespace

TEST_CASE("writer: default table title and row", "[writer]") {
    OutputStyle style;
    CHECK(format_title(style) ==
          "Filesystem                           1K-blocks       Used  Available  Use%\n");
    CHECK(format_row(style, "fedora.img", "/dev/sda1", kExt4) ==
          "fedora.img:/dev/sda1                    996780     103628     824340   11%\n");
}

TEST_CASE("writer: Use% is used/total including reserved, ceiled", "[writer]") {
    // 100 - 100*223288/249195 = 10.396..% -> 11, where GNU df says 12%.
    CHECK(used_percent(OutputStyle{}, kExt4) == Approx(10.3963f));
    StatVfs empty{};
    CHECK(used_percent(OutputStyle{}, empty) == 0.0f);
}

TEST_CASE("writer: a float narrowing decides the ceiling", "[writer]") {
    // 100 - 100*879999999/1000000000 = 12.0000001 in double, 12.0f in float.
    StatVfs st{1024, 1024, 1000000000, 879999999, 0, 0, 0};
    CHECK(format_row(OutputStyle{}, "g", "/dev/sda", st).substr(69) == "  12%\n");
}

TEST_CASE("writer: -h sizes", "[writer]") {
    OutputStyle style;
    style.human = true;
    CHECK(format_title(style) ==
          "Filesystem                                Size       Used  Available  Use%\n");
    CHECK(format_row(style, "fedora.img", "/dev/sda1", kExt4) ==
          "fedora.img:/dev/sda1                      973M       101M       805M   11%\n");
}

TEST_CASE("writer: -i inodes, and -h does not change them", "[writer]") {
    OutputStyle style;
    style.inodes = true;
    const std::string expected = "fedora.img:/dev/sda1                     65536         11      65525    1%\n";
    CHECK(format_title(style) ==
          "Filesystem                              Inodes      IUsed      IFree IUse%\n");
    CHECK(format_row(style, "fedora.img", "/dev/sda1", kExt4) == expected);
    style.human = true;
    CHECK(format_row(style, "fedora.img", "/dev/sda1", kExt4) == expected);
}

TEST_CASE("writer: filesystems without inodes show 0 0 0 0%", "[writer]") {
    OutputStyle style;
    style.inodes = true;
    StatVfs st{4096, 4096, 100, 50, 50, 0, 0};
    CHECK(format_row(style, "g", "/dev/sda1", st) ==
          "g:/dev/sda1                                  0          0          0    0%\n");
}

TEST_CASE("writer: a label of exactly 36 bytes stays on one line", "[writer]") {
    const std::string name(36 - 9, 'n');  // + ":/dev/sda" = 36
    const std::string row = format_row(OutputStyle{}, name, "/dev/sda", kExt4);
    CHECK(row == name + ":/dev/sda    996780     103628     824340   11%\n");
}

TEST_CASE("writer: a longer label is wrapped, figures indented by 36", "[writer]") {
    const std::string row =
        format_row(OutputStyle{}, "a-very-long-guest-name-for-testing", "/dev/vg_guest/lv_root", kExt4);
    CHECK(row ==
          "a-very-long-guest-name-for-testing:/dev/vg_guest/lv_root\n"
          "                                        996780     103628     824340   11%\n");
}

TEST_CASE("writer: block sizes under 1K scale down, truncating", "[writer]") {
    StatVfs st{512, 512, 2001, 1001, 999, 0, 0};
    CHECK(format_row(OutputStyle{}, "g", "/dev/sda", st) ==
          "g:/dev/sda                                1000        500        499   50%\n");
}

TEST_CASE("writer: CSV header and rows", "[writer][csv]") {
    OutputStyle style;
    style.csv = true;
    CHECK(format_title(style) == "VirtualMachine,Filesystem,1K-blocks,Used,Available,Use%\n");
    CHECK(format_row(style, "fedora.img", "/dev/sda1", kExt4) ==
          "fedora.img,/dev/sda1,996780,103628,824340,10.4\n");
    style.inodes = true;
    CHECK(format_title(style) == "VirtualMachine,Filesystem,Inodes,IUsed,IFree,IUse%\n");
    CHECK(format_row(style, "fedora.img", "/dev/sda1", kExt4) ==
          "fedora.img,/dev/sda1,65536,11,65525,0.0\n");
}

TEST_CASE("writer: CSV quotes spaces, commas, quotes and newlines only", "[writer][csv]") {
    CHECK(csv_field("plain") == "plain");
    CHECK(csv_field("tab\there") == "tab\there");
    CHECK(csv_field("=cmd") == "=cmd");
    CHECK(csv_field("two words") == "\"two words\"");
    CHECK(csv_field("a,b") == "\"a,b\"");
    CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(csv_field("line\nbreak") == "\"line\nbreak\"");
    OutputStyle style;
    style.csv = true;
    CHECK(format_row(style, "my \"guest\", v2.img", "/dev/sda1", kExt4) ==
          "\"my \"\"guest\"\", v2.img\",/dev/sda1,996780,103628,824340,10.4\n");
}

TEST_CASE("writer: text labels are not quoted", "[writer]") {
    CHECK(format_row(OutputStyle{}, "a,b \"c\"", "/dev/sda", kExt4) ==
          "a,b \"c\":/dev/sda                        996780     103628     824340   11%\n");
}
