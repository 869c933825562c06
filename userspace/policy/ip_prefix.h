// Client addresses (resolver source or ECS) and the longest-prefix-match trie used for CIDR
// collections and the operator latency table, with the ECS scope each match is valid for.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "common/result.h"
#include "dns/message.h"

namespace meridian::policy {

// The address a decision is made for. IPv4 uses the first 4 bytes; bytes past the source prefix
// are zero.
struct ClientAddress {
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};
  // ECS source prefix length, or the full address length (32/128) for a resolver address.
  uint8_t source_prefix = 32;

  int max_len() const { return ipv6 ? 128 : 32; }

  // The resolver's address; IPv4-mapped IPv6 addresses become IPv4.
  static ClientAddress from_sockaddr(const sockaddr_storage& sa);
  // The ECS option's address when it is usable for decisions (spec: source prefix > 0).
  static std::optional<ClientAddress> from_ecs(const dns::EcsOption& ecs);
  // "192.0.2.1" or "2001:db8::1" (full length), for tests and tools.
  static std::optional<ClientAddress> from_text(std::string_view text, int source_prefix = -1);
};

struct IpPrefix {
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};
  uint8_t length = 0;
};

// "192.0.2.0/24" or "2001:db8::/48". Host bits past the length must be zero.
Result<IpPrefix> parse_prefix(std::string_view text);
std::string to_string(const IpPrefix& p);

// A path-compressed binary trie of prefixes (one per family) to 32-bit values. Only prefixes and
// the branch points between them are stored, so n prefixes need at most 2n + 1 nodes whatever
// their lengths: 16 bytes per node plus its key (4 bytes IPv4, 16 bytes IPv6). Lookups give the
// same results (and ECS scopes) as a walk one bit at a time through the uncompressed trie.
class PrefixTrie {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;

  struct Match {
    uint32_t value = kNone;  // value of the longest matching prefix, or kNone
    uint8_t length = 0;      // that prefix's length
    // Length of the prefix of the client address over which this exact result holds: the
    // longest prefix such that every address in it walks the same path (the ECS scope).
    uint8_t scope = 0;
  };

  // False when the same prefix is already present.
  bool insert(const IpPrefix& prefix, uint32_t value);
  // The value stored for exactly this prefix, or kNone.
  uint32_t find(const IpPrefix& prefix) const;
  // Longest match of the address's first `source_prefix` bits: a stored prefix longer than the
  // client's source prefix never matches (spec rule 7).
  Match lookup(const ClientAddress& client) const;

  // Disjoint prefixes ("regions") covering all of IPv4, then all of IPv6, each in address order,
  // with the Match that lookup() gives every client in the region whose source prefix is at
  // least the region's length (a shorter source prefix can straddle regions: whoever looks the
  // regions up must treat "no region of length <= source prefix" as a miss). The coarsest such
  // partition; an empty trie has two regions, 0.0.0.0/0 and ::/0. This is what an LPM map
  // (BPF_MAP_TYPE_LPM_TRIE) needs to give the same answers and ECS scopes as lookup().
  using RegionVisitor = std::function<void(const IpPrefix& region, const Match& m)>;
  void for_each_region(const RegionVisitor& visit) const;
  // How many regions for_each_region() reports (without building them).
  size_t region_count() const;

  size_t node_count() const { return v4_.nodes.size() + v6_.nodes.size(); }
  size_t prefix_count() const { return prefixes_; }
  // Bytes held by the nodes and keys (capacity, as allocated).
  size_t memory_bytes() const;

  // The first 128 bits of an address as two words, most significant bit first.
  struct Key {
    uint64_t hi = 0, lo = 0;
  };

 private:
  struct Node {
    uint32_t child[2] = {0, 0};  // 0: none (the root is never a child)
    uint32_t value = kNone;
    uint8_t length = 0;  // prefix length this node stands for; its key is in the family's keys
  };
  // Nodes of one address family; node i's key (its first `length` bits, the rest zero) is
  // keys4[i] (IPv4, the top 32 bits of hi) or keys6[i].
  struct Family {
    std::vector<Node> nodes{Node{}};
    std::vector<uint32_t> keys4{0};
    std::vector<Key> keys6{Key{}};
    bool ipv6 = false;

    Key key(uint32_t i) const {
      return ipv6 ? keys6[i] : Key{static_cast<uint64_t>(keys4[i]) << 32, 0};
    }
    uint32_t add(const Key& k, uint8_t length, uint32_t value);
  };
  Family& family(bool ipv6) { return ipv6 ? v6_ : v4_; }
  const Family& family(bool ipv6) const { return ipv6 ? v6_ : v4_; }

  Family v4_{};
  Family v6_{.ipv6 = true};
  size_t prefixes_ = 0;
};

}  // namespace meridian::policy
