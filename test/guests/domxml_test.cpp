// SPDX-License-Identifier: GPL-2.0-or-later
#include <catch2/catch.hpp>

#include <string>

#include "core/image.hpp"
#include "guests/domxml.hpp"

using namespace vmdf;
using namespace vmdf::guests;

namespace {

/// A domain whose <devices> hold `devices`.
std::string domain_with(const std::string& devices) {
    return "<domain type='kvm'><name>guest</name><devices>" + devices + "</devices></domain>";
}

DomainDef parse_ok(const std::string& xml) {
    auto def = parse_domain_xml(xml);
    INFO(xml);
    REQUIRE(def);
    return *def;
}

DiskDef one_disk(const std::string& disk_xml) {
    const DomainDef def = parse_ok(domain_with(disk_xml));
    REQUIRE(def.disks.size() == 1);
    return def.disks.front();
}

}  // namespace

TEST_CASE("domxml: name, UUID and disks in <devices> order", "[domxml]") {
    const DomainDef def = parse_ok(R"(<?xml version="1.0"?>
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>web server</name>
  <uuid>
    3d6e2a4c-1b7f-4e0a-9c51-7a2f0e8b9d01
  </uuid>
  <metadata><app:disk xmlns:app='http://example.org/app'/></metadata>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web.qcow2' index='2'/>
      <backingStore type='file' index='3'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/base.qcow2'/>
        <backingStore type='block' index='4'>
          <format type='raw'/>
          <source dev='/dev/vg/golden'/>
          <backingStore/>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/></interface>
    <disk type='block' device='lun'>
      <source dev='/dev/sdz'/>
      <target dev='sda' bus='scsi'/>
    </disk>
    <disk device='cdrom'>
      <target dev='hdc' bus='ide'/>
    </disk>
    <qemu:disk type='file'/>
  </devices>
</domain>)");
    CHECK(def.name == "web server");
    CHECK(def.uuid == "3d6e2a4c-1b7f-4e0a-9c51-7a2f0e8b9d01");
    REQUIRE(def.disks.size() == 3);  // <metadata> and qemu: elements are not libvirt's disks

    const DiskDef& vda = def.disks[0];
    CHECK(vda.type == "file");
    CHECK(vda.device == "disk");
    CHECK(vda.target == "vda");
    CHECK(vda.source == "/var/lib/libvirt/images/web.qcow2");
    CHECK(vda.format == "qcow2");
    REQUIRE(vda.backing.size() == 2);
    CHECK(vda.backing[0].source == "/var/lib/libvirt/images/base.qcow2");
    CHECK(vda.backing[0].format == "qcow2");
    CHECK(vda.backing[1].type == "block");
    CHECK(vda.backing[1].source == "/dev/vg/golden");
    CHECK(vda.backing[1].format == "raw");

    CHECK(def.disks[1].type == "block");
    CHECK(def.disks[1].device == "lun");
    CHECK(def.disks[1].source == "/dev/sdz");
    CHECK(def.disks[1].format.empty());

    CHECK(def.disks[2].type == "file");  // libvirt's default
    CHECK_FALSE(def.disks[2].has_source);
}

TEST_CASE("domxml: which disks are read", "[domxml]") {
    using Action = DiskPlan::Action;
    SECTION("file and block disks, with <driver type> as the format") {
        const DiskPlan file = plan_disk(one_disk(
            "<disk type='file' device='disk'><driver type='qcow2'/><source file='/i/a.qcow2'/></disk>"));
        CHECK(file.action == Action::open);
        CHECK(file.path == "/i/a.qcow2");
        CHECK(file.format == "qcow2");
        const DiskPlan block = plan_disk(one_disk(
            "<disk type='block'><driver type='raw'/><source dev='/dev/vg/lv'/></disk>"));
        CHECK(block.action == Action::open);
        CHECK(block.path == "/dev/vg/lv");
        CHECK(block.format == "raw");
        const DiskPlan lun = plan_disk(one_disk("<disk type='block' device='lun'><source dev='/dev/sdb'/></disk>"));
        CHECK(lun.action == Action::open);
    }
    SECTION("no <driver type>: detected; Xen's 'aio' is raw; ploop passes through") {
        CHECK(plan_disk(one_disk("<disk type='file'><source file='a'/></disk>")).format.empty());
        CHECK(plan_disk(one_disk("<disk type='file'><driver name='tap' type='aio'/><source file='a'/></disk>"))
                  .format == "raw");
        CHECK(plan_disk(one_disk("<disk type='file'><driver type='ploop'/><source file='root.hdd'/></disk>"))
                  .format == "ploop");
    }
    SECTION("CD-ROMs and floppies are skipped, with or without media") {
        CHECK(plan_disk(one_disk("<disk type='file' device='cdrom'><source file='x.iso'/></disk>")).action ==
              Action::skip);
        CHECK(plan_disk(one_disk("<disk type='block' device='cdrom'/>")).action == Action::skip);
        CHECK(plan_disk(one_disk("<disk type='file' device='floppy'><source file='f.img'/></disk>")).action ==
              Action::skip);
    }
    SECTION("what cannot be read from the host's files fails") {
        const DiskPlan net = plan_disk(one_disk(
            "<disk type='network'><source protocol='rbd' name='pool/img'><host name='mon'/></source></disk>"));
        CHECK(net.action == Action::fail);
        CHECK(net.reason == "network disks are not supported (protocol rbd)");
        const DiskPlan vol = plan_disk(one_disk("<disk type='volume'><source pool='default' volume='v1'/></disk>"));
        CHECK(vol.action == Action::fail);
        CHECK(vol.reason == "storage volume 'v1' of pool 'default' can only be found through libvirt");
        CHECK(plan_disk(one_disk("<disk type='dir'><source dir='/srv'/></disk>")).reason ==
              "disks of type 'dir' are not supported");
        CHECK(plan_disk(one_disk("<disk type='file' device='disk'/>")).reason == "the disk has no source");
        CHECK(plan_disk(one_disk("<disk type='file'><source file='a'><slices><slice type='storage' "
                                 "offset='512' size='1024'/></slices></source></disk>"))
                  .reason == "disks with storage <slices> are not supported");
        CHECK(plan_disk(one_disk("<disk type='file' device='tape'><source file='a'/></disk>")).reason ==
              "disk device 'tape' is not supported");
    }
}

TEST_CASE("domxml: disks are labelled by target, else by position", "[domxml]") {
    const DomainDef def = parse_ok(domain_with(
        "<disk type='file'><source file='a'/><target dev='vda'/></disk><disk type='file'><source file='b'/></disk>"));
    CHECK(disk_label(def.disks[0], 0) == "vda");
    CHECK(disk_label(def.disks[1], 1) == "disk 2");
}

TEST_CASE("domxml: what is not a domain definition is an error", "[domxml][corrupt]") {
    auto bad = parse_domain_xml("<domain><name>x</name>\n<devices></domain>");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::corrupt);
    CHECK(bad.error().message.starts_with("not well-formed XML: line 2: "));

    CHECK(parse_domain_xml("").error().code == Errc::corrupt);
    CHECK(parse_domain_xml("<network><name>default</name></network>").error().message ==
          "not a libvirt domain definition (no <domain> element)");
    CHECK(parse_domain_xml("<domain><devices/></domain>").error().message ==
          "the domain definition has no <name>");
    // A DOCTYPE could only define entities (a "billion laughs" document).
    auto doctype = parse_domain_xml(
        "<!DOCTYPE domain [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
        "<domain><name>&b;</name></domain>");
    REQUIRE_FALSE(doctype);
    CHECK(doctype.error().message == "a DOCTYPE is not allowed in domain XML");
    // No file is read through an external entity either.
    CHECK_FALSE(parse_domain_xml("<!DOCTYPE d [<!ENTITY e SYSTEM \"/etc/passwd\">]><domain><name>&e;</name></domain>"));
}

TEST_CASE("domxml: sizes and counts are capped", "[domxml][corrupt]") {
    std::string big = domain_with("");
    big.insert(big.find("</devices>"), std::string(kMaxDomainXmlBytes, ' '));
    CHECK(parse_domain_xml(big).error().code == Errc::unsupported);

    std::string many;
    for (std::size_t i = 0; i <= kMaxDisksPerDomain; ++i) many += "<disk type='file'><source file='a'/></disk>";
    CHECK(parse_domain_xml(domain_with(many)).error().message ==
          "more than " + std::to_string(kMaxDisksPerDomain) + " <disk> elements");

    std::string chain = "<disk type='file'><source file='a'/>";
    for (unsigned i = 0; i <= kMaxImageChainDepth; ++i) chain += "<backingStore type='file'><source file='b'/>";
    for (unsigned i = 0; i <= kMaxImageChainDepth; ++i) chain += "</backingStore>";
    chain += "</disk>";
    CHECK(parse_domain_xml(domain_with(chain)).error().code == Errc::unsupported);
}

TEST_CASE("domxml: reading a file", "[domxml]") {
    auto missing = read_domain_xml("/nonexistent/guest.xml");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::io);
    CHECK(missing.error().message == "No such file or directory");
    auto dir = read_domain_xml("/");
    REQUIRE_FALSE(dir);
    CHECK(dir.error().message == "Is a directory");
}

TEST_CASE("domxml: a libxml2 that cannot be loaded is a clear error", "[domxml]") {
    // libxml2 is loaded with dlopen on first use (guests/dynlib.hpp);
    // detail::load_libxml2 is that loader with the soname as a parameter.
    CHECK(detail::load_libxml2("libxml2.so.2"));

    auto missing = detail::load_libxml2("libxml2-not-here.so.2");
    REQUIRE_FALSE(missing);
    INFO(missing.error().message);
    CHECK(missing.error().message.starts_with("libxml2 is not installed (libxml2-not-here.so.2: "));
    CHECK(missing.error().message.ends_with(")"));

    auto not_libxml2 = detail::load_libxml2("libz.so.1");
    REQUIRE_FALSE(not_libxml2);
    INFO(not_libxml2.error().message);
    CHECK(not_libxml2.error().message.starts_with("libz.so.1 is not a usable libxml2 ("));
    CHECK(not_libxml2.error().message.find("xmlCtxtGetLastError") != std::string::npos);
}
