// The durable state store in SQLite (see state_store.h).
#include "state/state_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <system_error>
#include <thread>

#include "dns/types.h"

namespace meridian::state {
namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 3;

// Tables of schema version 3 (version 1 lacked fleet_cache, version 2 zone_tags; opening one adds
// what it lacks). Record sets, tags and seed snapshots go with their zone; change rows do not (no
// foreign key): a change stays findable after its zone was deleted.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS zones ("
    " id TEXT PRIMARY KEY,"
    " origin_key TEXT NOT NULL UNIQUE,"
    " origin TEXT NOT NULL,"
    " created_by TEXT NOT NULL,"
    " comment TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS record_sets ("
    " zone_id TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,"
    " name_key TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " set_identifier TEXT NOT NULL,"
    " json TEXT NOT NULL,"
    " PRIMARY KEY (zone_id, name_key, type, set_identifier)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS changes ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " zone_id TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " submitted_at_ms INTEGER NOT NULL,"
    " comment TEXT NOT NULL,"
    " change_count INTEGER NOT NULL);"
    // mark_insync_through touches only the (few) pending rows, not the whole history.
    "CREATE INDEX IF NOT EXISTS changes_pending ON changes(seq) WHERE status = 'PENDING';"
    "CREATE TABLE IF NOT EXISTS seed_snapshots ("
    " zone_id TEXT PRIMARY KEY REFERENCES zones(id) ON DELETE CASCADE,"
    " json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS health_checks ("
    " id TEXT PRIMARY KEY,"
    " json TEXT NOT NULL,"
    " from_config INTEGER NOT NULL,"
    " created_at_ms INTEGER NOT NULL);"
    // A fleet edge's last applied shared state (docs/fleet.md): one row.
    "CREATE TABLE IF NOT EXISTS fleet_cache ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " revision INTEGER NOT NULL,"
    " state TEXT NOT NULL);"
    // A hosted zone's tags (ChangeTagsForResource); a health check's are in its JSON.
    "CREATE TABLE IF NOT EXISTS zone_tags ("
    " zone_id TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY (zone_id, key)) WITHOUT ROWID;";

constexpr const char* kZoneColumns =
    "SELECT z.id, z.origin, z.created_by, z.comment, z.created_at_ms,"
    " (SELECT COUNT(*) FROM record_sets r WHERE r.zone_id = z.id) FROM zones z";

Error db_error(sqlite3* db, const std::string& path, std::string_view doing) {
  return make_error("state database: " + std::string(doing) + ": " + sqlite3_errmsg(db), path);
}

// Holds the connection's own (recursive) mutex for a whole method: FULLMUTEX serializes single
// calls only, and a transaction spans many.
class ConnectionLock {
 public:
  explicit ConnectionLock(sqlite3* db) : mutex_(sqlite3_db_mutex(db)) {
    sqlite3_mutex_enter(mutex_);
  }
  ~ConnectionLock() { sqlite3_mutex_leave(mutex_); }
  ConnectionLock(const ConnectionLock&) = delete;
  ConnectionLock& operator=(const ConnectionLock&) = delete;

 private:
  sqlite3_mutex* mutex_;
};

// A prepared statement, finalized on every path out; reset() readies it for the next row.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  Statement& bind(int i, std::string_view v) {
    // A null data pointer would bind SQL NULL; an empty view is an empty string.
    sqlite3_bind_text(stmt_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t != nullptr ? std::string(reinterpret_cast<const char*>(t),
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
                        : std::string();
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

Status exec(sqlite3* db, const std::string& path, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string what = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return make_error("state database: " + what, path);
  }
  return Ok{};
}

// BEGIN (IMMEDIATE for writes, so a busy database shows at the start, not at COMMIT) ... COMMIT;
// rolled back when left without commit(), by an error or an exception.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
  ~Transaction() {
    if (active_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin(bool write) {
    if (auto s = exec(db_, path_, write ? "BEGIN IMMEDIATE" : "BEGIN"); !s) return s;
    active_ = true;
    return Ok{};
  }
  Status commit() {
    if (auto s = exec(db_, path_, "COMMIT"); !s) return s;
    active_ = false;
    return Ok{};
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool active_ = false;
};

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Random upper-case identifiers. The generator is per thread, and seeded again in a forked
// child so parent and child do not hand out the same ids.
std::string random_id(char prefix, size_t length) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng;
  thread_local pid_t seeded_for = -1;
  if (seeded_for != getpid()) {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    rng.seed(seq);
    seeded_for = getpid();
  }
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id(1, prefix);
  for (size_t i = 0; i < length; ++i) id.push_back(kAlphabet[pick(rng)]);
  return id;
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string name_key(const dns::Name& name) {
  return name.lowercased().to_text();
}

// JSON text for a column; dump() throws on invalid UTF-8, which becomes an error here.
Result<std::string> json_text(const json& j, const std::string& path) {
  try {
    return j.dump();
  } catch (const json::exception& e) {
    return make_error(std::string("state database: cannot store JSON: ") + e.what(), path);
  }
}

Result<json> parse_json(const std::string& text, const std::string& path, std::string_view what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return make_error(
        "state database: stored " + std::string(what) + " is not valid JSON: " + e.what(), path);
  }
}

// A record set as its table row: key columns and Route 53 JSON text.
struct RecordSetRow {
  std::string name_key;
  int64_t type = 0;
  std::string set_identifier;
  std::string json;
};

// Below this many record sets one thread converts them; above, the cores share the work.
constexpr size_t kParallelFrom = 2048;

// The first failure of a conversion: its index and what went wrong.
struct Failure {
  size_t index = SIZE_MAX;
  std::string what;
};

// Runs work(begin, end, failure) over [0, n) in slices on up to 8 threads; returns the failure
// with the lowest index, if any.
template <typename Work>
std::optional<Failure> parallel_for(size_t n, const Work& work) {
  const size_t workers =
      n < kParallelFrom ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  const size_t chunk = (n + workers - 1) / workers;
  std::vector<Failure> failures(workers);
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) {
    const size_t begin = std::min(n, w * chunk);
    const size_t end = std::min(n, begin + chunk);
    try {
      threads.emplace_back([&work, begin, end, &f = failures[w]] { work(begin, end, f); });
    } catch (const std::system_error&) {
      work(begin, end, failures[w]);  // no thread to be had: do it here
    }
  }
  work(0, std::min(n, chunk), failures[0]);
  for (std::thread& t : threads) t.join();
  for (Failure& f : failures)  // slices in order: the first failing index wins
    if (f.index != SIZE_MAX) return std::move(f);
  return std::nullopt;
}

// Serializes before any lock is taken: JSON is the costly part of a large write, and the
// transaction then only binds and steps. Errors name "<list>[i]".
Result<std::vector<RecordSetRow>> to_rows(const std::vector<const zone::RecordSet*>& sets,
                                          std::string_view list) {
  std::vector<RecordSetRow> rows(sets.size());
  auto failure = parallel_for(sets.size(), [&](size_t begin, size_t end, Failure& f) {
    for (size_t i = begin; i < end; ++i) {
      const zone::RecordSet& rs = *sets[i];
      try {
        rows[i].json = zone::record_set_to_json(rs).dump();  // throws on invalid UTF-8
      } catch (const json::exception& e) {
        f = {i, e.what()};
        return;
      }
      rows[i].name_key = name_key(rs.name);
      rows[i].type = rs.type;
      rows[i].set_identifier = rs.set_identifier;
    }
  });
  if (failure)
    return make_error("cannot store the record set as JSON: " + failure->what,
                      std::string(list) + "[" + std::to_string(failure->index) + "]");
  return rows;
}

// Stored JSON texts back to record sets (outside the lock, like to_rows).
Result<std::vector<zone::RecordSet>> from_texts(const std::vector<std::string>& texts,
                                                const dns::Name& origin, std::string_view what,
                                                const std::string& path) {
  std::vector<zone::RecordSet> out(texts.size());
  auto failure = parallel_for(texts.size(), [&](size_t begin, size_t end, Failure& f) {
    for (size_t i = begin; i < end; ++i) {
      json j;
      try {
        j = json::parse(texts[i]);
      } catch (const json::exception& e) {
        f = {i, std::string("not valid JSON: ") + e.what()};
        return;
      }
      auto rs = zone::record_set_from_json(j, origin, "");
      if (!rs) {
        f = {i, rs.error().to_string()};
        return;
      }
      out[i] = std::move(*rs);
    }
  });
  if (failure)
    return make_error("state database: stored record set " + std::to_string(failure->index) +
                          " of " + std::string(what) + " is invalid: " + failure->what,
                      path);
  return out;
}

std::string describe(const zone::RecordSet& rs) {
  return rs.name.to_text() + " " + dns::type_to_text(rs.type) +
         (rs.set_identifier.empty() ? "" : " (" + rs.set_identifier + ")");
}

ZoneInfo zone_from_row(const Statement& s) {
  ZoneInfo z;
  z.id = s.text(0);
  // Stored by create_zone from a Name, so it parses; a damaged row shows as the root.
  if (auto origin = dns::Name::from_text(s.text(1)); origin) z.origin = *origin;
  z.created_by = s.text(2) == "config" ? ZoneOrigin::kConfig : ZoneOrigin::kApi;
  z.comment = s.text(3);
  z.created_at_ms = s.int64(4);
  z.record_set_count = static_cast<size_t>(s.int64(5));
  return z;
}

ChangeInfo change_from_row(const Statement& s) {
  ChangeInfo c;
  c.id = s.text(0);
  c.zone_id = s.text(1);
  c.status = s.text(2) == "INSYNC" ? ChangeStatus::kInsync : ChangeStatus::kPending;
  c.submitted_at_ms = s.int64(3);
  c.comment = s.text(4);
  c.change_count = static_cast<size_t>(s.int64(5));
  return c;
}

// The zone's origin, or an error naming the unknown zone id.
Result<dns::Name> zone_origin(sqlite3* db, const std::string& path, std::string_view zone_id) {
  Statement s(db, "SELECT origin FROM zones WHERE id = ?1");
  if (!s.prepared()) return db_error(db, path, "looking up a zone");
  s.bind(1, zone_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return make_error("no hosted zone with id " + std::string(zone_id));
  if (rc != SQLITE_ROW) return db_error(db, path, "looking up a zone");
  auto origin = dns::Name::from_text(s.text(0));
  if (!origin)
    return make_error("state database: zone " + std::string(zone_id) +
                          " has an invalid origin: " + origin.error().what,
                      path);
  return *origin;
}

// Inserts rows of one zone; `replace`: INSERT OR REPLACE.
class RecordSetWriter {
 public:
  RecordSetWriter(sqlite3* db, const std::string& path, bool replace)
      : db_(db),
        path_(path),
        s_(db, replace ? "INSERT OR REPLACE INTO record_sets"
                         " (zone_id, name_key, type, set_identifier, json)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)"
                       : "INSERT INTO record_sets (zone_id, name_key, type, set_identifier, json)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)") {}

  // An existing row is an error naming `where` ("Changes[3]"); sqlite's errors name the file.
  Status write(std::string_view zone_id, const RecordSetRow& row, const zone::RecordSet& rs,
               const std::string& where, std::string_view action) {
    if (!s_.prepared()) return db_error(db_, path_, "writing record sets");
    s_.bind(1, zone_id)
        .bind(2, row.name_key)
        .bind(3, row.type)
        .bind(4, row.set_identifier)
        .bind(5, row.json);
    const int rc = s_.step();
    s_.reset();
    if (rc == SQLITE_DONE) return Ok{};
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      return make_error(std::string(action) + "record set " + describe(rs) + " already exists",
                        where);
    return make_error(where + ": state database: " + sqlite3_errmsg(db_), path_);
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  Statement s_;
};

std::vector<const zone::RecordSet*> pointers(const std::vector<zone::RecordSet>& sets) {
  std::vector<const zone::RecordSet*> out;
  out.reserve(sets.size());
  for (const auto& rs : sets) out.push_back(&rs);
  return out;
}

Status insert_change(sqlite3* db, const std::string& path, const ChangeInfo& c) {
  Statement s(db,
              "INSERT INTO changes (id, zone_id, status, submitted_at_ms, comment, change_count)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.prepared()) return db_error(db, path, "recording the change");
  s.bind(1, c.id)
      .bind(2, c.zone_id)
      .bind(3, change_status_name(c.status))
      .bind(4, c.submitted_at_ms)
      .bind(5, c.comment)
      .bind(6, static_cast<int64_t>(c.change_count));
  if (s.step() != SQLITE_DONE) return db_error(db, path, "recording the change");
  return Ok{};
}

}  // namespace

ChangeInfo new_change(std::string_view zone_id, std::string_view comment, size_t count) {
  ChangeInfo c;
  c.id = random_id('C', 20);
  c.zone_id = std::string(zone_id);
  c.status = ChangeStatus::kPending;
  c.submitted_at_ms = now_ms();
  c.comment = std::string(comment);
  c.change_count = count;
  return c;
}

namespace {

// Writes one health check row; keeps created_at_ms of a row it replaces.
Status upsert_health_check(sqlite3* db, const std::string& path, Statement& s, const json& config,
                           bool from_config) {
  if (!config.is_object() || !config.contains("Id") || !config["Id"].is_string() ||
      config["Id"].get<std::string>().empty())
    return make_error("a health check needs a non-empty string \"Id\"");
  if (!s.prepared()) return db_error(db, path, "writing a health check");
  auto text = json_text(config, path);
  if (!text) return text.error();
  s.bind(1, config["Id"].get<std::string>())
      .bind(2, *text)
      .bind(3, int64_t{from_config ? 1 : 0})
      .bind(4, now_ms());
  const int rc = s.step();
  s.reset();
  if (rc != SQLITE_DONE) return db_error(db, path, "writing a health check");
  return Ok{};
}

constexpr const char* kUpsertHealthCheck =
    "INSERT INTO health_checks (id, json, from_config, created_at_ms) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT(id) DO UPDATE SET json = excluded.json, from_config = excluded.from_config";

}  // namespace

std::string_view zone_origin_name(ZoneOrigin o) {
  return o == ZoneOrigin::kConfig ? "config" : "api";
}

std::string_view change_status_name(ChangeStatus s) {
  return s == ChangeStatus::kInsync ? "INSYNC" : "PENDING";
}

std::string zone_id_for_origin(const dns::Name& origin) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  for (char c : lower(origin.to_text())) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;  // FNV-1a 64 prime
  }
  // 13 base-32 characters, most significant first (the first carries the top 4 bits).
  static constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string id = "Z";
  for (int i = 12; i >= 0; --i) id.push_back(kBase32[(h >> (5 * i)) & 31]);
  return id;
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path) {
  // Only a file that does not exist is created (and then seeded from the config file): an
  // existing file without the schema, such as one truncated to 0 bytes, is somebody's lost
  // data, and seeding it would bury what the API had written.
  struct stat st {};
  const bool existed = ::stat(path.c_str(), &st) == 0;
  if (!existed && errno != ENOENT) {
    return make_error(std::string("cannot open state database: ") + std::strerror(errno), path);
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | (existed ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return make_error("cannot open state database: " + what, path);
  }
  std::unique_ptr<StateStore> store(new StateStore(db, path));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);

  // The version first: a newer database is left exactly as it is.
  auto version = [&]() -> Result<int64_t> {
    Statement s(db, "PRAGMA user_version");
    if (!s.prepared() || s.step() != SQLITE_ROW)
      return db_error(db, path, "reading the schema version");
    return s.int64(0);
  };
  auto refuse_newer = [&](int64_t v) -> Status {
    if (v <= kSchemaVersion) return Ok{};
    return make_error("state database " + path + " has schema version " + std::to_string(v) +
                      "; this meridiand understands up to " + std::to_string(kSchemaVersion));
  };
  auto v = version();
  if (!v) return v.error();
  if (auto s = refuse_newer(*v); !s) return s.error();
  if (existed && *v == 0) {
    return make_error(
        "state database " + path + " exists but holds no meridiand schema (" +
        std::to_string(st.st_size) +
        " bytes): it is not seeded over, so nothing written through the API is lost by "
        "accident. Restore it from a backup; or, to start again from the config file's zones "
        "(everything written through the API is gone), move it aside (mv " +
        path + " " + path + ".broken) and start meridiand again");
  }

  // WAL + FULL: a commit is on disk (the WAL fsynced) before the write returns, so what was
  // acknowledged survives power loss, and readers never block the writer.
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto s = exec(db, path, sql); !s) return s.error();
  }
  if (store->journal_mode() != "wal")
    return make_error("state database: cannot switch to WAL journal mode", path);

  if (*v == kSchemaVersion) return store;  // tables exist: opening writes nothing

  Transaction tx(db, store->path_);
  if (auto s = tx.begin(true); !s) return s.error();
  v = version();  // again under the write lock: another process may have created it meanwhile
  if (!v) return v.error();
  if (auto s = refuse_newer(*v); !s) return s.error();
  if (auto s = exec(db, path, kSchema); !s) return s.error();
  if (*v < kSchemaVersion) {
    const std::string sql = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
    if (auto s = exec(db, path, sql.c_str()); !s) return s.error();
  }
  if (auto s = tx.commit(); !s) return s.error();
  return store;
}

StateStore::~StateStore() {
  sqlite3_close(db_);
}

std::string StateStore::journal_mode() const {
  ConnectionLock lock(db_);
  Statement s(db_, "PRAGMA journal_mode");
  if (!s.prepared() || s.step() != SQLITE_ROW) return "";
  return lower(s.text(0));
}

// --- zones and record sets ---

namespace {

// The tags of the zones in `zones` (every zone's when `only` is empty), read in the caller's
// transaction.
Status read_zone_tags(sqlite3* db, const std::string& path, std::vector<ZoneInfo>& zones,
                      std::string_view only) {
  Statement s(db, only.empty() ? "SELECT zone_id, key, value FROM zone_tags"
                               : "SELECT zone_id, key, value FROM zone_tags WHERE zone_id = ?1");
  if (!s.prepared()) return db_error(db, path, "reading zone tags");
  if (!only.empty()) s.bind(1, only);
  std::map<std::string, ResourceTags> by_zone;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) by_zone[s.text(0)][s.text(1)] = s.text(2);
  if (rc != SQLITE_DONE) return db_error(db, path, "reading zone tags");
  for (ZoneInfo& z : zones)
    if (auto it = by_zone.find(z.id); it != by_zone.end()) z.tags = std::move(it->second);
  return Ok{};
}

}  // namespace

Result<std::vector<ZoneInfo>> StateStore::list_zones() const {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);  // zones and tags from one snapshot
  if (auto b = tx.begin(false); !b) return b.error();
  const std::string sql = std::string(kZoneColumns) + " ORDER BY z.origin_key";
  Statement s(db_, sql.c_str());
  if (!s.prepared()) return db_error(db_, path_, "listing zones");
  std::vector<ZoneInfo> zones;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) zones.push_back(zone_from_row(s));
  if (rc != SQLITE_DONE) return db_error(db_, path_, "listing zones");
  if (auto t = read_zone_tags(db_, path_, zones, ""); !t) return t.error();
  if (auto c = tx.commit(); !c) return c.error();
  return zones;
}

Result<std::optional<ZoneInfo>> StateStore::find_zone(std::string_view id) const {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto b = tx.begin(false); !b) return b.error();
  const std::string sql = std::string(kZoneColumns) + " WHERE z.id = ?1";
  Statement s(db_, sql.c_str());
  if (!s.prepared()) return db_error(db_, path_, "finding a zone");
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<ZoneInfo>();
  if (rc != SQLITE_ROW) return db_error(db_, path_, "finding a zone");
  std::vector<ZoneInfo> found{zone_from_row(s)};
  if (auto t = read_zone_tags(db_, path_, found, id); !t) return t.error();
  if (auto c = tx.commit(); !c) return c.error();
  return std::optional<ZoneInfo>(std::move(found.front()));
}

Status StateStore::set_zone_tags(std::string_view zone_id, const ResourceTags& tags) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s.error();
  if (auto origin = zone_origin(db_, path_, zone_id); !origin) return origin.error();
  {
    Statement del(db_, "DELETE FROM zone_tags WHERE zone_id = ?1");
    if (!del.prepared()) return db_error(db_, path_, "writing zone tags");
    del.bind(1, zone_id);
    if (del.step() != SQLITE_DONE) return db_error(db_, path_, "writing zone tags");
  }
  Statement ins(db_, "INSERT INTO zone_tags (zone_id, key, value) VALUES (?1, ?2, ?3)");
  if (!ins.prepared()) return db_error(db_, path_, "writing zone tags");
  for (const auto& [key, value] : tags) {
    ins.bind(1, zone_id).bind(2, key).bind(3, value);
    const int rc = ins.step();
    ins.reset();
    if (rc != SQLITE_DONE) return db_error(db_, path_, "writing zone tags");
  }
  return tx.commit();
}

Result<std::vector<zone::RecordSet>> StateStore::record_sets(std::string_view zone_id) const {
  std::vector<std::string> texts;
  std::optional<dns::Name> origin;
  {
    ConnectionLock lock(db_);
    Transaction tx(db_, path_);  // the origin and the rows from one snapshot
    if (auto s = tx.begin(false); !s) return s.error();
    auto o = zone_origin(db_, path_, zone_id);
    if (!o) return o.error();
    origin = std::move(*o);
    Statement s(db_,
                "SELECT json FROM record_sets WHERE zone_id = ?1"
                " ORDER BY name_key, type, set_identifier");
    if (!s.prepared()) return db_error(db_, path_, "reading record sets");
    s.bind(1, zone_id);
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) texts.push_back(s.text(0));
    if (rc != SQLITE_DONE) return db_error(db_, path_, "reading record sets");
    if (auto c = tx.commit(); !c) return c.error();
  }
  return from_texts(texts, *origin, "zone " + std::string(zone_id), path_);
}

Result<ZoneInfo> StateStore::create_zone(const dns::Name& origin, std::string id,
                                         ZoneOrigin created_by, std::string_view comment,
                                         const std::vector<zone::RecordSet>& record_sets) {
  auto rows = to_rows(pointers(record_sets), "RecordSets");
  if (!rows) return rows.error();
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s.error();

  Statement by_id(db_, "SELECT 1 FROM zones WHERE id = ?1");
  if (!by_id.prepared()) return db_error(db_, path_, "creating a zone");
  auto id_taken = [&](const std::string& candidate) -> Result<bool> {
    by_id.bind(1, candidate);
    const int rc = by_id.step();
    by_id.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(db_, path_, "creating a zone");
    return rc == SQLITE_ROW;
  };
  const bool random = id.empty();
  for (;;) {
    if (random) id = random_id('Z', 13);
    auto taken = id_taken(id);
    if (!taken) return taken.error();
    if (!*taken) break;
    if (!random) return make_error("a hosted zone with id " + id + " exists already");
  }

  const std::string key = lower(origin.to_text());
  {
    Statement s(db_, "SELECT id FROM zones WHERE origin_key = ?1");
    if (!s.prepared()) return db_error(db_, path_, "creating a zone");
    s.bind(1, key);
    const int rc = s.step();
    if (rc == SQLITE_ROW)
      return make_error("a hosted zone for " + origin.to_text() + " exists already (" + s.text(0) +
                        ")");
    if (rc != SQLITE_DONE) return db_error(db_, path_, "creating a zone");
  }

  ZoneInfo info;
  info.id = id;
  info.origin = origin;
  info.created_by = created_by;
  info.comment = std::string(comment);
  info.created_at_ms = now_ms();
  info.record_set_count = record_sets.size();
  {
    Statement s(db_,
                "INSERT INTO zones (id, origin_key, origin, created_by, comment, created_at_ms)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!s.prepared()) return db_error(db_, path_, "creating a zone");
    s.bind(1, info.id)
        .bind(2, key)
        .bind(3, origin.to_text())
        .bind(4, zone_origin_name(created_by))
        .bind(5, info.comment)
        .bind(6, info.created_at_ms);
    if (s.step() != SQLITE_DONE) return db_error(db_, path_, "creating a zone");
  }
  RecordSetWriter writer(db_, path_, false);
  for (size_t i = 0; i < record_sets.size(); ++i) {
    const std::string where = "RecordSets[" + std::to_string(i) + "]";
    if (auto s = writer.write(id, (*rows)[i], record_sets[i], where, ""); !s) return s.error();
  }
  if (auto s = tx.commit(); !s) return s.error();
  return info;
}

Result<bool> StateStore::delete_zone(std::string_view zone_id) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s.error();
  // Record sets and the seed snapshot go by ON DELETE CASCADE.
  Statement s(db_, "DELETE FROM zones WHERE id = ?1");
  if (!s.prepared()) return db_error(db_, path_, "deleting a zone");
  s.bind(1, zone_id);
  if (s.step() != SQLITE_DONE) return db_error(db_, path_, "deleting a zone");
  const bool deleted = sqlite3_changes(db_) > 0;
  if (auto c = tx.commit(); !c) return c.error();
  return deleted;
}

Result<ChangeInfo> StateStore::apply_change_batch(std::string_view zone_id,
                                                  const zone::ChangeBatch& batch) {
  std::vector<const zone::RecordSet*> sets;
  sets.reserve(batch.changes.size());
  for (const zone::Change& c : batch.changes) sets.push_back(&c.record_set);
  auto rows = to_rows(sets, "Changes");
  if (!rows) return rows.error();
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s.error();
  if (auto origin = zone_origin(db_, path_, zone_id); !origin) return origin.error();

  RecordSetWriter create(db_, path_, false);
  RecordSetWriter upsert(db_, path_, true);
  Statement del(db_,
                "DELETE FROM record_sets WHERE zone_id = ?1 AND name_key = ?2 AND type = ?3"
                " AND set_identifier = ?4");
  if (!del.prepared()) return db_error(db_, path_, "applying a change batch");
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    const zone::Change& c = batch.changes[i];
    const RecordSetRow& row = (*rows)[i];
    const std::string where = "Changes[" + std::to_string(i) + "]";
    switch (c.action) {
      case zone::ChangeAction::kCreate:
        if (auto s = create.write(zone_id, row, c.record_set, where, "CREATE: "); !s)
          return s.error();
        break;
      case zone::ChangeAction::kUpsert:
        if (auto s = upsert.write(zone_id, row, c.record_set, where, "UPSERT: "); !s)
          return s.error();
        break;
      case zone::ChangeAction::kDelete: {
        del.bind(1, zone_id).bind(2, row.name_key).bind(3, row.type).bind(4, row.set_identifier);
        const int rc = del.step();
        del.reset();
        if (rc != SQLITE_DONE)
          return make_error(where + ": state database: " + sqlite3_errmsg(db_), path_);
        if (sqlite3_changes(db_) == 0)
          return make_error("DELETE: record set " + describe(c.record_set) + " was not found",
                            where);
        break;
      }
    }
  }
  const ChangeInfo change = new_change(zone_id, batch.comment, batch.changes.size());
  if (auto s = insert_change(db_, path_, change); !s) return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  return change;
}

Result<ChangeInfo> StateStore::replace_record_sets(std::string_view zone_id,
                                                   const std::vector<zone::RecordSet>& record_sets,
                                                   std::string_view comment) {
  auto rows = to_rows(pointers(record_sets), "RecordSets");
  if (!rows) return rows.error();
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s.error();
  if (auto origin = zone_origin(db_, path_, zone_id); !origin) return origin.error();
  {
    Statement s(db_, "DELETE FROM record_sets WHERE zone_id = ?1");
    if (!s.prepared()) return db_error(db_, path_, "replacing record sets");
    s.bind(1, zone_id);
    if (s.step() != SQLITE_DONE) return db_error(db_, path_, "replacing record sets");
  }
  RecordSetWriter writer(db_, path_, false);
  for (size_t i = 0; i < record_sets.size(); ++i) {
    const std::string where = "RecordSets[" + std::to_string(i) + "]";
    if (auto s = writer.write(zone_id, (*rows)[i], record_sets[i], where, ""); !s) return s.error();
  }
  // The change counts the record sets the zone now holds.
  const ChangeInfo change = new_change(zone_id, comment, record_sets.size());
  if (auto s = insert_change(db_, path_, change); !s) return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  return change;
}

// --- change batches ---

Result<std::optional<ChangeInfo>> StateStore::find_change(std::string_view change_id) const {
  ConnectionLock lock(db_);
  Statement s(db_,
              "SELECT id, zone_id, status, submitted_at_ms, comment, change_count FROM changes"
              " WHERE id = ?1");
  if (!s.prepared()) return db_error(db_, path_, "finding a change");
  s.bind(1, change_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<ChangeInfo>();
  if (rc != SQLITE_ROW) return db_error(db_, path_, "finding a change");
  return std::optional<ChangeInfo>(change_from_row(s));
}

Status StateStore::mark_insync_through(std::string_view change_id) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s;
  int64_t seq = 0;
  {
    Statement s(db_, "SELECT seq FROM changes WHERE id = ?1");
    if (!s.prepared()) return db_error(db_, path_, "marking changes INSYNC");
    s.bind(1, change_id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error("no change with id " + std::string(change_id));
    if (rc != SQLITE_ROW) return db_error(db_, path_, "marking changes INSYNC");
    seq = s.int64(0);
  }
  Statement s(db_, "UPDATE changes SET status = 'INSYNC' WHERE status = 'PENDING' AND seq <= ?1");
  if (!s.prepared()) return db_error(db_, path_, "marking changes INSYNC");
  s.bind(1, seq);
  if (s.step() != SQLITE_DONE) return db_error(db_, path_, "marking changes INSYNC");
  return tx.commit();
}

Result<std::vector<ChangeInfo>> StateStore::list_changes(size_t limit) const {
  ConnectionLock lock(db_);
  Statement s(db_,
              "SELECT id, zone_id, status, submitted_at_ms, comment, change_count FROM changes"
              " ORDER BY seq DESC LIMIT ?1");
  if (!s.prepared()) return db_error(db_, path_, "listing changes");
  s.bind(1, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<ChangeInfo> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(change_from_row(s));
  if (rc != SQLITE_DONE) return db_error(db_, path_, "listing changes");
  return out;
}

// --- seed snapshots ---

Result<std::optional<std::vector<zone::RecordSet>>> StateStore::seed_snapshot(
    std::string_view zone_id) const {
  using Snapshot = std::optional<std::vector<zone::RecordSet>>;
  ConnectionLock lock(db_);
  Statement s(db_,
              "SELECT z.origin, s.json FROM seed_snapshots s JOIN zones z ON z.id = s.zone_id"
              " WHERE s.zone_id = ?1");
  if (!s.prepared()) return db_error(db_, path_, "reading a seed snapshot");
  s.bind(1, zone_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return Snapshot();
  if (rc != SQLITE_ROW) return db_error(db_, path_, "reading a seed snapshot");
  auto origin = dns::Name::from_text(s.text(0));
  if (!origin)
    return make_error("state database: zone " + std::string(zone_id) +
                          " has an invalid origin: " + origin.error().what,
                      path_);
  auto j = parse_json(s.text(1), path_, "seed snapshot");
  if (!j) return j.error();
  if (!j->is_array())
    return make_error("state database: the stored seed snapshot is not a list", path_);
  std::vector<zone::RecordSet> out;
  out.reserve(j->size());
  for (size_t i = 0; i < j->size(); ++i) {
    auto rs = zone::record_set_from_json((*j)[i], *origin, "/" + std::to_string(i));
    if (!rs)
      return make_error("state database: the seed snapshot of zone " + std::string(zone_id) +
                            " is invalid: " + rs.error().to_string(),
                        path_);
    out.push_back(std::move(*rs));
  }
  return Snapshot(std::move(out));
}

Status StateStore::set_seed_snapshot(std::string_view zone_id,
                                     const std::vector<zone::RecordSet>& record_sets) {
  auto rows = to_rows(pointers(record_sets), "RecordSets");
  if (!rows) return rows.error();
  // The same text as dumping the JSON list of them, without building it again.
  std::string text = "[";
  for (const RecordSetRow& row : *rows) text += (text.size() > 1 ? "," : "") + row.json;
  text += "]";

  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s;
  if (auto origin = zone_origin(db_, path_, zone_id); !origin) return origin.error();
  Statement s(db_, "INSERT OR REPLACE INTO seed_snapshots (zone_id, json) VALUES (?1, ?2)");
  if (!s.prepared()) return db_error(db_, path_, "writing a seed snapshot");
  s.bind(1, zone_id).bind(2, text);
  if (s.step() != SQLITE_DONE) return db_error(db_, path_, "writing a seed snapshot");
  return tx.commit();
}

// --- health checks ---

Result<std::vector<StoredHealthCheck>> StateStore::health_checks() const {
  ConnectionLock lock(db_);
  Statement s(db_, "SELECT id, json, from_config, created_at_ms FROM health_checks ORDER BY id");
  if (!s.prepared()) return db_error(db_, path_, "listing health checks");
  std::vector<StoredHealthCheck> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    StoredHealthCheck c;
    c.id = s.text(0);
    auto j = parse_json(s.text(1), path_, "health check " + c.id);
    if (!j) return j.error();
    c.config = std::move(*j);
    c.from_config = s.int64(2) != 0;
    c.created_at_ms = s.int64(3);
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return db_error(db_, path_, "listing health checks");
  return out;
}

Status StateStore::put_health_check(const nlohmann::json& config) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s;
  Statement s(db_, kUpsertHealthCheck);
  if (auto st = upsert_health_check(db_, path_, s, config, false); !st) return st;
  return tx.commit();
}

Result<bool> StateStore::delete_health_check(std::string_view id) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s.error();
  Statement s(db_, "DELETE FROM health_checks WHERE id = ?1");
  if (!s.prepared()) return db_error(db_, path_, "deleting a health check");
  s.bind(1, id);
  if (s.step() != SQLITE_DONE) return db_error(db_, path_, "deleting a health check");
  const bool deleted = sqlite3_changes(db_) > 0;
  if (auto c = tx.commit(); !c) return c.error();
  return deleted;
}

Status StateStore::sync_config_health_checks(const std::vector<nlohmann::json>& configs) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s;
  Statement upsert(db_, kUpsertHealthCheck);
  std::set<std::string> ids;
  for (const json& config : configs) {
    if (auto s = upsert_health_check(db_, path_, upsert, config, true); !s) return s;
    ids.insert(config["Id"].get<std::string>());
  }
  // Config rows that the file no longer has.
  std::vector<std::string> stale;
  {
    Statement s(db_, "SELECT id FROM health_checks WHERE from_config = 1");
    if (!s.prepared()) return db_error(db_, path_, "syncing health checks");
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW)
      if (!ids.count(s.text(0))) stale.push_back(s.text(0));
    if (rc != SQLITE_DONE) return db_error(db_, path_, "syncing health checks");
  }
  Statement del(db_, "DELETE FROM health_checks WHERE id = ?1");
  if (!del.prepared()) return db_error(db_, path_, "syncing health checks");
  for (const std::string& id : stale) {
    del.bind(1, id);
    const int rc = del.step();
    del.reset();
    if (rc != SQLITE_DONE) return db_error(db_, path_, "syncing health checks");
  }
  return tx.commit();
}

// --- fleet cache ---

Result<std::optional<FleetCache>> StateStore::fleet_cache() const {
  ConnectionLock lock(db_);
  Statement s(db_, "SELECT revision, state FROM fleet_cache WHERE id = 1");
  if (!s.prepared()) return db_error(db_, path_, "reading the fleet cache");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<FleetCache>{};
  if (rc != SQLITE_ROW) return db_error(db_, path_, "reading the fleet cache");
  return std::optional<FleetCache>{FleetCache{s.int64(0), s.text(1)}};
}

Status StateStore::set_fleet_cache(const FleetCache& cache) {
  ConnectionLock lock(db_);
  Transaction tx(db_, path_);
  if (auto s = tx.begin(true); !s) return s;
  Statement s(db_, "INSERT OR REPLACE INTO fleet_cache (id, revision, state) VALUES (1, ?1, ?2)");
  if (!s.prepared()) return db_error(db_, path_, "writing the fleet cache");
  s.bind(1, cache.revision).bind(2, cache.state);
  if (s.step() != SQLITE_DONE) return db_error(db_, path_, "writing the fleet cache");
  return tx.commit();
}

}  // namespace meridian::state
