// Result<T>: a value or an Error that says what went wrong and where (file:line, JSON path,
// offset).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace meridian {

struct Error {
  std::string what;   // human-readable reason
  std::string where;  // location: "file:line", "/json/path", "offset 12"; may be empty
  // The class of the failure where a caller acts on it (the control API's refusals,
  // manage::Refusal); 0: not classified.
  int code = 0;

  std::string to_string() const { return where.empty() ? what : where + ": " + what; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(std::string what, std::string where = {}) {
  return Error{std::move(what), std::move(where)};
}

// `e` classified as `code` (an enum of the library that decides it).
template <typename Code>
Error with_code(Error e, Code code) {
  e.code = static_cast<int>(code);
  return e;
}

}  // namespace meridian
