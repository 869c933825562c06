// Same code on both paths: maps/meridian_policy.h compiled for BPF (policy_bpf_check.bpf.c),
// loaded through the kernel verifier, and run with BPF_PROG_TEST_RUN over random groups of every
// policy with random health, clients, latency values, CIDR locations and random seeds; every
// decision (outcome, chosen set, facts used) must equal the C++ build's byte for byte.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "policy_test_harness.h"

namespace meridian::policy::test {
namespace {

bool have_bpf_privileges() {
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr);
  if (fd < 0) return false;
  close(fd);
  return true;
}

class PolicyBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
    obj_ = bpf_object__open_file(BPF_CHECK_OBJECT, nullptr);
    ASSERT_NE(obj_, nullptr) << "open " << BPF_CHECK_OBJECT;
    ASSERT_EQ(bpf_object__load(obj_), 0) << "the verifier rejected the policy program";
    bpf_program* prog = bpf_object__find_program_by_name(obj_, "policy_decide");
    ASSERT_NE(prog, nullptr);
    prog_fd_ = bpf_program__fd(prog);
    group_fd_ = bpf_object__find_map_fd_by_name(obj_, "group");
    ASSERT_GE(group_fd_, 0);
  }
  void TearDown() override {
    if (obj_) bpf_object__close(obj_);
  }

  mdn_decision run(const mdn_group& g, const PolicyCase& c) {
    const uint32_t key = 0;
    EXPECT_EQ(bpf_map_update_elem(group_fd_, &key, &g, BPF_ANY), 0) << std::strerror(errno);
    PolicyCase out{};
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = &c;
    opts.data_out = &out;
    opts.data_size_in = sizeof(c);
    opts.data_size_out = sizeof(out);
    opts.repeat = 1;
    EXPECT_EQ(bpf_prog_test_run_opts(prog_fd_, &opts), 0) << std::strerror(errno);
    EXPECT_EQ(opts.retval, static_cast<__u32>(XDP_PASS));
    return out.decision;
  }

  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  int group_fd_ = -1;
};

TEST_F(PolicyBpf, KernelAndUserspaceDecideIdentically) {
  std::mt19937_64 rng(20261125);
  auto pick = [&](uint64_t n) { return static_cast<uint32_t>(rng() % n); };
  std::uniform_real_distribution<double> lat(-80, 80), lon(-180, 180);
  int compared = 0;
  std::vector<int> per_outcome(3, 0);
  for (int iter = 0; iter < 1500; ++iter) {
    const uint8_t policy = static_cast<uint8_t>(pick(8));
    const uint32_t count = 1 + pick(iter % 10 == 0 ? MDN_GROUP_MAX : 12);
    std::vector<Cand> cands;
    for (uint32_t i = 0; i < count; ++i) {
      Cand c;
      c.health = pick(4) == 0 ? MDN_NO_HEALTH : pick(64);
      if (policy == MDN_POLICY_GEOLOCATION)
        c.location = pick(6) == 0 ? MDN_GEO_LOCATION(MDN_GEO_LEVEL_DEFAULT, 0)
                                  : MDN_GEO_LOCATION(1 + pick(3), 1 + pick(3));
      else if (policy == MDN_POLICY_IP_BASED)
        c.location = pick(5) == 0 ? MDN_CIDR_DEFAULT : 1 + pick(6);
      else
        c.location = pick(16);
      c.weight = static_cast<uint8_t>(pick(3) == 0 ? 0 : pick(256));
      c.role = static_cast<uint8_t>(pick(2));
      c.bias = static_cast<int8_t>(static_cast<int>(pick(199)) - 99);
      c.at = {lat(rng), lon(rng)};
      cands.push_back(c);
    }
    const mdn_group g = make_group(policy, cands, static_cast<uint8_t>(pick(3)), 1);
    PolicyCase c = make_case();
    c.client.continent = static_cast<uint16_t>(pick(4));
    c.client.country = static_cast<uint16_t>(pick(4));
    c.client.subdivision = static_cast<uint16_t>(pick(4));
    if (pick(4) != 0) {
      c.client.point = geo::to_point({lat(rng), lon(rng)});
      c.client.has_point = 1;
    }
    c.client.latency_profile = pick(2);
    c.healthy = pick(3) == 0 ? 0 : (pick(3) == 0 ? ~0ULL : rng());
    c.cidr = pick(4) == 0 ? MDN_NO_LOCATION : 1 + pick(6);
    c.rng = static_cast<uint32_t>(rng()) | 1;
    for (auto& l : c.latency) l = pick(3) == 0 ? MDN_NO_LATENCY : pick(300);

    PolicyCase user = c;
    mdn_decision want;
    mdn_policy_decide(&user, &g, &user.client, &want);
    const mdn_decision got = run(g, c);
    ASSERT_EQ(std::memcmp(&got, &want, sizeof(want)), 0)
        << "iteration " << iter << " policy " << int(policy) << ": kernel chose " << std::hex
        << got.chosen << " outcome " << int(got.outcome) << ", userspace " << want.chosen
        << " outcome " << int(want.outcome);
    ++per_outcome[want.outcome];
    ++compared;
  }
  EXPECT_EQ(compared, 1500);
  // The corpus reaches every outcome.
  EXPECT_GT(per_outcome[MDN_OUTCOME_ANSWER], 0);
  EXPECT_GT(per_outcome[MDN_OUTCOME_NODATA], 0);
  EXPECT_GT(per_outcome[MDN_OUTCOME_SERVFAIL], 0);
}

TEST_F(PolicyBpf, KernelWeightedChoicesFitTheWeights) {
  // The same chi-square check as policy_rules_test, on the kernel's choices (p = 0.001, df 3:
  // critical value 16.266), each run with a different seed in the packet.
  const mdn_group g = make_group(MDN_POLICY_WEIGHTED, {{.health = 0, .weight = 10},
                                                       {.health = 1, .weight = 20},
                                                       {.health = 2, .weight = 30},
                                                       {.health = 3, .weight = 40}});
  const int n = 10000;
  std::vector<int> counts(4, 0);
  std::mt19937 seeds(7);
  for (int i = 0; i < n; ++i) {
    PolicyCase c = make_case();
    c.rng = seeds() | 1;
    const mdn_decision d = run(g, c);
    ASSERT_EQ(d.outcome, MDN_OUTCOME_ANSWER);
    for (int k = 0; k < 4; ++k)
      if (d.chosen == (1ULL << k)) ++counts[k];
  }
  double x = 0;
  const double share[4] = {0.1, 0.2, 0.3, 0.4};
  for (int k = 0; k < 4; ++k)
    x += (counts[k] - n * share[k]) * (counts[k] - n * share[k]) / (n * share[k]);
  EXPECT_LT(x, 16.266);
}

}  // namespace
}  // namespace meridian::policy::test
