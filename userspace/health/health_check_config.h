// HealthCheckConfig: one health check in Route 53's HealthCheckConfig shape plus Meridian's
// extensions, parsed from JSON with errors that name the JSON path.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"

namespace meridian::health {

enum class CheckType : uint8_t {
  kHttp,
  kHttps,
  kHttpStrMatch,
  kHttpsStrMatch,
  kTcp,
  kCalculated,
};

enum class HealthStatus : uint8_t { kUnhealthy = 0, kHealthy = 1 };

std::string_view check_type_name(CheckType type);   // "HTTPS_STR_MATCH"
std::string_view status_name(HealthStatus status);  // "healthy" | "unhealthy"

// An inclusive range of accepted HTTP status codes.
struct StatusRange {
  uint16_t first = 200;
  uint16_t last = 399;
  bool operator==(const StatusRange&) const = default;
};

// The spec's limits, named once.
inline constexpr size_t kMaxSearchStringBytes = 255;
inline constexpr size_t kSearchWindowBytes = 5120;  // the string must appear in this much body
inline constexpr uint32_t kHttpConnectTimeoutMs = 4000;
inline constexpr uint32_t kHttpResponseTimeoutMs = 2000;  // after the TCP connect
inline constexpr uint32_t kTcpConnectTimeoutMs = 10000;

struct HealthCheckConfig {
  std::string id;
  CheckType type = CheckType::kHttp;
  std::string ip_address;  // empty: connect to the resolved fqdn
  uint16_t port = 0;       // 0: 80 for HTTP, 443 for HTTPS (TCP requires a port)
  std::string resource_path = "/";
  std::string fqdn;           // Host header (and SNI with enable_sni); may be empty
  std::string search_string;  // *_STR_MATCH only
  uint32_t request_interval_s = 30;
  uint32_t failure_threshold = 3;
  bool inverted = false;
  bool disabled = false;
  std::vector<std::string> child_health_checks;  // CALCULATED only
  uint32_t health_threshold = 0;                 // CALCULATED only
  bool enable_sni = false;
  // Extensions beyond Route 53.
  std::vector<StatusRange> accepted_statuses = {StatusRange{200, 399}};
  // Fleet mode: the vantage labels of the edges that probe it (empty: every edge).
  std::vector<std::string> vantages;
  bool probed_from(std::string_view vantage) const;
  bool verify_certificate = false;
  HealthStatus initial_state = HealthStatus::kHealthy;
  uint32_t connect_timeout_ms = kHttpConnectTimeoutMs;  // kTcpConnectTimeoutMs for TCP
  uint32_t response_timeout_ms = kHttpResponseTimeoutMs;

  bool is_http() const { return type != CheckType::kTcp && type != CheckType::kCalculated; }
  bool is_tls() const { return type == CheckType::kHttps || type == CheckType::kHttpsStrMatch; }
  bool is_string_match() const {
    return type == CheckType::kHttpStrMatch || type == CheckType::kHttpsStrMatch;
  }
  // The port actually connected to.
  uint16_t effective_port() const { return port != 0 ? port : (is_tls() ? 443 : 80); }
  bool accepts_status(long status) const;

  bool operator==(const HealthCheckConfig&) const = default;
};

// Fields of Route 53's output that are read-only (HealthCheckVersion, LinkedService,
// CloudWatchAlarmConfiguration) or do not apply here (MeasureLatency, Regions,
// InsufficientDataHealthStatus, EnableSNI on a type without TLS): accepted and ignored, so the
// output of `aws route53 list-health-checks` or get-health-check loads unchanged. The parser
// records each one it meets here, by field name.
struct IgnoredField {
  std::string reason;
  std::string first_path;  // where it was first seen
  size_t count = 0;        // how many checks had it
};
using IgnoredFields = std::map<std::string, IgnoredField>;

// One warning per ignored field: `health check field "MeasureLatency" ignored (...): at
// /HealthChecks/0/HealthCheckConfig/MeasureLatency and 2 more checks`.
std::vector<std::string> ignored_field_warnings(const IgnoredFields& ignored);

// One check object at `path` (e.g. "/HealthChecks/2"). Checks the fields of this check only;
// unknown fields are errors naming their path. Ignored fields are recorded in `ignored` when
// given.
Result<HealthCheckConfig> parse_health_check(const nlohmann::json& object, const std::string& path,
                                             IgnoredFields* ignored = nullptr);

// An array of checks at `path` (e.g. "/HealthChecks"), then validate_health_checks().
Result<std::vector<HealthCheckConfig>> parse_health_checks(const nlohmann::json& array,
                                                           const std::string& path,
                                                           IgnoredFields* ignored = nullptr);

// Rules across checks: ids unique, children exist, are not CALCULATED, not repeated.
// Errors name `path`/index of the offending check.
Status validate_health_checks(const std::vector<HealthCheckConfig>& checks,
                              const std::string& path = "/HealthChecks");

}  // namespace meridian::health
