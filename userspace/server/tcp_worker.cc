// RFC 7766 DNS over TCP on non-blocking sockets: framing, pipelining, partial I/O, idle timeout,
// and shared connection caps.
#include "server/tcp_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include <spdlog/spdlog.h>

namespace meridian::server {
namespace {

std::shared_ptr<spdlog::logger> server_log() {
  auto log = spdlog::get("server");
  return log ? log : spdlog::default_logger();
}

std::string source_key(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&peer);
    return std::string(reinterpret_cast<const char*>(&v4->sin_addr), sizeof v4->sin_addr);
  }
  if (peer.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    return std::string(reinterpret_cast<const char*>(&v6->sin6_addr), sizeof v6->sin6_addr);
  }
  return {};
}

// Reads per readiness event before other connections get a turn (the socket stays readable).
constexpr int kReadsPerEvent = 16;
constexpr int kAcceptsPerEvent = 64;
constexpr size_t kInitialInput = 1024;

}  // namespace

bool TcpConnectionBudget::try_acquire(const sockaddr_storage& peer) {
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return false;
  uint32_t& from_source = per_source_[source_key(peer)];
  if (from_source >= max_per_source_) {
    if (from_source == 0) per_source_.erase(source_key(peer));
    return false;
  }
  ++from_source;
  ++total_;
  return true;
}

void TcpConnectionBudget::release(const sockaddr_storage& peer) {
  std::lock_guard lock(mutex_);
  auto it = per_source_.find(source_key(peer));
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
  --total_;
}

TcpWorker::TcpWorker(int epoll_fd, const zone::ZoneStore& zones, const answer::Responder& responder,
                     TcpConnectionBudget& budget, std::chrono::milliseconds idle_timeout,
                     const QueryObserver* on_query)
    : epoll_fd_(epoll_fd),
      zones_(zones),
      responder_(responder),
      budget_(budget),
      idle_timeout_(idle_timeout),
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
      // Over a cap: close at once rather than queue, so one source cannot hold the server.
      ++counters_.refused;
      close(fd);
      continue;
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
      touch(c);
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

void TcpWorker::close_connection(TcpConnection& c) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  budget_.release(c.peer);
  connections_.erase(c.position);
}

void TcpWorker::expire_idle(Clock::time_point now) {
  while (!connections_.empty() && connections_.front().last_activity + idle_timeout_ <= now) {
    ++counters_.timed_out;
    close_connection(connections_.front());
  }
}

int TcpWorker::next_expiry_ms(Clock::time_point now) const {
  if (connections_.empty()) return -1;
  auto due = connections_.front().last_activity + idle_timeout_;
  if (due <= now) return 0;
  // Rounded up so the wake-up is never early (an early wake-up would spin until it is due).
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
  return static_cast<int>(std::min<int64_t>(wait, 60000));
}

}  // namespace meridian::server
