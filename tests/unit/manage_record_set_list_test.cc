// ListResourceRecordSets paging (manage/record_set_list.h) over `aws route53
// list-resource-record-sets` output (tests/unit/data/route53-list-resource-record-sets.json, in
// Route 53's order): the fixture loads unchanged, lists back in the same order, and pages of any
// size chained through NextRecordName/Type/Identifier give the whole list once.
#include "manage/record_set_list.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "manage/catalog.h"
#include "zone/route53_json.h"

namespace meridian::manage {
namespace {

const std::filesystem::path kFixture = std::filesystem::path(__FILE__).parent_path() / "data" /
                                       "route53-list-resource-record-sets.json";

dns::Name origin() {
  return *dns::Name::from_text("example.org.");
}

std::vector<zone::RecordSet> fixture_sets() {
  auto z = zone::load_route53_json(kFixture.string(), origin());
  EXPECT_TRUE(z.ok()) << z.error().to_string();
  return z.ok() ? record_sets_of(*z) : std::vector<zone::RecordSet>{};
}

// "name type [identifier]" of every record set (Route 53 prints a wildcard's '*' as the octal
// escape "\052", we print '*').
std::vector<std::string> positions(const nlohmann::json& sets) {
  std::vector<std::string> out;
  for (const auto& rs : sets) {
    std::string name = rs["Name"].get<std::string>();
    if (name.starts_with("\\052.")) name = "*" + name.substr(4);
    std::string p = name + " " + rs["Type"].get<std::string>();
    if (rs.contains("SetIdentifier")) p += " " + rs["SetIdentifier"].get<std::string>();
    out.push_back(p);
  }
  return out;
}

// A request starting at (name, type, identifier), at most `max` per page (empty: not given).
ListRequest start_at(std::string name, std::string type = "", std::string id = "",
                     std::string max = "") {
  ListRequest r;
  r.start_name = std::move(name);
  r.start_type = std::move(type);
  r.start_identifier = std::move(id);
  r.max_items = std::move(max);
  return r;
}

nlohmann::json page(const ListRequest& request) {
  auto p = list_record_sets_page(fixture_sets(), origin(), request);
  EXPECT_TRUE(p.ok()) << p.error().to_string();
  return p.ok() ? *p : nlohmann::json::object();
}

TEST(RecordSetListTest, SortNameReversesTheLabels) {
  EXPECT_EQ(route53_sort_name(*dns::Name::from_text("WWW.Example.COM.")), "com.example.www.");
  EXPECT_EQ(route53_sort_name(dns::Name()), "");
  // The trailing dot matters: '-' sorts before '.'.
  EXPECT_LT(route53_sort_name(*dns::Name::from_text("api-v2.example.org.")),
            route53_sort_name(*dns::Name::from_text("api.example.org.")));
}

TEST(RecordSetListTest, FixtureListsInRoute53Order) {
  std::ifstream in(kFixture);
  const auto doc = nlohmann::json::parse(in);
  const auto all = page({});
  EXPECT_EQ(positions(all["ResourceRecordSets"]), positions(doc["ResourceRecordSets"]));
  EXPECT_EQ(all["IsTruncated"], false);
  EXPECT_EQ(all["MaxItems"], "300");
  EXPECT_FALSE(all.contains("NextRecordName"));
}

TEST(RecordSetListTest, PagesChainToTheWholeListOnce) {
  const auto whole = positions(page({})["ResourceRecordSets"]);
  for (size_t size = 1; size <= whole.size() + 1; ++size) {
    SCOPED_TRACE("page size " + std::to_string(size));
    std::vector<std::string> seen;
    ListRequest r;
    r.max_items = std::to_string(size);
    for (int guard = 0; guard < 100; ++guard) {
      const auto p = page(r);
      for (const auto& s : positions(p["ResourceRecordSets"])) seen.push_back(s);
      EXPECT_LE(p["ResourceRecordSets"].size(), size);
      if (!p["IsTruncated"].get<bool>()) break;
      r.start_name = p["NextRecordName"];
      r.start_type = p["NextRecordType"];
      r.start_identifier = p.value("NextRecordIdentifier", "");
    }
    EXPECT_EQ(seen, whole);
  }
}

TEST(RecordSetListTest, StartAndNextFollowRoute53) {
  // Absolute without the dot, as Route 53 reads it.
  auto p = page(start_at("api.example.org", "", "", "1"));
  EXPECT_EQ(positions(p["ResourceRecordSets"]),
            std::vector<std::string>{"api.example.org. A blue"});
  EXPECT_EQ(p["IsTruncated"], true);
  EXPECT_EQ(p["NextRecordName"], "api.example.org.");
  EXPECT_EQ(p["NextRecordType"], "A");
  EXPECT_EQ(p["NextRecordIdentifier"], "green");
  // Name and type: the first record set at or after them (SOA after NS at the apex).
  p = page(start_at("example.org.", "NS", "", "2"));
  EXPECT_EQ(positions(p["ResourceRecordSets"]),
            (std::vector<std::string>{"example.org. NS", "example.org. SOA"}));
  EXPECT_EQ(p["NextRecordName"], "example.org.");
  EXPECT_EQ(p["NextRecordType"], "TXT");
  EXPECT_FALSE(p.contains("NextRecordIdentifier"));
  // A name relative to the zone, between two names: the next one.
  EXPECT_EQ(positions(page(start_at("b"))["ResourceRecordSets"]).front(), "mail.example.org. A");
  // Past the end: empty, not truncated. More than 300 asked: 300.
  p = page(start_at("zzz", "", "", "5000"));
  EXPECT_TRUE(p["ResourceRecordSets"].empty());
  EXPECT_EQ(p["IsTruncated"], false);
  EXPECT_EQ(p["MaxItems"], "300");
  // Filters apply before paging.
  ListRequest only_a = start_at("www", "", "", "2");
  only_a.type = "A";
  p = page(only_a);
  EXPECT_EQ(positions(p["ResourceRecordSets"]),
            (std::vector<std::string>{"www.example.org. A default", "www.example.org. A europe"}));
  EXPECT_EQ(p["IsTruncated"], false);
}

TEST(RecordSetListTest, BadParametersNameThemselves) {
  struct Row {
    ListRequest request;
    std::string error;
  };
  const std::vector<Row> rows = {
      {start_at("", "A", "", ""), "StartRecordType: StartRecordType needs StartRecordName"},
      {start_at("www", "", "x", ""),
       "StartRecordIdentifier: StartRecordIdentifier needs StartRecordName and StartRecordType"},
      {start_at("www", "BOGUS", "", ""), "StartRecordType: unknown record type \"BOGUS\""},
      {start_at("", "", "", "0"), "MaxItems: must be a whole number of at least 1"},
      {start_at("", "", "", "ten"), "MaxItems: must be a whole number of at least 1"},
      {start_at("a..b", "", "", ""), "StartRecordName: not a valid name"},
  };
  for (const auto& row : rows) {
    auto p = list_record_sets_page(fixture_sets(), origin(), row.request);
    ASSERT_FALSE(p.ok()) << row.error;
    EXPECT_EQ(p.error().to_string(), row.error);
  }
}

TEST(RecordSetListTest, TruncatedListOutputLoadsToo) {
  // A page Route 53 truncated carries the Next* fields, NextRecordIdentifier included.
  auto z = zone::parse_route53_json(R"({"ResourceRecordSets": [
      {"Name": "example.org.", "Type": "SOA", "TTL": 900, "ResourceRecords": [{"Value":
        "ns-1.awsdns-00.co.uk. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}]},
      {"Name": "example.org.", "Type": "NS", "TTL": 172800,
       "ResourceRecords": [{"Value": "ns-1.awsdns-00.co.uk."}]}],
    "IsTruncated": true, "NextRecordName": "api.example.org.", "NextRecordType": "A",
    "NextRecordIdentifier": "green", "MaxItems": "2"})",
                                    origin(), "page.json");
  EXPECT_TRUE(z.ok()) << z.error().to_string();
}

}  // namespace
}  // namespace meridian::manage
