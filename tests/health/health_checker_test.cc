// The HealthChecker against real loopback backends: first probe at start, thresholds both ways,
// initial state, Inverted, Disabled, CALCULATED following its children, states kept across a
// restart, check-set updates, webhooks delivered exactly once, prompt stop.
#include "health/health_checker.h"

#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_backend.h"

namespace meridian::health {
namespace {

using namespace std::chrono_literals;
using testing::BackendReply;
using testing::TestBackend;

// Collects transitions from the checker's thread.
class TransitionLog {
 public:
  HealthChecker::TransitionCallback callback() {
    return [this](const Transition& t) {
      std::lock_guard lock(mutex_);
      transitions_.push_back(t);
      changed_.notify_all();
    };
  }
  bool wait_for(size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return transitions_.size() >= count; });
  }
  std::vector<Transition> all() {
    std::lock_guard lock(mutex_);
    return transitions_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Transition> transitions_;
};

// Polls `predicate` every 20 ms up to `timeout`.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

HealthCheckConfig http_check(const std::string& id, uint16_t port, uint32_t threshold = 1) {
  HealthCheckConfig check;
  check.id = id;
  check.type = CheckType::kHttp;
  check.ip_address = "127.0.0.1";
  check.port = port;
  check.request_interval_s = 1;
  check.failure_threshold = threshold;
  return check;
}

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/meridian-health-XXXXXX";
    path_ = mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ThresholdTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ThresholdTest, FlipsAfterThresholdConsecutiveResultsBothWays) {
  const uint32_t threshold = GetParam();
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(checker.start({http_check("web", backend.port(), threshold)}).ok());
  // The first probe goes out at start, not after one interval.
  ASSERT_TRUE(backend.wait_for_requests(1, 500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  ASSERT_TRUE(eventually([&] { return checker.state("web")->probes >= 1; }, 1s));

  backend.set_reply(BackendReply{503, "down", 0ms, false});
  auto down_at = std::chrono::steady_clock::now();
  // Below the threshold the state holds.
  for (uint32_t k = 1; k < threshold; ++k) {
    ASSERT_TRUE(eventually([&] { return checker.state("web")->consecutive_failures >= k; }, 2s));
    EXPECT_TRUE(checker.state("web")->healthy()) << "flipped after " << k << " failures";
  }
  ASSERT_TRUE(log.wait_for(1, std::chrono::milliseconds(threshold * 1000 + 1500)));
  EXPECT_LE(std::chrono::steady_clock::now() - down_at,
            std::chrono::milliseconds(threshold * 1000 + 1500));
  auto state = *checker.state("web");
  EXPECT_FALSE(state.healthy());
  EXPECT_EQ(state.consecutive_failures, threshold);
  EXPECT_EQ(state.last_failure_reason, "HTTP 503");
  auto down = log.all()[0];
  EXPECT_EQ(down.check_id, "web");
  EXPECT_EQ(down.old_state, HealthStatus::kHealthy);
  EXPECT_EQ(down.new_state, HealthStatus::kUnhealthy);
  EXPECT_EQ(down.reason, "HTTP 503");

  backend.set_reply(BackendReply{200, "up", 0ms, false});
  for (uint32_t k = 1; k < threshold; ++k) {
    ASSERT_TRUE(eventually([&] { return checker.state("web")->consecutive_successes >= k; }, 2s));
    EXPECT_FALSE(checker.state("web")->healthy()) << "flipped after " << k << " successes";
  }
  ASSERT_TRUE(log.wait_for(2, std::chrono::milliseconds(threshold * 1000 + 1500)));
  auto up = log.all()[1];
  EXPECT_EQ(up.new_state, HealthStatus::kHealthy);
  EXPECT_EQ(up.reason, std::to_string(threshold) + " consecutive successes");
  EXPECT_EQ(checker.counters().transitions, 2u);
  checker.stop();
  EXPECT_EQ(log.all().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Thresholds, ThresholdTest, ::testing::Values(1u, 2u, 3u));

TEST(HealthCheckerTest, InitialStateUnhealthyWaitsForThresholdSuccesses) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  HealthCheckConfig check = http_check("web", backend.port(), 2);
  check.initial_state = HealthStatus::kUnhealthy;
  ASSERT_TRUE(checker.start({check}).ok());
  EXPECT_FALSE(checker.state("web")->healthy());
  ASSERT_TRUE(log.wait_for(1, 3500ms));
  EXPECT_EQ(log.all()[0].new_state, HealthStatus::kHealthy);
  EXPECT_GE(checker.state("web")->probes, 2u);
}

TEST(HealthCheckerTest, InvertedFlipsTheResult) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  HealthCheckConfig check = http_check("inv", backend.port(), 1);
  check.inverted = true;
  ASSERT_TRUE(checker.start({check}).ok());
  ASSERT_TRUE(log.wait_for(1, 1500ms));  // 200 is a failure once inverted
  EXPECT_EQ(log.all()[0].new_state, HealthStatus::kUnhealthy);
  EXPECT_EQ(log.all()[0].reason, "inverted: probe succeeded");
  backend.set_reply(BackendReply{503, "", 0ms, false});
  ASSERT_TRUE(log.wait_for(2, 2500ms));
  EXPECT_EQ(log.all()[1].new_state, HealthStatus::kHealthy);
}

TEST(HealthCheckerTest, DisabledIsHealthyAndNotProbed) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  backend.set_reply(BackendReply{503, "", 0ms, false});
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  HealthCheckConfig check = http_check("off", backend.port(), 1);
  check.disabled = true;
  check.initial_state = HealthStatus::kUnhealthy;
  ASSERT_TRUE(checker.start({check}).ok());
  EXPECT_TRUE(checker.state("off")->healthy());
  std::this_thread::sleep_for(2200ms);  // two intervals
  EXPECT_EQ(backend.request_count(), 0u);
  EXPECT_TRUE(checker.state("off")->healthy());
  EXPECT_TRUE(log.all().empty());
}

// Route 53: a disabled check is healthy and Inverted is applied last, so Disabled + Inverted is
// unhealthy (not probed either); a CALCULATED parent counts that child as unhealthy; an update
// that sets or clears Inverted on a disabled check moves its state with one transition.
TEST(HealthCheckerTest, DisabledAndInvertedIsUnhealthy) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  HealthCheckConfig off_inv = http_check("off-inv", backend.port(), 1);
  off_inv.disabled = true;
  off_inv.inverted = true;
  HealthCheckConfig off = http_check("off", backend.port(), 1);
  off.disabled = true;
  off.initial_state = HealthStatus::kUnhealthy;
  HealthCheckConfig parent;
  parent.id = "parent";
  parent.type = CheckType::kCalculated;
  parent.child_health_checks = {"off-inv", "off"};
  parent.health_threshold = 2;
  ASSERT_TRUE(checker.start({off_inv, off, parent}).ok());
  EXPECT_FALSE(checker.state("off-inv")->healthy());
  EXPECT_TRUE(checker.state("off")->healthy());
  EXPECT_FALSE(checker.state("parent")->healthy());
  EXPECT_EQ(checker.state("parent")->last_failure_reason, "1 of 2 children healthy, threshold 2");
  std::this_thread::sleep_for(1200ms);  // one interval
  EXPECT_EQ(backend.request_count(), 0u);
  EXPECT_FALSE(checker.state("off-inv")->healthy());

  off_inv.inverted = false;  // disabled alone: healthy, and the parent follows
  ASSERT_TRUE(checker.update({off_inv, off, parent}).ok());
  ASSERT_TRUE(eventually([&] { return checker.state("parent")->healthy(); }, 2000ms));
  EXPECT_TRUE(checker.state("off-inv")->healthy());
  off_inv.inverted = true;
  ASSERT_TRUE(checker.update({off_inv, off, parent}).ok());
  ASSERT_TRUE(eventually([&] { return !checker.state("parent")->healthy(); }, 2000ms));
  EXPECT_FALSE(checker.state("off-inv")->healthy());
  checker.stop();
  std::vector<std::string> off_inv_reasons;
  for (const Transition& t : log.all())
    if (t.check_id == "off-inv") off_inv_reasons.push_back(t.reason);
  EXPECT_EQ(off_inv_reasons, (std::vector<std::string>{"disabled", "disabled, inverted"}));
  EXPECT_EQ(backend.request_count(), 0u);
}

TEST(HealthCheckerTest, CalculatedFollowsChildren) {
  TestBackend a;
  TestBackend b;
  ASSERT_TRUE(a.ok() && b.ok());
  HealthCheckConfig disabled_child = http_check("disabled", testing::unused_loopback_port(), 1);
  disabled_child.disabled = true;
  HealthCheckConfig both;
  both.id = "both";
  both.type = CheckType::kCalculated;
  both.child_health_checks = {"a", "b"};
  both.health_threshold = 2;
  HealthCheckConfig with_disabled = both;
  with_disabled.id = "a-and-disabled";
  with_disabled.child_health_checks = {"a", "disabled"};
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  ASSERT_TRUE(checker
                  .start({http_check("a", a.port(), 1), http_check("b", b.port(), 1),
                          disabled_child, both, with_disabled})
                  .ok());
  EXPECT_TRUE(checker.state("both")->healthy());
  EXPECT_TRUE(checker.state("a-and-disabled")->healthy());  // the disabled child counts healthy

  a.set_reply(BackendReply{500, "", 0ms, false});
  ASSERT_TRUE(eventually(
      [&] {
        return !checker.state("both")->healthy() && !checker.state("a-and-disabled")->healthy();
      },
      2500ms));
  EXPECT_EQ(checker.state("both")->last_failure_reason, "1 of 2 children healthy, threshold 2");
  a.set_reply(BackendReply{200, "", 0ms, false});
  ASSERT_TRUE(eventually([&] { return checker.state("both")->healthy(); }, 2500ms));
  EXPECT_TRUE(checker.state("a-and-disabled")->healthy());
  // a: down, up; both: down, up; a-and-disabled: down, up.
  checker.stop();
  std::map<std::string, int> per_check;
  for (const Transition& t : log.all()) per_check[t.check_id]++;
  EXPECT_EQ(per_check["a"], 2);
  EXPECT_EQ(per_check["both"], 2);
  EXPECT_EQ(per_check["a-and-disabled"], 2);
  EXPECT_EQ(per_check["b"], 0);
}

TEST(HealthCheckerTest, StateSurvivesRestartAndWinsOverInitialState) {
  TempDir dir;
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  backend.set_reply(BackendReply{503, "", 0ms, false});
  HealthCheckerOptions options;
  options.state_db_path = dir.path() + "/health.db";
  {
    TransitionLog log;
    HealthChecker checker(options, log.callback());
    ASSERT_TRUE(checker.start({http_check("web", backend.port(), 1)}).ok());
    ASSERT_TRUE(log.wait_for(1, 1500ms));
    checker.stop();
  }
  backend.set_reply(BackendReply{200, "", 0ms, false});
  TransitionLog log;
  HealthChecker checker(options, log.callback());
  HealthCheckConfig check = http_check("web", backend.port(), 2);
  check.initial_state = HealthStatus::kHealthy;
  ASSERT_TRUE(checker.start({check}).ok());
  auto restored = *checker.state("web");
  EXPECT_FALSE(restored.healthy());
  EXPECT_EQ(restored.last_failure_reason, "HTTP 503");
  EXPECT_GT(restored.updated_at.time_since_epoch().count(), 0);
  // It recovers by the rules, not by the restart: two successes at 1 s apart.
  ASSERT_TRUE(log.wait_for(1, 3500ms));
  EXPECT_EQ(log.all()[0].old_state, HealthStatus::kUnhealthy);
  EXPECT_EQ(log.all()[0].new_state, HealthStatus::kHealthy);
}

TEST(HealthCheckerTest, UpdateKeepsUnchangedStates) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  backend.set_reply(BackendReply{503, "", 0ms, false});
  TransitionLog log;
  HealthChecker checker({}, log.callback());
  HealthCheckConfig x = http_check("x", backend.port(), 1);
  HealthCheckConfig y = http_check("y", backend.port(), 1);
  y.resource_path = "/y";
  ASSERT_TRUE(checker.start({x, y}).ok());
  ASSERT_TRUE(log.wait_for(2, 1500ms));
  const uint64_t probes_before = checker.state("x")->probes;

  HealthCheckConfig z = http_check("z", backend.port(), 1);
  z.initial_state = HealthStatus::kHealthy;
  ASSERT_TRUE(checker.update({x, z}).ok());
  ASSERT_TRUE(eventually([&] { return !checker.state("y").has_value(); }, 1s));
  EXPECT_FALSE(checker.state("x")->healthy());  // kept, not reset to InitialState
  EXPECT_GE(checker.state("x")->probes, probes_before);
  ASSERT_TRUE(checker.state("z").has_value());

  // A changed check keeps its state until the rules move it.
  HealthCheckConfig x2 = x;
  x2.failure_threshold = 2;
  backend.set_reply(BackendReply{200, "", 0ms, false});
  ASSERT_TRUE(checker.update({x2, z}).ok());
  ASSERT_TRUE(eventually([&] { return checker.state("x")->consecutive_successes == 1; }, 1500ms));
  EXPECT_FALSE(checker.state("x")->healthy());
  ASSERT_TRUE(eventually([&] { return checker.state("x")->healthy(); }, 2500ms));

  // Invalid sets are refused whole.
  HealthCheckConfig calc;
  calc.id = "calc";
  calc.type = CheckType::kCalculated;
  calc.child_health_checks = {"missing"};
  EXPECT_FALSE(checker.update({x2, calc}).ok());
}

TEST(HealthCheckerTest, WebhookGetsEachTransitionExactlyOnce) {
  TestBackend backend;
  TestBackend receiver;
  ASSERT_TRUE(backend.ok() && receiver.ok());
  HealthCheckerOptions options;
  options.webhooks.urls = {
      "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook",
      // A dead receiver must not hold anything up.
      "http://127.0.0.1:" + std::to_string(testing::unused_loopback_port()) + "/hook"};
  TransitionLog log;
  HealthChecker checker(options, log.callback());
  ASSERT_TRUE(checker.start({http_check("web", backend.port(), 1)}).ok());
  ASSERT_TRUE(backend.wait_for_requests(1, 1s));
  backend.set_reply(BackendReply{503, "", 0ms, false});
  ASSERT_TRUE(log.wait_for(1, 2500ms));
  backend.set_reply(BackendReply{200, "", 0ms, false});
  ASSERT_TRUE(log.wait_for(2, 2500ms));
  ASSERT_TRUE(receiver.wait_for_requests(2, 2s));
  std::this_thread::sleep_for(1500ms);  // room for a duplicate to show up
  auto posts = receiver.requests();
  ASSERT_EQ(posts.size(), 2u);
  const char* expected[2][2] = {{"healthy", "unhealthy"}, {"unhealthy", "healthy"}};
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(posts[i].method, "POST");
    EXPECT_EQ(posts[i].path, "/hook");
    auto body = nlohmann::json::parse(posts[i].body);
    EXPECT_EQ(body["check_id"], "web");
    EXPECT_EQ(body["old_state"], expected[i][0]);
    EXPECT_EQ(body["new_state"], expected[i][1]);
    EXPECT_EQ(body["reason"], log.all()[i].reason);
    EXPECT_EQ(body["time"], rfc3339(log.all()[i].time));
  }
  auto counters = checker.counters();
  EXPECT_EQ(counters.webhooks_delivered, 2u);
  EXPECT_EQ(counters.webhooks_failed, 2u);  // the dead receiver, once per transition
}

TEST(HealthCheckerTest, StalledWebhookNeverDelaysProbing) {
  TestBackend backend;
  TestBackend stalled;  // accepts the POST, answers only after 10 s
  ASSERT_TRUE(backend.ok() && stalled.ok());
  stalled.set_reply(BackendReply{200, "", 10000ms, false});
  HealthCheckerOptions options;
  options.webhooks.urls = {"http://127.0.0.1:" + std::to_string(stalled.port()) + "/hook"};
  options.webhooks.timeout_ms = 800;
  TransitionLog log;
  HealthChecker checker(options, log.callback());
  backend.set_reply(BackendReply{503, "", 0ms, false});
  ASSERT_TRUE(checker.start({http_check("web", backend.port(), 1)}).ok());
  ASSERT_TRUE(log.wait_for(1, 1500ms));
  backend.set_reply(BackendReply{200, "", 0ms, false});
  // The next transition comes on schedule while the first POST is still hanging.
  ASSERT_TRUE(log.wait_for(2, 1500ms));
  ASSERT_TRUE(eventually([&] { return checker.counters().webhooks_failed == 2; }, 2s));
  EXPECT_EQ(checker.counters().webhooks_delivered, 0u);
  EXPECT_EQ(stalled.request_count(), 2u);
}

// Between probes the thread sleeps: with nothing due it must not spin (a regression: pending
// store writes without a store once kept the loop awake).
TEST(HealthCheckerTest, IdleCheckerUsesNoCpu) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  HealthCheckConfig check = http_check("idle", backend.port(), 1);
  check.request_interval_s = 30;
  HealthChecker checker({});
  ASSERT_TRUE(checker.start({check}).ok());
  ASSERT_TRUE(eventually([&] { return checker.state("idle")->probes == 1; }, 1s));
  auto cpu = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  };
  auto before = cpu();
  std::this_thread::sleep_for(1500ms);
  EXPECT_LT(cpu() - before, 100ms);
}

TEST(HealthCheckerTest, StopIsPromptWithProbesInFlight) {
  testing::FullBacklogListener full;
  ASSERT_TRUE(full.ok());
  std::vector<HealthCheckConfig> checks;
  for (int i = 0; i < 50; ++i) {
    HealthCheckConfig check = http_check("slow" + std::to_string(i), full.port(), 1);
    check.type = i % 2 == 0 ? CheckType::kHttp : CheckType::kTcp;
    if (check.type == CheckType::kTcp) check.connect_timeout_ms = 10000;
    checks.push_back(check);
  }
  HealthChecker checker({});
  ASSERT_TRUE(checker.start(checks).ok());
  std::this_thread::sleep_for(300ms);
  auto start = std::chrono::steady_clock::now();
  checker.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
}  // namespace meridian::health
