// ListResourceRecordSets paging in Route 53's order (record_set_list.h).
#include "manage/record_set_list.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>

#include "dns/types.h"
#include "zone/route53_json.h"

namespace meridian::manage {

namespace {

// (sort name, type mnemonic, set identifier): the position of a record set in the list.
using Position = std::tuple<std::string, std::string, std::string>;

Position position_of(const zone::RecordSet& rs) {
  return {route53_sort_name(rs.name), dns::type_to_text(rs.type), rs.set_identifier};
}

Result<uint16_t> read_type(const std::string& text, const std::string& where) {
  auto type = dns::type_from_text(text);
  if (!type) return make_error("unknown record type \"" + text + "\"", where);
  return *type;
}

Result<size_t> read_max_items(const std::string& text) {
  if (text.empty()) return kListMaxItems;
  size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n == 0)
    return make_error("must be a whole number of at least 1", "MaxItems");
  return std::min(n, kListMaxItems);  // Route 53 returns at most 300 whatever is asked
}

}  // namespace

std::string route53_sort_name(const dns::Name& name) {
  std::string key;
  for (size_t i = name.label_count(); i-- > 0;) {
    for (char c : name.label(i))
      key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    key.push_back('.');
  }
  return key;
}

Result<dns::Name> name_in_zone(const std::string& text, const dns::Name& origin,
                               const std::string& where) {
  auto absolute = dns::Name::from_text(text.back() == '.' ? text : text + ".");
  if (absolute && absolute->is_subdomain_of(origin)) return *absolute;
  auto relative = dns::Name::from_text(text, &origin);
  if (!relative) return make_error("not a valid name", where);
  return *relative;
}

Result<nlohmann::json> list_record_sets_page(std::vector<zone::RecordSet> sets,
                                             const dns::Name& origin, const ListRequest& request) {
  std::optional<dns::Name> want_name;
  if (!request.name.empty()) {
    auto n = name_in_zone(request.name, origin, "name");
    if (!n) return n.error();
    want_name = *n;
  }
  std::optional<uint16_t> want_type;
  if (!request.type.empty()) {
    auto t = read_type(request.type, "type");
    if (!t) return t.error();
    want_type = *t;
  }
  // Route 53: a type needs a name, an identifier needs both.
  if (!request.start_type.empty() && request.start_name.empty())
    return make_error("StartRecordType needs StartRecordName", "StartRecordType");
  if (!request.start_identifier.empty() && request.start_type.empty())
    return make_error("StartRecordIdentifier needs StartRecordName and StartRecordType",
                      "StartRecordIdentifier");
  Position start;
  if (!request.start_name.empty()) {
    auto n = name_in_zone(request.start_name, origin, "StartRecordName");
    if (!n) return n.error();
    std::get<0>(start) = route53_sort_name(*n);
  }
  if (!request.start_type.empty()) {
    auto t = read_type(request.start_type, "StartRecordType");
    if (!t) return t.error();
    std::get<1>(start) = dns::type_to_text(*t);
  }
  std::get<2>(start) = request.start_identifier;
  auto max_items = read_max_items(request.max_items);
  if (!max_items) return max_items.error();

  std::erase_if(sets, [&](const zone::RecordSet& rs) {
    return (want_name && !rs.name.equals(*want_name)) || (want_type && rs.type != *want_type);
  });
  std::vector<std::pair<Position, const zone::RecordSet*>> order;
  order.reserve(sets.size());
  for (const auto& rs : sets) order.emplace_back(position_of(rs), &rs);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  auto it = std::lower_bound(order.begin(), order.end(), start,
                             [](const auto& entry, const Position& p) { return entry.first < p; });
  nlohmann::json list = nlohmann::json::array();
  for (; it != order.end() && list.size() < *max_items; ++it)
    list.push_back(zone::record_set_to_json(*it->second));
  nlohmann::json page{{"ResourceRecordSets", std::move(list)},
                      {"IsTruncated", it != order.end()},
                      {"MaxItems", std::to_string(*max_items)}};
  if (it != order.end()) {
    const zone::RecordSet& next = *it->second;
    page["NextRecordName"] = next.name.to_text();
    page["NextRecordType"] = dns::type_to_text(next.type);
    if (!next.set_identifier.empty()) page["NextRecordIdentifier"] = next.set_identifier;
  }
  return page;
}

}  // namespace meridian::manage
