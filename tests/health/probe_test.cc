// One probe at a time against real loopback backends: each HTTP/HTTPS/TCP rule of
// docs/health-checks.md as table rows (status set, string match window, Host header, SNI,
// certificate validation, connect/response timeouts, refused connections).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "health/probe.h"
#include "test_backend.h"

namespace meridian::health {
namespace {

using namespace std::chrono_literals;
using testing::BackendReply;
using testing::TestBackend;

// Runs one probe to its end on a fresh loop; fails the test past `limit`.
ProbeOutcome probe_once(const HealthCheckConfig& check, std::chrono::seconds limit = 15s) {
  TransferLoop loop;
  std::optional<ProbeOutcome> outcome;
  loop.start(make_probe(check, [&](ProbeOutcome o) { outcome = std::move(o); }));
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!outcome && std::chrono::steady_clock::now() < deadline) loop.run_once(100ms);
  EXPECT_TRUE(outcome.has_value()) << "probe did not finish within " << limit.count() << " s";
  return outcome.value_or(ProbeOutcome{false, "did not finish", {}});
}

HealthCheckConfig http_check(uint16_t port, CheckType type = CheckType::kHttp) {
  HealthCheckConfig check;
  check.id = "c";
  check.type = type;
  check.ip_address = "127.0.0.1";
  check.port = port;
  check.resource_path = "/health";
  return check;
}

struct StatusRow {
  int status;
  std::vector<StatusRange> accepted;  // empty: the default (200-399)
  bool healthy;
  std::string reason;
};

TEST(HttpProbeTest, StatusSetDecides) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok()) << backend.error();
  const std::vector<StatusRow> rows = {
      {200, {}, true, ""},
      {204, {}, true, ""},
      {301, {}, true, ""},  // redirects count as healthy and are not followed
      {302, {}, true, ""},
      {399, {}, true, ""},
      {299, {}, true, ""},
      {400, {}, false, "HTTP 400"},
      {404, {}, false, "HTTP 404"},
      {500, {}, false, "HTTP 500"},
      {503, {}, false, "HTTP 503"},
      {301, {{200, 200}}, false, "HTTP 301"},
      {204, {{200, 200}}, false, "HTTP 204"},
      {404, {{200, 299}, {404, 404}}, true, ""},
  };
  size_t expected_requests = 0;
  for (const StatusRow& row : rows) {
    SCOPED_TRACE("status " + std::to_string(row.status));
    backend.set_reply(BackendReply{row.status, "body", 0ms, false});
    HealthCheckConfig check = http_check(backend.port());
    if (!row.accepted.empty()) check.accepted_statuses = row.accepted;
    ProbeOutcome outcome = probe_once(check);
    EXPECT_EQ(outcome.success, row.healthy);
    EXPECT_EQ(outcome.reason, row.reason);
    EXPECT_GT(outcome.latency.count(), 0);
    // Exactly one request per probe: a 3xx Location is never followed.
    ++expected_requests;
    ASSERT_TRUE(backend.wait_for_requests(expected_requests, 2s));
    EXPECT_EQ(backend.request_count(), expected_requests);
    EXPECT_EQ(backend.requests().back().path, "/health");
    EXPECT_EQ(backend.requests().back().method, "GET");
  }
}

struct MatchRow {
  std::string name;
  size_t offset;       // where the search string starts in the body
  size_t body_size;    // total body size (filler 'x')
  std::string search;  // what the check looks for
  bool healthy;
};

TEST(HttpProbeTest, SearchStringMustBeInFirst5120Bytes) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok()) << backend.error();
  const std::string needle = "ALL-GOOD";
  const std::vector<MatchRow> rows = {
      {"at start", 0, 100, needle, true},
      {"in the middle", 3000, 6000, needle, true},
      {"ends exactly at 5120", 5120 - needle.size(), 8000, needle, true},
      {"straddles 5120", 5120 - needle.size() + 1, 8000, needle, false},
      {"just past 5120", 5120, 8000, needle, false},
      {"deep in a 1 MB body", 600000, 1 << 20, needle, false},
      {"case differs", 10, 100, "all-good", false},
      {"absent, short body", 0, 0, needle, false},
  };
  for (const MatchRow& row : rows) {
    SCOPED_TRACE(row.name);
    std::string body(row.body_size, 'x');
    if (row.body_size > 0) body.replace(row.offset, needle.size(), needle);
    backend.set_reply(BackendReply{200, body, 0ms, false});
    HealthCheckConfig check = http_check(backend.port(), CheckType::kHttpStrMatch);
    check.search_string = row.search;
    ProbeOutcome outcome = probe_once(check);
    EXPECT_EQ(outcome.success, row.healthy) << outcome.reason;
    if (!row.healthy) EXPECT_EQ(outcome.reason, "search string not found");
  }
}

TEST(HttpProbeTest, StringMatchStillNeedsAcceptedStatus) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  backend.set_reply(BackendReply{503, "ALL-GOOD", 0ms, false});
  HealthCheckConfig check = http_check(backend.port(), CheckType::kHttpStrMatch);
  check.search_string = "ALL-GOOD";
  ProbeOutcome outcome = probe_once(check);
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.reason, "HTTP 503");
}

TEST(HttpProbeTest, HugeBodyWithoutSearchStringIsNotRead) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  backend.set_reply(BackendReply{200, std::string(64 << 20, 'x'), 0ms, false});
  auto start = std::chrono::steady_clock::now();
  ProbeOutcome outcome = probe_once(http_check(backend.port()));
  EXPECT_TRUE(outcome.success) << outcome.reason;
  // Reading 64 MB through ASan would take far longer; the probe stops at the headers.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// A loopback address of our own on which this process may bind the default ports 80/443
// without colliding with anything else on the host.
std::string private_loopback_address() {
  return "127.18." + std::to_string(getpid() % 250) + ".1";
}

struct HostRow {
  std::string name;
  CheckType type;
  bool default_port;
  std::string fqdn;
  bool enable_sni;
  std::string expected_host;  // "{port}" is replaced by the backend's port
  std::string expected_sni;
};

TEST(HttpProbeTest, HostHeaderAndSni) {
  char dir_template[] = "/tmp/meridian-health-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  auto tls = testing::make_self_signed_certificate(dir, "backend.test");
  ASSERT_TRUE(tls.has_value()) << "openssl req failed (is openssl installed?)";

  const std::vector<HostRow> rows = {
      {"HTTP, name, other port", CheckType::kHttp, false, "backend.test", false,
       "backend.test:{port}", ""},
      {"HTTP, name, port 80", CheckType::kHttp, true, "backend.test", false, "backend.test", ""},
      {"HTTP, no name: the address", CheckType::kHttp, false, "", false, "{ip}:{port}", ""},
      {"HTTP, trailing dot dropped", CheckType::kHttp, false, "backend.test.", false,
       "backend.test:{port}", ""},
      {"HTTPS, SNI on, other port", CheckType::kHttps, false, "backend.test", true,
       "backend.test:{port}", "backend.test"},
      {"HTTPS, SNI off", CheckType::kHttps, false, "backend.test", false, "backend.test:{port}",
       ""},
      {"HTTPS, SNI on, port 443", CheckType::kHttps, true, "backend.test", true, "backend.test",
       "backend.test"},
      {"HTTPS, SNI off, port 443", CheckType::kHttps, true, "backend.test", false, "backend.test",
       ""},
  };
  for (const HostRow& row : rows) {
    SCOPED_TRACE(row.name);
    bool tls_row = row.type == CheckType::kHttps;
    std::string ip = row.default_port ? private_loopback_address() : "127.0.0.1";
    uint16_t port = row.default_port ? (tls_row ? 443 : 80) : 0;
    TestBackend backend(ip, port, tls_row ? tls : std::nullopt);
    ASSERT_TRUE(backend.ok()) << backend.error();
    HealthCheckConfig check = http_check(backend.port(), row.type);
    check.ip_address = ip;
    if (row.default_port) check.port = 0;  // the default for the scheme
    // The parser strips a trailing dot; do the same as it would.
    check.fqdn = row.fqdn;
    if (!check.fqdn.empty() && check.fqdn.back() == '.') check.fqdn.pop_back();
    check.enable_sni = row.enable_sni;
    ProbeOutcome outcome = probe_once(check);
    EXPECT_TRUE(outcome.success) << outcome.reason;
    ASSERT_EQ(backend.request_count(), 1u);
    std::string expected = row.expected_host;
    if (auto p = expected.find("{ip}"); p != std::string::npos) expected.replace(p, 4, ip);
    if (auto p = expected.find("{port}"); p != std::string::npos) {
      expected.replace(p, 6, std::to_string(backend.port()));
    }
    EXPECT_EQ(backend.requests()[0].host, expected);
    EXPECT_EQ(backend.requests()[0].sni, row.expected_sni);
  }
  std::filesystem::remove_all(dir);
}

TEST(HttpProbeTest, CertificateValidationIsOffByDefaultAndCanBeTurnedOn) {
  char dir_template[] = "/tmp/meridian-health-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  auto tls = testing::make_self_signed_certificate(dir, "backend.test");
  ASSERT_TRUE(tls.has_value());
  TestBackend backend("127.0.0.1", 0, tls);
  ASSERT_TRUE(backend.ok()) << backend.error();

  HealthCheckConfig check = http_check(backend.port(), CheckType::kHttps);
  check.fqdn = "backend.test";
  check.enable_sni = true;
  ProbeOutcome off = probe_once(check);
  EXPECT_TRUE(off.success) << off.reason;

  check.verify_certificate = true;  // self-signed: no trusted issuer
  ProbeOutcome on = probe_once(check);
  EXPECT_FALSE(on.success);
  EXPECT_EQ(on.reason.rfind("TLS: ", 0), 0u) << on.reason;
  EXPECT_EQ(backend.request_count(), 1u);  // the rejected handshake sent no request

  // HTTPS_STR_MATCH reads the body through TLS.
  backend.set_reply(BackendReply{200, std::string(1000, 'x') + "tls-body-ok", 0ms, false});
  HealthCheckConfig match = http_check(backend.port(), CheckType::kHttpsStrMatch);
  match.search_string = "tls-body-ok";
  EXPECT_TRUE(probe_once(match).success);
  std::filesystem::remove_all(dir);
}

TEST(HttpProbeTest, TlsProbeOfAPlainServerFails) {
  TestBackend backend;
  ASSERT_TRUE(backend.ok());
  // The plain server waits for a request line that a ClientHello never completes.
  HealthCheckConfig check = http_check(backend.port(), CheckType::kHttps);
  check.connect_timeout_ms = 800;
  ProbeOutcome outcome = probe_once(check);
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.reason, "TLS: handshake timeout");
  EXPECT_EQ(outcome.reason.rfind("TLS: ", 0), 0u) << outcome.reason;
}

struct FailureRow {
  std::string name;
  std::function<uint16_t(TestBackend&, std::optional<testing::FullBacklogListener>&)> setup;
  uint32_t connect_timeout_ms;
  uint32_t response_timeout_ms;
  std::string reason_prefix;
  std::chrono::milliseconds min_time;
  std::chrono::milliseconds max_time;
};

TEST(HttpProbeTest, ConnectAndResponseFailures) {
  const std::vector<FailureRow> rows = {
      {"refused", [](TestBackend&, auto&) { return testing::unused_loopback_port(); }, 4000, 2000,
       "connect: Connection refused", 0ms, 1000ms},
      {"connect timeout",
       [](TestBackend&, auto& full) {
         full.emplace();
         return full->port();
       },
       800, 2000, "connect timeout", 700ms, 2500ms},
      {"slow headers: response timeout counted from the connect",
       [](TestBackend& b, auto&) {
         b.set_reply(BackendReply{200, "late", 3000ms, false});
         return b.port();
       },
       4000, 700, "response timeout", 600ms, 2000ms},
      {"closed without a reply",
       [](TestBackend& b, auto&) {
         b.set_reply(BackendReply{200, "", 0ms, true});
         return b.port();
       },
       4000, 2000, "connection closed without a response", 0ms, 1500ms},
  };
  for (const FailureRow& row : rows) {
    SCOPED_TRACE(row.name);
    TestBackend backend;
    ASSERT_TRUE(backend.ok());
    std::optional<testing::FullBacklogListener> full;
    uint16_t port = row.setup(backend, full);
    if (full) ASSERT_TRUE(full->ok());
    HealthCheckConfig check = http_check(port);
    check.connect_timeout_ms = row.connect_timeout_ms;
    check.response_timeout_ms = row.response_timeout_ms;
    auto start = std::chrono::steady_clock::now();
    ProbeOutcome outcome = probe_once(check);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(outcome.success);
    EXPECT_EQ(outcome.reason.rfind(row.reason_prefix, 0), 0u) << outcome.reason;
    EXPECT_GE(took, row.min_time);
    EXPECT_LE(took, row.max_time);
    backend.stop();
  }
}

TEST(TcpProbeTest, ConnectOkRefusedTimeout) {
  TestBackend listening;
  ASSERT_TRUE(listening.ok());
  testing::FullBacklogListener full;
  ASSERT_TRUE(full.ok());
  struct Row {
    std::string name;
    uint16_t port;
    bool healthy;
    std::string reason;
  };
  const std::vector<Row> rows = {
      {"listening", listening.port(), true, ""},
      {"refused", testing::unused_loopback_port(), false, "connect: Connection refused"},
      {"full backlog", full.port(), false, "connect timeout"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    HealthCheckConfig check;
    check.id = "tcp";
    check.type = CheckType::kTcp;
    check.ip_address = "127.0.0.1";
    check.port = row.port;
    check.connect_timeout_ms = 800;
    ProbeOutcome outcome = probe_once(check);
    EXPECT_EQ(outcome.success, row.healthy);
    EXPECT_EQ(outcome.reason, row.reason);
  }
  // A TCP check sends nothing: the HTTP backend saw a connection but no request.
  EXPECT_EQ(listening.request_count(), 0u);
}

TEST(TcpProbeTest, DefaultConnectTimeoutIsTenSeconds) {
  HealthCheckConfig check;
  check.type = CheckType::kTcp;
  auto parsed = parse_health_check(
      nlohmann::json::parse(R"({"Id":"t","Type":"TCP","IPAddress":"127.0.0.1","Port":1})"),
      "/HealthChecks/0");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->connect_timeout_ms, 10000u);
}

}  // namespace
}  // namespace meridian::health
