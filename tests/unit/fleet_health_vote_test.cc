// The fleet's health vote (fleet/health_vote.h): Route 53's fraction rule over live observations,
// the fallback to this edge's own state, and CALCULATED checks over decided children.
#include "fleet/health_vote.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meridian::fleet {
namespace {

using health::HealthCheckConfig;
using Observations = std::map<std::string, std::map<std::string, bool>>;

HealthCheckConfig check(const std::string& json_text) {
  auto parsed = health::parse_health_check(nlohmann::json::parse(json_text), "");
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().to_string());
  return parsed.ok() ? *parsed : HealthCheckConfig{};
}

const HealthCheckConfig kWeb =
    check(R"({"Id":"web","Type":"HTTP","IPAddress":"198.18.0.10","Port":80})");

TEST(HealthVoteTest, OneEdgeOfThreeCannotReachABackendItStaysHealthy) {
  Observations obs{{"web", {{"a", false}, {"b", true}, {"c", true}}}};
  auto votes = decide_health({kWeb}, obs, {{"web", false}}, 0.18);
  EXPECT_TRUE(votes.at("web").healthy);
  EXPECT_EQ(votes.at("web").describe(), "2 of 3 vantage points healthy");
}

TEST(HealthVoteTest, TheFractionMustBeExceeded) {
  // 1 of 6 is 16.7%, not more than 18%: unhealthy; 1 of 5 (20%) is healthy.
  Observations six{
      {"web", {{"a", true}, {"b", false}, {"c", false}, {"d", false}, {"e", false}, {"f", false}}}};
  EXPECT_FALSE(decide_health({kWeb}, six, {}, 0.18).at("web").healthy);
  six["web"].erase("f");
  EXPECT_TRUE(decide_health({kWeb}, six, {}, 0.18).at("web").healthy);
  Observations none_healthy{{"web", {{"a", false}, {"b", false}, {"c", false}}}};
  EXPECT_FALSE(decide_health({kWeb}, none_healthy, {{"web", true}}, 0.18).at("web").healthy);
}

TEST(HealthVoteTest, WithoutObservationsTheEdgeDecidesFromItsOwn) {
  auto down = decide_health({kWeb}, {}, {{"web", false}}, 0.18);
  EXPECT_FALSE(down.at("web").healthy);
  EXPECT_EQ(down.at("web").observers, 0u);
  EXPECT_TRUE(decide_health({kWeb}, {}, {{"web", true}}, 0.18).at("web").healthy);
}

TEST(HealthVoteTest, CalculatedChecksCombineDecidedChildren) {
  const auto api = check(R"({"Id":"api","Type":"TCP","IPAddress":"198.18.0.11","Port":443})");
  const auto both = check(
      R"({"Id":"both","Type":"CALCULATED","ChildHealthChecks":["web","api"],"HealthThreshold":2})");
  // This edge sees both children down, the fleet sees them up: the parent follows the fleet.
  Observations obs{{"web", {{"a", false}, {"b", true}, {"c", true}}},
                   {"api", {{"a", false}, {"b", true}, {"c", true}}}};
  auto votes = decide_health({both, kWeb, api}, obs,
                             {{"web", false}, {"api", false}, {"both", false}}, 0.18);
  EXPECT_TRUE(votes.at("both").healthy);
  obs["api"] = {{"a", false}, {"b", false}, {"c", false}};
  EXPECT_FALSE(decide_health({both, kWeb, api}, obs, {}, 0.18).at("both").healthy);
}

TEST(HealthVoteTest, DisabledAndInvertedApplyToTheDecision) {
  const auto disabled =
      check(R"({"Id":"d","Type":"HTTP","IPAddress":"198.18.0.12","Disabled":true})");
  const auto disabled_inverted = check(
      R"({"Id":"di","Type":"HTTP","IPAddress":"198.18.0.13","Disabled":true,"Inverted":true})");
  Observations obs{{"d", {{"a", false}}}, {"di", {{"a", true}}}};
  auto votes = decide_health({disabled, disabled_inverted}, obs, {}, 0.18);
  EXPECT_TRUE(votes.at("d").healthy);
  EXPECT_FALSE(votes.at("di").healthy);
}

}  // namespace
}  // namespace meridian::fleet
