// ConnectionGuard (contract in connection_guard.h). Connections are shut down with shutdown(2),
// never closed here: MHD owns the descriptors and notices the shutdown on its next read. MHD
// reports a close before it closes the descriptor, and both happen under the guard's mutex, so
// a descriptor number is never shut down after it was reused.
#include "control/connection_guard.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace meridian::control {
namespace {

// The source prefix a connection counts against: /24 for IPv4 (and IPv4-mapped IPv6), /56 for
// IPv6; empty for other families.
std::string source_prefix(const sockaddr* peer) {
  if (peer == nullptr) return {};
  if (peer->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer);
    const auto* b = reinterpret_cast<const uint8_t*>(&v4->sin_addr);
    return std::string("4") + std::string(reinterpret_cast<const char*>(b), 3);
  }
  if (peer->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer);
    const uint8_t* b = v6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
      return std::string("4") + std::string(reinterpret_cast<const char*>(b + 12), 3);
    return std::string("6") + std::string(reinterpret_cast<const char*>(b), 7);
  }
  return {};
}

}  // namespace

ConnectionGuard::ConnectionGuard(ConnectionLimits limits) : limits_(limits) {
  watchdog_ = std::thread([this] { watch(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watchdog_.join();
}

bool ConnectionGuard::admit(const sockaddr* peer, socklen_t /*length*/) {
  const std::string source = limits_.max_per_source ? source_prefix(peer) : std::string();
  std::lock_guard lock(mutex_);
  if (!source.empty()) {
    auto it = per_source_.find(source);
    if (it != per_source_.end() && it->second >= limits_.max_per_source) {
      ++counters_.refused_source;
      return false;
    }
  }
  if (live_ < limits_.max_connections) return true;
  Connection* victim = pick_victim();
  if (victim == nullptr) {
    ++counters_.refused_full;
    return false;
  }
  shut_down(*victim);
  ++counters_.evicted;
  return true;
}

ConnectionGuard::Connection* ConnectionGuard::opened(int fd, const sockaddr* peer) {
  std::lock_guard lock(mutex_);
  Connection& c = connections_.emplace_back();
  c.position = std::prev(connections_.end());
  c.fd = fd;
  c.source = limits_.max_per_source ? source_prefix(peer) : std::string();
  c.started = Clock::now();
  c.deadline = c.started + limits_.request_timeout;
  if (!c.source.empty()) ++per_source_[c.source];
  ++live_;
  return &c;
}

void ConnectionGuard::closed(Connection* c) {
  if (c == nullptr) return;
  std::lock_guard lock(mutex_);
  if (!c->source.empty()) {
    auto it = per_source_.find(c->source);
    if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
  }
  if (!c->shut) --live_;
  connections_.erase(c->position);
}

void ConnectionGuard::authorized(Connection* c) {
  if (c == nullptr) return;
  std::lock_guard lock(mutex_);
  c->authorized = true;
}

void ConnectionGuard::handler_started(Connection* c) {
  if (c == nullptr) return;
  std::lock_guard lock(mutex_);
  c->in_handler = true;
}

void ConnectionGuard::request_finished(Connection* c) {
  if (c == nullptr) return;
  std::lock_guard lock(mutex_);
  c->in_handler = false;
  // A keep-alive connection must prove itself again: the next request is not yet authorized.
  c->authorized = false;
  c->deadline = Clock::now() + limits_.request_timeout;
}

ConnectionGuard::Counters ConnectionGuard::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

ConnectionGuard::Connection* ConnectionGuard::pick_victim() {
  // Oldest first: an unauthorized connection, else one idle between requests (a handler that
  // runs means an authorized request in progress, which is never cut short).
  for (Connection& c : connections_) {
    if (!c.shut && !c.authorized && !c.in_handler) return &c;
  }
  return nullptr;
}

void ConnectionGuard::shut_down(Connection& c) {
  ::shutdown(c.fd, SHUT_RDWR);
  c.shut = true;
  --live_;
}

void ConnectionGuard::watch() {
  std::unique_lock lock(mutex_);
  // A tenth of the timeout, so a deadline is enforced at most 10% late.
  const auto tick = std::clamp<std::chrono::milliseconds>(
      limits_.request_timeout / 10, std::chrono::milliseconds(20), std::chrono::milliseconds(500));
  while (!stopping_) {
    wake_.wait_for(lock, tick);
    const auto now = Clock::now();
    for (Connection& c : connections_) {
      if (c.shut || c.in_handler || now < c.deadline) continue;
      shut_down(c);
      ++counters_.timed_out;
    }
  }
}

}  // namespace meridian::control
