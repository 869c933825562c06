// parse_json: nlohmann::json parsing with a bound on nesting depth, for every JSON text that comes
// from outside (API bodies, config files, zone documents). The parser itself is iterative, but
// copying, dumping and walking a value are recursive, so a value nested 100,000 deep would
// overflow a thread's stack later; refusing it here keeps every later walk bounded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace meridian {

// Deeper than any document Meridian reads (Route 53 change batches nest 6 levels, traffic policy
// documents a few more per rule level), far below what a thread's stack can walk.
inline constexpr size_t kMaxJsonDepth = 64;

// The first offset at which `text` opens its (max_depth + 1)-th nested array or object, or npos.
// A linear scan that knows strings and (when `comments`) // and /* */ comments; it needs no
// valid JSON: whatever it miscounts in a broken text the parser refuses anyway.
inline size_t json_depth_violation(std::string_view text, size_t max_depth, bool comments) {
  size_t depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (comments && c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (comments && c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      const size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return std::string_view::npos;
      i = end + 1;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Parses `text`; an error says why (the parser's message, or the nesting limit and its offset).
inline Result<nlohmann::json> parse_json(std::string_view text, bool comments = false,
                                         size_t max_depth = kMaxJsonDepth) {
  if (const size_t at = json_depth_violation(text, max_depth, comments);
      at != std::string_view::npos) {
    return make_error("JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " +
                      std::to_string(at) + ")");
  }
  try {
    return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/true, comments);
  } catch (const nlohmann::json::exception& e) {
    // The parser's message quotes the token it stopped at, which can be the whole body.
    constexpr size_t kMaxMessage = 200;
    std::string what = e.what();
    if (what.size() > kMaxMessage) what = what.substr(0, kMaxMessage) + "...";
    return make_error(std::move(what));
  }
}

}  // namespace meridian
