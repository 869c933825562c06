// HealthStateStore: health states kept across daemon restarts in a small SQLite database (WAL
// mode, one row per check id). A state restored from here wins over the check's InitialState.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "health/health_state.h"

struct sqlite3;

namespace meridian::health {

class HealthStateStore {
 public:
  // Opens or creates the database at `path` and its table.
  static Result<std::unique_ptr<HealthStateStore>> open(const std::string& path);
  ~HealthStateStore();
  HealthStateStore(const HealthStateStore&) = delete;
  HealthStateStore& operator=(const HealthStateStore&) = delete;

  // Every stored state by check id (status, counts, last reason, updated-at).
  Result<std::map<std::string, CheckState>> load() const;
  // Writes these rows in one transaction (insert or replace).
  Status save(const std::vector<std::pair<std::string, CheckState>>& states);
  // Deletes the rows of checks that no longer exist.
  Status erase(const std::vector<std::string>& ids);
  // "wal" when the database is in WAL mode.
  std::string journal_mode() const;

 private:
  HealthStateStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status exec(const char* sql);

  sqlite3* db_;
  std::string path_;
};

}  // namespace meridian::health
