// SPDX-License-Identifier: GPL-2.0-or-later
#include "guests/libvirt.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/xmlerror.h>

namespace vmdf::guests {

namespace {

/// libvirt prints every error on stderr unless a handler is set, and so
/// does libxml2 when libvirt has it read a file (the test driver's node
/// XML); virt-df reports them itself, once, through virGetLastErrorMessage.
void quiet_error_handler(void*, virErrorPtr) {}
void quiet_xml_handler(void*, const char*, ...) {}

void init_libvirt() {
    static std::once_flag once;
    std::call_once(once, [] {
        virInitialize();
        virSetErrorFunc(nullptr, quiet_error_handler);
        xmlSetGenericErrorFunc(nullptr, quiet_xml_handler);
    });
}

std::string last_error() {
    const char* message = virGetLastErrorMessage();
    return message != nullptr ? message : "unknown libvirt error";
}

struct DomainFree {
    void operator()(virDomain* dom) const { virDomainFree(dom); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFree>;

struct CFree {
    void operator()(char* p) const { std::free(p); }
};

Result<DomainXml> describe(virDomain* dom) {
    DomainXml out;
    const char* name = virDomainGetName(dom);
    if (name == nullptr) return fail(Errc::io, last_error());
    out.name = name;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) != 0) return fail(Errc::io, last_error());
    out.uuid = uuid;
    std::unique_ptr<char, CFree> xml(virDomainGetXMLDesc(dom, 0));
    if (!xml) return fail(Errc::io, last_error());
    out.xml = xml.get();
    return out;
}

}  // namespace

bool looks_like_uuid(const std::string& s) {
    std::size_t digits = 0;
    for (char c : s) {
        if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
            ++digits;
        } else if (c != '-' || digits == 0 || digits == 32) {
            return false;
        }
    }
    return digits == 32;
}

struct LibvirtConnection::Impl {
    virConnectPtr conn = nullptr;
    ~Impl() {
        if (conn != nullptr) virConnectClose(conn);
    }
};

LibvirtConnection::LibvirtConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LibvirtConnection::LibvirtConnection(LibvirtConnection&&) noexcept = default;
LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&&) noexcept = default;
LibvirtConnection::~LibvirtConnection() = default;

Result<LibvirtConnection> LibvirtConnection::open(const std::string& uri) {
    init_libvirt();
    auto impl = std::make_unique<Impl>();
    impl->conn = virConnectOpenReadOnly(uri.empty() ? nullptr : uri.c_str());
    if (impl->conn == nullptr)
        return fail(Errc::io, "could not connect to libvirt" +
                                  (uri.empty() ? std::string() : " (URI = " + uri + ")") + ": " +
                                  last_error());
    return LibvirtConnection(std::move(impl));
}

Result<DomainXml> LibvirtConnection::lookup(const std::string& name_or_uuid) const {
    // As libguestfs' add_domain with allowuuid: a UUID first, then a name.
    DomainPtr dom;
    if (looks_like_uuid(name_or_uuid)) dom.reset(virDomainLookupByUUIDString(impl_->conn, name_or_uuid.c_str()));
    if (!dom) dom.reset(virDomainLookupByName(impl_->conn, name_or_uuid.c_str()));
    if (!dom) return fail(Errc::io, "no libvirt domain called '" + name_or_uuid + "': " + last_error());
    auto described = describe(dom.get());
    if (!described) return fail(Errc::io, name_or_uuid + ": " + described.error().message);
    return described;
}

Result<LibvirtConnection::Listing> LibvirtConnection::all_domains() const {
    virDomainPtr* list = nullptr;
    const int count = virConnectListAllDomains(
        impl_->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE | VIR_CONNECT_LIST_DOMAINS_INACTIVE);
    if (count < 0) return fail(Errc::io, "could not list libvirt domains: " + last_error());
    std::vector<DomainPtr> doms;
    doms.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) doms.emplace_back(list[i]);
    std::free(list);

    struct Entry {
        DomainXml domain;
        std::string error;
    };
    std::vector<Entry> entries;
    for (const DomainPtr& dom : doms) {
        // Xen's dom0 is the host itself, not a guest (RHBZ#538041).
        if (virDomainGetID(dom.get()) == 0) continue;
        auto described = describe(dom.get());
        if (described) {
            entries.push_back(Entry{std::move(*described), {}});
            continue;
        }
        // Undefined between the listing and now: not a guest any more.
        const virError* error = virGetLastError();
        if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN) continue;
        const char* name = virDomainGetName(dom.get());
        entries.push_back(Entry{DomainXml{name != nullptr ? name : "?", {}, {}},
                                std::move(described).error().message});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return std::strcmp(a.domain.name.c_str(), b.domain.name.c_str()) < 0;
    });
    Listing listing;
    for (Entry& e : entries) {
        listing.domains.push_back(std::move(e.domain));
        listing.errors.push_back(std::move(e.error));
    }
    return listing;
}

Result<std::string> LibvirtConnection::volume_path(const std::string& pool,
                                                   const std::string& volume) const {
    struct PoolFree {
        void operator()(virStoragePool* p) const { virStoragePoolFree(p); }
    };
    struct VolFree {
        void operator()(virStorageVol* v) const { virStorageVolFree(v); }
    };
    std::unique_ptr<virStoragePool, PoolFree> p(virStoragePoolLookupByName(impl_->conn, pool.c_str()));
    if (!p) return fail(Errc::io, "storage pool '" + pool + "': " + last_error());
    std::unique_ptr<virStorageVol, VolFree> v(virStorageVolLookupByName(p.get(), volume.c_str()));
    if (!v) return fail(Errc::io, "storage volume '" + volume + "': " + last_error());
    std::unique_ptr<char, CFree> path(virStorageVolGetPath(v.get()));
    if (!path) return fail(Errc::io, "storage volume '" + volume + "': " + last_error());
    return std::string(path.get());
}

}  // namespace vmdf::guests
