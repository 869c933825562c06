// The catalog against a real SQLite state database: every change-batch rule of the spec
// (all or nothing, CREATE/DELETE/UPSERT, duplicates in a batch, errors naming the change index
// and field, routing-policy groups, health-check references), a 1,000-change batch, an invalid
// change at position 999 that leaves everything untouched, seeding from the config file and
// applying a changed file as a difference on top of the API's changes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/daemon_config.h"
#include "manage/catalog.h"
#include "manage/zone_text.h"
#include "unit/test_files.h"
#include "zone/master_file.h"
#include "zone/route53_json.h"

namespace meridian::manage {
namespace {

using nlohmann::json;

constexpr const char* kZoneText =
    "$ORIGIN example.org.\n$TTL 300\n"
    "@ SOA ns1 hostmaster 1 7200 900 1209600 300\n"
    "@ NS ns1\n"
    "ns1 A 198.18.0.53\n"
    "www A 198.18.0.80\n";

json rrset(const std::string& name, const std::string& type, const std::string& value,
           int ttl = 60) {
  return json{
      {"Name", name}, {"Type", type}, {"TTL", ttl}, {"ResourceRecords", {{{"Value", value}}}}};
}
json change(const std::string& action, json rs) {
  return json{{"Action", action}, {"ResourceRecordSet", std::move(rs)}};
}
json batch(std::vector<json> changes) {
  return json{{"Comment", "test"}, {"Changes", std::move(changes)}};
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.path() + "/state.db";
    config_.source = "meridian.json";
    reopen();
    ASSERT_TRUE(seed(kZoneText));
  }

  void reopen() {
    catalog_.reset();
    auto c = Catalog::open(db_);
    ASSERT_TRUE(c) << c.error().to_string();
    catalog_ = std::move(c).value();
  }

  // Applies the config with this zone file text for example.org.
  Status seed(const std::string& text) {
    auto z = zone::parse_master_file(text, *dns::Name::from_text("example.org."), "zone");
    if (!z) return z.error();
    zone::ZoneSet files({std::make_shared<const zone::Zone>(std::move(z).value())});
    auto p = catalog_->propose_config(config_, files);
    if (!p) return p.error();
    return catalog_->commit(*p);
  }

  std::string zone_id() { return *catalog_->resolve_zone("example.org"); }

  static bool accepted(const Result<Proposal>& r) { return r.ok(); }

  // The outcome of a batch: the committed proposal's change, or the refusal.
  Result<Proposal> apply(const json& b) {
    auto p = catalog_->propose_change_batch(zone_id(), b);
    if (p) {
      auto s = catalog_->commit(*p);
      EXPECT_TRUE(s) << s.error().to_string();
    }
    return p;
  }

  std::string refusal(const json& b) {
    auto p = apply(b);
    if (p) return "(accepted)";
    EXPECT_EQ(refusal_of(p.error()), Refusal::kInvalidChangeBatch);
    return p.error().to_string();
  }

  // Every record set of the zone as JSON, from the catalog and from a fresh database read.
  json stored() {
    auto rows = catalog_->store()->record_sets(zone_id());
    EXPECT_TRUE(rows);
    json out = json::array();
    for (const auto& rs : *rows) out.push_back(zone::record_set_to_json(rs));
    return out;
  }
  json served() {
    json out = json::array();
    for (const auto& rs : record_sets_of(*catalog_->zones().at(zone_id()).zone))
      out.push_back(zone::record_set_to_json(rs));
    return out;
  }
  const zone::RecordSet* find(const std::string& name, uint16_t type) {
    const auto& z = *catalog_->zones().at(zone_id()).zone;
    const auto* node = z.find(*dns::Name::from_text(name));
    if (!node) return nullptr;
    auto group = node->group(type);
    return group.empty() ? nullptr : group.front();
  }

  testing::TempDir dir_;
  std::string db_;
  config::DaemonConfig config_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogTest, SeedsTheDatabaseFromTheConfigFileOnce) {
  EXPECT_TRUE(catalog_->durable());
  ASSERT_EQ(catalog_->zones().size(), 1u);
  const auto& entry = catalog_->zones().begin()->second;
  EXPECT_EQ(entry.info.id, state::zone_id_for_origin(*dns::Name::from_text("example.org.")));
  EXPECT_EQ(entry.info.created_by, state::ZoneOrigin::kConfig);
  EXPECT_EQ(stored(), served());
  EXPECT_EQ(stored().size(), 4u);
  reopen();
  EXPECT_EQ(catalog_->zones().size(), 1u);
  EXPECT_EQ(stored(), served());
}

TEST_F(CatalogTest, CreateAddsARecordSetAndFailsIfItExists) {
  auto b = batch({change("CREATE", rrset("api.example.org", "A", "198.18.0.9"))});
  auto first = apply(b);
  ASSERT_TRUE(first.ok());
  const auto& p = *first;
  ASSERT_TRUE(p.change);
  EXPECT_EQ(p.change->status, state::ChangeStatus::kPending);
  EXPECT_EQ(p.change->change_count, 1u);
  EXPECT_NE(find("api.example.org.", 1), nullptr);
  EXPECT_EQ(refusal(b), "Changes[0]: CREATE: record set api.example.org. A already exists");
}

TEST_F(CatalogTest, DeleteMustMatchTheExistingRecordSetExactly) {
  EXPECT_EQ(refusal(batch({change("DELETE", rrset("www.example.org", "A", "198.18.0.81", 300))})),
            "Changes[0]: DELETE: the values given do not match the existing record set "
            "www.example.org. A");
  EXPECT_EQ(refusal(batch({change("DELETE", rrset("www.example.org", "A", "198.18.0.80", 301))})),
            "Changes[0]: DELETE: the values given do not match the existing record set "
            "www.example.org. A");
  EXPECT_EQ(refusal(batch({change("DELETE", rrset("nope.example.org", "A", "198.18.0.80"))})),
            "Changes[0]: DELETE: record set nope.example.org. A was not found");
  auto ok = apply(batch({change("DELETE", rrset("www.example.org", "A", "198.18.0.80", 300))}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(find("www.example.org.", 1), nullptr);
  EXPECT_EQ(stored(), served());
}

TEST_F(CatalogTest, UpsertCreatesOrReplaces) {
  ASSERT_TRUE(
      accepted(apply(batch({change("UPSERT", rrset("www.example.org", "A", "198.18.0.99", 30)),
                            change("UPSERT", rrset("new.example.org", "AAAA", "2001:db8::1"))}))));
  ASSERT_NE(find("www.example.org.", 1), nullptr);
  EXPECT_EQ(find("www.example.org.", 1)->ttl, 30u);
  EXPECT_NE(find("new.example.org.", 28), nullptr);
  reopen();
  EXPECT_EQ(find("www.example.org.", 1)->ttl, 30u);
  EXPECT_EQ(stored(), served());
}

TEST_F(CatalogTest, TheSameRecordSetTwiceInOneBatchIsAnError) {
  const json before = stored();
  EXPECT_EQ(refusal(batch({change("UPSERT", rrset("a.example.org", "A", "198.18.0.1")),
                           change("DELETE", rrset("A.example.org.", "A", "198.18.0.1"))})),
            "/Changes/1/ResourceRecordSet: the same record set is changed twice in one batch");
  EXPECT_EQ(stored(), before);
}

TEST_F(CatalogTest, ErrorsNameTheChangeIndexAndTheField) {
  auto bad_ttl = rrset("t.example.org", "A", "198.18.0.1");
  bad_ttl["TTL"] = "sixty";
  EXPECT_EQ(refusal(batch({change("CREATE", rrset("ok.example.org", "A", "198.18.0.1")),
                           change("CREATE", bad_ttl)})),
            "/Changes/1/ResourceRecordSet/TTL: must be an integer 0..2147483647");
  EXPECT_EQ(refusal(batch({change("RENAME", rrset("x.example.org", "A", "198.18.0.1"))})),
            "/Changes/0/Action: must be CREATE, DELETE or UPSERT");
  const std::string value = refusal(batch({change("CREATE", rrset("x.example.org", "A", "x"))}));
  EXPECT_EQ(value.rfind("/Changes/0/ResourceRecordSet/ResourceRecords/0", 0), 0u) << value;
  const std::string outside =
      refusal(batch({change("CREATE", rrset("x.other.test", "A", "198.18.0.1"))}));
  EXPECT_NE(outside.find("Changes[0]"), std::string::npos) << outside;
  EXPECT_NE(outside.find("outside the zone"), std::string::npos) << outside;
  EXPECT_EQ(refusal(json{{"Changes", json::array()}}), "/Changes: must be a non-empty list");
  EXPECT_EQ(find("ok.example.org.", 1), nullptr);  // nothing of a refused batch is applied
}

TEST_F(CatalogTest, AGroupNeverMixesRoutingPolicies) {
  auto weighted = rrset("mix.example.org", "A", "198.18.0.1");
  weighted["SetIdentifier"] = "one";
  weighted["Weight"] = 10;
  auto failover = rrset("mix.example.org", "A", "198.18.0.2");
  failover["SetIdentifier"] = "two";
  failover["Failover"] = "PRIMARY";
  const std::string e = refusal(batch({change("CREATE", weighted), change("CREATE", failover)}));
  EXPECT_NE(e.find("Changes[1]"), std::string::npos) << e;
  EXPECT_NE(e.find("would mix routing policies weighted and failover"), std::string::npos) << e;
  // A simple record set beside a routed group is a mix too.
  ASSERT_TRUE(accepted(apply(batch({change("CREATE", weighted)}))));
  const std::string simple =
      refusal(batch({change("CREATE", rrset("mix.example.org", "A", "198.18.0.3"))}));
  EXPECT_NE(simple.find("Changes[0]"), std::string::npos) << simple;
}

json failover_rrset(const std::string& id, const std::string& role, const std::string& value) {
  auto rs = rrset("f.example.org", "A", value);
  rs["SetIdentifier"] = id;
  rs["Failover"] = role;
  return rs;
}

// Route 53: one PRIMARY and one SECONDARY per failover group; the error names the change.
TEST_F(CatalogTest, AFailoverGroupHasOnePrimaryAndOneSecondary) {
  ASSERT_TRUE(
      accepted(apply(batch({change("CREATE", failover_rrset("p", "PRIMARY", "198.18.0.1")),
                            change("CREATE", failover_rrset("s", "SECONDARY", "198.18.0.2"))}))));
  const json before = stored();
  EXPECT_EQ(refusal(batch({change("CREATE", rrset("ok.example.org", "A", "198.18.0.9")),
                           change("CREATE", failover_rrset("p2", "PRIMARY", "198.18.0.3"))})),
            "/Changes/1/ResourceRecordSet/Failover: failover group f.example.org. A would have a "
            "second PRIMARY: SetIdentifier \"p2\" and \"p\" (a group has one PRIMARY and one "
            "SECONDARY)");
  const std::string secondary =
      refusal(batch({change("UPSERT", failover_rrset("s2", "SECONDARY", "198.18.0.4"))}));
  EXPECT_EQ(secondary.rfind("/Changes/0/ResourceRecordSet/Failover: ", 0), 0u) << secondary;
  EXPECT_NE(secondary.find("would have a second SECONDARY"), std::string::npos) << secondary;
  EXPECT_EQ(stored(), before);
  EXPECT_EQ(find("ok.example.org.", 1), nullptr);
  // Moving the PRIMARY role to another SetIdentifier in one batch is fine.
  EXPECT_TRUE(
      accepted(apply(batch({change("CREATE", failover_rrset("p2", "PRIMARY", "198.18.0.3")),
                            change("DELETE", failover_rrset("p", "PRIMARY", "198.18.0.1"))}))));
}

// A zone imported from Route 53 JSON with two PRIMARYs in a group is refused with the JSON path.
TEST_F(CatalogTest, AnImportWithASecondPrimaryIsRefused) {
  const std::string text = R"({"ResourceRecordSets": [
      {"Name": "example.org.", "Type": "SOA", "TTL": 900,
       "ResourceRecords": [{"Value": "ns1.example.org. hm.example.org. 1 2 3 4 5"}]},
      {"Name": "f.example.org.", "Type": "A", "SetIdentifier": "a", "Failover": "PRIMARY",
       "TTL": 60, "ResourceRecords": [{"Value": "198.18.0.1"}]},
      {"Name": "f.example.org.", "Type": "A", "SetIdentifier": "b", "Failover": "PRIMARY",
       "TTL": 60, "ResourceRecords": [{"Value": "198.18.0.2"}]}]})";
  auto contents = zone_from_text(ZoneFormat::kRoute53Json, text,
                                 *dns::Name::from_text("example.org."), "import");
  ASSERT_FALSE(contents);
  EXPECT_EQ(contents.error().where, "import: /ResourceRecordSets/2/Failover");
  EXPECT_NE(contents.error().what.find("would have a second PRIMARY"), std::string::npos)
      << contents.error().what;
}

// Geolocation codes must exist: ISO 3166-1 countries, Route 53's continents and US subdivisions.
TEST_F(CatalogTest, GeolocationCodesMustExist) {
  auto geo = [](const std::string& id, json location) {
    auto rs = rrset("g.example.org", "A", "198.18.0.2");
    rs["SetIdentifier"] = id;
    rs["GeoLocation"] = std::move(location);
    return rs;
  };
  EXPECT_EQ(refusal(batch({change("CREATE", geo("a", {{"ContinentCode", "EU"}})),
                           change("CREATE", geo("x", {{"CountryCode", "XX"}}))})),
            "/Changes/1/ResourceRecordSet/GeoLocation/CountryCode: \"XX\" is not an ISO 3166-1 "
            "alpha-2 country code");
  EXPECT_EQ(refusal(batch({change("CREATE", geo("q", {{"CountryCode", "QQ"}}))})),
            "/Changes/0/ResourceRecordSet/GeoLocation/CountryCode: \"QQ\" is not an ISO 3166-1 "
            "alpha-2 country code");
  EXPECT_EQ(refusal(batch(
                {change("CREATE", geo("z", {{"CountryCode", "US"}, {"SubdivisionCode", "ZZ"}}))})),
            "/Changes/0/ResourceRecordSet/GeoLocation/SubdivisionCode: \"ZZ\" is not a US "
            "state, DC or outlying area (ISO 3166-2:US)");
  EXPECT_EQ(find("g.example.org.", 1), nullptr);
  EXPECT_TRUE(accepted(apply(
      batch({change("CREATE", geo("us-ca", {{"CountryCode", "US"}, {"SubdivisionCode", "CA"}})),
             change("CREATE", geo("de", {{"CountryCode", "DE"}})),
             change("CREATE", geo("ua", {{"CountryCode", "UA"}})),
             change("CREATE", geo("eu", {{"ContinentCode", "EU"}})),
             change("CREATE", geo("default", {{"CountryCode", "*"}}))}))));
}

TEST_F(CatalogTest, MultivalueIsRefusedForCnameAndNs) {
  auto mv = rrset("m.example.org", "CNAME", "www.example.org.");
  mv["SetIdentifier"] = "a";
  mv["MultiValueAnswer"] = true;
  EXPECT_EQ(refusal(batch({change("CREATE", mv)})),
            "/Changes/0/ResourceRecordSet/MultiValueAnswer: is not allowed for CNAME or NS");
}

TEST_F(CatalogTest, EveryRoutingFieldIsAcceptedAndKept) {
  auto w = rrset("w.example.org", "A", "198.18.0.1");
  w["SetIdentifier"] = "w";
  w["Weight"] = 0;
  w["HealthCheckId"] = "hc";
  auto geo = rrset("g.example.org", "A", "198.18.0.2");
  geo["SetIdentifier"] = "us-ca";
  geo["GeoLocation"] = {{"CountryCode", "US"}, {"SubdivisionCode", "CA"}};
  auto lat = rrset("l.example.org", "A", "198.18.0.3");
  lat["SetIdentifier"] = "eu";
  lat["Region"] = "eu-west-1";
  auto prox = rrset("p.example.org", "A", "198.18.0.4");
  prox["SetIdentifier"] = "x";
  prox["GeoProximityLocation"] = {{"Coordinates", {{"Latitude", "50.1"}, {"Longitude", "8.6"}}},
                                  {"Bias", -20}};
  auto cidr = rrset("c.example.org", "A", "198.18.0.5");
  cidr["SetIdentifier"] = "c";
  cidr["CidrRoutingConfig"] = {{"CollectionId", "edge"}, {"LocationName", "fra"}};
  auto fo = rrset("f.example.org", "A", "198.18.0.6");
  fo["SetIdentifier"] = "p";
  fo["Failover"] = "PRIMARY";
  json alias = {
      {"Name", "a.example.org"},
      {"Type", "A"},
      {"SetIdentifier", "al"},
      {"Weight", 5},
      {"AliasTarget",
       {{"HostedZoneId", "Z1"}, {"DNSName", "www.example.org"}, {"EvaluateTargetHealth", true}}}};
  // The health check must exist first (a typo would otherwise read as "always healthy").
  const std::string missing = refusal(batch({change("CREATE", w)}));
  EXPECT_EQ(missing, "/Changes/0/ResourceRecordSet/HealthCheckId: no health check with id \"hc\"");
  auto put = catalog_->propose_put_health_check(
      json{{"Id", "hc"}, {"Type", "TCP"}, {"IPAddress", "127.0.0.1"}, {"Port", 9}});
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(catalog_->commit(*put));
  auto b = batch({change("CREATE", w), change("CREATE", geo), change("CREATE", lat),
                  change("CREATE", prox), change("CREATE", cidr), change("CREATE", fo),
                  change("CREATE", alias)});
  ASSERT_TRUE(accepted(apply(b)));
  reopen();
  EXPECT_EQ(stored(), served());
  json all = stored();
  auto has = [&](const std::string& name, const char* field) {
    for (const auto& rs : all)
      if (rs["Name"] == name && rs.contains(field)) return true;
    return false;
  };
  EXPECT_TRUE(has("w.example.org.", "HealthCheckId"));
  EXPECT_TRUE(has("g.example.org.", "GeoLocation"));
  EXPECT_TRUE(has("l.example.org.", "Region"));
  EXPECT_TRUE(has("p.example.org.", "GeoProximityLocation"));
  EXPECT_TRUE(has("c.example.org.", "CidrRoutingConfig"));
  EXPECT_TRUE(has("f.example.org.", "Failover"));
  EXPECT_TRUE(has("a.example.org.", "AliasTarget"));
  // A check in use cannot be deleted.
  auto del = catalog_->propose_delete_health_check("hc");
  ASSERT_TRUE(!del.ok());
  EXPECT_EQ(refusal_of(del.error()), Refusal::kConflict);
}

TEST_F(CatalogTest, AThousandChangeBatchIsAppliedWhole) {
  std::vector<json> changes;
  for (int i = 0; i < 1000; ++i)
    changes.push_back(change(
        "CREATE", rrset("h" + std::to_string(i) + ".example.org", "A",
                        "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1))));
  auto p = apply(batch(changes));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->change->change_count, 1000u);
  EXPECT_EQ(stored().size(), 1004u);
  reopen();
  EXPECT_EQ(stored().size(), 1004u);
  EXPECT_EQ(stored(), served());
}

TEST_F(CatalogTest, AnInvalidChangeAt999LeavesEverythingUntouched) {
  const json before_db = stored();
  const json before_served = served();
  auto before_changes = catalog_->store()->list_changes(100);
  ASSERT_TRUE(before_changes);
  for (const char* failing : {"type", "rule"}) {
    std::vector<json> changes;
    for (int i = 0; i < 1000; ++i)
      changes.push_back(change("UPSERT", rrset("h" + std::to_string(i) + ".example.org", "A",
                                               "198.18.1." + std::to_string(i % 250 + 1))));
    if (std::string(failing) == "type")
      changes[999]["ResourceRecordSet"]["Type"] = "NOPE";  // a field error
    else
      changes[999] = change("CREATE", rrset("www.example.org", "A", "198.18.0.80"));  // a rule
    const std::string e = refusal(batch(changes));
    if (std::string(failing) == "type")
      EXPECT_EQ(e.rfind("/Changes/999/ResourceRecordSet/Type", 0), 0u) << e;
    else
      EXPECT_EQ(e, "Changes[999]: CREATE: record set www.example.org. A already exists");
    EXPECT_EQ(stored(), before_db);
    EXPECT_EQ(served(), before_served);
    auto after_changes = catalog_->store()->list_changes(100);
    ASSERT_TRUE(after_changes);
    EXPECT_EQ(after_changes->size(), before_changes->size());
  }
}

TEST_F(CatalogTest, AChangedConfigFileIsAppliedAsADifference) {
  // The API adds a record set; the file later changes another and drops one.
  ASSERT_TRUE(
      accepted(apply(batch({change("CREATE", rrset("api.example.org", "A", "198.18.0.9"))}))));
  std::string next = kZoneText;
  next.replace(next.find("www A 198.18.0.80"), 17, "www A 198.18.0.81");
  next.replace(next.find("ns1 A 198.18.0.53"), 17, "mail A 198.18.0.25\nns1 A 198.18.0.53");
  ASSERT_TRUE(seed(next));
  ASSERT_NE(find("api.example.org.", 1), nullptr);  // the API's change is kept
  ASSERT_NE(find("mail.example.org.", 1), nullptr);
  EXPECT_EQ(zone::record_set_to_json(*find("www.example.org.", 1))["ResourceRecords"][0]["Value"],
            "198.18.0.81");
  // Dropped from the file: deleted from the zone.
  std::string fewer = next;
  fewer.replace(fewer.find("mail A 198.18.0.25\n"), 19, "");
  ASSERT_TRUE(seed(fewer));
  EXPECT_EQ(find("mail.example.org.", 1), nullptr);
  EXPECT_NE(find("api.example.org.", 1), nullptr);
  // The same file again changes nothing and records no change.
  auto changes = catalog_->store()->list_changes(100);
  ASSERT_TRUE(seed(fewer));
  EXPECT_EQ(catalog_->store()->list_changes(100)->size(), changes->size());
  reopen();
  EXPECT_EQ(stored(), served());
  EXPECT_NE(find("api.example.org.", 1), nullptr);
}

TEST_F(CatalogTest, AChangeIsPendingUntilMarkedInsync) {
  auto first = apply(batch({change("CREATE", rrset("a.example.org.", "A", "198.18.0.1"))}));
  auto second = apply(batch({change("CREATE", rrset("b.example.org.", "A", "198.18.0.2"))}));
  auto& p1 = *first;
  auto& p2 = *second;
  ASSERT_TRUE(p1.change && p2.change);
  EXPECT_EQ(p2.change->status, state::ChangeStatus::kPending);

  ASSERT_TRUE(catalog_->mark_insync(p1));
  EXPECT_EQ(p1.change->status, state::ChangeStatus::kInsync);
  auto found = catalog_->find_change(p2.change->id);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->status, state::ChangeStatus::kPending);  // only up to the one marked

  ASSERT_TRUE(catalog_->mark_all_insync());
  found = catalog_->find_change(p2.change->id);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->status, state::ChangeStatus::kInsync);
  found = catalog_->find_change("CNOSUCHCHANGE");
  ASSERT_TRUE(found);
  EXPECT_FALSE(*found);
}

TEST_F(CatalogTest, ZonesAreCreatedImportedAndDeleted) {
  auto origin = *dns::Name::from_text("example.net.");
  auto created = catalog_->propose_create_zone(origin, "new", std::nullopt);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(catalog_->commit(*created));
  auto id = catalog_->resolve_zone("example.net");
  ASSERT_TRUE(id);
  EXPECT_EQ(catalog_->zones().at(*id).zone->record_set_count(), 2u);  // SOA and NS made for it
  auto again = catalog_->propose_create_zone(origin, "", std::nullopt);
  ASSERT_TRUE(!again.ok());
  EXPECT_EQ(refusal_of(again.error()), Refusal::kConflict);

  auto text = zone_to_master_file(*catalog_->zones().at(*id).zone);
  ASSERT_TRUE(text);
  auto contents =
      zone_from_text(ZoneFormat::kZoneFile, *text + "www 60 IN A 198.18.0.7\n", origin, "import");
  ASSERT_TRUE(contents) << contents.error().to_string();
  auto replaced = catalog_->propose_replace_zone(*id, std::move(contents).value(), "import");
  ASSERT_TRUE(replaced.ok());
  ASSERT_TRUE(catalog_->commit(*replaced));
  reopen();
  EXPECT_EQ(catalog_->zones().at(*id).zone->record_set_count(), 3u);

  auto deleted = catalog_->propose_delete_zone(*id);
  ASSERT_TRUE(deleted.ok());
  ASSERT_TRUE(catalog_->commit(*deleted));
  reopen();
  EXPECT_FALSE(catalog_->resolve_zone("example.net"));
  auto unknown = catalog_->propose_change_batch("ZNOPE", batch({}));
  ASSERT_TRUE(!unknown.ok());
  EXPECT_EQ(refusal_of(unknown.error()), Refusal::kNoSuchZone);
}

TEST(CatalogWithoutDatabaseTest, TheConfigFileIsTheOnlySourceAndWritesAreRefused) {
  auto catalog = Catalog::open("");
  ASSERT_TRUE(catalog);
  EXPECT_FALSE((*catalog)->durable());
  auto z = zone::parse_master_file(kZoneText, *dns::Name::from_text("example.org."), "zone");
  ASSERT_TRUE(z);
  zone::ZoneSet files({std::make_shared<const zone::Zone>(std::move(z).value())});
  config::DaemonConfig config;
  auto p = (*catalog)->propose_config(config, files);
  ASSERT_TRUE(p);
  ASSERT_TRUE((*catalog)->commit(*p));
  auto id = (*catalog)->resolve_zone("example.org.");
  ASSERT_TRUE(id);
  auto refused = (*catalog)->propose_change_batch(
      *id, batch({change("CREATE", rrset("x.example.org", "A", "198.18.0.1"))}));
  ASSERT_TRUE(!refused.ok());
  EXPECT_EQ(refusal_of(refused.error()), Refusal::kConflict);
}

// With or without a database, a zone may not name a health check the config does not have.
TEST(CatalogWithoutDatabaseTest, UnknownHealthCheckIdsAreRefused) {
  auto catalog = Catalog::open("");
  ASSERT_TRUE(catalog);
  auto z = zone::parse_route53_json(
      R"([{"Name": "example.org.", "Type": "SOA", "TTL": 60, "ResourceRecords":
           [{"Value": "ns1.example.org. hm.example.org. 1 2 3 4 5"}]},
          {"Name": "example.org.", "Type": "NS", "TTL": 60,
           "ResourceRecords": [{"Value": "ns1.example.org."}]},
          {"Name": "w.example.org.", "Type": "A", "TTL": 60, "SetIdentifier": "a", "Weight": 1,
           "HealthCheckId": "nope", "ResourceRecords": [{"Value": "198.18.0.1"}]}])",
      *dns::Name::from_text("example.org."), "zone");
  ASSERT_TRUE(z) << z.error().to_string();
  zone::ZoneSet files({std::make_shared<const zone::Zone>(std::move(z).value())});
  config::DaemonConfig config;
  auto p = (*catalog)->propose_config(config, files);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().to_string(),
            "zone example.org.: record set w.example.org. A (SetIdentifier \"a\"): HealthCheckId "
            "\"nope\" is not a configured health check");
}

}  // namespace
}  // namespace meridian::manage
