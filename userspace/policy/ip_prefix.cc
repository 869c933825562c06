// Client addresses, prefix parsing, and the longest-prefix-match trie with ECS scopes.
#include "policy/ip_prefix.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/prefix_text.h"

namespace meridian::policy {

namespace {

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
  const PrefixText t = read_prefix_text(text);
  const std::string quoted = "prefix '" + std::string(text) + "'";
  if (!t.has_slash) return make_error(quoted + " has no /length");
  if (!t.address_ok) return make_error(quoted + " has no valid address");
  if (!t.length || *t.length > (t.ipv6 ? 128u : 32u))
    return make_error(quoted + " has a bad length");
  if (t.bits_past_length()) return make_error(quoted + " has bits set past its length");
  IpPrefix p;
  p.ipv6 = t.ipv6;
  p.address = t.address;
  p.length = static_cast<uint8_t>(*t.length);
  return p;
}

std::string to_string(const IpPrefix& p) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(p.ipv6 ? AF_INET6 : AF_INET, p.address.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(p.length);
}

namespace {

using Key = PrefixTrie::Key;

Key key_of(const std::array<uint8_t, 16>& a) {
  Key k;
  for (int i = 0; i < 8; ++i) {
    k.hi = (k.hi << 8) | a[i];
    k.lo = (k.lo << 8) | a[i + 8];
  }
  return k;
}

int key_bit(const Key& k, int i) {
  return i < 64 ? static_cast<int>((k.hi >> (63 - i)) & 1)
                : static_cast<int>((k.lo >> (127 - i)) & 1);
}

// Number of leading bits the two keys share (128 when equal).
int common_bits(const Key& a, const Key& b) {
  if (a.hi != b.hi) return std::countl_zero(a.hi ^ b.hi);
  if (a.lo != b.lo) return 64 + std::countl_zero(a.lo ^ b.lo);
  return 128;
}

Key with_bit(Key k, int i, int v) {
  uint64_t& w = i < 64 ? k.hi : k.lo;
  const uint64_t m = 1ull << (63 - (i % 64));
  w = v ? (w | m) : (w & ~m);
  return k;
}

Key masked(const Key& k, int len) {
  Key m = k;
  if (len < 64) {
    m.hi = len == 0 ? 0 : m.hi & (~0ull << (64 - len));
    m.lo = 0;
  } else if (len < 128) {
    m.lo = len == 64 ? 0 : m.lo & (~0ull << (128 - len));
  }
  return m;
}

IpPrefix prefix_of(const Key& k, int len, bool ipv6) {
  IpPrefix p;
  p.ipv6 = ipv6;
  p.length = static_cast<uint8_t>(len);
  for (int i = 0; i < 8; ++i) {
    p.address[i] = static_cast<uint8_t>(k.hi >> (56 - 8 * i));
    if (ipv6) p.address[i + 8] = static_cast<uint8_t>(k.lo >> (56 - 8 * i));
  }
  if (!ipv6) std::fill(p.address.begin() + 4, p.address.end(), 0);
  return p;
}

}  // namespace

uint32_t PrefixTrie::Family::add(const Key& k, uint8_t length, uint32_t value) {
  const auto at = static_cast<uint32_t>(nodes.size());
  Node n;
  n.value = value;
  n.length = length;
  nodes.push_back(n);
  if (ipv6)
    keys6.push_back(k);
  else
    keys4.push_back(static_cast<uint32_t>(k.hi >> 32));
  return at;
}

size_t PrefixTrie::memory_bytes() const {
  size_t bytes = 0;
  for (const Family* f : {&v4_, &v6_})
    bytes += f->nodes.capacity() * sizeof(Node) + f->keys4.capacity() * sizeof(uint32_t) +
             f->keys6.capacity() * sizeof(Key);
  return bytes;
}

bool PrefixTrie::insert(const IpPrefix& prefix, uint32_t value) {
  Family& f = family(prefix.ipv6);
  const int len = prefix.length;
  const Key k = masked(key_of(prefix.address), len);
  uint32_t at = 0;
  for (;;) {
    if (f.nodes[at].length == len) {
      if (f.nodes[at].value != kNone) return false;
      f.nodes[at].value = value;
      break;
    }
    const int b = key_bit(k, f.nodes[at].length);
    const uint32_t c = f.nodes[at].child[b];
    if (c == 0) {
      const uint32_t leaf = f.add(k, static_cast<uint8_t>(len), value);
      f.nodes[at].child[b] = leaf;
      break;
    }
    const int child_len = f.nodes[c].length;
    const int common = std::min({common_bits(k, f.key(c)), len, child_len});
    if (common == child_len) {  // the child is a prefix of the new one: go down
      at = c;
      continue;
    }
    if (common == len) {  // the new prefix sits on the edge above the child
      const uint32_t mid = f.add(k, static_cast<uint8_t>(len), value);
      f.nodes[mid].child[key_bit(f.key(c), len)] = c;
      f.nodes[at].child[b] = mid;
      break;
    }
    // The paths part below `at`: a branch node where they do, the new prefix as its leaf.
    const uint32_t fork = f.add(masked(k, common), static_cast<uint8_t>(common), kNone);
    const uint32_t leaf = f.add(k, static_cast<uint8_t>(len), value);
    f.nodes[fork].child[key_bit(f.key(c), common)] = c;
    f.nodes[fork].child[key_bit(k, common)] = leaf;
    f.nodes[at].child[b] = fork;
    break;
  }
  ++prefixes_;
  return true;
}

uint32_t PrefixTrie::find(const IpPrefix& prefix) const {
  const Family& f = family(prefix.ipv6);
  const Key k = masked(key_of(prefix.address), prefix.length);
  uint32_t at = 0;
  while (f.nodes[at].length < prefix.length) {
    at = f.nodes[at].child[key_bit(k, f.nodes[at].length)];
    if (at == 0 || f.nodes[at].length > prefix.length ||
        common_bits(k, f.key(at)) < f.nodes[at].length)
      return kNone;
  }
  return f.nodes[at].value;
}

// The walk reproduces, edge by edge, the one-bit-at-a-time walk of the uncompressed trie, whose
// result and scope the rest of the code (and the ECS scope rules in docs/gslb.md) are defined by:
// at each node, record its value; stop with scope = depth at the source length; stop when the
// client's next bit has no child, with scope = depth when the node has no children at all and
// depth + 1 otherwise. The skipped nodes on an edge each have exactly one child and no value.
PrefixTrie::Match PrefixTrie::lookup(const ClientAddress& client) const {
  const Family& f = family(client.ipv6);
  const int limit = std::min<int>(client.source_prefix, client.max_len());
  const Key k = key_of(client.address);
  Match m;
  uint32_t at = 0;
  for (;;) {
    const Node& n = f.nodes[at];
    const int depth = n.length;
    if (n.value != kNone) {
      m.value = n.value;
      m.length = static_cast<uint8_t>(depth);
    }
    if (depth == limit) {
      m.scope = static_cast<uint8_t>(depth);
      break;
    }
    const uint32_t next = n.child[key_bit(k, depth)];
    if (next == 0) {
      // Every address sharing the first depth bits stops here when there is nothing below;
      // otherwise the next bit decides whether a longer prefix could apply.
      const bool leaf = n.child[0] == 0 && n.child[1] == 0;
      m.scope = static_cast<uint8_t>(leaf ? depth : depth + 1);
      break;
    }
    // Bits depth+1 .. child length-1 lie on the edge. The walk stops at the source length, or
    // at the first bit where the client leaves the edge (that edge node has the other child).
    const int child_len = f.nodes[next].length;
    const int diverge = std::min(common_bits(k, f.key(next)), child_len);  // > depth
    if (limit < child_len && limit <= diverge) {
      m.scope = static_cast<uint8_t>(limit);
      break;
    }
    if (diverge < child_len) {
      m.scope = static_cast<uint8_t>(diverge + 1);
      break;
    }
    at = next;
  }
  return m;
}

// Regions follow lookup()'s stopping rules for source prefixes at least as long as the region:
// a node without children is one region (scope = its length); below a node with children, each
// missing side is one region one bit longer; on an edge to a child, every bit where a client can
// leave the edge ends a region (scope = that bit + 1); the child's own prefix is split further.
// Each region's scope equals its length, and no two neighbours share value and scope, so none
// could be merged. Iterative: work items are popped in address order.
void PrefixTrie::for_each_region(const RegionVisitor& visit) const {
  struct Item {
    bool region = false;  // true: report (key, length, match); false: expand node `node`
    uint32_t node = 0;
    Key key;
    uint8_t length = 0;
    Match match;  // for a node: the value and length matched above and at it so far
  };
  std::vector<Item> stack;
  std::vector<Item> lower, upper;  // edge regions before and after the child's own prefix
  for (const Family* f : {&v4_, &v6_}) {
    stack.push_back(Item{.node = 0});
    while (!stack.empty()) {
      Item it = stack.back();
      stack.pop_back();
      if (it.region) {
        visit(prefix_of(it.key, it.length, f->ipv6), it.match);
        continue;
      }
      const Node& n = f->nodes[it.node];
      const int depth = n.length;
      const Key key = f->key(it.node);
      Match above = it.match;
      if (n.value != kNone) {
        above.value = n.value;
        above.length = static_cast<uint8_t>(depth);
      }
      if (n.child[0] == 0 && n.child[1] == 0) {
        above.scope = static_cast<uint8_t>(depth);
        visit(prefix_of(key, depth, f->ipv6), above);
        continue;
      }
      for (int b = 1; b >= 0; --b) {  // the 1 side first: the stack pops the 0 side first
        const uint32_t c = n.child[b];
        if (c == 0) {
          Match m = above;
          m.scope = static_cast<uint8_t>(depth + 1);
          stack.push_back(Item{.region = true,
                               .key = with_bit(key, depth, b),
                               .length = static_cast<uint8_t>(depth + 1),
                               .match = m});
          continue;
        }
        const Key ck = f->key(c);
        const int child_len = f->nodes[c].length;
        lower.clear();
        upper.clear();
        for (int j = depth + 1; j < child_len; ++j) {
          const int cb = key_bit(ck, j);
          Match m = above;
          m.scope = static_cast<uint8_t>(j + 1);
          Item r{.region = true,
                 .key = with_bit(masked(ck, j), j, cb ^ 1),
                 .length = static_cast<uint8_t>(j + 1),
                 .match = m};
          (cb ? lower : upper).push_back(r);
        }
        // Address order: lower by increasing j, the child, upper by decreasing j; pushed reversed.
        for (const Item& r : upper) stack.push_back(r);
        stack.push_back(Item{.node = c, .match = above});
        for (auto r = lower.rbegin(); r != lower.rend(); ++r) stack.push_back(*r);
      }
    }
  }
}

size_t PrefixTrie::region_count() const {
  size_t count = 0;
  for (const Family* f : {&v4_, &v6_}) {
    for (const Node& n : f->nodes) {
      if (n.child[0] == 0 && n.child[1] == 0) {
        ++count;
        continue;
      }
      for (uint32_t c : n.child)
        count += c == 0 ? 1 : static_cast<size_t>(f->nodes[c].length - n.length - 1);
    }
  }
  return count;
}

}  // namespace meridian::policy
