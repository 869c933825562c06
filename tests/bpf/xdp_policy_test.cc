// Routing policies decided by the XDP program itself: the real program run through
// BPF_PROG_TEST_RUN with maps filled by the production compilers and MapWriter from Route 53 JSON
// zones, a GeoIP database built at test time, CIDR collections, a latency table and live health
// states. Each spec rule is checked on the XDP reply; for deterministic policies every XDP reply
// of a corpus of clients and ECS options equals the userspace Responder's byte for byte; for
// weighted and multivalue both paths' choices over 10,000 queries fit the configured weights
// (chi-square at p = 0.001).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "bpf/frame_builder.h"
#include "bpf/xdp_test_support.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/types.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/policy_compiler.h"
#include "fastpath/xdp_program.h"
#include "geo/geo_database.h"
#include "health/health_checker.h"
#include "policy/gslb_engine.h"
#include "unit/route53_text.h"
#include "unit/test_files.h"
#include "zone/route53_json.h"

namespace meridian {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::FrameSpec;
using testing::QuerySpec;

// Munich and Tokyo with coordinates; California and Australia by code only (centroids).
constexpr const char* kGeoJson = R"({"ip_version": 6, "database_type": "Meridian-Test-City",
  "alias_ipv6_to_ipv4": true, "networks": [
  {"network": "198.18.1.0/24", "continent": "EU", "country": "DE", "subdivision": "BY",
   "latitude": 48.1, "longitude": 11.6},
  {"network": "198.18.2.0/23", "continent": "NA", "country": "US", "subdivision": "CA"},
  {"network": "198.18.8.0/21", "continent": "AS", "country": "JP", "latitude": 35.7,
   "longitude": 139.7},
  {"network": "198.19.0.0/16", "continent": "OC", "country": "AU"},
  {"network": "fd00:18:1::/48", "continent": "AS", "country": "JP", "latitude": 35.7,
   "longitude": 139.7},
  {"network": "fd00:18:2::/48", "continent": "EU", "country": "FR", "latitude": 48.9,
   "longitude": 2.3}]})";

std::string zone_json() {
  std::vector<std::string> sets = testing::route53_apex("example.com.", "198.51.100.53");
  const std::vector<std::string> policy_sets = {
      // Rule 2: weights 1:3:6, a weight-0 standby.
      testing::route53_set("w.example.com.",
                           R"("SetIdentifier": "a", "Weight": 1, "HealthCheckId": "hc-w1")",
                           "198.51.100.1"),
      testing::route53_set("w.example.com.",
                           R"("SetIdentifier": "b", "Weight": 3, "HealthCheckId": "hc-w3")",
                           "198.51.100.3"),
      testing::route53_set("w.example.com.",
                           R"("SetIdentifier": "c", "Weight": 6, "HealthCheckId": "hc-w6")",
                           "198.51.100.6"),
      testing::route53_set("w.example.com.", R"("SetIdentifier": "s", "Weight": 0)",
                           "198.51.100.9"),
      testing::route53_set("w6.example.com.", R"("SetIdentifier": "a", "Weight": 1)", "2001:db8::1",
                           "AAAA"),
      testing::route53_set("txt.example.com.", R"("SetIdentifier": "a", "Weight": 1)",
                           "\\\"hello\\\"", "TXT"),
      // Rule 3.
      testing::route53_set(
          "f.example.com.",
          R"("SetIdentifier": "p", "Failover": "PRIMARY", "HealthCheckId": "hc-primary")",
          "198.51.100.20"),
      testing::route53_set(
          "f.example.com.",
          R"("SetIdentifier": "s", "Failover": "SECONDARY", "HealthCheckId": "hc-secondary")",
          "198.51.100.21"),
      // Rule 4: subdivision > country > continent > '*', walking up when unhealthy.
      testing::route53_set("geo.example.com.",
                           R"("SetIdentifier": "eu", "GeoLocation": {"ContinentCode": "EU"})",
                           "198.51.100.30"),
      testing::route53_set(
          "geo.example.com.",
          R"("SetIdentifier": "ca", "GeoLocation": {"CountryCode": "US", "SubdivisionCode": "CA"})",
          "198.51.100.31"),
      testing::route53_set(
          "geo.example.com.",
          R"("SetIdentifier": "de", "GeoLocation": {"CountryCode": "DE"}, "HealthCheckId": "hc-de")",
          "198.51.100.33"),
      testing::route53_set("geo.example.com.",
                           R"("SetIdentifier": "def", "GeoLocation": {"CountryCode": "*"})",
                           "198.51.100.32"),
      testing::route53_set("jp.example.com.",
                           R"("SetIdentifier": "jp", "GeoLocation": {"CountryCode": "JP"})",
                           "198.51.100.34"),
      // Rule 5.
      testing::route53_set(
          "lat.example.com.",
          R"("SetIdentifier": "fra", "Region": "eu-central-1", "HealthCheckId": "hc-fra")",
          "198.51.100.40"),
      testing::route53_set("lat.example.com.", R"("SetIdentifier": "sfo", "Region": "us-west-1")",
                           "198.51.100.41"),
      testing::route53_set("lat.example.com.",
                           R"("SetIdentifier": "tyo", "Region": "ap-northeast-1")",
                           "198.51.100.42"),
      // Rule 6: Paris with bias +80 against Frankfurt and Sydney.
      testing::route53_set(
          "prox.example.com.",
          R"("SetIdentifier": "par", "GeoProximityLocation": {"Coordinates": {"Latitude": "48.86", "Longitude": "2.35"}, "Bias": 80}, "HealthCheckId": "hc-par")",
          "198.51.100.50"),
      testing::route53_set(
          "prox.example.com.",
          R"("SetIdentifier": "fra", "GeoProximityLocation": {"AWSRegion": "eu-central-1", "Bias": 0})",
          "198.51.100.51"),
      testing::route53_set(
          "prox.example.com.",
          R"("SetIdentifier": "syd", "GeoProximityLocation": {"AWSRegion": "ap-southeast-2", "Bias": -20})",
          "198.51.100.52"),
      // Rule 7.
      testing::route53_set(
          "cidr.example.com.",
          R"("SetIdentifier": "office", "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "office"})",
          "198.51.100.60"),
      testing::route53_set(
          "cidr.example.com.",
          R"("SetIdentifier": "lab", "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "lab"})",
          "198.51.100.61"),
      testing::route53_set(
          "cidr.example.com.",
          R"("SetIdentifier": "rest", "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "*"})",
          "198.51.100.62"),
      // All down: SERVFAIL and NODATA instead of failing open.
      testing::route53_set("sf.example.com.",
                           R"("SetIdentifier": "x", "Weight": 1, "HealthCheckId": "hc-sf")",
                           "198.51.100.80"),
      testing::route53_set("nd.example.com.",
                           R"("SetIdentifier": "x", "Weight": 1, "HealthCheckId": "hc-nd")",
                           "198.51.100.81"),
      // Stay in userspace: an alias candidate, and MX (additional-section processing).
      R"({"Name": "wa.example.com.", "Type": "A", "SetIdentifier": "alias", "Weight": 1,
          "AliasTarget": {"HostedZoneId": "Z1", "DNSName": "f.example.com.",
                          "EvaluateTargetHealth": true}})",
      testing::route53_set("wa.example.com.", R"("SetIdentifier": "standby", "Weight": 0)",
                           "198.51.100.70"),
      testing::route53_set("mx.example.com.", R"("SetIdentifier": "a", "Weight": 1)",
                           "10 ns1.example.com.", "MX"),
  };
  sets.insert(sets.end(), policy_sets.begin(), policy_sets.end());
  for (int i = 0; i < 10; ++i)
    sets.push_back(testing::route53_set(
        "mv.example.com.",
        R"("SetIdentifier": "m)" + std::to_string(i) +
            R"(", "MultiValueAnswer": true, "HealthCheckId": "hc-mv)" + std::to_string(i) + "\"",
        "198.51.100." + std::to_string(100 + i)));
  for (int i = 0; i < 3; ++i)
    sets.push_back(testing::route53_set(
        "mv3.example.com.",
        R"("SetIdentifier": "m)" + std::to_string(i) + R"(", "MultiValueAnswer": true)",
        "198.51.100." + std::to_string(120 + i)));
  return testing::route53_document(sets);
}

// A client: the resolver's address, and optionally an ECS option (source prefix >= 0).
struct Client {
  std::string resolver;
  std::string ecs_address;  // empty: no ECS option
  int ecs_source = 0;

  bool ipv6() const { return resolver.find(':') != std::string::npos; }
  std::string text() const {
    return resolver +
           (ecs_address.empty() ? "" : " ecs " + ecs_address + "/" + std::to_string(ecs_source));
  }
};

Bytes address_bytes(const std::string& text) {
  Bytes b(16);
  if (inet_pton(AF_INET, text.c_str(), b.data()) == 1) {
    b.resize(4);
    return b;
  }
  EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), b.data()), 1) << text;
  return b;
}

// The ECS address as a client sends it: (source + 7) / 8 octets, bits past the source cleared.
Bytes ecs_address(const std::string& text, int source) {
  Bytes b = address_bytes(text);
  b.resize(static_cast<size_t>((source + 7) / 8));
  if (source % 8) b.back() &= static_cast<uint8_t>(0xff << (8 - source % 8));
  return b;
}

struct Parsed {
  uint16_t rcode = 0;
  bool aa = false;
  std::set<std::string> answers;  // values
  std::vector<uint16_t> authority_types;
  int scope = -1;  // -1: no ECS in the reply
};

Parsed parse(const Bytes& dns) {
  const dns::ParseResult pr = dns::parse_message(dns);
  EXPECT_TRUE(pr.ok()) << dns::parse_error_name(pr.error);
  Parsed p;
  p.rcode = pr.message.header.rcode();
  p.aa = (pr.message.header.flags & dns::flag::AA) != 0;
  for (const auto& rr : pr.message.answers) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (rr.type == dns::rrtype::A && rr.rdata.size() == 4)
      inet_ntop(AF_INET, rr.rdata.data(), buf, sizeof(buf));
    else if (rr.type == dns::rrtype::AAAA && rr.rdata.size() == 16)
      inet_ntop(AF_INET6, rr.rdata.data(), buf, sizeof(buf));
    p.answers.insert(buf[0] ? buf : dns::type_to_text(rr.type));
  }
  for (const auto& rr : pr.message.authority) p.authority_types.push_back(rr.type);
  if (pr.message.edns && pr.message.edns->ecs) p.scope = pr.message.edns->ecs->scope_prefix;
  return p;
}

// chi-square statistic of observed counts against expected ones (cells with expectation 0 must
// stay empty: any count there fails the test through an infinite statistic).
double chi_square(const std::vector<int>& observed, const std::vector<double>& expected) {
  double x = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected[i] == 0) {
      if (observed[i] != 0) return 1e300;
      continue;
    }
    const double d = observed[i] - expected[i];
    x += d * d / expected[i];
  }
  return x;
}
// Quantiles of the chi-square distribution at 0.999 (p = 0.001).
constexpr double kChi2Df2 = 13.816;
constexpr double kChi2Df44 = 78.750;

class XdpPolicy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_bpf_privileges()) return;
    dir_ = new meridian::testing::TempDir();
    const std::string mmdb = meridian::testing::build_test_mmdb(*dir_, "geo", kGeoJson);
    ASSERT_FALSE(mmdb.empty()) << "make_test_mmdb.pl failed";
    auto db = geo::GeoDatabase::open(mmdb);
    ASSERT_TRUE(db.ok()) << db.error().to_string();
    db_ = new geo::GeoDatabase(std::move(*db));

    auto z = zone::parse_route53_json(zone_json(), *dns::Name::from_text("example.com."), "test");
    ASSERT_TRUE(z.ok()) << z.error().to_string();
    const zone::ZoneSet plain({std::make_shared<const zone::Zone>(std::move(*z))});
    policy::GslbInputs inputs;
    inputs.geo = db_;
    health_ = new std::shared_ptr<policy::HealthView>(std::make_shared<policy::HealthView>());
    inputs.health = *health_;
    inputs.cidr_collections["c-1"] = {{"198.18.0.0/22", "office"},
                                      {"198.18.2.0/24", "lab"},
                                      {"fd00:18:1::/48", "office"},
                                      {"fd00:18:2::/48", "lab"}};
    // Tokyo's resolvers measured to San Francisco faster than to Tokyo; Paris to Tokyo.
    inputs.latency = {{"198.18.8.0/22", "us-west-1", 10},
                      {"198.18.8.0/22", "ap-northeast-1", 30},
                      {"fd00:18:2::/48", "ap-northeast-1", 5}};
    inputs.all_down = {{"sf.example.com.", dns::rrtype::A, policy::AllDown::kServFail},
                       {"nd.example.com.", dns::rrtype::A, policy::AllDown::kNoData}};
    auto attached = policy::attach_gslb(plain, inputs);
    ASSERT_TRUE(attached.ok()) << attached.error().to_string();
    zones_ = new std::shared_ptr<const zone::ZoneSet>(*attached);
    responder_ = new answer::Responder(answer::ResponderConfig{});

    auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
    ASSERT_TRUE(program.ok()) << program.error().to_string();
    program_ = program.value().release();
    writer_ = new fastpath::MapWriter(program_->map_fds(), 1000);
    auto entries = fastpath::AnswerCompiler(*responder_).compile(**zones_, nullptr);
    fastpath::PolicyTables tables;
    fastpath::PolicyCompiler(*responder_).compile(**zones_, entries, tables, &stats_);
    auto geo = fastpath::compile_geo_table(db_);
    ASSERT_TRUE(geo.ok()) << geo.error().to_string();
    ASSERT_TRUE(writer_->publish_geo(*geo).ok());
    auto published = writer_->publish(entries, tables);
    ASSERT_TRUE(published.ok()) << published.error().to_string();
  }
  static void TearDownTestSuite() {
    delete writer_;
    delete program_;
    delete responder_;
    delete zones_;
    delete health_;
    delete db_;
    delete dir_;
  }
  void SetUp() override {
    if (!testing::have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
    for (const char* id : {"hc-w1", "hc-w3", "hc-w6", "hc-primary", "hc-secondary", "hc-de",
                           "hc-fra", "hc-par", "hc-sf", "hc-nd"})
      set_health(id, true);
    for (int i = 0; i < 10; ++i) set_health("hc-mv" + std::to_string(i), true);
  }

  // The daemon's path for a transition: the view, then the health map.
  static void set_health(const std::string& id, bool healthy) {
    (*health_)->set(id, healthy);
    auto slot = (*health_)->find(id);
    ASSERT_TRUE(slot.has_value()) << id;
    ASSERT_TRUE(writer_->write_health(*slot, healthy).ok());
  }

  static FrameSpec frame_for(const std::string& name, uint16_t qtype, const Client& c) {
    QuerySpec q;
    q.name = name;
    q.qtype = qtype;
    q.id = 0x5151;
    if (!c.ecs_address.empty()) {
      q.edns = true;
      const bool v6 = c.ecs_address.find(':') != std::string::npos;
      q.options = testing::ecs(v6 ? 2 : 1, static_cast<uint8_t>(c.ecs_source),
                               ecs_address(c.ecs_address, c.ecs_source));
    }
    FrameSpec f;
    f.ipv6 = c.ipv6();
    f.client_address = address_bytes(c.resolver);
    f.dns = testing::make_query(q);
    return f;
  }

  static testing::RunResult xdp(const FrameSpec& f) {
    return testing::run_frame(program_->program_fd(), testing::build_frame(f));
  }

  // The userspace server's reply to the same query from the same resolver address.
  static Bytes userspace(const FrameSpec& f) {
    Bytes reply;
    EXPECT_EQ(responder_->respond(**zones_, f.dns, testing::udp_context(f.client_address), reply),
              answer::Disposition::kReply);
    return reply;
  }

  static Bytes dns_of(const testing::RunResult& r, const FrameSpec& f) {
    const size_t off = testing::dns_offset(f);
    return r.frame.size() > off ? Bytes(r.frame.begin() + static_cast<long>(off), r.frame.end())
                                : Bytes{};
  }

  static uint64_t stat(int index) {
    auto stats = writer_->read_stats();
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? (*stats)[static_cast<size_t>(index)] : 0;
  }

  static inline meridian::testing::TempDir* dir_ = nullptr;
  static inline geo::GeoDatabase* db_ = nullptr;
  static inline std::shared_ptr<policy::HealthView>* health_ = nullptr;
  static inline std::shared_ptr<const zone::ZoneSet>* zones_ = nullptr;
  static inline answer::Responder* responder_ = nullptr;
  static inline fastpath::XdpProgram* program_ = nullptr;
  static inline fastpath::MapWriter* writer_ = nullptr;
  static inline fastpath::PolicyCompileStats stats_{};
};

TEST_F(XdpPolicy, CompilerPublishesWhatXdpCanDecide) {
  // w, w6, txt, f, geo, jp, lat, prox, cidr, sf, nd, mv, mv3; wa (alias) and mx (type) stay.
  EXPECT_EQ(stats_.groups, 13u);
  EXPECT_EQ(stats_.alias, 1u);
  EXPECT_EQ(stats_.type, 1u);
  for (const char* name : {"wa.example.com.", "mx.example.com."}) {
    const uint16_t qtype = name[0] == 'm' ? dns::rrtype::MX : dns::rrtype::A;
    const uint64_t before = stat(MDN_STAT_PASS_NAME_MISS);
    EXPECT_EQ(xdp(frame_for(name, qtype, {"198.18.1.7"})).action, static_cast<uint32_t>(XDP_PASS))
        << name;
    EXPECT_EQ(stat(MDN_STAT_PASS_NAME_MISS), before + 1) << name;
  }
}

// One row per spec rule (and the all-down choices): the XDP reply's answer, rcode and scope, and
// the same bytes as userspace.
struct RuleRow {
  const char* rule;
  std::string name;
  Client client;
  std::vector<std::string> down;  // health checks failing for this row
  std::set<std::string> answers;  // expected values (empty: no answer records)
  uint16_t rcode = 0;
  int scope = -1;
  uint16_t qtype = dns::rrtype::A;
};

TEST_F(XdpPolicy, EachRuleThroughTheXdpProgram) {
  const std::string p = "198.51.100.";
  const std::vector<RuleRow> rows = {
      {"2: weight-0 standby when every weighted set is down",
       "w.example.com.",
       {"198.18.1.7"},
       {"hc-w1", "hc-w3", "hc-w6"},
       {p + "9"}},
      {"2: AAAA", "w6.example.com.", {"198.18.1.7"}, {}, {"2001:db8::1"}, 0, -1, dns::rrtype::AAAA},
      {"2: TXT", "txt.example.com.", {"198.18.1.7"}, {}, {"TXT"}, 0, -1, dns::rrtype::TXT},
      {"3: primary", "f.example.com.", {"198.18.1.7"}, {}, {p + "20"}},
      {"3: secondary when the primary is down",
       "f.example.com.",
       {"198.18.1.7"},
       {"hc-primary"},
       {p + "21"}},
      {"3: primary when both are down",
       "f.example.com.",
       {"198.18.1.7"},
       {"hc-primary", "hc-secondary"},
       {p + "20"}},
      {"4: country beats continent", "geo.example.com.", {"198.18.1.7"}, {}, {p + "33"}},
      {"4: walk up to the continent", "geo.example.com.", {"198.18.1.7"}, {"hc-de"}, {p + "30"}},
      {"4: subdivision, by ECS, scope of the network",
       "geo.example.com.",
       {"198.18.0.2", "198.18.2.9", 24},
       {},
       {p + "31"},
       0,
       23},
      {"4: default for Australia",
       "geo.example.com.",
       {"198.18.0.2", "198.19.4.0", 24},
       {},
       {p + "32"},
       0,
       16},
      {"4: default for an IPv6 client", "geo.example.com.", {"fd00:18:1::5"}, {}, {p + "32"}},
      {"4: no match and no default: NODATA with SOA",
       "jp.example.com.",
       {"198.18.0.2", "198.19.4.0", 24},
       {},
       {},
       0,
       16},
      {"4: country match",
       "jp.example.com.",
       {"198.18.0.2", "198.18.9.0", 24},
       {},
       {p + "34"},
       0,
       21},
      {"5: nearest region",
       "lat.example.com.",
       {"198.18.0.2", "198.18.1.0", 24},
       {},
       {p + "40"},
       0,
       24},
      // Munich to Tokyo is about 9,360 km, to San Francisco about 9,430 km.
      {"5: next nearest when it is down",
       "lat.example.com.",
       {"198.18.0.2", "198.18.1.0", 24},
       {"hc-fra"},
       {p + "42"},
       0,
       24},
      {"5: centroid of a subdivision",
       "lat.example.com.",
       {"198.18.0.2", "198.18.2.0", 24},
       {},
       {p + "41"},
       0,
       23},
      {"5: operator table beats distance",
       "lat.example.com.",
       {"198.18.0.2", "198.18.9.0", 24},
       {},
       {p + "41"},
       0,
       22},
      {"5: operator table over IPv6",
       "lat.example.com.",
       {"198.18.0.2", "fd00:18:2::", 56},
       {},
       {p + "42"},
       0,
       48},
      {"6: bias +80 pulls Munich to Paris",
       "prox.example.com.",
       {"198.18.0.2", "198.18.1.0", 24},
       {},
       {p + "50"},
       0,
       24},
      {"6: next by biased distance when down",
       "prox.example.com.",
       {"198.18.0.2", "198.18.1.0", 24},
       {"hc-par"},
       {p + "51"},
       0,
       24},
      {"6: Australia to Sydney",
       "prox.example.com.",
       {"198.18.0.2", "198.19.7.0", 24},
       {},
       {p + "52"},
       0,
       16},
      {"7: block", "cidr.example.com.", {"198.18.1.7"}, {}, {p + "60"}},
      {"7: longest block wins", "cidr.example.com.", {"198.18.2.200"}, {}, {p + "61"}},
      {"7: around the longer block", "cidr.example.com.", {"198.18.3.7"}, {}, {p + "60"}},
      {"7: default", "cidr.example.com.", {"198.18.200.7"}, {}, {p + "62"}},
      {"7: by ECS, scope up to where a longer block could start",
       "cidr.example.com.",
       {"198.18.0.2", "198.18.1.0", 24},
       {},
       {p + "60"},
       0,
       23},
      {"7: IPv6 block", "cidr.example.com.", {"fd00:18:1::5"}, {}, {p + "60"}},
      {"7: IPv6 block by ECS /56",
       "cidr.example.com.",
       {"198.18.0.2", "fd00:18:2:100::", 56},
       {},
       {p + "61"},
       0,
       48},
      {"8: all of three",
       "mv3.example.com.",
       {"198.18.1.7"},
       {},
       {p + "120", p + "121", p + "122"}},
      {"8: the healthy ones",
       "mv.example.com.",
       {"198.18.1.7"},
       {"hc-mv0", "hc-mv1", "hc-mv2", "hc-mv3", "hc-mv5", "hc-mv7", "hc-mv9"},
       {p + "104", p + "106", p + "108"}},
      {"all down: SERVFAIL", "sf.example.com.", {"198.18.1.7"}, {"hc-sf"}, {}, 2},
      {"all down: NODATA", "nd.example.com.", {"198.18.1.7"}, {"hc-nd"}, {}, 0},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(row.rule) + " (" + row.name + " from " + row.client.text() + ")");
    for (const auto& id : row.down) set_health(id, false);
    const FrameSpec f = frame_for(row.name, row.qtype, row.client);
    const uint64_t hits = stat(MDN_STAT_HIT_POLICY);
    const auto r = xdp(f);
    ASSERT_EQ(r.action, static_cast<uint32_t>(XDP_TX));
    EXPECT_EQ(stat(MDN_STAT_HIT_POLICY), hits + 1);
    const Parsed got = parse(dns_of(r, f));
    EXPECT_EQ(got.rcode, row.rcode);
    EXPECT_EQ(got.answers, row.answers);
    EXPECT_EQ(got.scope, row.scope);
    if (row.answers.empty() && row.rcode == 0)
      EXPECT_EQ(got.authority_types, std::vector<uint16_t>{dns::rrtype::SOA}) << "NODATA has SOA";
    EXPECT_EQ(r.frame, testing::expected_reply_frame(f, userspace(f))) << "same bytes as userspace";
    for (const auto& id : row.down) set_health(id, true);
  }
}

// Deterministic policies (everything but weighted and multivalue over 8): every XDP reply equals
// userspace's for a corpus of resolver addresses and ECS options under three health states; a
// query XDP cannot decide exactly goes up, and every query without ECS is decided in XDP.
TEST_F(XdpPolicy, DeterministicPoliciesEqualUserspace) {
  const std::vector<std::string> names = {
      "f.example.com.",   "geo.example.com.",  "jp.example.com.",
      "lat.example.com.", "prox.example.com.", "cidr.example.com.",
      "sf.example.com.",  "nd.example.com.",   "mv3.example.com."};
  const std::vector<std::string> v4 = {
      "198.18.1.7", "198.18.2.9", "198.18.2.130", "198.18.3.200", "198.18.8.1", "198.18.12.5",
      "198.19.4.4", "198.20.0.1", "203.0.113.9",  "10.1.2.3",     "198.18.0.2", "198.18.255.255"};
  const std::vector<std::string> v6 = {"fd00:18:1::5", "fd00:18:2::7", "fd00:18:2:100::9",
                                       "fd00:18:3::1", "2001:db8::1",  "fd00:18:1:ffff::1"};
  std::vector<Client> clients;
  for (const auto& a : v4) {
    clients.push_back({a});
    for (int source : {0, 8, 16, 20, 22, 23, 24, 25, 32})
      clients.push_back({"198.18.0.2", a, source});
    clients.push_back({"fd00::2", a, 24});
  }
  for (const auto& a : v6) {
    clients.push_back({a});
    for (int source : {0, 32, 47, 48, 56, 64, 128}) clients.push_back({"198.18.0.2", a, source});
  }
  const std::vector<std::vector<std::string>> health_states = {
      {},
      {"hc-primary", "hc-de", "hc-fra", "hc-par"},
      {"hc-primary", "hc-secondary", "hc-de", "hc-fra", "hc-par", "hc-sf", "hc-nd"},
  };
  size_t answered = 0, passed = 0;
  std::set<std::string> distinct;
  for (const auto& down : health_states) {
    for (const auto& id : down) set_health(id, false);
    for (const auto& name : names) {
      for (const auto& c : clients) {
        SCOPED_TRACE(name + " from " + c.text());
        const FrameSpec f = frame_for(name, dns::rrtype::A, c);
        const auto r = xdp(f);
        if (r.action == XDP_PASS) {
          ++passed;
          EXPECT_FALSE(c.ecs_address.empty()) << "a resolver address is always decided in XDP";
          EXPECT_EQ(r.frame, testing::build_frame(f)) << "passed up untouched";
          continue;
        }
        ASSERT_EQ(r.action, static_cast<uint32_t>(XDP_TX));
        ++answered;
        const Bytes expected = userspace(f);
        ASSERT_EQ(r.frame, testing::expected_reply_frame(f, expected));
        const Parsed got = parse(expected);
        for (const auto& a : got.answers) distinct.insert(name + " " + a);
      }
    }
    for (const auto& id : down) set_health(id, true);
  }
  std::printf("deterministic corpus: %zu answered in XDP (identical to userspace), %zu passed up\n",
              answered, passed);
  EXPECT_GT(answered, 10 * passed) << "most of the corpus is decided in XDP";
  EXPECT_GE(distinct.size(), 20u) << "the corpus reaches many different answers";
}

// Rule 2 and rule 8 through both paths: 10,000 queries each, chi-square at p = 0.001. Neither
// bpf_get_prandom_u32 nor the userspace generator can be seeded from here, so a fair generator
// exceeds a critical value in about 1 of 1,000 samples: a sample that does is drawn once more,
// and both must exceed it to fail (1 in 10^6 for a fair generator, every time for a biased one).
struct ChoiceSample {
  std::vector<int> weighted = std::vector<int>(4, 0);   // answers per weighted set (cell 3: other)
  std::vector<int> left_out = std::vector<int>(45, 0);  // multivalue: pair of 10 left out
  double x_weighted = 0, x_multivalue = 0;
};

TEST_F(XdpPolicy, WeightedAndMultivalueFitTheWeightsInBothPaths) {
  constexpr int kQueries = 10000;
  const std::string p = "198.51.100.";
  const std::map<std::string, int> weight_cell = {{p + "1", 0}, {p + "3", 1}, {p + "6", 2}};
  auto draw = [&](bool through_xdp) {
    ChoiceSample c;
    for (int i = 0; i < kQueries; ++i) {
      for (const char* name : {"w.example.com.", "mv.example.com."}) {
        const FrameSpec f = frame_for(name, dns::rrtype::A, {"198.18.1.7"});
        Bytes dns;
        if (through_xdp) {
          const auto r = xdp(f);
          EXPECT_EQ(r.action, static_cast<uint32_t>(XDP_TX));
          dns = dns_of(r, f);
        } else {
          dns = userspace(f);
        }
        const Parsed got = parse(dns);
        if (name[0] == 'w') {
          EXPECT_EQ(got.answers.size(), 1u);
          auto it =
              got.answers.empty() ? weight_cell.end() : weight_cell.find(*got.answers.begin());
          ++c.weighted[it == weight_cell.end() ? 3 : it->second];
          continue;
        }
        std::vector<int> missing;
        for (int v = 0; v < 10; ++v)
          if (!got.answers.count(p + std::to_string(100 + v))) missing.push_back(v);
        EXPECT_EQ(got.answers.size(), 8u);
        if (missing.size() != 2u) {
          ADD_FAILURE() << "a multivalue answer without exactly 8 of the 10 values";
          continue;
        }
        // Index of the pair (a < b) among the 45.
        const int a = missing[0], b = missing[1];
        ++c.left_out[a * 9 - a * (a - 1) / 2 + (b - a - 1)];
      }
    }
    c.x_weighted = chi_square(c.weighted, {kQueries * 0.1, kQueries * 0.3, kQueries * 0.6, 0});
    c.x_multivalue = chi_square(c.left_out, std::vector<double>(45, kQueries / 45.0));
    std::printf(
        "%s: weighted %d/%d/%d chi2 %.2f (critical %.3f), multivalue chi2 %.2f (critical "
        "%.3f)\n",
        through_xdp ? "XDP" : "userspace", c.weighted[0], c.weighted[1], c.weighted[2],
        c.x_weighted, kChi2Df2, c.x_multivalue, kChi2Df44);
    return c;
  };
  for (const bool through_xdp : {true, false}) {
    SCOPED_TRACE(through_xdp ? "XDP" : "userspace");
    ChoiceSample first = draw(through_xdp);
    if (first.x_weighted < kChi2Df2 && first.x_multivalue < kChi2Df44) continue;
    ChoiceSample second = draw(through_xdp);
    EXPECT_TRUE(first.x_weighted < kChi2Df2 || second.x_weighted < kChi2Df2)
        << "weighted: two samples over the critical value";
    EXPECT_TRUE(first.x_multivalue < kChi2Df44 || second.x_multivalue < kChi2Df44)
        << "multivalue: two samples over the critical value";
  }
}

// A health transition reaches XDP answers through the health map alone, at once: no new
// generation is published.
TEST_F(XdpPolicy, HealthMapMovesAnswersWithoutRepublishing) {
  const FrameSpec f = frame_for("f.example.com.", dns::rrtype::A, {"198.18.1.7"});
  EXPECT_EQ(parse(dns_of(xdp(f), f)).answers, std::set<std::string>{"198.51.100.20"});
  set_health("hc-primary", false);
  EXPECT_EQ(parse(dns_of(xdp(f), f)).answers, std::set<std::string>{"198.51.100.21"});
  set_health("hc-primary", true);
  EXPECT_EQ(parse(dns_of(xdp(f), f)).answers, std::set<std::string>{"198.51.100.20"});
}

// Route 53: a disabled check is healthy and Inverted is applied last, so Disabled + Inverted is
// unhealthy. The states come from a real HealthChecker and reach the view and the health map the
// daemon's way (its snapshot, as HealthRuntime::sync copies it); the XDP program then answers as
// for a failed check, with the same bytes as userspace.
TEST_F(XdpPolicy, DisabledAndInvertedCheckIsUnhealthyInBothPaths) {
  auto check = [](const std::string& id, bool inverted) {
    health::HealthCheckConfig c;
    c.id = id;
    c.type = health::CheckType::kTcp;
    c.ip_address = "127.0.0.1";
    c.port = 9;  // never probed: the checks are disabled
    c.disabled = true;
    c.inverted = inverted;
    return c;
  };
  const std::string p = "198.51.100.";
  struct Row {
    std::string name;
    std::vector<health::HealthCheckConfig> checks;
    std::set<std::string> answers;
  };
  const std::vector<Row> rows = {
      {"f.example.com.", {check("hc-primary", true), check("hc-secondary", false)}, {p + "21"}},
      {"f.example.com.", {check("hc-primary", false), check("hc-secondary", true)}, {p + "20"}},
      {"w.example.com.",
       {check("hc-w1", true), check("hc-w3", true), check("hc-w6", true)},
       {p + "9"}},  // every weighted set down: the weight-0 standby
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name + " " + row.checks[0].id);
    health::HealthChecker checker({}, nullptr);
    ASSERT_TRUE(checker.start(row.checks).ok());
    const auto states = checker.snapshot();
    checker.stop();
    ASSERT_EQ(states.size(), row.checks.size());
    for (const auto& c : row.checks) {
      EXPECT_EQ(states.at(c.id).healthy(), !c.inverted) << c.id;
      set_health(c.id, states.at(c.id).healthy());
    }
    const FrameSpec f = frame_for(row.name, dns::rrtype::A, {"198.18.1.7"});
    const auto r = xdp(f);
    ASSERT_EQ(r.action, static_cast<uint32_t>(XDP_TX));
    EXPECT_EQ(parse(dns_of(r, f)).answers, row.answers);
    EXPECT_EQ(parse(userspace(f)).answers, row.answers);
    EXPECT_EQ(r.frame, testing::expected_reply_frame(f, userspace(f))) << "same bytes as userspace";
    for (const auto& c : row.checks) set_health(c.id, true);
  }
}

}  // namespace
}  // namespace meridian
