// A fleet's shared state as etcd values (manage/shared_state.h): zones and changes round-trip,
// the local cache's text form round-trips, and damaged values are refused with their key.
#include "manage/shared_state.h"

#include <gtest/gtest.h>

#include "zone/route53_json.h"

namespace meridian::manage {
namespace {

using nlohmann::json;

dns::Name N(std::string_view text) {
  auto n = dns::Name::from_text(text);
  EXPECT_TRUE(n.ok());
  return n.ok() ? *n : dns::Name();
}

zone::Zone sample_zone() {
  const dns::Name origin = N("example.org.");
  zone::Zone z(origin);
  for (
      const char* text :
      {R"({"Name":"example.org.","Type":"SOA","TTL":900,"ResourceRecords":[{"Value":"ns1.example.org. h.example.org. 1 7200 900 1209600 86400"}]})",
       R"({"Name":"example.org.","Type":"NS","TTL":300,"ResourceRecords":[{"Value":"ns1.example.org."}]})",
       R"({"Name":"www.example.org.","Type":"A","TTL":60,"SetIdentifier":"eu","Weight":10,"ResourceRecords":[{"Value":"192.0.2.1"}]})",
       R"({"Name":"www.example.org.","Type":"A","TTL":60,"SetIdentifier":"us","Weight":30,"ResourceRecords":[{"Value":"192.0.2.2"}]})"}) {
    auto rs = zone::record_set_from_json(json::parse(text), origin, "");
    EXPECT_TRUE(rs.ok()) << text;
    if (rs.ok()) EXPECT_TRUE(z.add(std::move(*rs)).ok());
  }
  return z;
}

TEST(SharedStateTest, AZoneRoundTripsThroughItsValue) {
  state::ZoneInfo info;
  info.id = "ZABCDEFGHIJKLM";
  info.origin = N("example.org.");
  info.comment = "edge zone";
  info.created_at_ms = 1765000000000;
  const zone::Zone z = sample_zone();
  const std::string text = zone_value(info, z);
  auto decoded = zone_from_value("zones/ZABCDEFGHIJKLM", text);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(decoded->info.id, info.id);
  EXPECT_TRUE(decoded->info.origin.equals(info.origin));
  EXPECT_EQ(decoded->info.comment, "edge zone");
  EXPECT_EQ(decoded->info.created_at_ms, info.created_at_ms);
  EXPECT_EQ(decoded->info.record_set_count, 4u);
  EXPECT_EQ(zone_value(decoded->info, decoded->zone), text);  // stable: same text, same key value
}

TEST(SharedStateTest, AZonesTagsTravelInItsValue) {
  state::ZoneInfo info;
  info.id = "ZABCDEFGHIJKLM";
  info.origin = N("example.org.");
  const zone::Zone z = sample_zone();
  // No tags: no "Tags" field, so values written before tags existed stay the same text.
  EXPECT_FALSE(json::parse(zone_value(info, z)).contains("Tags"));
  info.tags = {{"team", "edge"}, {"env", ""}};
  const std::string text = zone_value(info, z);
  EXPECT_EQ(json::parse(text)["Tags"],
            json::parse(R"([{"Key":"env","Value":""},{"Key":"team","Value":"edge"}])"));
  auto decoded = zone_from_value("zones/ZABCDEFGHIJKLM", text);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(decoded->info.tags, info.tags);
  json bad = json::parse(text);
  bad["Tags"][0]["Key"] = "";
  auto refused = zone_from_value("zones/ZABCDEFGHIJKLM", bad.dump());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().to_string().find("zones/ZABCDEFGHIJKLM/Tags/0/Key"), std::string::npos)
      << refused.error().to_string();
}

TEST(SharedStateTest, DamagedZoneValuesAreRefusedWithTheirKey) {
  for (const char* bad :
       {"not json", "[]", R"({"Id":"Z1","Name":"example.org."})",
        R"({"Id":"Z1","Name":"example.org.","ResourceRecordSets":[{"Type":"A"}]})"}) {
    auto decoded = zone_from_value("zones/Z1", bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_NE(decoded.error().to_string().find("zones/Z1"), std::string::npos)
        << decoded.error().to_string();
  }
}

TEST(SharedStateTest, ChangesAndTheCacheRoundTrip) {
  state::ChangeInfo c = state::new_change("ZABC", "move traffic", 3);
  auto back = change_from_value(change_value(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, c.id);
  EXPECT_EQ(back->zone_id, "ZABC");
  EXPECT_EQ(back->comment, "move traffic");
  EXPECT_EQ(back->change_count, 3u);
  EXPECT_EQ(back->submitted_at_ms, c.submitted_at_ms);

  SharedState s{17, 15, {{"zones/Z1", "{\"a\":1}"}, {"checks/web", "{\"Id\":\"web\"}"}}};
  auto cached = shared_state_from_text(shared_state_text(s));
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(*cached, s);
  EXPECT_FALSE(shared_state_from_text("{\"Revision\":1}").ok());
}

}  // namespace
}  // namespace meridian::manage
