// Health checker CPU cost: N HTTP checks (default 1,000 at a 10 s interval) against local
// backends for a fixed time; prints the checker process's CPU time per wall second. The backends
// run in a forked child so their CPU is not counted. Built, not run by ctest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "health/health_checker.h"

namespace {

using meridian::health::CheckType;
using meridian::health::HealthCheckConfig;
using meridian::health::HealthChecker;

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// A minimal HTTP/1.1 responder: reads one request per connection, answers 200, closes.
[[noreturn]] void serve_forever(const std::vector<int>& listeners) {
  int ep = epoll_create1(0);
  for (int fd : listeners) {
    epoll_event ev{EPOLLIN, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::map<int, std::string> pending;
  const std::string reply =
      "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nhealthy";
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      bool listener = false;
      for (int l : listeners) listener = listener || l == fd;
      if (listener) {
        int c;
        while ((c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          epoll_event ev{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      char buf[4096];
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r > 0) pending[fd].append(buf, static_cast<size_t>(r));
      if (r > 0 && pending[fd].find("\r\n\r\n") == std::string::npos) continue;
      if (r > 0) (void)!send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      pending.erase(fd);
      close(fd);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int checks = 1000;
  int interval = 10;
  int seconds = 30;
  int ports = 8;
  std::string state_db;  // --state-db PATH: also measure the SQLite state store
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--state-db") state_db = argv[i + 1];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--checks") checks = value;
    if (flag == "--interval") interval = value;
    if (flag == "--seconds") seconds = value;
    if (flag == "--ports") ports = value;
  }
  spdlog::set_level(spdlog::level::warn);
  // Each probe holds a socket; a burst of all checks at start needs more than the default 1024.
  rlimit files{65536, 65536};
  setrlimit(RLIMIT_NOFILE, &files);

  std::vector<int> listeners;
  std::vector<uint16_t> listen_ports;
  for (int p = 0; p < ports; ++p) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sin), len) != 0 || listen(fd, 4096) != 0) {
      std::perror("bind/listen");
      return 1;
    }
    getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    listeners.push_back(fd);
    listen_ports.push_back(ntohs(sin.sin_port));
  }
  pid_t backend = fork();
  if (backend == 0) serve_forever(listeners);
  for (int fd : listeners) close(fd);

  std::vector<HealthCheckConfig> configs;
  for (int i = 0; i < checks; ++i) {
    HealthCheckConfig c;
    c.id = "check-" + std::to_string(i);
    c.type = CheckType::kHttp;
    c.ip_address = "127.0.0.1";
    c.port = listen_ports[static_cast<size_t>(i % ports)];
    c.resource_path = "/health/" + std::to_string(i);
    c.fqdn = "backend-" + std::to_string(i % ports) + ".example";
    c.request_interval_s = static_cast<uint32_t>(interval);
    configs.push_back(c);
  }

  meridian::health::HealthCheckerOptions options;
  options.state_db_path = state_db;
  HealthChecker checker(options);
  const double cpu_start = cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  if (auto started = checker.start(configs); !started) {
    std::fprintf(stderr, "start: %s\n", started.error().to_string().c_str());
    kill(backend, SIGKILL);
    return 1;
  }
  std::printf("health_checker_cpu: %d HTTP checks, interval %d s, %d backend ports, %d s\n", checks,
              interval, ports, seconds);
  double last_cpu = cpu_start;
  double peak = 0;
  for (int s = 1; s <= seconds; ++s) {
    std::this_thread::sleep_until(wall_start + std::chrono::seconds(s));
    double now = cpu_seconds();
    double used = now - last_cpu;
    last_cpu = now;
    peak = std::max(peak, used);
    std::printf("  t=%2ds  cpu %6.1f ms  probes so far %llu\n", s, used * 1000,
                static_cast<unsigned long long>(checker.counters().probes));
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu = cpu_seconds() - cpu_start;
  auto counters = checker.counters();
  checker.stop();
  kill(backend, SIGKILL);
  waitpid(backend, nullptr, 0);
  std::printf("probes %llu (failed %llu, transitions %llu), %.1f probes/s\n",
              static_cast<unsigned long long>(counters.probes),
              static_cast<unsigned long long>(counters.probe_failures),
              static_cast<unsigned long long>(counters.transitions), counters.probes / wall);
  std::printf(
      "checker CPU: %.3f s over %.1f s = %.1f ms per second (%.2f%% of one core), "
      "peak second %.1f ms, %.1f us per probe\n",
      cpu, wall, cpu / wall * 1000, cpu / wall * 100, peak * 1000,
      counters.probes > 0 ? cpu / static_cast<double>(counters.probes) * 1e6 : 0.0);
  return counters.probe_failures == 0 ? 0 : 2;
}
