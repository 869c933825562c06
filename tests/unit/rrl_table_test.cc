// Unit tests of rrl::RateLimiter, the userspace side of response rate limiting: allow list,
// classes and prefixes through real socket addresses, reconfiguration, threads sharing buckets,
// and memory that stays fixed however many sources an attacker spoofs.
#include "rrl/rate_limiter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace meridian::rrl {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kT0 = 1'000'000 * kMs;

sockaddr_storage source(const std::string& text) {
  sockaddr_storage ss{};
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, text.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(5353);
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &s6->sin6_addr), 1) << text;
    s6->sin6_family = AF_INET6;
  }
  return ss;
}

Settings settings(uint32_t rate, uint32_t slip, std::vector<std::string> allow = {}) {
  Settings s;
  s.responses_per_second = rate;
  s.burst = rate;
  s.slip = slip;
  for (const auto& a : allow) s.allow.push_back(*policy::parse_prefix(a));
  return s;
}

// Verdicts of `n` replies with `rcode` from `client` at one instant, as letters S/D/T.
std::string burst(const Limits& l, const std::string& client, int n, uint16_t rcode = 0,
                  uint64_t now = kT0) {
  std::string out;
  const sockaddr_storage ss = source(client);
  for (int i = 0; i < n; ++i) {
    const Verdict v = RateLimiter::decide(l, ss, rcode, now);
    out += v == Verdict::kSend ? 'S' : v == Verdict::kDrop ? 'D' : 'T';
  }
  return out;
}

TEST(RateLimiter, OffByDefaultAndAtRateZero) {
  RateLimiter limiter;
  EXPECT_FALSE(limiter.limits()->enabled());
  EXPECT_EQ(burst(*limiter.limits(), "198.18.0.1", 100), std::string(100, 'S'));
  ASSERT_TRUE(limiter.configure(settings(0, 2)).ok());
  EXPECT_EQ(burst(*limiter.limits(), "198.18.0.1", 100), std::string(100, 'S'));
}

TEST(RateLimiter, PrefixesClassesAndOtherSources) {
  RateLimiter limiter;
  ASSERT_TRUE(limiter.configure(settings(3, 0)).ok());
  const auto l = limiter.limits();
  EXPECT_EQ(burst(*l, "198.18.7.1", 5), "SSSDD");
  EXPECT_EQ(burst(*l, "198.18.7.200", 2), "DD") << "same /24 shares the bucket";
  EXPECT_EQ(burst(*l, "198.18.8.1", 4), "SSSD") << "another /24 is not affected";
  EXPECT_EQ(burst(*l, "198.18.7.1", 4, 3), "SSSD") << "NXDOMAIN has its own bucket";
  EXPECT_EQ(burst(*l, "198.18.7.1", 4, 5), "SSSD") << "errors have their own bucket";
  EXPECT_EQ(burst(*l, "198.18.7.1", 1, 2), "D") << "SERVFAIL and REFUSED share the error one";
  EXPECT_EQ(burst(*l, "fd00:18:0:1200::1", 4), "SSSD");
  EXPECT_EQ(burst(*l, "fd00:18:0:12ff::77", 1), "D") << "same /56";
  EXPECT_EQ(burst(*l, "fd00:18:0:1300::1", 4), "SSSD") << "another /56";
  EXPECT_EQ(burst(*l, "::ffff:198.18.7.5", 1), "D") << "IPv4-mapped counts as its IPv4 /24";
  // One second later the buckets are full again.
  EXPECT_EQ(burst(*l, "198.18.7.1", 4, 0, kT0 + 1000 * kMs), "SSSD");
}

TEST(RateLimiter, SlipModes) {
  for (const auto& [slip, want] : std::vector<std::pair<uint32_t, std::string>>{
           {0, "SSDDDDDD"}, {1, "SSTTTTTT"}, {2, "SSDTDTDT"}, {4, "SSDDDTDD"}}) {
    RateLimiter limiter;
    ASSERT_TRUE(limiter.configure(settings(2, slip)).ok());
    EXPECT_EQ(burst(*limiter.limits(), "198.18.9.9", 8), want) << "slip " << slip;
  }
}

TEST(RateLimiter, AllowListedSourcesAreNeverLimited) {
  RateLimiter limiter;
  ASSERT_TRUE(
      limiter.configure(settings(1, 0, {"198.18.5.0/24", "fd00:18:0:20::/60", "198.18.6.7/32"}))
          .ok());
  const auto l = limiter.limits();
  EXPECT_EQ(burst(*l, "198.18.5.77", 1000), std::string(1000, 'S'));
  EXPECT_EQ(burst(*l, "198.18.6.7", 1000, 3), std::string(1000, 'S'));
  EXPECT_EQ(burst(*l, "fd00:18:0:2f::1", 1000), std::string(1000, 'S'));
  EXPECT_EQ(burst(*l, "198.18.6.8", 3), "SDD") << "outside the /32";
  EXPECT_EQ(burst(*l, "fd00:18:0:30::1", 3), "SDD") << "outside the /60";
}

TEST(RateLimiter, ReconfigureKeepsBucketsUnlessTheSizeChanges) {
  RateLimiter limiter;
  ASSERT_TRUE(limiter.configure(settings(2, 0)).ok());
  EXPECT_EQ(burst(*limiter.limits(), "198.18.1.1", 3), "SSD");
  const BucketTable* table = limiter.limits()->table.get();
  // A new slip value: same table, so the limited source stays limited.
  ASSERT_TRUE(limiter.configure(settings(2, 1)).ok());
  EXPECT_EQ(limiter.limits()->table.get(), table);
  EXPECT_EQ(burst(*limiter.limits(), "198.18.1.1", 2), "TT");
  // Allow-listing it takes effect at once.
  ASSERT_TRUE(limiter.configure(settings(2, 1, {"198.18.1.0/24"})).ok());
  EXPECT_EQ(burst(*limiter.limits(), "198.18.1.1", 5), "SSSSS");
  // Another table size: a new table.
  Settings bigger = settings(2, 0);
  bigger.table_size = kDefaultTableSize * 2;
  ASSERT_TRUE(limiter.configure(bigger).ok());
  EXPECT_NE(limiter.limits()->table.get(), table);
  EXPECT_EQ(limiter.limits()->table->slots(), kDefaultTableSize * 2);
  EXPECT_EQ(burst(*limiter.limits(), "198.18.1.1", 3), "SSD");
}

TEST(RateLimiter, MemoryStaysFixedUnderAMillionSources) {
  Settings s = settings(5, 2);
  s.ipv4_prefix_length = 32;  // every address its own bucket: the worst case for the table
  s.table_size = 16384;
  RateLimiter limiter;
  ASSERT_TRUE(limiter.configure(s).ok());
  const auto l = limiter.limits();
  const size_t bytes = l->table->memory_bytes();
  EXPECT_LT(bytes, size_t{2} << 20);
  const sockaddr_storage attacker = source("198.18.200.1");
  std::mt19937 rng(6);
  sockaddr_storage spoofed = source("10.0.0.0");
  auto* s4 = reinterpret_cast<sockaddr_in*>(&spoofed);
  int attacker_sent = 0;
  uint64_t now = kT0;
  for (uint32_t i = 0; i < 1'000'000; ++i) {
    s4->sin_addr.s_addr = htonl(0x0a000000u + i);  // 10.0.0.0 + i: 1M distinct sources
    if (i % 2 == 0) now += 1000;                   // 1 s in all
    EXPECT_EQ(RateLimiter::decide(*l, spoofed, 0, now), Verdict::kSend);
    if (i % 100 == 0) {
      attacker_sent += RateLimiter::decide(*l, attacker, 0, now) == Verdict::kSend;
    }
  }
  EXPECT_EQ(l->table->memory_bytes(), bytes);
  EXPECT_LE(l->table->used(), l->table->slots());
  // The spread did not push the flooding source out: it got its burst and one second's rate.
  EXPECT_GE(attacker_sent, 5);
  EXPECT_LE(attacker_sent, 11);
}

TEST(RateLimiter, ThreadsShareOneBucketExactly) {
  RateLimiter limiter;
  ASSERT_TRUE(limiter.configure(settings(1000, 0)).ok());
  const auto l = limiter.limits();
  std::atomic<int> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const sockaddr_storage ss = source("198.18.44." + std::to_string(t + 1));
      for (int i = 0; i < 5000; ++i) sent += RateLimiter::decide(*l, ss, 0, kT0) == Verdict::kSend;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(sent.load(), 1000) << "burst 1000 for the /24, counted under the lock";
}

TEST(RateLimiter, ReconfigureWhileWorkersDecide) {
  // Workers take the limits once per batch, as the UDP worker does, while the main thread applies
  // reloads: every verdict comes from one whole configuration (checked under TSan too).
  RateLimiter limiter;
  ASSERT_TRUE(limiter.configure(settings(50, 1)).ok());
  std::atomic<bool> done{false};
  std::atomic<int> batches{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t) {
    workers.emplace_back([&, t] {
      const sockaddr_storage ss = source("198.18.60." + std::to_string(t));
      uint64_t now = kT0;
      while (!done.load()) {
        const auto l = limiter.limits();
        for (int i = 0; i < 64; ++i) {
          const Verdict v = RateLimiter::decide(*l, ss, 0, now += 1000);
          // slip 1 never drops; rate 0 never limits.
          EXPECT_NE(v, Verdict::kDrop);
          if (!l->enabled()) EXPECT_EQ(v, Verdict::kSend);
        }
        ++batches;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    Settings s = settings(i % 3 == 0 ? 0 : 50 + i, 1, {"198.18.61.0/24"});
    ASSERT_TRUE(limiter.configure(s).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (batches.load() < 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  done = true;
  for (auto& th : workers) th.join();
  EXPECT_GE(batches.load(), 100);
}

}  // namespace
}  // namespace meridian::rrl
