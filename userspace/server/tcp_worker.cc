// RFC 7766 DNS over TCP on non-blocking sockets: framing, pipelining, partial I/O, idle and
// per-query timeouts, eviction of the least recently active connection, per-network caps.
#include "server/tcp_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <string_view>

#include <spdlog/spdlog.h>

#include "meridian_rrl.h"
#include "policy/ip_prefix.h"

namespace meridian::server {
namespace {

std::shared_ptr<spdlog::logger> server_log() {
  auto log = spdlog::get("server");
  return log ? log : spdlog::default_logger();
}

// Reads per readiness event before other connections get a turn (the socket stays readable).
constexpr int kReadsPerEvent = 16;
constexpr int kAcceptsPerEvent = 64;
constexpr size_t kInitialInput = 1024;

}  // namespace

size_t TcpConnectionBudget::SourceKeyHash::operator()(const SourceKey& k) const {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
}

TcpConnectionBudget::SourceKey TcpConnectionBudget::source_key(const sockaddr_storage& peer) const {
  // The same masking as RRL's bucket keys (maps/meridian_rrl.h).
  const policy::ClientAddress address = policy::ClientAddress::from_sockaddr(peer);
  const uint32_t length = address.ipv6 ? ipv6_prefix_length_ : ipv4_prefix_length_;
  SourceKey key{};
  key[0] = address.ipv6 ? MDN_RRL_FAMILY_IPV6 : MDN_RRL_FAMILY_IPV4;
  for (uint32_t i = 0; i < 16; ++i) key[1 + i] = address.address[i] & mdn_rrl_byte_mask(length, i);
  return key;
}

bool TcpConnectionBudget::try_acquire(const sockaddr_storage& peer) {
  const SourceKey key = source_key(peer);
  std::lock_guard lock(mutex_);
  auto it = per_source_.find(key);
  if (it == per_source_.end()) {
    per_source_.emplace(key, 1);
    return true;
  }
  if (it->second >= max_per_source_) return false;
  ++it->second;
  return true;
}

void TcpConnectionBudget::release(const sockaddr_storage& peer) {
  const SourceKey key = source_key(peer);
  std::lock_guard lock(mutex_);
  auto it = per_source_.find(key);
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
}

TcpWorker::TcpWorker(int epoll_fd, const zone::ZoneStore& zones, const answer::Responder& responder,
                     TcpConnectionBudget& budget, const TcpWorkerLimits& limits,
                     const QueryObserver* on_query)
    : epoll_fd_(epoll_fd),
      zones_(zones),
      responder_(responder),
      budget_(budget),
      limits_(limits),
      on_query_(on_query) {
  reply_.reserve(kMaxMessage);
}

TcpWorker::~TcpWorker() {
  while (!connections_.empty()) close_connection(connections_.front());
  for (auto& listener : listeners_) close(listener->fd);
}

bool TcpWorker::add_listener(int fd) {
  auto listener = std::make_unique<EventTag>();
  listener->kind = EventKind::kTcpListener;
  listener->fd = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = listener.get();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    return false;
  }
  listeners_.push_back(std::move(listener));
  return true;
}

void TcpWorker::accept_ready(EventTag& listener) {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int fd = accept4(listener.fd, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        server_log()->warn("accept failed: {}", std::strerror(errno));
      }
      return;
    }
    if (!budget_.try_acquire(peer)) {
      // The source network is at its cap: it is the one holding the server, so it is refused
      // (closed at once rather than queued) instead of pushing another client out.
      ++counters_.refused;
      close(fd);
      continue;
    }
    if (connections_.size() >= limits_.max_connections && !connections_.empty()) {
      // Full: the least recently active connection (idle, or still sending its query) makes room,
      // so clients holding connections cannot keep a new honest one out (RFC 7766 6.2.3).
      ++counters_.evicted;
      close_connection(connections_.front());
    }
    // Replies are written whole; Nagle would only delay the next pipelined answer.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    TcpConnection& c = connections_.emplace_back();
    c.position = std::prev(connections_.end());
    c.kind = EventKind::kTcpConnection;
    c.fd = fd;
    c.peer = peer;
    c.last_activity = Clock::now();
    c.receiving_slot.push_back(&c);  // the one allocation the query clock needs
    c.receiving_position = c.receiving_slot.begin();
    start_query_clock(c, c.last_activity);  // the first query is due from the accept on
    c.registered_events = EPOLLIN;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<EventTag*>(&c);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      server_log()->warn("epoll_ctl(ADD) for a TCP connection failed: {}", std::strerror(errno));
      close_connection(c);
      continue;
    }
    ++counters_.accepted;
  }
}

void TcpWorker::connection_ready(TcpConnection& c, uint32_t events) {
  if (c.fd < 0) return;  // evicted by an accept earlier in this batch
  if (events & EPOLLERR) {
    close_connection(c);
    return;
  }
  if (events & EPOLLOUT) {
    if (!flush(c)) return;
    // Output drained below the limit: queries held back by it can be answered now.
    answer_buffered(c);
    if (!flush(c)) return;
  }
  if ((events & (EPOLLIN | EPOLLHUP)) && !read_queries(c)) return;
  settle(c);
}

bool TcpWorker::read_queries(TcpConnection& c) {
  for (int i = 0; i < kReadsPerEvent && !c.peer_closed; ++i) {
    if (c.output.size() - c.output_sent >= kMaxPendingOutput) break;
    if (c.input.size() == c.input_length) {
      // Grow up to one maximal frame; a full buffer of that size holds a complete frame that
      // is only waiting for output room.
      size_t grown = std::min(std::max(c.input.size() * 2, kInitialInput), kMaxMessage + 2);
      if (grown == c.input.size()) break;
      c.input.resize(grown);
    }
    size_t room = c.input.size() - c.input_length;
    ssize_t n = recv(c.fd, c.input.data() + c.input_length, room, 0);
    if (n > 0) {
      c.input_length += static_cast<size_t>(n);
      answer_buffered(c);
      if (!flush(c)) return false;
      if (static_cast<size_t>(n) < room) break;  // drained for now
      continue;
    }
    if (n == 0) {
      c.peer_closed = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    close_connection(c);
    return false;
  }
  return true;
}

void TcpWorker::answer_buffered(TcpConnection& c) {
  size_t offset = 0;
  std::shared_ptr<const zone::ZoneSet> snapshot;
  answer::QueryContext ctx;
  ctx.transport = answer::Transport::kTcp;
  ctx.client = c.peer;
  while (c.input_length - offset >= 2 && c.output.size() - c.output_sent < kMaxPendingOutput) {
    size_t length = (size_t{c.input[offset]} << 8) | c.input[offset + 1];
    if (c.input_length - offset - 2 < length) break;  // partial frame: wait for the rest
    if (!snapshot) snapshot = zones_.snapshot();
    std::span<const uint8_t> query(c.input.data() + offset + 2, length);
    offset += 2 + length;
    ++counters_.queries;
    answer::AnswerInfo info;
    if (responder_.respond(*snapshot, query, ctx, reply_, &info) != answer::Disposition::kReply ||
        reply_.empty() || reply_.size() > kMaxMessage) {
      continue;
    }
    c.output.push_back(static_cast<uint8_t>(reply_.size() >> 8));
    c.output.push_back(static_cast<uint8_t>(reply_.size() & 0xff));
    c.output.insert(c.output.end(), reply_.begin(), reply_.end());
    if (on_query_) {
      fill_query_event(event_, query, info, c.peer, answer::Transport::kTcp, false);
      (*on_query_)(event_);
    }
  }
  if (offset > 0) {
    std::memmove(c.input.data(), c.input.data() + offset, c.input_length - offset);
    c.input_length -= offset;
  }
  if (c.input_length == 0 || c.output.size() - c.output_sent >= kMaxPendingOutput) {
    // Between queries, or held back until the client reads its replies: only the idle timeout
    // applies.
    stop_query_clock(c);
  } else if (offset > 0 || !c.receiving) {
    start_query_clock(c, Clock::now());  // the bytes left over begin the next query
  }
}

bool TcpWorker::flush(TcpConnection& c) {
  while (c.output_sent < c.output.size()) {
    ssize_t n = send(c.fd, c.output.data() + c.output_sent, c.output.size() - c.output_sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.output_sent += static_cast<size_t>(n);
      touch(c);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close_connection(c);
    return false;
  }
  if (c.output_sent == c.output.size()) {
    c.output.clear();  // keeps the capacity for the next replies
    c.output_sent = 0;
  }
  return true;
}

void TcpWorker::settle(TcpConnection& c) {
  bool pending = c.output_sent < c.output.size();
  if (c.peer_closed && !pending) {
    // Everything the peer sent is answered and written; an incomplete last frame cannot be.
    close_connection(c);
    return;
  }
  uint32_t wanted = 0;
  if (!c.peer_closed && c.output.size() - c.output_sent < kMaxPendingOutput) wanted |= EPOLLIN;
  if (pending) wanted |= EPOLLOUT;
  if (wanted == c.registered_events) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.ptr = static_cast<EventTag*>(&c);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
    close_connection(c);
    return;
  }
  c.registered_events = wanted;
}

void TcpWorker::touch(TcpConnection& c) {
  c.last_activity = Clock::now();
  connections_.splice(connections_.end(), connections_, c.position);
}

void TcpWorker::start_query_clock(TcpConnection& c, Clock::time_point now) {
  c.query_started = now;
  // To the back: every clock in receiving_ started no later than `now`, so the front is always
  // the first to expire.
  receiving_.splice(receiving_.end(), c.receiving ? receiving_ : c.receiving_slot,
                    c.receiving_position);
  c.receiving = true;
}

void TcpWorker::stop_query_clock(TcpConnection& c) {
  if (!c.receiving) return;
  c.receiving_slot.splice(c.receiving_slot.end(), receiving_, c.receiving_position);
  c.receiving = false;
}

void TcpWorker::close_connection(TcpConnection& c) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  c.fd = -1;
  budget_.release(c.peer);
  stop_query_clock(c);
  // Kept until the batch of events is done: an accept that evicts `c` may come before an event
  // for `c` in the same batch.
  closed_.splice(closed_.end(), connections_, c.position);
}

void TcpWorker::finish_batch(Clock::time_point now) {
  while (!receiving_.empty() && receiving_.front()->query_started + limits_.query_timeout <= now) {
    ++counters_.query_timed_out;
    close_connection(*receiving_.front());
  }
  while (!connections_.empty() &&
         connections_.front().last_activity + limits_.idle_timeout <= now) {
    ++counters_.timed_out;
    close_connection(connections_.front());
  }
  closed_.clear();
}

int TcpWorker::next_expiry_ms(Clock::time_point now) const {
  if (connections_.empty()) return -1;
  auto due = connections_.front().last_activity + limits_.idle_timeout;
  if (!receiving_.empty()) {
    due = std::min(due, receiving_.front()->query_started + limits_.query_timeout);
  }
  if (due <= now) return 0;
  // Rounded up so the wake-up is never early (an early wake-up would spin until it is due).
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
  return static_cast<int>(std::min<int64_t>(wait, 60000));
}

}  // namespace meridian::server
