// Faulty backends (DNS failure, resets, slowloris, endless bodies, redirect loops, TLS stalls) end
// as failures with a clear reason within the probe's timeout and never delay other checks' probes.
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "health/health_checker.h"
#include "health/probe.h"

namespace meridian::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What a FaultServer does with each connection once the request headers arrived.
enum class Fault {
  kHealthy,            // 200 with Content-Length, then close
  kResetBeforeStatus,  // RST (SO_LINGER 0 close) instead of any reply
  kResetAfterStatus,   // the status line, then RST
  kSlowHeaders,        // a complete response, one byte per byte_interval
  kTrickleBody,        // 200 headers at once, no Content-Length, then one body byte per interval
  kEndlessBody,        // 200 headers at once, no Content-Length, then body as fast as read
  kSilent,             // accepts, never sends a byte (a TLS client waits for its ServerHello)
  kRedirectSelf,       // 302 with Location: the requested path itself
};

// A loopback HTTP server that misbehaves on purpose. One poll thread serves every connection, so
// hundreds of slow connections cost no threads.
class FaultServer {
 public:
  explicit FaultServer(Fault fault, std::chrono::milliseconds byte_interval = 1000ms)
      : fault_(fault), byte_interval_(byte_interval) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 1024) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (listen_fd_ >= 0) close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FaultServer() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    for (Conn& c : conns_) close(c.fd);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  uint16_t port() const { return port_; }
  size_t accepted() const { return accepted_; }
  // When each complete request (headers) arrived.
  std::vector<Clock::time_point> request_times() const {
    std::lock_guard lock(mutex_);
    return request_times_;
  }

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    bool answered = false;
    std::string out;  // what is still to be sent
    Clock::time_point next_send{};
    bool trickle = false;                         // out is sent one byte at a time
    bool endless = false;                         // refill out forever
    std::optional<Clock::time_point> reset_at{};  // RST once reached
    bool close_when_sent = false;
    bool done = false;
  };

  static void reset(int fd) {
    linger hard{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  }

  void answer(Conn& c, Clock::time_point now) {
    c.answered = true;
    {
      std::lock_guard lock(mutex_);
      request_times_.push_back(now);
    }
    const std::string headers_only = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    switch (fault_) {
      case Fault::kHealthy:
        c.out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        c.close_when_sent = true;
        break;
      case Fault::kResetBeforeStatus:
        reset(c.fd);
        c.done = true;
        break;
      case Fault::kResetAfterStatus:
        c.out = "HTTP/1.1 200 OK\r\n";
        // Late enough that the status line is delivered before the RST discards the buffer.
        c.reset_at = now + 200ms;
        break;
      case Fault::kSlowHeaders:
        c.out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        c.trickle = true;
        c.close_when_sent = true;
        break;
      case Fault::kTrickleBody:
        c.out = headers_only;
        c.trickle = true;
        c.endless = true;
        break;
      case Fault::kEndlessBody:
        c.out = headers_only;
        c.endless = true;
        break;
      case Fault::kSilent:
        break;
      case Fault::kRedirectSelf:
        c.out = "HTTP/1.1 302 Found\r\nLocation: /health\r\nContent-Length: 0\r\n\r\n";
        c.close_when_sent = true;
        break;
    }
  }

  void send_some(Conn& c, Clock::time_point now) {
    if (c.out.empty() && c.endless) c.out = c.trickle ? "x" : std::string(16384, 'x');
    if (c.out.empty()) return;
    // In trickle-body mode the headers go out at once; only the body trickles.
    bool one_byte = c.trickle && !(fault_ == Fault::kTrickleBody && c.out.size() > 1);
    if (one_byte) {
      if (now < c.next_send) return;
      c.next_send = now + byte_interval_;
    }
    size_t want = one_byte ? 1 : c.out.size();
    ssize_t n = send(c.fd, c.out.data(), want, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      c.done = true;
    }
  }

  void loop() {
    while (!stopping_) {
      std::vector<pollfd> fds;
      fds.push_back({listen_fd_, POLLIN, 0});
      for (Conn& c : conns_) {
        short events = POLLIN;
        if (c.answered && !c.trickle && !c.out.empty()) events |= POLLOUT;
        fds.push_back({c.fd, events, 0});
      }
      poll(fds.data(), fds.size(), 20);
      auto now = Clock::now();
      if (fds[0].revents & POLLIN) {
        while (true) {
          int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          ++accepted_;
          conns_.push_back(Conn{fd});
        }
      }
      for (Conn& c : conns_) {
        char buffer[4096];
        ssize_t n = recv(c.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          c.done = true;  // the client gave up
          continue;
        }
        if (n > 0 && !c.answered) {
          c.in.append(buffer, static_cast<size_t>(n));
          if (c.in.find("\r\n\r\n") != std::string::npos) answer(c, now);
        }
        if (c.done || !c.answered) continue;
        if (c.reset_at && now >= *c.reset_at) {
          reset(c.fd);
          c.done = true;
          continue;
        }
        send_some(c, now);
        if (c.close_when_sent && c.out.empty()) c.done = true;
      }
      std::erase_if(conns_, [](const Conn& c) {
        if (c.done) close(c.fd);
        return c.done;
      });
    }
  }

  Fault fault_;
  std::chrono::milliseconds byte_interval_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<Conn> conns_;  // the server thread's only
  std::atomic<size_t> accepted_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<Clock::time_point> request_times_;
  std::thread thread_;
};

// Runs `body` on a thread in a network namespace of its own with only loopback up. Threads it
// starts (the checker's, libcurl's resolver threads) inherit the namespace, so a DNS query for a
// name that cannot resolve finds no route to resolv.conf's server and fails on this machine.
void in_private_netns(const std::function<void()>& body) {
  std::string error;
  std::thread runner([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &request) == 0;
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    up = up && ioctl(s, SIOCSIFFLAGS, &request) == 0;
    if (s >= 0) close(s);
    if (!up) {
      error = std::string("bringing lo up: ") + std::strerror(errno);
      return;
    }
    // Guard: nothing off loopback is reachable from here (a UDP connect sends no packet).
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in outside{};
    outside.sin_family = AF_INET;
    outside.sin_port = htons(53);
    inet_pton(AF_INET, "192.0.2.1", &outside.sin_addr);
    bool routed = connect(probe, reinterpret_cast<sockaddr*>(&outside), sizeof(outside)) == 0;
    close(probe);
    if (routed) {
      error = "the private network namespace has a route off the machine";
      return;
    }
    body();
  });
  runner.join();
  ASSERT_EQ(error, "");
}

HealthCheckConfig check_for(uint16_t port, CheckType type = CheckType::kHttp) {
  HealthCheckConfig check;
  check.id = "fault";
  check.type = type;
  check.ip_address = "127.0.0.1";
  check.port = port;
  check.resource_path = "/health";
  check.connect_timeout_ms = 1000;
  check.response_timeout_ms = 1000;
  return check;
}

// A name under the reserved .invalid TLD: it never exists (RFC 6761).
constexpr const char* kUnresolvable = "meridian-health-fault.invalid";

struct FaultRow {
  std::string name;
  Fault fault;
  CheckType type;
  std::string search_string;
  std::vector<StatusRange> accepted;  // empty: the default (200-399)
  bool healthy;
  std::string reason_prefix;
  // The probe must end by then (its timeout plus a margin for the ASan build).
  std::chrono::milliseconds max_time;
  std::chrono::milliseconds min_time{0};
  bool dns = false;  // no IPAddress, FQDN kUnresolvable
};

// connect 1000 ms + response 1000 ms: libcurl's whole-transfer backstop is their sum.
const std::vector<FaultRow>& fault_rows() {
  static const std::vector<FaultRow> rows = {
      {"DNS failure",
       Fault::kHealthy,
       CheckType::kHttp,
       "",
       {},
       false,
       "resolve: ",
       1500ms,
       0ms,
       true},
      {"reset before the status line",
       Fault::kResetBeforeStatus,
       CheckType::kHttp,
       "",
       {},
       false,
       "receive: ",
       1000ms},
      {"reset after the status line",
       Fault::kResetAfterStatus,
       CheckType::kHttp,
       "",
       {},
       false,
       "receive: ",
       1000ms},
      {"slowloris headers, one byte a second",
       Fault::kSlowHeaders,
       CheckType::kHttp,
       "",
       {},
       false,
       "response timeout",
       1600ms,
       900ms},
      // The status is known at once, so a trickling body cannot keep a plain check waiting.
      {"trickling body, no search string",
       Fault::kTrickleBody,
       CheckType::kHttp,
       "",
       {},
       true,
       "",
       800ms},
      {"trickling body, search string",
       Fault::kTrickleBody,
       CheckType::kHttpStrMatch,
       "NEVER",
       {},
       false,
       "search string not found (response timeout)",
       2600ms,
       1800ms},
      {"endless body without Content-Length",
       Fault::kEndlessBody,
       CheckType::kHttp,
       "",
       {},
       true,
       "",
       800ms},
      // The 5120-byte search window ends the read.
      {"endless body, search string",
       Fault::kEndlessBody,
       CheckType::kHttpStrMatch,
       "NEVER",
       {},
       false,
       "search string not found",
       800ms},
      {"redirect to itself, default statuses",
       Fault::kRedirectSelf,
       CheckType::kHttp,
       "",
       {},
       true,
       "",
       800ms},
      {"redirect to itself, only 200 accepted",
       Fault::kRedirectSelf,
       CheckType::kHttp,
       "",
       {{200, 200}},
       false,
       "HTTP 302",
       800ms},
      {"TLS handshake stall",
       Fault::kSilent,
       CheckType::kHttps,
       "",
       {},
       false,
       "TLS: handshake timeout",
       1600ms,
       900ms},
  };
  return rows;
}

HealthCheckConfig check_for_row(const FaultRow& row, uint16_t port) {
  HealthCheckConfig check = check_for(port, row.type);
  check.search_string = row.search_string;
  if (!row.accepted.empty()) check.accepted_statuses = row.accepted;
  if (row.dns) {
    check.ip_address.clear();
    check.fqdn = kUnresolvable;
  }
  return check;
}

TEST(HealthFaultTest, EachFaultEndsWithAReasonWithinItsTimeout) {
  in_private_netns([] {
    for (const FaultRow& row : fault_rows()) {
      SCOPED_TRACE(row.name);
      FaultServer server(row.fault);
      ASSERT_TRUE(server.ok());
      HealthCheckConfig check = check_for_row(row, server.port());
      TransferLoop loop;
      std::optional<ProbeOutcome> outcome;
      auto start = Clock::now();
      loop.start(make_probe(check, [&](ProbeOutcome o) { outcome = std::move(o); }));
      // Twice the limit: a probe still running then has hung, and the test says so.
      while (!outcome && Clock::now() - start < 2 * row.max_time + 2s) loop.run_once(50ms);
      auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      ASSERT_TRUE(outcome.has_value()) << "probe still running after " << took.count() << " ms";
      EXPECT_EQ(outcome->success, row.healthy) << outcome->reason;
      EXPECT_EQ(outcome->reason.rfind(row.reason_prefix, 0), 0u) << outcome->reason;
      if (row.healthy) EXPECT_EQ(outcome->reason, "");
      EXPECT_LE(took, row.max_time);
      EXPECT_GE(took, row.min_time);
      // A redirect is never followed: one request per probe.
      if (row.fault == Fault::kRedirectSelf) EXPECT_EQ(server.request_times().size(), 1u);
      std::printf("  %-45s %5lld ms  %s\n", row.name.c_str(), static_cast<long long>(took.count()),
                  outcome->success ? "healthy" : outcome->reason.c_str());
    }
  });
}

// Request gaps of the healthy backend: each at most one interval plus `slack`.
void expect_on_schedule(const std::vector<Clock::time_point>& times, size_t min_count,
                        std::chrono::milliseconds interval, std::chrono::milliseconds slack) {
  ASSERT_GE(times.size(), min_count);
  std::chrono::milliseconds worst{0};
  for (size_t i = 1; i < times.size(); ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(times[i] - times[i - 1]);
    worst = std::max(worst, gap);
    EXPECT_LE(gap, interval + slack) << "probe " << i;
  }
  std::printf("  healthy check: %zu probes, worst gap %lld ms\n", times.size(),
              static_cast<long long>(worst.count()));
}

TEST(HealthFaultTest, FaultyChecksDoNotDelayAHealthyOne) {
  in_private_netns([] {
    FaultServer healthy(Fault::kHealthy);
    ASSERT_TRUE(healthy.ok());
    std::vector<std::unique_ptr<FaultServer>> servers;
    std::vector<HealthCheckConfig> checks;
    HealthCheckConfig good = check_for(healthy.port());
    good.id = "healthy";
    good.request_interval_s = 1;
    checks.push_back(good);
    for (size_t i = 0; i < fault_rows().size(); ++i) {
      const FaultRow& row = fault_rows()[i];
      servers.push_back(std::make_unique<FaultServer>(row.fault));
      ASSERT_TRUE(servers.back()->ok());
      HealthCheckConfig check = check_for_row(row, servers.back()->port());
      check.id = "fault-" + std::to_string(i);
      check.request_interval_s = 1;
      check.failure_threshold = 1;
      checks.push_back(check);
    }
    HealthChecker checker({});
    ASSERT_TRUE(checker.start(checks).ok());
    std::this_thread::sleep_for(5500ms);
    auto states = checker.snapshot();
    checker.stop();
    expect_on_schedule(healthy.request_times(), 5, 1000ms, 400ms);
    EXPECT_TRUE(states.at("healthy").healthy());
    EXPECT_EQ(states.at("healthy").last_failure_reason, "");
    for (size_t i = 0; i < fault_rows().size(); ++i) {
      const FaultRow& row = fault_rows()[i];
      SCOPED_TRACE(row.name);
      const CheckState& state = states.at("fault-" + std::to_string(i));
      // Every faulty check ended probes (none hung) and each verdict matches the row.
      EXPECT_GE(state.probes, 2u);
      EXPECT_EQ(state.healthy(), row.healthy) << state.last_failure_reason;
      EXPECT_EQ(state.last_failure_reason.rfind(row.reason_prefix, 0), 0u)
          << state.last_failure_reason;
    }
  });
}

// The first IPv4 nameserver of /etc/resolv.conf (glibc's default without one: 127.0.0.1).
std::string resolver_address() {
  std::ifstream conf("/etc/resolv.conf");
  std::string line;
  while (std::getline(conf, line)) {
    std::istringstream words(line);
    std::string key, value;
    in_addr parsed{};
    if (words >> key >> value && key == "nameserver" &&
        inet_pton(AF_INET, value.c_str(), &parsed) == 1) {
      return value;
    }
  }
  return "127.0.0.1";
}

// Inside in_private_netns(): gives loopback the resolver's address and binds a UDP socket there
// that reads queries and never answers, so a lookup waits out glibc's own timeouts (seconds).
// Returns the socket, or -1.
int black_hole_resolver() {
  std::string address = resolver_address();
  if (address.rfind("127.", 0) != 0) {
    std::string command = "nsenter --net=/proc/" + std::to_string(getpid()) + "/task/" +
                          std::to_string(gettid()) + "/ns/net ip addr add " + address +
                          "/32 dev lo";
    if (std::system(command.c_str()) != 0) return -1;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(53);
  inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

TEST(HealthFaultTest, ResolverThatNeverAnswersEndsAtTheConnectTimeout) {
  in_private_netns([] {
    int resolver = black_hole_resolver();
    ASSERT_GE(resolver, 0) << "cannot stand in for the resolver";
    FaultServer healthy(Fault::kHealthy);
    ASSERT_TRUE(healthy.ok());
    HealthCheckConfig dns = check_for(0);
    dns.id = "dns";
    dns.ip_address.clear();
    dns.fqdn = kUnresolvable;
    dns.port = 80;
    dns.request_interval_s = 1;
    dns.failure_threshold = 1;

    // One probe alone: it ends at its connect timeout, which covers the lookup.
    {
      TransferLoop loop;
      std::optional<ProbeOutcome> outcome;
      auto start = Clock::now();
      loop.start(make_probe(dns, [&](ProbeOutcome o) { outcome = std::move(o); }));
      while (!outcome && Clock::now() - start < 5s) loop.run_once(50ms);
      auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      ASSERT_TRUE(outcome.has_value()) << "probe still running after " << took.count() << " ms";
      EXPECT_FALSE(outcome->success);
      EXPECT_EQ(outcome->reason.rfind("resolve: ", 0), 0u) << outcome->reason;
      EXPECT_GE(took, 900ms);
      EXPECT_LE(took, 1500ms);
      std::printf("  resolver black hole: %lld ms, %s\n", static_cast<long long>(took.count()),
                  outcome->reason.c_str());
    }

    // In a checker, next to a healthy check: the lookups never delay it.
    HealthCheckConfig good = check_for(healthy.port());
    good.id = "healthy";
    good.request_interval_s = 1;
    HealthChecker checker({});
    ASSERT_TRUE(checker.start({good, dns}).ok());
    std::this_thread::sleep_for(4500ms);
    auto states = checker.snapshot();
    auto stop_start = Clock::now();
    checker.stop();
    // stop() must not wait for a lookup still blocked in getaddrinfo.
    EXPECT_LE(Clock::now() - stop_start, 1000ms);
    close(resolver);
    expect_on_schedule(healthy.request_times(), 4, 1000ms, 400ms);
    EXPECT_GE(states.at("dns").probes, 2u);
    EXPECT_FALSE(states.at("dns").healthy());
    EXPECT_EQ(states.at("dns").last_failure_reason.rfind("resolve: ", 0), 0u)
        << states.at("dns").last_failure_reason;
  });
}

TEST(HealthFaultTest, TwoHundredSlowlorisTargetsDoNotDelayAHealthyCheck) {
  constexpr size_t kSlow = 200;
  FaultServer healthy(Fault::kHealthy);
  FaultServer slow(Fault::kSlowHeaders);
  ASSERT_TRUE(healthy.ok());
  ASSERT_TRUE(slow.ok());
  std::vector<HealthCheckConfig> checks;
  HealthCheckConfig good = check_for(healthy.port());
  good.id = "healthy";
  good.request_interval_s = 1;
  checks.push_back(good);
  for (size_t i = 0; i < kSlow; ++i) {
    HealthCheckConfig check = check_for(slow.port());
    check.id = "slow-" + std::to_string(i);
    check.request_interval_s = 1;
    check.failure_threshold = 1;
    checks.push_back(check);
  }
  HealthChecker checker({});
  ASSERT_TRUE(checker.start(checks).ok());
  std::this_thread::sleep_for(5500ms);
  auto states = checker.snapshot();
  auto counters = checker.counters();
  checker.stop();
  expect_on_schedule(healthy.request_times(), 5, 1000ms, 400ms);
  EXPECT_TRUE(states.at("healthy").healthy());
  size_t timed_out = 0;
  for (size_t i = 0; i < kSlow; ++i) {
    const CheckState& state = states.at("slow-" + std::to_string(i));
    if (!state.healthy() && state.last_failure_reason == "response timeout") ++timed_out;
  }
  EXPECT_EQ(timed_out, kSlow);
  EXPECT_GE(slow.accepted(), 2 * kSlow);  // each slow check was probed again after timing out
  std::printf("  %zu slowloris checks: %llu probes, %llu failures\n", kSlow,
              static_cast<unsigned long long>(counters.probes),
              static_cast<unsigned long long>(counters.probe_failures));
}

}  // namespace
}  // namespace meridian::health
