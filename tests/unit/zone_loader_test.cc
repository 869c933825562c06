// Tests of the zone loaders: RFC 1035 master files (every syntax form, and one row per class of bad
// file with its exact file:line), Route 53 JSON in all three shapes with routing policies kept, and
// the change-batch rules (all or nothing).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dns/name.h"
#include "dns/rdata_text.h"
#include "dns/types.h"
#include "zone/master_file.h"
#include "zone/route53_json.h"
#include "zone/zone.h"

namespace meridian::zone {
namespace {

namespace fs = std::filesystem;
using dns::Name;
namespace rrtype = dns::rrtype;

// The fixtures live beside this file (tests/unit/data/).
const fs::path kDataDir = fs::path(__FILE__).parent_path() / "data";

Name N(std::string_view text) {
  auto n = Name::from_text(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : Name();
}

// A scratch directory unique to this process, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (fs::temp_directory_path() / "meridian-zone-test-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, std::string_view text) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << text;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const RecordSet* find_set(const Zone& zone, std::string_view name, uint16_t type,
                          const std::string& set_identifier = "") {
  const Node* node = zone.find(N(name));
  if (!node) return nullptr;
  for (const auto& rs : node->record_sets)
    if (rs.type == type && rs.set_identifier == set_identifier) return &rs;
  return nullptr;
}

// The values of a record set in presentation form, sorted.
std::vector<std::string> values(const RecordSet* rs) {
  std::vector<std::string> out;
  if (!rs) return out;
  for (const auto& r : rs->rdatas) out.push_back(dns::rdata_to_text(rs->type, r));
  std::sort(out.begin(), out.end());
  return out;
}

// Every node and record set of a zone, in a canonical order, for before/after comparisons.
std::vector<std::string> dump(const Zone& zone) {
  std::vector<std::string> out;
  for (const auto& [key, node] : zone.nodes()) {
    out.push_back("node " + node.owner.to_text());
    for (const auto& rs : node.record_sets) out.push_back(record_set_to_json(rs).dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

using Strings = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Master files: the good fixture

TEST(MasterFileTest, FixtureLoadsEveryForm) {
  auto zone = load_master_file((kDataDir / "example.com.zone").string(), N("example.com."));
  ASSERT_TRUE(zone.ok()) << zone.error().to_string();
  const Zone& z = *zone;

  auto soa = z.soa_fields();
  ASSERT_TRUE(soa.has_value());
  EXPECT_EQ(soa->mname.to_text(), "ns1.example.com.");
  EXPECT_EQ(soa->rname.to_text(), "hostmaster.example.com.");
  EXPECT_EQ(soa->serial, 2024010101u);
  EXPECT_EQ(soa->refresh, 3600u);
  EXPECT_EQ(soa->retry, 900u);
  EXPECT_EQ(soa->expire, 604800u);
  EXPECT_EQ(soa->minimum, 300u);
  EXPECT_EQ(z.soa()->ttl, 3600u);  // $TTL 1h

  const RecordSet* ns = find_set(z, "example.com.", rrtype::NS);
  EXPECT_EQ(values(ns), (Strings{"ns1.example.com.", "ns2.example.com."}));
  EXPECT_EQ(ns->ttl, 3600u);
  EXPECT_EQ(values(find_set(z, "ns1.example.com.", rrtype::A)), Strings{"192.0.2.1"});
  EXPECT_EQ(find_set(z, "ns2.example.com.", rrtype::A)->ttl, 600u);
  const RecordSet* ns2_aaaa = find_set(z, "ns2.example.com.", rrtype::AAAA);
  EXPECT_EQ(values(ns2_aaaa), Strings{"2001:db8::2"});
  EXPECT_EQ(ns2_aaaa->ttl, 3600u);  // blank owner line: $TTL, not the previous line's 600

  const RecordSet* www = find_set(z, "www.example.com.", rrtype::A);
  EXPECT_EQ(values(www), (Strings{"192.0.2.10", "192.0.2.11"}));
  EXPECT_EQ(www->ttl, 120u);
  EXPECT_EQ(values(find_set(z, "mail.example.com.", rrtype::MX)), Strings{"10 mail.example.net."});
  EXPECT_EQ(find_set(z, "mail.example.com.", rrtype::MX)->ttl, 300u);
  EXPECT_EQ(values(find_set(z, "txt.example.com.", rrtype::TXT)),
            Strings{"\"hello world\" \"with \\\"quotes\\\"\" \"semi;colon\" \"ABC\""});
  EXPECT_EQ(values(find_set(z, "empty.example.com.", rrtype::TXT)), Strings{"\"\""});
  EXPECT_EQ(values(find_set(z, "multi.example.com.", rrtype::TXT)),
            Strings{"\"first line\" \"second line\""});
  EXPECT_EQ(values(find_set(z, "_sip._tcp.example.com.", rrtype::SRV)),
            Strings{"10 20 5060 sip.example.com."});
  EXPECT_EQ(values(find_set(z, "caa.example.com.", rrtype::CAA)),
            Strings{"0 issue \"ca.example.net\""});
  EXPECT_EQ(values(find_set(z, "alias.example.com.", rrtype::CNAME)), Strings{"www.example.com."});
  EXPECT_EQ(values(find_set(z, "esc\\.aped.example.com.", rrtype::A)), Strings{"192.0.2.12"});

  // After "$ORIGIN sub" (relative to the current origin).
  EXPECT_EQ(values(find_set(z, "host.sub.example.com.", rrtype::A)), Strings{"192.0.2.20"});
  EXPECT_EQ(values(find_set(z, "sub.example.com.", rrtype::TXT)), Strings{"\"sub apex\""});
  // $INCLUDE twice: once under the current origin, once under the origin given on the line.
  EXPECT_EQ(values(find_set(z, "inc1.sub.example.com.", rrtype::A)), Strings{"192.0.2.40"});
  EXPECT_EQ(values(find_set(z, "inc1.sub.example.com.", rrtype::TXT)), Strings{"\"included\""});
  EXPECT_EQ(values(find_set(z, "inc1.other.example.com.", rrtype::A)), Strings{"192.0.2.40"});
  EXPECT_EQ(values(find_set(z, "after.sub.example.com.", rrtype::A)), Strings{"192.0.2.30"});

  // Empty non-terminals exist as empty nodes.
  ASSERT_NE(z.find(N("_tcp.example.com.")), nullptr);
  EXPECT_TRUE(z.find(N("_tcp.example.com."))->empty());
  ASSERT_NE(z.find(N("other.example.com.")), nullptr);
  EXPECT_TRUE(z.find(N("other.example.com."))->empty());
  EXPECT_EQ(z.find(N("nothere.example.com.")), nullptr);
  EXPECT_EQ(z.record_set_count(), 21u);
}

TEST(MasterFileTest, TtlDefaultsFollowRfc1035) {
  // Without $TTL a record without a TTL takes the last explicit one.
  auto z = parse_master_file(
      "example.com. 500 SOA ns hm 1 2 3 4 5\n"
      "@ NS ns\n"
      "ns A 192.0.2.1\n"
      "$TTL 77\n"
      "later A 192.0.2.2\n",
      N("example.com."), "ttl.zone");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(find_set(*z, "example.com.", rrtype::NS)->ttl, 500u);
  EXPECT_EQ(find_set(*z, "ns.example.com.", rrtype::A)->ttl, 500u);
  EXPECT_EQ(find_set(*z, "later.example.com.", rrtype::A)->ttl, 77u);
}

TEST(MasterFileTest, SpecialCharactersInQuotesAndComments) {
  // ';', '(' and ')' inside quotes are data; inside comments they are ignored, even within
  // parentheses; a comment holding a quote does not open a string.
  auto z = parse_master_file(
      "$TTL 60\n"
      "@ SOA ns hm ( 1 2 ; comment with ) and \" in it\n"
      "  3 4 5 )\n"
      "@ NS ns ; it's \"fine\n"
      "q TXT \"a (b) ; c\" \"back\\\\slash\" \"\\(x\\)\"\n"
      "z A 192.0.2.9\n",
      N("example.com."), "special.zone");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(values(find_set(*z, "q.example.com.", rrtype::TXT)),
            Strings{"\"a (b) ; c\" \"back\\\\slash\" \"(x)\""});
  EXPECT_EQ(z->soa_fields()->minimum, 5u);
  EXPECT_EQ(values(find_set(*z, "z.example.com.", rrtype::A)), Strings{"192.0.2.9"});
}

TEST(MasterFileTest, CrLfLineEndingsAndTrailingLineWithoutNewline) {
  auto z = parse_master_file("$TTL 60\r\n@ SOA ns hm 1 2 3 4 5\r\n@ NS ns\r\nns A 192.0.2.1",
                             N("example.com."), "crlf.zone");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(values(find_set(*z, "ns.example.com.", rrtype::A)), Strings{"192.0.2.1"});
}

// ---------------------------------------------------------------------------------------------
// Master files: one row per class of bad file, with the exact file:line

struct BadZoneFile {
  const char* what;
  std::string text;
  int line;              // 0: the error names the file only (a whole-zone problem)
  const char* fragment;  // part of the message
};

// Lines 1-5 of every bad file: a valid start, so the row's own lines begin at line 6.
const std::string kHead =
    "$ORIGIN example.com.\n"
    "$TTL 300\n"
    "@ SOA ns1 hostmaster 1 3600 900 604800 300\n"
    "@ NS ns1\n"
    "ns1 A 192.0.2.1\n";

std::vector<BadZoneFile> bad_zone_files() {
  const std::string l64(64, 'x');
  return {
      {"unknown type", kHead + "www IN BOGUS 192.0.2.1\n", 6, "unknown record type 'BOGUS'"},
      {"bad IPv4", kHead + "www A 192.0.2.256\n", 6, "bad IPv4 address '192.0.2.256'"},
      {"short IPv4", kHead + "www A 192.0.2\n", 6, "bad IPv4 address"},
      {"bad IPv4 after comments and blank lines",
       kHead + "; a comment\n\n   ; another\nwww A 192.0.2.1\nwww2 A 10.0.0.999\n", 10,
       "bad IPv4 address '10.0.0.999'"},
      {"bad IPv6", kHead + "www AAAA 2001:db8::1::2\n", 6, "bad IPv6 address"},
      {"IPv4 given as IPv6", kHead + "www AAAA 192.0.2.1\n", 6, "bad IPv6 address"},
      {"missing RDATA", kHead + "www A\n", 6, "A needs 1 field(s), got 0"},
      {"missing RDATA before a comment", kHead + "www MX ; nothing here\n", 6,
       "MX needs 2 field(s), got 0"},
      {"missing type", kHead + "www 300 IN\n", 6, "record has no type"},
      {"'(' never closed", kHead + "www TXT ( \"a\"\nnext A 192.0.2.1\n", 6, "'(' is never closed"},
      {"')' without '('", kHead + "www A 192.0.2.1 )\n", 6, "')' without '('"},
      {"bad record TTL", kHead + "www 1y A 192.0.2.1\n", 6, "bad TTL '1y'"},
      {"record TTL above 2^31-1", kHead + "www 2147483648 A 192.0.2.1\n", 6,
       "bad TTL '2147483648'"},
      {"bad $TTL", kHead + "$TTL forever\n", 6, "bad $TTL 'forever'"},
      {"$TTL above 2^31-1", kHead + "$TTL 4294967296\n", 6, "bad $TTL"},
      {"owner label too long", kHead + l64 + " A 192.0.2.1\n", 6, "label longer than 63 octets"},
      {"target label too long", kHead + "www CNAME " + l64 + "\n", 6,
       "label longer than 63 octets"},
      {"owner outside the zone", kHead + "www.example.org. A 192.0.2.1\n", 6, "outside the zone"},
      {"$ORIGIN outside the zone", kHead + "$ORIGIN example.org.\nwww A 192.0.2.1\n", 7,
       "outside the zone"},
      {"CNAME after other data", kHead + "www A 192.0.2.1\nwww CNAME ns1\n", 7, "cannot coexist"},
      {"other data after CNAME", kHead + "www CNAME ns1\nwww A 192.0.2.1\n", 7, "cannot coexist"},
      {"two CNAME records", kHead + "www CNAME ns1\nwww CNAME ns2\n", 7, "only one CNAME"},
      {"CNAME at the apex", kHead + "@ CNAME ns1\n", 6, "cannot coexist"},
      {"two SOA records", kHead + "@ SOA ns2 hostmaster 2 3600 900 604800 300\n", 6,
       "only one SOA"},
      {"SOA below the apex", kHead + "sub SOA ns2 hostmaster 2 3600 900 604800 300\n", 6,
       "not at the zone apex"},
      {"no SOA", "$ORIGIN example.com.\n$TTL 300\n@ NS ns1\nns1 A 192.0.2.1\n", 0,
       "has no SOA record"},
      {"quote open at end of line", kHead + "txt TXT \"abc\nnext A 192.0.2.1\n", 6,
       "newline inside a quoted string"},
      {"quote open at end of file", kHead + "txt TXT \"abc", 6, "unterminated quoted string"},
      {"no TTL anywhere", "$ORIGIN example.com.\n@ SOA ns1 hm 1 2 3 4 5\n", 2, "no TTL"},
      {"unknown directive", kHead + "$GENERATE 1-3 h$ A 192.0.2.$\n", 6, "unknown directive"},
      {"class other than IN", kHead + "www CH TXT \"x\"\n", 6, "not supported"},
      {"first record without owner", "$TTL 300\n  A 192.0.2.1\n", 2, "no previous owner"},
      {"$INCLUDE of a missing file", kHead + "$INCLUDE does-not-exist.inc\n", 6,
       "cannot read included file"},
      {"multi-line record reports its first line",
       kHead + "\nwww SOA (\n  ns1 hostmaster\n  1 2 3 4 x )\n", 7, "bad SOA minimum"},
      {"CRLF file", "$TTL 300\r\n@ SOA ns1 hm 1 2 3 4 5\r\n@ NS ns1\r\nwww A 1.2.3.4.5\r\n", 4,
       "bad IPv4"},
  };
}

TEST(MasterFileTest, EachBadFileNamesFileAndLine) {
  ScratchDir dir;
  int n = 0;
  for (const BadZoneFile& row : bad_zone_files()) {
    SCOPED_TRACE(row.what);
    const std::string path = dir.write("bad" + std::to_string(n++) + ".zone", row.text);
    auto z = load_master_file(path, N("example.com."));
    ASSERT_FALSE(z.ok());
    const std::string want = row.line ? path + ":" + std::to_string(row.line) : path;
    EXPECT_EQ(z.error().where, want) << z.error().to_string();
    EXPECT_NE(z.error().what.find(row.fragment), std::string::npos) << z.error().to_string();

    // The text entry point reports the same location under its source name.
    auto t = parse_master_file(row.text, N("example.com."), "text.zone");
    if (std::string(row.what).find("$INCLUDE") != std::string::npos) continue;
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().where, row.line ? "text.zone:" + std::to_string(row.line) : "text.zone");
  }
}

TEST(MasterFileTest, ErrorInsideAnIncludedFileNamesThatFile) {
  ScratchDir dir;
  const std::string inc = dir.write("parts/hosts.inc", "ok A 192.0.2.1\n\nbad A 192.0.2.999\n");
  const std::string main = dir.write("main.zone", kHead + "$INCLUDE parts/hosts.inc\n");
  auto z = load_master_file(main, N("example.com."));
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().where, inc + ":3");
  EXPECT_NE(z.error().what.find("bad IPv4"), std::string::npos);

  // An $INCLUDE origin outside the zone: the record inside the include is rejected there.
  dir.write("out.inc", "x A 192.0.2.1\n");
  const std::string main2 = dir.write("main2.zone", kHead + "$INCLUDE out.inc example.org.\n");
  auto z2 = load_master_file(main2, N("example.com."));
  ASSERT_FALSE(z2.ok());
  EXPECT_EQ(z2.error().where, (dir.path() / "out.inc").string() + ":1");
  EXPECT_NE(z2.error().what.find("outside the zone"), std::string::npos);
}

// $INCLUDE reads regular files below the zone file's directory only, and zone text (the control
// API's) reads none; errors name the path and never quote what a refused file holds.
TEST(MasterFileTest, IncludeStaysBelowTheZoneFilesDirectory) {
  ScratchDir dir;
  ScratchDir outside;
  const std::string secret = outside.write("secret.txt", "topsecret-line A 192.0.2.1\n");
  struct Row {
    const char* what;
    std::string directive;
    const char* fragment;
  };
  // A symlink inside the directory that leads out of it, and a FIFO (not a regular file).
  fs::create_symlink(secret, dir.path() / "link.inc");
  fs::create_symlink("/dev/zero", dir.path() / "zero.inc");
  ASSERT_EQ(mkfifo((dir.path() / "fifo.inc").c_str(), 0600), 0);
  const std::vector<Row> rows = {
      {"absolute path outside", "$INCLUDE " + secret, "is not below the zone file's directory"},
      {"/etc/hosts", "$INCLUDE /etc/hosts", "is not below the zone file's directory"},
      {"/proc/self/environ", "$INCLUDE /proc/self/environ", "is not below"},
      {"/dev/zero", "$INCLUDE /dev/zero", "is not below"},
      {"dot-dot", "$INCLUDE ../" + fs::path(outside.path()).filename().string() + "/secret.txt",
       "is not below"},
      {"symlink out", "$INCLUDE link.inc", "is not below"},
      {"symlink to a device", "$INCLUDE zero.inc", "is not below"},
      {"fifo", "$INCLUDE fifo.inc", "not a regular file"},
  };
  int n = 0;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    const std::string main =
        dir.write("m" + std::to_string(n++) + ".zone", kHead + row.directive + "\n");
    auto z = load_master_file(main, N("example.com."));
    ASSERT_FALSE(z.ok());
    EXPECT_EQ(z.error().where, main + ":6");
    EXPECT_NE(z.error().what.find(row.fragment), std::string::npos) << z.error().to_string();
    EXPECT_EQ(z.error().what.find("topsecret"), std::string::npos) << z.error().to_string();
  }
}

TEST(MasterFileTest, ZoneTextReadsNoFiles) {
  ScratchDir dir;
  const std::string inc = dir.write("hosts.inc", "ok A 192.0.2.1\n");
  for (const std::string& target : {inc, std::string("/etc/hosts"), std::string("/dev/zero")}) {
    auto t = parse_master_file(kHead + "$INCLUDE " + target + "\n", N("example.com."), "api");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().where, "api:6");
    EXPECT_NE(t.error().what.find("$INCLUDE is not accepted"), std::string::npos)
        << t.error().to_string();
  }
}

TEST(MasterFileTest, ErrorsQuoteAtMostAShortPieceOfTheLine) {
  const std::string long_owner(3000, 'x');
  auto t = parse_master_file(kHead + long_owner + std::string(" A\x01\x02 192.0.2.1\n"),
                             N("example.com."), "api");
  ASSERT_FALSE(t.ok());
  EXPECT_LE(t.error().what.size(), 130u) << t.error().what;
  for (char c : t.error().what) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
}

TEST(MasterFileTest, MissingFileIsAnError) {
  auto z = load_master_file((kDataDir / "no-such.zone").string(), N("example.com."));
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().where, (kDataDir / "no-such.zone").string());
}

// ---------------------------------------------------------------------------------------------
// Route 53 JSON: the three shapes and every routing policy

TEST(Route53JsonTest, ResourceRecordSetsShapeKeepsEveryRoutingPolicy) {
  auto zone =
      load_route53_json((kDataDir / "example.net.records.json").string(), N("example.net."));
  ASSERT_TRUE(zone.ok()) << zone.error().to_string();
  const Zone& z = *zone;
  EXPECT_EQ(z.record_set_count(), 17u);  // every set in the file, none dropped
  EXPECT_EQ(z.soa_fields()->serial, 1u);
  EXPECT_EQ(values(find_set(z, "example.net.", rrtype::NS)),
            (Strings{"ns-1.awsdns-01.org.", "ns-2.awsdns-02.co.uk."}));
  const RecordSet* www = find_set(z, "www.example.net.", rrtype::A);
  ASSERT_NE(www, nullptr);
  EXPECT_TRUE(www->is_simple());
  EXPECT_EQ(www->ttl, 60u);
  EXPECT_EQ(values(www), (Strings{"198.51.100.1", "198.51.100.2"}));

  const RecordSet* blue = find_set(z, "w.example.net.", rrtype::A, "blue");
  const RecordSet* green = find_set(z, "w.example.net.", rrtype::A, "green");
  ASSERT_TRUE(blue && green);
  EXPECT_EQ(blue->policy, RoutingPolicy::kWeighted);
  EXPECT_EQ(blue->weight, 70);
  EXPECT_EQ(green->weight, 0);
  EXPECT_EQ(green->health_check_id, "hc-green");
  EXPECT_EQ(values(green), Strings{"198.51.100.11"});
  EXPECT_EQ(z.find(N("w.example.net."))->group(rrtype::A).size(), 2u);
  EXPECT_EQ(z.find(N("w.example.net."))->find(rrtype::A), nullptr);  // no simple set there

  const RecordSet* primary = find_set(z, "f.example.net.", rrtype::A, "primary");
  const RecordSet* secondary = find_set(z, "f.example.net.", rrtype::A, "secondary");
  ASSERT_TRUE(primary && secondary);
  EXPECT_EQ(primary->policy, RoutingPolicy::kFailover);
  EXPECT_EQ(primary->failover, FailoverRole::kPrimary);
  EXPECT_EQ(primary->health_check_id, "hc-primary");
  EXPECT_EQ(secondary->failover, FailoverRole::kSecondary);

  const RecordSet* eu = find_set(z, "geo.example.net.", rrtype::A, "europe");
  const RecordSet* ca = find_set(z, "geo.example.net.", rrtype::A, "california");
  const RecordSet* def = find_set(z, "geo.example.net.", rrtype::A, "default");
  ASSERT_TRUE(eu && ca && def);
  EXPECT_EQ(eu->policy, RoutingPolicy::kGeolocation);
  EXPECT_EQ(eu->geolocation->continent_code, "EU");
  EXPECT_EQ(ca->geolocation->country_code, "US");
  EXPECT_EQ(ca->geolocation->subdivision_code, "CA");
  EXPECT_EQ(def->geolocation->country_code, "*");

  const RecordSet* lat = find_set(z, "lat.example.net.", rrtype::AAAA, "fra");
  ASSERT_NE(lat, nullptr);
  EXPECT_EQ(lat->policy, RoutingPolicy::kLatency);
  EXPECT_EQ(lat->region, "eu-central-1");
  EXPECT_EQ(values(lat), Strings{"2001:db8::30"});

  const RecordSet* mv1 = find_set(z, "mv.example.net.", rrtype::A, "mv-1");
  const RecordSet* mv2 = find_set(z, "mv.example.net.", rrtype::A, "mv-2");
  ASSERT_TRUE(mv1 && mv2);
  EXPECT_EQ(mv1->policy, RoutingPolicy::kMultivalue);
  EXPECT_EQ(mv1->health_check_id, "hc-mv-1");
  EXPECT_EQ(values(mv2), Strings{"198.51.100.41"});

  const RecordSet* alias = find_set(z, "alias.example.net.", rrtype::A);
  ASSERT_NE(alias, nullptr);
  ASSERT_TRUE(alias->alias.has_value());
  EXPECT_FALSE(alias->is_simple());
  EXPECT_EQ(alias->alias->hosted_zone_id, "Z2FDTNDATAQYW2");
  EXPECT_EQ(alias->alias->dns_name.to_text(), "d111111abcdef8.cloudfront.net.");
  EXPECT_TRUE(alias->alias->evaluate_target_health);
  EXPECT_TRUE(alias->rdatas.empty());

  const RecordSet* prox = find_set(z, "prox.example.net.", rrtype::A, "near-dublin");
  ASSERT_NE(prox, nullptr);
  EXPECT_EQ(prox->policy, RoutingPolicy::kGeoproximity);
  EXPECT_DOUBLE_EQ(*prox->geoproximity->latitude, 53.35);
  EXPECT_DOUBLE_EQ(*prox->geoproximity->longitude, -6.26);
  EXPECT_EQ(prox->geoproximity->bias, 10);

  const RecordSet* cidr = find_set(z, "cidr.example.net.", rrtype::A, "office");
  ASSERT_NE(cidr, nullptr);
  EXPECT_EQ(cidr->policy, RoutingPolicy::kIpBased);
  EXPECT_EQ(cidr->cidr_routing->collection_id, "c-1");
  EXPECT_EQ(cidr->cidr_routing->location_name, "office");

  // Route 53's octal escape \052 is '*'.
  const RecordSet* wild = find_set(z, "*.wild.example.net.", rrtype::TXT);
  ASSERT_NE(wild, nullptr);
  EXPECT_EQ(values(wild), (Strings{"\"two words\" \"\"", "\"v=spf1 -all\""}));

  // Export and import again: the same record set, policy fields included.
  for (const auto& [key, node] : z.nodes()) {
    for (const auto& rs : node.record_sets) {
      const auto j = record_set_to_json(rs);
      auto back = record_set_from_json(j, N("example.net."), "/x");
      ASSERT_TRUE(back.ok()) << back.error().to_string() << " for " << j.dump();
      EXPECT_EQ(record_set_to_json(*back), j);
    }
  }
}

TEST(Route53JsonTest, BareListLoads) {
  auto z = load_route53_json((kDataDir / "example.net.list.json").string(), N("example.net."));
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(z->record_set_count(), 4u);
  EXPECT_EQ(z->soa_fields()->serial, 5u);
  EXPECT_EQ(values(find_set(*z, "mail.example.net.", rrtype::MX)),
            (Strings{"10 mx1.example.net.", "20 mx2.example.net."}));
}

TEST(Route53JsonTest, ChangeBatchLoads) {
  auto z = load_route53_json((kDataDir / "example.net.changes.json").string(), N("example.net."));
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(z->record_set_count(), 4u);
  EXPECT_EQ(z->soa_fields()->serial, 9u);
  EXPECT_EQ(values(find_set(*z, "api.example.net.", rrtype::CNAME)), Strings{"w.example.net."});
  const RecordSet* blue = find_set(*z, "w.example.net.", rrtype::A, "blue");
  ASSERT_NE(blue, nullptr);
  EXPECT_EQ(blue->weight, 1);
}

struct BadJson {
  const char* what;
  std::string text;
  std::string path;  // JSON path or change index after "file: "; empty: the file alone
  const char* fragment;
};

// Sets 0-2 of every bad ResourceRecordSets file are valid, so the row's own set is index 3.
std::string records_file(const std::string& fourth) {
  return R"({"ResourceRecordSets": [
    {"Name": "example.net.", "Type": "SOA", "TTL": 900,
     "ResourceRecords": [{"Value": "ns1.example.net. hm.example.net. 1 2 3 4 5"}]},
    {"Name": "example.net.", "Type": "NS", "TTL": 900, "ResourceRecords": [{"Value": "ns1"}]},
    {"Name": "ns1.example.net.", "Type": "A", "TTL": 900,
     "ResourceRecords": [{"Value": "198.51.100.53"}]},
    )" + fourth +
         "]}";
}

const std::string kSoaChange =
    R"({"Action": "CREATE", "ResourceRecordSet": {"Name": "example.net.", "Type": "SOA",
        "TTL": 900, "ResourceRecords": [{"Value": "ns1.example.net. hm.example.net. 1 2 3 4 5"}]}})";

std::vector<BadJson> bad_json_files() {
  const std::string a = R"("Name": "x.example.net.", "Type": "A")";
  const std::string rr = R"("ResourceRecords": [{"Value": "198.51.100.1"}])";
  return {
      {"TTL as a string", records_file("{" + a + R"(, "TTL": "60", )" + rr + "}"),
       "/ResourceRecordSets/3/TTL", "must be an integer"},
      {"negative TTL", records_file("{" + a + R"(, "TTL": -1, )" + rr + "}"),
       "/ResourceRecordSets/3/TTL", "must be an integer"},
      {"TTL missing", records_file("{" + a + ", " + rr + "}"), "/ResourceRecordSets/3/TTL",
       "is required"},
      {"Name missing", records_file(R"({"Type": "A", "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/Name", "is required"},
      {"Name outside the zone",
       records_file(R"({"Name": "x.example.org.", "Type": "A", "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3", "outside the zone"},
      {"unknown type",
       records_file(R"({"Name": "x.example.net.", "Type": "BOGUS", "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/Type", "BOGUS"},
      {"bad value", records_file("{" + a + R"(, "TTL": 1, "ResourceRecords": [{"Value": "1.2.3.4"},
                     {"Value": "1.2.3.400"}]})"),
       "/ResourceRecordSets/3/ResourceRecords/1/Value", "bad IPv4 address"},
      {"duplicate value",
       records_file("{" + a + R"(, "TTL": 1, "ResourceRecords": [{"Value": "1.2.3.4"},
                     {"Value": "1.2.3.4"}]})"),
       "/ResourceRecordSets/3/ResourceRecords/1/Value", "duplicate"},
      {"empty ResourceRecords", records_file("{" + a + R"(, "TTL": 1, "ResourceRecords": []})"),
       "/ResourceRecordSets/3/ResourceRecords", "non-empty"},
      {"unknown field", records_file("{" + a + R"(, "TTL": 1, "Foo": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/Foo", "unknown field"},
      {"Weight 256",
       records_file("{" + a + R"(, "SetIdentifier": "s", "Weight": 256, "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/Weight", "0..255"},
      {"Weight without SetIdentifier",
       records_file("{" + a + R"(, "Weight": 5, "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/SetIdentifier", "is required for weighted routing"},
      {"SetIdentifier without a policy",
       records_file("{" + a + R"(, "SetIdentifier": "s", "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/SetIdentifier", "only allowed with a routing policy"},
      {"bad Failover",
       records_file("{" + a + R"(, "SetIdentifier": "s", "Failover": "TERTIARY", "TTL": 1, )" + rr +
                    "}"),
       "/ResourceRecordSets/3/Failover", "PRIMARY or SECONDARY"},
      {"bad continent",
       records_file("{" + a + R"(, "SetIdentifier": "s", "GeoLocation": {"ContinentCode": "XX"},
                     "TTL": 1, )" +
                    rr + "}"),
       "/ResourceRecordSets/3/GeoLocation/ContinentCode", "must be one of"},
      {"country XX",
       records_file("{" + a + R"(, "SetIdentifier": "s", "GeoLocation": {"CountryCode": "XX"},
                     "TTL": 1, )" +
                    rr + "}"),
       "/ResourceRecordSets/3/GeoLocation/CountryCode",
       "\"XX\" is not an ISO 3166-1 alpha-2 country code"},
      {"country QQ",
       records_file("{" + a + R"(, "SetIdentifier": "s", "GeoLocation": {"CountryCode": "QQ"},
                     "TTL": 1, )" +
                    rr + "}"),
       "/ResourceRecordSets/3/GeoLocation/CountryCode", "not an ISO 3166-1 alpha-2 country code"},
      {"subdivision US/ZZ", records_file("{" + a + R"(, "SetIdentifier": "s",
                     "GeoLocation": {"CountryCode": "US", "SubdivisionCode": "ZZ"},
                     "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/GeoLocation/SubdivisionCode",
       "\"ZZ\" is not a US state, DC or outlying area"},
      {"subdivision outside the US", records_file("{" + a + R"(, "SetIdentifier": "s",
                     "GeoLocation": {"CountryCode": "DE", "SubdivisionCode": "BY"},
                     "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/3/GeoLocation/SubdivisionCode",
       "supported only with CountryCode \"US\""},
      {"second PRIMARY",
       records_file("{" + a + R"(, "SetIdentifier": "one", "Failover": "PRIMARY", "TTL": 1, )" +
                    rr + "}, {" + a +
                    R"(, "SetIdentifier": "two", "Failover": "PRIMARY", "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/4/Failover",
       "failover group x.example.net. A would have a second PRIMARY: SetIdentifier \"two\" and "
       "\"one\""},
      {"second SECONDARY",
       records_file("{" + a + R"(, "SetIdentifier": "p", "Failover": "PRIMARY", "TTL": 1, )" + rr +
                    "}, {" + a + R"(, "SetIdentifier": "s1", "Failover": "SECONDARY", "TTL": 1, )" +
                    rr + "}, {" + a +
                    R"(, "SetIdentifier": "s2", "Failover": "SECONDARY", "TTL": 1, )" + rr + "}"),
       "/ResourceRecordSets/5/Failover", "would have a second SECONDARY"},
      {"two policies",
       records_file("{" + a + R"(, "SetIdentifier": "s", "Weight": 1, "Region": "us-east-1",
                     "TTL": 1, )" +
                    rr + "}"),
       "/ResourceRecordSets/3", "more than one routing policy"},
      {"alias with TTL", records_file("{" + a + R"(, "TTL": 1, "AliasTarget": {"HostedZoneId": "Z",
                     "DNSName": "t.example.net.", "EvaluateTargetHealth": false}})"),
       "/ResourceRecordSets/3/TTL", "not allowed with AliasTarget"},
      {"multivalue CNAME",
       records_file(R"({"Name": "m.example.net.", "Type": "CNAME", "SetIdentifier": "s",
                     "MultiValueAnswer": true, "TTL": 1, "ResourceRecords": [{"Value": "x."}]})"),
       "/ResourceRecordSets/3/MultiValueAnswer", "not allowed for CNAME"},
      {"record set repeated",
       records_file(R"({"Name": "ns1.example.net.", "Type": "A", "TTL": 5, )" + rr + "}"),
       "/ResourceRecordSets/3", "already exists"},
      {"CNAME beside other data",
       records_file(R"({"Name": "ns1.example.net.", "Type": "CNAME", "TTL": 5,
                     "ResourceRecords": [{"Value": "x.example.net."}]})"),
       "/ResourceRecordSets/3", "cannot coexist"},
      {"policies mixed in one group",
       records_file(R"({"Name": "ns1.example.net.", "Type": "A", "SetIdentifier": "s",
                     "Weight": 1, "TTL": 5, )" +
                    rr + "}"),
       "/ResourceRecordSets/3", "would mix routing policies simple and weighted"},
      {"bare list entry",
       R"([{"Name": "example.net.", "Type": "A", "TTL": true, "ResourceRecords": []}])", "/0/TTL",
       "must be an integer"},
      {"unknown top-level field", R"({"ResourceRecordSets": [], "Bogus": 1})", "/Bogus",
       "unknown field"},
      {"ResourceRecordSets not a list", R"({"ResourceRecordSets": {}})", "/ResourceRecordSets",
       "must be a list"},
      {"invalid JSON", "{\"ResourceRecordSets\": [", "", "invalid JSON"},
      {"no SOA", R"([{"Name": "a.example.net.", "Type": "A", "TTL": 1, )" + rr + "}]", "",
       "no SOA"},
      {"bad change action",
       R"({"Changes": [)" + kSoaChange + R"(, {"Action": "MERGE", "ResourceRecordSet": {}}]})",
       "/Changes/1/Action", "CREATE, DELETE or UPSERT"},
      {"bad record set in a change",
       R"({"Changes": [)" + kSoaChange +
           R"(, {"Action": "CREATE", "ResourceRecordSet": {"Name": "a.example.net.",
               "Type": "A", "TTL": "x", )" +
           rr + "}}]}",
       "/Changes/1/ResourceRecordSet/TTL", "must be an integer"},
      {"same set twice in a batch", R"({"Changes": [)" + kSoaChange + ", " + kSoaChange + "]}",
       "/Changes/1/ResourceRecordSet", "changed twice"},
      {"DELETE of a missing set",
       R"({"Changes": [)" + kSoaChange +
           R"(, {"Action": "DELETE", "ResourceRecordSet": {"Name": "a.example.net.",
               "Type": "A", "TTL": 1, )" +
           rr + "}}]}",
       "Changes[1]", "was not found"},
      {"empty change list", R"({"Changes": []})", "/Changes", "non-empty"},
      {"second PRIMARY in a change batch file",
       R"({"Changes": [)" + kSoaChange + R"(, {"Action": "CREATE", "ResourceRecordSet": {)" + a +
           R"(, "SetIdentifier": "one", "Failover": "PRIMARY", "TTL": 1, )" + rr +
           R"(}}, {"Action": "CREATE", "ResourceRecordSet": {)" + a +
           R"(, "SetIdentifier": "two", "Failover": "PRIMARY", "TTL": 1, )" + rr + "}}]}",
       "/Changes/2/ResourceRecordSet/Failover", "would have a second PRIMARY"},
  };
}

TEST(Route53JsonTest, EachBadFileNamesFileAndJsonPath) {
  ScratchDir dir;
  int n = 0;
  for (const BadJson& row : bad_json_files()) {
    SCOPED_TRACE(row.what);
    const std::string path = dir.write("bad" + std::to_string(n++) + ".json", row.text);
    auto z = load_route53_json(path, N("example.net."));
    ASSERT_FALSE(z.ok());
    EXPECT_EQ(z.error().where, row.path.empty() ? path : path + ": " + row.path)
        << z.error().to_string();
    EXPECT_NE(z.error().what.find(row.fragment), std::string::npos) << z.error().to_string();
  }
}

// ---------------------------------------------------------------------------------------------
// Change batches applied to a loaded zone

class ChangeBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto z = load_route53_json((kDataDir / "example.net.list.json").string(), N("example.net."));
    ASSERT_TRUE(z.ok()) << z.error().to_string();
    zone_.emplace(std::move(*z));
  }
  Result<ChangeBatch> batch(const std::string& changes) {
    return change_batch_from_json(nlohmann::json::parse(R"({"Changes": [)" + changes + "]}"),
                                  N("example.net."));
  }
  // Applies a batch that must fail, and checks the zone did not change at all.
  Error apply_failing(const std::string& changes) {
    auto b = batch(changes);
    EXPECT_TRUE(b.ok()) << b.error().to_string();
    if (!b.ok()) return b.error();
    const auto before = dump(*zone_);
    Status s = apply_change_batch(*zone_, *b);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(dump(*zone_), before);
    return s.ok() ? Error{} : s.error();
  }
  Status apply(const std::string& changes) {
    auto b = batch(changes);
    if (!b.ok()) return b.error();
    return apply_change_batch(*zone_, *b);
  }
  std::optional<Zone> zone_;
};

const char* kMx =
    R"({"Name": "mail.example.net.", "Type": "MX", "TTL": 300,
        "ResourceRecords": [{"Value": "10 mx1.example.net."}, {"Value": "20 mx2.example.net."}]})";

std::string change(const char* action, const std::string& rs) {
  return std::string(R"({"Action": ")") + action + R"(", "ResourceRecordSet": )" + rs + "}";
}

TEST_F(ChangeBatchTest, CreateOfAnExistingSetFails) {
  Error e = apply_failing(change("CREATE", R"({"Name": "ns1.example.net.", "Type": "A",
      "TTL": 1, "ResourceRecords": [{"Value": "198.51.100.99"}]})"));
  EXPECT_EQ(e.where, "Changes[0]");
  EXPECT_NE(e.what.find("already exists"), std::string::npos) << e.what;
  EXPECT_EQ(values(find_set(*zone_, "ns1.example.net.", rrtype::A)), Strings{"198.51.100.53"});
}

TEST_F(ChangeBatchTest, DeleteMustMatchExactly) {
  // Different TTL, a subset of the values, a different value: all refused.
  Error ttl = apply_failing(change("DELETE", R"({"Name": "mail.example.net.", "Type": "MX",
      "TTL": 301, "ResourceRecords": [{"Value": "10 mx1.example.net."},
      {"Value": "20 mx2.example.net."}]})"));
  EXPECT_EQ(ttl.where, "Changes[0]");
  EXPECT_NE(ttl.what.find("do not match"), std::string::npos) << ttl.what;
  Error subset = apply_failing(change("DELETE", R"({"Name": "mail.example.net.", "Type": "MX",
      "TTL": 300, "ResourceRecords": [{"Value": "10 mx1.example.net."}]})"));
  EXPECT_NE(subset.what.find("do not match"), std::string::npos) << subset.what;
  Error missing = apply_failing(change("DELETE", R"({"Name": "nope.example.net.", "Type": "A",
      "TTL": 1, "ResourceRecords": [{"Value": "198.51.100.1"}]})"));
  EXPECT_NE(missing.what.find("was not found"), std::string::npos) << missing.what;

  // The exact set (name case and trailing dot aside) is deleted, and its node with it.
  Status s = apply(change("DELETE", R"({"Name": "MAIL.example.net", "Type": "MX", "TTL": 300,
      "ResourceRecords": [{"Value": "10 mx1.example.net."}, {"Value": "20 mx2.example.net."}]})"));
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(find_set(*zone_, "mail.example.net.", rrtype::MX), nullptr);
  EXPECT_EQ(zone_->find(N("mail.example.net.")), nullptr);
  EXPECT_EQ(zone_->record_set_count(), 3u);
}

TEST_F(ChangeBatchTest, UpsertReplacesOrCreates) {
  Status s = apply(change("UPSERT", R"({"Name": "mail.example.net.", "Type": "MX", "TTL": 60,
      "ResourceRecords": [{"Value": "5 mx9.example.net."}]})") +
                   ", " + change("UPSERT", R"({"Name": "new.example.net.", "Type": "AAAA", "TTL": 7,
      "ResourceRecords": [{"Value": "2001:db8::7"}]})"));
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  const RecordSet* mx = find_set(*zone_, "mail.example.net.", rrtype::MX);
  ASSERT_NE(mx, nullptr);
  EXPECT_EQ(mx->ttl, 60u);
  EXPECT_EQ(values(mx), Strings{"5 mx9.example.net."});
  EXPECT_EQ(values(find_set(*zone_, "new.example.net.", rrtype::AAAA)), Strings{"2001:db8::7"});
  EXPECT_EQ(zone_->record_set_count(), 5u);
}

TEST_F(ChangeBatchTest, SameRecordSetTwiceInOneBatchFails) {
  auto b = batch(change("UPSERT", kMx) + ", " + change("DELETE", kMx));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().where, "/Changes/1/ResourceRecordSet");
  // Same name and type but different set identifiers are different record sets.
  auto ok = batch(change("CREATE", R"({"Name": "w.example.net.", "Type": "A",
      "SetIdentifier": "a", "Weight": 1, "TTL": 1, "ResourceRecords": [{"Value": "1.1.1.1"}]})") +
                  ", " + change("CREATE", R"({"Name": "w.example.net.", "Type": "A",
      "SetIdentifier": "b", "Weight": 2, "TTL": 1, "ResourceRecords": [{"Value": "2.2.2.2"}]})"));
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  ASSERT_TRUE(apply_change_batch(*zone_, *ok).ok());
  EXPECT_EQ(find_set(*zone_, "w.example.net.", rrtype::A, "b")->weight, 2);
}

TEST_F(ChangeBatchTest, FailingBatchLeavesTheZoneUnchanged) {
  // Two good changes, then one that fails: nothing of the batch is applied.
  Error e = apply_failing(
      change("CREATE", R"({"Name": "fresh.example.net.", "Type": "A", "TTL": 1,
          "ResourceRecords": [{"Value": "198.51.100.7"}]})") +
      ", " + change("DELETE", kMx) + ", " +
      change("CREATE", R"({"Name": "ns1.example.net.", "Type": "TXT", "TTL": 1,
          "ResourceRecords": [{"Value": "\"ok\""}]})") +
      ", " + change("CREATE", R"({"Name": "ns1.example.net.", "Type": "CNAME", "TTL": 1,
          "ResourceRecords": [{"Value": "x.example.net."}]})"));
  EXPECT_EQ(e.where, "Changes[3]");
  EXPECT_NE(e.what.find("cannot coexist"), std::string::npos) << e.what;
  EXPECT_EQ(zone_->find(N("fresh.example.net.")), nullptr);
  EXPECT_NE(find_set(*zone_, "mail.example.net.", rrtype::MX), nullptr);

  // A batch that would leave the zone without its SOA fails as a whole too.
  Error no_soa = apply_failing(change("DELETE", R"({"Name": "example.net.", "Type": "SOA",
      "TTL": 900, "ResourceRecords": [{"Value":
      "ns1.example.net. hostmaster.example.net. 5 7200 900 1209600 300"}]})"));
  EXPECT_NE(no_soa.what.find("no SOA"), std::string::npos) << no_soa.what;
}

TEST_F(ChangeBatchTest, RoutingPolicySetsAreDeletedOnlyWithTheirPolicyFields) {
  const std::string blue = R"({"Name": "w.example.net.", "Type": "A", "SetIdentifier": "blue",
      "Weight": 10, "TTL": 30, "ResourceRecords": [{"Value": "198.51.100.10"}]})";
  ASSERT_TRUE(apply(change("CREATE", blue)).ok());
  Error e = apply_failing(change("DELETE", R"({"Name": "w.example.net.", "Type": "A",
      "SetIdentifier": "blue", "Weight": 11, "TTL": 30,
      "ResourceRecords": [{"Value": "198.51.100.10"}]})"));
  EXPECT_NE(e.what.find("do not match"), std::string::npos) << e.what;
  ASSERT_TRUE(apply(change("DELETE", blue)).ok());
  EXPECT_EQ(zone_->find(N("w.example.net.")), nullptr);
}

std::string failover_set(const std::string& id, const std::string& role, const std::string& ip) {
  return R"({"Name": "f.example.net.", "Type": "A", "SetIdentifier": ")" + id +
         R"(", "Failover": ")" + role + R"(", "TTL": 30, "ResourceRecords": [{"Value": ")" + ip +
         R"("}]})";
}

// Route 53: a failover group has one PRIMARY and one SECONDARY. The error names the change that
// adds the second one, and the zone is left as it was.
TEST_F(ChangeBatchTest, SecondPrimaryOrSecondaryInAFailoverGroupFails) {
  const std::string p = failover_set("p", "PRIMARY", "198.51.100.1");
  const std::string s = failover_set("s", "SECONDARY", "198.51.100.2");
  ASSERT_TRUE(apply(change("CREATE", p) + "," + change("CREATE", s)).ok());

  Error primary = apply_failing(change("CREATE", failover_set("p2", "PRIMARY", "198.51.100.3")));
  EXPECT_EQ(primary.where, "/Changes/0/ResourceRecordSet/Failover");
  EXPECT_NE(primary.what.find("failover group f.example.net. A would have a second PRIMARY: "
                              "SetIdentifier \"p2\" and \"p\""),
            std::string::npos)
      << primary.what;
  Error secondary =
      apply_failing(change("CREATE", R"({"Name": "new.example.net.", "Type": "A", "TTL": 1,
                                         "ResourceRecords": [{"Value": "198.51.100.7"}]})") +
                    "," + change("UPSERT", failover_set("s2", "SECONDARY", "198.51.100.4")));
  EXPECT_EQ(secondary.where, "/Changes/1/ResourceRecordSet/Failover");
  EXPECT_NE(secondary.what.find("would have a second SECONDARY"), std::string::npos)
      << secondary.what;
  // Turning the secondary into a second primary by UPSERT is the same error.
  Error upsert = apply_failing(change("UPSERT", failover_set("s", "PRIMARY", "198.51.100.2")));
  EXPECT_EQ(upsert.where, "/Changes/0/ResourceRecordSet/Failover");

  // A role moves to another SetIdentifier in one batch, whatever the order of the changes.
  ASSERT_TRUE(apply(change("CREATE", failover_set("p2", "PRIMARY", "198.51.100.3")) + "," +
                    change("DELETE", p))
                  .ok());
  ASSERT_TRUE(apply(change("DELETE", s) + "," +
                    change("CREATE", failover_set("s2", "SECONDARY", "198.51.100.4")))
                  .ok());
  EXPECT_TRUE(zone_->validate().ok());
}

// Real codes load: a continent, countries (UA included), the default, US states and DC (in any
// case, as before), and US outlying areas.
TEST(Route53JsonTest, RealGeolocationCodesLoad) {
  const std::vector<std::string> locations = {
      R"({"ContinentCode": "EU"})",
      R"({"CountryCode": "DE"})",
      R"({"CountryCode": "UA"})",
      R"({"CountryCode": "*"})",
      R"({"CountryCode": "US", "SubdivisionCode": "CA"})",
      R"({"CountryCode": "US", "SubdivisionCode": "DC"})",
      R"({"CountryCode": "US", "SubdivisionCode": "pr"})",
  };
  std::string sets;
  for (size_t i = 0; i < locations.size(); ++i)
    sets += R"(, {"Name": "g.example.net.", "Type": "A", "SetIdentifier": "s)" + std::to_string(i) +
            R"(", "GeoLocation": )" + locations[i] +
            R"(, "TTL": 1, "ResourceRecords": [{"Value": "198.51.100.1"}]})";
  auto z = parse_route53_json(records_file(sets.substr(2)), N("example.net."), "test");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(z->find(N("g.example.net."))->group(rrtype::A).size(), locations.size());
}

// Zone::validate() checks the failover roles too (record sets added by other paths than the
// Route 53 readers, e.g. a state database).
TEST(ZoneValidateTest, SecondPrimaryInAFailoverGroupFails) {
  auto loaded = parse_route53_json(records_file(failover_set("a", "PRIMARY", "198.51.100.1")),
                                   N("example.net."), "test");
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  Zone zone = std::move(*loaded);
  RecordSet second = *zone.find(N("f.example.net."))->group(rrtype::A)[0];
  second.set_identifier = "b";
  ASSERT_TRUE(zone.add(second).ok());  // allowed for a moment (a batch may move the role)
  EXPECT_NE(zone.same_failover_role(second), nullptr);
  Status s = zone.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what.find("would have a second PRIMARY"), std::string::npos)
      << s.error().what;
  second.failover = FailoverRole::kSecondary;
  second.set_identifier = "c";
  EXPECT_EQ(zone.same_failover_role(second), nullptr);
}

}  // namespace
}  // namespace meridian::zone
