// Tests of health check parsing: Route 53 field names, defaults, every field's bounds, and that
// each error names the JSON path.
#include "health/health_check_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace meridian::health {
namespace {

Result<std::vector<HealthCheckConfig>> parse(const std::string& text) {
  return parse_health_checks(nlohmann::json::parse(text), "/HealthChecks");
}

TEST(HealthCheckConfigTest, DefaultsFollowRoute53) {
  auto checks = parse(R"([{"Id": "web", "Type": "HTTP", "IPAddress": "192.0.2.1"}])");
  ASSERT_TRUE(checks.ok()) << checks.error().to_string();
  const HealthCheckConfig& c = checks->at(0);
  EXPECT_EQ(c.effective_port(), 80);
  EXPECT_EQ(c.resource_path, "/");
  EXPECT_EQ(c.request_interval_s, 30u);
  EXPECT_EQ(c.failure_threshold, 3u);
  EXPECT_FALSE(c.inverted);
  EXPECT_FALSE(c.disabled);
  EXPECT_FALSE(c.enable_sni);
  EXPECT_FALSE(c.verify_certificate);
  EXPECT_EQ(c.initial_state, HealthStatus::kHealthy);
  EXPECT_EQ(c.connect_timeout_ms, 4000u);
  EXPECT_EQ(c.response_timeout_ms, 2000u);
  EXPECT_TRUE(c.accepts_status(200));
  EXPECT_TRUE(c.accepts_status(399));
  EXPECT_FALSE(c.accepts_status(199));
  EXPECT_FALSE(c.accepts_status(400));
}

TEST(HealthCheckConfigTest, FullCheckAndRoute53Envelope) {
  auto checks = parse(R"([
    {"Id": "api", "HealthCheckConfig": {"Type": "HTTPS_STR_MATCH", "IPAddress": "2001:db8::1",
      "Port": 8443, "ResourcePath": "/status?x=1", "FullyQualifiedDomainName": "api.example.com.",
      "SearchString": "OK", "RequestInterval": 1, "FailureThreshold": 10, "Inverted": true,
      "Disabled": false, "EnableSNI": true, "AcceptedStatuses": [200, "204-206"],
      "VerifyCertificate": true, "InitialState": "unhealthy", "ConnectTimeoutMs": 500,
      "ResponseTimeoutMs": 700}},
    {"Id": "tcp", "Type": "TCP", "FullyQualifiedDomainName": "db.example.com", "Port": 5432},
    {"Id": "calc", "Type": "CALCULATED", "ChildHealthChecks": ["api", "tcp"],
     "HealthThreshold": 1}
  ])");
  ASSERT_TRUE(checks.ok()) << checks.error().to_string();
  const HealthCheckConfig& api = checks->at(0);
  EXPECT_EQ(api.type, CheckType::kHttpsStrMatch);
  EXPECT_EQ(api.ip_address, "2001:db8::1");
  EXPECT_EQ(api.port, 8443);
  EXPECT_EQ(api.fqdn, "api.example.com");  // trailing dot dropped
  EXPECT_EQ(api.search_string, "OK");
  EXPECT_EQ(api.request_interval_s, 1u);
  EXPECT_EQ(api.failure_threshold, 10u);
  EXPECT_TRUE(api.inverted);
  EXPECT_TRUE(api.enable_sni);
  EXPECT_TRUE(api.verify_certificate);
  EXPECT_EQ(api.initial_state, HealthStatus::kUnhealthy);
  EXPECT_TRUE(api.accepts_status(205));
  EXPECT_FALSE(api.accepts_status(201));
  EXPECT_EQ(checks->at(1).connect_timeout_ms, 10000u);
  EXPECT_EQ(checks->at(2).child_health_checks, (std::vector<std::string>{"api", "tcp"}));
}

TEST(HealthCheckConfigTest, StoredReferenceVersionAndTagsLoadBesideTheConfig) {
  // As the server stores checks: the reference, its own version counter and the tags beside
  // the configuration, in both forms; none of them changes the check.
  IgnoredFields ignored;
  auto nested = parse_health_check(nlohmann::json::parse(R"(
    {"Id": "0b1c2d3e-0000-4000-8000-000000000001", "CallerReference": "r1",
     "HealthCheckConfig": {"Type": "TCP", "IPAddress": "192.0.2.1", "Port": 22},
     "HealthCheckVersion": 4, "Tags": [{"Key": "team", "Value": "edge"}]})"),
                                   "/HealthChecks/0");
  ASSERT_TRUE(nested.ok()) << nested.error().to_string();
  auto flat = parse_health_check(nlohmann::json::parse(R"(
    {"Id": "f", "Type": "TCP", "IPAddress": "192.0.2.1", "Port": 22, "CallerReference": "r2",
     "HealthCheckVersion": 2, "Tags": []})"),
                                 "/HealthChecks/1");
  ASSERT_TRUE(flat.ok()) << flat.error().to_string();
  EXPECT_EQ(flat->port, 22);
  auto bare = parse_health_check(
      nlohmann::json::parse(R"({"Id": "f", "Type": "TCP", "IPAddress": "192.0.2.1", "Port": 22})"),
      "/HealthChecks/1");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*flat, *bare);
  for (const auto& [text, error] : std::vector<std::pair<const char*, const char*>>{
           {R"({"Id": "f", "Type": "TCP", "Port": 1, "IPAddress": "192.0.2.1",
                "Tags": [{"Key": "a"}, {"Key": "a"}]})",
            "/HealthChecks/1/Tags/1/Key: tag key \"a\" is given twice"},
           {R"({"Id": "f", "Type": "TCP", "Port": 1, "IPAddress": "192.0.2.1",
                "Tags": [{"Key": "a", "Colour": "red"}]})",
            "/HealthChecks/1/Tags/0/Colour: unknown field"},
           {R"({"Id": "f", "Type": "TCP", "Port": 1, "IPAddress": "192.0.2.1",
                "CallerReference": ""})",
            "/HealthChecks/1/CallerReference: must not be empty"}}) {
    auto refused = parse_health_check(nlohmann::json::parse(text), "/HealthChecks/1", &ignored);
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_EQ(refused.error().to_string(), error);
  }
}

struct ErrorRow {
  std::string json;
  std::string error;
};

TEST(HealthCheckConfigTest, ErrorsNameTheJsonPath) {
  const std::string ok = R"({"Id": "ok", "Type": "HTTP", "IPAddress": "127.0.0.1"})";
  const std::vector<ErrorRow> rows = {
      {"[" + ok + "," + ok + "," +
           R"({"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "FailureThreshold": 11}])",
       "/HealthChecks/2/FailureThreshold: must be an integer 1..10 (got 11)"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "FailureThreshold": 0}])",
       "/HealthChecks/0/FailureThreshold: must be an integer 1..10 (got 0)"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "RequestInterval": 0}])",
       "/HealthChecks/0/RequestInterval: must be an integer 1..86400 (got 0)"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "RequestInterval": 1.5}])",
       "/HealthChecks/0/RequestInterval: must be an integer 1..86400"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "Port": 0}])",
       "/HealthChecks/0/Port: must be an integer 1..65535 (got 0)"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "not-an-ip"}])",
       "/HealthChecks/0/IPAddress: must be an IPv4 or IPv6 address"},
      {R"([{"Id": "x", "Type": "HTTP"}])",
       "/HealthChecks/0: needs \"IPAddress\" or \"FullyQualifiedDomainName\""},
      {R"([{"Id": "x", "Type": "PING", "IPAddress": "127.0.0.1"}])",
       "/HealthChecks/0/Type: must be one of HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP, "
       "CALCULATED"},
      {R"([{"Type": "HTTP", "IPAddress": "127.0.0.1"}])", "/HealthChecks/0: missing \"Id\""},
      {R"([{"Id": "x", "Type": "HTTP_STR_MATCH", "IPAddress": "127.0.0.1"}])",
       "/HealthChecks/0: missing \"SearchString\" (required for HTTP_STR_MATCH)"},
      {R"([{"Id": "x", "Type": "HTTP_STR_MATCH", "IPAddress": "127.0.0.1", "SearchString": ")" +
           std::string(256, 'a') + R"("}])",
       "/HealthChecks/0/SearchString: must be at most 255 bytes"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "SearchString": "a"}])",
       "/HealthChecks/0/SearchString: not allowed for Type HTTP"},
      {R"([{"Id": "x", "Type": "HTTPS", "IPAddress": "127.0.0.1", "EnableSNI": "yes"}])",
       "/HealthChecks/0/EnableSNI: must be true or false"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "ResourcePath": "health"}])",
       "/HealthChecks/0/ResourcePath: must begin with \"/\""},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "Inverted": "yes"}])",
       "/HealthChecks/0/Inverted: must be true or false"},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "AcceptedStatuses": ["300-200"]}])",
       "/HealthChecks/0/AcceptedStatuses/0: must be a status code 100..599 or a range "
       "\"first-last\""},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "InitialState": "up"}])",
       "/HealthChecks/0/InitialState: must be \"healthy\" or \"unhealthy\""},
      {R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1", "Region": ["us-east-1"]}])",
       "/HealthChecks/0/Region: unknown field"},
      {R"([{"Id": "x", "HealthCheckVersion": 1, "Version": 1,
            "HealthCheckConfig": {"Type": "HTTP", "IPAddress": "127.0.0.1"}}])",
       "/HealthChecks/0/Version: unknown field"},
      {R"([{"Id": "x", "HealthCheckVersion": 1, "HealthCheckConfig": {"Type": "HTTP",
            "IPAddress": "127.0.0.1", "MeasureLatency": false, "MeasureLatencies": false}}])",
       "/HealthChecks/0/HealthCheckConfig/MeasureLatencies: unknown field"},
      {R"([{"Id": "x", "Type": "TCP", "IPAddress": "127.0.0.1"}])",
       "/HealthChecks/0: missing \"Port\" (required for TCP)"},
      {R"([{"Id": "x", "Type": "TCP", "IPAddress": "127.0.0.1", "Port": 1, "ResourcePath": "/"}])",
       "/HealthChecks/0/ResourcePath: not allowed for Type TCP"},
      {R"([{"Id": "c", "Type": "CALCULATED", "IPAddress": "127.0.0.1"}])",
       "/HealthChecks/0/IPAddress: not allowed for Type CALCULATED"},
      {R"([{"Id": "c", "Type": "CALCULATED", "HealthThreshold": 257}])",
       "/HealthChecks/0/HealthThreshold: must be an integer 0..256 (got 257)"},
      {"[" + ok + "," + ok + "]", "/HealthChecks/1/Id: duplicate health check id \"ok\""},
      {"[" + ok + R"(, {"Id": "c", "Type": "CALCULATED", "ChildHealthChecks": ["ok", "nope"]}])",
       "/HealthChecks/1/ChildHealthChecks/1: no health check \"nope\""},
      {"[" + ok +
           R"(, {"Id": "c1", "Type": "CALCULATED", "ChildHealthChecks": ["ok"]},
               {"Id": "c2", "Type": "CALCULATED", "ChildHealthChecks": ["c1"]}])",
       "/HealthChecks/2/ChildHealthChecks/0: child \"c1\" is CALCULATED (children must not be)"},
      {"[" + ok + R"(, {"Id": "c", "Type": "CALCULATED", "ChildHealthChecks": ["ok", "ok"]}])",
       "/HealthChecks/1/ChildHealthChecks/1: child \"ok\" repeated"},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(rows[i].json);
    auto result = parse(rows[i].json);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().to_string(), rows[i].error);
  }
  auto not_array = parse_health_checks(nlohmann::json::parse(R"({"a": 1})"), "/HealthChecks");
  ASSERT_FALSE(not_array.ok());
  EXPECT_EQ(not_array.error().to_string(), "/HealthChecks: must be an array");
}

// `aws route53 list-health-checks` output, as Route 53's API reference shapes it (HealthChecks[]
// with Id, CallerReference, HealthCheckConfig, HealthCheckVersion; MeasureLatency, Regions and
// EnableSNI on checks without TLS): it loads unchanged, each read-only or not-applicable field
// recorded once with where it was first seen and how many checks had it.
TEST(HealthCheckConfigTest, Route53ListOutputLoadsWithIgnoredFieldsRecorded) {
  // The fixture lives beside this file (tests/unit/data/).
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "data" /
                   "route53-list-health-checks.json");
  ASSERT_TRUE(in) << "fixture missing";
  const auto doc = nlohmann::json::parse(in);
  IgnoredFields ignored;
  auto checks = parse_health_checks(doc["HealthChecks"], "/HealthChecks", &ignored);
  ASSERT_TRUE(checks.ok()) << checks.error().to_string();
  ASSERT_EQ(checks->size(), 4u);
  EXPECT_EQ(checks->at(0).id, "0b1d3c5e-7a9f-4b2d-8e6f-1a3c5e7b9d10");
  EXPECT_EQ(checks->at(0).type, CheckType::kHttp);
  EXPECT_EQ(checks->at(0).request_interval_s, 10u);
  EXPECT_FALSE(checks->at(0).enable_sni);
  EXPECT_EQ(checks->at(1).search_string, "ok");
  EXPECT_EQ(checks->at(2).type, CheckType::kTcp);
  EXPECT_EQ(checks->at(3).child_health_checks.size(), 2u);

  ASSERT_EQ(ignored.size(), 4u);
  EXPECT_EQ(ignored.at("HealthCheckVersion").count, 4u);
  EXPECT_EQ(ignored.at("HealthCheckVersion").first_path, "/HealthChecks/0/HealthCheckVersion");
  EXPECT_EQ(ignored.at("MeasureLatency").count, 3u);
  EXPECT_EQ(ignored.at("Regions").count, 1u);
  EXPECT_EQ(ignored.at("EnableSNI").count, 2u);
  EXPECT_EQ(ignored.at("EnableSNI").first_path, "/HealthChecks/0/HealthCheckConfig/EnableSNI");
  const auto warnings = ignored_field_warnings(ignored);
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_EQ(warnings[1],
            "health check field \"HealthCheckVersion\" ignored (read-only: Route 53's version "
            "counter): at /HealthChecks/0/HealthCheckVersion and 3 more");

  // EnableSNI still counts where TLS is used.
  auto https = parse(R"([{"Id": "s", "Type": "HTTPS", "IPAddress": "127.0.0.1",
                          "FullyQualifiedDomainName": "a.example", "EnableSNI": true}])");
  ASSERT_TRUE(https.ok()) << https.error().to_string();
  EXPECT_TRUE(https->at(0).enable_sni);
}

TEST(HealthCheckConfigTest, VantagesNameTheEdgesThatProbe) {
  auto checks = parse(R"([{"Id": "web", "Type": "HTTP", "IPAddress": "192.0.2.1",
                           "Vantages": ["eu-central", "us-east"]},
                          {"Id": "all", "Type": "TCP", "IPAddress": "192.0.2.2", "Port": 22}])");
  ASSERT_TRUE(checks.ok()) << checks.error().to_string();
  EXPECT_TRUE((*checks)[0].probed_from("us-east"));
  EXPECT_FALSE((*checks)[0].probed_from("ap-south"));
  EXPECT_TRUE((*checks)[1].probed_from("ap-south"));  // no list: every edge
  for (const auto& [text, where] : std::vector<std::pair<std::string, std::string>>{
           {R"([{"Id":"a","Type":"HTTP","IPAddress":"192.0.2.1","Vantages":[]}])",
            "/HealthChecks/0/Vantages"},
           {R"([{"Id":"a","Type":"HTTP","IPAddress":"192.0.2.1","Vantages":[""]}])",
            "/HealthChecks/0/Vantages/0"},
           {R"([{"Id":"a","Type":"CALCULATED","ChildHealthChecks":[],"Vantages":["x"]}])",
            "/HealthChecks/0/Vantages"}}) {
    auto bad = parse(text);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_EQ(bad.error().where, where) << bad.error().to_string();
  }
}

TEST(HealthCheckConfigTest, IntervalIsAnyWholeSecondAndThresholdOneToTen) {
  for (uint32_t interval : {1u, 7u, 10u, 30u, 3600u}) {
    for (uint32_t threshold : {1u, 5u, 10u}) {
      auto checks = parse(R"([{"Id": "x", "Type": "HTTP", "IPAddress": "127.0.0.1",
          "RequestInterval": )" +
                          std::to_string(interval) + R"(, "FailureThreshold": )" +
                          std::to_string(threshold) + "}]");
      ASSERT_TRUE(checks.ok()) << checks.error().to_string();
      EXPECT_EQ(checks->at(0).request_interval_s, interval);
      EXPECT_EQ(checks->at(0).failure_threshold, threshold);
    }
  }
}

}  // namespace
}  // namespace meridian::health
