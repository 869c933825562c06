// RateLimiter: response rate limiting for UDP replies (docs/rrl.md). A bounded table of buckets,
// one per (client prefix, response class), shared by every worker thread, the allow list, and the
// decision of maps/meridian_rrl.h (the same C the XDP program runs). Memory is fixed when the
// table is made, whatever the number of sources an attacker spoofs.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "meridian_rrl.h"
#include "policy/ip_prefix.h"

namespace meridian::rrl {

inline constexpr uint32_t kDefaultTableSize = 65536;

struct Settings {
  uint32_t responses_per_second = 0;  // 0: off
  uint32_t burst = 0;                 // 0: responses_per_second (one second's worth)
  uint32_t slip = 2;                  // 0 drop all limited, 1 slip all, N every N-th
  uint32_t ipv4_prefix_length = 24;
  uint32_t ipv6_prefix_length = 56;
  std::vector<policy::IpPrefix> allow;      // sources never limited
  uint32_t table_size = kDefaultTableSize;  // buckets, rounded up to a power of two
};

enum class Verdict : uint8_t {
  kSend = MDN_RRL_SEND,
  kDrop = MDN_RRL_DROP,
  kSlip = MDN_RRL_SLIP,
};

// The response class of a reply with this rcode (enum mdn_rrl_class).
inline uint8_t response_class(uint16_t rcode) {
  return mdn_rrl_class_of(rcode);
}

// A fixed-size, set-associative table of buckets. A key lives in one set of kWays slots; a new
// key replaces the slot whose bucket is fullest again soonest (smallest `tat`): an idle bucket is
// the same as a fresh one, so evicting it changes nothing, and the sources sending the most keep
// their buckets longest. Each set is guarded by one of kStripes mutexes.
class BucketTable {
 public:
  static constexpr size_t kWays = 4;
  static constexpr size_t kStripes = 64;

  explicit BucketTable(size_t slots);  // rounded up to a power of two, at least kWays * kStripes
  BucketTable(const BucketTable&) = delete;
  BucketTable& operator=(const BucketTable&) = delete;

  // Runs mdn_rrl_decide on the bucket of `key` (created full when absent).
  enum mdn_rrl_verdict decide(const mdn_rrl_key& key, uint64_t now_ns, const mdn_rrl_config& c);

  size_t slots() const { return slot_count_; }
  // Bytes held by the slots and locks: fixed at construction.
  size_t memory_bytes() const;
  // Keys whose bucket still held debt when a new key took their slot (the table is too small for
  // the sources being limited).
  uint64_t evicted_busy() const { return evicted_busy_.load(std::memory_order_relaxed); }
  // Slots in use (walks the table under each lock; for tests and logs).
  size_t used() const;

 private:
  struct Slot {
    mdn_rrl_bucket bucket;
    mdn_rrl_key key;  // family 0: empty
  };
  struct alignas(64) Stripe {
    mutable std::mutex mutex;
  };

  size_t slot_count_;
  size_t set_mask_;
  uint64_t seed_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<Stripe[]> stripes_;
  std::atomic<uint64_t> evicted_busy_{0};
};

// One configuration, immutable once made: the C limits, the allow list, and the table it counts
// in (kept across reloads while its size stays the same).
struct Limits {
  Settings settings;
  mdn_rrl_config config{};
  policy::PrefixTrie allow;
  std::shared_ptr<BucketTable> table;  // null when off

  bool enabled() const { return config.enabled != 0; }
};

class RateLimiter {
 public:
  RateLimiter();  // off until configure()
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Applies new settings at once (thread-safe). The bucket table is kept when its size is
  // unchanged, so a reload does not hand every limited source a fresh burst.
  Status configure(const Settings& settings);
  // The current limits: workers take one per batch of packets.
  std::shared_ptr<const Limits> limits() const;

  // The verdict for a reply with `rcode` to `client` at `now_ns` (CLOCK_MONOTONIC), counted in
  // the client's bucket. Allow-listed sources, and everything while RRL is off, get kSend.
  static Verdict decide(const Limits& limits, const sockaddr_storage& client, uint16_t rcode,
                        uint64_t now_ns);

  // CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns reads.
  static uint64_t now_ns();

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Limits> limits_;
};

}  // namespace meridian::rrl
