// Server: the UDP/TCP authoritative listener. One worker thread per core, each with its own
// SO_REUSEPORT UDP socket and TCP listener per listen address and its own epoll loop, so workers
// share nothing on the query path but the zone snapshot and the TCP connection budget.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "answer/responder.h"
#include "common/result.h"
#include "config/server_settings.h"
#include "meridian_rrl.h"
#include "rrl/rate_limiter.h"
#include "server/query_event.h"
#include "zone/zone_store.h"

namespace meridian::server {

struct ServerOptions {
  std::vector<config::ListenAddress> listen;
  uint32_t workers = 0;  // 0 = std::thread::hardware_concurrency()
  config::TcpSettings tcp;
  config::RrlSettings rrl;  // response rate limiting of UDP replies (off by default)
  // Told about every query answered over UDP or TCP, on the worker threads; not about queries
  // dropped (by the Responder, for size, or by rate limiting). A slipped TC=1 reply counts as
  // answered. Empty: nothing is done per query.
  QueryObserver on_query;
};

// Totals over all workers, for the shutdown log line.
struct ServerStats {
  uint64_t udp_received = 0;
  uint64_t udp_replied = 0;
  uint64_t udp_dropped = 0;
  uint64_t tcp_accepted = 0;
  uint64_t tcp_refused = 0;
  uint64_t tcp_timed_out = 0;        // idle
  uint64_t tcp_query_timed_out = 0;  // a query not received whole in time
  uint64_t tcp_evicted = 0;          // closed to make room for a new connection
  uint64_t tcp_queries = 0;
  // Response rate limiting, by response class (enum mdn_rrl_class).
  std::array<uint64_t, MDN_RRL_CLASS_COUNT> rrl_dropped{};
  std::array<uint64_t, MDN_RRL_CLASS_COUNT> rrl_slipped{};
  uint64_t rrl_evicted_busy = 0;  // buckets still limiting when pushed out of a full table
};

class Worker;
class TcpConnectionBudget;

class Server {
 public:
  // `zones` and `responder` must outlive the server.
  Server(ServerOptions options, const zone::ZoneStore& zones, const answer::Responder& responder);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every socket, then starts the workers. On error nothing is left open or running.
  // Threads inherit the caller's signal mask: block signals before calling.
  Status start();
  // Asks every worker to stop and joins them. Idempotent.
  void stop();

  // The listen addresses as bound (a configured port 0 replaced by the one the kernel chose).
  const std::vector<config::ListenAddress>& bound_addresses() const { return bound_; }
  size_t worker_count() const { return workers_.size(); }
  // Worker counters are unsynchronised: read them only after stop().
  ServerStats stats() const;

  // Applies new rate limits at once (SIGHUP); the buckets are kept unless the table size changed.
  Status configure_rrl(const config::RrlSettings& settings);
  // "5 responses/s per /24 and /56 prefix and class, burst 5, slip 2, 1 allowed prefix" or "off".
  std::string rrl_summary() const;
  // The limits in force (for the XDP program, which applies the same settings).
  std::shared_ptr<const rrl::Limits> rrl_limits() const { return limiter_.limits(); }

 private:
  ServerOptions options_;
  const zone::ZoneStore& zones_;
  const answer::Responder& responder_;
  std::unique_ptr<TcpConnectionBudget> budget_;
  rrl::RateLimiter limiter_;  // before the workers, which hold a reference
  std::vector<config::ListenAddress> bound_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  int stop_fd_ = -1;  // eventfd, readable once stop() is called; in every worker's epoll set
};

}  // namespace meridian::server
