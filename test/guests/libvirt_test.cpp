// SPDX-License-Identifier: GPL-2.0-or-later
// Against libvirt's test driver, which is real libvirt with no daemon:
// test:///default (one running domain, "test") and the node of
// test/libvirt/node.xml that meson copies to the fixture directory.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "guests/domxml.hpp"
#include "guests/libvirt.hpp"
#include "support/fixtures.hpp"

using namespace vmdf;
using namespace vmdf::guests;

namespace {

LibvirtConnection connect(const std::string& uri) {
    auto conn = LibvirtConnection::open(uri);
    INFO(uri);
    REQUIRE(conn);
    return std::move(*conn);
}

std::string fixture_uri() { return "test://" + test::fixture_path("libvirt/node.xml"); }

}  // namespace

TEST_CASE("libvirt: a domain by name and by UUID", "[libvirt]") {
    const LibvirtConnection conn = connect("test:///default");
    auto by_name = conn.lookup("test");
    REQUIRE(by_name);
    CHECK(by_name->name == "test");
    CHECK(by_name->uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f");
    auto def = parse_domain_xml(by_name->xml);
    REQUIRE(def);
    REQUIRE(def->disks.size() == 1);
    CHECK(def->disks[0].source == "/guest/diskimage1");

    auto by_uuid = conn.lookup("6695eb01-f6a4-8304-79aa-97f2502e193f");
    REQUIRE(by_uuid);
    CHECK(by_uuid->name == "test");
    CHECK(conn.lookup("6695EB01F6A4830479AA97F2502E193F"));  // libvirt's own UUID spellings

    auto unknown = conn.lookup("webserver");
    REQUIRE_FALSE(unknown);
    // then libvirt's reason ("Domain not found", with more from a daemon)
    CHECK(unknown.error().message.starts_with("no libvirt domain called 'webserver': Domain not found"));
}

TEST_CASE("libvirt: every domain, running or not, sorted by name", "[libvirt]") {
    const LibvirtConnection conn = connect(fixture_uri());
    auto listing = conn.all_domains();
    REQUIRE(listing);
    std::vector<std::string> names;
    for (const auto& d : listing->domains) names.push_back(d.name);
    CHECK(names == std::vector<std::string>{"broken", "db", "empty", "netboot", "web"});
    for (const auto& e : listing->errors) CHECK(e.empty());
    // db and empty are shut off: their inactive definitions still list disks
    auto db = parse_domain_xml(listing->domains[1].xml);
    REQUIRE(db);
    CHECK(db->uuid == "3d6e2a4c-1b7f-4e0a-9c51-7a2f0e8b9d02");
    REQUIRE(db->disks.size() == 1);
    CHECK(db->disks[0].format == "qcow2");
    CHECK(db->disks[0].backing.size() == 2);
}

TEST_CASE("libvirt: the same definitions from libvirt and from the files", "[libvirt]") {
    const LibvirtConnection conn = connect(fixture_uri());
    for (const char* name : {"web", "db", "broken", "netboot", "empty"}) {
        INFO(name);
        auto dom = conn.lookup(name);
        REQUIRE(dom);
        auto live = parse_domain_xml(dom->xml);
        auto file = read_domain_xml(test::fixture_path(std::string("libvirt/") + name + ".xml"));
        REQUIRE(live);
        REQUIRE(file);
        CHECK(live->name == file->name);
        CHECK(live->uuid == file->uuid);
        REQUIRE(live->disks.size() == file->disks.size());
        for (std::size_t i = 0; i < live->disks.size(); ++i) {
            const DiskPlan a = plan_disk(live->disks[i]), b = plan_disk(file->disks[i]);
            CHECK(a.action == b.action);
            CHECK(a.path == b.path);
            CHECK(a.format == b.format);
            CHECK(a.reason == b.reason);
        }
    }
}

TEST_CASE("libvirt: connection errors are reported, not printed by libvirt", "[libvirt]") {
    auto conn = LibvirtConnection::open("test:///nonexistent/node.xml");
    REQUIRE_FALSE(conn);
    CHECK(conn.error().message.starts_with(
        "could not connect to libvirt (URI = test:///nonexistent/node.xml): "));
}

TEST_CASE("libvirt: what passes for a UUID", "[libvirt]") {
    CHECK(looks_like_uuid("6695eb01-f6a4-8304-79aa-97f2502e193f"));
    CHECK(looks_like_uuid("6695eb01f6a4830479aa97f2502e193f"));
    CHECK_FALSE(looks_like_uuid("webserver"));
    CHECK_FALSE(looks_like_uuid("6695eb01-f6a4-8304-79aa-97f2502e193"));
    CHECK_FALSE(looks_like_uuid("-6695eb01f6a4830479aa97f2502e193f"));
    CHECK_FALSE(looks_like_uuid("6695eb01f6a4830479aa97f2502e193f-"));
    CHECK_FALSE(looks_like_uuid("6695eb01f6a4830479aa97f2502e193f00"));
}

TEST_CASE("libvirt: a libvirt that cannot be loaded is a clear error", "[libvirt]") {
    // libvirt is loaded with dlopen on first use (guests/dynlib.hpp);
    // detail::load_libvirt is that loader with the soname as a parameter.
    CHECK(detail::load_libvirt("libvirt.so.0"));

    auto missing = detail::load_libvirt("libvirt-not-here.so.0");
    REQUIRE_FALSE(missing);
    INFO(missing.error().message);
    // "...(libvirt-not-here.so.0: cannot open shared object file: No such file or directory)"
    CHECK(missing.error().message.starts_with("libvirt is not installed (libvirt-not-here.so.0: "));
    CHECK(missing.error().message.ends_with(")"));

    // A library that is there but is not libvirt: the first missing function.
    auto not_libvirt = detail::load_libvirt("libz.so.1");
    REQUIRE_FALSE(not_libvirt);
    INFO(not_libvirt.error().message);
    CHECK(not_libvirt.error().message.starts_with("libz.so.1 is not a usable libvirt ("));
    CHECK(not_libvirt.error().message.find("virConnectClose") != std::string::npos);
}
