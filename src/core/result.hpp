// SPDX-License-Identifier: GPL-2.0-or-later
// Result<T>: a value or an Error. Member names follow std::expected (C++23) so
// that moving to it later is a change to this header only.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "core/error.hpp"

namespace vmdf {

/// Stands in for std::unexpected: `return fail(Errc::corrupt, "...")`.
struct Failure {
    Error error;
};

inline Failure fail(Error error) { return Failure{std::move(error)}; }

inline Failure fail(Errc code, std::string message,
                    std::optional<std::uint64_t> offset = std::nullopt) {
    return Failure{Error{code, std::move(message), offset, {}}};
}

template <class... Args>
Failure failf(Errc code, std::optional<std::uint64_t> offset,
              fmt::format_string<Args...> format, Args&&... args) {
    return fail(code, fmt::format(format, std::forward<Args>(args)...), offset);
}

template <class T>
class [[nodiscard]] Result {
public:
    using value_type = T;

    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure.error)) {}  // NOLINT
    template <class U>
        requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
                 !std::is_same_v<std::decay_t<U>, Failure> &&
                 !std::is_same_v<std::decay_t<U>, Result>)
    Result(U&& value) : state_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

    bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { assert(has_value()); return std::get<0>(state_); }
    const T& value() const& { assert(has_value()); return std::get<0>(state_); }
    T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    Error& error() & { assert(!has_value()); return std::get<1>(state_); }
    const Error& error() const& { assert(!has_value()); return std::get<1>(state_); }
    Error&& error() && { assert(!has_value()); return std::get<1>(std::move(state_)); }

    /// Passes the error on unchanged, typed for the caller's Result.
    Failure failure() && { return Failure{std::move(*this).error()}; }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    using value_type = void;

    Result() = default;
    Result(Failure failure) : error_(std::move(failure.error)) {}  // NOLINT

    bool has_value() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const { assert(has_value()); }

    Error& error() & { assert(!has_value()); return *error_; }
    const Error& error() const& { assert(!has_value()); return *error_; }
    Error&& error() && { assert(!has_value()); return std::move(*error_); }
    Failure failure() && { return Failure{std::move(*error_)}; }

private:
    std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace vmdf

/// Unwraps a Result or returns its error from the enclosing function.
#define VMDF_TRY_ASSIGN(lhs, expr)                                   \
    auto VMDF_CONCAT(try_result_, __LINE__) = (expr);                \
    if (!VMDF_CONCAT(try_result_, __LINE__))                         \
        return std::move(VMDF_CONCAT(try_result_, __LINE__)).failure(); \
    lhs = std::move(VMDF_CONCAT(try_result_, __LINE__)).value()

#define VMDF_TRY(expr)                                                       \
    do {                                                                     \
        auto VMDF_CONCAT(try_status_, __LINE__) = (expr);                    \
        if (!VMDF_CONCAT(try_status_, __LINE__))                             \
            return std::move(VMDF_CONCAT(try_status_, __LINE__)).failure();  \
    } while (0)

#define VMDF_CONCAT_INNER(a, b) a##b
#define VMDF_CONCAT(a, b) VMDF_CONCAT_INNER(a, b)
