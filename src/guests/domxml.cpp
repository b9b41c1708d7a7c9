// SPDX-License-Identifier: GPL-2.0-or-later
// Domain XML with libxml2, the parser libvirt itself uses. Element and
// attribute names are those of https://libvirt.org/formatdomain.html
// ("Hard drives, floppy disks, CDROMs").
#include "guests/domxml.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/image.hpp"
#include "guests/dynlib.hpp"

namespace vmdf::guests {

namespace {

/// libxml2's soname since 2.0.
constexpr const char* kLibxml2Soname = "libxml2.so.2";

/// Every libxml2 function virt-df calls (and xmlFree, a variable holding
/// one): loaded with dlopen the first time domain XML is parsed (see
/// guests/dynlib.hpp), as libvirt is, so that -a runs do not load it and
/// the ICU libraries it needs.
#define VMDF_LIBXML2_SYMBOLS(X) \
    X(xmlCtxtGetLastError)      \
    X(xmlCtxtReadMemory)        \
    X(xmlDocGetRootElement)     \
    X(xmlFree)                  \
    X(xmlFreeDoc)               \
    X(xmlFreeParserCtxt)        \
    X(xmlGetNoNsProp)           \
    X(xmlHasNsProp)             \
    X(xmlInitParser)            \
    X(xmlNewParserCtxt)         \
    X(xmlNodeGetContent)        \
    X(xmlSetGenericErrorFunc)

struct Libxml2Api {
#define VMDF_LIBXML2_POINTER(name) decltype(&::name) name = nullptr;
    VMDF_LIBXML2_SYMBOLS(VMDF_LIBXML2_POINTER)
#undef VMDF_LIBXML2_POINTER
};

Result<Libxml2Api> load_api(const std::string& soname) {
    VMDF_TRY_ASSIGN(void* handle, open_library(soname, "libxml2"));
    Libxml2Api api;
#define VMDF_LIBXML2_RESOLVE(name) VMDF_TRY(resolve_symbol(handle, soname, "libxml2", #name, api.name));
    VMDF_LIBXML2_SYMBOLS(VMDF_LIBXML2_RESOLVE)
#undef VMDF_LIBXML2_RESOLVE
    return api;
}

/// The one loading of libxml2.so.2 (and xmlInitParser), on first use; a
/// failure is remembered and given again to every later caller.
const Result<Libxml2Api>& loaded_api() {
    static const Result<Libxml2Api> api = []() -> Result<Libxml2Api> {
        auto loaded = load_api(kLibxml2Soname);
        if (loaded) loaded->xmlInitParser();
        return loaded;
    }();
    return api;
}

/// The table; only called once loaded_api() has succeeded.
const Libxml2Api& libxml() { return *loaded_api(); }

struct DocFree {
    void operator()(xmlDoc* doc) const { libxml().xmlFreeDoc(doc); }
};
struct CtxtFree {
    void operator()(xmlParserCtxt* ctxt) const { libxml().xmlFreeParserCtxt(ctxt); }
};

/// `node` is the element <name> in no namespace (libvirt's own elements
/// have none; <metadata> children and hypervisor extensions do).
bool is_element(const xmlNode* node, std::string_view name) {
    return node->type == XML_ELEMENT_NODE && node->ns == nullptr &&
           std::string_view(reinterpret_cast<const char*>(node->name)) == name;
}

/// The first child element called `name`, or nullptr.
const xmlNode* child(const xmlNode* parent, std::string_view name) {
    for (const xmlNode* n = parent->children; n != nullptr; n = n->next)
        if (is_element(n, name)) return n;
    return nullptr;
}

std::string take(xmlChar* text) {
    if (text == nullptr) return {};
    std::string s(reinterpret_cast<const char*>(text));
    (*libxml().xmlFree)(text);
    return s;
}

/// An attribute in no namespace; empty if absent.
std::string attribute(const xmlNode* node, const char* name) {
    if (node == nullptr) return {};
    return take(libxml().xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name)));
}

bool has_attribute(const xmlNode* node, const char* name) {
    return node != nullptr && libxml().xmlHasNsProp(node, reinterpret_cast<const xmlChar*>(name), nullptr);
}

std::string text_of(const xmlNode* node) {
    return node == nullptr ? std::string() : take(libxml().xmlNodeGetContent(node));
}

std::string trimmed(std::string s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

/// <source file=> for files, <source dev=> for block devices; a <source>
/// of either spelling is accepted for either type, as a hand-written
/// definition may mix them up and the path is what matters here.
std::string source_path(const xmlNode* source) {
    std::string path = attribute(source, "file");
    return path.empty() ? attribute(source, "dev") : path;
}

/// <backingStore> levels, outermost first. An empty <backingStore/> ends
/// the chain ("the source is self-contained").
Result<std::vector<BackingStoreDef>> parse_backing(const xmlNode* disk) {
    std::vector<BackingStoreDef> chain;
    for (const xmlNode* level = child(disk, "backingStore"); level != nullptr;
         level = child(level, "backingStore")) {
        const xmlNode* source = child(level, "source");
        if (source == nullptr) break;
        if (chain.size() >= kMaxImageChainDepth)
            return failf(Errc::unsupported, std::nullopt, "<backingStore> chain deeper than {}",
                         kMaxImageChainDepth);
        chain.push_back(BackingStoreDef{attribute(level, "type"), source_path(source),
                                        attribute(child(level, "format"), "type")});
    }
    return chain;
}

Result<DiskDef> parse_disk(const xmlNode* node) {
    DiskDef disk;
    if (has_attribute(node, "type")) disk.type = attribute(node, "type");
    if (has_attribute(node, "device")) disk.device = attribute(node, "device");
    disk.target = attribute(child(node, "target"), "dev");
    disk.format = attribute(child(node, "driver"), "type");
    if (const xmlNode* source = child(node, "source")) {
        disk.has_source = true;
        disk.source = source_path(source);
        disk.has_slices = child(source, "slices") != nullptr;
        disk.protocol = attribute(source, "protocol");
        disk.name = attribute(source, "name");
        disk.pool = attribute(source, "pool");
        disk.volume = attribute(source, "volume");
    }
    VMDF_TRY_ASSIGN(disk.backing, parse_backing(node));
    return disk;
}

/// libxml2 prints its errors on stderr unless a handler is set.
void quiet_xml_handler(void*, const char*, ...) {}

}  // namespace

Status silence_libxml2() {
    const auto& api = loaded_api();
    if (!api) return fail(api.error());
    api->xmlSetGenericErrorFunc(nullptr, quiet_xml_handler);
    return {};
}

namespace detail {

Status load_libxml2(const std::string& soname) {
    auto api = load_api(soname);
    if (!api) return std::move(api).failure();
    return {};
}

}  // namespace detail

Result<DomainDef> parse_domain_xml(std::string_view xml) {
    if (const auto& api = loaded_api(); !api) return fail(api.error());
    if (xml.size() > kMaxDomainXmlBytes)
        return failf(Errc::unsupported, std::nullopt, "domain XML of {} bytes is larger than {}",
                     xml.size(), kMaxDomainXmlBytes);

    std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(libxml().xmlNewParserCtxt());
    if (!ctxt) return fail(Errc::io, "out of memory");
    // No network access, no messages of libxml2's own on stderr; entities
    // are not substituted (and a DTD is refused below).
    std::unique_ptr<xmlDoc, DocFree> doc(
        libxml().xmlCtxtReadMemory(ctxt.get(), xml.data(), static_cast<int>(xml.size()), "domain.xml",
                          nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) {
        const xmlError* error = libxml().xmlCtxtGetLastError(ctxt.get());
        if (error == nullptr || error->message == nullptr) return fail(Errc::corrupt, "not XML");
        return failf(Errc::corrupt, std::nullopt, "not well-formed XML: line {}: {}", error->line,
                     trimmed(error->message));
    }
    // libvirt writes no DOCTYPE; one could only be there to define entities.
    if (doc->intSubset != nullptr) return fail(Errc::unsupported, "a DOCTYPE is not allowed in domain XML");

    const xmlNode* root = libxml().xmlDocGetRootElement(doc.get());
    if (root == nullptr || !is_element(root, "domain"))
        return fail(Errc::corrupt, "not a libvirt domain definition (no <domain> element)");

    DomainDef domain;
    domain.name = text_of(child(root, "name"));
    if (domain.name.empty()) return fail(Errc::corrupt, "the domain definition has no <name>");
    domain.uuid = trimmed(text_of(child(root, "uuid")));

    if (const xmlNode* devices = child(root, "devices")) {
        for (const xmlNode* n = devices->children; n != nullptr; n = n->next) {
            if (!is_element(n, "disk")) continue;
            if (domain.disks.size() >= kMaxDisksPerDomain)
                return failf(Errc::unsupported, std::nullopt, "more than {} <disk> elements",
                             kMaxDisksPerDomain);
            auto disk = parse_disk(n);
            if (!disk) return std::move(disk).failure();
            domain.disks.push_back(std::move(*disk));
        }
    }
    return domain;
}

Result<DomainDef> read_domain_xml(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::io, std::strerror(errno));
    std::string text;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int saved = errno;
            ::close(fd);
            return fail(Errc::io, std::strerror(saved));
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxDomainXmlBytes) {
            ::close(fd);
            return failf(Errc::unsupported, std::nullopt, "larger than {} MiB: not a domain XML file",
                         kMaxDomainXmlBytes >> 20);
        }
    }
    ::close(fd);
    return parse_domain_xml(text);
}

DiskPlan plan_disk(const DiskDef& disk) {
    using Action = DiskPlan::Action;
    if (disk.device == "cdrom" || disk.device == "floppy")
        return DiskPlan{Action::skip, {}, {}, disk.device == "cdrom" ? "CD-ROM skipped" : "floppy skipped"};
    if (disk.device != "disk" && disk.device != "lun")
        return DiskPlan{Action::fail, {}, {}, "disk device '" + disk.device + "' is not supported"};

    if (disk.type == "network")
        return DiskPlan{Action::fail, {}, {},
                        "network disks are not supported" +
                            (disk.protocol.empty() ? std::string() : " (protocol " + disk.protocol + ")")};
    if (disk.type == "volume")
        return DiskPlan{Action::fail, {}, {},
                        "storage volume '" + disk.volume + "' of pool '" + disk.pool +
                            "' can only be found through libvirt"};
    if (disk.type != "file" && disk.type != "block")
        return DiskPlan{Action::fail, {}, {}, "disks of type '" + disk.type + "' are not supported"};
    if (disk.source.empty()) return DiskPlan{Action::fail, {}, {}, "the disk has no source"};
    if (disk.has_slices)
        return DiskPlan{Action::fail, {}, {}, "disks with storage <slices> are not supported"};

    // <driver type> is the format the hypervisor opens the file as. Xen's
    // blktap wrote "aio" for raw. Without one, the format is detected, as
    // libguestfs does (libvirt's qemu driver would assume raw).
    std::string format = disk.format == "aio" ? "raw" : disk.format;
    return DiskPlan{Action::open, disk.source, std::move(format), {}};
}

std::string disk_label(const DiskDef& disk, std::size_t index) {
    return disk.target.empty() ? "disk " + std::to_string(index + 1) : disk.target;
}

}  // namespace vmdf::guests
