// Tests of the durable state store against real SQLite files in a temporary directory: zones,
// record sets of every routing policy, change batches (all or nothing, PENDING -> INSYNC), seed
// snapshots, health checks, the schema version, and a writer killed with SIGKILL mid-batch.
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dns/name.h"
#include "dns/types.h"
#include "state/state_store.h"
#include "unit/test_files.h"
#include "zone/route53_json.h"

namespace meridian::state {
namespace {

using dns::Name;
using nlohmann::json;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

Name N(std::string_view text) {
  auto n = Name::from_text(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : Name();
}

const Name kOrigin = N("example.com.");

zone::RecordSet RS(const std::string& text, const Name& origin = kOrigin) {
  auto rs = zone::record_set_from_json(json::parse(text), origin, "");
  EXPECT_TRUE(rs.ok()) << text << ": " << (rs.ok() ? "" : rs.error().to_string());
  return rs.ok() ? *rs : zone::RecordSet{};
}

zone::RecordSet a_record(const std::string& name, const std::string& address = "192.0.2.1") {
  return RS(R"({"Name":")" + name + R"(","Type":"A","TTL":300,"ResourceRecords":[{"Value":")" +
            address + R"("}]})");
}

std::unique_ptr<StateStore> open_store(const std::string& path) {
  auto store = StateStore::open(path);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().to_string());
  return store.ok() ? std::move(*store) : nullptr;
}

// Record sets as their Route 53 JSON text, sorted: equal lists of equal record sets compare equal.
std::vector<std::string> texts(const std::vector<zone::RecordSet>& sets) {
  std::vector<std::string> out;
  for (const auto& rs : sets) out.push_back(zone::record_set_to_json(rs).dump());
  std::sort(out.begin(), out.end());
  return out;
}

zone::ChangeBatch batch_of(std::vector<std::pair<zone::ChangeAction, zone::RecordSet>> changes,
                           std::string comment = "") {
  zone::ChangeBatch b;
  b.comment = std::move(comment);
  for (auto& [action, rs] : changes) b.changes.push_back({action, std::move(rs)});
  return b;
}

// Every row of every table, read through a second connection: "exactly as before" means this.
std::string dump_database(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::string out;
  std::vector<std::string> tables;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1,
                     &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW)
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  for (const std::string& table : tables) {
    out += "== " + table + "\n";
    const std::string sql = "SELECT * FROM \"" + table + "\"";
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << table;
    std::vector<std::string> rows;  // sorted here: row order is not what is compared
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* v = sqlite3_column_text(s, i);
        row += v != nullptr ? reinterpret_cast<const char*>(v) : "NULL";
        row += '|';
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    std::sort(rows.begin(), rows.end());
    for (const std::string& row : rows) out += row + "\n";
  }
  sqlite3_close(db);
  return out;
}

// Wall and CPU (all threads) milliseconds of `f`: the CPU time shows the cost on a machine
// that other builds share; the wall-time bound only catches a gross regression (a commit per row).
struct Cost {
  long long wall_ms;
  long long cpu_ms;
};
template <typename F>
Cost measure(F&& f) {
  auto cpu = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000LL +
           (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
  };
  const auto t0 = Clock::now();
  const long long c0 = cpu();
  f();
  return {std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count(),
          cpu() - c0};
}

TEST(StateStoreTest, ZoneIdForOriginIsDeterministicBase32) {
  const std::string id = zone_id_for_origin(kOrigin);
  EXPECT_EQ(id, "ZK2RECXXGGRBRY");  // FNV-1a 64 of "example.com.", computed independently
  EXPECT_EQ(zone_id_for_origin(N("EXAMPLE.Com.")), id);
  EXPECT_EQ(zone_id_for_origin(N(".")), "ZK6Y5DJSDADC5R");
  EXPECT_NE(zone_id_for_origin(N("example.net.")), id);
  ASSERT_EQ(id.size(), 14u);
  for (char c : id.substr(1)) EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')) << c;
}

TEST(StateStoreTest, OpenUsesWalAndWritesSchemaVersion) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->path(), path);
  EXPECT_EQ(store->journal_mode(), "wal");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 3);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

// Runs `sql` on the database file directly, as an older meridiand would have left it.
void run_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(StateStoreTest, VersionOneDatabaseGainsTheFleetCache) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_zone(kOrigin, "", ZoneOrigin::kApi, "", {}));
  }
  // What a version 1 meridiand left: no fleet_cache table, no zone_tags.
  run_sql(path, "DROP TABLE fleet_cache; DROP TABLE zone_tags; PRAGMA user_version=1");
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto zones = store->list_zones();
  ASSERT_TRUE(zones);
  EXPECT_EQ(zones->size(), 1u);  // kept
  auto empty = store->fleet_cache();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());
  ASSERT_TRUE(store->set_fleet_cache(FleetCache{42, "{\"Values\":{}}"}));
  ASSERT_TRUE(store->set_fleet_cache(FleetCache{43, "{\"Values\":{\"a\":\"b\"}}"}));
  auto cached = store->fleet_cache();
  ASSERT_TRUE(cached && cached->has_value());
  EXPECT_EQ((*cached)->revision, 43);
  EXPECT_EQ((*cached)->state, "{\"Values\":{\"a\":\"b\"}}");
}

TEST(StateStoreTest, NewerSchemaVersionIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  { ASSERT_TRUE(open_store(path)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=4", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = StateStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().to_string(), "state database " + path +
                                           " has schema version 4; this meridiand understands up "
                                           "to 3");
}

TEST(StateStoreTest, VersionTwoDatabaseGainsZoneTags) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  std::string id;
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    auto created = store->create_zone(kOrigin, "", ZoneOrigin::kApi, "kept", {});
    ASSERT_TRUE(created);
    id = created->id;
  }
  // What a version 2 meridiand left: no zone_tags table.
  run_sql(path, "DROP TABLE zone_tags; PRAGMA user_version=2");
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    auto zones = store->list_zones();
    ASSERT_TRUE(zones);
    ASSERT_EQ(zones->size(), 1u);  // kept, with no tags
    EXPECT_EQ(zones->front().comment, "kept");
    EXPECT_TRUE(zones->front().tags.empty());
    ASSERT_TRUE(store->set_zone_tags(id, {{"team", "edge"}, {"env", ""}}));
    EXPECT_FALSE(store->set_zone_tags("ZNOSUCHZONE", {{"a", "b"}}).ok());
  }
  // The upgrade is written once: the version is 3 and the tags are there after a reopen.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 3);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto found = store->find_zone(id);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->tags, (ResourceTags{{"env", ""}, {"team", "edge"}}));
  ASSERT_TRUE(store->set_zone_tags(id, {{"team", "core"}}));  // replaces them all
  auto zones = store->list_zones();
  ASSERT_TRUE(zones);
  EXPECT_EQ(zones->front().tags, (ResourceTags{{"team", "core"}}));
  // Deleting the zone takes its tags.
  ASSERT_TRUE(store->delete_zone(id));
  ASSERT_TRUE(store->create_zone(kOrigin, id, ZoneOrigin::kApi, "", {}));
  auto again = store->find_zone(id);
  ASSERT_TRUE(again && again->has_value());
  EXPECT_TRUE((*again)->tags.empty());
}

TEST(StateStoreTest, OpenErrorsNameThePath) {
  TempDir dir;
  const std::string missing = dir.path() + "/no/such/dir/state.db";
  auto store = StateStore::open(missing);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().to_string().find(missing), std::string::npos);
  const std::string junk = dir.write("junk.db", std::string(4096, 'x'));
  store = StateStore::open(junk);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().to_string().find(junk), std::string::npos);
  EXPECT_NE(store.error().to_string().find("not a database"), std::string::npos)
      << store.error().to_string();
}

// Only a missing file is created: an existing empty or schema-less one is refused with the way
// out, and left exactly as it was (not seeded over).
TEST(StateStoreTest, EmptyOrSchemaLessFileIsRefusedNotSeeded) {
  TempDir dir;
  const std::string empty = dir.write("empty.db", "");
  auto store = StateStore::open(empty);
  ASSERT_FALSE(store.ok());
  const std::string message = store.error().to_string();
  EXPECT_NE(message.find(empty + " exists but holds no meridiand schema (0 bytes)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("mv " + empty + " " + empty + ".broken"), std::string::npos) << message;
  struct stat st {};
  ASSERT_EQ(::stat(empty.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // untouched

  // A SQLite file with tables of somebody else's, but no schema version: refused too.
  const std::string foreign = dir.path() + "/foreign.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  store = StateStore::open(foreign);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().to_string().find("holds no meridiand schema"), std::string::npos);

  // A file that does not exist is created with the schema.
  ASSERT_TRUE(open_store(dir.path() + "/new.db"));
}

TEST(StateStoreTest, ZonesCreateListFindDelete) {
  TempDir dir;
  auto store = open_store(dir.path() + "/state.db");
  ASSERT_TRUE(store);
  auto z1 = store->create_zone(N("Example.COM."), "", ZoneOrigin::kApi, "first",
                               {a_record("www.example.com."), a_record("mail.example.com.")});
  ASSERT_TRUE(z1.ok()) << z1.error().to_string();
  EXPECT_EQ(z1->id.size(), 14u);
  EXPECT_EQ(z1->id[0], 'Z');
  EXPECT_EQ(z1->record_set_count, 2u);
  const std::string config_id = zone_id_for_origin(N("a.example."));
  auto z2 = store->create_zone(N("a.example."), config_id, ZoneOrigin::kConfig, "from file", {});
  ASSERT_TRUE(z2.ok()) << z2.error().to_string();
  EXPECT_EQ(z2->id, config_id);

  auto zones = store->list_zones();
  ASSERT_TRUE(zones.ok());
  ASSERT_EQ(zones->size(), 2u);
  EXPECT_EQ((*zones)[0].origin.to_text(), "a.example.");  // ordered by origin
  EXPECT_EQ((*zones)[0].created_by, ZoneOrigin::kConfig);
  EXPECT_EQ((*zones)[0].record_set_count, 0u);
  EXPECT_EQ((*zones)[1].origin.to_text(), "Example.COM.");  // case kept
  EXPECT_EQ((*zones)[1].id, z1->id);
  EXPECT_EQ((*zones)[1].comment, "first");
  EXPECT_EQ((*zones)[1].created_by, ZoneOrigin::kApi);
  EXPECT_EQ((*zones)[1].record_set_count, 2u);
  EXPECT_EQ((*zones)[1].created_at_ms, z1->created_at_ms);
  EXPECT_GT(z1->created_at_ms, 1600000000000);

  auto found = store->find_zone(z1->id);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->origin, kOrigin);
  EXPECT_EQ((*found)->record_set_count, 2u);
  auto none = store->find_zone("ZNOSUCHZONE");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  auto deleted = store->delete_zone(z1->id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  deleted = store->delete_zone(z1->id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(*deleted);
  zones = store->list_zones();
  ASSERT_TRUE(zones.ok());
  ASSERT_EQ(zones->size(), 1u);
  EXPECT_EQ((*zones)[0].id, config_id);
  EXPECT_FALSE(store->record_sets(z1->id).ok());  // unknown zone
  // The origin is free again, record sets gone with the zone.
  auto again = store->create_zone(kOrigin, z1->id, ZoneOrigin::kApi, "", {});
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  auto sets = store->record_sets(z1->id);
  ASSERT_TRUE(sets.ok());
  EXPECT_TRUE(sets->empty());
}

TEST(StateStoreTest, DuplicateOriginOrIdIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto store = open_store(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create_zone(kOrigin, "ZONE1", ZoneOrigin::kApi, "", {}).ok());
  const std::string before = dump_database(path);
  auto same_origin = store->create_zone(N("EXAMPLE.com."), "ZONE2", ZoneOrigin::kApi, "", {});
  ASSERT_FALSE(same_origin.ok());
  EXPECT_NE(same_origin.error().what.find("exists already"), std::string::npos);
  EXPECT_NE(same_origin.error().what.find("ZONE1"), std::string::npos);
  auto same_id = store->create_zone(N("example.net."), "ZONE1", ZoneOrigin::kApi, "", {});
  ASSERT_FALSE(same_id.ok());
  EXPECT_NE(same_id.error().what.find("ZONE1"), std::string::npos);
  // Two equal record sets: the zone is not created either.
  auto dup_sets = store->create_zone(N("example.org."), "ZONE3", ZoneOrigin::kApi, "",
                                     {a_record("x.example.org."), a_record("X.example.org.")});
  ASSERT_FALSE(dup_sets.ok());
  EXPECT_NE(dup_sets.error().to_string().find("already exists"), std::string::npos);
  EXPECT_EQ(dump_database(path), before);
}

// One record set of every routing policy and field that Route 53 JSON carries.
const std::vector<std::string> kEveryPolicy = {
    R"({"Name":"example.com.","Type":"SOA","TTL":900,"ResourceRecords":[{"Value":"ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400"}]})",
    R"({"Name":"example.com.","Type":"NS","TTL":172800,"ResourceRecords":[{"Value":"ns1.example.com."},{"Value":"ns2.example.com."}]})",
    R"({"Name":"MiXeD.example.com.","Type":"A","TTL":300,"ResourceRecords":[{"Value":"192.0.2.1"},{"Value":"192.0.2.2"}]})",
    R"({"Name":"\\052.wild.example.com.","Type":"TXT","TTL":60,"ResourceRecords":[{"Value":"\"hello world\""}]})",
    R"({"Name":"example.com.","Type":"MX","TTL":3600,"ResourceRecords":[{"Value":"10 mail.example.com."}]})",
    R"({"Name":"w.example.com.","Type":"A","SetIdentifier":"w-1","Weight":10,"TTL":60,"ResourceRecords":[{"Value":"192.0.2.10"}],"HealthCheckId":"hc-w1"})",
    R"({"Name":"w.example.com.","Type":"A","SetIdentifier":"w-2","Weight":0,"TTL":60,"ResourceRecords":[{"Value":"192.0.2.11"}]})",
    R"({"Name":"f.example.com.","Type":"A","SetIdentifier":"primary","Failover":"PRIMARY","TTL":30,"ResourceRecords":[{"Value":"192.0.2.20"}],"HealthCheckId":"hc-primary"})",
    R"({"Name":"f.example.com.","Type":"A","SetIdentifier":"secondary","Failover":"SECONDARY","TTL":30,"ResourceRecords":[{"Value":"192.0.2.21"}]})",
    R"({"Name":"g.example.com.","Type":"A","SetIdentifier":"us-ca","GeoLocation":{"CountryCode":"US","SubdivisionCode":"CA"},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.30"}]})",
    R"({"Name":"g.example.com.","Type":"A","SetIdentifier":"europe","GeoLocation":{"ContinentCode":"EU"},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.31"}]})",
    R"({"Name":"g.example.com.","Type":"A","SetIdentifier":"default","GeoLocation":{"CountryCode":"*"},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.32"}]})",
    R"({"Name":"l.example.com.","Type":"AAAA","SetIdentifier":"eu","Region":"eu-west-1","TTL":60,"ResourceRecords":[{"Value":"2001:db8::1"}]})",
    R"({"Name":"p.example.com.","Type":"A","SetIdentifier":"paris","GeoProximityLocation":{"Coordinates":{"Latitude":"48.8566","Longitude":"2.3522"},"Bias":25},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.40"}]})",
    R"({"Name":"p.example.com.","Type":"A","SetIdentifier":"virginia","GeoProximityLocation":{"AWSRegion":"us-east-1","Bias":-40},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.41"}]})",
    R"({"Name":"c.example.com.","Type":"A","SetIdentifier":"office","CidrRoutingConfig":{"CollectionId":"c-1234","LocationName":"office"},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.50"}]})",
    R"({"Name":"m.example.com.","Type":"A","SetIdentifier":"mv-1","MultiValueAnswer":true,"TTL":60,"ResourceRecords":[{"Value":"192.0.2.60"}],"HealthCheckId":"hc-mv1"})",
    R"({"Name":"alias.example.com.","Type":"A","AliasTarget":{"HostedZoneId":"Z2FDTNDATAQYW2","DNSName":"d111111abcdef8.cloudfront.net.","EvaluateTargetHealth":true}})",
    R"({"Name":"a2.example.com.","Type":"AAAA","SetIdentifier":"w","Weight":5,"AliasTarget":{"HostedZoneId":"","DNSName":"www.example.com.","EvaluateTargetHealth":false}})",
};

TEST(StateStoreTest, RecordSetsOfEveryRoutingPolicyRoundTrip) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  std::vector<zone::RecordSet> sets;
  for (const auto& text : kEveryPolicy) sets.push_back(RS(text));
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_zone(kOrigin, "ZRT", ZoneOrigin::kApi, "", sets).ok());
  }
  auto store = open_store(path);  // through the file, not a cache
  ASSERT_TRUE(store);
  auto back = store->record_sets("ZRT");
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(texts(*back), texts(sets));
  // Stored order: owner (case-insensitive), type, set identifier.
  for (size_t i = 1; i < back->size(); ++i) {
    const auto& a = (*back)[i - 1];
    const auto& b = (*back)[i];
    EXPECT_LT(std::make_tuple(a.name.lowercased().to_text(), a.type, a.set_identifier),
              std::make_tuple(b.name.lowercased().to_text(), b.type, b.set_identifier));
  }
  // The owner keeps its case and every field its value.
  bool mixed = false;
  for (const auto& rs : *back) {
    if (rs.name.to_text() == "MiXeD.example.com.") mixed = true;
    if (rs.set_identifier == "us-ca") {
      ASSERT_TRUE(rs.geolocation);
      EXPECT_EQ(rs.geolocation->subdivision_code, "CA");
    }
    if (rs.set_identifier == "paris") {
      ASSERT_TRUE(rs.geoproximity && rs.geoproximity->latitude);
      EXPECT_NEAR(*rs.geoproximity->latitude, 48.8566, 1e-6);
      EXPECT_EQ(rs.geoproximity->bias, 25);
    }
    if (rs.set_identifier == "mv-1") EXPECT_EQ(rs.health_check_id, "hc-mv1");
  }
  EXPECT_TRUE(mixed);
}

TEST(StateStoreTest, ApplyChangeBatchCreateDeleteUpsert) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto store = open_store(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->create_zone(kOrigin, "ZC", ZoneOrigin::kApi, "",
                                {a_record("www.example.com."), a_record("old.example.com.")})
                  .ok());
  using A = zone::ChangeAction;
  auto change = store->apply_change_batch(
      "ZC", batch_of({{A::kCreate, a_record("new.example.com.", "192.0.2.7")},
                      {A::kDelete, a_record("OLD.example.com.")},
                      {A::kUpsert, a_record("www.example.com.", "192.0.2.99")},
                      {A::kUpsert, RS(kEveryPolicy[5])}},
                     "four changes"));
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(change->zone_id, "ZC");
  EXPECT_EQ(change->status, ChangeStatus::kPending);
  EXPECT_EQ(change->comment, "four changes");
  EXPECT_EQ(change->change_count, 4u);
  ASSERT_EQ(change->id.size(), 21u);
  EXPECT_EQ(change->id[0], 'C');
  for (char c : change->id.substr(1)) EXPECT_TRUE(std::isupper(c) || std::isdigit(c)) << c;

  auto sets = store->record_sets("ZC");
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(texts(*sets), texts({a_record("new.example.com.", "192.0.2.7"),
                                 a_record("www.example.com.", "192.0.2.99"), RS(kEveryPolicy[5])}));

  auto found = store->find_change(change->id);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->zone_id, "ZC");
  EXPECT_EQ((*found)->status, ChangeStatus::kPending);
  EXPECT_EQ((*found)->change_count, 4u);
  EXPECT_EQ((*found)->submitted_at_ms, change->submitted_at_ms);
  EXPECT_EQ((*found)->comment, "four changes");
  auto none = store->find_change("CNOSUCHCHANGE");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // Refused, each leaving the database as it was: CREATE of an existing row, DELETE of a missing
  // one, an unknown zone.
  const std::string before = dump_database(path);
  auto dup = store->apply_change_batch(
      "ZC", batch_of({{A::kCreate, a_record("x.example.com.")},
                      {A::kCreate, a_record("WWW.example.com.", "192.0.2.1")}}));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().where, "Changes[1]");
  EXPECT_NE(dup.error().what.find("already exists"), std::string::npos);
  auto missing =
      store->apply_change_batch("ZC", batch_of({{A::kDelete, a_record("gone.example.com.")}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().where, "Changes[0]");
  EXPECT_NE(missing.error().what.find("not found"), std::string::npos);
  auto unknown =
      store->apply_change_batch("ZNONE", batch_of({{A::kCreate, a_record("y.example.com.")}}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().what.find("ZNONE"), std::string::npos);
  EXPECT_EQ(dump_database(path), before);
}

TEST(StateStoreTest, FailedThousandChangeBatchLeavesDatabaseExactlyAsBefore) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto store = open_store(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->create_zone(kOrigin, "ZBIG", ZoneOrigin::kApi, "",
                                {a_record("taken.example.com."), a_record("keep.example.com.")})
                  .ok());
  using A = zone::ChangeAction;

  // A good batch of 1,000 first (timed): creates, upserts and one delete.
  zone::ChangeBatch good;
  for (int i = 0; i < 998; ++i)
    good.changes.push_back(
        {i % 2 ? A::kCreate : A::kUpsert, a_record("h" + std::to_string(i) + ".example.com.")});
  good.changes.push_back({A::kDelete, a_record("keep.example.com.")});
  good.changes.push_back({A::kCreate, RS(kEveryPolicy[9])});
  Result<ChangeInfo> applied = make_error("not run");
  const Cost cost = measure([&] { applied = store->apply_change_batch("ZBIG", good); });
  ASSERT_TRUE(applied.ok()) << applied.error().to_string();
  std::printf("[ timing ] 1,000-change batch: %lld ms wall, %lld ms CPU\n", cost.wall_ms,
              cost.cpu_ms);
  EXPECT_LT(cost.wall_ms, 5000);
  auto zone = store->find_zone("ZBIG");
  ASSERT_TRUE(zone.ok() && zone->has_value());
  EXPECT_EQ((*zone)->record_set_count, 1000u);

  // Change 999 of 1,000 is a CREATE of an existing row.
  const std::string before = dump_database(path);
  auto changes_before = store->list_changes(100);
  ASSERT_TRUE(changes_before.ok());
  zone::ChangeBatch bad;
  for (int i = 0; i < 998; ++i)
    bad.changes.push_back({A::kCreate, a_record("n" + std::to_string(i) + ".example.com.")});
  bad.changes.push_back({A::kCreate, a_record("taken.example.com.", "192.0.2.200")});
  bad.changes.push_back({A::kCreate, a_record("last.example.com.")});
  auto failed = store->apply_change_batch("ZBIG", bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().where, "Changes[998]");
  EXPECT_EQ(dump_database(path), before);
  auto changes_after = store->list_changes(100);
  ASSERT_TRUE(changes_after.ok());
  EXPECT_EQ(changes_after->size(), changes_before->size());  // no change row written
}

TEST(StateStoreTest, TenThousandRecordSetZoneIsOneFastTransaction) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto store = open_store(path);
  ASSERT_TRUE(store);
  std::vector<zone::RecordSet> sets;
  const zone::RecordSet base = a_record("x.example.com.");
  for (int i = 0; i < 10000; ++i) {
    zone::RecordSet rs = base;
    rs.name = N("host" + std::to_string(i) + ".example.com.");
    sets.push_back(std::move(rs));
  }
  Result<ZoneInfo> created = make_error("not run");
  const Cost cost =
      measure([&] { created = store->create_zone(kOrigin, "", ZoneOrigin::kConfig, "big", sets); });
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  std::printf("[ timing ] create_zone with 10,000 record sets: %lld ms wall, %lld ms CPU\n",
              cost.wall_ms, cost.cpu_ms);
  EXPECT_LT(cost.wall_ms, 5000);
  Result<std::vector<zone::RecordSet>> back = make_error("not run");
  const Cost read = measure([&] { back = store->record_sets(created->id); });
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 10000u);
  std::printf("[ timing ] record_sets of 10,000: %lld ms wall, %lld ms CPU\n", read.wall_ms,
              read.cpu_ms);
  Result<bool> deleted = make_error("not run");
  const Cost del = measure([&] { deleted = store->delete_zone(created->id); });
  ASSERT_TRUE(deleted.ok() && *deleted);
  EXPECT_LT(del.wall_ms, 5000);
  EXPECT_EQ(dump_database(path).find("host1"), std::string::npos);
}

TEST(StateStoreTest, RecordSetThatIsNotValidJsonTextIsRefusedByIndex) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  auto store = open_store(path);
  ASSERT_TRUE(store);
  std::vector<zone::RecordSet> sets;
  for (int i = 0; i < 5000; ++i)  // enough to be converted on several threads
    sets.push_back(a_record("h" + std::to_string(i) + ".example.com."));
  for (size_t bad : {4321u, 3001u}) {
    sets[bad] = RS(kEveryPolicy[5]);
    sets[bad].set_identifier = "not utf-8 \xff";  // JSON text cannot hold it
  }
  const std::string before = dump_database(path);
  auto created = store->create_zone(kOrigin, "ZBAD", ZoneOrigin::kApi, "", sets);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().where, "RecordSets[3001]");  // the first one
  auto small = store->create_zone(kOrigin, "ZBAD", ZoneOrigin::kApi, "", {sets[4321]});
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().where, "RecordSets[0]");
  EXPECT_EQ(dump_database(path), before);
}

TEST(StateStoreTest, ReplaceRecordSetsIsOneChange) {
  TempDir dir;
  auto store = open_store(dir.path() + "/state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store
                  ->create_zone(kOrigin, "ZR", ZoneOrigin::kApi, "",
                                {a_record("a.example.com."), a_record("b.example.com.")})
                  .ok());
  const std::vector<zone::RecordSet> next = {a_record("b.example.com.", "192.0.2.9"),
                                             a_record("c.example.com."), RS(kEveryPolicy[16])};
  auto change = store->replace_record_sets("ZR", next, "import");
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(change->comment, "import");
  EXPECT_EQ(change->change_count, 3u);
  EXPECT_EQ(change->status, ChangeStatus::kPending);
  auto sets = store->record_sets("ZR");
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(texts(*sets), texts(next));
  EXPECT_FALSE(store->replace_record_sets("ZNONE", next, "").ok());
}

TEST(StateStoreTest, MarkInsyncThroughStopsAtThatChange) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  std::vector<std::string> ids;
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_zone(kOrigin, "ZM", ZoneOrigin::kApi, "", {}).ok());
    for (int i = 0; i < 5; ++i) {
      auto c = store->apply_change_batch(
          "ZM", batch_of({{zone::ChangeAction::kCreate,
                           a_record("c" + std::to_string(i) + ".example.com.")}},
                         "change " + std::to_string(i)));
      ASSERT_TRUE(c.ok());
      ids.push_back(c->id);
    }
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), ids.size());
    ASSERT_TRUE(store->mark_insync_through(ids[2]).ok());
    EXPECT_FALSE(store->mark_insync_through("CNOSUCHCHANGE").ok());
  }
  auto store = open_store(path);  // the status is durable too
  ASSERT_TRUE(store);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto c = store->find_change(ids[i]);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->status, i <= 2 ? ChangeStatus::kInsync : ChangeStatus::kPending) << i;
    EXPECT_EQ(change_status_name((*c)->status), i <= 2 ? "INSYNC" : "PENDING");
  }
  // Marking an older change again changes nothing; the newest marks all.
  ASSERT_TRUE(store->mark_insync_through(ids[0]).ok());
  auto c3 = store->find_change(ids[3]);
  ASSERT_TRUE(c3.ok() && c3->has_value());
  EXPECT_EQ((*c3)->status, ChangeStatus::kPending);
  ASSERT_TRUE(store->mark_insync_through(ids[4]).ok());
  auto listed = store->list_changes(10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*listed)[i].id, ids[4 - i]);  // newest first
    EXPECT_EQ((*listed)[i].status, ChangeStatus::kInsync);
  }
  auto two = store->list_changes(2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].comment, "change 4");
}

TEST(StateStoreTest, ChangesOutliveTheirZone) {
  TempDir dir;
  auto store = open_store(dir.path() + "/state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create_zone(kOrigin, "ZGONE", ZoneOrigin::kApi, "", {}).ok());
  auto c = store->apply_change_batch(
      "ZGONE", batch_of({{zone::ChangeAction::kCreate, a_record("x.example.com.")}}));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(store->delete_zone("ZGONE").ok());
  auto found = store->find_change(c->id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->zone_id, "ZGONE");
  ASSERT_TRUE(store->mark_insync_through(c->id).ok());
}

TEST(StateStoreTest, EverythingPersistsAcrossReopen) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  std::string change_id;
  std::string dump;
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store
                    ->create_zone(kOrigin, "ZP", ZoneOrigin::kConfig, "persist",
                                  {a_record("www.example.com.")})
                    .ok());
    auto c = store->apply_change_batch(
        "ZP", batch_of({{zone::ChangeAction::kCreate, RS(kEveryPolicy[13])}}, "geo"));
    ASSERT_TRUE(c.ok());
    change_id = c->id;
    ASSERT_TRUE(store->set_seed_snapshot("ZP", {a_record("www.example.com.")}).ok());
    ASSERT_TRUE(store->put_health_check({{"Id", "hc-1"}, {"Type", "TCP"}, {"Port", 80}}).ok());
    dump = dump_database(path);
  }
  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(dump_database(path), dump);
  auto zone = store->find_zone("ZP");
  ASSERT_TRUE(zone.ok() && zone->has_value());
  EXPECT_EQ((*zone)->comment, "persist");
  EXPECT_EQ((*zone)->created_by, ZoneOrigin::kConfig);
  EXPECT_EQ(zone_origin_name((*zone)->created_by), "config");
  EXPECT_EQ((*zone)->record_set_count, 2u);
  auto sets = store->record_sets("ZP");
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(texts(*sets), texts({a_record("www.example.com."), RS(kEveryPolicy[13])}));
  auto c = store->find_change(change_id);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->comment, "geo");
  auto seed = store->seed_snapshot("ZP");
  ASSERT_TRUE(seed.ok() && seed->has_value());
  EXPECT_EQ((*seed)->size(), 1u);
  auto checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].config["Port"], 80);
}

TEST(StateStoreTest, SeedSnapshotSetGetAbsentAndDeletedWithZone) {
  TempDir dir;
  auto store = open_store(dir.path() + "/state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create_zone(kOrigin, "ZS", ZoneOrigin::kConfig, "", {}).ok());
  auto absent = store->seed_snapshot("ZS");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());

  std::vector<zone::RecordSet> seed;
  for (const auto& text : kEveryPolicy) seed.push_back(RS(text));
  ASSERT_TRUE(store->set_seed_snapshot("ZS", seed).ok());
  auto got = store->seed_snapshot("ZS");
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(texts(**got), texts(seed));

  // Replaced, and an empty snapshot is not an absent one.
  ASSERT_TRUE(store->set_seed_snapshot("ZS", {}).ok());
  got = store->seed_snapshot("ZS");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE((*got)->empty());

  EXPECT_FALSE(store->set_seed_snapshot("ZNONE", seed).ok());
  ASSERT_TRUE(store->set_seed_snapshot("ZS", seed).ok());
  ASSERT_TRUE(store->delete_zone("ZS").ok());
  ASSERT_TRUE(store->create_zone(kOrigin, "ZS", ZoneOrigin::kConfig, "", {}).ok());
  absent = store->seed_snapshot("ZS");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

TEST(StateStoreTest, HealthChecksPutListDeleteAndConfigSync) {
  TempDir dir;
  auto store = open_store(dir.path() + "/state.db");
  ASSERT_TRUE(store);
  const json api1 = {{"Id", "api-1"}, {"Type", "HTTP"}, {"FullyQualifiedDomainName", "a.test"}};
  const json api2 = {{"Id", "api-2"}, {"Type", "TCP"}, {"IPAddress", "192.0.2.1"}, {"Port", 22}};
  ASSERT_TRUE(store->put_health_check(api2).ok());
  ASSERT_TRUE(store->put_health_check(api1).ok());
  EXPECT_FALSE(store->put_health_check({{"Type", "TCP"}}).ok());  // no Id
  EXPECT_FALSE(store->put_health_check({{"Id", 7}}).ok());
  auto checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[0].id, "api-1");  // ordered by id
  EXPECT_EQ((*checks)[0].config, api1);
  EXPECT_FALSE((*checks)[0].from_config);
  EXPECT_GT((*checks)[0].created_at_ms, 0);
  EXPECT_EQ((*checks)[1].config, api2);

  // Replaced by id.
  json api2b = api2;
  api2b["Port"] = 2222;
  ASSERT_TRUE(store->put_health_check(api2b).ok());
  checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[1].config["Port"], 2222);

  // The file's checks: inserted with from_config.
  const json cfg1 = {{"Id", "cfg-1"}, {"Type", "TCP"}, {"Port", 80}};
  const json cfg2 = {{"Id", "cfg-2"}, {"Type", "TCP"}, {"Port", 443}};
  ASSERT_TRUE(store->sync_config_health_checks({cfg1, cfg2}).ok());
  checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 4u);
  EXPECT_TRUE((*checks)[2].from_config);
  EXPECT_EQ((*checks)[2].id, "cfg-1");
  EXPECT_TRUE((*checks)[3].from_config);

  // A later file: cfg-1 changed, cfg-2 gone, cfg-3 new; API rows untouched.
  json cfg1b = cfg1;
  cfg1b["Port"] = 8080;
  const json cfg3 = {{"Id", "cfg-3"}, {"Type", "TCP"}, {"Port", 53}};
  ASSERT_TRUE(store->sync_config_health_checks({cfg1b, cfg3}).ok());
  checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  std::map<std::string, StoredHealthCheck> by_id;
  for (const auto& c : *checks) by_id[c.id] = c;
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id.count("cfg-2"), 0u);
  EXPECT_EQ(by_id["cfg-1"].config, cfg1b);
  EXPECT_EQ(by_id["cfg-3"].config, cfg3);
  EXPECT_EQ(by_id["api-1"].config, api1);
  EXPECT_FALSE(by_id["api-1"].from_config);
  EXPECT_EQ(by_id["api-2"].config, api2b);

  // A bad config list changes nothing.
  EXPECT_FALSE(store->sync_config_health_checks({cfg1, json{{"Type", "TCP"}}}).ok());
  auto unchanged = store->health_checks();
  ASSERT_TRUE(unchanged.ok());
  ASSERT_EQ(unchanged->size(), 4u);
  EXPECT_EQ((*unchanged)[2].config, cfg1b);

  // An empty file removes every config row, no API row.
  ASSERT_TRUE(store->sync_config_health_checks({}).ok());
  checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[0].id, "api-1");
  EXPECT_EQ((*checks)[1].id, "api-2");

  auto deleted = store->delete_health_check("api-1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  deleted = store->delete_health_check("api-1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(*deleted);
  checks = store->health_checks();
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 1u);
}

TEST(StateStoreTest, WritersOnSeveralThreadsShareOneStore) {
  TempDir dir;
  auto store = open_store(dir.path() + "/state.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create_zone(kOrigin, "ZT", ZoneOrigin::kApi, "", {}).ok());
  constexpr int kThreads = 4, kBatches = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        zone::ChangeBatch batch;
        for (int k = 0; k < 3; ++k)
          batch.changes.push_back({zone::ChangeAction::kCreate,
                                   a_record("t" + std::to_string(t) + "-" + std::to_string(b) +
                                            "-" + std::to_string(k) + ".example.com.")});
        if (!store->apply_change_batch("ZT", batch).ok()) ++failures[t];
        if (!store->list_zones().ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  auto sets = store->record_sets("ZT");
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(sets->size(), static_cast<size_t>(kThreads * kBatches * 3));
  auto changes = store->list_changes(1000);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), static_cast<size_t>(kThreads * kBatches));
}

// --- durability: a writer killed with SIGKILL at random moments ---

constexpr int kSetsPerBatch = 20;

// Batch `n`: CREATEs of "b<n>-<k>.<origin>" for k < kSetsPerBatch.
zone::ChangeBatch numbered_batch(int64_t n, const std::string& origin) {
  zone::ChangeBatch batch;
  batch.comment = "batch " + std::to_string(n);
  const zone::RecordSet base = a_record("x.example.com.");
  for (int k = 0; k < kSetsPerBatch; ++k) {
    zone::RecordSet rs = base;
    rs.name = N("b" + std::to_string(n) + "-" + std::to_string(k) + "." + origin);
    batch.changes.push_back({zone::ChangeAction::kCreate, std::move(rs)});
  }
  return batch;
}

// Every batch in the zone is whole, has its change row, and every batch the writer was told
// committed is there. Returns the batches present.
std::set<int64_t> check_whole_batches(StateStore& store, const std::string& zone_id,
                                      const std::set<int64_t>& reported) {
  std::map<int64_t, int> rows;
  auto sets = store.record_sets(zone_id);
  EXPECT_TRUE(sets.ok());
  if (!sets.ok()) return {};
  for (const auto& rs : *sets) {
    const std::string label(rs.name.label(0));  // "b<n>-<k>"
    rows[std::stoll(label.substr(1, label.find('-') - 1))]++;
  }
  std::set<int64_t> present;
  for (const auto& [n, count] : rows) {
    EXPECT_EQ(count, kSetsPerBatch) << "batch " << n << " is partly present";
    present.insert(n);
  }
  for (int64_t n : reported)
    EXPECT_TRUE(present.count(n)) << "committed batch " << n << " is missing";
  std::set<int64_t> recorded;
  auto changes = store.list_changes(1000000);
  EXPECT_TRUE(changes.ok());
  if (changes.ok()) {
    for (const auto& c : *changes) {
      if (c.zone_id != zone_id) continue;
      EXPECT_EQ(c.change_count, static_cast<size_t>(kSetsPerBatch));
      recorded.insert(std::stoll(c.comment.substr(6)));
    }
  }
  EXPECT_EQ(recorded, present) << "record sets and change rows disagree";
  return present;
}

TEST(StateStoreDurabilityTest, KilledWriterLeavesOnlyWholeBatches) {
  TempDir dir;
  const std::string path = dir.path() + "/state.db";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(5, 200);
  std::map<int, std::set<int64_t>> reported;  // per round: batches the writer saw committed
  size_t total_present = 0;
  // Each round writes its own zone, so the check after each kill reads only that round's rows.
  auto zone_id = [](int round) { return "ZKILL" + std::to_string(round); };
  auto origin = [](int round) { return "r" + std::to_string(round) + ".example.com."; };
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_zone(N(origin(0)), zone_id(0), ZoneOrigin::kApi, "", {}).ok());
  }
  const auto deadline = Clock::now() + std::chrono::seconds(8);
  int rounds = 0;
  while (rounds < 30 && Clock::now() < deadline) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto store = StateStore::open(path);
      if (!store.ok()) _exit(2);
      for (int64_t n = static_cast<int64_t>(rounds) * 1000000;; ++n) {
        auto batch = numbered_batch(n, origin(rounds));
        if (!(*store)->apply_change_batch(zone_id(rounds), batch).ok()) _exit(3);
        if (write(fds[1], &n, sizeof n) != sizeof n) _exit(5);  // atomic: < PIPE_BUF
      }
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status))
        << "the writer exited by itself with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    int64_t n = 0;
    while (read(fds[0], &n, sizeof n) == sizeof n) reported[rounds].insert(n);
    close(fds[0]);

    // A fresh open recovers what the killed writer left; then the next round's zone.
    auto store = open_store(path);
    ASSERT_TRUE(store);
    total_present += check_whole_batches(*store, zone_id(rounds), reported[rounds]).size();
    ++rounds;
    ASSERT_TRUE(
        store->create_zone(N(origin(rounds)), zone_id(rounds), ZoneOrigin::kApi, "", {}).ok());
  }
  // Everything once more, after all the kills.
  auto store = open_store(path);
  ASSERT_TRUE(store);
  size_t again = 0;
  for (int r = 0; r < rounds; ++r)
    again += check_whole_batches(*store, zone_id(r), reported[r]).size();
  EXPECT_EQ(again, total_present);
  std::printf("[ durability ] %d kills, %zu whole batches present\n", rounds, total_present);
  EXPECT_GE(rounds, 10);
  EXPECT_GT(total_present, 0u);
}

}  // namespace
}  // namespace meridian::state
