// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/device.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace vmdf {

namespace {

std::atomic<bool> g_trace_reads{false};
std::atomic<std::uint64_t> g_read_calls{0};
std::atomic<std::uint64_t> g_bytes_read{0};

constexpr std::uint32_t kDefaultSectorSize = 512;

}  // namespace

void set_read_tracing(bool enabled) { g_trace_reads = enabled; }

IoStats io_stats() { return IoStats{g_read_calls.load(), g_bytes_read.load()}; }

Device::Device(std::string name, std::uint64_t size, std::uint32_t block_size)
    : name_(std::move(name)), size_(size), block_size_(block_size) {}

namespace {
// The current thread's ReadDeadline; time_point::max() when there is none.
thread_local std::chrono::steady_clock::time_point t_read_deadline =
    std::chrono::steady_clock::time_point::max();
thread_local std::chrono::steady_clock::duration t_read_limit{};
}  // namespace

ReadDeadline::ReadDeadline(std::chrono::steady_clock::duration limit)
    : saved_(t_read_deadline), saved_limit_(t_read_limit) {
    t_read_deadline = std::min(t_read_deadline, std::chrono::steady_clock::now() + limit);
    t_read_limit = limit;
}

bool ReadDeadline::expired() const {
    return t_read_deadline != std::chrono::steady_clock::time_point::max() &&
           std::chrono::steady_clock::now() > t_read_deadline;
}

ReadDeadline::~ReadDeadline() {
    t_read_deadline = saved_;
    t_read_limit = saved_limit_;
}

Status Device::read(std::uint64_t offset, std::span<std::byte> out) const {
    if (t_read_deadline != std::chrono::steady_clock::time_point::max() &&
        std::chrono::steady_clock::now() > t_read_deadline)
        return failf(Errc::io, offset, "time limit of {} s for this guest exceeded: reading stopped",
                     std::chrono::duration_cast<std::chrono::seconds>(t_read_limit).count());
    if (out.size() > size_ || offset > size_ - out.size())
        return failf(Errc::truncated, offset, "read of {} bytes runs past the end of {} ({} bytes)",
                     out.size(), name_, size_);
    if (out.empty()) return {};
    return read_at(offset, out);
}

std::vector<Location> Device::map_block(std::uint64_t) const { return {}; }

std::uint64_t Device::contiguous(std::uint64_t offset) const {
    return offset < size_ ? size_ - offset : 0;
}

// --- FileDevice -------------------------------------------------------------

Result<std::shared_ptr<FileDevice>> FileDevice::open(const std::string& path,
                                                     std::uint32_t block_size) {
    // O_NOATIME keeps a backup tool from touching access times, but only the
    // file's owner (or CAP_FOWNER) may ask for it: retry without on EPERM.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::io, std::strerror(errno));

    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int saved = errno;
        ::close(fd);
        return fail(Errc::io, std::strerror(saved));
    }
    std::uint64_t size = 0;
    std::uint32_t sector = kDefaultSectorSize;
    if (S_ISREG(st.st_mode)) {
        size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        int logical = 0;
        if (::ioctl(fd, BLKGETSIZE64, &size) != 0 || ::ioctl(fd, BLKSSZGET, &logical) != 0) {
            int saved = errno;
            ::close(fd);
            return fail(Errc::io, std::strerror(saved));
        }
        if (logical > 0) sector = static_cast<std::uint32_t>(logical);
    } else {
        ::close(fd);
        return fail(Errc::io, S_ISDIR(st.st_mode) ? "Is a directory"
                                                  : "not a regular file or block device");
    }
    if (block_size != 0) sector = block_size;
    return std::shared_ptr<FileDevice>(new FileDevice(path, fd, size, sector));
}

FileDevice::FileDevice(std::string path, int fd, std::uint64_t size, std::uint32_t block_size)
    : Device(path, size, block_size), path_(std::move(path)), fd_(fd) {}

FileDevice::~FileDevice() { ::close(fd_); }

bool FileDevice::read_recent(std::uint64_t offset, std::span<std::byte> out) const {
    const std::lock_guard lock(recent_mutex_);
    for (const RecentRead& r : recent_) {
        if (r.bytes.empty() || offset < r.offset || offset - r.offset > r.bytes.size() ||
            out.size() > r.bytes.size() - (offset - r.offset))
            continue;
        std::copy_n(r.bytes.begin() + static_cast<std::ptrdiff_t>(offset - r.offset), out.size(),
                    out.begin());
        return true;
    }
    return false;
}

void FileDevice::keep_recent(std::uint64_t offset, std::span<const std::byte> bytes) const {
    const std::lock_guard lock(recent_mutex_);
    RecentRead& slot = recent_[recent_next_];
    recent_next_ = (recent_next_ + 1) % kRecentReads;
    slot.offset = offset;
    slot.bytes.assign(bytes.begin(), bytes.end());
}

Status FileDevice::read_at(std::uint64_t offset, std::span<std::byte> out) const {
    const bool small = out.size() <= kRecentReadMax;
    if (small && read_recent(offset, out)) return {};
    VMDF_TRY(read_from_file(offset, out));
    if (small) keep_recent(offset, out);
    return {};
}

Status FileDevice::read_from_file(std::uint64_t offset, std::span<std::byte> out) const {
    if (g_trace_reads) spdlog::info("read {} offset {:#x} length {}", path_, offset, out.size());
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                            static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(Errc::io, std::strerror(errno), offset + done);
        }
        g_read_calls.fetch_add(1, std::memory_order_relaxed);
        g_bytes_read.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        // The file shrank under us (the size was checked against fstat).
        if (n == 0) return fail(Errc::truncated, "unexpected end of file", offset + done);
        done += static_cast<std::size_t>(n);
    }
    return {};
}

// --- SliceDevice ------------------------------------------------------------

Result<std::shared_ptr<SliceDevice>> SliceDevice::create(DevicePtr parent, std::string name,
                                                         std::uint64_t offset,
                                                         std::uint64_t length,
                                                         std::uint32_t block_size) {
    if (length > parent->size() || offset > parent->size() - length)
        return failf(Errc::truncated, offset,
                     "{} bytes at offset {} run past the end of {} ({} bytes)", length, offset,
                     parent->name(), parent->size());
    return std::shared_ptr<SliceDevice>(
        new SliceDevice(std::move(parent), std::move(name), offset, length, block_size));
}

SliceDevice::SliceDevice(DevicePtr parent, std::string name, std::uint64_t offset,
                         std::uint64_t length, std::uint32_t block_size)
    : Device(std::move(name), length, block_size), parent_(std::move(parent)), offset_(offset) {}

Status SliceDevice::read_at(std::uint64_t offset, std::span<std::byte> out) const {
    return parent_->read(offset_ + offset, out);
}

std::vector<Location> SliceDevice::map_block(std::uint64_t offset) const {
    std::vector<Location> chain{{parent_.get(), offset_ + offset}};
    auto below = parent_->map_block(offset_ + offset);
    chain.insert(chain.end(), below.begin(), below.end());
    return chain;
}

// --- MemoryDevice -----------------------------------------------------------

MemoryDevice::MemoryDevice(std::string name, std::vector<std::byte> data,
                           std::uint32_t block_size)
    : Device(std::move(name), data.size(), block_size), data_(std::move(data)) {}

Status MemoryDevice::read_at(std::uint64_t offset, std::span<std::byte> out) const {
    std::memcpy(out.data(), data_.data() + offset, out.size());
    return {};
}

}  // namespace vmdf
