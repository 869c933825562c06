// ConnectionGuard: who may hold one control listener's connections, and for how long. MHD's own
// idle timeout restarts on every byte and its connection cap is first come, first served, so a
// client sending one byte a second could hold every slot. The guard adds:
// - a deadline for each whole request (from the connection's start, or the end of the previous
//   response) while no handler runs for it; past it the connection is shut down;
// - a cap per source prefix (/24 for IPv4, /56 for IPv6), so one network cannot take them all;
// - when the table is full, the oldest connection that is not an authorized request in progress
//   is shut down to admit the new one, so unauthenticated or idle connections never starve
//   authenticated clients.
// Thread safe: MHD calls it from its pool's threads; a watchdog thread enforces the deadlines.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace meridian::control {

struct ConnectionLimits {
  uint32_t max_connections = 64;
  uint32_t max_per_source = 8;  // 0: no per-source cap (the Unix socket)
  std::chrono::milliseconds request_timeout{10000};
};

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;
  struct Connection;  // one accepted socket; the handle MHD keeps as its socket context

  struct Counters {
    uint64_t refused_source = 0;  // per-source cap reached
    uint64_t refused_full = 0;    // table full and nothing could be evicted
    uint64_t evicted = 0;         // shut down to admit a newer connection
    uint64_t timed_out = 0;       // request not complete within the deadline
  };

  explicit ConnectionGuard(ConnectionLimits limits);
  ~ConnectionGuard();  // stops the watchdog
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // Before MHD takes an accepted socket: false refuses it. May shut down another connection
  // to make room.
  bool admit(const sockaddr* peer, socklen_t length);
  // MHD took the socket `fd` / closed it (before closing the descriptor).
  Connection* opened(int fd, const sockaddr* peer);
  void closed(Connection* c);
  // The request carried a valid token (or came over the Unix socket).
  void authorized(Connection* c);
  // A handler runs for the connection's request: no deadline while it does.
  void handler_started(Connection* c);
  // The response was sent (or the request ended): the next request gets a fresh deadline.
  void request_finished(Connection* c);

  Counters counters() const;

 private:
  void watch();
  // The connection to shut down for a newcomer; null when every one is working for an
  // authorized client.
  Connection* pick_victim();
  void shut_down(Connection& c);

  const ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::list<Connection> connections_;  // oldest first
  size_t live_ = 0;                    // in connections_ and not shut down by the guard
  std::unordered_map<std::string, uint32_t> per_source_;
  Counters counters_;
  std::thread watchdog_;
};

struct ConnectionGuard::Connection {
  int fd = -1;
  std::string source;  // prefix key; empty: not capped per source
  Clock::time_point started;
  Clock::time_point deadline;
  bool authorized = false;
  bool in_handler = false;
  bool shut = false;  // shut down by the guard, closing
  std::list<Connection>::iterator position;
};

}  // namespace meridian::control
