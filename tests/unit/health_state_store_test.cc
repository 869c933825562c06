// Tests of the SQLite state store: WAL mode, round trip of every column, replace, erase, reopen,
// and an error naming the file for a path that cannot be opened.
#include "health/health_state_store.h"

#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace meridian::health {
namespace {

TEST(HealthStateStoreTest, RoundTripAcrossReopen) {
  char name[] = "/tmp/meridian-health-XXXXXX";
  std::string dir = mkdtemp(name);
  std::string path = dir + "/state.db";
  CheckState down;
  down.status = HealthStatus::kUnhealthy;
  down.consecutive_failures = 4;
  down.last_failure_reason = "TLS: certificate verify failed";
  down.updated_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  CheckState up;
  up.consecutive_successes = 2;
  {
    auto store = HealthStateStore::open(path);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    EXPECT_EQ((*store)->journal_mode(), "wal");
    ASSERT_TRUE((*store)->save({{"a", up}, {"b", up}}).ok());
    ASSERT_TRUE((*store)->save({{"a", down}}).ok());  // replaces
    ASSERT_TRUE((*store)->erase({"b"}).ok());
  }
  auto store = HealthStateStore::open(path);
  ASSERT_TRUE(store.ok());
  auto rows = (*store)->load();
  ASSERT_TRUE(rows.ok()) << rows.error().to_string();
  ASSERT_EQ(rows->size(), 1u);
  const CheckState& a = rows->at("a");
  EXPECT_EQ(a.status, HealthStatus::kUnhealthy);
  EXPECT_EQ(a.consecutive_failures, 4u);
  EXPECT_EQ(a.consecutive_successes, 0u);
  EXPECT_EQ(a.last_failure_reason, "TLS: certificate verify failed");
  EXPECT_EQ(a.updated_at, down.updated_at);
  std::filesystem::remove_all(dir);
}

TEST(HealthStateStoreTest, UnopenableFileIsAnErrorWithThePath) {
  auto store = HealthStateStore::open("/nonexistent-dir-meridian/state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().where, "/nonexistent-dir-meridian/state.db");
}

}  // namespace
}  // namespace meridian::health
