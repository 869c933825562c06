// Parsing and validation of health checks from Route 53-shaped JSON (field rules in
// docs/health-checks.md).
#include "health/health_check_config.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <initializer_list>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "common/resource_tags.h"

namespace meridian::health {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<CheckType, std::string_view>, 6> kTypeNames = {{
    {CheckType::kHttp, "HTTP"},
    {CheckType::kHttps, "HTTPS"},
    {CheckType::kHttpStrMatch, "HTTP_STR_MATCH"},
    {CheckType::kHttpsStrMatch, "HTTPS_STR_MATCH"},
    {CheckType::kTcp, "TCP"},
    {CheckType::kCalculated, "CALCULATED"},
}};

// Route 53 fields ignored (IgnoredFields): on the HealthCheck around HealthCheckConfig, and in
// the configuration itself.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kIgnoredOuter = {{
    {"HealthCheckVersion", "read-only: Route 53's version counter"},
    {"LinkedService", "read-only: the AWS service that created the check"},
    {"CloudWatchAlarmConfiguration", "read-only: Route 53's CloudWatch alarm"},
}};
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kIgnoredConfig = {{
    {"MeasureLatency", "not applicable: Route 53's latency graphs"},
    {"Regions", "not applicable: the checker probes from this host"},
    {"InsufficientDataHealthStatus", "not applicable: CloudWatch alarm checks"},
}};
constexpr std::string_view kSniIgnored = "not applicable: no TLS for this Type";

void note_ignored(IgnoredFields* ignored, std::string_view name, std::string_view reason,
                  const std::string& path) {
  if (!ignored) return;
  IgnoredField& f = (*ignored)[std::string(name)];
  if (f.count++ == 0) {
    f.reason = reason;
    f.first_path = path;
  }
}

// Records the fields of `table` present in `object` (a copy) and removes them, so the
// unknown-field check runs on what remains.
void take_ignored(json& object, const std::string& path,
                  const std::array<std::pair<std::string_view, std::string_view>, 3>& table,
                  IgnoredFields* ignored) {
  for (const auto& [name, reason] : table) {
    const std::string key(name);
    if (!object.contains(key)) continue;
    note_ignored(ignored, name, reason, path + "/" + key);
    object.erase(key);
  }
}

constexpr size_t kMaxChildren = 256;
constexpr size_t kMaxNameBytes = 255;

Result<uint32_t> read_uint(const json& value, const std::string& path, uint32_t min, uint32_t max) {
  auto v = read_json_integer(value, path, min, max);
  if (!v) return v.error();
  return static_cast<uint32_t>(*v);
}

Result<std::string> read_string(const json& value, const std::string& path, size_t max_bytes) {
  auto text = read_json_string(value, path);
  if (!text) return text;
  if (text->size() > max_bytes) {
    return json_error_at(path, "must be at most " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

// 200, "200", or "200-399".
Result<StatusRange> read_status_range(const json& value, const std::string& path) {
  const std::string bad = "must be a status code 100..599 or a range \"first-last\"";
  if (value.is_number_integer()) {
    auto code = read_uint(value, path, 100, 599);
    if (!code) return json_error_at(path, bad);
    return StatusRange{static_cast<uint16_t>(*code), static_cast<uint16_t>(*code)};
  }
  if (!value.is_string()) return json_error_at(path, bad);
  std::string text = value.get<std::string>();
  auto dash = text.find('-');
  std::string first_text = text.substr(0, dash);
  std::string last_text = dash == std::string::npos ? first_text : text.substr(dash + 1);
  unsigned first = 0;
  unsigned last = 0;
  auto parse = [](const std::string& s, unsigned& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  if (!parse(first_text, first) || !parse(last_text, last) || first < 100 || last > 599 ||
      first > last) {
    return json_error_at(path, bad);
  }
  return StatusRange{static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
}

}  // namespace

std::string_view check_type_name(CheckType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "?";
}

std::string_view status_name(HealthStatus status) {
  return status == HealthStatus::kHealthy ? "healthy" : "unhealthy";
}

bool HealthCheckConfig::probed_from(std::string_view vantage) const {
  if (vantages.empty()) return true;
  for (const auto& v : vantages)
    if (v == vantage) return true;
  return false;
}

bool HealthCheckConfig::accepts_status(long status) const {
  for (const StatusRange& range : accepted_statuses) {
    if (status >= range.first && status <= range.last) return true;
  }
  return false;
}

std::vector<std::string> ignored_field_warnings(const IgnoredFields& ignored) {
  std::vector<std::string> out;
  for (const auto& [name, f] : ignored) {
    std::string w =
        "health check field \"" + name + "\" ignored (" + f.reason + "): at " + f.first_path;
    if (f.count > 1) w += " and " + std::to_string(f.count - 1) + " more";
    out.push_back(std::move(w));
  }
  return out;
}

Result<HealthCheckConfig> parse_health_check(const json& entry, const std::string& path,
                                             IgnoredFields* ignored) {
  if (!entry.is_object()) return json_error_at(path, "must be an object");
  // Accept both the flat form {"Id", "Type", ...} and Route 53's GetHealthCheck form
  // {"Id", "HealthCheckConfig": {...}}. Ignored fields are taken out of a copy first.
  json outer = entry;
  take_ignored(outer, path, kIgnoredOuter, ignored);
  // Kept beside the configuration, in either form: the reference a check was created with and
  // its tags (ChangeTagsForResource). They do not change how the check probes.
  if (outer.contains("CallerReference")) {
    auto ref = read_string(outer["CallerReference"], path + "/CallerReference", 64);
    if (!ref) return ref.error();
    if (ref->empty()) return json_error_at(path + "/CallerReference", "must not be empty");
    outer.erase("CallerReference");
  }
  if (outer.contains("Tags")) {
    if (auto tags = tags_from_json(outer["Tags"], path + "/Tags"); !tags) return tags.error();
    outer.erase("Tags");
  }
  json* own = &outer;
  std::string fields_path = path;
  if (outer.contains("HealthCheckConfig")) {
    if (auto s = reject_unknown_fields(outer, path, {"Id", "HealthCheckConfig"}); !s)
      return s.error();
    own = &outer["HealthCheckConfig"];
    fields_path = path + "/HealthCheckConfig";
    if (!own->is_object()) return json_error_at(fields_path, "must be an object");
  }
  take_ignored(*own, fields_path, kIgnoredConfig, ignored);
  const json* fields = own;
  if (auto s = reject_unknown_fields(*fields, fields_path,
                                     {"Id",
                                      "Type",
                                      "IPAddress",
                                      "Port",
                                      "ResourcePath",
                                      "FullyQualifiedDomainName",
                                      "SearchString",
                                      "RequestInterval",
                                      "FailureThreshold",
                                      "Inverted",
                                      "Disabled",
                                      "ChildHealthChecks",
                                      "HealthThreshold",
                                      "EnableSNI",
                                      "AcceptedStatuses",
                                      "VerifyCertificate",
                                      "InitialState",
                                      "ConnectTimeoutMs",
                                      "ResponseTimeoutMs",
                                      "Vantages"});
      !s)
    return s.error();

  HealthCheckConfig check;
  // Id.
  const json* id = entry.contains("Id") ? &entry["Id"] : nullptr;
  std::string id_path = path + "/Id";
  if (id == nullptr && fields->contains("Id")) {
    id = &(*fields)["Id"];
    id_path = fields_path + "/Id";
  }
  if (id == nullptr) return json_error_at(path, "missing \"Id\"");
  auto id_text = read_string(*id, id_path, kMaxNameBytes);
  if (!id_text) return id_text.error();
  if (id_text->empty()) return json_error_at(id_path, "must not be empty");
  check.id = *id_text;

  // Type.
  if (!fields->contains("Type")) return json_error_at(fields_path, "missing \"Type\"");
  const json& type = (*fields)["Type"];
  bool type_known = false;
  if (type.is_string()) {
    for (const auto& [t, name] : kTypeNames) {
      if (type.get<std::string>() == name) {
        check.type = t;
        type_known = true;
      }
    }
  }
  if (!type_known) {
    return json_error_at(
        fields_path + "/Type",
        "must be one of HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP, CALCULATED");
  }
  if (check.type == CheckType::kTcp) check.connect_timeout_ms = kTcpConnectTimeoutMs;

  const bool calculated = check.type == CheckType::kCalculated;
  // A field that only some types take; reports it on the wrong type.
  auto field = [&](const char* name, bool allowed) -> Result<const json*> {
    if (!fields->contains(name)) return static_cast<const json*>(nullptr);
    if (!allowed) {
      return json_error_at(fields_path + "/" + name,
                           "not allowed for Type " + std::string(check_type_name(check.type)));
    }
    return &(*fields)[name];
  };
  auto at = [&](const char* name) { return fields_path + "/" + name; };

#define MERIDIAN_FIELD(var, name, allowed) \
  auto var = field(name, allowed);         \
  if (!var) return var.error();

  MERIDIAN_FIELD(ip, "IPAddress", !calculated);
  if (*ip) {
    auto text = read_string(**ip, at("IPAddress"), 64);
    if (!text) return text.error();
    unsigned char buf[16];
    if (inet_pton(AF_INET, text->c_str(), buf) != 1 &&
        inet_pton(AF_INET6, text->c_str(), buf) != 1) {
      return json_error_at(at("IPAddress"), "must be an IPv4 or IPv6 address");
    }
    check.ip_address = *text;
  }
  MERIDIAN_FIELD(port, "Port", !calculated);
  if (*port) {
    auto value = read_uint(**port, at("Port"), 1, 65535);
    if (!value) return value.error();
    check.port = static_cast<uint16_t>(*value);
  }
  MERIDIAN_FIELD(fqdn, "FullyQualifiedDomainName", !calculated);
  if (*fqdn) {
    auto text = read_string(**fqdn, at("FullyQualifiedDomainName"), kMaxNameBytes);
    if (!text) return text.error();
    // A trailing dot is the DNS spelling; the Host header and SNI never carry it.
    if (!text->empty() && text->back() == '.') text->pop_back();
    check.fqdn = *text;
  }
  MERIDIAN_FIELD(resource_path, "ResourcePath", check.is_http());
  if (*resource_path) {
    auto text = read_string(**resource_path, at("ResourcePath"), kMaxNameBytes);
    if (!text) return text.error();
    if (text->empty() || text->front() != '/') {
      return json_error_at(at("ResourcePath"), "must begin with \"/\"");
    }
    for (char c : *text) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        return json_error_at(at("ResourcePath"), "must not contain spaces or control characters");
      }
    }
    check.resource_path = *text;
  }
  MERIDIAN_FIELD(search, "SearchString", check.is_string_match());
  if (*search) {
    auto text = read_string(**search, at("SearchString"), kMaxSearchStringBytes);
    if (!text) return text.error();
    if (text->empty()) return json_error_at(at("SearchString"), "must not be empty");
    check.search_string = *text;
  } else if (check.is_string_match()) {
    return json_error_at(fields_path, "missing \"SearchString\" (required for " +
                                          std::string(check_type_name(check.type)) + ")");
  }
  MERIDIAN_FIELD(interval, "RequestInterval", true);
  if (*interval) {
    auto value = read_uint(**interval, at("RequestInterval"), 1, 86400);
    if (!value) return value.error();
    check.request_interval_s = *value;
  }
  MERIDIAN_FIELD(threshold, "FailureThreshold", true);
  if (*threshold) {
    auto value = read_uint(**threshold, at("FailureThreshold"), 1, 10);
    if (!value) return value.error();
    check.failure_threshold = *value;
  }
  for (auto [name, target] : {std::pair<const char*, bool*>{"Inverted", &check.inverted},
                              {"Disabled", &check.disabled}}) {
    MERIDIAN_FIELD(value, name, true);
    if (*value) {
      auto flag = read_json_bool(**value, at(name));
      if (!flag) return flag.error();
      *target = *flag;
    }
  }
  // Route 53 prints EnableSNI for checks without TLS too, where it says nothing.
  MERIDIAN_FIELD(sni, "EnableSNI", true);
  if (*sni && !check.is_tls()) {
    note_ignored(ignored, "EnableSNI", kSniIgnored, at("EnableSNI"));
  } else if (*sni) {
    auto flag = read_json_bool(**sni, at("EnableSNI"));
    if (!flag) return flag.error();
    check.enable_sni = *flag;
  }
  MERIDIAN_FIELD(verify, "VerifyCertificate", check.is_tls());
  if (*verify) {
    auto flag = read_json_bool(**verify, at("VerifyCertificate"));
    if (!flag) return flag.error();
    check.verify_certificate = *flag;
  }
  MERIDIAN_FIELD(children, "ChildHealthChecks", calculated);
  if (*children) {
    if (!(*children)->is_array() || (*children)->size() > kMaxChildren) {
      return json_error_at(at("ChildHealthChecks"),
                           "must be an array of at most " + std::to_string(kMaxChildren) + " ids");
    }
    for (size_t i = 0; i < (*children)->size(); ++i) {
      auto child = read_string((**children)[i], at("ChildHealthChecks") + "/" + std::to_string(i),
                               kMaxNameBytes);
      if (!child) return child.error();
      check.child_health_checks.push_back(*child);
    }
  }
  MERIDIAN_FIELD(health_threshold, "HealthThreshold", calculated);
  if (*health_threshold) {
    auto value = read_uint(**health_threshold, at("HealthThreshold"), 0, kMaxChildren);
    if (!value) return value.error();
    check.health_threshold = *value;
  }
  MERIDIAN_FIELD(statuses, "AcceptedStatuses", check.is_http());
  if (*statuses) {
    if (!(*statuses)->is_array() || (*statuses)->empty()) {
      return json_error_at(at("AcceptedStatuses"), "must be a non-empty array");
    }
    check.accepted_statuses.clear();
    for (size_t i = 0; i < (*statuses)->size(); ++i) {
      auto range =
          read_status_range((**statuses)[i], at("AcceptedStatuses") + "/" + std::to_string(i));
      if (!range) return range.error();
      check.accepted_statuses.push_back(*range);
    }
  }
  MERIDIAN_FIELD(vantages, "Vantages", !calculated);
  if (*vantages) {
    if (!(*vantages)->is_array() || (*vantages)->empty() || (*vantages)->size() > 64)
      return json_error_at(at("Vantages"), "must be an array of 1 to 64 vantage labels");
    for (size_t i = 0; i < (*vantages)->size(); ++i) {
      auto label = read_string((**vantages)[i], at("Vantages") + "/" + std::to_string(i), 64);
      if (!label) return label.error();
      if (label->empty())
        return json_error_at(at("Vantages") + "/" + std::to_string(i), "must not be empty");
      check.vantages.push_back(*label);
    }
  }
  MERIDIAN_FIELD(initial, "InitialState", true);
  if (*initial) {
    if (**initial == "healthy") {
      check.initial_state = HealthStatus::kHealthy;
    } else if (**initial == "unhealthy") {
      check.initial_state = HealthStatus::kUnhealthy;
    } else {
      return json_error_at(at("InitialState"), "must be \"healthy\" or \"unhealthy\"");
    }
  }
  MERIDIAN_FIELD(connect_timeout, "ConnectTimeoutMs", !calculated);
  if (*connect_timeout) {
    auto value = read_uint(**connect_timeout, at("ConnectTimeoutMs"), 1, 60000);
    if (!value) return value.error();
    check.connect_timeout_ms = *value;
  }
  MERIDIAN_FIELD(response_timeout, "ResponseTimeoutMs", check.is_http());
  if (*response_timeout) {
    auto value = read_uint(**response_timeout, at("ResponseTimeoutMs"), 1, 60000);
    if (!value) return value.error();
    check.response_timeout_ms = *value;
  }
#undef MERIDIAN_FIELD

  if (!calculated && check.ip_address.empty() && check.fqdn.empty()) {
    return json_error_at(fields_path, "needs \"IPAddress\" or \"FullyQualifiedDomainName\"");
  }
  if (check.type == CheckType::kTcp && check.port == 0) {
    return json_error_at(fields_path, "missing \"Port\" (required for TCP)");
  }
  return check;
}

Status validate_health_checks(const std::vector<HealthCheckConfig>& checks,
                              const std::string& path) {
  std::map<std::string, CheckType> types;
  for (size_t i = 0; i < checks.size(); ++i) {
    if (!types.emplace(checks[i].id, checks[i].type).second) {
      return json_error_at(path + "/" + std::to_string(i) + "/Id",
                           "duplicate health check id \"" + checks[i].id + "\"");
    }
  }
  for (size_t i = 0; i < checks.size(); ++i) {
    std::set<std::string> seen;
    for (size_t c = 0; c < checks[i].child_health_checks.size(); ++c) {
      const std::string& child = checks[i].child_health_checks[c];
      std::string where =
          path + "/" + std::to_string(i) + "/ChildHealthChecks/" + std::to_string(c);
      auto found = types.find(child);
      if (found == types.end()) return json_error_at(where, "no health check \"" + child + "\"");
      if (found->second == CheckType::kCalculated) {
        return json_error_at(where, "child \"" + child + "\" is CALCULATED (children must not be)");
      }
      if (!seen.insert(child).second)
        return json_error_at(where, "child \"" + child + "\" repeated");
    }
  }
  return Ok{};
}

Result<std::vector<HealthCheckConfig>> parse_health_checks(const json& array,
                                                           const std::string& path,
                                                           IgnoredFields* ignored) {
  if (!array.is_array()) return json_error_at(path, "must be an array");
  std::vector<HealthCheckConfig> checks;
  for (size_t i = 0; i < array.size(); ++i) {
    auto check = parse_health_check(array[i], path + "/" + std::to_string(i), ignored);
    if (!check) return check.error();
    checks.push_back(std::move(*check));
  }
  if (auto valid = validate_health_checks(checks, path); !valid) return valid.error();
  return checks;
}

}  // namespace meridian::health
