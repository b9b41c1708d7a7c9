// SPDX-License-Identifier: GPL-2.0-or-later
// A libvirt domain definition (https://libvirt.org/formatdomain.html),
// reduced to what virt-df needs: the guest's name and UUID, and its disks in
// <devices> order; and the rules for which of those disks virt-df reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace vmdf::guests {

/// A domain XML file larger than this is refused, as virsh refuses one
/// (VSH_MAX_XML_FILE, 10 MiB, in libvirt's tools/virsh.h).
constexpr std::size_t kMaxDomainXmlBytes = 10 * 1024 * 1024;

/// More <disk> elements than this in one domain is taken to be a mistake.
constexpr std::size_t kMaxDisksPerDomain = 4096;

/// One level of <backingStore>: libvirt's record of a disk's backing chain.
struct BackingStoreDef {
    std::string type;    ///< file, block, network...
    std::string source;  ///< <source file=> or <source dev=>
    std::string format;  ///< <format type=>; empty if not given
};

/// One <disk> element, as libvirt describes it.
struct DiskDef {
    std::string type = "file";  ///< <disk type=>: file, block, network, volume, dir, nvme...
    std::string device = "disk";  ///< <disk device=>: disk, lun, cdrom, floppy
    std::string target;         ///< <target dev=>: "vda"
    std::string source;         ///< <source file=> (file) or <source dev=> (block)
    bool has_source = false;    ///< a <source> element is present
    bool has_slices = false;    ///< <source><slices>: a window of the storage
    std::string format;         ///< <driver type=>; empty if not given
    std::string protocol;       ///< network: <source protocol=>
    std::string name;           ///< network: <source name=>
    std::string pool;           ///< volume: <source pool=>
    std::string volume;         ///< volume: <source volume=>
    std::vector<BackingStoreDef> backing;  ///< <backingStore> chain, outermost first
};

struct DomainDef {
    std::string name;
    std::string uuid;  ///< as written in <uuid>; empty if the document has none
    std::vector<DiskDef> disks;
};

/// libxml2 is loaded with dlopen ("libxml2.so.2") the first time domain XML
/// is parsed; when it cannot be, parsing fails with "libxml2 is not
/// installed (libxml2.so.2: reason)".

/// Has libxml2 print nothing on stderr (libvirt has it read files); loads
/// it if need be.
Status silence_libxml2();

/// Parses a <domain> document (what virDomainGetXMLDesc returns, or a file
/// such as /etc/libvirt/qemu/NAME.xml). Fails on anything that is not
/// well-formed XML with a <domain> root and a <name>.
Result<DomainDef> parse_domain_xml(std::string_view xml);

/// Reads and parses a domain XML file; errors name no path (the caller does).
Result<DomainDef> read_domain_xml(const std::string& path);

/// What virt-df does with one disk of a domain.
struct DiskPlan {
    enum class Action {
        open,  ///< read `path` as format `format`
        skip,  ///< not a disk virt-df reads (CD-ROM, floppy): `reason` says why
        fail,  ///< a disk virt-df cannot read: `reason` is the error
    };
    Action action = Action::fail;
    std::string path;
    std::string format;  ///< an image plugin's name ("raw", "qcow2", "ploop"); empty = detect
    std::string reason;
};

/// The rules (virt-df(1), "-d"): file and block disks (and LUNs) are read,
/// with <driver type> as their format; CD-ROMs and floppies are skipped, as
/// their media are not the guest's filesystems; network and other disk
/// types cannot be read from the host's files and fail the guest.
DiskPlan plan_disk(const DiskDef& disk);

/// "vda", or "disk N" (counting from 1) where the definition names no target.
std::string disk_label(const DiskDef& disk, std::size_t index);

namespace detail {

/// Loads the library `soname` and resolves every libxml2 function virt-df
/// calls, as the first parse does with "libxml2.so.2", but keeps nothing:
/// for tests of the failure messages.
Status load_libxml2(const std::string& soname);

}  // namespace detail

}  // namespace vmdf::guests
