// Same code on both paths: maps/meridian_rrl.h compiled for BPF (rrl_bpf_check.bpf.c: allow list
// in an LPM trie, buckets in an LRU hash, as the XDP program keeps them), loaded through the
// kernel verifier and run with BPF_PROG_TEST_RUN over sequences of (time, client, rcode) events
// under many configurations; every verdict must equal userspace's rrl::RateLimiter for the same
// event, and the sequences reach every verdict and class.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "meridian_rrl.h"
#include "rrl/rate_limiter.h"

namespace meridian::rrl {
namespace {

struct RrlEvent {
  uint64_t now_ns;
  uint8_t family;
  uint8_t pad;
  uint16_t rcode;
  uint8_t addr[16];
  uint8_t verdict;
  uint8_t allowed;
  uint8_t klass;
  uint8_t pad2[5];
};
static_assert(sizeof(RrlEvent) == 40, "the layout of rrl_bpf_check.bpf.c");

bool have_bpf_privileges() {
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr);
  if (fd < 0) return false;
  close(fd);
  return true;
}

sockaddr_storage to_sockaddr(const RrlEvent& e) {
  sockaddr_storage ss{};
  if (e.family == MDN_RRL_FAMILY_IPV6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    std::memcpy(&s6->sin6_addr, e.addr, 16);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    std::memcpy(&s4->sin_addr, e.addr, 4);
  }
  return ss;
}

class RrlBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
    obj_ = bpf_object__open_file(BPF_CHECK_OBJECT, nullptr);
    ASSERT_NE(obj_, nullptr) << "open " << BPF_CHECK_OBJECT;
    ASSERT_EQ(bpf_object__load(obj_), 0) << "the verifier rejected the RRL program";
    bpf_program* prog = bpf_object__find_program_by_name(obj_, "rrl_decide");
    ASSERT_NE(prog, nullptr);
    prog_fd_ = bpf_program__fd(prog);
    config_fd_ = bpf_object__find_map_fd_by_name(obj_, "rrl_config");
    buckets_fd_ = bpf_object__find_map_fd_by_name(obj_, "rrl_buckets");
    allow_fd_ = bpf_object__find_map_fd_by_name(obj_, "rrl_allow");
    ASSERT_GE(config_fd_, 0);
    ASSERT_GE(buckets_fd_, 0);
    ASSERT_GE(allow_fd_, 0);
  }
  void TearDown() override {
    if (obj_) bpf_object__close(obj_);
  }

  // Loads `s` into the kernel maps the way a publisher would: config, allow list; buckets empty.
  void load(const Settings& s, const mdn_rrl_config& c) {
    const uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(config_fd_, &zero, &c, BPF_ANY), 0) << std::strerror(errno);
    mdn_rrl_key key{}, next{};
    while (bpf_map_get_next_key(buckets_fd_, nullptr, &next) == 0) {
      key = next;
      ASSERT_EQ(bpf_map_delete_elem(buckets_fd_, &key), 0);
    }
    mdn_rrl_allow_key ak{}, an{};
    while (bpf_map_get_next_key(allow_fd_, nullptr, &an) == 0) {
      ak = an;
      ASSERT_EQ(bpf_map_delete_elem(allow_fd_, &ak), 0);
    }
    for (const auto& p : s.allow) {
      mdn_rrl_allow_key k{};
      k.family = p.ipv6 ? MDN_RRL_FAMILY_IPV6 : MDN_RRL_FAMILY_IPV4;
      k.prefixlen = 8u + p.length;
      std::memcpy(k.addr, p.address.data(), 16);
      const uint8_t one = 1;
      ASSERT_EQ(bpf_map_update_elem(allow_fd_, &k, &one, BPF_ANY), 0) << std::strerror(errno);
    }
  }

  RrlEvent run(const RrlEvent& in) {
    RrlEvent out{};
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = &in;
    opts.data_out = &out;
    opts.data_size_in = sizeof(in);
    opts.data_size_out = sizeof(out);
    opts.repeat = 1;
    EXPECT_EQ(bpf_prog_test_run_opts(prog_fd_, &opts), 0) << std::strerror(errno);
    EXPECT_EQ(opts.retval, static_cast<__u32>(XDP_PASS));
    return out;
  }

  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1, config_fd_ = -1, buckets_fd_ = -1, allow_fd_ = -1;
};

TEST_F(RrlBpf, KernelAndUserspaceDecideIdentically) {
  std::mt19937_64 rng(20261125);
  auto pick = [&](uint64_t n) { return static_cast<uint32_t>(rng() % n); };
  // Clients: a few /24s with varying last bytes, IPv6 sources sharing and not sharing /56s, and
  // allow-listed ones. Enough distinct keys to matter, few enough that no table evicts.
  std::vector<RrlEvent> clients;
  for (int i = 0; i < 24; ++i) {
    RrlEvent e{};
    if (i % 3 == 2) {
      e.family = MDN_RRL_FAMILY_IPV6;
      const std::string text =
          "fd00:18:0:" + std::to_string(i % 4) + std::to_string(pick(2)) + "::" + std::to_string(i);
      ASSERT_EQ(inet_pton(AF_INET6, text.c_str(), e.addr), 1) << text;
    } else {
      e.family = MDN_RRL_FAMILY_IPV4;
      const uint8_t v4[4] = {198, 18, static_cast<uint8_t>(i % 5), static_cast<uint8_t>(pick(256))};
      std::memcpy(e.addr, v4, 4);
    }
    clients.push_back(e);
  }
  const std::vector<std::string> allow_texts = {"198.18.3.0/24", "fd00:18:0:20::/60"};
  std::array<int, 3> verdicts{}, classes{};
  int allowed = 0, compared = 0;
  for (int round = 0; round < 40; ++round) {
    Settings s;
    s.responses_per_second = round % 8 == 7 ? 0 : 1 + pick(60);
    s.burst = pick(3) == 0 ? 0 : 1 + pick(12);
    s.slip = pick(4);
    s.ipv4_prefix_length = pick(3) == 0 ? 16 + pick(17) : 24;
    s.ipv6_prefix_length = pick(3) == 0 ? 32 + pick(97) : 56;
    if (round % 2 == 0) {
      for (const auto& t : allow_texts) s.allow.push_back(*policy::parse_prefix(t));
    }
    RateLimiter limiter;
    ASSERT_TRUE(limiter.configure(s).ok());
    const auto limits = limiter.limits();
    load(s, limits->config);
    uint64_t now = 1'000'000'000ULL * (1 + pick(1000));
    for (int i = 0; i < 400; ++i) {
      // Bursts of events at the same instant and gaps of up to 0.3 s.
      if (pick(3) == 0) now += pick(300'000'000);
      RrlEvent e = clients[pick(clients.size())];
      static constexpr uint16_t kRcodes[] = {0, 0, 0, 3, 3, 2, 5, 1, 16};
      e.rcode = kRcodes[pick(std::size(kRcodes))];
      e.now_ns = now;
      const RrlEvent got = run(e);
      const Verdict want = RateLimiter::decide(*limits, to_sockaddr(e), e.rcode, now);
      ASSERT_EQ(got.verdict, static_cast<uint8_t>(want))
          << "round " << round << " event " << i << " rate " << s.responses_per_second << " burst "
          << s.burst << " slip " << s.slip << " rcode " << e.rcode;
      ASSERT_EQ(got.klass, response_class(e.rcode));
      ++verdicts[got.verdict];
      ++classes[got.klass];
      allowed += got.allowed;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 40 * 400);
  EXPECT_GT(verdicts[MDN_RRL_SEND], 0);
  EXPECT_GT(verdicts[MDN_RRL_DROP], 0);
  EXPECT_GT(verdicts[MDN_RRL_SLIP], 0);
  for (int k = 0; k < MDN_RRL_CLASS_COUNT; ++k) EXPECT_GT(classes[k], 0) << "class " << k;
  EXPECT_GT(allowed, 0);
}

TEST_F(RrlBpf, KernelFloodGetsTheRateThroughAndSlipsEverySecond) {
  // 10 replies/s, burst 10, slip 2: a flood of 1,000 replies in 0..999 ms from one /24 (any last
  // byte) gets 10 (burst) + 9 (refilled at 100, 200, ..., 900 ms) through, and every second
  // limited reply is a slip.
  Settings s;
  s.responses_per_second = 10;
  s.slip = 2;
  RateLimiter limiter;
  ASSERT_TRUE(limiter.configure(s).ok());
  load(s, limiter.limits()->config);
  std::array<int, 3> verdicts{};
  const uint64_t start = 5'000'000'000ULL;
  for (int i = 0; i < 1000; ++i) {
    RrlEvent e{};
    e.family = MDN_RRL_FAMILY_IPV4;
    const uint8_t v4[4] = {198, 18, 7, static_cast<uint8_t>(i)};
    std::memcpy(e.addr, v4, 4);
    e.now_ns = start + static_cast<uint64_t>(i) * 1'000'000;  // one per ms, 0..999 ms
    ++verdicts[run(e).verdict];
  }
  EXPECT_EQ(verdicts[MDN_RRL_SEND], 19);
  EXPECT_EQ(verdicts[MDN_RRL_SLIP], 490);
  EXPECT_EQ(verdicts[MDN_RRL_DROP], 491);
}

}  // namespace
}  // namespace meridian::rrl
