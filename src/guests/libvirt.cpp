// SPDX-License-Identifier: GPL-2.0-or-later
#include "guests/libvirt.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "guests/domxml.hpp"
#include "guests/dynlib.hpp"

namespace vmdf::guests {

namespace {

/// libvirt's soname since 0.x (the ABI has only grown).
constexpr const char* kLibvirtSoname = "libvirt.so.0";

/// Every libvirt function virt-df calls: the library is loaded with
/// dlopen (guests/dynlib.hpp) the first time a connection is opened, so
/// that runs with -a only do not load it and the 50-odd libraries it needs.
#define VMDF_LIBVIRT_FUNCTIONS(X) \
    X(virConnectClose)            \
    X(virConnectListAllDomains)   \
    X(virConnectOpenReadOnly)     \
    X(virDomainFree)              \
    X(virDomainGetID)             \
    X(virDomainGetName)           \
    X(virDomainGetUUIDString)     \
    X(virDomainGetXMLDesc)        \
    X(virDomainLookupByName)      \
    X(virDomainLookupByUUIDString) \
    X(virGetLastError)            \
    X(virGetLastErrorMessage)     \
    X(virInitialize)              \
    X(virSetErrorFunc)            \
    X(virStoragePoolFree)         \
    X(virStoragePoolLookupByName) \
    X(virStorageVolFree)          \
    X(virStorageVolGetPath)       \
    X(virStorageVolLookupByName)

struct LibvirtApi {
#define VMDF_LIBVIRT_POINTER(name) decltype(&::name) name = nullptr;
    VMDF_LIBVIRT_FUNCTIONS(VMDF_LIBVIRT_POINTER)
#undef VMDF_LIBVIRT_POINTER
};

/// libvirt prints every error on stderr unless a handler is set; virt-df
/// reports them itself, once, through virGetLastErrorMessage.
void quiet_error_handler(void*, virErrorPtr) {}

/// dlopen(soname) and every function of the table, or why not.
Result<LibvirtApi> load_api(const std::string& soname) {
    VMDF_TRY_ASSIGN(void* handle, open_library(soname, "libvirt"));
    LibvirtApi api;
#define VMDF_LIBVIRT_RESOLVE(name) VMDF_TRY(resolve_symbol(handle, soname, "libvirt", #name, api.name));
    VMDF_LIBVIRT_FUNCTIONS(VMDF_LIBVIRT_RESOLVE)
#undef VMDF_LIBVIRT_RESOLVE
    return api;
}

/// The one loading of libvirt.so.0 (and its initialisation), on first use;
/// a failure is remembered and given again to every later caller.
const Result<LibvirtApi>& loaded_api() {
    static const Result<LibvirtApi> api = []() -> Result<LibvirtApi> {
        auto loaded = load_api(kLibvirtSoname);
        if (!loaded) return loaded;
        // libxml2 too prints on stderr when libvirt has it read a file
        // (the test driver's node XML). libvirt has loaded it by now, so
        // this cannot fail; if it did, libvirt would still work.
        if (!silence_libxml2()) {}
        loaded->virInitialize();
        loaded->virSetErrorFunc(nullptr, quiet_error_handler);
        return loaded;
    }();
    return api;
}

/// The table; only called once a connection is open, so it is loaded.
const LibvirtApi& lv() { return *loaded_api(); }

std::string last_error() {
    const char* message = lv().virGetLastErrorMessage();
    return message != nullptr ? message : "unknown libvirt error";
}

struct DomainFree {
    void operator()(virDomain* dom) const { lv().virDomainFree(dom); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFree>;

struct CFree {
    void operator()(char* p) const { std::free(p); }
};

Result<DomainXml> describe(virDomain* dom) {
    DomainXml out;
    const char* name = lv().virDomainGetName(dom);
    if (name == nullptr) return fail(Errc::io, last_error());
    out.name = name;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (lv().virDomainGetUUIDString(dom, uuid) != 0) return fail(Errc::io, last_error());
    out.uuid = uuid;
    std::unique_ptr<char, CFree> xml(lv().virDomainGetXMLDesc(dom, 0));
    if (!xml) return fail(Errc::io, last_error());
    out.xml = xml.get();
    return out;
}

}  // namespace

namespace detail {

Status load_libvirt(const std::string& soname) {
    auto api = load_api(soname);
    if (!api) return std::move(api).failure();
    return {};
}

}  // namespace detail

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
        if (conn != nullptr) lv().virConnectClose(conn);
    }
};

LibvirtConnection::LibvirtConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LibvirtConnection::LibvirtConnection(LibvirtConnection&&) noexcept = default;
LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&&) noexcept = default;
LibvirtConnection::~LibvirtConnection() = default;

Result<LibvirtConnection> LibvirtConnection::open(const std::string& uri) {
    if (const auto& api = loaded_api(); !api) return fail(api.error());
    auto impl = std::make_unique<Impl>();
    impl->conn = lv().virConnectOpenReadOnly(uri.empty() ? nullptr : uri.c_str());
    if (impl->conn == nullptr)
        return fail(Errc::io, "could not connect to libvirt" +
                                  (uri.empty() ? std::string() : " (URI = " + uri + ")") + ": " +
                                  last_error());
    return LibvirtConnection(std::move(impl));
}

Result<DomainXml> LibvirtConnection::lookup(const std::string& name_or_uuid) const {
    // As libguestfs' add_domain with allowuuid: a UUID first, then a name.
    DomainPtr dom;
    if (looks_like_uuid(name_or_uuid)) dom.reset(lv().virDomainLookupByUUIDString(impl_->conn, name_or_uuid.c_str()));
    if (!dom) dom.reset(lv().virDomainLookupByName(impl_->conn, name_or_uuid.c_str()));
    if (!dom) return fail(Errc::io, "no libvirt domain called '" + name_or_uuid + "': " + last_error());
    auto described = describe(dom.get());
    if (!described) return fail(Errc::io, name_or_uuid + ": " + described.error().message);
    return described;
}

Result<LibvirtConnection::Listing> LibvirtConnection::all_domains() const {
    virDomainPtr* list = nullptr;
    const int count = lv().virConnectListAllDomains(
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
        if (lv().virDomainGetID(dom.get()) == 0) continue;
        auto described = describe(dom.get());
        if (described) {
            entries.push_back(Entry{std::move(*described), {}});
            continue;
        }
        // Undefined between the listing and now: not a guest any more.
        const virError* error = lv().virGetLastError();
        if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN) continue;
        const char* name = lv().virDomainGetName(dom.get());
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
        void operator()(virStoragePool* p) const { lv().virStoragePoolFree(p); }
    };
    struct VolFree {
        void operator()(virStorageVol* v) const { lv().virStorageVolFree(v); }
    };
    std::unique_ptr<virStoragePool, PoolFree> p(lv().virStoragePoolLookupByName(impl_->conn, pool.c_str()));
    if (!p) return fail(Errc::io, "storage pool '" + pool + "': " + last_error());
    std::unique_ptr<virStorageVol, VolFree> v(lv().virStorageVolLookupByName(p.get(), volume.c_str()));
    if (!v) return fail(Errc::io, "storage volume '" + volume + "': " + last_error());
    std::unique_ptr<char, CFree> path(lv().virStorageVolGetPath(v.get()));
    if (!path) return fail(Errc::io, "storage volume '" + volume + "': " + last_error());
    return std::string(path.get());
}

}  // namespace vmdf::guests
