// SPDX-License-Identifier: GPL-2.0-or-later
// Devices: anything readable by byte offset (after the OCaml virt-df's
// Diskimage.device). A disk image file, a partition (a slice of a disk), and
// later a qcow2 view or an LVM logical volume built from segments of PVs.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace vmdf {

class Device;

/// Where a byte of a device lives on an underlying device.
struct Location {
    const Device* device;
    std::uint64_t offset;
};

/// Counters for the reads that reached the operating system (benchmarks, -v).
struct IoStats {
    std::uint64_t read_calls = 0;
    std::uint64_t bytes_read = 0;
};

class Device {
public:
    Device(std::string name, std::uint64_t size, std::uint32_t block_size);
    virtual ~Device() = default;
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const std::string& name() const { return name_; }
    std::uint64_t size() const { return size_; }
    /// The natural block (logical sector) size, 512 unless known otherwise.
    std::uint32_t block_size() const { return block_size_; }

    /// Fills `out` entirely with the bytes from `offset`, or fails: a read
    /// that would run past the end of the device is `truncated`.
    Status read(std::uint64_t offset, std::span<std::byte> out) const;

    /// Which underlying device and offset hold byte `offset` (outermost
    /// first, down to the physical file). Empty for a physical device.
    virtual std::vector<Location> map_block(std::uint64_t offset) const;

    /// How many bytes from `offset` on are mapped contiguously, so that a
    /// caller can tell where a mapped device's next hole or seam is.
    virtual std::uint64_t contiguous(std::uint64_t offset) const;

protected:
    /// Reads exactly out.size() bytes; bounds were checked by read().
    virtual Status read_at(std::uint64_t offset, std::span<std::byte> out) const = 0;

private:
    std::string name_;
    std::uint64_t size_;
    std::uint32_t block_size_;
};

using DevicePtr = std::shared_ptr<const Device>;

/// A regular file or a block device node, opened read-only.
class FileDevice final : public Device {
public:
    /// Opens `path` O_RDONLY|O_CLOEXEC (and O_NOATIME where permitted).
    /// The error message is the OS's reason, e.g. "No such file or directory".
    static Result<std::shared_ptr<FileDevice>> open(const std::string& path,
                                                    std::uint32_t block_size = 0);
    ~FileDevice() override;

    const std::string& path() const { return path_; }

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override;

private:
    FileDevice(std::string path, int fd, std::uint64_t size, std::uint32_t block_size);
    Status read_from_file(std::uint64_t offset, std::span<std::byte> out) const;
    bool read_recent(std::uint64_t offset, std::span<std::byte> out) const;
    void keep_recent(std::uint64_t offset, std::span<const std::byte> bytes) const;

    std::string path_;
    int fd_;

    /// The last few small reads: probes and readers ask for the same
    /// sector 0 and superblocks again and again (each plugin checks its own
    /// magic), and a read inside one of these is served without the OS.
    static constexpr std::size_t kRecentReads = 8;
    static constexpr std::size_t kRecentReadMax = 4096;
    struct RecentRead {
        std::uint64_t offset = 0;
        std::vector<std::byte> bytes;
    };
    mutable std::mutex recent_mutex_;
    mutable std::array<RecentRead, kRecentReads> recent_;
    mutable std::size_t recent_next_ = 0;
};

/// A window [offset, offset + length) of another device: a partition.
class SliceDevice final : public Device {
public:
    /// Fails (truncated) if the window does not lie within `parent`.
    static Result<std::shared_ptr<SliceDevice>> create(DevicePtr parent, std::string name,
                                                       std::uint64_t offset, std::uint64_t length,
                                                       std::uint32_t block_size);

    std::uint64_t offset() const { return offset_; }
    std::vector<Location> map_block(std::uint64_t offset) const override;

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override;

private:
    SliceDevice(DevicePtr parent, std::string name, std::uint64_t offset, std::uint64_t length,
                std::uint32_t block_size);
    DevicePtr parent_;
    std::uint64_t offset_;
};

/// Bytes held in memory: for tests and fuzzing.
class MemoryDevice final : public Device {
public:
    MemoryDevice(std::string name, std::vector<std::byte> data, std::uint32_t block_size = 512);
    std::span<std::byte> data() { return data_; }

protected:
    Status read_at(std::uint64_t offset, std::span<std::byte> out) const override;

private:
    std::vector<std::byte> data_;
};

/// While one lives, reads on this thread fail (`io`, "time limit ... exceeded")
/// once `limit` has passed: a hostile guest whose structures make a parser
/// read for ever is cut short, and the scan reports what it had. Nests: the
/// innermost limit applies until it is destroyed.
class ReadDeadline {
public:
    explicit ReadDeadline(std::chrono::steady_clock::duration limit);
    ~ReadDeadline();
    ReadDeadline(const ReadDeadline&) = delete;
    ReadDeadline& operator=(const ReadDeadline&) = delete;

    /// Has the time run out (so that reads on this thread now fail)?
    bool expired() const;

private:
    std::chrono::steady_clock::time_point saved_;
    std::chrono::steady_clock::duration saved_limit_;
};

/// Logs every read that reaches the operating system (-x).
void set_read_tracing(bool enabled);

/// Totals for this process so far.
IoStats io_stats();

}  // namespace vmdf
