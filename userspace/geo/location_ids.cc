// Location ids: packed letters for continents and countries, a process-wide interning table for
// subdivisions (read-mostly: queries take a shared lock, only new codes take the exclusive one).
#include "geo/location_ids.h"

#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace meridian::geo {
namespace {

std::uint16_t pack_two_letters(std::string_view code) {
  if (code.size() != 2) return 0;
  for (char c : code)
    if (c < 'A' || c > 'Z') return 0;
  return static_cast<std::uint16_t>((static_cast<unsigned>(code[0]) << 8) |
                                    static_cast<unsigned>(code[1]));
}

constexpr std::uint32_t kMaxSubdivisionIds = 0xffff;

struct SubdivisionIds {
  std::shared_mutex mutex;
  // Codes are a few bytes ("US-CA"), so the std::string key built for each probe stays in the
  // small-string buffer and the query path does not allocate.
  std::unordered_map<std::string, std::uint16_t> ids;
};

SubdivisionIds& subdivisions() {
  // Leaked on purpose: ids must stay valid for threads still running at exit.
  static SubdivisionIds* table = new SubdivisionIds();
  return *table;
}

}  // namespace

std::uint16_t continent_id(std::string_view code) {
  return pack_two_letters(code);
}

std::uint16_t country_id(std::string_view code) {
  return pack_two_letters(code);
}

std::uint16_t subdivision_id(std::string_view code) {
  if (code.empty()) return 0;
  SubdivisionIds& t = subdivisions();
  const std::string key(code);
  {
    std::shared_lock lock(t.mutex);
    auto it = t.ids.find(key);
    if (it != t.ids.end()) return it->second;
  }
  std::unique_lock lock(t.mutex);
  auto it = t.ids.find(key);
  if (it != t.ids.end()) return it->second;
  if (t.ids.size() >= kMaxSubdivisionIds) return 0;
  const auto id = static_cast<std::uint16_t>(t.ids.size() + 1);
  t.ids.emplace(key, id);
  return id;
}

std::uint32_t subdivision_id_count() {
  SubdivisionIds& t = subdivisions();
  std::shared_lock lock(t.mutex);
  return static_cast<std::uint32_t>(t.ids.size());
}

}  // namespace meridian::geo
