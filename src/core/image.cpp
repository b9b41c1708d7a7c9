// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/image.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "core/scan.hpp"

namespace vmdf {

std::string resolve_relative(const std::string& referrer, const std::string& name) {
    if (name.empty() || name.front() == '/') return name;
    const auto slash = referrer.rfind('/');
    if (slash == std::string::npos) return name;
    return referrer.substr(0, slash + 1) + name;
}

namespace {

/// One open_image call: the chain of images being opened, for loop checks.
class ImageOpener {
public:
    ImageOpener(std::span<const ImagePlugin* const> images, std::vector<std::string>& warnings,
                std::uint32_t block_size)
        : images_(images), warnings_(warnings), block_size_(block_size) {}

    Result<DevicePtr> open(std::string path, std::string_view format, std::string_view snapshot);

private:
    Result<std::shared_ptr<FileDevice>> open_file(const std::string& path);
    Result<const ImagePlugin*> choose_format(std::string_view format, const Device& file);
    /// A directory stands for the disk of a format that keeps its own file
    /// there (ploop's DiskDescriptor.xml): the path of that file.
    std::string descriptor_in(const std::string& path, std::string_view format) const;

    std::span<const ImagePlugin* const> images_;
    std::vector<std::string>& warnings_;
    std::uint32_t block_size_;
    std::vector<std::string> chain_;  // canonical paths, outermost first
};

Result<std::shared_ptr<FileDevice>> ImageOpener::open_file(const std::string& path) {
    auto file = FileDevice::open(path, block_size_);
    if (!file) return std::move(file).failure();
    return file;
}

Result<const ImagePlugin*> ImageOpener::choose_format(std::string_view format, const Device& file) {
    if (format.empty()) {
        auto chosen = choose_plugin(images_, file);
        if (!chosen) return std::move(chosen).failure();
        if (!*chosen) return fail(Errc::unsupported, "no image format claims this file");
        return *chosen;
    }
    for (const ImagePlugin* p : images_)
        if (p->name == format || (!p->alias.empty() && p->alias == format)) return p;
    std::string known;
    for (const ImagePlugin* p : images_) known += (known.empty() ? "" : ", ") + std::string(p->name);
    return fail(Errc::unsupported,
                fmt::format("unknown disk format '{}' (this build reads: {})", format, known));
}

std::string ImageOpener::descriptor_in(const std::string& path, std::string_view format) const {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return path;
    for (const ImagePlugin* p : images_) {
        if (p->descriptor_file.empty() || (!format.empty() && p->name != format && p->alias != format))
            continue;
        std::string candidate = path + (path.ends_with('/') ? "" : "/") + std::string(p->descriptor_file);
        if (::access(candidate.c_str(), F_OK) == 0) return candidate;
    }
    return path;  // FileDevice::open will say "Is a directory"
}

Result<DevicePtr> ImageOpener::open(std::string path, std::string_view format,
                                    std::string_view snapshot) {
    path = descriptor_in(path, format);
    if (chain_.size() >= kMaxImageChainDepth)
        return failf(Errc::unsupported, std::nullopt, "chain of images deeper than {}", kMaxImageChainDepth);
    // A file that is its own ancestor would be followed forever.
    char canonical_buf[PATH_MAX];
    const std::string canonical = ::realpath(path.c_str(), canonical_buf) ? canonical_buf : path;
    if (std::find(chain_.begin(), chain_.end(), canonical) != chain_.end())
        return fail(Errc::corrupt, "loop in the chain of images: " + path + " refers back to itself");

    VMDF_TRY_ASSIGN(auto file, open_file(path));
    VMDF_TRY_ASSIGN(const ImagePlugin* plugin, choose_format(format, *file));
    spdlog::debug("{}: format {}", path, plugin->name);

    chain_.push_back(canonical);
    const ImageContext context{
        .path = path,
        .snapshot = snapshot,
        .block_size = block_size_,
        .open_backing =
            [&](const std::string& name, std::string_view backing_format) -> Result<DevicePtr> {
            const std::string backing = resolve_relative(path, name);
            auto opened = open(backing, backing_format, {});
            if (!opened) return fail(std::move(opened.error().within("backing file " + backing)));
            return opened;
        },
        .open_file = [&](const std::string& name) -> Result<DevicePtr> {
            const std::string resolved = resolve_relative(path, name);
            auto opened = open_file(resolved);
            if (!opened) return fail(std::move(opened.error().within(resolved)));
            return DevicePtr(std::move(*opened));
        },
        .warnings = warnings_,
    };
    auto opened = plugin->open(std::move(file), context);
    chain_.pop_back();
    if (!opened) {
        // A backing file's error already says which file it is; naming the
        // outer format as well would only lengthen the message.
        Error error = std::move(opened).error();
        if (error.where.empty() || !error.where.front().starts_with("backing file "))
            error.within(std::string(plugin->name));
        return fail(std::move(error));
    }
    return opened;
}

}  // namespace

Result<DevicePtr> open_image(const ImageRequest& request, std::span<const ImagePlugin* const> images,
                             std::vector<std::string>& warnings) {
    ImageOpener opener(images, warnings, request.block_size);
    return opener.open(request.path, request.format, request.snapshot);
}

}  // namespace vmdf
