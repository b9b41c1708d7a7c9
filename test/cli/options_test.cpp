// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include <initializer_list>
#include <vector>

#include "app.hpp"
#include "cli/options.hpp"

using namespace vmdf;

namespace {
Options parse(std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"virt-df"};
    argv.insert(argv.end(), args);
    return parse_options(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("options: --format and --blocksize apply to the -a after them", "[cli]") {
    const Options o = parse({"-a", "one.img", "--format=raw", "--blocksize=4096", "-a", "two.img",
                             "--format", "--blocksize", "-a", "three.img"});
    REQUIRE(o.drives.size() == 3);
    CHECK_FALSE(o.drives[0].format);
    CHECK(o.drives[1].format == "raw");
    CHECK(o.drives[1].blocksize == 4096u);
    CHECK_FALSE(o.drives[2].format);
    CHECK_FALSE(o.drives[2].blocksize);
}

TEST_CASE("options: --format and --blocksize values only with '='", "[cli]") {
    const Options o = parse({"--format=raw", "-a", "one.img", "--format=", "-a", "two.img"});
    REQUIRE(o.drives.size() == 2);
    CHECK(o.drives[0].format == "raw");
    CHECK_FALSE(o.drives[1].format);
    // "three.img" is an extra argument, not the format: with -a given, an error
    CHECK_THROWS(parse({"-a", "x.img", "--format", "raw"}));
    const Options b = parse({"--blocksize=4096", "--blocksize=", "-a", "x.img"});
    CHECK_FALSE(b.drives[0].blocksize);
}

TEST_CASE("options: a dangling --format or --blocksize is an error", "[cli]") {
    CHECK_THROWS_WITH(parse({"-a", "x.img", "--format=raw"}),
                      "--format parameter must appear before -a parameter");
    CHECK_THROWS_WITH(parse({"--blocksize=512", "x.img"}),
                      "--blocksize parameter must appear before -a parameter");
    CHECK_THROWS_WITH(parse({"--blocksize=abc", "-a", "x"}), "--blocksize option is not numeric");
    CHECK_THROWS(parse({"--blocksize=1024", "-a", "x"}));
}

TEST_CASE("options: -h with --csv is refused", "[cli]") {
    CHECK_THROWS_WITH(parse({"-h", "--csv", "-a", "x"}),
                      "you cannot use -h and --csv options together.");
}

TEST_CASE("options: old-style arguments are disks if they look like paths", "[cli]") {
    const Options o = parse({"./guest.img", "webserver"});
    REQUIRE(o.drives.size() == 1);
    CHECK(o.drives[0].path == "./guest.img");
    REQUIRE(o.domains.size() == 1);
    CHECK(o.domains[0] == "webserver");
    CHECK_THROWS(parse({"-a", "x.img", "extra"}));
}

TEST_CASE("options: flags, bundled short options and -P", "[cli]") {
    const Options o = parse({"-hiv", "-x", "-P", "4", "--uuid", "--one-per-guest", "-c", "test:///default",
                             "-d", "dom"});
    CHECK(o.human);
    CHECK(o.inodes);
    CHECK(o.verbose);
    CHECK(o.trace);
    CHECK(o.uuid);
    CHECK(o.threads == 4);
    CHECK(o.connect_uri == "test:///default");
    CHECK(o.domains == std::vector<std::string>{"dom"});
    CHECK_THROWS_WITH(parse({"-P", "many"}), "-P option is not numeric");
}

TEST_CASE("options: --mount-mode", "[cli]") {
    CHECK_FALSE(parse({"-a", "x"}).read_write);
    CHECK_FALSE(parse({"--mount-mode=ro", "-a", "x"}).read_write);
    CHECK(parse({"--mount-mode", "rw", "-a", "x"}).read_write);
    CHECK_THROWS_WITH(parse({"--mount-mode=rx", "-a", "x"}), "--mount-mode=rx: must be ro or rw");
}

TEST_CASE("options: actions", "[cli]") {
    CHECK(parse({"--help"}).action == Options::Action::help);
    CHECK(parse({"-V"}).action == Options::Action::version);
    CHECK(parse({"--long-options"}).action == Options::Action::long_options);
    CHECK(parse({"--short-options"}).action == Options::Action::short_options);
    CHECK_THROWS(parse({"--no-such-option"}));
}

TEST_CASE("app: the guest name is the first image's basename, + per extra disk", "[cli]") {
    CHECK(display_name({{"/x/y/test1.img", {}, {}, {}}}) == "test1.img");
    CHECK(display_name({{"a.img", {}, {}, {}}, {"b.img", {}, {}, {}}, {"c", {}, {}, {}}}) == "a.img++");
    CHECK(display_name({{"vz/root.hdd/", {}, {}, {}}}) == "root.hdd");
    CHECK(display_name({{"root.hdd//", {}, {}, {}}}) == "root.hdd");
    CHECK(display_name({{"/", {}, {}, {}}}) == "/");
}

TEST_CASE("options: -a and -d keep their command-line order", "[cli]") {
    const Options o = parse({"-d", "web", "-a", "x.img", "-d", "db"});
    REQUIRE(o.inputs.size() == 3);
    CHECK(o.inputs[0].kind == InputRef::Kind::domain);
    CHECK(o.inputs[0].index == 0);
    CHECK(o.inputs[1].kind == InputRef::Kind::drive);
    CHECK(o.inputs[1].index == 0);
    CHECK(o.inputs[2].kind == InputRef::Kind::domain);
    CHECK(o.inputs[2].index == 1);
    const Options old = parse({"webserver", "./disk.img"});
    REQUIRE(old.inputs.size() == 2);
    CHECK(old.inputs[0].kind == InputRef::Kind::domain);
    CHECK(old.inputs[1].kind == InputRef::Kind::drive);
}

TEST_CASE("options: --domxml, alone or repeated, not with -a or -d", "[cli]") {
    const Options o = parse({"--domxml", "web.xml", "--domxml=db.xml", "-P", "2"});
    CHECK(o.domain_xml_files == std::vector<std::string>{"web.xml", "db.xml"});
    CHECK(o.inputs.empty());
    CHECK(o.threads == 2);
    CHECK_THROWS_WITH(parse({"--domxml", "web.xml", "-a", "x.img"}),
                      "--domxml cannot be used together with -a or -d");
    CHECK_THROWS_WITH(parse({"-d", "web", "--domxml", "web.xml"}),
                      "--domxml cannot be used together with -a or -d");
    CHECK_THROWS_WITH(parse({"--domxml", "web.xml", "extra"}), "extra arguments on the command line");
}

TEST_CASE("options: the sandbox is on unless --no-sandbox", "[cli]") {
    CHECK(parse({"-a", "one.img"}).sandbox);
    CHECK_FALSE(parse({"--no-sandbox", "-a", "one.img"}).sandbox);
}
