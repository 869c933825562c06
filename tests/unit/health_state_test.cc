// Tests of the health state rules: thresholds both ways, Inverted, Disabled, initial state, and
// CALCULATED evaluation (threshold 0, above the child count, disabled child). Table-driven.
#include "health/health_state.h"

#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "health/calculated.h"
#include "health/webhook.h"

namespace meridian::health {
namespace {

constexpr auto kHealthy = HealthStatus::kHealthy;
constexpr auto kUnhealthy = HealthStatus::kUnhealthy;

struct SequenceRow {
  std::string name;
  uint32_t threshold;
  bool inverted;
  bool disabled;
  HealthStatus initial;
  std::string results;  // 'S' success, 'F' failure (raw probe results)
  std::string states;   // 'H' or 'U' after each result
};

TEST(HealthStateTest, Sequences) {
  const std::vector<SequenceRow> rows = {
      {"threshold 3 down", 3, false, false, kHealthy, "FFF", "HHU"},
      {"threshold 3 up", 3, false, false, kUnhealthy, "SSS", "UUH"},
      {"broken runs do not count", 3, false, false, kHealthy, "FFSFFSFFF", "HHHHHHHHU"},
      {"both ways", 2, false, false, kHealthy, "FFSFSSF", "HUUUUHH"},
      {"threshold 1 flaps", 1, false, false, kHealthy, "FSFS", "UHUH"},
      {"threshold 10", 10, false, false, kHealthy, "FFFFFFFFFF", "HHHHHHHHHU"},
      {"inverted: success counts as failure", 2, true, false, kHealthy, "SSFF", "HUUH"},
      {"disabled stays healthy", 1, false, true, kUnhealthy, "FFFF", "HHHH"},
      // Route 53: a disabled check is healthy and Inverted is applied last, so the two together
      // are unhealthy, whatever the probe or the initial state says.
      {"disabled and inverted", 1, true, true, kHealthy, "SSFF", "UUUU"},
      {"disabled and inverted, initial unhealthy", 3, true, true, kUnhealthy, "SF", "UU"},
      {"disabled alone, initial unhealthy", 3, false, true, kUnhealthy, "FS", "HH"},
      {"inverted alone, threshold 1", 1, true, false, kHealthy, "SFS", "UHU"},
      {"initial unhealthy holds on failures", 2, false, false, kUnhealthy, "FFS", "UUU"},
  };
  for (const SequenceRow& row : rows) {
    SCOPED_TRACE(row.name);
    HealthCheckConfig check;
    check.failure_threshold = row.threshold;
    check.inverted = row.inverted;
    check.disabled = row.disabled;
    check.initial_state = row.initial;
    CheckState state = initial_check_state(check);
    std::string states;
    int transitions = 0;
    for (char r : row.results) {
      ProbeOutcome outcome{r == 'S', r == 'S' ? "" : "HTTP 503", std::chrono::microseconds(5)};
      if (record_outcome(state, check, outcome, std::chrono::system_clock::now())) transitions++;
      states += state.healthy() ? 'H' : 'U';
    }
    EXPECT_EQ(states, row.states);
    int expected_transitions = 0;
    char before = initial_check_state(check).healthy() ? 'H' : 'U';
    for (char s : row.states) {
      expected_transitions += s != before;
      before = s;
    }
    EXPECT_EQ(transitions, expected_transitions);
    EXPECT_EQ(state.probes, row.results.size());
  }
}

TEST(HealthStateTest, RecordsReasonLatencyAndCounts) {
  HealthCheckConfig check;
  check.failure_threshold = 2;
  CheckState state = initial_check_state(check);
  auto t0 = std::chrono::system_clock::now();
  EXPECT_FALSE(
      record_outcome(state, check, {false, "connect timeout", std::chrono::microseconds(7)}, t0));
  EXPECT_EQ(state.consecutive_failures, 1u);
  EXPECT_EQ(state.last_failure_reason, "connect timeout");
  EXPECT_EQ(state.last_latency.count(), 7);
  EXPECT_EQ(state.last_result, false);
  auto change = record_outcome(state, check, {false, "HTTP 503", {}}, t0);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->old_state, kHealthy);
  EXPECT_EQ(change->new_state, kUnhealthy);
  EXPECT_EQ(change->reason, "HTTP 503");
  EXPECT_EQ(state.updated_at, t0);
  record_outcome(state, check, {true, "", {}}, t0);
  EXPECT_EQ(state.last_failure_reason, "HTTP 503");  // kept for operators after a success
  EXPECT_EQ(state.consecutive_successes, 1u);
  EXPECT_EQ(state.consecutive_failures, 0u);
}

TEST(HealthStateTest, DisabledIsPinnedAndInvertedAppliedLast) {
  HealthCheckConfig check;
  check.failure_threshold = 1;
  for (bool initial_healthy : {true, false}) {
    check.initial_state = initial_healthy ? kHealthy : kUnhealthy;
    check.disabled = true;
    check.inverted = false;
    EXPECT_EQ(disabled_status(check), kHealthy);
    EXPECT_TRUE(initial_check_state(check).healthy());
    check.inverted = true;
    EXPECT_EQ(disabled_status(check), kUnhealthy);
    EXPECT_FALSE(initial_check_state(check).healthy());
    check.disabled = false;
    EXPECT_EQ(initial_check_state(check).healthy(), initial_healthy);  // Inverted alone: as set
  }
  // A state restored healthy (e.g. from before the check was disabled) moves to unhealthy with
  // the reason that says why.
  check.disabled = true;
  check.inverted = true;
  CheckState state;
  state.status = kHealthy;
  auto change = record_outcome(state, check, {true, "", {}}, {});
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->new_state, kUnhealthy);
  EXPECT_EQ(change->reason, "disabled, inverted");
  check.inverted = false;
  change = record_outcome(state, check, {false, "HTTP 503", {}}, {});
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->new_state, kHealthy);
  EXPECT_EQ(change->reason, "disabled");
}

TEST(HealthStateTest, CalculatedInvertedAndDisabled) {
  HealthCheckConfig calc;
  calc.type = CheckType::kCalculated;
  calc.failure_threshold = 3;  // ignored: CALCULATED flips on the first verdict
  calc.child_health_checks = {"a", "b"};
  calc.health_threshold = 2;
  using Children = std::function<bool(const std::string&)>;
  const Children all_up = [](const std::string&) { return true; };
  const Children one_down = [](const std::string& id) { return id == "a"; };

  calc.inverted = true;  // healthy children make it unhealthy, at once
  CheckState state = initial_check_state(calc);
  record_outcome(state, calc, evaluate_calculated(calc, all_up), {});
  EXPECT_FALSE(state.healthy());
  record_outcome(state, calc, evaluate_calculated(calc, one_down), {});
  EXPECT_TRUE(state.healthy());

  calc.disabled = true;  // disabled and inverted: unhealthy, whatever the children
  state = initial_check_state(calc);
  EXPECT_FALSE(state.healthy());
  for (const Children& children : {all_up, one_down}) {
    record_outcome(state, calc, evaluate_calculated(calc, children), {});
    EXPECT_FALSE(state.healthy());
  }
  calc.inverted = false;  // disabled alone: healthy, whatever the children
  state = initial_check_state(calc);
  for (const Children& children : {all_up, one_down}) {
    record_outcome(state, calc, evaluate_calculated(calc, children), {});
    EXPECT_TRUE(state.healthy());
  }
}

struct CalculatedRow {
  std::string name;
  std::vector<bool> children;  // each child's reported health
  uint32_t threshold;
  bool healthy;
};

TEST(CalculatedTest, ThresholdRules) {
  const std::vector<CalculatedRow> rows = {
      {"threshold 0: always healthy", {false, false}, 0, true},
      {"threshold 0, no children", {}, 0, true},
      {"above the child count: always unhealthy", {true, true}, 3, false},
      {"exactly met", {true, false, true}, 2, true},
      {"one short", {true, false, false}, 2, false},
      {"all required", {true, true, true}, 3, true},
  };
  for (const CalculatedRow& row : rows) {
    SCOPED_TRACE(row.name);
    HealthCheckConfig check;
    check.type = CheckType::kCalculated;
    check.health_threshold = row.threshold;
    std::map<std::string, bool> health;
    for (size_t i = 0; i < row.children.size(); ++i) {
      check.child_health_checks.push_back("c" + std::to_string(i));
      health["c" + std::to_string(i)] = row.children[i];
    }
    ProbeOutcome outcome =
        evaluate_calculated(check, [&](const std::string& id) { return health[id]; });
    EXPECT_EQ(outcome.success, row.healthy) << outcome.reason;
  }
}

TEST(CalculatedTest, DisabledChildCountsHealthyAndFlipsAtOnce) {
  HealthCheckConfig child;
  child.disabled = true;
  child.initial_state = kUnhealthy;
  CheckState child_state = initial_check_state(child);
  record_outcome(child_state, child, {false, "connect timeout", {}}, {});
  ASSERT_TRUE(child_state.healthy());

  HealthCheckConfig calc;
  calc.type = CheckType::kCalculated;
  calc.failure_threshold = 3;  // ignored: CALCULATED flips on the first verdict
  calc.child_health_checks = {"disabled", "down"};
  calc.health_threshold = 2;
  CheckState calc_state = initial_check_state(calc);
  auto outcome = evaluate_calculated(calc, [&](const std::string& id) {
    return id == "disabled" ? child_state.healthy() : false;
  });
  EXPECT_EQ(outcome.reason, "1 of 2 children healthy, threshold 2");
  auto change = record_outcome(calc_state, calc, outcome, {});
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->reason, "1 of 2 children healthy, threshold 2");
  calc.health_threshold = 1;
  EXPECT_TRUE(evaluate_calculated(calc, [&](const std::string& id) {
                return id == "disabled" ? child_state.healthy() : false;
              }).success);
}

TEST(TransitionJsonTest, CarriesEveryField) {
  Transition t{"web-1", kHealthy, kUnhealthy,
               std::chrono::system_clock::time_point(std::chrono::milliseconds(1764069603123)),
               "HTTP 503"};
  auto body = nlohmann::json::parse(transition_json(t));
  EXPECT_EQ(body["check_id"], "web-1");
  EXPECT_EQ(body["old_state"], "healthy");
  EXPECT_EQ(body["new_state"], "unhealthy");
  EXPECT_EQ(body["time"], "2025-11-25T11:20:03.123Z");
  EXPECT_EQ(body["reason"], "HTTP 503");
}

}  // namespace
}  // namespace meridian::health
