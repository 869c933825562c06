// Parsing and validation of meridiand's JSON configuration (format in docs/configuration.md).
#include "config/daemon_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

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
    if (!value.is_number_integer() ||
        (value.is_number_integer() && !value.is_number_unsigned() && value.get<int64_t>() < 0)) {
      return error_at(path, "must be an integer between " + std::to_string(min) + " and " +
                                std::to_string(max));
    }
    uint64_t v = value.get<uint64_t>();
    if (v < min || v > max) {
      return error_at(path, "must be between " + std::to_string(min) + " and " +
                                std::to_string(max) + " (got " + std::to_string(v) + ")");
    }
    return static_cast<uint32_t>(v);
  }

  Result<std::string> read_string(const json& value, const std::string& path) const {
    if (!value.is_string()) return error_at(path, "must be a string");
    return value.get<std::string>();
  }

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
  return message.substr(colon + 2);
}

Status read_listen(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_array()) return r.error_at("/listen", "must be an array of \"address:port\"");
  if (value.empty()) return r.error_at("/listen", "must name at least one address");
  out.listen.clear();
  for (size_t i = 0; i < value.size(); ++i) {
    std::string path = "/listen/" + std::to_string(i);
    auto text = r.read_string(value[i], path);
    if (!text) return text.error();
    auto address = parse_listen_address(*text);
    if (!address) return r.error_at(path, address.error().what);
    for (size_t j = 0; j < out.listen.size(); ++j) {
      if (out.listen[j].to_text() == address->to_text()) {
        return r.error_at(path, "duplicate listen address " + address->to_text() +
                                    " (also /listen/" + std::to_string(j) + ")");
      }
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
          value, "/tcp", {"idle_timeout_ms", "max_connections", "max_connections_per_source"})) {
    return *e;
  }
  if (value.contains("idle_timeout_ms")) {
    auto v = r.read_uint(value["idle_timeout_ms"], "/tcp/idle_timeout_ms", 1, 3600000);
    if (!v) return v.error();
    out.tcp.idle_timeout_ms = *v;
  }
  if (value.contains("max_connections")) {
    auto v = r.read_uint(value["max_connections"], "/tcp/max_connections", 1, 1000000);
    if (!v) return v.error();
    out.tcp.max_connections = *v;
  }
  if (value.contains("max_connections_per_source")) {
    auto v = r.read_uint(value["max_connections_per_source"], "/tcp/max_connections_per_source", 1,
                         1000000);
    if (!v) return v.error();
    out.tcp.max_connections_per_source = *v;
  }
  return Ok{};
}

Status read_xdp(const ConfigReader& r, const json& value, DaemonConfig& out) {
  if (!value.is_object()) return r.error_at("/xdp", "must be an object");
  if (auto e = r.reject_unknown_keys(value, "/xdp",
                                     {"interfaces", "mode", "pin_dir", "max_names", "on_exit"}))
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
    for (size_t j = 0; j < out.zones.size(); ++j) {
      if (out.zones[j].origin == zone.origin) {
        return r.error_at(path + "/origin", "duplicate zone " + zone.origin.to_text() + " (also " +
                                                out.zones[j].json_path + ")");
      }
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
  try {
    // Comments are allowed: operators annotate their configs.
    doc = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    return make_error("JSON syntax error: " + syntax_reason(e.what()),
                      std::string(source_name) + ":" + line_and_column(text, e.byte));
  }

  if (!doc.is_object()) return r.error_at("", "the configuration must be a JSON object");
  if (auto e = r.reject_unknown_keys(doc, "",
                                     {"listen", "workers", "edns", "tcp", "log", "zones", "xdp"})) {
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
  return out;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(std::string("cannot open: ") + std::strerror(errno), path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(std::string("cannot read: ") + std::strerror(errno), path);
  size_t slash = path.rfind('/');
  std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  return parse_daemon_config(text.str(), path, base_dir);
}

}  // namespace meridian::config
