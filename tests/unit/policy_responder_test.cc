// GSLB answers end to end in userspace: real zones loaded from Route 53 JSON text, a small GeoIP
// database built at test time (tests/tools/make_test_mmdb.pl), the GslbEngine attached to the
// snapshot, and queries through Responder::respond with and without ECS. Also: DecisionTable
// load errors, the prefix trie's ECS scopes, and the fast path keeping policy names out.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "dns/message.h"
#include "dns/types.h"
#include "geo/geo_database.h"
#include "policy/gslb_engine.h"
#include "unit/route53_text.h"
#include "unit/test_files.h"
#include "zone/route53_json.h"
#include "zone/zone_set.h"
#ifdef MERIDIAN_TEST_FASTPATH
#include "fastpath/answer_compiler.h"
#endif

namespace meridian::policy {
namespace {

using Bytes = std::vector<uint8_t>;

using meridian::testing::TempDir;

// Munich has coordinates in the database; California and Australia only codes (centroids).
constexpr const char* kGeoJson = R"({"ip_version": 6, "database_type": "Meridian-Test-City",
  "alias_ipv6_to_ipv4": true, "networks": [
  {"network": "198.18.1.0/24", "continent": "EU", "country": "DE", "subdivision": "BY",
   "latitude": 48.1, "longitude": 11.6},
  {"network": "198.18.2.0/23", "continent": "NA", "country": "US", "subdivision": "CA"},
  {"network": "198.19.0.0/16", "continent": "OC", "country": "AU"},
  {"network": "fd00:18:1::/48", "continent": "AS", "country": "JP", "latitude": 35.7,
   "longitude": 139.7}]})";

std::string zone_json() {
  std::vector<std::string> sets = testing::route53_apex("example.com.", "198.51.100.53");
  const std::vector<std::string> policy_sets = {
      testing::route53_set("w.example.com.",
                           R"("SetIdentifier": "blue", "Weight": 1, "HealthCheckId": "hc-blue")",
                           "198.51.100.10"),
      testing::route53_set("w.example.com.",
                           R"("SetIdentifier": "green", "Weight": 0, "HealthCheckId": "hc-green")",
                           "198.51.100.11"),
      testing::route53_set(
          "f.example.com.",
          R"("SetIdentifier": "p", "Failover": "PRIMARY", "HealthCheckId": "hc-primary")",
          "198.51.100.20"),
      testing::route53_set("f.example.com.", R"("SetIdentifier": "s", "Failover": "SECONDARY")",
                           "198.51.100.21"),
      testing::route53_set("geo.example.com.",
                           R"("SetIdentifier": "eu", "GeoLocation": {"ContinentCode": "EU"})",
                           "198.51.100.30"),
      testing::route53_set(
          "geo.example.com.",
          R"("SetIdentifier": "ca", "GeoLocation": {"CountryCode": "US", "SubdivisionCode": "CA"})",
          "198.51.100.31"),
      testing::route53_set("geo.example.com.",
                           R"("SetIdentifier": "def", "GeoLocation": {"CountryCode": "*"})",
                           "198.51.100.32"),
      testing::route53_set(
          "de.example.com.",
          R"("SetIdentifier": "de", "GeoLocation": {"CountryCode": "DE"}, "HealthCheckId": "hc-de")",
          "198.51.100.33"),
      testing::route53_set("lat.example.com.",
                           R"("SetIdentifier": "fra", "Region": "eu-central-1")", "198.51.100.40"),
      testing::route53_set("lat.example.com.", R"("SetIdentifier": "sfo", "Region": "us-west-1")",
                           "198.51.100.41"),
      testing::route53_set("lat.example.com.",
                           R"("SetIdentifier": "tyo", "Region": "ap-northeast-1")",
                           "198.51.100.42"),
      testing::route53_set(
          "cidr.example.com.",
          R"("SetIdentifier": "office", "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "office"})",
          "198.51.100.60"),
      testing::route53_set(
          "cidr.example.com.",
          R"("SetIdentifier": "rest", "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "*"})",
          "198.51.100.61"),
      R"({"Name": "a.example.com.", "Type": "A", "AliasTarget": {"HostedZoneId": "Z1",
          "DNSName": "geo.example.com.", "EvaluateTargetHealth": false}})",
      R"({"Name": "wa.example.com.", "Type": "A", "SetIdentifier": "alias", "Weight": 1,
          "AliasTarget": {"HostedZoneId": "Z1", "DNSName": "de.example.com.",
                          "EvaluateTargetHealth": true}})",
      testing::route53_set("wa.example.com.", R"("SetIdentifier": "standby", "Weight": 0)",
                           "198.51.100.70"),
      testing::route53_set("sf.example.com.",
                           R"("SetIdentifier": "x", "Weight": 1, "HealthCheckId": "hc-sf")",
                           "198.51.100.80"),
      testing::route53_set("nd.example.com.",
                           R"("SetIdentifier": "x", "Weight": 1, "HealthCheckId": "hc-nd")",
                           "198.51.100.81"),
      R"({"Name": "cn.example.com.", "Type": "CNAME", "TTL": 60,
          "ResourceRecords": [{"Value": "geo.example.com."}]})",
  };
  sets.insert(sets.end(), policy_sets.begin(), policy_sets.end());
  for (int i = 0; i < 10; ++i)
    sets.push_back(testing::route53_set(
        "mv.example.com.",
        R"("SetIdentifier": "m)" + std::to_string(i) +
            R"(", "MultiValueAnswer": true, "HealthCheckId": "hc-mv)" + std::to_string(i) + "\"",
        "198.51.100." + std::to_string(100 + i)));
  return testing::route53_document(sets);
}

Bytes make_query(const std::string& name, uint16_t qtype, int ecs_family = 0,
                 const std::string& ecs_addr = "", int ecs_source = 0) {
  Bytes q = {0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, static_cast<uint8_t>(ecs_family ? 1 : 0)};
  auto n = dns::Name::from_text(name);
  for (uint8_t b : n->wire()) q.push_back(b);
  q.insert(q.end(), {static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  if (ecs_family) {
    uint8_t addr[16] = {};
    inet_pton(ecs_family == 1 ? AF_INET : AF_INET6, ecs_addr.c_str(), addr);
    const int bytes = (ecs_source + 7) / 8;
    const int optlen = 4 + bytes;
    q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, static_cast<uint8_t>(4 + optlen)});
    q.insert(q.end(), {0, 8, 0, static_cast<uint8_t>(optlen), 0, static_cast<uint8_t>(ecs_family),
                       static_cast<uint8_t>(ecs_source), 0});
    q.insert(q.end(), addr, addr + bytes);
  }
  return q;
}

struct Reply {
  uint16_t rcode = 0;
  std::vector<std::string> answers;  // "owner TYPE value"
  std::vector<uint16_t> authority_types;
  int ecs_scope = -1;  // -1: no ECS option in the reply
  bool policy = false;
};

std::string rdata_text(uint16_t type, const Bytes& rdata) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (type == dns::rrtype::A && rdata.size() == 4)
    inet_ntop(AF_INET, rdata.data(), buf, sizeof(buf));
  else if (type == dns::rrtype::AAAA && rdata.size() == 16)
    inet_ntop(AF_INET6, rdata.data(), buf, sizeof(buf));
  else
    return "?";
  return buf;
}

class GslbResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    const std::string out = meridian::testing::build_test_mmdb(dir_, "geo", kGeoJson);
    ASSERT_FALSE(out.empty()) << "make_test_mmdb.pl failed";
    auto db = geo::GeoDatabase::open(out);
    ASSERT_TRUE(db.ok()) << db.error().to_string();
    db_ = std::make_unique<geo::GeoDatabase>(std::move(*db));

    auto z = zone::parse_route53_json(zone_json(), *dns::Name::from_text("example.com."), "test");
    ASSERT_TRUE(z.ok()) << z.error().to_string();
    plain_ = zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(*z))});

    inputs_.geo = db_.get();
    inputs_.health = std::make_shared<HealthView>();
    inputs_.cidr_collections["c-1"] = {{"198.18.1.0/24", "office"}};
    inputs_.all_down = {{"sf.example.com.", dns::rrtype::A, AllDown::kServFail},
                        {"nd.example.com.", dns::rrtype::A, AllDown::kNoData}};
    rebuild();
  }

  void rebuild() {
    auto attached = attach_gslb(plain_, inputs_);
    ASSERT_TRUE(attached.ok()) << attached.error().to_string();
    zones_ = *attached;
  }

  Reply ask(const std::string& name, uint16_t qtype, int family = 0, const std::string& addr = "",
            int source = 0, const std::string& resolver = "203.0.113.9") {
    answer::QueryContext ctx;
    auto* sin = reinterpret_cast<sockaddr_in*>(&ctx.client);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, resolver.c_str(), &sin->sin_addr);
    Bytes reply;
    answer::AnswerInfo info;
    EXPECT_EQ(responder_.respond(*zones_, make_query(name, qtype, family, addr, source), ctx, reply,
                                 &info),
              answer::Disposition::kReply);
    const dns::ParseResult pr = dns::parse_message(reply);
    EXPECT_TRUE(pr.ok()) << dns::parse_error_name(pr.error);
    Reply r;
    r.rcode = pr.message.header.rcode();
    r.policy = info.policy;
    for (const auto& rr : pr.message.answers)
      r.answers.push_back(rr.owner.to_text() + " " + dns::type_to_text(rr.type) + " " +
                          rdata_text(rr.type, rr.rdata));
    for (const auto& rr : pr.message.authority) r.authority_types.push_back(rr.type);
    if (pr.message.edns && pr.message.edns->ecs) r.ecs_scope = pr.message.edns->ecs->scope_prefix;
    return r;
  }

  std::vector<std::string> a(const std::string& value, const std::string& owner) {
    return {owner + " A " + value};
  }

  TempDir dir_;
  std::unique_ptr<geo::GeoDatabase> db_;
  zone::ZoneSet plain_;
  GslbInputs inputs_;
  std::shared_ptr<const zone::ZoneSet> zones_;
  answer::Responder responder_{answer::ResponderConfig{}};
};

TEST_F(GslbResponderTest, WeightedFollowsHealthWithoutRebuilding) {
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(ask("w.example.com.", dns::rrtype::A).answers, a("198.51.100.10", "w.example.com."));
  inputs_.health->set("hc-blue", false);  // the daemon's health callback; no rebuild
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(ask("w.example.com.", dns::rrtype::A).answers, a("198.51.100.11", "w.example.com."));
  const Reply r = ask("w.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24);
  EXPECT_EQ(r.ecs_scope, 0) << "weighted answers do not depend on the client";
  EXPECT_TRUE(r.policy);
}

TEST_F(GslbResponderTest, FailoverMovesToSecondaryAndBack) {
  EXPECT_EQ(ask("f.example.com.", dns::rrtype::A).answers, a("198.51.100.20", "f.example.com."));
  inputs_.health->set("hc-primary", false);
  EXPECT_EQ(ask("f.example.com.", dns::rrtype::A).answers, a("198.51.100.21", "f.example.com."));
  inputs_.health->set("hc-primary", true);
  EXPECT_EQ(ask("f.example.com.", dns::rrtype::A).answers, a("198.51.100.20", "f.example.com."));
}

TEST_F(GslbResponderTest, GeolocationByEcsWithTheNetworkAsScope) {
  struct Row {
    int family;
    std::string addr;
    int source;
    std::string want;
    int scope;
  } rows[] = {
      {1, "198.18.1.0", 24, "198.51.100.30", 24},   // DE: EU continent
      {1, "198.18.2.0", 24, "198.51.100.31", 23},   // US-CA subdivision, network /23
      {1, "198.19.7.0", 24, "198.51.100.32", 16},   // AU: default
      {2, "fd00:18:1::", 56, "198.51.100.32", 48},  // JP: default, IPv6 network /48
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.addr);
    const Reply r = ask("geo.example.com.", dns::rrtype::A, row.family, row.addr, row.source);
    EXPECT_EQ(r.rcode, dns::rcode::NOERROR);
    EXPECT_EQ(r.answers, a(row.want, "geo.example.com."));
    EXPECT_EQ(r.ecs_scope, row.scope);
  }
  // Without ECS the resolver's address decides (203.0.113.9: in no network -> default), and the
  // reply carries no ECS option.
  const Reply plain = ask("geo.example.com.", dns::rrtype::A, 0, "", 0, "198.18.1.77");
  EXPECT_EQ(plain.answers, a("198.51.100.30", "geo.example.com."));
  EXPECT_EQ(plain.ecs_scope, -1);
}

TEST_F(GslbResponderTest, NoMatchIsNodataWithSoaAndScope) {
  const Reply r = ask("de.example.com.", dns::rrtype::A, 1, "198.19.7.0", 24);
  EXPECT_EQ(r.rcode, dns::rcode::NOERROR);
  EXPECT_TRUE(r.answers.empty());
  EXPECT_EQ(r.authority_types, std::vector<uint16_t>{dns::rrtype::SOA});
  EXPECT_EQ(r.ecs_scope, 16);
  EXPECT_EQ(ask("de.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).answers,
            a("198.51.100.33", "de.example.com."));
}

TEST_F(GslbResponderTest, LatencyByDistanceThenByOperatorTable) {
  EXPECT_EQ(ask("lat.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).answers,
            a("198.51.100.40", "lat.example.com."));  // Munich -> Frankfurt
  EXPECT_EQ(ask("lat.example.com.", dns::rrtype::A, 1, "198.18.2.0", 24).answers,
            a("198.51.100.41", "lat.example.com."));  // California -> N. California
  EXPECT_EQ(ask("lat.example.com.", dns::rrtype::A, 1, "198.19.7.0", 24).answers,
            a("198.51.100.42", "lat.example.com."));  // Australia -> Tokyo
  // The operator measured Australia -> us-west-1 at 10 ms: the table wins over distance.
  inputs_.latency = {{"198.19.0.0/17", "us-west-1", 10}, {"198.19.0.0/17", "ap-northeast-1", 90}};
  rebuild();
  const Reply r = ask("lat.example.com.", dns::rrtype::A, 1, "198.19.7.0", 24);
  EXPECT_EQ(r.answers, a("198.51.100.41", "lat.example.com."));
  EXPECT_EQ(r.ecs_scope, 17);  // longest of the geo network (/16) and the table prefix (/17)
}

TEST_F(GslbResponderTest, MultivalueAnswersUpToEightHealthy) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const Reply r = ask("mv.example.com.", dns::rrtype::A);
    ASSERT_EQ(r.answers.size(), 8u);
    seen.insert(r.answers.begin(), r.answers.end());
    EXPECT_EQ(std::set<std::string>(r.answers.begin(), r.answers.end()).size(), 8u);
  }
  EXPECT_EQ(seen.size(), 10u) << "every healthy value shows up over 50 answers";
  for (int i = 0; i < 4; ++i) inputs_.health->set("hc-mv" + std::to_string(i), false);
  const Reply r = ask("mv.example.com.", dns::rrtype::A);
  ASSERT_EQ(r.answers.size(), 6u);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(std::count(r.answers.begin(), r.answers.end(),
                         "mv.example.com. A 198.51.100.10" + std::to_string(i)),
              0);
}

TEST_F(GslbResponderTest, IpBasedLongestBlockAndEcsSourceRule) {
  EXPECT_EQ(ask("cidr.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).answers,
            a("198.51.100.60", "cidr.example.com."));
  EXPECT_EQ(ask("cidr.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).ecs_scope, 24);
  // A /16 source is shorter than the /24 block: it does not match it (spec rule 7).
  const Reply wide = ask("cidr.example.com.", dns::rrtype::A, 1, "198.18.0.0", 16);
  EXPECT_EQ(wide.answers, a("198.51.100.61", "cidr.example.com."));
  EXPECT_EQ(wide.ecs_scope, 16);
  // An address outside the block: '*', valid for the prefix where the path leaves the block.
  const Reply other = ask("cidr.example.com.", dns::rrtype::A, 1, "198.18.0.0", 24);
  EXPECT_EQ(other.answers, a("198.51.100.61", "cidr.example.com."));
  EXPECT_EQ(other.ecs_scope, 24);
  // No ECS: the resolver's own address.
  EXPECT_EQ(ask("cidr.example.com.", dns::rrtype::A, 0, "", 0, "198.18.1.5").answers,
            a("198.51.100.60", "cidr.example.com."));
}

TEST_F(GslbResponderTest, AliasAnswersWithTheTargetsRecordsNoCname) {
  const Reply r = ask("a.example.com.", dns::rrtype::A, 1, "198.18.2.0", 24);
  EXPECT_EQ(r.answers, a("198.51.100.31", "a.example.com."));
  EXPECT_EQ(r.ecs_scope, 23) << "the target's geolocation decision sets the scope";
  // A CNAME to a policy name: the chain, then the decision.
  const Reply c = ask("cn.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24);
  ASSERT_EQ(c.answers.size(), 2u);
  EXPECT_EQ(c.answers[1], "geo.example.com. A 198.51.100.30");
  EXPECT_TRUE(c.policy);
}

TEST_F(GslbResponderTest, EvaluateTargetHealthMovesToTheStandby) {
  EXPECT_EQ(ask("wa.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).answers,
            a("198.51.100.33", "wa.example.com."));
  inputs_.health->set("hc-de", false);  // the alias target has no healthy answer now
  EXPECT_EQ(ask("wa.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).answers,
            a("198.51.100.70", "wa.example.com."));
}

// Rule 9 for one client: de.example.com has a record set for DE only, so for a client in the US
// the target answers NODATA, and the alias is unhealthy for that client though its check is up.
TEST_F(GslbResponderTest, EvaluateTargetHealthIsDecidedForTheClient) {
  const Reply us = ask("wa.example.com.", dns::rrtype::A, 1, "198.18.2.0", 24);
  EXPECT_EQ(us.rcode, dns::rcode::NOERROR);
  EXPECT_EQ(us.answers, a("198.51.100.70", "wa.example.com."));
  EXPECT_EQ(us.ecs_scope, 23) << "the target's decision for the client sets the scope";
  EXPECT_EQ(ask("wa.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24).answers,
            a("198.51.100.33", "wa.example.com."));
}

TEST_F(GslbResponderTest, AllDownServfailAndNodata) {
  inputs_.health->set("hc-sf", false);
  inputs_.health->set("hc-nd", false);
  const Reply sf = ask("sf.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24);
  EXPECT_EQ(sf.rcode, dns::rcode::SERVFAIL);
  EXPECT_TRUE(sf.answers.empty());
  EXPECT_EQ(sf.ecs_scope, 0);
  const Reply nd = ask("nd.example.com.", dns::rrtype::A, 1, "198.18.1.0", 24);
  EXPECT_EQ(nd.rcode, dns::rcode::NOERROR);
  EXPECT_TRUE(nd.answers.empty());
  EXPECT_EQ(nd.authority_types, std::vector<uint16_t>{dns::rrtype::SOA});
  EXPECT_EQ(nd.ecs_scope, 0);
  inputs_.health->set("hc-sf", true);
  EXPECT_EQ(ask("sf.example.com.", dns::rrtype::A).answers, a("198.51.100.80", "sf.example.com."));
}

TEST_F(GslbResponderTest, OtherTypesAndNamesAreUnchanged) {
  const Reply r = ask("geo.example.com.", dns::rrtype::AAAA, 1, "198.18.1.0", 24);
  EXPECT_EQ(r.rcode, dns::rcode::NOERROR);
  EXPECT_TRUE(r.answers.empty());
  EXPECT_EQ(r.ecs_scope, 0);
  EXPECT_FALSE(r.policy);
  EXPECT_EQ(ask("ns1.example.com.", dns::rrtype::A).answers,
            a("198.51.100.53", "ns1.example.com."));
  // Without an engine attached, a policy group has no answer (the snapshot was not built for GSLB).
  answer::QueryContext ctx;
  ctx.client.ss_family = AF_INET;
  Bytes reply;
  ASSERT_EQ(responder_.respond(plain_, make_query("geo.example.com.", dns::rrtype::A), ctx, reply),
            answer::Disposition::kReply);
  EXPECT_EQ(dns::parse_message(reply).message.answers.size(), 0u);
}

#ifdef MERIDIAN_TEST_FASTPATH
TEST_F(GslbResponderTest, PolicyNamesNeverEnterTheFastPath) {
  fastpath::AnswerCompiler compiler(responder_);
  fastpath::CompileStats stats;
  const auto entries = compiler.compile(*zones_, &stats);
  std::set<std::string> names;  // "name TYPE" of every compiled entry
  for (const auto& e : entries)
    names.insert(dns::Name::from_wire(
                     std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(e.name_key.data()),
                                              e.name_key.size()))
                     ->to_text() +
                 " " + dns::type_to_text(e.qtype));
  for (const char* n : {"w.example.com.", "f.example.com.", "geo.example.com.", "lat.example.com.",
                        "mv.example.com.", "cidr.example.com.", "a.example.com.", "wa.example.com.",
                        "sf.example.com.", "cn.example.com."})
    EXPECT_EQ(names.count(std::string(n) + " A"), 0u) << n << " A was compiled into the fast path";
  EXPECT_EQ(names.count("ns1.example.com. A"), 1u) << "plain names still are";
  EXPECT_EQ(names.count("cn.example.com. CNAME"), 1u) << "the CNAME itself is the same for all";
}
#endif

// ---------------------------------------------------------------------------------------------

TEST(PrefixTrieTest, LongestMatchAndScope) {
  PrefixTrie t;
  ASSERT_TRUE(t.insert(*parse_prefix("10.0.0.0/8"), 1));
  ASSERT_TRUE(t.insert(*parse_prefix("10.1.0.0/16"), 2));
  ASSERT_FALSE(t.insert(*parse_prefix("10.1.0.0/16"), 3)) << "duplicate";
  struct Row {
    std::string addr;
    int source;
    uint32_t value;
    int length;
    int scope;
  } rows[] = {
      {"10.1.2.3", 32, 2, 16, 16},  // inside the /16, nothing below it
      {"10.2.0.0", 24, 1, 8, 15},   // in the /8; leaves the /16's path at bit 15
      {"10.1.0.0", 12, 1, 8, 12},   // source /12 is shorter than the /16: only the /8 matches
      {"11.0.0.0", 24, PrefixTrie::kNone, 0, 8},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.addr + "/" + std::to_string(r.source));
    const auto m = t.lookup(*ClientAddress::from_text(r.addr, r.source));
    EXPECT_EQ(m.value, r.value);
    EXPECT_EQ(m.length, r.length);
    EXPECT_EQ(m.scope, r.scope);
  }
  EXPECT_FALSE(parse_prefix("10.0.0.1/8").ok()) << "host bits set";
  EXPECT_FALSE(parse_prefix("10.0.0.0/33").ok());
  EXPECT_FALSE(parse_prefix("fd00::").ok());
}

TEST(DecisionTableTest, LoadErrorsNameTheRecordSetAndReason) {
  const std::string soa = R"({"Name": "example.com.", "Type": "SOA", "TTL": 900, "ResourceRecords":
      [{"Value": "ns1.example.com. h.example.com. 1 7200 900 1209600 300"}]},
      {"Name": "example.com.", "Type": "NS", "TTL": 900, "ResourceRecords": [{"Value": "ns1.example.com."}]})";
  std::string many;
  for (int i = 0; i < 65; ++i)
    many += "," + testing::route53_set("big.example.com.",
                                       R"("SetIdentifier": "s)" + std::to_string(i) +
                                           R"(", "MultiValueAnswer": true)",
                                       "198.51.100." + std::to_string(i));
  struct Row {
    std::string what, sets, error;
  } rows[] = {
      {"unknown region",
       "," + testing::route53_set("l.example.com.", R"("SetIdentifier": "x", "Region": "mars-1")",
                                  "192.0.2.1"),
       "unknown region 'mars-1'"},
      {"unknown collection",
       "," +
           testing::route53_set(
               "c.example.com.",
               R"("SetIdentifier": "x", "CidrRoutingConfig": {"CollectionId": "nope", "LocationName": "a"})",
               "192.0.2.1"),
       "unknown CIDR collection 'nope'"},
      {"unknown CIDR location",
       "," +
           testing::route53_set(
               "c.example.com.",
               R"("SetIdentifier": "x", "CidrRoutingConfig": {"CollectionId": "c-1", "LocationName": "moon"})",
               "192.0.2.1"),
       "has no location 'moon'"},
      {"more than 64", many, "more than 64 record sets"},
      {"alias loop",
       R"(,{"Name": "x.example.com.", "Type": "A", "AliasTarget": {"HostedZoneId": "Z", "DNSName": "y.example.com.", "EvaluateTargetHealth": false}},
          {"Name": "y.example.com.", "Type": "A", "AliasTarget": {"HostedZoneId": "Z", "DNSName": "x.example.com.", "EvaluateTargetHealth": false}})",
       "alias loop"},
      {"duplicate geolocation",
       "," +
           testing::route53_set("g.example.com.",
                                R"("SetIdentifier": "a", "GeoLocation": {"CountryCode": "DE"})",
                                "192.0.2.1") +
           "," +
           testing::route53_set("g.example.com.",
                                R"("SetIdentifier": "b", "GeoLocation": {"CountryCode": "DE"})",
                                "192.0.2.2"),
       "same location"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    auto z = zone::parse_route53_json(R"({"ResourceRecordSets": [)" + soa + r.sets + "]}",
                                      *dns::Name::from_text("example.com."), "test");
    ASSERT_TRUE(z.ok()) << z.error().to_string();
    GslbInputs in;
    in.cidr_collections["c-1"] = {{"192.0.2.0/24", "office"}};
    auto built = DecisionTable::build(
        zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(*z))}), in);
    ASSERT_FALSE(built.ok());
    EXPECT_NE(built.error().to_string().find(r.error), std::string::npos)
        << built.error().to_string();
  }
  // Bad inputs name their row.
  GslbInputs bad;
  bad.cidr_collections["c-1"] = {{"192.0.2.0/25", "x"}};
  auto z = zone::parse_route53_json(R"({"ResourceRecordSets": [)" + soa + "]}",
                                    *dns::Name::from_text("example.com."), "test");
  ASSERT_TRUE(z.ok());
  const zone::ZoneSet zs({std::make_shared<const zone::Zone>(std::move(*z))});
  auto e1 = DecisionTable::build(zs, bad);
  ASSERT_FALSE(e1.ok());
  EXPECT_EQ(e1.error().where, "cidr_collections['c-1'][0]");
  GslbInputs bad_latency;
  bad_latency.latency = {{"192.0.2.0/24", "nowhere-9", 5}};
  auto e2 = DecisionTable::build(zs, bad_latency);
  ASSERT_FALSE(e2.ok());
  EXPECT_EQ(e2.error().where, "latency[0]");
}

TEST(HealthViewTest, SlotsAreStableAndStatesLive) {
  HealthView v(4);
  const uint32_t a = v.slot_of("a"), b = v.slot_of("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(v.slot_of("a"), a);
  EXPECT_TRUE(v.healthy(a)) << "initial state healthy";
  v.set("a", false);
  EXPECT_FALSE(v.healthy(a));
  EXPECT_TRUE(v.healthy(b));
  v.slot_of("c");
  v.slot_of("d");
  EXPECT_EQ(v.slot_of("e"), HealthView::kNoSlot) << "capacity 4";
  EXPECT_TRUE(v.healthy(HealthView::kNoSlot));
}

}  // namespace
}  // namespace meridian::policy
