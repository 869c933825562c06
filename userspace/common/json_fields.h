// Reading the fields of a parsed JSON document (see json_parse.h): each reader checks one value's
// type and range and names the value's JSON path in its error, so every loader words the same
// rule the same way. Callers that add a file name to the place (the config file) re-place the
// error; the reason stays the one written here.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace meridian {

// An error about the value at `path` ("/ResourceRecordSets/3/TTL").
inline Error json_error_at(const std::string& path, std::string what) {
  return make_error(std::move(what), path);
}

// Rejects a key of `object` that is not in `allowed` (a typo must not pass silently); the error
// names the key's path.
inline Status reject_unknown_fields(const nlohmann::json& object, const std::string& path,
                                    std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) return json_error_at(path + "/" + key, "unknown field");
  }
  return Ok{};
}

inline Result<std::string> read_json_string(const nlohmann::json& value, const std::string& path) {
  if (!value.is_string()) return json_error_at(path, "must be a string");
  return value.get<std::string>();
}

inline Result<bool> read_json_bool(const nlohmann::json& value, const std::string& path) {
  if (!value.is_boolean()) return json_error_at(path, "must be true or false");
  return value.get<bool>();
}

// A signed integer in [lo, hi]; a number with a fraction is refused, not truncated. Every loader's
// integer fields read through here, so the rule reads the same everywhere:
// "/FailureThreshold: must be an integer 1..10 (got 11)".
inline Result<int64_t> read_json_integer(const nlohmann::json& value, const std::string& path,
                                         int64_t lo, int64_t hi) {
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  if (!value.is_number_integer()) return json_error_at(path, "must be an integer " + range);
  // An unsigned number above INT64_MAX would wrap to a negative one, possibly inside [lo, hi].
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return json_error_at(path, "must be an integer " + range);
  const int64_t v = value.get<int64_t>();
  if (v < lo || v > hi)
    return json_error_at(path, "must be an integer " + range + " (got " + std::to_string(v) + ")");
  return v;
}

}  // namespace meridian
