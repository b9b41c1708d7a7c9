// SPDX-License-Identifier: GPL-2.0-or-later
#include "guests/dynlib.hpp"

#include <dlfcn.h>

namespace vmdf::guests {

namespace {

std::string last_dl_error() {
    const char* error = ::dlerror();
    return error != nullptr ? error : "unknown error";
}

}  // namespace

Result<void*> open_library(const std::string& soname, const std::string& what) {
    ::dlerror();
    void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        // glibc's message starts with the name already.
        std::string error = last_dl_error();
        if (!error.starts_with(soname)) error = soname + ": " + error;
        return fail(Errc::unsupported, what + " is not installed (" + error + ")");
    }
    return handle;
}

void* library_symbol(void* handle, const char* name, std::string& error) {
    ::dlerror();
    void* symbol = ::dlsym(handle, name);
    if (symbol == nullptr) error = last_dl_error();
    return symbol;
}

}  // namespace vmdf::guests
