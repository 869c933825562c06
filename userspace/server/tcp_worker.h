// TcpWorker: one worker's TCP listeners and connections, per RFC 7766: two-byte length prefix,
// pipelined queries, partial reads and writes on non-blocking sockets, idle timeout, and
// connection caps (total and per source address) shared by every worker.
#pragma once

#include <sys/socket.h>

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

// Counts open connections across all workers. Accepting is rare next to queries, so a mutex is
// the simple correct choice.
class TcpConnectionBudget {
 public:
  TcpConnectionBudget(uint32_t max_total, uint32_t max_per_source)
      : max_total_(max_total), max_per_source_(max_per_source) {}

  // Takes a slot for a connection from `peer`; false if either cap is reached.
  bool try_acquire(const sockaddr_storage& peer);
  void release(const sockaddr_storage& peer);

 private:
  const uint32_t max_total_;
  const uint32_t max_per_source_;
  std::mutex mutex_;
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_source_;  // key: raw address bytes, no port
};

struct TcpConnection : EventTag {
  using Clock = std::chrono::steady_clock;

  sockaddr_storage peer{};
  std::vector<uint8_t> input;  // received bytes; [0, input_length) are valid
  size_t input_length = 0;
  std::vector<uint8_t> output;  // framed replies; [output_sent, size) still to write
  size_t output_sent = 0;
  Clock::time_point last_activity;
  uint32_t registered_events = 0;  // current epoll interest
  bool peer_closed = false;        // read returned 0: answer what is buffered, then close
  std::list<TcpConnection>::iterator position;  // in TcpWorker::connections_ (oldest first)
};

struct TcpCounters {
  uint64_t accepted = 0;
  uint64_t refused = 0;  // closed at once because a cap was reached
  uint64_t timed_out = 0;
  uint64_t queries = 0;
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
            TcpConnectionBudget& budget, std::chrono::milliseconds idle_timeout,
            const QueryObserver* on_query = nullptr);
  ~TcpWorker();
  TcpWorker(const TcpWorker&) = delete;
  TcpWorker& operator=(const TcpWorker&) = delete;

  // Takes ownership of the listening, non-blocking socket `fd`; false (fd closed) on failure.
  bool add_listener(int fd);

  void accept_ready(EventTag& listener);
  void connection_ready(TcpConnection& connection, uint32_t events);
  // Closes connections idle for the configured timeout.
  void expire_idle(Clock::time_point now);
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
  void close_connection(TcpConnection& c);

  int epoll_fd_;
  const zone::ZoneStore& zones_;
  const answer::Responder& responder_;
  TcpConnectionBudget& budget_;
  const std::chrono::milliseconds idle_timeout_;
  const QueryObserver* on_query_;
  QueryEvent event_;  // reused
  std::vector<std::unique_ptr<EventTag>> listeners_;
  std::list<TcpConnection> connections_;  // least recently active first
  std::vector<uint8_t> reply_;            // reused for every query
  TcpCounters counters_;
};

}  // namespace meridian::server
