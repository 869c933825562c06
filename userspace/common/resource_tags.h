// Tags on a health check or a hosted zone, as Route 53's ChangeTagsForResource and
// ListTagsForResource carry them: [{"Key": ..., "Value": ...}], at most 10 per resource, keys of
// 1-128 bytes, values of at most 256 bytes. Read with errors that name the JSON path.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "common/result.h"

namespace meridian {

// Key to value; printed in key order.
using ResourceTags = std::map<std::string, std::string>;

inline constexpr size_t kMaxTagsPerResource = 10;
inline constexpr size_t kMaxTagKeyBytes = 128;
inline constexpr size_t kMaxTagValueBytes = 256;

inline Result<std::string> read_tag_key(const nlohmann::json& value, const std::string& path) {
  auto key = read_json_string(value, path);
  if (!key) return key;
  if (key->empty() || key->size() > kMaxTagKeyBytes)
    return json_error_at(path,
                         "a tag key must be 1.." + std::to_string(kMaxTagKeyBytes) + " bytes");
  return key;
}

// A tag list [{"Key", "Value"?}] at `path`: keys unique, at most kMaxTagsPerResource.
inline Result<ResourceTags> tags_from_json(const nlohmann::json& list, const std::string& path) {
  if (!list.is_array()) return json_error_at(path, "must be an array of {\"Key\", \"Value\"}");
  if (list.size() > kMaxTagsPerResource)
    return json_error_at(path, "at most " + std::to_string(kMaxTagsPerResource) + " tags");
  ResourceTags tags;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = path + "/" + std::to_string(i);
    const nlohmann::json& tag = list[i];
    if (!tag.is_object()) return json_error_at(at, "must be an object {\"Key\", \"Value\"}");
    if (auto s = reject_unknown_fields(tag, at, {"Key", "Value"}); !s) return s.error();
    if (!tag.contains("Key")) return json_error_at(at, "missing \"Key\"");
    auto key = read_tag_key(tag["Key"], at + "/Key");
    if (!key) return key.error();
    std::string value;
    if (tag.contains("Value")) {
      auto v = read_json_string(tag["Value"], at + "/Value");
      if (!v) return v.error();
      if (v->size() > kMaxTagValueBytes)
        return json_error_at(at + "/Value", "a tag value must be at most " +
                                                std::to_string(kMaxTagValueBytes) + " bytes");
      value = std::move(v).value();
    }
    if (!tags.emplace(*key, std::move(value)).second)
      return json_error_at(at + "/Key", "tag key \"" + *key + "\" is given twice");
  }
  return tags;
}

inline nlohmann::json tags_to_json(const ResourceTags& tags) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [key, value] : tags) list.push_back({{"Key", key}, {"Value", value}});
  return list;
}

}  // namespace meridian
