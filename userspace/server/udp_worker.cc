// Batched UDP answering: recvmmsg a batch, answer each query from one zone snapshot, sendmmsg the
// replies. Nothing is allocated per packet once the reply buffers have grown to their working size.
#include "server/udp_worker.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "rrl/slip_reply.h"

namespace meridian::server {
namespace {

std::shared_ptr<spdlog::logger> server_log() {
  auto log = spdlog::get("server");
  return log ? log : spdlog::default_logger();
}

// Rewrites a received IP_PKTINFO/IPV6_PKTINFO control message into the one that makes the reply
// leave from the address the query was sent to. Returns the control length to send (0 = none).
size_t reply_control_from_received(msghdr& hdr) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr; c = CMSG_NXTHDR(&hdr, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      // Source address = where the query arrived; let routing pick the interface.
      info.ipi_spec_dst = info.ipi_addr;
      info.ipi_ifindex = 0;
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      if (c != CMSG_FIRSTHDR(&hdr)) std::memmove(CMSG_FIRSTHDR(&hdr), c, c->cmsg_len);
      return CMSG_SPACE(sizeof(in_pktinfo));
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      // in6_pktinfo as received (destination address and interface) is exactly what to send;
      // the interface matters for link-local destinations.
      if (c != CMSG_FIRSTHDR(&hdr)) std::memmove(CMSG_FIRSTHDR(&hdr), c, c->cmsg_len);
      return CMSG_SPACE(sizeof(in6_pktinfo));
    }
  }
  return 0;
}

}  // namespace

UdpWorker::UdpWorker(int epoll_fd, const zone::ZoneStore& zones, const answer::Responder& responder,
                     const rrl::RateLimiter& limiter, const QueryObserver* on_query)
    : epoll_fd_(epoll_fd),
      zones_(zones),
      responder_(responder),
      limiter_(limiter),
      on_query_(on_query),
      // Default-initialised: the kernel only touches the pages a datagram lands in.
      receive_buffers_(new uint8_t[kBatch * kMaxDatagram]) {
  for (size_t i = 0; i < kBatch; ++i) {
    contexts_[i].transport = answer::Transport::kUdp;
    receive_iov_[i] = {receive_buffers_.get() + i * kMaxDatagram, kMaxDatagram};
    // Typical replies are far below this; reserving keeps growth out of the packet path.
    replies_[i].reserve(4096);
  }
}

UdpWorker::~UdpWorker() {
  for (auto& socket : sockets_) close(socket->fd);
}

bool UdpWorker::add_socket(int fd, bool reply_from_destination) {
  auto socket = std::make_unique<UdpSocket>();
  socket->kind = EventKind::kUdpSocket;
  socket->fd = fd;
  socket->reply_from_destination = reply_from_destination;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = static_cast<EventTag*>(socket.get());
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    return false;
  }
  sockets_.push_back(std::move(socket));
  return true;
}

void UdpWorker::serve(UdpSocket& socket) {
  for (int round = 0; round < kBatchesPerEvent; ++round) {
    for (size_t i = 0; i < kBatch; ++i) {
      msghdr& hdr = receive_msgs_[i].msg_hdr;
      hdr.msg_name = &contexts_[i].client;
      hdr.msg_namelen = sizeof(sockaddr_storage);
      hdr.msg_iov = &receive_iov_[i];
      hdr.msg_iovlen = 1;
      hdr.msg_control = socket.reply_from_destination ? control_[i].data() : nullptr;
      hdr.msg_controllen = socket.reply_from_destination ? kControlSpace : 0;
      hdr.msg_flags = 0;
    }
    int received = recvmmsg(socket.fd, receive_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) {
      if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        server_log()->warn("recvmmsg failed: {}", std::strerror(errno));
      }
      return;
    }
    counters_.received += static_cast<uint64_t>(received);

    // One snapshot per batch: a reload in the middle of a batch is seen by the next one.
    std::shared_ptr<const zone::ZoneSet> snapshot = zones_.snapshot();
    // Rate limits likewise, and one clock reading: a batch takes microseconds.
    std::shared_ptr<const rrl::Limits> limits = limiter_.limits();
    const uint64_t now_ns = limits->enabled() ? rrl::RateLimiter::now_ns() : 0;
    unsigned replies = 0;
    for (int i = 0; i < received; ++i) {
      msghdr& in = receive_msgs_[i].msg_hdr;
      if (in.msg_flags & MSG_TRUNC) {  // larger than any DNS message: not worth a reply
        ++counters_.dropped;
        continue;
      }
      std::span<const uint8_t> query(receive_buffers_.get() + i * kMaxDatagram,
                                     receive_msgs_[i].msg_len);
      std::vector<uint8_t>& reply = replies_[replies];
      answer::AnswerInfo& info = infos_[replies];
      if (responder_.respond(*snapshot, query, contexts_[i], reply, &info) !=
              answer::Disposition::kReply ||
          reply.empty() || reply.size() > kMaxDatagram) {
        ++counters_.dropped;
        continue;
      }
      // After the reply is built (its class is known), UDP only: TCP is the way out for a
      // limited client.
      reply_slipped_[replies] = false;
      if (limits->enabled()) {
        const uint8_t klass = rrl::response_class(info.rcode);
        const rrl::Verdict verdict =
            rrl::RateLimiter::decide(*limits, contexts_[i].client, info.rcode, now_ns);
        if (verdict == rrl::Verdict::kDrop ||
            (verdict == rrl::Verdict::kSlip && !rrl::make_slip_reply(reply))) {
          ++counters_.rrl_dropped[klass];
          continue;
        }
        if (verdict == rrl::Verdict::kSlip) {
          ++counters_.rrl_slipped[klass];
          reply_slipped_[replies] = true;
        }
      }
      reply_query_[replies] = static_cast<uint16_t>(i);
      send_iov_[replies] = {reply.data(), reply.size()};
      msghdr& out = send_msgs_[replies].msg_hdr;
      out.msg_name = &contexts_[i].client;
      out.msg_namelen = in.msg_namelen;
      out.msg_iov = &send_iov_[replies];
      out.msg_iovlen = 1;
      out.msg_control = nullptr;
      out.msg_controllen = 0;
      out.msg_flags = 0;
      if (socket.reply_from_destination && in.msg_controllen > 0) {
        size_t length = reply_control_from_received(in);
        if (length > 0) {
          out.msg_control = in.msg_control;
          out.msg_controllen = length;
        }
      }
      ++replies;
    }
    send_batch(socket.fd, replies);
    // After sending: the replies do not wait for the observer. The snapshot (which the events'
    // zones point into) and the query buffers are still this batch's.
    if (on_query_) observe_batch(replies);
    if (static_cast<size_t>(received) < kBatch) return;  // queue drained
  }
}

void UdpWorker::observe_batch(unsigned count) {
  for (unsigned r = 0; r < count; ++r) {
    const size_t i = reply_query_[r];
    std::span<const uint8_t> query(receive_buffers_.get() + i * kMaxDatagram,
                                   receive_msgs_[i].msg_len);
    fill_query_event(event_, query, infos_[r], contexts_[i].client, answer::Transport::kUdp,
                     reply_slipped_[r]);
    (*on_query_)(event_);
  }
}

void UdpWorker::send_batch(int fd, unsigned count) {
  unsigned sent = 0;
  while (sent < count) {
    int n = sendmmsg(fd, send_msgs_.data() + sent, count - sent, MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<unsigned>(n);
      counters_.replied += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Send buffer full: UDP may lose packets, and waiting would stall every other query.
      counters_.dropped += count - sent;
      return;
    }
    // The message at `sent` failed on its own (e.g. unreachable client): skip it.
    ++counters_.dropped;
    ++sent;
  }
}

}  // namespace meridian::server
