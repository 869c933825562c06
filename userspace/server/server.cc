// Socket setup, worker threads and their epoll loops.
#include "server/server.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/unique_fd.h"
#include "server/event_tag.h"
#include "server/tcp_worker.h"
#include "server/udp_worker.h"

namespace meridian::server {
namespace {

std::shared_ptr<spdlog::logger> server_log() {
  auto log = spdlog::get("server");
  return log ? log : spdlog::default_logger();
}

bool is_wildcard(const config::ListenAddress& a) {
  if (a.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&a.address)->sin_addr.s_addr == INADDR_ANY;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.address);
  return IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
}

// The limiter's settings from the configuration (prefixes already validated and canonical).
Result<rrl::Settings> rrl_settings(const config::RrlSettings& in) {
  rrl::Settings out;
  out.responses_per_second = in.responses_per_second;
  out.burst = in.burst;
  out.slip = in.slip;
  out.ipv4_prefix_length = in.ipv4_prefix_length;
  out.ipv6_prefix_length = in.ipv6_prefix_length;
  out.table_size = in.table_size;
  for (const auto& text : in.allow) {
    auto prefix = policy::parse_prefix(text);
    if (!prefix) return make_error(prefix.error().what, "rrl.allow");
    out.allow.push_back(*prefix);
  }
  return out;
}

Error socket_error(const char* step, const config::ListenAddress& a, const char* proto) {
  return make_error(std::string(step) + " failed: " + std::strerror(errno),
                    std::string(proto) + " " + a.to_text());
}

// A non-blocking socket bound to `a` with SO_REUSEPORT, so each worker can bind its own and the
// kernel spreads packets and connections across them.
Result<int> open_bound_socket(const config::ListenAddress& a, int type) {
  const char* proto = type == SOCK_DGRAM ? "udp" : "tcp";
  int fd = socket(a.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return socket_error("socket", a, proto);
  int one = 1;
  auto fail = [&](const char* step) {
    Error e = socket_error(step, a, proto);
    const int err = errno;  // for the caller, who may try another port on EADDRINUSE
    close(fd);
    errno = err;
    return e;
  };
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return fail("setsockopt(SO_REUSEADDR)");
  }
  // [::] must not also take IPv4: "0.0.0.0" is configured separately when wanted.
  if (a.family() == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    return fail("setsockopt(IPV6_V6ONLY)");
  }
  if (type == SOCK_DGRAM) {
    // Bigger buffers absorb bursts between two recvmmsg batches. The FORCE variants (CAP_NET_ADMIN,
    // which meridiand has for XDP) go past net.core.rmem_max/wmem_max, whose default (208 KiB)
    // holds only a few hundred datagrams; without the capability the kernel's cap applies.
    int size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (is_wildcard(a)) {
      bool ok = a.family() == AF_INET
                    ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0
                    : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) == 0;
      if (!ok) return fail("setsockopt(PKTINFO)");
    }
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a.address), a.length) != 0) {
    return fail("bind");
  }
  if (type == SOCK_STREAM && listen(fd, 1024) != 0) return fail("listen");
  return fd;
}

// The UDP and TCP sockets of one listen address. With port 0 the UDP socket picks the port and
// `a` takes it, so every other socket (other workers, TCP) reuses it; the kernel picked it free
// for UDP only, and a TCP client may hold it as its own port, so another is tried then.
Result<std::pair<int, int>> open_udp_and_tcp(config::ListenAddress& a) {
  const bool pick_port = a.port() == 0;
  constexpr int kTries = 16;
  for (int attempt = 1;; ++attempt) {
    config::ListenAddress address = a;
    auto udp = open_bound_socket(address, SOCK_DGRAM);
    if (!udp) return udp.error();
    if (pick_port) {
      sockaddr_storage actual{};
      socklen_t length = sizeof actual;
      getsockname(*udp, reinterpret_cast<sockaddr*>(&actual), &length);
      address = config::listen_address_from_sockaddr(reinterpret_cast<sockaddr*>(&actual), length);
    }
    auto tcp = open_bound_socket(address, SOCK_STREAM);
    if (tcp) {
      a = address;
      return std::pair<int, int>{*udp, *tcp};
    }
    close(*udp);
    if (!pick_port || errno != EADDRINUSE || attempt == kTries) return tcp.error();
  }
}

// Worker `w` of `count`: its share of the connection cap. A worker evicts only its own
// connections (no closing across threads), so the cap is split into shares that add up to
// max_connections, at least one each; the kernel spreads connections evenly enough
// (SO_REUSEPORT hashes the client's address and port).
TcpWorkerLimits tcp_limits(const config::TcpSettings& tcp, uint32_t w, uint32_t count) {
  TcpWorkerLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(tcp.idle_timeout_ms);
  limits.query_timeout = std::chrono::milliseconds(tcp.query_timeout_ms);
  limits.max_connections =
      std::max(1u, tcp.max_connections / count + (w < tcp.max_connections % count ? 1 : 0));
  return limits;
}

}  // namespace

// One thread's share of the server: its sockets, its epoll set, its loop.
class Worker {
 public:
  Worker(int epoll_fd, const zone::ZoneStore& zones, const answer::Responder& responder,
         const rrl::RateLimiter& limiter, TcpConnectionBudget& budget,
         const TcpWorkerLimits& tcp_limits, const QueryObserver* on_query)
      : epoll_fd_(epoll_fd),
        udp_(epoll_fd, zones, responder, limiter, on_query),
        tcp_(epoll_fd, zones, responder, budget, tcp_limits, on_query) {}
  ~Worker() = default;  // members close their sockets before the epoll fd below goes

  UdpWorker& udp() { return udp_; }
  TcpWorker& tcp() { return tcp_; }
  const UdpWorker& udp() const { return udp_; }
  const TcpWorker& tcp() const { return tcp_; }
  int epoll_fd() const { return epoll_fd_.get(); }

  void run(const std::atomic<bool>& stopping) {
    constexpr int kEvents = 64;
    epoll_event events[kEvents];
    while (!stopping.load(std::memory_order_relaxed)) {
      int timeout = tcp_.next_expiry_ms(TcpWorker::Clock::now());
      int n = epoll_wait(epoll_fd_.get(), events, kEvents, timeout);
      if (n < 0) {
        if (errno == EINTR) continue;
        server_log()->error("epoll_wait failed: {}", std::strerror(errno));
        return;
      }
      for (int i = 0; i < n; ++i) {
        auto* tag = static_cast<EventTag*>(events[i].data.ptr);
        switch (tag->kind) {
          case EventKind::kUdpSocket:
            udp_.serve(*static_cast<UdpSocket*>(tag));
            break;
          case EventKind::kTcpListener:
            tcp_.accept_ready(*tag);
            break;
          case EventKind::kTcpConnection:
            tcp_.connection_ready(*static_cast<TcpConnection*>(tag), events[i].events);
            break;
          case EventKind::kStop:
            break;  // the loop condition sees `stopping`
        }
      }
      tcp_.finish_batch(TcpWorker::Clock::now());
    }
  }

 private:
  UniqueFd epoll_fd_;  // declared first: destroyed after the workers that use it
  UdpWorker udp_;
  TcpWorker tcp_;
};

Server::Server(ServerOptions options, const zone::ZoneStore& zones,
               const answer::Responder& responder)
    : options_(std::move(options)), zones_(zones), responder_(responder) {
  budget_ = std::make_unique<TcpConnectionBudget>(options_.tcp.max_connections_per_source,
                                                  options_.tcp.ipv4_prefix_length,
                                                  options_.tcp.ipv6_prefix_length);
}

Server::~Server() {
  stop();
  workers_.clear();
  if (stop_fd_ >= 0) close(stop_fd_);
}

Status Server::start() {
  uint32_t count = options_.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  if (options_.listen.empty()) return make_error("no listen address configured");
  if (auto configured = configure_rrl(options_.rrl); !configured) return configured;

  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) return make_error(std::string("eventfd failed: ") + std::strerror(errno));
  static EventTag stop_tag{EventKind::kStop, -1};

  auto give_up = [&](Error e) {
    workers_.clear();
    bound_.clear();
    return e;
  };

  bound_ = options_.listen;
  for (uint32_t w = 0; w < count; ++w) {
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return give_up(make_error(std::string("epoll_create1: ") + strerror(errno)));
    auto worker = std::make_unique<Worker>(epfd, zones_, responder_, limiter_, *budget_,
                                           tcp_limits(options_.tcp, w, count),
                                           options_.on_query ? &options_.on_query : nullptr);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &stop_tag;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, stop_fd_, &ev) != 0) {
      return give_up(make_error(std::string("epoll_ctl: ") + strerror(errno)));
    }
    for (auto& address : bound_) {
      auto sockets = open_udp_and_tcp(address);
      if (!sockets) return give_up(sockets.error());
      const auto [udp, tcp] = *sockets;
      if (!worker->udp().add_socket(udp, is_wildcard(address))) {
        close(tcp);
        return give_up(socket_error("epoll_ctl", address, "udp"));
      }
      if (!worker->tcp().add_listener(tcp)) {
        return give_up(socket_error("epoll_ctl", address, "tcp"));
      }
    }
    workers_.push_back(std::move(worker));
  }

  for (auto& worker : workers_) {
    threads_.emplace_back([this, w = worker.get()] { w->run(stopping_); });
  }
  return Ok{};
}

ServerStats Server::stats() const {
  ServerStats total;
  for (const auto& worker : workers_) {
    const UdpCounters& udp = worker->udp().counters();
    const TcpCounters& tcp = worker->tcp().counters();
    total.udp_received += udp.received;
    total.udp_replied += udp.replied;
    total.udp_dropped += udp.dropped;
    total.tcp_accepted += tcp.accepted;
    total.tcp_refused += tcp.refused;
    total.tcp_timed_out += tcp.timed_out;
    total.tcp_query_timed_out += tcp.query_timed_out;
    total.tcp_evicted += tcp.evicted;
    total.tcp_queries += tcp.queries;
    for (size_t k = 0; k < MDN_RRL_CLASS_COUNT; ++k) {
      total.rrl_dropped[k] += udp.rrl_dropped[k];
      total.rrl_slipped[k] += udp.rrl_slipped[k];
    }
  }
  const auto limits = limiter_.limits();
  if (limits->table) total.rrl_evicted_busy = limits->table->evicted_busy();
  return total;
}

Status Server::configure_rrl(const config::RrlSettings& settings) {
  auto converted = rrl_settings(settings);
  if (!converted) return converted.error();
  return limiter_.configure(*converted);
}

std::string Server::rrl_summary() const {
  const auto limits = limiter_.limits();
  if (!limits->enabled()) return "off";
  const mdn_rrl_config& c = limits->config;
  const size_t allowed = limits->allow.prefix_count();
  return std::to_string(c.responses_per_second) + " responses/s per /" +
         std::to_string(c.ipv4_prefix_len) + " and /" + std::to_string(c.ipv6_prefix_len) +
         " prefix and class, burst " + std::to_string(c.burst) + ", slip " +
         std::to_string(c.slip) + ", " + std::to_string(allowed) + " allowed prefix" +
         (allowed == 1 ? "" : "es") + ", table of " + std::to_string(limits->table->slots()) +
         " buckets";
}

void Server::stop() {
  if (threads_.empty()) return;
  stopping_.store(true, std::memory_order_relaxed);
  uint64_t one = 1;
  // Level-triggered and never read: wakes every worker's epoll_wait, now and later.
  if (write(stop_fd_, &one, sizeof one) < 0) {
    server_log()->error("waking workers failed: {}", std::strerror(errno));
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace meridian::server
