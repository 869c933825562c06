// Tests of meridiand's configuration parsing: defaults, every field's validation, and that each
// error names the file and line:column or JSON path.
#include "config/daemon_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include <gtest/gtest.h>

#include "config/zone_loading.h"

namespace meridian::config {
namespace {

Result<DaemonConfig> parse(std::string_view text) {
  return parse_daemon_config(text, "meridian.json", "/etc/meridian/");
}

// The error text as an operator sees it.
std::string error_of(std::string_view text) {
  auto result = parse(text);
  EXPECT_FALSE(result.ok()) << "expected an error for: " << text;
  return result.ok() ? "" : result.error().to_string();
}

TEST(DaemonConfigTest, EmptyObjectGivesDefaults) {
  auto config = parse("{}");
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  ASSERT_EQ(config->listen.size(), 2u);
  EXPECT_EQ(config->listen[0].to_text(), "0.0.0.0:53");
  EXPECT_EQ(config->listen[1].to_text(), "[::]:53");
  EXPECT_EQ(config->workers, 0u);
  EXPECT_EQ(config->edns.udp_payload, 1232);
  EXPECT_FALSE(config->edns.nsid.has_value());
  EXPECT_EQ(config->tcp.idle_timeout_ms, 10000u);
  EXPECT_EQ(config->tcp.max_connections, 1024u);
  EXPECT_EQ(config->tcp.max_connections_per_source, 32u);
  EXPECT_EQ(config->log_level, "info");
  EXPECT_TRUE(config->zones.empty());
  EXPECT_EQ(config->source, "meridian.json");
}

TEST(DaemonConfigTest, FullFileIsRead) {
  auto config = parse(R"({
    // comments are allowed
    "listen": ["127.0.0.1:5353", "[::1]:5353"],
    "workers": 3,
    "edns": {"udp_payload": 1400, "nsid": "meridian-1"},
    "tcp": {"idle_timeout_ms": 500, "max_connections": 10, "max_connections_per_source": 2},
    "log": {"level": "debug"},
    "zones": [
      {"origin": "example.com.", "format": "rfc1035", "file": "zones/example.com.zone"},
      {"origin": "example.net", "format": "route53-json", "file": "/abs/example.net.json"}
    ]
  })");
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  ASSERT_EQ(config->listen.size(), 2u);
  EXPECT_EQ(config->listen[0].to_text(), "127.0.0.1:5353");
  EXPECT_EQ(config->listen[0].family(), AF_INET);
  EXPECT_EQ(config->listen[1].to_text(), "[::1]:5353");
  EXPECT_EQ(config->listen[1].family(), AF_INET6);
  EXPECT_EQ(config->listen[1].port(), 5353);
  EXPECT_EQ(config->workers, 3u);
  EXPECT_EQ(config->edns.udp_payload, 1400);
  EXPECT_EQ(config->edns.nsid, "meridian-1");
  EXPECT_EQ(config->tcp.idle_timeout_ms, 500u);
  EXPECT_EQ(config->tcp.max_connections, 10u);
  EXPECT_EQ(config->tcp.max_connections_per_source, 2u);
  EXPECT_EQ(config->log_level, "debug");
  ASSERT_EQ(config->zones.size(), 2u);
  EXPECT_EQ(config->zones[0].format, ZoneFormat::kRfc1035);
  EXPECT_EQ(config->zones[0].file, "/etc/meridian/zones/example.com.zone");
  EXPECT_EQ(config->zones[0].json_path, "/zones/0");
  EXPECT_EQ(config->zones[1].format, ZoneFormat::kRoute53Json);
  EXPECT_EQ(config->zones[1].file, "/abs/example.net.json");
  // Both spellings of an origin mean the same absolute name.
  EXPECT_EQ(config->zones[1].origin.to_text(), "example.net.");
}

TEST(DaemonConfigTest, SyntaxErrorNamesLineAndColumn) {
  EXPECT_EQ(error_of("{\n  \"workers\": 1,,\n}").rfind("meridian.json:2:16: JSON syntax error", 0),
            0u)
      << error_of("{\n  \"workers\": 1,,\n}");
  EXPECT_NE(error_of("").find("meridian.json:1:"), std::string::npos);
  EXPECT_NE(error_of("{\"zones\": [\n\n  {]\n}").find("meridian.json:3:"), std::string::npos);
}

TEST(DaemonConfigTest, FieldErrorsNameTheJsonPath) {
  struct Case {
    const char* text;
    const char* expected;  // a prefix of the error
  };
  const Case cases[] = {
      {"[]", "meridian.json: /: "},
      {R"({"listen": "127.0.0.1:53"})", "meridian.json: /listen: must be an array"},
      {R"({"listen": []})", "meridian.json: /listen: must name at least one"},
      {R"({"listen": ["127.0.0.1:53", 7]})", "meridian.json: /listen/1: must be a string"},
      {R"({"listen": ["localhost:53"]})", "meridian.json: /listen/0: "},
      {R"({"listen": ["127.0.0.1:70000"]})", "meridian.json: /listen/0: "},
      {R"({"listen": ["[::1:53"]})", "meridian.json: /listen/0: "},
      {R"({"listen": ["127.0.0.1:53", "127.0.0.1:53"]})", "meridian.json: /listen/1: duplicate"},
      {R"({"workers": -1})", "meridian.json: /workers: "},
      {R"({"workers": 1.5})", "meridian.json: /workers: "},
      {R"({"workers": "2"})", "meridian.json: /workers: "},
      {R"({"workers": 5000})", "meridian.json: /workers: must be between 0 and 1024"},
      {R"({"edns": 1})", "meridian.json: /edns: must be an object"},
      {R"({"edns": {"udp_payload": 511}})", "meridian.json: /edns/udp_payload: "},
      {R"({"edns": {"nsid": ""}})", "meridian.json: /edns/nsid: "},
      {R"({"edns": {"nsid": 5}})", "meridian.json: /edns/nsid: must be a string"},
      {R"({"edns": {"cookie": true}})", "meridian.json: /edns/cookie: unknown key"},
      {R"({"tcp": {"idle_timeout_ms": 0}})", "meridian.json: /tcp/idle_timeout_ms: "},
      {R"({"tcp": {"max_connections": 0}})", "meridian.json: /tcp/max_connections: "},
      {R"({"tcp": {"max_connections_per_source": true}})",
       "meridian.json: /tcp/max_connections_per_source: "},
      {R"({"tcp": {"idle_timeout": 5}})", "meridian.json: /tcp/idle_timeout: unknown key"},
      {R"({"log": {"level": "verbose"}})", "meridian.json: /log/level: must be one of"},
      {R"({"log": {"file": "x"}})", "meridian.json: /log/file: unknown key"},
      {R"({"zone": []})", "meridian.json: /zone: unknown key"},
      {R"({"zones": {}})", "meridian.json: /zones: must be an array"},
      {R"({"zones": [1]})", "meridian.json: /zones/0: must be an object"},
      {R"({"zones": [{"format": "rfc1035", "file": "f"}]})",
       "meridian.json: /zones/0: missing required key \"origin\""},
      {R"({"zones": [{"origin": "a.", "format": "bind", "file": "f"}]})",
       "meridian.json: /zones/0/format: must be \"rfc1035\" or \"route53-json\""},
      {R"({"zones": [{"origin": "a.", "format": "rfc1035", "file": ""}]})",
       "meridian.json: /zones/0/file: must not be empty"},
      {R"({"zones": [{"origin": "", "format": "rfc1035", "file": "f"}]})",
       "meridian.json: /zones/0/origin: must not be empty"},
      {R"({"zones": [{"origin": "a..b.", "format": "rfc1035", "file": "f"}]})",
       "meridian.json: /zones/0/origin: invalid name"},
      {R"({"zones": [{"origin": "a.", "format": "rfc1035", "file": "f", "ttl": 1}]})",
       "meridian.json: /zones/0/ttl: unknown key"},
      {R"({"zones": [{"origin": "a.", "format": "rfc1035", "file": "f"},
                     {"origin": "A.", "format": "rfc1035", "file": "g"}]})",
       "meridian.json: /zones/1/origin: duplicate zone"},
      {R"({"a~b/c": 1})", "meridian.json: /a~0b~1c: unknown key"},
  };
  for (const Case& c : cases) {
    std::string error = error_of(c.text);
    EXPECT_EQ(error.rfind(c.expected, 0), 0u) << c.text << "\n  gave: " << error;
  }
}

TEST(DaemonConfigTest, ListenAddressForms) {
  auto v4 = parse_listen_address("192.0.2.1:8053");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->to_text(), "192.0.2.1:8053");
  EXPECT_EQ(v4->length, sizeof(sockaddr_in));

  auto v4_default_port = parse_listen_address("192.0.2.1");
  ASSERT_TRUE(v4_default_port.ok());
  EXPECT_EQ(v4_default_port->port(), 53);

  auto v6 = parse_listen_address("[2001:db8::1]:853");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->to_text(), "[2001:db8::1]:853");
  EXPECT_EQ(v6->length, sizeof(sockaddr_in6));

  auto v6_bare = parse_listen_address("::1");
  ASSERT_TRUE(v6_bare.ok());
  EXPECT_EQ(v6_bare->to_text(), "[::1]:53");

  auto port_zero = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(port_zero.ok());
  EXPECT_EQ(port_zero->port(), 0);

  for (const char* bad :
       {"", ":53", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:-1", "[::1]x", "[::1]:", "256.0.0.1:53",
        "example.com:53", "[127.0.0.1]:53", "127.0.0.1:53:53"}) {
    EXPECT_FALSE(parse_listen_address(bad).ok()) << bad;
  }
}

TEST(DaemonConfigTest, LogLevelNames) {
  for (const char* good : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_TRUE(is_log_level_name(good)) << good;
  }
  for (const char* bad : {"", "INFO", "warning", "critical", "off"}) {
    EXPECT_FALSE(is_log_level_name(bad)) << bad;
  }
}

TEST(DaemonConfigTest, MissingFileIsAnError) {
  auto config = load_daemon_config("/nonexistent/meridian.json");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().where, "/nonexistent/meridian.json");
}

TEST(ZoneLoadingTest, NoZonesGivesAnEmptySet) {
  auto config = parse("{}");
  ASSERT_TRUE(config.ok());
  auto zones = load_zones(*config);
  ASSERT_TRUE(zones.ok()) << zones.error().to_string();
  EXPECT_TRUE((*zones)->zones().empty());
}

TEST(ZoneLoadingTest, MissingZoneFileNamesTheFile) {
  auto config = parse(R"({"zones": [
      {"origin": "example.com.", "format": "rfc1035", "file": "absent.zone"}]})");
  ASSERT_TRUE(config.ok());
  auto zones = load_zones(*config);
  ASSERT_FALSE(zones.ok());
  EXPECT_NE(zones.error().to_string().find("/etc/meridian/absent.zone"), std::string::npos)
      << zones.error().to_string();
}

TEST(ZoneLoadingTest, DuplicateOriginsRejectedBeforeLoading) {
  DaemonConfig config;
  config.source = "meridian.json";
  dns::Name root;
  for (int i = 0; i < 2; ++i) {
    ZoneSource zone;
    zone.origin = *dns::Name::from_text("example.com.", &root);
    zone.file = "/nonexistent/zone";  // never opened: the duplicate is found first
    zone.json_path = "/zones/" + std::to_string(i);
    config.zones.push_back(zone);
  }
  auto zones = load_zones(config);
  ASSERT_FALSE(zones.ok());
  EXPECT_EQ(zones.error().where, "meridian.json: /zones/1/origin");
}

}  // namespace
}  // namespace meridian::config
