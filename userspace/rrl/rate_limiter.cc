// The bucket table, the allow list and the per-reply decision around maps/meridian_rrl.h.
#include "rrl/rate_limiter.h"

#include <netinet/in.h>
#include <time.h>

#include <bit>
#include <cstring>
#include <random>

namespace meridian::rrl {
namespace {

uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Mixes the 20-byte key with a per-process seed: an attacker who cannot see the seed cannot aim
// many prefixes at one set to push a victim's bucket out.
uint64_t hash_key(const mdn_rrl_key& key, uint64_t seed) {
  uint8_t bytes[24] = {};
  std::memcpy(bytes, &key, sizeof key);
  uint64_t h = seed;
  for (size_t i = 0; i < sizeof bytes; i += 8) {
    h ^= load64(bytes + i);
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

bool same_key(const mdn_rrl_key& a, const mdn_rrl_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

BucketTable::BucketTable(size_t slots)
    : slot_count_(std::bit_ceil(std::max(slots, kWays * kStripes))),
      set_mask_(slot_count_ / kWays - 1),
      seed_(std::random_device{}() | (uint64_t{std::random_device{}()} << 32)),
      slots_(new Slot[slot_count_]()),
      stripes_(new Stripe[kStripes]) {}

size_t BucketTable::memory_bytes() const {
  return slot_count_ * sizeof(Slot) + kStripes * sizeof(Stripe);
}

size_t BucketTable::used() const {
  size_t n = 0;
  for (size_t set = 0; set <= set_mask_; ++set) {
    std::lock_guard lock(stripes_[set % kStripes].mutex);
    for (size_t w = 0; w < kWays; ++w) n += slots_[set * kWays + w].key.family != 0;
  }
  return n;
}

enum mdn_rrl_verdict BucketTable::decide(const mdn_rrl_key& key, uint64_t now_ns,
                                         const mdn_rrl_config& c) {
  const size_t set = hash_key(key, seed_) & set_mask_;
  Slot* ways = &slots_[set * kWays];
  std::lock_guard lock(stripes_[set % kStripes].mutex);
  Slot* slot = nullptr;
  Slot* victim = nullptr;  // an empty slot, else the one with the smallest tat
  for (size_t w = 0; w < kWays; ++w) {
    Slot& s = ways[w];
    const bool used = s.key.family != 0;
    if (used && same_key(s.key, key)) {
      slot = &s;
      break;
    }
    const bool victim_used = victim != nullptr && victim->key.family != 0;
    if (victim == nullptr || (victim_used && (!used || s.bucket.tat < victim->bucket.tat))) {
      victim = &s;
    }
  }
  if (slot == nullptr) {
    if (victim->key.family != 0 && victim->bucket.tat > now_ns) {
      evicted_busy_.fetch_add(1, std::memory_order_relaxed);
    }
    slot = victim;
    slot->key = key;
    slot->bucket = mdn_rrl_bucket{};
  }
  return mdn_rrl_decide(&slot->bucket, now_ns, &c);
}

RateLimiter::RateLimiter() : limits_(std::make_shared<Limits>()) {}

Status RateLimiter::configure(const Settings& settings) {
  auto next = std::make_shared<Limits>();
  next->settings = settings;
  mdn_rrl_config_init(&next->config, settings.responses_per_second, settings.burst, settings.slip,
                      settings.ipv4_prefix_length, settings.ipv6_prefix_length);
  for (const auto& prefix : settings.allow) {
    // A duplicate prefix is harmless here (the config rejects it with its place).
    next->allow.insert(prefix, 0);
  }
  std::lock_guard lock(mutex_);
  if (next->enabled()) {
    const auto& current = limits_->table;
    const size_t wanted = std::bit_ceil(
        std::max<size_t>(settings.table_size, BucketTable::kWays * BucketTable::kStripes));
    next->table = current && current->slots() == wanted
                      ? current
                      : std::make_shared<BucketTable>(settings.table_size);
  } else {
    next->table = limits_->table;  // kept: turning RRL back on resumes the same buckets
  }
  limits_ = std::move(next);
  return Ok{};
}

std::shared_ptr<const Limits> RateLimiter::limits() const {
  std::lock_guard lock(mutex_);
  return limits_;
}

Verdict RateLimiter::decide(const Limits& limits, const sockaddr_storage& client, uint16_t rcode,
                            uint64_t now_ns) {
  if (!limits.enabled() || !limits.table) return Verdict::kSend;
  if (client.ss_family != AF_INET && client.ss_family != AF_INET6) return Verdict::kSend;
  // IPv4-mapped IPv6 sources count as the IPv4 clients they are.
  const policy::ClientAddress address = policy::ClientAddress::from_sockaddr(client);
  if (limits.allow.prefix_count() > 0 &&
      limits.allow.lookup(address).value != policy::PrefixTrie::kNone) {
    return Verdict::kSend;
  }
  mdn_rrl_key key;
  mdn_rrl_key_make(&key, address.ipv6 ? MDN_RRL_FAMILY_IPV6 : MDN_RRL_FAMILY_IPV4,
                   address.address.data(), response_class(rcode), &limits.config);
  return static_cast<Verdict>(limits.table->decide(key, now_ns, limits.config));
}

uint64_t RateLimiter::now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace meridian::rrl
