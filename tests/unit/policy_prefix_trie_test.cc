// The path-compressed prefix trie against a brute-force reference on random prefix sets: the
// same longest match (never a stored prefix longer than the client's source prefix), and an ECS
// scope that is sound: every address sharing the first `scope` bits gets the same answer.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "policy/ip_prefix.h"

namespace meridian::policy {
namespace {

bool bit(const std::array<uint8_t, 16>& a, int i) {
  return (a[i / 8] >> (7 - i % 8)) & 1;
}

void set_bit(std::array<uint8_t, 16>& a, int i, bool v) {
  const uint8_t m = static_cast<uint8_t>(1u << (7 - i % 8));
  a[i / 8] = v ? (a[i / 8] | m) : (a[i / 8] & ~m);
}

bool contains(const IpPrefix& p, const ClientAddress& c) {
  if (p.ipv6 != c.ipv6 || p.length > c.source_prefix) return false;
  for (int i = 0; i < p.length; ++i)
    if (bit(p.address, i) != bit(c.address, i)) return false;
  return true;
}

// Addresses and prefixes drawn from a small space (a few top bits vary) so that prefixes nest
// and overlap often.
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  void randomise(std::array<uint8_t, 16>& a, int bits) {
    a.fill(0);
    for (int i = 0; i < bits; ++i) set_bit(a, i, (rng_() % 4) == 0 ? 1 : (i % 3 == 0));
  }
  IpPrefix prefix(bool ipv6) {
    IpPrefix p;
    p.ipv6 = ipv6;
    const int max = ipv6 ? 48 : 24;  // CIDR collection limits (spec rule 7)
    p.length = static_cast<uint8_t>(rng_() % (max + 1));
    randomise(p.address, p.length);
    return p;
  }
  ClientAddress client(bool ipv6) {
    ClientAddress c;
    c.ipv6 = ipv6;
    const int max = ipv6 ? 128 : 32;
    c.source_prefix =
        (rng_() % 3 == 0) ? static_cast<uint8_t>(1 + rng_() % max) : static_cast<uint8_t>(max);
    randomise(c.address, c.source_prefix);
    return c;
  }
  // Another client with the same source prefix and the same first `keep` bits.
  ClientAddress neighbour(const ClientAddress& c, int keep) {
    ClientAddress n = c;
    for (int i = keep; i < c.source_prefix; ++i) set_bit(n.address, i, rng_() & 1);
    return n;
  }
  uint32_t next() { return static_cast<uint32_t>(rng_()); }

 private:
  std::mt19937 rng_;
};

TEST(PrefixTrieRandomised, MatchesBruteForceAndScopeIsSound) {
  Generator gen(20261125);
  for (int round = 0; round < 300; ++round) {
    const bool ipv6 = round % 3 == 0;
    PrefixTrie trie;
    std::vector<std::pair<IpPrefix, uint32_t>> stored;
    const int n = 1 + static_cast<int>(gen.next() % 40);
    for (int i = 0; i < n; ++i) {
      const IpPrefix p = gen.prefix(ipv6);
      const uint32_t value = gen.next() % 1000;
      const bool fresh = trie.insert(p, value);
      bool duplicate = false;
      for (const auto& [q, v] : stored)
        duplicate = duplicate || (q.length == p.length && trie.find(q) != PrefixTrie::kNone &&
                                  q.address == p.address);
      EXPECT_EQ(fresh, !duplicate);
      if (fresh) stored.emplace_back(p, value);
    }
    ASSERT_LE(trie.node_count(), 2 * stored.size() + 2);  // root of each family
    for (const auto& [p, v] : stored) EXPECT_EQ(trie.find(p), v);

    for (int q = 0; q < 200; ++q) {
      const ClientAddress c = gen.client(ipv6);
      uint32_t want = PrefixTrie::kNone;
      int want_len = -1;
      for (const auto& [p, v] : stored)
        if (contains(p, c) && p.length > want_len) {
          want = v;
          want_len = p.length;
        }
      const PrefixTrie::Match m = trie.lookup(c);
      ASSERT_EQ(m.value, want) << "round " << round;
      if (want != PrefixTrie::kNone) {
        EXPECT_EQ(m.length, want_len);
        EXPECT_GE(m.scope, m.length);
      }
      EXPECT_LE(m.scope, c.source_prefix);
      for (int k = 0; k < 8; ++k) {
        const ClientAddress other = gen.neighbour(c, m.scope);
        EXPECT_EQ(trie.lookup(other).value, m.value)
            << "an address in the same /" << int(m.scope) << " got another answer";
      }
    }
  }
}

}  // namespace
}  // namespace meridian::policy
