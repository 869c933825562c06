// Parsing and validation of meridiand's JSON configuration (format in docs/configuration.md).
#include "config/daemon_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <span>
#include <sstream>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "common/json_parse.h"
#include "common/prefix_text.h"
#include "dns/types.h"
#include "geo/geo_point.h"
#include "geo/regions.h"

namespace meridian::config {
namespace {

using nlohmann::json;

// Escapes a key for use as one JSON Pointer token (RFC 6901).
std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Walks the document and turns the first problem into an Error naming "file: /json/path".
class ConfigReader {
 public:
  explicit ConfigReader(std::string_view source) : source_(source) {}

  Error error_at(const std::string& path, std::string what) const {
    return make_error(std::move(what), source_ + ": " + (path.empty() ? "/" : path));
  }

  // Rejects keys of `object` that are not in `allowed` (typos must not pass silently).
  std::optional<Error> reject_unknown_keys(const json& object, const std::string& path,
                                           std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, value] : object.items()) {
      bool known = false;
      for (std::string_view a : allowed) known = known || key == a;
      if (!known) {
        std::string expected;
        for (std::string_view a : allowed) {
          expected += expected.empty() ? "" : ", ";
          expected += "\"" + std::string(a) + "\"";
        }
        return error_at(path + "/" + pointer_token(key),
                        "unknown key \"" + key + "\" (expected one of " + expected + ")");
      }
    }
    return std::nullopt;
  }

  // An unsigned integer field in [min, max].
  Result<uint32_t> read_uint(const json& value, const std::string& path, uint64_t min,
                             uint64_t max) const {
    auto v = read_json_integer(value, path, static_cast<int64_t>(min), static_cast<int64_t>(max));
    if (!v) return error_at(path, v.error().what);
    return static_cast<uint32_t>(*v);
  }

  // The optional unsigned fields of the object at `path`, each in its range.
  struct UintField {
    const char* key;
    uint32_t* target;
    uint64_t min, max;
  };
  Status read_uint_fields(const json& object, const std::string& path,
                          std::span<const UintField> fields) const {
    for (const UintField& f : fields) {
      if (!object.contains(f.key)) continue;
      auto v = read_uint(object[f.key], path + "/" + f.key, f.min, f.max);
      if (!v) return v.error();
      *f.target = *v;
    }
    return Ok{};
  }

  // The shared rule (common/json_fields.h), its error placed in this file.
  Result<std::string> read_string(const json& value, const std::string& path) const {
    auto text = read_json_string(value, path);
    if (!text) return error_at(path, text.error().what);
    return text;
  }

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

std::string join_path(std::string_view base_dir, const std::string& file) {
  if (file.empty() || file.front() == '/' || base_dir.empty()) return file;
  std::string out(base_dir);
  if (out.back() != '/') out += '/';
  return out + file;
}

// Turns nlohmann's byte offset into "line:col" (1-based) so editors can jump to it.
std::string line_and_column(std::string_view text, size_t byte) {
  size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(end - line_start + 1);
}

// nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix.
std::string syntax_reason(const std::string& message) {
  size_t pos = message.find("parse error");
  if (pos == std::string::npos) return message;
  size_t colon = message.find(": ", pos);
  if (colon == std::string::npos) return message;
  // The message quotes the token the parser stopped at, which can be the rest of the file.
  constexpr size_t kMaxReason = 160;
  std::string reason = message.substr(colon + 2);
  if (reason.size() > kMaxReason) reason = reason.substr(0, kMaxReason) + "...";
  return reason;
}

std::string nesting_reason() {
  return "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
}

Status read_listen(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_array()) return r.error_at("/listen", "must be an array of \"address:port\"");
  if (value.empty()) return r.error_at("/listen", "must name at least one address");
  out.listen.clear();
  // Printed address -> index: duplicates found without a quadratic scan of a long list.
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < value.size(); ++i) {
    std::string path = "/listen/" + std::to_string(i);
    auto text = r.read_string(value[i], path);
    if (!text) return text.error();
    auto address = parse_listen_address(*text);
    if (!address) return r.error_at(path, address.error().what);
    const std::string printed = address->to_text();
    if (auto [it, added] = seen.emplace(printed, i); !added) {
      return r.error_at(path, "duplicate listen address " + printed + " (also /listen/" +
                                  std::to_string(it->second) + ")");
    }
    out.listen.push_back(*address);
  }
  return Ok{};
}

Status read_edns(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/edns", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/edns", {"udp_payload", "nsid"})) return *e;
  if (value.contains("udp_payload")) {
    auto v = r.read_uint(value["udp_payload"], "/edns/udp_payload", 512, 65535);
    if (!v) return v.error();
    out.edns.udp_payload = static_cast<uint16_t>(*v);
  }
  if (value.contains("nsid")) {
    auto v = r.read_string(value["nsid"], "/edns/nsid");
    if (!v) return v.error();
    // An EDNS option carries at most 65535 octets; keep it well inside one reply.
    if (v->empty() || v->size() > 512) {
      return r.error_at("/edns/nsid", "must be a string of 1 to 512 bytes");
    }
    out.edns.nsid = *v;
  }
  return Ok{};
}

Status read_tcp(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/tcp", "must be an object");
  if (auto e = r.reject_unknown_keys(
          value, "/tcp",
          {"idle_timeout_ms", "query_timeout_ms", "max_connections", "max_connections_per_source",
           "ipv4_prefix_length", "ipv6_prefix_length"})) {
    return *e;
  }
  const ConfigReader::UintField fields[] = {
      {"idle_timeout_ms", &out.tcp.idle_timeout_ms, 1, 3600000},
      {"query_timeout_ms", &out.tcp.query_timeout_ms, 1, 3600000},
      {"max_connections", &out.tcp.max_connections, 1, 1000000},
      {"max_connections_per_source", &out.tcp.max_connections_per_source, 1, 1000000},
      {"ipv4_prefix_length", &out.tcp.ipv4_prefix_length, 1, 32},
      {"ipv6_prefix_length", &out.tcp.ipv6_prefix_length, 1, 128},
  };
  return r.read_uint_fields(value, "/tcp", fields);
}

Status read_xdp(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/xdp", "must be an object");
  if (auto e = r.reject_unknown_keys(
          value, "/xdp", {"interfaces", "mode", "pin_dir", "max_names", "on_exit", "stale_after"}))
    return *e;
  XdpSettings xdp;
  if (!value.contains("interfaces") || !value["interfaces"].is_array() ||
      value["interfaces"].empty())
    return r.error_at("/xdp/interfaces", "must be a non-empty list of interface names");
  for (size_t i = 0; i < value["interfaces"].size(); ++i) {
    const std::string path = "/xdp/interfaces/" + std::to_string(i);
    auto name = r.read_string(value["interfaces"][i], path);
    if (!name) return name.error();
    if (name->empty() || name->size() >= 16) return r.error_at(path, "must be an interface name");
    xdp.interfaces.push_back(*name);
  }
  if (value.contains("mode")) {
    auto v = r.read_string(value["mode"], "/xdp/mode");
    if (!v) return v.error();
    if (*v != "native" && *v != "generic" && *v != "auto")
      return r.error_at("/xdp/mode", "must be \"native\", \"generic\" or \"auto\"");
    xdp.mode = *v;
  }
  if (value.contains("pin_dir")) {
    auto v = r.read_string(value["pin_dir"], "/xdp/pin_dir");
    if (!v) return v.error();
    if (v->rfind("/sys/fs/bpf/", 0) != 0)
      return r.error_at("/xdp/pin_dir", "must be a directory under /sys/fs/bpf/");
    xdp.pin_dir = *v;
  }
  if (value.contains("max_names")) {
    auto v = r.read_uint(value["max_names"], "/xdp/max_names", 1, 100000000);
    if (!v) return v.error();
    xdp.max_names = *v;
  }
  if (value.contains("on_exit")) {
    auto v = r.read_string(value["on_exit"], "/xdp/on_exit");
    if (!v) return v.error();
    if (*v != "detach" && *v != "keep")
      return r.error_at("/xdp/on_exit", "must be \"detach\" or \"keep\"");
    xdp.keep_on_exit = *v == "keep";
  }
  if (value.contains("stale_after")) {
    auto v = r.read_uint(value["stale_after"], "/xdp/stale_after", 0, 86400);
    if (!v) return v.error();
    xdp.stale_after = *v;
  }
  out.xdp = xdp;
  return Ok{};
}

Status read_log(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/log", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/log", {"level"})) return *e;
  if (value.contains("level")) {
    auto v = r.read_string(value["level"], "/log/level");
    if (!v) return v.error();
    if (!is_log_level_name(*v)) {
      return r.error_at("/log/level", "must be one of trace, debug, info, warn, error");
    }
    out.log_level = *v;
  }
  return Ok{};
}

Status read_zones(const ConfigReader& r, const json& value, std::string_view base_dir,
                  DaemonConfig& out) {
  if (!value.is_array()) return r.error_at("/zones", "must be an array of zone objects");
  std::unordered_map<std::string, size_t> origins;  // Name::key() -> index in out.zones
  for (size_t i = 0; i < value.size(); ++i) {
    std::string path = "/zones/" + std::to_string(i);
    const json& entry = value[i];
    if (!entry.is_object()) return r.error_at(path, "must be an object");
    if (auto e = r.reject_unknown_keys(entry, path, {"origin", "format", "file"})) return *e;
    for (const char* required : {"origin", "format", "file"}) {
      if (!entry.contains(required)) {
        return r.error_at(path, std::string("missing required key \"") + required + "\"");
      }
    }
    ZoneSource zone;
    zone.json_path = path;

    auto origin_text = r.read_string(entry["origin"], path + "/origin");
    if (!origin_text) return origin_text.error();
    if (origin_text->empty()) return r.error_at(path + "/origin", "must not be empty");
    // Origins are always absolute; a missing final dot is a common slip that means the same.
    dns::Name root;
    auto origin = dns::Name::from_text(*origin_text, &root);
    if (!origin) return r.error_at(path + "/origin", "invalid name: " + origin.error().what);
    zone.origin = *origin;
    if (auto [it, added] = origins.emplace(zone.origin.key(), out.zones.size()); !added) {
      return r.error_at(path + "/origin", "duplicate zone " + zone.origin.to_text() + " (also " +
                                              out.zones[it->second].json_path + ")");
    }

    auto format = r.read_string(entry["format"], path + "/format");
    if (!format) return format.error();
    if (*format == "rfc1035") {
      zone.format = ZoneFormat::kRfc1035;
    } else if (*format == "route53-json") {
      zone.format = ZoneFormat::kRoute53Json;
    } else {
      return r.error_at(path + "/format", "must be \"rfc1035\" or \"route53-json\"");
    }

    auto file = r.read_string(entry["file"], path + "/file");
    if (!file) return file.error();
    if (file->empty()) return r.error_at(path + "/file", "must not be empty");
    zone.file = join_path(base_dir, *file);
    out.zones.push_back(std::move(zone));
  }
  return Ok{};
}

// "A.B.C.D/len" or "v6/len" with `len` up to `max4` / `max6` and no bits set past it. Returns the
// canonical text (inet_ntop form) or why not.
Result<std::string> parse_prefix(std::string_view text, int max4, int max6) {
  const PrefixText p = read_prefix_text(text);
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (!p.has_slash) return make_error(quoted + ": expected ADDRESS/LENGTH");
  if (!p.length) return make_error(quoted + ": prefix length must be a number");
  if (!p.address_ok) return make_error(quoted + ": not an IPv4 or IPv6 address");
  const int max = p.ipv6 ? max6 : max4;
  if (*p.length > static_cast<unsigned>(max)) {
    return make_error(quoted + ": prefix length must be at most " + std::to_string(max) +
                      (p.ipv6 ? " for IPv6" : " for IPv4"));
  }
  if (p.bits_past_length())
    return make_error(quoted + ": bits set past the prefix length /" + std::to_string(*p.length));
  return p.to_string();
}

Status read_geoip(const ConfigReader& r, const json& value, std::string_view base_dir,
                  DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/geoip", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/geoip", {"database"})) return *e;
  if (value.contains("database")) {
    out.geoip.configured = true;
    const json& db = value["database"];
    if (db.is_null()) return Ok{};  // explicitly none
    auto path = r.read_string(db, "/geoip/database");
    if (!path) return r.error_at("/geoip/database", "must be a file path or null");
    if (path->empty())
      return r.error_at("/geoip/database", "must not be empty (null: no database)");
    out.geoip.database = join_path(base_dir, *path);
  }
  return Ok{};
}

// Prefixes an Error from the health-check parser (which names only the JSON path) with `source`.
Error located(Error e, const std::string& source) {
  e.where = source + ": " + (e.where.empty() ? "/" : e.where);
  return e;
}

Status read_health_checks(const ConfigReader& r, const json& value, std::string_view base_dir,
                          DaemonConfig& out) {
  if (value.is_array()) {
    health::IgnoredFields ignored;
    auto checks = health::parse_health_checks(value, "/health_checks", &ignored);
    if (!checks) return located(checks.error(), r.source());
    out.health_checks = std::move(checks).value();
    for (auto& w : health::ignored_field_warnings(ignored))
      out.health_check_warnings.push_back(r.source() + ": " + w);
    out.health_check_objects.assign(value.begin(), value.end());
    return Ok{};
  }
  if (!value.is_object()) {
    return r.error_at("/health_checks", "must be an array of health checks or {\"file\": PATH}");
  }
  if (auto e = r.reject_unknown_keys(value, "/health_checks", {"file"})) return *e;
  if (!value.contains("file")) return r.error_at("/health_checks", "missing required key \"file\"");
  auto file = r.read_string(value["file"], "/health_checks/file");
  if (!file) return file.error();
  if (file->empty()) return r.error_at("/health_checks/file", "must not be empty");
  out.health_checks_file = join_path(base_dir, *file);
  return Ok{};
}

Status read_health(const ConfigReader& r, const json& value, std::string_view base_dir,
                   DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/health", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/health", {"state_db", "webhooks"})) return *e;
  if (value.contains("state_db")) {
    const json& db = value["state_db"];
    out.health.state_db_configured = true;
    if (db.is_null()) {
      out.health.state_db.clear();
    } else {
      auto path = r.read_string(db, "/health/state_db");
      if (!path) return r.error_at("/health/state_db", "must be a file path or null");
      if (path->empty())
        return r.error_at("/health/state_db", "must not be empty (null: not kept)");
      out.health.state_db = join_path(base_dir, *path);
    }
  }
  if (value.contains("webhooks")) {
    const json& hooks = value["webhooks"];
    if (!hooks.is_array()) return r.error_at("/health/webhooks", "must be an array of URLs");
    for (size_t i = 0; i < hooks.size(); ++i) {
      const std::string path = "/health/webhooks/" + std::to_string(i);
      auto url = r.read_string(hooks[i], path);
      if (!url) return url.error();
      const bool http = url->starts_with("http://") && url->size() > 7;
      const bool https = url->starts_with("https://") && url->size() > 8;
      if (!http && !https) return r.error_at(path, "must be an http:// or https:// URL");
      if (url->find_first_of(" \t\r\n") != std::string::npos) {
        return r.error_at(path, "must not contain white space");
      }
      out.health.webhooks.push_back(*url);
    }
  }
  return Ok{};
}

// A file path or null (`what_null` says what null means), resolved against the config's directory.
Result<std::string> read_path_or_null(const ConfigReader& r, const json& value,
                                      const std::string& path, std::string_view base_dir,
                                      std::string_view what_null) {
  if (value.is_null()) return std::string();
  auto text = r.read_string(value, path);
  if (!text) return r.error_at(path, "must be a file path or null");
  if (text->empty())
    return r.error_at(path, "must not be empty (null: " + std::string(what_null) + ")");
  return join_path(base_dir, *text);
}

Status read_state(const ConfigReader& r, const json& value, std::string_view base_dir,
                  DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/state", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/state", {"database"})) return *e;
  if (value.contains("database")) {
    auto db =
        read_path_or_null(r, value["database"], "/state/database", base_dir, "no state database");
    if (!db) return db.error();
    out.state.database = *db;
  }
  return Ok{};
}

Status read_control(const ConfigReader& r, const json& value, std::string_view base_dir,
                    DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/control", "must be an object");
  if (auto e = r.reject_unknown_keys(
          value, "/control",
          {"socket", "listen", "token_file", "max_body_bytes", "tls", "insecure", "max_connections",
           "max_connections_per_source", "request_timeout_ms"}))
    return *e;
  if (value.contains("socket")) {
    auto socket =
        read_path_or_null(r, value["socket"], "/control/socket", base_dir, "no Unix socket");
    if (!socket) return socket.error();
    out.control.socket = *socket;
  }
  if (value.contains("listen") && !value["listen"].is_null()) {
    auto listen = r.read_string(value["listen"], "/control/listen");
    if (!listen) return listen.error();
    if (auto a = parse_listen_address(*listen); !a || listen->find(':') == std::string::npos)
      return r.error_at("/control/listen", "must be \"IPv4:port\" or \"[IPv6]:port\"");
    out.control.listen = *listen;
  }
  if (value.contains("token_file")) {
    auto file =
        read_path_or_null(r, value["token_file"], "/control/token_file", base_dir, "no token");
    if (!file) return file.error();
    out.control.token_file = *file;
  }
  if (!out.control.listen.empty() && out.control.token_file.empty()) {
    return r.error_at("/control/token_file",
                      "required with \"listen\": every TCP request must carry a bearer token");
  }
  if (value.contains("max_body_bytes")) {
    auto v = r.read_uint(value["max_body_bytes"], "/control/max_body_bytes", 1024, 1u << 30);
    if (!v) return v.error();
    out.control.max_body_bytes = *v;
  }
  if (value.contains("tls") && !value["tls"].is_null()) {
    const json& tls = value["tls"];
    if (!tls.is_object()) return r.error_at("/control/tls", "must be an object or null");
    if (auto e = r.reject_unknown_keys(tls, "/control/tls", {"certificate", "key"})) return *e;
    for (const char* key : {"certificate", "key"}) {
      const std::string path = std::string("/control/tls/") + key;
      if (!tls.contains(key)) return r.error_at(path, "is required (a PEM file)");
      auto file = read_path_or_null(r, tls[key], path, base_dir, "");
      if (!file || file->empty()) return r.error_at(path, "must be the path of a PEM file");
      (std::string_view(key) == "key" ? out.control.tls_key_file : out.control.tls_cert_file) =
          *file;
    }
  }
  if (value.contains("insecure")) {
    if (!value["insecure"].is_boolean())
      return r.error_at("/control/insecure", "must be a boolean");
    out.control.insecure = value["insecure"].get<bool>();
  }
  if (value.contains("max_connections")) {
    auto v = r.read_uint(value["max_connections"], "/control/max_connections", 4, 65536);
    if (!v) return v.error();
    out.control.max_connections = *v;
  }
  if (value.contains("max_connections_per_source")) {
    auto v = r.read_uint(value["max_connections_per_source"], "/control/max_connections_per_source",
                         1, 65536);
    if (!v) return v.error();
    out.control.max_connections_per_source = *v;
  }
  if (value.contains("request_timeout_ms")) {
    auto v = r.read_uint(value["request_timeout_ms"], "/control/request_timeout_ms", 100, 600000);
    if (!v) return v.error();
    out.control.request_timeout_ms = *v;
  }
  // The token authorizes every change: over a network it must not travel in clear text.
  if (!out.control.listen.empty() && out.control.tls_cert_file.empty() && !out.control.insecure) {
    if (auto a = parse_listen_address(out.control.listen); a && !is_loopback(*a)) {
      return r.error_at("/control/listen",
                        "a TCP listener on a non-loopback address needs \"tls\" (the bearer "
                        "token would travel in clear text); set \"insecure\": true to allow it "
                        "anyway");
    }
  }
  return Ok{};
}

Status read_metrics(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/metrics", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/metrics", {"listen"})) return *e;
  if (value.contains("listen") && !value["listen"].is_null()) {
    auto listen = r.read_string(value["listen"], "/metrics/listen");
    if (!listen) return listen.error();
    if (auto a = parse_listen_address(*listen); !a || listen->find(':') == std::string::npos)
      return r.error_at("/metrics/listen", "must be \"IPv4:port\" or \"[IPv6]:port\"");
    out.metrics.listen = *listen;
  }
  return Ok{};
}

Status read_cluster(const ConfigReader& r, const json& value, std::string_view base_dir,
                    DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/cluster", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/cluster",
                                     {"endpoints", "tls", "username", "password_file", "prefix",
                                      "edge", "vantage", "lease_ttl_s", "healthy_fraction"}))
    return *e;
  ClusterSettings c;
  const json& endpoints = value.contains("endpoints") ? value["endpoints"] : json();
  if (!endpoints.is_array() || endpoints.empty())
    return r.error_at("/cluster/endpoints", "must be a non-empty array of etcd client URLs");
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const std::string path = "/cluster/endpoints/" + std::to_string(i);
    auto url = r.read_string(endpoints[i], path);
    if (!url) return url.error();
    if (!url->starts_with("http://") && !url->starts_with("https://"))
      return r.error_at(path, "must start with http:// or https:// (e.g. http://127.0.0.1:2379)");
    while (url->ends_with("/")) url->pop_back();
    c.endpoints.push_back(*url);
  }
  if (value.contains("tls") && !value["tls"].is_null()) {
    const json& tls = value["tls"];
    if (!tls.is_object()) return r.error_at("/cluster/tls", "must be an object or null");
    if (auto e = r.reject_unknown_keys(tls, "/cluster/tls", {"ca", "certificate", "key"}))
      return *e;
    for (const char* key : {"ca", "certificate", "key"}) {
      if (!tls.contains(key)) continue;
      const std::string path = std::string("/cluster/tls/") + key;
      auto text = r.read_string(tls[key], path);
      if (!text || text->empty()) return r.error_at(path, "must be a file path");
      const std::string_view k(key);
      (k == "ca" ? c.ca_file : k == "key" ? c.key_file : c.cert_file) = join_path(base_dir, *text);
    }
    if (c.cert_file.empty() != c.key_file.empty())
      return r.error_at("/cluster/tls", "\"certificate\" and \"key\" go together");
  }
  if (value.contains("username")) {
    auto v = r.read_string(value["username"], "/cluster/username");
    if (!v) return v.error();
    c.username = *v;
  }
  if (value.contains("password_file")) {
    auto v = r.read_string(value["password_file"], "/cluster/password_file");
    if (!v || v->empty()) return r.error_at("/cluster/password_file", "must be a file path");
    c.password_file = join_path(base_dir, *v);
  }
  if (c.username.empty() != c.password_file.empty())
    return r.error_at("/cluster", "\"username\" and \"password_file\" go together");
  if (value.contains("prefix")) {
    auto v = r.read_string(value["prefix"], "/cluster/prefix");
    if (!v) return v.error();
    if (v->empty() || v->front() != '/' || v->back() != '/')
      return r.error_at("/cluster/prefix", "must start and end with \"/\" (e.g. \"/meridian/\")");
    c.prefix = *v;
  }
  auto edge = r.read_string(value.contains("edge") ? value["edge"] : json(), "/cluster/edge");
  if (!edge) return r.error_at("/cluster/edge", "this edge's name is required (e.g. \"fra1\")");
  for (char ch : *edge) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
      return r.error_at("/cluster/edge", "must be letters, digits, '-', '_' or '.'");
  }
  if (edge->empty() || edge->size() > 63)
    return r.error_at("/cluster/edge", "must be 1 to 63 characters");
  c.edge = *edge;
  if (value.contains("vantage")) {
    auto v = r.read_string(value["vantage"], "/cluster/vantage");
    if (!v) return v.error();
    c.vantage = *v;
  }
  if (c.vantage.empty()) c.vantage = c.edge;
  if (value.contains("lease_ttl_s")) {
    auto v = r.read_uint(value["lease_ttl_s"], "/cluster/lease_ttl_s", 2, 3600);
    if (!v) return v.error();
    c.lease_ttl_s = *v;
  }
  if (value.contains("healthy_fraction")) {
    const json& f = value["healthy_fraction"];
    if (!f.is_number() || f.get<double>() < 0.0 || f.get<double>() >= 1.0)
      return r.error_at("/cluster/healthy_fraction", "must be a number in [0, 1)");
    c.healthy_fraction = f.get<double>();
  }
  out.cluster = std::move(c);
  return Ok{};
}

Status read_query_log(const ConfigReader& r, const json& value, std::string_view base_dir,
                      DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/query_log", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/query_log", {"file", "xdp_sample", "edge_location"}))
    return *e;
  if (value.contains("file")) {
    auto file = read_path_or_null(r, value["file"], "/query_log/file", base_dir, "no query log");
    if (!file) return file.error();
    out.query_log.file = *file;
  }
  if (value.contains("xdp_sample")) {
    auto v = r.read_uint(value["xdp_sample"], "/query_log/xdp_sample", 0, 1u << 30);
    if (!v) return v.error();
    out.query_log.xdp_sample = *v;
  }
  if (value.contains("edge_location")) {
    auto v = r.read_string(value["edge_location"], "/query_log/edge_location");
    if (!v) return v.error();
    if (v->empty() || v->find_first_of(" \t\r\n") != std::string::npos)
      return r.error_at("/query_log/edge_location", "must be one word without white space");
    out.query_log.edge_location = *v;
  }
  return Ok{};
}

Status read_rrl(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/rrl", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/rrl",
                                     {"responses_per_second", "burst", "slip", "ipv4_prefix_length",
                                      "ipv6_prefix_length", "allow", "table_size"})) {
    return *e;
  }
  // Limits as in maps/meridian_rrl.h (MDN_RRL_MAX_RATE, _MAX_BURST, _MAX_SLIP).
  const ConfigReader::UintField fields[] = {
      {"responses_per_second", &out.rrl.responses_per_second, 0, 1000000},
      {"burst", &out.rrl.burst, 0, 1000000},
      {"slip", &out.rrl.slip, 0, 10},
      {"ipv4_prefix_length", &out.rrl.ipv4_prefix_length, 1, 32},
      {"ipv6_prefix_length", &out.rrl.ipv6_prefix_length, 1, 128},
      {"table_size", &out.rrl.table_size, 1024, 1u << 24},
  };
  if (auto read = r.read_uint_fields(value, "/rrl", fields); !read) return read;
  if (value.contains("allow")) {
    const json& allow = value["allow"];
    if (!allow.is_array()) return r.error_at("/rrl/allow", "must be an array of prefixes");
    std::unordered_map<std::string, std::string> seen;  // canonical prefix -> its JSON path
    for (size_t i = 0; i < allow.size(); ++i) {
      const std::string path = "/rrl/allow/" + std::to_string(i);
      auto text = r.read_string(allow[i], path);
      if (!text) return text.error();
      auto prefix = parse_prefix(*text, 32, 128);
      if (!prefix) return r.error_at(path, prefix.error().what);
      if (auto [it, added] = seen.emplace(*prefix, path); !added) {
        return r.error_at(path, "duplicate prefix " + *prefix + " (also " + it->second + ")");
      }
      out.rrl.allow.push_back(*prefix);
    }
  }
  return Ok{};
}

Status read_latency_table(const ConfigReader& r, const json& value, std::string_view base_dir,
                          DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/latency_table", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/latency_table", {"file"})) return *e;
  if (!value.contains("file")) return r.error_at("/latency_table", "missing required key \"file\"");
  auto file = r.read_string(value["file"], "/latency_table/file");
  if (!file) return file.error();
  if (file->empty()) return r.error_at("/latency_table/file", "must not be empty");
  out.latency_table_file = join_path(base_dir, *file);
  return Ok{};
}

Status read_regions(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object())
    return r.error_at("/regions", "must be an object of NAME: {latitude, longitude}");
  geo::RegionTable table;  // rejects bad names and clashes with built-in regions
  for (const auto& [name, entry] : value.items()) {
    const std::string path = "/regions/" + pointer_token(name);
    if (!entry.is_object()) return r.error_at(path, "must be an object");
    if (auto e = r.reject_unknown_keys(entry, path, {"latitude", "longitude"})) return *e;
    RegionConfig region;
    region.name = name;
    for (const char* key : {"latitude", "longitude"}) {
      if (!entry.contains(key))
        return r.error_at(path, std::string("missing required key \"") + key + "\"");
      if (!entry[key].is_number()) return r.error_at(path + "/" + key, "must be a number");
    }
    region.latitude = entry["latitude"].get<double>();
    region.longitude = entry["longitude"].get<double>();
    if (!(region.latitude >= -90 && region.latitude <= 90)) {
      return r.error_at(path + "/latitude", "must be between -90 and 90");
    }
    if (!(region.longitude >= -180 && region.longitude <= 180)) {
      return r.error_at(path + "/longitude", "must be between -180 and 180");
    }
    if (auto added = table.add(name, geo::LatLon{region.latitude, region.longitude}); !added) {
      return r.error_at(path, added.error().what);
    }
    out.regions.push_back(std::move(region));
  }
  return Ok{};
}

// Location names as Route 53 allows them: 1-16 of A-Z a-z 0-9 _ -.
bool is_cidr_location_name(std::string_view name) {
  if (name.empty() || name.size() > 16) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

Status read_cidr_collections(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) {
    return r.error_at("/cidr_collections", "must be an object of ID: {LOCATION: [CIDR, ...]}");
  }
  for (const auto& [id, locations] : value.items()) {
    const std::string path = "/cidr_collections/" + pointer_token(id);
    if (id.empty() || id.size() > 128)
      return r.error_at(path, "collection id must be 1-128 characters");
    if (!locations.is_object())
      return r.error_at(path, "must be an object of LOCATION: [CIDR, ...]");
    std::vector<CidrBlockConfig> blocks;
    std::unordered_map<std::string, std::string> seen;  // canonical prefix -> its JSON path
    for (const auto& [location, cidrs] : locations.items()) {
      const std::string lpath = path + "/" + pointer_token(location);
      if (!is_cidr_location_name(location)) {
        return r.error_at(lpath, "location name must be 1-16 characters of A-Z, a-z, 0-9, _ and -");
      }
      if (!cidrs.is_array()) return r.error_at(lpath, "must be an array of CIDR blocks");
      for (size_t i = 0; i < cidrs.size(); ++i) {
        const std::string bpath = lpath + "/" + std::to_string(i);
        auto text = r.read_string(cidrs[i], bpath);
        if (!text) return text.error();
        // Spec rule 7: blocks are at most /24 (IPv4) and /48 (IPv6).
        auto prefix = parse_prefix(*text, 24, 48);
        if (!prefix) return r.error_at(bpath, prefix.error().what);
        if (auto [it, added] = seen.emplace(*prefix, bpath); !added) {
          return r.error_at(bpath, "duplicate block " + *prefix + " (also " + it->second + ")");
        }
        blocks.push_back(CidrBlockConfig{*prefix, location});
      }
    }
    out.cidr_collections[id] = std::move(blocks);
  }
  return Ok{};
}

Status read_all_down(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_array()) {
    return r.error_at("/all_down", "must be an array of {\"name\", \"type\", \"mode\"}");
  }
  std::unordered_map<std::string, size_t> seen;  // "name-key type" -> index
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string path = "/all_down/" + std::to_string(i);
    const json& entry = value[i];
    if (!entry.is_object()) return r.error_at(path, "must be an object");
    if (auto e = r.reject_unknown_keys(entry, path, {"name", "type", "mode"})) return *e;
    for (const char* required : {"name", "type", "mode"}) {
      if (!entry.contains(required)) {
        return r.error_at(path, std::string("missing required key \"") + required + "\"");
      }
    }
    AllDownConfig setting;
    setting.json_path = path;
    auto name_text = r.read_string(entry["name"], path + "/name");
    if (!name_text) return name_text.error();
    dns::Name root;
    auto name = dns::Name::from_text(*name_text, &root);
    if (!name || name_text->empty()) {
      return r.error_at(path + "/name",
                        "invalid name" + (name ? std::string() : ": " + name.error().what));
    }
    setting.name = *name;
    auto type_text = r.read_string(entry["type"], path + "/type");
    if (!type_text) return type_text.error();
    auto type = dns::type_from_text(*type_text);
    if (!type) return r.error_at(path + "/type", "unknown record type \"" + *type_text + "\"");
    setting.type = *type;
    auto mode = r.read_string(entry["mode"], path + "/mode");
    if (!mode) return mode.error();
    if (*mode == "fail_open") {
      setting.mode = AllDownMode::kFailOpen;
    } else if (*mode == "nodata") {
      setting.mode = AllDownMode::kNoData;
    } else if (*mode == "servfail") {
      setting.mode = AllDownMode::kServFail;
    } else {
      return r.error_at(path + "/mode", "must be \"fail_open\", \"nodata\" or \"servfail\"");
    }
    const std::string key = setting.name.key() + " " + std::to_string(setting.type);
    if (auto [it, added] = seen.emplace(key, i); !added) {
      return r.error_at(path, "duplicate group " + setting.name.to_text() + " " +
                                  dns::type_to_text(setting.type) + " (also /all_down/" +
                                  std::to_string(it->second) + ")");
    }
    out.all_down.push_back(std::move(setting));
  }
  return Ok{};
}

Status load_health_checks_file(DaemonConfig& config) {
  const std::string& path = config.health_checks_file;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(std::string("cannot open health checks: ") + std::strerror(errno), path);
  std::ostringstream text;
  text << in.rdbuf();
  json doc;
  if (const size_t at = json_depth_violation(text.str(), kMaxJsonDepth, true);
      at != std::string::npos) {
    return make_error(nesting_reason(), path + ":" + line_and_column(text.str(), at + 1));
  }
  try {
    doc = json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    return make_error("JSON syntax error: " + syntax_reason(e.what()),
                      path + ":" + line_and_column(text.str(), e.byte));
  } catch (const json::exception& e) {
    return make_error(std::string("JSON error: ") + e.what(), path);
  }
  // A bare array, or the {"HealthChecks": [...]} shape of `aws route53 list-health-checks`.
  Result<std::vector<health::HealthCheckConfig>> checks = make_error("");
  health::IgnoredFields ignored;
  if (doc.is_array()) {
    checks = health::parse_health_checks(doc, "", &ignored);
  } else if (doc.is_object() && doc.contains("HealthChecks")) {
    for (const auto& [key, unused] : doc.items()) {
      if (key != "HealthChecks" && key != "IsTruncated" && key != "MaxItems" && key != "Marker" &&
          key != "NextMarker") {
        return make_error("unknown key \"" + key + "\" (expected \"HealthChecks\")",
                          path + ": /" + pointer_token(key));
      }
    }
    checks = health::parse_health_checks(doc["HealthChecks"], "/HealthChecks", &ignored);
  } else {
    return make_error("must be an array of health checks or {\"HealthChecks\": [...]}",
                      path + ": /");
  }
  if (!checks) return located(checks.error(), path);
  config.health_checks = std::move(checks).value();
  config.health_check_warnings.clear();
  for (auto& w : health::ignored_field_warnings(ignored))
    config.health_check_warnings.push_back(path + ": " + w);
  const json& list = doc.is_array() ? doc : doc["HealthChecks"];
  config.health_check_objects.assign(list.begin(), list.end());
  return Ok{};
}

// The latency table: one "prefix,region,ms" per line; blank lines, '#' comments and a
// "prefix,region,ms" header are skipped. Regions must be built in or in "regions".
Status load_latency_table(DaemonConfig& config) {
  const std::string& path = config.latency_table_file;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(std::string("cannot open latency table: ") + std::strerror(errno), path);
  geo::RegionTable regions;
  for (const auto& region : config.regions) {
    (void)regions.add(region.name, geo::LatLon{region.latitude, region.longitude});
  }
  std::vector<LatencyRow> rows;
  std::unordered_map<std::string, size_t> seen;  // "prefix region" -> line
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::vector<std::string> fields;
    std::string field;
    std::istringstream split(line);
    while (std::getline(split, field, ',')) {
      size_t a = field.find_first_not_of(" \t");
      size_t b = field.find_last_not_of(" \t");
      fields.push_back(a == std::string::npos ? "" : field.substr(a, b - a + 1));
    }
    if (fields.size() != 3) return make_error("expected prefix,region,ms", where);
    if (fields[0] == "prefix" && fields[1] == "region") continue;  // header
    // Latency is measured per client network: any prefix length the family allows.
    auto prefix = parse_prefix(fields[0], 32, 128);
    if (!prefix) return make_error(prefix.error().what, where);
    if (!regions.find(fields[1])) {
      return make_error("unknown region \"" + fields[1] + "\" (not built in, not in \"regions\")",
                        where);
    }
    unsigned ms = 0;
    auto [end, ec] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), ms);
    if (fields[2].empty() || ec != std::errc() || end != fields[2].data() + fields[2].size() ||
        ms > 600000) {
      return make_error("ms must be a whole number from 0 to 600000", where);
    }
    if (auto [it, added] = seen.emplace(*prefix + " " + fields[1], number); !added) {
      return make_error("duplicate row for " + *prefix + " and " + fields[1] + " (also line " +
                            std::to_string(it->second) + ")",
                        where);
    }
    rows.push_back(LatencyRow{*prefix, fields[1], ms});
  }
  if (in.bad()) return make_error(std::string("cannot read: ") + std::strerror(errno), path);
  config.latency_table = std::move(rows);
  return Ok{};
}

}  // namespace

uint16_t ListenAddress::port() const {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
}

std::string ListenAddress::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(port());
}

ListenAddress listen_address_from_sockaddr(const sockaddr* sa, socklen_t length) {
  ListenAddress out;
  length = std::min<socklen_t>(length, sizeof out.address);
  std::memcpy(&out.address, sa, length);
  out.length = length;
  return out;
}

bool is_loopback(const ListenAddress& address) {
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.address);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  std::string host;
  std::string_view port_text;
  bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return make_error("\"" + std::string(text) + "\": missing ']' after IPv6 address");
    }
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return make_error("\"" + std::string(text) + "\": expected ':port' after ']'");
      }
      port_text = rest.substr(1);
      if (port_text.empty()) return make_error("\"" + std::string(text) + "\": empty port");
    }
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    host = std::string(text);  // bare IPv6 address, default port
  } else {
    size_t colon = text.find(':');
    host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return make_error("\"" + std::string(text) + "\": empty port");
    }
  }

  uint16_t port = 53;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value > 65535) {
      return make_error("\"" + std::string(text) + "\": port must be a number from 0 to 65535");
    }
    port = static_cast<uint16_t>(value);
  }

  ListenAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.address);
  if (!bracketed && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
  } else {
    return make_error("\"" + std::string(text) +
                      "\": expected \"IPv4:port\" or \"[IPv6]:port\" with a numeric address");
  }
  return out;
}

bool is_log_level_name(std::string_view level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error";
}

Result<DaemonConfig> parse_daemon_config(std::string_view text, std::string_view source_name,
                                         std::string_view base_dir) {
  ConfigReader r(source_name);
  json doc;
  if (const size_t at = json_depth_violation(text, kMaxJsonDepth, true);
      at != std::string_view::npos) {
    return make_error(nesting_reason(),
                      std::string(source_name) + ":" + line_and_column(text, at + 1));
  }
  try {
    // Comments are allowed: operators annotate their configs.
    doc = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    return make_error("JSON syntax error: " + syntax_reason(e.what()),
                      std::string(source_name) + ":" + line_and_column(text, e.byte));
  } catch (const json::exception& e) {  // out_of_range: a number like 1e999 overflows a double
    return make_error(std::string("JSON error: ") + e.what(), std::string(source_name));
  }

  if (!doc.is_object()) return r.error_at("", "the configuration must be a JSON object");
  if (auto e = r.reject_unknown_keys(doc, "",
                                     {"listen",
                                      "workers",
                                      "edns",
                                      "tcp",
                                      "log",
                                      "zones",
                                      "xdp",
                                      "geoip",
                                      "health_checks",
                                      "health",
                                      "latency_table",
                                      "regions",
                                      "cidr_collections",
                                      "all_down",
                                      "rrl",
                                      "state",
                                      "control",
                                      "metrics",
                                      "query_log",
                                      "cluster"})) {
    return *e;
  }

  DaemonConfig out;
  out.source = std::string(source_name);
  out.listen = {*parse_listen_address("0.0.0.0:53"), *parse_listen_address("[::]:53")};

  if (doc.contains("listen")) {
    if (auto s = read_listen(r, doc["listen"], out); !s) return s.error();
  }
  if (doc.contains("workers")) {
    auto v = r.read_uint(doc["workers"], "/workers", 0, 1024);
    if (!v) return v.error();
    out.workers = *v;
  }
  if (doc.contains("edns")) {
    if (auto s = read_edns(r, doc["edns"], out); !s) return s.error();
  }
  if (doc.contains("xdp")) {
    if (auto s = read_xdp(r, doc["xdp"], out); !s) return s.error();
  }
  if (doc.contains("tcp")) {
    if (auto s = read_tcp(r, doc["tcp"], out); !s) return s.error();
  }
  if (doc.contains("log")) {
    if (auto s = read_log(r, doc["log"], out); !s) return s.error();
  }
  if (doc.contains("zones")) {
    if (auto s = read_zones(r, doc["zones"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("geoip")) {
    if (auto s = read_geoip(r, doc["geoip"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("health_checks")) {
    if (auto s = read_health_checks(r, doc["health_checks"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("health")) {
    if (auto s = read_health(r, doc["health"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("regions")) {
    if (auto s = read_regions(r, doc["regions"], out); !s) return s.error();
  }
  if (doc.contains("latency_table")) {
    if (auto s = read_latency_table(r, doc["latency_table"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("cidr_collections")) {
    if (auto s = read_cidr_collections(r, doc["cidr_collections"], out); !s) return s.error();
  }
  if (doc.contains("all_down")) {
    if (auto s = read_all_down(r, doc["all_down"], out); !s) return s.error();
  }
  if (doc.contains("rrl")) {
    if (auto s = read_rrl(r, doc["rrl"], out); !s) return s.error();
  }
  if (doc.contains("state")) {
    if (auto s = read_state(r, doc["state"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("control")) {
    if (auto s = read_control(r, doc["control"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("metrics")) {
    if (auto s = read_metrics(r, doc["metrics"], out); !s) return s.error();
  }
  if (doc.contains("query_log")) {
    if (auto s = read_query_log(r, doc["query_log"], base_dir, out); !s) return s.error();
  }
  if (doc.contains("cluster")) {
    if (auto s = read_cluster(r, doc["cluster"], base_dir, out); !s) return s.error();
    // A fleet's zones and checks live in etcd: one truth, changed through any edge's API.
    for (const char* key : {"zones", "health_checks"}) {
      if (doc.contains(key))
        return r.error_at(std::string("/") + key,
                          "not allowed with \"cluster\": zones and health checks are shared in "
                          "etcd; create them through the control API (meridianctl), or move a "
                          "single-host state database there with \"meridianctl cluster import\"");
    }
    if (out.state.database.empty())
      return r.error_at("/state/database",
                        "a fleet edge needs its state database (it caches the shared state)");
  }
  return out;
}

Status load_referenced_files(DaemonConfig& config) {
  if (!config.health_checks_file.empty()) {
    if (auto s = load_health_checks_file(config); !s) return s;
  }
  if (!config.latency_table_file.empty()) {
    if (auto s = load_latency_table(config); !s) return s;
  }
  return Ok{};
}

std::string effective_geoip_database(const DaemonConfig& config) {
  if (config.geoip.configured) return config.geoip.database;
  return access(kDefaultGeoIpDatabase, R_OK) == 0 ? std::string(kDefaultGeoIpDatabase) : "";
}

std::string effective_health_state_db(const DaemonConfig& config) {
  if (config.health.state_db_configured || config.state.database.empty())
    return config.health.state_db;
  return config.state.database;
}

Result<std::string> read_secret_file(const std::string& path, std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return make_error("cannot open " + std::string(what) + ": " + std::strerror(errno), path);
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
  } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    // Anyone who can read it can do what it allows; anyone who can write it can replace it.
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    problem = std::string("mode ") + mode +
              " lets other users read or change it (make it 0600: chmod 600 " + path + ")";
  } else if (st.st_size > (1 << 20)) {
    problem = "larger than 1 MiB";
  }
  std::string text;
  if (problem.empty()) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) problem = std::strerror(errno);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  if (!problem.empty()) return make_error(std::string(what) + ": " + problem, path);
  return text;
}

Result<std::string> read_control_token(const DaemonConfig& config) {
  if (config.control.token_file.empty()) return std::string();
  auto text = read_secret_file(config.control.token_file, "control token");
  if (!text) return text.error();
  std::string token = text->substr(0, text->find('\n'));
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!token.empty() && blank(token.back())) token.pop_back();
  while (!token.empty() && blank(token.front())) token.erase(token.begin());
  if (token.size() < kMinControlTokenLength)
    return make_error(
        "control token must be at least " + std::to_string(kMinControlTokenLength) +
            " characters on the first line (it is " +
            (token.empty() ? std::string("blank") : std::to_string(token.size()) + " characters") +
            ")",
        config.control.token_file);
  for (char c : token) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
      return make_error("control token must be printable ASCII without spaces",
                        config.control.token_file);
  }
  return token;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(std::string("cannot open: ") + std::strerror(errno), path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(std::string("cannot read: ") + std::strerror(errno), path);
  size_t slash = path.rfind('/');
  std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  auto config = parse_daemon_config(text.str(), path, base_dir);
  if (!config) return config;
  if (auto s = load_referenced_files(*config); !s) return s.error();
  return config;
}

}  // namespace meridian::config
