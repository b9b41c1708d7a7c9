// SPDX-License-Identifier: GPL-2.0-or-later
// The libvirt client (libvirt.so, https://libvirt.org/html/libvirt-libvirt-domain.html):
// a read-only connection that finds domains and hands back their XML. Only
// the main thread calls it, before any image is opened. libvirt is not
// linked: the first LibvirtConnection::open loads it with dlopen
// ("libvirt.so.0", see guests/dynlib.hpp), so that runs that need no
// connection do not load it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace vmdf::guests {

/// A domain as libvirt reports it.
struct DomainXml {
    std::string name;
    std::string uuid;  ///< "6695eb01-f6a4-8304-79aa-97f2502e193f"
    std::string xml;   ///< virDomainGetXMLDesc(dom, 0): the live definition if running
};

class LibvirtConnection {
public:
    /// virConnectOpenReadOnly(uri); an empty `uri` is libvirt's default
    /// (LIBVIRT_DEFAULT_URI, the configured uri_default, or probing).
    /// Fails with "libvirt is not installed (libvirt.so.0: reason)" when
    /// the library cannot be loaded.
    static Result<LibvirtConnection> open(const std::string& uri);

    LibvirtConnection(LibvirtConnection&&) noexcept;
    LibvirtConnection& operator=(LibvirtConnection&&) noexcept;
    ~LibvirtConnection();

    /// A domain by UUID (when `name_or_uuid` is one) or else by name.
    Result<DomainXml> lookup(const std::string& name_or_uuid) const;

    /// Every domain, running or not (virConnectListAllDomains with ACTIVE |
    /// INACTIVE), sorted by name as strcmp sorts. Xen's dom0 (ID 0) is left
    /// out, and so are domains that vanish while being listed. A domain
    /// whose XML cannot be had is returned with `xml` empty and the error
    /// in `errors` at the same index.
    struct Listing {
        std::vector<DomainXml> domains;
        std::vector<std::string> errors;  ///< per domain; empty string: no error
    };
    Result<Listing> all_domains() const;

    /// The path of a storage pool volume (<disk type='volume'>).
    Result<std::string> volume_path(const std::string& pool, const std::string& volume) const;

private:
    struct Impl;
    explicit LibvirtConnection(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Does `s` spell a UUID as libvirt accepts one (32 hex digits, with '-'
/// between any of them)?
bool looks_like_uuid(const std::string& s);

namespace detail {

/// Loads the library `soname` and resolves every libvirt function virt-df
/// calls, as the first LibvirtConnection::open does with "libvirt.so.0",
/// but keeps nothing: for tests of the failure messages.
Status load_libvirt(const std::string& soname);

}  // namespace detail

}  // namespace vmdf::guests
