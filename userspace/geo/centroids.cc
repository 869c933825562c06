// Parses the embedded centroid CSVs and places a GeoInfo on the map.
#include "geo/centroids.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "geo/centroid_data.h"

namespace meridian::geo {
namespace {

// Splits one CSV line; fields may be double-quoted (names with commas), no escaped quotes.
std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

bool parse_degrees(const std::string& text, double& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

bool is_upper_alnum(std::string_view s) {
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return !s.empty();
}

// Calls row(fields, where) for each data line (not comments, blank lines or the header).
template <typename Row>
Status for_each_row(std::string_view text, std::string_view source, std::size_t columns, Row row) {
  std::size_t line_no = 0;
  bool header_seen = false;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = fmt::format("{}:{}", source, line_no);
    if (!header_seen) {  // the first data line names the columns
      header_seen = true;
      continue;
    }
    auto fields = split_csv(line);
    if (fields.size() != columns)
      return make_error(fmt::format("expected {} fields, found {}", columns, fields.size()), where);
    Status s = row(fields, where);
    if (!s) return s;
  }
  return Ok{};
}

}  // namespace

bool is_continent_code(std::string_view code) {
  for (std::string_view c : {"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
    if (code == c) return true;
  return false;
}

Result<CentroidTable> CentroidTable::parse(std::string_view country_csv,
                                           std::string_view subdivision_csv) {
  CentroidTable table;
  Status s =
      for_each_row(country_csv, "country_centroids.csv", 5,
                   [&](const std::vector<std::string>& f, const std::string& where) -> Status {
                     CountryCentroid c;
                     if (f[0].size() != 2 || !is_upper_alnum(f[0]))
                       return make_error(fmt::format("bad country code '{}'", f[0]), where);
                     if (!is_continent_code(f[1]))
                       return make_error(fmt::format("bad continent code '{}'", f[1]), where);
                     if (!parse_degrees(f[2], c.location.lat) ||
                         !parse_degrees(f[3], c.location.lon) || !is_valid(c.location))
                       return make_error(fmt::format("bad coordinates '{},{}'", f[2], f[3]), where);
                     c.continent = f[1];
                     c.name = f[4];
                     if (!table.countries_.emplace(f[0], std::move(c)).second)
                       return make_error(fmt::format("country '{}' listed twice", f[0]), where);
                     return Ok{};
                   });
  if (!s) return s.error();
  s = for_each_row(subdivision_csv, "subdivision_centroids.csv", 4,
                   [&](const std::vector<std::string>& f, const std::string& where) -> Status {
                     SubdivisionCentroid c;
                     const std::string& code = f[0];
                     if (code.size() < 4 || code.size() > 6 || code[2] != '-' ||
                         !is_upper_alnum(std::string_view(code).substr(0, 2)) ||
                         !is_upper_alnum(std::string_view(code).substr(3)))
                       return make_error(fmt::format("bad subdivision code '{}'", code), where);
                     if (!table.countries_.contains(code.substr(0, 2)))
                       return make_error(
                           fmt::format("subdivision '{}' of an unknown country", code), where);
                     if (!parse_degrees(f[1], c.location.lat) ||
                         !parse_degrees(f[2], c.location.lon) || !is_valid(c.location))
                       return make_error(fmt::format("bad coordinates '{},{}'", f[1], f[2]), where);
                     c.name = f[3];
                     if (!table.subdivisions_.emplace(code, std::move(c)).second)
                       return make_error(fmt::format("subdivision '{}' listed twice", code), where);
                     return Ok{};
                   });
  if (!s) return s.error();
  return table;
}

const CentroidTable& CentroidTable::builtin() {
  static const CentroidTable table = [] {
    auto parsed = parse(kCountryCentroidsCsv, kSubdivisionCentroidsCsv);
    if (!parsed) {
      // Embedded at build time and parsed by the unit tests: failing here is a build defect.
      std::fprintf(stderr, "embedded centroid table: %s\n", parsed.error().to_string().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return table;
}

const CountryCentroid* CentroidTable::country(std::string_view code) const {
  auto it = countries_.find(code);
  return it == countries_.end() ? nullptr : &it->second;
}

const SubdivisionCentroid* CentroidTable::subdivision(std::string_view code) const {
  auto it = subdivisions_.find(code);
  return it == subdivisions_.end() ? nullptr : &it->second;
}

std::optional<LatLon> CentroidTable::locate(const GeoInfo& info) const {
  if (info.location) return info.location;
  if (const auto* sub = subdivision(info.subdivision_code())) return sub->location;
  if (const auto* c = country(info.country)) return c->location;
  return std::nullopt;
}

void CentroidTable::complete(GeoInfo& info) const {
  if (!info.continent.empty()) return;
  if (const auto* c = country(info.country)) info.continent = c->continent;
}

}  // namespace meridian::geo
