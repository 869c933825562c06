// SQLite persistence of health states (see health_state_store.h).
#include "health/health_state_store.h"

#include <sqlite3.h>

namespace meridian::health {
namespace {

// Finalizes a prepared statement on every path out.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

int64_t to_unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Result<std::unique_ptr<HealthStateStore>> HealthStateStore::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return make_error("cannot open health state database: " + what, path);
  }
  std::unique_ptr<HealthStateStore> store(new HealthStateStore(db, path));
  sqlite3_busy_timeout(db, 1000);
  // WAL keeps a crash from losing committed states; NORMAL sync is enough for a cache of
  // states that the next probes correct anyway.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "CREATE TABLE IF NOT EXISTS health_state ("
                          " id TEXT PRIMARY KEY,"
                          " healthy INTEGER NOT NULL,"
                          " consecutive_successes INTEGER NOT NULL,"
                          " consecutive_failures INTEGER NOT NULL,"
                          " last_reason TEXT NOT NULL,"
                          " updated_at_ms INTEGER NOT NULL)"}) {
    if (auto status = store->exec(sql); !status) return status.error();
  }
  return store;
}

HealthStateStore::~HealthStateStore() {
  sqlite3_close(db_);
}

Status HealthStateStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string what = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return make_error("health state database: " + what, path_);
  }
  return Ok{};
}

std::string HealthStateStore::journal_mode() const {
  Statement s;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode", -1, &s.stmt, nullptr) != SQLITE_OK ||
      sqlite3_step(s.stmt) != SQLITE_ROW) {
    return "";
  }
  return reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
}

Result<std::map<std::string, CheckState>> HealthStateStore::load() const {
  Statement s;
  if (sqlite3_prepare_v2(db_,
                         "SELECT id, healthy, consecutive_successes, consecutive_failures,"
                         " last_reason, updated_at_ms FROM health_state",
                         -1, &s.stmt, nullptr) != SQLITE_OK) {
    return make_error(std::string("health state database: ") + sqlite3_errmsg(db_), path_);
  }
  std::map<std::string, CheckState> states;
  int rc = 0;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    CheckState state;
    std::string id = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
    state.status =
        sqlite3_column_int(s.stmt, 1) != 0 ? HealthStatus::kHealthy : HealthStatus::kUnhealthy;
    state.consecutive_successes = static_cast<uint32_t>(sqlite3_column_int64(s.stmt, 2));
    state.consecutive_failures = static_cast<uint32_t>(sqlite3_column_int64(s.stmt, 3));
    const unsigned char* reason = sqlite3_column_text(s.stmt, 4);
    state.last_failure_reason = reason != nullptr ? reinterpret_cast<const char*>(reason) : "";
    state.updated_at = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(sqlite3_column_int64(s.stmt, 5)));
    states.emplace(std::move(id), std::move(state));
  }
  if (rc != SQLITE_DONE) {
    return make_error(std::string("health state database: ") + sqlite3_errmsg(db_), path_);
  }
  return states;
}

Status HealthStateStore::save(const std::vector<std::pair<std::string, CheckState>>& states) {
  if (states.empty()) return Ok{};
  if (auto status = exec("BEGIN"); !status) return status;
  Statement s;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO health_state (id, healthy,"
                         " consecutive_successes, consecutive_failures, last_reason,"
                         " updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         -1, &s.stmt, nullptr) != SQLITE_OK) {
    std::string what = sqlite3_errmsg(db_);
    (void)exec("ROLLBACK");
    return make_error("health state database: " + what, path_);
  }
  for (const auto& [id, state] : states) {
    sqlite3_bind_text(s.stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(s.stmt, 2, state.healthy() ? 1 : 0);
    sqlite3_bind_int64(s.stmt, 3, state.consecutive_successes);
    sqlite3_bind_int64(s.stmt, 4, state.consecutive_failures);
    sqlite3_bind_text(s.stmt, 5, state.last_failure_reason.data(),
                      static_cast<int>(state.last_failure_reason.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.stmt, 6, to_unix_ms(state.updated_at));
    if (sqlite3_step(s.stmt) != SQLITE_DONE) {
      std::string what = sqlite3_errmsg(db_);
      (void)exec("ROLLBACK");
      return make_error("health state database: " + what, path_);
    }
    sqlite3_reset(s.stmt);
  }
  return exec("COMMIT");
}

Status HealthStateStore::erase(const std::vector<std::string>& ids) {
  if (ids.empty()) return Ok{};
  if (auto status = exec("BEGIN"); !status) return status;
  Statement s;
  if (sqlite3_prepare_v2(db_, "DELETE FROM health_state WHERE id = ?1", -1, &s.stmt, nullptr) !=
      SQLITE_OK) {
    (void)exec("ROLLBACK");
    return make_error(std::string("health state database: ") + sqlite3_errmsg(db_), path_);
  }
  for (const std::string& id : ids) {
    sqlite3_bind_text(s.stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_step(s.stmt);
    sqlite3_reset(s.stmt);
  }
  return exec("COMMIT");
}

}  // namespace meridian::health
