// SPDX-License-Identifier: GPL-2.0-or-later
// Libraries that only some runs need (libvirt, libxml2) are not linked but
// loaded with dlopen when first wanted, so that `virt-df -a` does not pay
// for loading and relocating them at every start. Their headers still
// declare the functions: a table of pointers typed with decltype(&fn)
// keeps every call checked against the real prototype. Loading happens in
// the gathering phase, before the sandbox (core/sandbox.hpp) is entered:
// after that nothing can be opened.
#pragma once

#include <string>

#include "core/result.hpp"

namespace vmdf::guests {

/// dlopen(soname, RTLD_NOW | RTLD_LOCAL). Never closed: the library stays
/// loaded for the rest of the process, as a linked one would. The error
/// reads "<what> is not installed (<soname>: <dlerror>)".
Result<void*> open_library(const std::string& soname, const std::string& what);

/// dlsym(handle, name); nullptr if absent, `error` then says why.
void* library_symbol(void* handle, const char* name, std::string& error);

/// Resolves `name` into `fn`, typed as the header declares it.
template <class F>
Status resolve_symbol(void* handle, const std::string& soname, const std::string& what,
                      const char* name, F& fn) {
    std::string error;
    void* symbol = library_symbol(handle, name, error);
    if (symbol == nullptr)
        return fail(Errc::unsupported, soname + " is not a usable " + what + " (" + error + ")");
    fn = reinterpret_cast<F>(symbol);
    return {};
}

}  // namespace vmdf::guests
