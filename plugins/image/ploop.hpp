// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/plugin.hpp"
#include "core/result.hpp"

namespace vmdf {
extern const ImagePlugin ploop_plugin;
}

namespace vmdf::ploop {

/// An element of a DiskDescriptor.xml, as the plugin's small XML reader
/// returns it (exposed for tests).
struct XmlElement {
    std::string name;
    /// The element's own character data, entities decoded and CDATA
    /// included, in document order; not its children's.
    std::string text;
    std::vector<XmlElement> children;
    std::uint64_t offset = 0;  ///< of its '<' in the document

    /// The first child element called `child_name`, or null.
    const XmlElement* child(std::string_view child_name) const;
};

/// Parses a whole XML document (XML 1.0 without DTDs: a DOCTYPE is
/// skipped, entities other than the five predefined ones and character
/// references are refused). Depth and element count are bounded.
Result<XmlElement> parse_xml(std::string_view document);

}  // namespace vmdf::ploop
