// The settings the DNS server takes from meridiand's configuration file: listen addresses, TCP
// limits, response rate limiting. Apart from daemon_config.h so that server/ needs only these.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace meridian::config {

// One "listen" entry: an IP address and port served over both UDP and TCP.
struct ListenAddress {
  sockaddr_storage address{};  // AF_INET or AF_INET6, port in network order
  socklen_t length = 0;

  int family() const { return address.ss_family; }
  uint16_t port() const;
  // "127.0.0.1:53" or "[::1]:53".
  std::string to_text() const;
};

// 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address.
bool is_loopback(const ListenAddress& address);

// "A.B.C.D:port", "[v6]:port", or either address alone (port 53). Error says why.
Result<ListenAddress> parse_listen_address(std::string_view text);
// The same for a bound socket's address (e.g. after port 0 was resolved).
ListenAddress listen_address_from_sockaddr(const sockaddr* sa, socklen_t length);

struct TcpSettings {
  uint32_t idle_timeout_ms = 10000;
  uint32_t query_timeout_ms = 2000;  // to receive one whole query, from its first byte
  uint32_t max_connections = 1024;
  uint32_t max_connections_per_source = 32;
  // Sources are counted together per prefix of these lengths, as RRL counts them.
  uint32_t ipv4_prefix_length = 24;
  uint32_t ipv6_prefix_length = 56;
  bool operator==(const TcpSettings&) const = default;
};

// "rrl": response rate limiting of UDP replies (docs/rrl.md). Off unless responses_per_second > 0.
struct RrlSettings {
  uint32_t responses_per_second = 0;  // per client prefix and response class; 0 = off
  uint32_t burst = 0;                 // replies a quiet prefix may send at once; 0 = the rate
  uint32_t slip = 2;                  // 0 drop every limited reply, 1 TC=1 to each, N every N-th
  uint32_t ipv4_prefix_length = 24;
  uint32_t ipv6_prefix_length = 56;
  std::vector<std::string> allow;  // canonical prefixes never limited
  uint32_t table_size = 65536;     // buckets, the memory bound; a reload that changes it starts
                                   // a new, empty table
  bool operator==(const RrlSettings&) const = default;
};

}  // namespace meridian::config
