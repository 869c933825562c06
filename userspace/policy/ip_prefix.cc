// Client addresses, prefix parsing, and the longest-prefix-match trie with ECS scopes.
#include "policy/ip_prefix.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace meridian::policy {

namespace {

int bit_at(const std::array<uint8_t, 16>& a, int i) {
  return (a[i / 8] >> (7 - i % 8)) & 1;
}

void clear_past(std::array<uint8_t, 16>& a, int len) {
  for (int i = len; i < 128; ++i) a[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
}

}  // namespace

ClientAddress ClientAddress::from_sockaddr(const sockaddr_storage& sa) {
  ClientAddress c;
  if (sa.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      std::memcpy(c.address.data(), s6->sin6_addr.s6_addr + 12, 4);
      return c;
    }
    c.ipv6 = true;
    c.source_prefix = 128;
    std::memcpy(c.address.data(), s6->sin6_addr.s6_addr, 16);
  } else if (sa.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&sa);
    std::memcpy(c.address.data(), &s4->sin_addr, 4);
  }
  return c;
}

std::optional<ClientAddress> ClientAddress::from_ecs(const dns::EcsOption& ecs) {
  if (ecs.source_prefix == 0 || (ecs.family != 1 && ecs.family != 2)) return std::nullopt;
  ClientAddress c;
  c.ipv6 = ecs.family == 2;
  c.source_prefix = std::min<uint8_t>(ecs.source_prefix, c.ipv6 ? 128 : 32);
  c.address = ecs.address;
  clear_past(c.address, c.source_prefix);
  return c;
}

std::optional<ClientAddress> ClientAddress::from_text(std::string_view text, int source_prefix) {
  ClientAddress c;
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), c.address.data()) == 1) {
    c.source_prefix = static_cast<uint8_t>(source_prefix < 0 ? 32 : std::min(source_prefix, 32));
  } else if (inet_pton(AF_INET6, s.c_str(), c.address.data()) == 1) {
    c.ipv6 = true;
    c.source_prefix = static_cast<uint8_t>(source_prefix < 0 ? 128 : std::min(source_prefix, 128));
  } else {
    return std::nullopt;
  }
  clear_past(c.address, c.source_prefix);
  return c;
}

Result<IpPrefix> parse_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    return make_error("prefix '" + std::string(text) + "' has no /length");
  const std::string addr(text.substr(0, slash));
  const std::string_view len_text = text.substr(slash + 1);
  IpPrefix p;
  if (inet_pton(AF_INET, addr.c_str(), p.address.data()) != 1) {
    if (inet_pton(AF_INET6, addr.c_str(), p.address.data()) != 1)
      return make_error("prefix '" + std::string(text) + "' has no valid address");
    p.ipv6 = true;
  }
  int len = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len < 0 ||
      len > (p.ipv6 ? 128 : 32))
    return make_error("prefix '" + std::string(text) + "' has a bad length");
  p.length = static_cast<uint8_t>(len);
  std::array<uint8_t, 16> masked = p.address;
  clear_past(masked, len);
  if (masked != p.address)
    return make_error("prefix '" + std::string(text) + "' has bits set past its length");
  return p;
}

std::string to_string(const IpPrefix& p) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(p.ipv6 ? AF_INET6 : AF_INET, p.address.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(p.length);
}

bool PrefixTrie::insert(const IpPrefix& prefix, uint32_t value) {
  std::vector<Node>& t = nodes(prefix.ipv6);
  uint32_t at = 0;
  for (int i = 0; i < prefix.length; ++i) {
    const int b = bit_at(prefix.address, i);
    if (t[at].child[b] == 0) {
      t[at].child[b] = static_cast<uint32_t>(t.size());
      t.push_back(Node{});
    }
    at = t[at].child[b];
  }
  if (t[at].value != kNone) return false;
  t[at].value = value;
  ++prefixes_;
  return true;
}

PrefixTrie::Match PrefixTrie::lookup(const ClientAddress& client) const {
  const std::vector<Node>& t = nodes(client.ipv6);
  const int limit = std::min<int>(client.source_prefix, client.max_len());
  Match m;
  uint32_t at = 0;
  int depth = 0;
  for (;;) {
    const Node& n = t[at];
    if (n.value != kNone) {
      m.value = n.value;
      m.length = static_cast<uint8_t>(depth);
    }
    if (depth == limit) {
      m.scope = static_cast<uint8_t>(depth);
      break;
    }
    const uint32_t next = n.child[bit_at(client.address, depth)];
    if (next == 0) {
      // Every address sharing the first depth bits stops here when there is nothing below;
      // otherwise the next bit decides whether a longer prefix could apply.
      const bool leaf = n.child[0] == 0 && n.child[1] == 0;
      m.scope = static_cast<uint8_t>(leaf ? depth : depth + 1);
      break;
    }
    at = next;
    ++depth;
  }
  return m;
}

}  // namespace meridian::policy
