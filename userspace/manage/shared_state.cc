// Zones, checks and changes as etcd values (JSON text), and the cached state's text form.
#include "manage/shared_state.h"

#include "common/json_parse.h"
#include "common/resource_tags.h"
#include "zone/route53_json.h"

namespace meridian::manage {
namespace {

using nlohmann::json;

Result<json> parse_object(const std::string& text, std::string_view what) {
  auto j = parse_json(text);
  if (!j) return make_error(std::string(what) + ": " + j.error().what);
  if (!j->is_object()) return make_error(std::string(what) + " is not a JSON object");
  return j;
}

}  // namespace

std::string zone_value(const state::ZoneInfo& info, const zone::Zone& z) {
  json sets = json::array();
  for (const auto& [key, node] : z.nodes())
    for (const auto& rs : node.record_sets) sets.push_back(zone::record_set_to_json(rs));
  json value{{"Id", info.id},
             {"Name", info.origin.to_text()},
             {"Comment", info.comment},
             {"CreatedBy", std::string(state::zone_origin_name(info.created_by))},
             {"CreatedAt", info.created_at_ms},
             {"ResourceRecordSets", std::move(sets)}};
  if (!info.tags.empty()) value["Tags"] = tags_to_json(info.tags);
  return value.dump();
}

Result<DecodedZone> zone_from_value(std::string_view key, const std::string& text) {
  const std::string where(key);
  auto j = parse_object(text, "the zone value");
  if (!j) return make_error(j.error().what, where);
  if (!(*j)["Id"].is_string() || !(*j)["Name"].is_string() ||
      !(*j)["ResourceRecordSets"].is_array())
    return make_error("the zone value lacks Id, Name or ResourceRecordSets", where);
  auto origin = dns::Name::from_text((*j)["Name"].get<std::string>());
  if (!origin) return make_error("bad zone name: " + origin.error().what, where);
  DecodedZone out{state::ZoneInfo{}, zone::Zone(*origin)};
  out.info.id = (*j)["Id"].get<std::string>();
  out.info.origin = *origin;
  out.info.comment = j->value("Comment", "");
  out.info.created_by = j->value("CreatedBy", "api") == "config" ? state::ZoneOrigin::kConfig
                                                                 : state::ZoneOrigin::kApi;
  out.info.created_at_ms = j->value("CreatedAt", int64_t{0});
  if (j->contains("Tags")) {
    auto tags = tags_from_json((*j)["Tags"], where + "/Tags");
    if (!tags) return tags.error();
    out.info.tags = std::move(tags).value();
  }
  const json& sets = (*j)["ResourceRecordSets"];
  for (size_t i = 0; i < sets.size(); ++i) {
    auto rs = zone::record_set_from_json(sets[i], *origin,
                                         where + "/ResourceRecordSets/" + std::to_string(i));
    if (!rs) return rs.error();
    if (auto s = out.zone.add(std::move(rs).value()); !s) return make_error(s.error().what, where);
  }
  if (auto s = out.zone.validate(); !s) return make_error(s.error().what, where);
  out.info.record_set_count = out.zone.record_set_count();
  return out;
}

std::string change_value(const state::ChangeInfo& c) {
  return json{{"Id", c.id},
              {"ZoneId", c.zone_id},
              {"SubmittedAt", c.submitted_at_ms},
              {"Comment", c.comment},
              {"ChangeCount", c.change_count}}
      .dump();
}

Result<state::ChangeInfo> change_from_value(const std::string& text) {
  auto j = parse_object(text, "the change value");
  if (!j) return j.error();
  state::ChangeInfo c;
  c.id = j->value("Id", "");
  c.zone_id = j->value("ZoneId", "");
  c.submitted_at_ms = j->value("SubmittedAt", int64_t{0});
  c.comment = j->value("Comment", "");
  c.change_count = j->value("ChangeCount", size_t{0});
  if (c.id.empty()) return make_error("the change value has no Id");
  return c;
}

std::string shared_state_text(const SharedState& state) {
  return json{
      {"Revision", state.revision}, {"HeadRevision", state.head_revision}, {"Values", state.values}}
      .dump();
}

Result<SharedState> shared_state_from_text(const std::string& text) {
  auto j = parse_object(text, "the cached fleet state");
  if (!j) return j.error();
  SharedState out;
  out.revision = j->value("Revision", int64_t{0});
  out.head_revision = j->value("HeadRevision", int64_t{0});
  const json& values = (*j)["Values"];
  if (!values.is_object()) return make_error("the cached fleet state has no Values");
  for (const auto& [key, value] : values.items()) {
    if (!value.is_string()) return make_error("a cached value is not text", key);
    out.values[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace meridian::manage
