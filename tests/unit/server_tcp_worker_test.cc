// Unit tests of DNS over TCP limits: the per-network connection budget, and TcpWorker on real
// loopback sockets (the per-query timeout, eviction of the least recently active connection when
// the worker's share is full, the per-network cap refusing instead of evicting).
#include "server/tcp_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "answer/responder.h"
#include "zone/zone_store.h"

namespace meridian::server {
namespace {

using std::chrono::milliseconds;
using Clock = TcpWorker::Clock;

sockaddr_storage address(const char* text) {
  sockaddr_storage out{};
  if (std::strchr(text, ':')) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text, &v6->sin6_addr), 1) << text;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text, &v4->sin_addr), 1) << text;
  }
  return out;
}

TEST(TcpConnectionBudgetTest, CountsIpv4SourcesPerSlash24) {
  TcpConnectionBudget budget(2, 24, 56);
  EXPECT_TRUE(budget.try_acquire(address("192.0.2.1")));
  EXPECT_TRUE(budget.try_acquire(address("192.0.2.200")));
  EXPECT_FALSE(budget.try_acquire(address("192.0.2.7"))) << "same /24, at its cap";
  EXPECT_TRUE(budget.try_acquire(address("192.0.3.7"))) << "the next /24 has its own cap";
  budget.release(address("192.0.2.1"));
  EXPECT_TRUE(budget.try_acquire(address("192.0.2.7"))) << "a released slot is free again";
  EXPECT_FALSE(budget.try_acquire(address("192.0.2.1")));
}

TEST(TcpConnectionBudgetTest, CountsIpv6SourcesPerSlash56) {
  TcpConnectionBudget budget(2, 24, 56);
  EXPECT_TRUE(budget.try_acquire(address("2001:db8:0:ab00::1")));
  EXPECT_TRUE(budget.try_acquire(address("2001:db8:0:abff:1:2:3:4")));
  EXPECT_FALSE(budget.try_acquire(address("2001:db8:0:ab42::9"))) << "same /56, at its cap";
  EXPECT_TRUE(budget.try_acquire(address("2001:db8:0:ac00::1"))) << "the next /56";
}

TEST(TcpConnectionBudgetTest, Ipv4MappedSourcesCountAsIpv4) {
  TcpConnectionBudget budget(2, 24, 56);
  EXPECT_TRUE(budget.try_acquire(address("192.0.2.1")));
  EXPECT_TRUE(budget.try_acquire(address("::ffff:192.0.2.9")));
  EXPECT_FALSE(budget.try_acquire(address("192.0.2.77")));
  budget.release(address("::ffff:192.0.2.9"));
  EXPECT_TRUE(budget.try_acquire(address("192.0.2.77")));
  // The IPv6 network holding the mapped addresses is not IPv4's /24.
  EXPECT_TRUE(budget.try_acquire(address("::")));
}

TEST(TcpConnectionBudgetTest, PrefixLengthsAreConfigurable) {
  TcpConnectionBudget per_address(1, 32, 128);
  EXPECT_TRUE(per_address.try_acquire(address("192.0.2.1")));
  EXPECT_TRUE(per_address.try_acquire(address("192.0.2.2")));
  EXPECT_FALSE(per_address.try_acquire(address("192.0.2.1")));
  EXPECT_TRUE(per_address.try_acquire(address("2001:db8::1")));
  EXPECT_TRUE(per_address.try_acquire(address("2001:db8::2")));

  TcpConnectionBudget wide(1, 8, 16);
  EXPECT_TRUE(wide.try_acquire(address("10.1.2.3")));
  EXPECT_FALSE(wide.try_acquire(address("10.200.0.1")));
  EXPECT_TRUE(wide.try_acquire(address("2001:db8::1")));
  EXPECT_FALSE(wide.try_acquire(address("2001:ffff::1")));
}

// A query for example.com. A in a TCP frame (nothing is loaded, so the reply is REFUSED: still a
// reply, which is all these tests need).
std::vector<uint8_t> framed_query(uint16_t id) {
  std::vector<uint8_t> message = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const char* label : {"example", "com"}) {
    message.push_back(static_cast<uint8_t>(std::strlen(label)));
    message.insert(message.end(), label, label + std::strlen(label));
  }
  message.insert(message.end(), {0, 0, 1, 0, 1});
  std::vector<uint8_t> framed = {static_cast<uint8_t>(message.size() >> 8),
                                 static_cast<uint8_t>(message.size())};
  framed.insert(framed.end(), message.begin(), message.end());
  return framed;
}

class TcpWorkerTest : public ::testing::Test {
 protected:
  ~TcpWorkerTest() override {
    for (int fd : clients_) close(fd);
    worker_.reset();  // closes its connections and listener before the epoll fd
    close(epoll_fd_);
  }

  void start(const TcpWorkerLimits& limits, uint32_t max_per_network = 100) {
    budget_ = std::make_unique<TcpConnectionBudget>(max_per_network, 24, 56);
    worker_ = std::make_unique<TcpWorker>(epoll_fd_, zones_, responder_, *budget_, limits);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in& a = reinterpret_cast<sockaddr_in&>(server_);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    ASSERT_EQ(listen(fd, 64), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length), 0);
    ASSERT_TRUE(worker_->add_listener(fd));
  }

  // A client connected from `source` (any 127.0.0.0/8 address is local) and, unless `accept` is
  // false, accepted.
  int connect_client(const char* source = "127.0.0.1", bool accept = true) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    clients_.push_back(fd);
    sockaddr_storage local = address(source);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(sockaddr_in)), 0);
    EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&server_), sizeof(sockaddr_in)), 0)
        << std::strerror(errno);
    if (accept) pump(milliseconds(20));
    return fd;
  }

  // Runs the worker as Server's loop does, for `duration`.
  void pump(milliseconds duration) {
    const auto end = Clock::now() + duration;
    epoll_event events[16];
    for (auto now = Clock::now(); now < end; now = Clock::now()) {
      int wait = static_cast<int>(std::chrono::ceil<milliseconds>(end - now).count());
      int expiry = worker_->next_expiry_ms(now);
      int n = epoll_wait(epoll_fd_, events, 16, expiry < 0 ? wait : std::min(wait, expiry));
      for (int i = 0; i < n; ++i) {
        auto* tag = static_cast<EventTag*>(events[i].data.ptr);
        if (tag->kind == EventKind::kTcpListener) {
          worker_->accept_ready(*tag);
        } else {
          worker_->connection_ready(*static_cast<TcpConnection*>(tag), events[i].events);
        }
      }
      worker_->finish_batch(Clock::now());
    }
  }

  void send_bytes(int fd, const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Sends a query and reads its reply: true if the reply came with the query's ID.
  bool answered(int fd, uint16_t id) {
    if (send(fd, framed_query(id).data(), framed_query(id).size(), MSG_NOSIGNAL) < 0) {
      return false;
    }
    pump(milliseconds(30));
    uint8_t reply[512];
    ssize_t n = recv(fd, reply, sizeof reply, MSG_DONTWAIT);
    return n >= 4 && reply[2] == (id >> 8) && reply[3] == (id & 0xff);
  }

  // True once the server has closed the connection (EOF or reset), without blocking.
  static bool closed_by_server(int fd) {
    uint8_t byte;
    ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  int epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  zone::ZoneStore zones_;
  answer::Responder responder_{answer::ResponderConfig{}};
  std::unique_ptr<TcpConnectionBudget> budget_;
  std::unique_ptr<TcpWorker> worker_;
  sockaddr_storage server_{};
  std::vector<int> clients_;
};

TEST_F(TcpWorkerTest, BytesOfAQueryDoNotKeepASlowClientPastTheQueryTimeout) {
  start({.idle_timeout = milliseconds(10000), .query_timeout = milliseconds(300)});
  int honest = connect_client();
  ASSERT_TRUE(answered(honest, 1));
  int slow = connect_client();
  const auto started = Clock::now();
  // A byte of a frame announcing 100 bytes every 50 ms: never a whole query.
  send_bytes(slow, {0});
  while (!closed_by_server(slow) && Clock::now() - started < milliseconds(2000)) {
    send(slow, "x", 1, MSG_NOSIGNAL);
    pump(milliseconds(50));
  }
  const auto elapsed = Clock::now() - started;
  EXPECT_TRUE(closed_by_server(slow)) << "the slow client is still connected";
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, milliseconds(1000));
  EXPECT_EQ(worker_->counters().query_timed_out, 1u);
  // The idle honest connection is governed by the idle timeout only.
  EXPECT_EQ(worker_->counters().timed_out, 0u);
  EXPECT_TRUE(answered(honest, 2));
}

TEST_F(TcpWorkerTest, FirstQueryIsDueFromTheAccept) {
  start({.idle_timeout = milliseconds(10000), .query_timeout = milliseconds(200)});
  int silent = connect_client();
  pump(milliseconds(400));
  EXPECT_TRUE(closed_by_server(silent));
  EXPECT_EQ(worker_->counters().query_timed_out, 1u);
  EXPECT_EQ(worker_->connection_count(), 0u);
}

TEST_F(TcpWorkerTest, QueriesSplitAcrossReadsWithinTheTimeoutAreAnswered) {
  start({.idle_timeout = milliseconds(10000), .query_timeout = milliseconds(300)});
  int client = connect_client();
  // Three queries, each sent in pieces over 200 ms: each one is within the timeout, their sum
  // is not, so the clock must start again with each query.
  for (uint16_t id = 1; id <= 3; ++id) {
    const std::vector<uint8_t> query = framed_query(id);
    send_bytes(client, {query.begin(), query.begin() + 5});
    pump(milliseconds(200));
    send_bytes(client, {query.begin() + 5, query.end()});
    pump(milliseconds(30));
    uint8_t reply[512];
    ssize_t n = recv(client, reply, sizeof reply, MSG_DONTWAIT);
    ASSERT_GE(n, 4) << "query " << id;
    EXPECT_EQ(reply[3], id);
  }
  EXPECT_EQ(worker_->counters().query_timed_out, 0u);
}

TEST_F(TcpWorkerTest, FullWorkerEvictsTheLeastRecentlyActiveConnection) {
  start({.idle_timeout = milliseconds(10000),
         .query_timeout = milliseconds(10000),
         .max_connections = 2});
  int older_honest = connect_client();
  int slow = connect_client("127.0.1.1");
  ASSERT_TRUE(answered(older_honest, 1));
  send_bytes(slow, {0, 100, 0});  // after the honest query: bytes, not activity
  pump(milliseconds(20));

  int newcomer = connect_client("127.0.2.1");
  EXPECT_TRUE(closed_by_server(slow)) << "the slow client must make room";
  EXPECT_FALSE(closed_by_server(older_honest));
  EXPECT_EQ(worker_->counters().evicted, 1u);
  EXPECT_EQ(worker_->connection_count(), 2u);
  EXPECT_TRUE(answered(newcomer, 2));
  EXPECT_TRUE(answered(older_honest, 3));

  // Now the newcomer answered before the older one did: it is the older one that goes.
  int another = connect_client("127.0.3.1");
  EXPECT_TRUE(closed_by_server(newcomer));
  EXPECT_FALSE(closed_by_server(older_honest));
  EXPECT_TRUE(answered(another, 4));
  EXPECT_EQ(worker_->counters().evicted, 2u);
  EXPECT_EQ(worker_->counters().refused, 0u);
}

TEST_F(TcpWorkerTest, EventForAConnectionEvictedEarlierInTheSameBatchIsSkipped) {
  start({.idle_timeout = milliseconds(10000),
         .query_timeout = milliseconds(10000),
         .max_connections = 1});
  int slow = connect_client();
  send_bytes(slow, {0});
  pump(milliseconds(20));
  // The listener becomes ready before the slow client's bytes do, so one epoll_wait reports the
  // accept (which evicts the slow client) first and then the slow client's bytes: handling them
  // must not touch the closed connection (AddressSanitizer catches it if it does).
  int newcomer = connect_client("127.0.1.1", /*accept=*/false);
  send_bytes(slow, {50});
  pump(milliseconds(30));
  EXPECT_TRUE(closed_by_server(slow));
  EXPECT_EQ(worker_->counters().evicted, 1u);
  EXPECT_EQ(worker_->connection_count(), 1u);
  EXPECT_TRUE(answered(newcomer, 1));
}

TEST_F(TcpWorkerTest, NetworkAtItsCapIsRefusedRatherThanEvictingOthers) {
  start({.idle_timeout = milliseconds(10000),
         .query_timeout = milliseconds(10000),
         .max_connections = 2},
        /*max_per_network=*/1);
  int first = connect_client("127.0.0.1");
  int other_network = connect_client("127.0.1.1");
  int same_network = connect_client("127.0.0.2");  // 127.0.0.0/24 already holds its one slot
  EXPECT_TRUE(closed_by_server(same_network));
  EXPECT_EQ(worker_->counters().refused, 1u);
  EXPECT_EQ(worker_->counters().evicted, 0u);
  EXPECT_TRUE(answered(first, 1));
  EXPECT_TRUE(answered(other_network, 2));
}

}  // namespace
}  // namespace meridian::server
