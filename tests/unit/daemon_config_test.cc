// Tests of meridiand's configuration parsing: defaults, every field's validation, and that each
// error names the file and line:column or JSON path.
#include "config/daemon_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "config/zone_loading.h"
#include "unit/test_files.h"

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
  EXPECT_EQ(config->tcp.query_timeout_ms, 2000u);
  EXPECT_EQ(config->tcp.max_connections, 1024u);
  EXPECT_EQ(config->tcp.max_connections_per_source, 32u);
  EXPECT_EQ(config->tcp.ipv4_prefix_length, 24u);
  EXPECT_EQ(config->tcp.ipv6_prefix_length, 56u);
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
    "tcp": {"idle_timeout_ms": 500, "query_timeout_ms": 300, "max_connections": 10,
            "max_connections_per_source": 2, "ipv4_prefix_length": 32, "ipv6_prefix_length": 64},
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
  EXPECT_EQ(config->tcp.query_timeout_ms, 300u);
  EXPECT_EQ(config->tcp.max_connections, 10u);
  EXPECT_EQ(config->tcp.max_connections_per_source, 2u);
  EXPECT_EQ(config->tcp.ipv4_prefix_length, 32u);
  EXPECT_EQ(config->tcp.ipv6_prefix_length, 64u);
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
      {R"({"workers": 5000})", "meridian.json: /workers: must be an integer 0..1024"},
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
      {R"({"tcp": {"query_timeout_ms": 0}})",
       "meridian.json: /tcp/query_timeout_ms: must be an integer 1..3600000"},
      {R"({"tcp": {"ipv4_prefix_length": 33}})",
       "meridian.json: /tcp/ipv4_prefix_length: must be an integer 1..32"},
      {R"({"tcp": {"ipv6_prefix_length": 0}})",
       "meridian.json: /tcp/ipv6_prefix_length: must be an integer 1..128"},
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
      {R"({"xdp": {"interfaces": ["eth0"], "stale_after": 86401}})",
       "meridian.json: /xdp/stale_after: must be an integer 0..86400"},
      {R"({"xdp": {"interfaces": ["eth0"], "stale_after": 2.5}})",
       "meridian.json: /xdp/stale_after: must be an integer"},
  };
  for (const Case& c : cases) {
    std::string error = error_of(c.text);
    EXPECT_EQ(error.rfind(c.expected, 0), 0u) << c.text << "\n  gave: " << error;
  }
}

// The heartbeat age past which XDP passes everything up: 30 s unless set, 0 turns it off.
TEST(DaemonConfigTest, XdpStaleAfter) {
  auto defaults = parse(R"({"xdp": {"interfaces": ["eth0"]}})");
  ASSERT_TRUE(defaults.ok()) << defaults.error().to_string();
  EXPECT_EQ(defaults->xdp->stale_after, 30u);
  for (uint32_t seconds : {0u, 3u, 86400u}) {
    auto c = parse(R"({"xdp": {"interfaces": ["eth0"], "stale_after": )" + std::to_string(seconds) +
                   "}}");
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    EXPECT_EQ(c->xdp->stale_after, seconds);
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

using meridian::testing::TempDir;

TEST(DaemonConfigGslbTest, DefaultsWhenAbsent) {
  auto config = parse("{}");
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_FALSE(config->geoip.configured);
  EXPECT_TRUE(config->health_checks.empty());
  EXPECT_TRUE(config->health_checks_file.empty());
  EXPECT_EQ(config->health.state_db, kDefaultHealthStateDb);
  EXPECT_TRUE(config->health.webhooks.empty());
  EXPECT_TRUE(config->latency_table_file.empty());
  EXPECT_TRUE(config->regions.empty());
  EXPECT_TRUE(config->cidr_collections.empty());
  // Unconfigured: the setup-built database exactly when that file exists.
  EXPECT_EQ(effective_geoip_database(*config),
            access(kDefaultGeoIpDatabase, R_OK) == 0 ? kDefaultGeoIpDatabase : "");
}

TEST(DaemonConfigGslbTest, SectionsAreRead) {
  auto config = parse(R"({
    "geoip": {"database": "geo/city.mmdb"},
    "health_checks": [
      {"Id": "web-1", "Type": "HTTP", "IPAddress": "198.18.1.10", "Port": 8080,
       "RequestInterval": 1, "FailureThreshold": 2},
      {"Id": "all", "Type": "CALCULATED", "ChildHealthChecks": ["web-1"], "HealthThreshold": 1}
    ],
    "health": {"state_db": "state/health.db", "webhooks": ["http://127.0.0.1:9/hook"]},
    "latency_table": {"file": "latency.csv"},
    "regions": {"lab-east": {"latitude": 40.7, "longitude": -74.0}},
    "cidr_collections": {"office": {"berlin": ["198.18.4.0/24", "fd00:18::/48"],
                                    "paris": ["198.18.5.0/24"]}},
    "all_down": [{"name": "www.example.com", "type": "A", "mode": "nodata"},
                 {"name": "www.example.com.", "type": "aaaa", "mode": "servfail"}]
  })");
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_TRUE(config->geoip.configured);
  EXPECT_EQ(config->geoip.database, "/etc/meridian/geo/city.mmdb");
  EXPECT_EQ(effective_geoip_database(*config), "/etc/meridian/geo/city.mmdb");
  ASSERT_EQ(config->health_checks.size(), 2u);
  EXPECT_EQ(config->health_checks[0].id, "web-1");
  EXPECT_EQ(config->health_checks[0].port, 8080);
  EXPECT_EQ(config->health_checks[0].request_interval_s, 1u);
  EXPECT_EQ(config->health_checks[1].type, health::CheckType::kCalculated);
  EXPECT_EQ(config->health.state_db, "/etc/meridian/state/health.db");
  EXPECT_EQ(config->health.webhooks, std::vector<std::string>{"http://127.0.0.1:9/hook"});
  EXPECT_EQ(config->latency_table_file, "/etc/meridian/latency.csv");
  ASSERT_EQ(config->regions.size(), 1u);
  EXPECT_EQ(config->regions[0].name, "lab-east");
  EXPECT_DOUBLE_EQ(config->regions[0].latitude, 40.7);
  ASSERT_EQ(config->cidr_collections.count("office"), 1u);
  const auto& blocks = config->cidr_collections.at("office");
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].prefix, "198.18.4.0/24");
  EXPECT_EQ(blocks[0].location, "berlin");
  EXPECT_EQ(blocks[1].prefix, "fd00:18::/48");
  EXPECT_EQ(blocks[2].location, "paris");
  ASSERT_EQ(config->all_down.size(), 2u);
  EXPECT_EQ(config->all_down[0].name.to_text(), "www.example.com.");
  EXPECT_EQ(config->all_down[0].type, 1);
  EXPECT_EQ(config->all_down[0].mode, AllDownMode::kNoData);
  EXPECT_EQ(config->all_down[1].type, 28);
  EXPECT_EQ(config->all_down[1].mode, AllDownMode::kServFail);
}

TEST(DaemonConfigGslbTest, NullsTurnFeaturesOff) {
  auto config = parse(R"({"geoip": {"database": null}, "health": {"state_db": null}})");
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_TRUE(config->geoip.configured);
  EXPECT_EQ(effective_geoip_database(*config), "");
  EXPECT_EQ(config->health.state_db, "");
}

TEST(DaemonConfigGslbTest, ErrorsNameTheJsonPath) {
  struct Case {
    const char* text;
    const char* expected;  // a prefix of the error
  };
  const Case cases[] = {
      {R"({"geoip": "x.mmdb"})", "meridian.json: /geoip: must be an object"},
      {R"({"geoip": {"database": 5}})", "meridian.json: /geoip/database: must be a file path"},
      {R"({"geoip": {"database": ""}})", "meridian.json: /geoip/database: must not be empty"},
      {R"({"geoip": {"path": "x"}})", "meridian.json: /geoip/path: unknown key"},
      {R"({"health_checks": 5})", "meridian.json: /health_checks: must be an array"},
      {R"({"health_checks": {"path": "x"}})", "meridian.json: /health_checks/path: unknown key"},
      {R"({"health_checks": {}})", "meridian.json: /health_checks: missing required key"},
      {R"({"health_checks": [{"Id": "a", "Type": "HTTP", "IPAddress": "198.18.0.1",
                              "FailureThreshold": 11}]})",
       "meridian.json: /health_checks/0/FailureThreshold: "},
      {R"({"health_checks": [{"Id": "a", "Type": "TCP", "IPAddress": "198.18.0.1", "Port": 1},
                             {"Id": "a", "Type": "TCP", "IPAddress": "198.18.0.1", "Port": 2}]})",
       "meridian.json: /health_checks/1"},
      {R"({"health_checks": [{"Id": "c", "Type": "CALCULATED", "ChildHealthChecks": ["x"]}]})",
       "meridian.json: /health_checks/0"},
      {R"({"health": {"webhooks": "http://x/"}})",
       "meridian.json: /health/webhooks: must be an array"},
      {R"({"health": {"webhooks": ["ftp://x/"]}})",
       "meridian.json: /health/webhooks/0: must be an http:// or https:// URL"},
      {R"({"health": {"webhooks": ["http://"]}})", "meridian.json: /health/webhooks/0: "},
      {R"({"health": {"state_db": 1}})", "meridian.json: /health/state_db: "},
      {R"({"health": {"db": "x"}})", "meridian.json: /health/db: unknown key"},
      {R"({"latency_table": {}})", "meridian.json: /latency_table: missing required key \"file\""},
      {R"({"latency_table": {"file": 3}})", "meridian.json: /latency_table/file: must be a string"},
      {R"({"regions": []})", "meridian.json: /regions: must be an object"},
      {R"({"regions": {"lab": {"latitude": 1}}})",
       "meridian.json: /regions/lab: missing required key \"longitude\""},
      {R"({"regions": {"lab": {"latitude": 91, "longitude": 0}}})",
       "meridian.json: /regions/lab/latitude: "},
      {R"({"regions": {"lab": {"latitude": 0, "longitude": "0"}}})",
       "meridian.json: /regions/lab/longitude: must be a number"},
      {R"({"regions": {"Lab_1": {"latitude": 0, "longitude": 0}}})",
       "meridian.json: /regions/Lab_1: "},
      {R"({"regions": {"eu-west-1": {"latitude": 0, "longitude": 0}}})",
       "meridian.json: /regions/eu-west-1: "},
      {R"({"cidr_collections": []})", "meridian.json: /cidr_collections: must be an object"},
      {R"({"cidr_collections": {"c": []}})",
       "meridian.json: /cidr_collections/c: must be an object"},
      {R"({"cidr_collections": {"c": {"a b": ["198.18.0.0/24"]}}})",
       "meridian.json: /cidr_collections/c/a b: location name"},
      {R"({"cidr_collections": {"c": {"x": "198.18.0.0/24"}}})",
       "meridian.json: /cidr_collections/c/x: must be an array"},
      {R"({"cidr_collections": {"c": {"x": ["198.18.0.0/25"]}}})",
       "meridian.json: /cidr_collections/c/x/0: \"198.18.0.0/25\": prefix length must be at most "
       "24"},
      {R"({"cidr_collections": {"c": {"x": ["fd00:18::/64"]}}})",
       "meridian.json: /cidr_collections/c/x/0: \"fd00:18::/64\": prefix length must be at most "
       "48"},
      {R"({"cidr_collections": {"c": {"x": ["198.18.0.1/24"]}}})",
       "meridian.json: /cidr_collections/c/x/0: \"198.18.0.1/24\": bits set past"},
      {R"({"cidr_collections": {"c": {"x": ["198.18.0.0"]}}})",
       "meridian.json: /cidr_collections/c/x/0: "},
      {R"({"cidr_collections": {"c": {"x": ["example/24"]}}})",
       "meridian.json: /cidr_collections/c/x/0: "},
      {R"({"cidr_collections": {"c": {"x": ["198.18.0.0/24"], "y": ["198.18.0.0/24"]}}})",
       "meridian.json: /cidr_collections/c/y/0: duplicate block 198.18.0.0/24 (also "
       "/cidr_collections/c/x/0)"},
      {R"({"all_down": {}})", "meridian.json: /all_down: must be an array"},
      {R"({"all_down": [{"name": "a.", "type": "A"}]})",
       "meridian.json: /all_down/0: missing required key \"mode\""},
      {R"({"all_down": [{"name": "a..b", "type": "A", "mode": "nodata"}]})",
       "meridian.json: /all_down/0/name: invalid name"},
      {R"({"all_down": [{"name": "a.", "type": "BOGUS", "mode": "nodata"}]})",
       "meridian.json: /all_down/0/type: unknown record type"},
      {R"({"all_down": [{"name": "a.", "type": "A", "mode": "drop"}]})",
       "meridian.json: /all_down/0/mode: must be"},
      {R"({"all_down": [{"name": "a.", "type": "A", "mode": "nodata", "ttl": 1}]})",
       "meridian.json: /all_down/0/ttl: unknown key"},
      {R"({"all_down": [{"name": "a.", "type": "A", "mode": "nodata"},
                        {"name": "A", "type": "a", "mode": "servfail"}]})",
       "meridian.json: /all_down/1: duplicate group A. A (also /all_down/0)"},
  };
  for (const Case& c : cases) {
    std::string error = error_of(c.text);
    EXPECT_EQ(error.rfind(c.expected, 0), 0u) << c.text << "\n  gave: " << error;
  }
}

TEST(DaemonConfigGslbTest, HealthChecksFileIsReadWithItsOwnPaths) {
  TempDir dir;
  dir.write("checks.json", R"({"HealthChecks": [
      {"Id": "a", "Type": "TCP", "IPAddress": "198.18.0.1", "Port": 80},
      {"Id": "b", "HealthCheckConfig": {"Type": "HTTP", "IPAddress": "198.18.0.2"}}]})");
  dir.write("list.json", R"([{"Id": "a", "Type": "TCP", "IPAddress": "198.18.0.1", "Port": 80}])");
  dir.write("bad.json", R"([{"Id": "a", "Type": "TCP", "IPAddress": "198.18.0.1", "Port": 0}])");
  dir.write("broken.json", "[\n{,\n]");
  const std::string config_path =
      dir.write("meridian.json", R"({"health_checks": {"file": "checks.json"}})");
  auto config = load_daemon_config(config_path);
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  ASSERT_EQ(config->health_checks.size(), 2u);
  EXPECT_EQ(config->health_checks[1].id, "b");
  EXPECT_EQ(config->health_checks_file, dir.path() + "/checks.json");

  dir.write("meridian.json", R"({"health_checks": {"file": "list.json"}})");
  config = load_daemon_config(config_path);
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_EQ(config->health_checks.size(), 1u);

  dir.write("meridian.json", R"({"health_checks": {"file": "bad.json"}})");
  config = load_daemon_config(config_path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().where.rfind(dir.path() + "/bad.json: /0", 0), 0u)
      << config.error().to_string();

  dir.write("meridian.json", R"({"health_checks": {"file": "broken.json"}})");
  config = load_daemon_config(config_path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().where, dir.path() + "/broken.json:2:2") << config.error().to_string();

  dir.write("meridian.json", R"({"health_checks": {"file": "absent.json"}})");
  config = load_daemon_config(config_path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().where, dir.path() + "/absent.json");
}

TEST(DaemonConfigGslbTest, LatencyTableIsReadAndValidatedByLine) {
  TempDir dir;
  dir.write("latency.csv",
            "# measured 2026-11\nprefix,region,ms\n198.18.1.0/24, us-east-1, 12\n\n"
            "fd00:18::/64,lab,3\r\n0.0.0.0/0,eu-west-1,80\n");
  const std::string config_path =
      dir.write("meridian.json", R"({"regions": {"lab": {"latitude": 1, "longitude": 2}},
                           "latency_table": {"file": "latency.csv"}})");
  auto config = load_daemon_config(config_path);
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  ASSERT_EQ(config->latency_table.size(), 3u);
  EXPECT_EQ(config->latency_table[0].prefix, "198.18.1.0/24");
  EXPECT_EQ(config->latency_table[0].region, "us-east-1");
  EXPECT_EQ(config->latency_table[0].ms, 12u);
  EXPECT_EQ(config->latency_table[1].prefix, "fd00:18::/64");
  EXPECT_EQ(config->latency_table[1].region, "lab");
  EXPECT_EQ(config->latency_table[2].ms, 80u);

  struct Case {
    const char* csv;
    const char* expected;  // the error's where and a prefix of what
  };
  const Case cases[] = {
      {"198.18.1.0/24,us-east-1\n", ":1: expected prefix,region,ms"},
      {"\n198.18.1.0/24,mars-1,5\n", ":2: unknown region \"mars-1\""},
      {"198.18.1.1/24,us-east-1,5\n", ":1: \"198.18.1.1/24\": bits set past"},
      {"198.18.1.0/33,us-east-1,5\n", ":1: \"198.18.1.0/33\": prefix length"},
      {"198.18.1.0/24,us-east-1,fast\n", ":1: ms must be"},
      {"198.18.1.0/24,us-east-1,1\n198.18.1.0/24,us-east-1,2\n", ":2: duplicate row"},
  };
  for (const Case& c : cases) {
    dir.write("latency.csv", c.csv);
    config = load_daemon_config(config_path);
    ASSERT_FALSE(config.ok()) << c.csv;
    const std::string error = config.error().to_string();
    EXPECT_EQ(error.rfind(dir.path() + "/latency.csv" + c.expected, 0), 0u)
        << c.csv << "\n  gave: " << error;
  }
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

// The control API's TLS, the insecure flag and the connection limits; a non-loopback listener
// without TLS is refused unless "insecure" says so.
TEST(DaemonConfigControlTest, TlsInsecureAndLimits) {
  auto config = parse(R"({"control": {"listen": "192.0.2.1:8053", "token_file": "token",
      "tls": {"certificate": "cert.pem", "key": "/keys/key.pem"}, "request_timeout_ms": 2500,
      "max_connections": 32, "max_connections_per_source": 4}})");
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_EQ(config->control.tls_cert_file, "/etc/meridian/cert.pem");
  EXPECT_EQ(config->control.tls_key_file, "/keys/key.pem");
  EXPECT_EQ(config->control.request_timeout_ms, 2500u);
  EXPECT_EQ(config->control.max_connections, 32u);
  EXPECT_EQ(config->control.max_connections_per_source, 4u);
  EXPECT_FALSE(config->control.insecure);

  auto defaults = parse("{}");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->control.request_timeout_ms, 10000u);
  EXPECT_EQ(defaults->control.max_connections, 64u);
  EXPECT_EQ(defaults->control.max_connections_per_source, 8u);

  for (const char* loopback : {"127.0.0.1:8053", "127.9.9.9:1", "[::1]:8053"}) {
    const std::string text =
        std::string(R"({"control": {"listen": ")") + loopback + R"(", "token_file": "t"}})";
    EXPECT_TRUE(parse(text).ok()) << loopback;
  }
  EXPECT_NE(error_of(R"({"control": {"listen": "0.0.0.0:8053", "token_file": "t"}})")
                .find("meridian.json: /control/listen: a TCP listener on a non-loopback address "
                      "needs \"tls\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"control": {"listen": "[2001:db8::1]:8053", "token_file": "t"}})")
                .find("needs \"tls\""),
            std::string::npos);
  auto insecure =
      parse(R"({"control": {"listen": "0.0.0.0:8053", "token_file": "t", "insecure": true}})");
  ASSERT_TRUE(insecure.ok()) << insecure.error().to_string();
  EXPECT_TRUE(insecure->control.insecure);

  EXPECT_NE(error_of(R"({"control": {"tls": {"certificate": "c.pem"}}})")
                .find("/control/tls/key: is required"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"control": {"tls": {"certificate": "c", "key": "k", "x": 1}}})")
                .find("/control/tls/x"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"control": {"insecure": "yes"}})").find("/control/insecure: must be a"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"control": {"request_timeout_ms": 5}})").find("/control/request_timeout_ms"),
      std::string::npos);
}

TEST(DaemonConfigControlTest, TokenFileRules) {
  TempDir dir;
  DaemonConfig config;
  auto token_with = [&](const std::string& text, mode_t mode) {
    config.control.token_file = dir.write("token", text);
    EXPECT_EQ(::chmod(config.control.token_file.c_str(), mode), 0);
    return read_control_token(config);
  };
  auto ok = token_with("  0123456789abcdefXYZ \r\nsecond line\n", 0600);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(*ok, "0123456789abcdefXYZ");
  EXPECT_TRUE(token_with("0123456789abcdefXYZ\n", 0400).ok());

  auto others = token_with("0123456789abcdefXYZ\n", 0644);
  ASSERT_FALSE(others.ok());
  EXPECT_NE(others.error().what.find("mode 0644 lets other users read or change it"),
            std::string::npos)
      << others.error().what;
  EXPECT_EQ(others.error().what.find("0123456789abcdef"), std::string::npos);  // never echoed
  EXPECT_FALSE(token_with("0123456789abcdefXYZ\n", 0620).ok());  // group may replace it

  auto blank = token_with("   \t \n", 0600);
  ASSERT_FALSE(blank.ok());
  EXPECT_NE(blank.error().what.find("it is blank"), std::string::npos) << blank.error().what;
  auto shorter = token_with("short-token\n", 0600);
  ASSERT_FALSE(shorter.ok());
  EXPECT_NE(shorter.error().what.find("at least 16 characters"), std::string::npos);
  EXPECT_FALSE(token_with("0123456789 abcdefXYZ\n", 0600).ok());  // a space inside

  config.control.token_file = dir.path() + "/no-such-token";
  EXPECT_FALSE(read_control_token(config).ok());
}

TEST(DaemonConfigTest, DeepNestingIsRefusedWithItsPlace) {
  std::string text = "{\"zones\": ";
  for (int i = 0; i < 100000; ++i) text += "[";
  const std::string error = error_of(text);
  EXPECT_EQ(error.rfind("meridian.json:1:", 0), 0u) << error;
  EXPECT_NE(error.find("JSON nested deeper than 64 levels"), std::string::npos) << error;
  // 64 levels are fine as far as nesting goes (the field is still checked).
  std::string deep = "{\"x\": ";
  for (int i = 0; i < 62; ++i) deep += "[";
  for (int i = 0; i < 62; ++i) deep += "]";
  deep += "}";
  EXPECT_EQ(error_of(deep).find("nested"), std::string::npos);
}

}  // namespace
}  // namespace meridian::config
