// TcpWorker: one worker's TCP listeners and connections, per RFC 7766: two-byte length prefix,
// pipelined queries, partial reads and writes on non-blocking sockets, idle and per-query
// timeouts, the worker's share of the connection cap (the least recently active connection makes
// room for a new one), and per-source-network caps shared by every worker.
#pragma once

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "answer/responder.h"
#include "server/event_tag.h"
#include "server/query_event.h"
#include "zone/zone_store.h"

namespace meridian::server {

// Counts open connections per source network across all workers: a client's /24 (IPv4) or /56
// (IPv6) by default, since one host usually owns a whole such network and would otherwise get a
// cap per address. IPv4-mapped IPv6 sources count as the IPv4 clients they are. Accepting is rare
// next to queries, so a mutex is the simple correct choice.
class TcpConnectionBudget {
 public:
  TcpConnectionBudget(uint32_t max_per_source, uint32_t ipv4_prefix_length,
                      uint32_t ipv6_prefix_length)
      : max_per_source_(max_per_source),
        ipv4_prefix_length_(ipv4_prefix_length),
        ipv6_prefix_length_(ipv6_prefix_length) {}

  // Takes a slot for a connection from `peer`'s network; false if that network is at its cap.
  bool try_acquire(const sockaddr_storage& peer);
  void release(const sockaddr_storage& peer);

 private:
  using SourceKey = std::array<uint8_t, 17>;  // family, then the address past the prefix zeroed
  struct SourceKeyHash {
    size_t operator()(const SourceKey& k) const;
  };
  SourceKey source_key(const sockaddr_storage& peer) const;

  const uint32_t max_per_source_;
  const uint32_t ipv4_prefix_length_;
  const uint32_t ipv6_prefix_length_;
  std::mutex mutex_;
  std::unordered_map<SourceKey, uint32_t, SourceKeyHash> per_source_;  // only non-zero counts
};

struct TcpConnection : EventTag {
  using Clock = std::chrono::steady_clock;

  sockaddr_storage peer{};
  std::vector<uint8_t> input;  // received bytes; [0, input_length) are valid
  size_t input_length = 0;
  std::vector<uint8_t> output;  // framed replies; [output_sent, size) still to write
  size_t output_sent = 0;
  // The last query answered or reply bytes written; bytes of a query still arriving do not
  // count, so a client sending a byte now and then is not active.
  Clock::time_point last_activity;
  uint32_t registered_events = 0;  // current epoll interest
  bool peer_closed = false;        // read returned 0: answer what is buffered, then close
  std::list<TcpConnection>::iterator position;  // in TcpWorker::connections_ (oldest first)

  // While a query is being received (from the accept for the first one, else from its first
  // byte): when that started, and this connection's node is in TcpWorker::receiving_. Otherwise
  // the node waits in `receiving_slot`, so moving it never allocates.
  bool receiving = false;
  Clock::time_point query_started;
  std::list<TcpConnection*> receiving_slot;
  std::list<TcpConnection*>::iterator receiving_position;
};

struct TcpCounters {
  uint64_t accepted = 0;
  uint64_t refused = 0;          // closed at once because the source network's cap was reached
  uint64_t timed_out = 0;        // idle for the idle timeout
  uint64_t query_timed_out = 0;  // a query not received whole within the query timeout
  uint64_t evicted = 0;          // closed (least recently active) to make room for a new connection
  uint64_t queries = 0;
};

struct TcpWorkerLimits {
  std::chrono::milliseconds idle_timeout{10000};
  std::chrono::milliseconds query_timeout{2000};
  uint32_t max_connections = 1024;  // this worker's share of tcp.max_connections
};

class TcpWorker {
 public:
  using Clock = TcpConnection::Clock;
  static constexpr size_t kMaxMessage = 65535;
  // A client that sends faster than it reads stops being read once this much is unsent.
  static constexpr size_t kMaxPendingOutput = 256 * 1024;

  // `on_query` (null: no observer) is told about each query answered; it must outlive the
  // worker.
  TcpWorker(int epoll_fd, const zone::ZoneStore& zones, const answer::Responder& responder,
            TcpConnectionBudget& budget, const TcpWorkerLimits& limits,
            const QueryObserver* on_query = nullptr);
  ~TcpWorker();
  TcpWorker(const TcpWorker&) = delete;
  TcpWorker& operator=(const TcpWorker&) = delete;

  // Takes ownership of the listening, non-blocking socket `fd`; false (fd closed) on failure.
  bool add_listener(int fd);

  void accept_ready(EventTag& listener);
  void connection_ready(TcpConnection& connection, uint32_t events);
  // After each batch of epoll events: closes the connections idle for the idle timeout or
  // receiving one query for longer than the query timeout, and frees every connection closed
  // during the batch (an event for it may have been in the batch after it was closed).
  void finish_batch(Clock::time_point now);
  // Milliseconds until the next connection could expire; -1 if there are none.
  int next_expiry_ms(Clock::time_point now) const;

  const TcpCounters& counters() const { return counters_; }
  size_t connection_count() const { return connections_.size(); }

 private:
  // Each returns false if the connection failed and was closed (and `c` is gone).
  bool read_queries(TcpConnection& c);
  void answer_buffered(TcpConnection& c);
  bool flush(TcpConnection& c);
  // Closes when done, else sets the epoll interest the connection's state needs.
  void settle(TcpConnection& c);
  void touch(TcpConnection& c);
  // The query timeout runs from `now` / does not run.
  void start_query_clock(TcpConnection& c, Clock::time_point now);
  void stop_query_clock(TcpConnection& c);
  void close_connection(TcpConnection& c);

  int epoll_fd_;
  const zone::ZoneStore& zones_;
  const answer::Responder& responder_;
  TcpConnectionBudget& budget_;
  const TcpWorkerLimits limits_;
  const QueryObserver* on_query_;
  QueryEvent event_;  // reused
  std::vector<std::unique_ptr<EventTag>> listeners_;
  std::list<TcpConnection> connections_;  // least recently active first
  std::list<TcpConnection> closed_;       // closed (fd -1), freed by finish_batch
  std::list<TcpConnection*> receiving_;   // connections receiving a query, oldest clock first
  std::vector<uint8_t> reply_;            // reused for every query
  TcpCounters counters_;
};

}  // namespace meridian::server
