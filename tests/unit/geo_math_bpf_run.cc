// Same code on both paths: maps/meridian_geo.h compiled for BPF (geo_math_bpf_check.bpf.c),
// loaded through the kernel verifier, and run with BPF_PROG_TEST_RUN over random and edge-case
// point pairs; every distance and biased distance must equal the C++ build's result exactly.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "geo/geo_point.h"
#include "meridian_geo.h"

namespace meridian::geo {
namespace {

// The packet layout of geo_math_bpf_check.bpf.c.
struct GeoCase {
  mdn_geo_point a;
  mdn_geo_point b;
  std::int32_t bias;
  std::uint32_t km;
  std::uint32_t biased;
};
static_assert(sizeof(GeoCase) == 36);
constexpr int kCasesPerPacket = 16;

bool have_bpf_privileges() {
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr);
  if (fd < 0) return false;
  close(fd);
  return true;
}

class GeoMathBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
    obj_ = bpf_object__open_file(BPF_CHECK_OBJECT, nullptr);
    ASSERT_NE(obj_, nullptr) << "open " << BPF_CHECK_OBJECT;
    ASSERT_EQ(bpf_object__load(obj_), 0) << "the verifier rejected the geo math program";
    bpf_program* prog = bpf_object__find_program_by_name(obj_, "geo_math");
    ASSERT_NE(prog, nullptr);
    prog_fd_ = bpf_program__fd(prog);
  }
  void TearDown() override {
    if (obj_) bpf_object__close(obj_);
  }

  // Runs one packet of cases in the kernel and returns the cases with km/biased filled in.
  std::vector<GeoCase> run(const std::vector<GeoCase>& cases) {
    std::vector<GeoCase> out(cases.size());
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = cases.data();
    opts.data_out = out.data();
    opts.data_size_in = static_cast<__u32>(cases.size() * sizeof(GeoCase));
    opts.data_size_out = static_cast<__u32>(out.size() * sizeof(GeoCase));
    opts.repeat = 1;
    EXPECT_EQ(bpf_prog_test_run_opts(prog_fd_, &opts), 0) << std::strerror(errno);
    EXPECT_EQ(opts.retval, static_cast<__u32>(XDP_PASS));
    EXPECT_EQ(opts.data_size_out, cases.size() * sizeof(GeoCase));
    return out;
  }

  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
};

TEST_F(GeoMathBpf, KernelAndUserspaceComputeIdenticalDistances) {
  std::vector<GeoCase> cases;
  auto add = [&](LatLon a, LatLon b, int bias) {
    GeoCase c{};
    c.a = to_point(a);
    c.b = to_point(b);
    c.bias = bias;
    cases.push_back(c);
  };
  // Edge cases: the same point, antipodes, poles, the date line, the spec's bias example.
  add({51.5, -0.1}, {51.5, -0.1}, 0);
  add({90, 0}, {-90, 0}, 0);
  add({0, 0}, {0, 180}, 99);
  add({0, 179.9}, {0, -179.9}, -99);
  add({51.5074, -0.1278}, {40.7128, -74.0060}, 50);
  add({-33.9, 151.2}, {1.3, 103.8}, -1);
  std::mt19937_64 rng(4242);
  std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
  std::uniform_int_distribution<int> bias(-99, 99);
  while (cases.size() < 64 * kCasesPerPacket)
    add({lat(rng), lon(rng)}, {lat(rng), lon(rng)}, bias(rng));

  int compared = 0;
  for (std::size_t i = 0; i < cases.size(); i += kCasesPerPacket) {
    std::vector<GeoCase> packet(cases.begin() + i, cases.begin() + i + kCasesPerPacket);
    const std::vector<GeoCase> got = run(packet);
    ASSERT_EQ(got.size(), packet.size());
    for (std::size_t j = 0; j < packet.size(); ++j) {
      const std::uint32_t want_km = mdn_geo_distance_km(&packet[j].a, &packet[j].b);
      const std::uint32_t want_biased = mdn_geo_biased_km(want_km, packet[j].bias);
      EXPECT_EQ(got[j].km, want_km) << "case " << i + j;
      EXPECT_EQ(got[j].biased, want_biased) << "case " << i + j;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 64 * kCasesPerPacket);
  // The kernel's answer for a known pair, not only equal to ours: London to New York.
  EXPECT_NEAR(run({cases[4]})[0].km, 5570, 15);
}

}  // namespace
}  // namespace meridian::geo
