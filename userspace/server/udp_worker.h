// UdpWorker: one worker's UDP sockets, answered in batches (recvmmsg/sendmmsg) with buffers that
// are allocated once and reused for every packet.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "answer/responder.h"
#include "meridian_rrl.h"
#include "rrl/rate_limiter.h"
#include "server/event_tag.h"
#include "server/query_event.h"
#include "zone/zone_store.h"

namespace meridian::server {

struct UdpSocket : EventTag {
  // Bound to a wildcard address: replies must leave from the address the query came to, so the
  // destination is read with IP_PKTINFO/IPV6_RECVPKTINFO and reused as the reply's source.
  bool reply_from_destination = false;
};

struct UdpCounters {
  uint64_t received = 0;
  uint64_t replied = 0;
  uint64_t dropped = 0;  // responder said drop, oversized datagram, or send failed
  // Response rate limiting, by response class (enum mdn_rrl_class): replies not sent, and
  // replies sent as TC=1 instead (also counted in `replied` once sent).
  std::array<uint64_t, MDN_RRL_CLASS_COUNT> rrl_dropped{};
  std::array<uint64_t, MDN_RRL_CLASS_COUNT> rrl_slipped{};
};

class UdpWorker {
 public:
  // Packets per recvmmsg/sendmmsg call, and batches per readiness event before other sockets of
  // the worker (and TCP) get their turn.
  static constexpr size_t kBatch = 64;
  static constexpr int kBatchesPerEvent = 8;
  static constexpr size_t kMaxDatagram = 65535;

  // `limiter` decides which replies are rate limited (docs/rrl.md); it must outlive the worker,
  // as must `on_query` (null: no observer), told about each query answered.
  UdpWorker(int epoll_fd, const zone::ZoneStore& zones, const answer::Responder& responder,
            const rrl::RateLimiter& limiter, const QueryObserver* on_query = nullptr);
  ~UdpWorker();
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

  // Takes ownership of the bound, non-blocking socket `fd` and registers it with the epoll set.
  // Returns false (fd closed) if registration fails.
  bool add_socket(int fd, bool reply_from_destination);

  // Answers what is queued on `socket` until it would block or the per-event budget is spent.
  void serve(UdpSocket& socket);

  const UdpCounters& counters() const { return counters_; }

 private:
  // Room for an in6_pktinfo (larger than in_pktinfo) control message.
  static constexpr size_t kControlSpace = 64;

  void send_batch(int fd, unsigned count);
  // Tells the observer about the `count` replies just sent.
  void observe_batch(unsigned count);

  int epoll_fd_;
  const zone::ZoneStore& zones_;
  const answer::Responder& responder_;
  const rrl::RateLimiter& limiter_;
  const QueryObserver* on_query_;
  std::vector<std::unique_ptr<UdpSocket>> sockets_;

  std::unique_ptr<uint8_t[]> receive_buffers_;  // kBatch * kMaxDatagram, not touched until used
  std::array<answer::QueryContext, kBatch> contexts_{};  // recvmmsg writes the source here
  std::array<iovec, kBatch> receive_iov_{};
  std::array<mmsghdr, kBatch> receive_msgs_{};
  std::array<std::array<uint8_t, kControlSpace>, kBatch> control_{};
  std::array<std::vector<uint8_t>, kBatch> replies_;
  std::array<iovec, kBatch> send_iov_{};
  std::array<mmsghdr, kBatch> send_msgs_{};
  // Per reply slot, for the observer: what the Responder said, which query it answers, whether
  // it was slipped.
  std::array<answer::AnswerInfo, kBatch> infos_{};
  std::array<uint16_t, kBatch> reply_query_{};
  std::array<bool, kBatch> reply_slipped_{};
  QueryEvent event_;  // reused
  UdpCounters counters_;
};

}  // namespace meridian::server
