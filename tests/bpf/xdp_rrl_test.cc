// Response rate limiting in the XDP program (bpf/rrl.h), through BPF_PROG_TEST_RUN on the real
// program: a flood from one /24 gets exactly its burst answered, then slip 0 drops every limited
// reply, slip 1 sends TC=1 for each, slip 2 for every other one; a slipped reply is byte for byte
// what userspace slips (rrl::make_slip_reply); an allow-listed source and another /24 are never
// limited by the flood; classes (answer, NXDOMAIN) have their own buckets.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <memory>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "bpf/frame_builder.h"
#include "bpf/xdp_test_support.h"
#include "dns/name.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/xdp_program.h"
#include "meridian_rrl.h"
#include "policy/ip_prefix.h"
#include "rrl/slip_reply.h"
#include "zone/master_file.h"

namespace meridian {
namespace {

using testing::FrameSpec;
using testing::QuerySpec;

constexpr int kBurst = 5;

class XdpRrl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
    auto zone = zone::parse_master_file(
        "$ORIGIN r.\n$TTL 300\n"
        "@ SOA ns1.r. hostmaster.r. 1 7200 900 1209600 60\n"
        "@ NS ns1.r.\n"
        "ns1 A 198.18.0.53\n"
        "www A 198.18.1.1\n",
        *dns::Name::from_text("r."), "r.zone");
    ASSERT_TRUE(zone.ok()) << zone.error().to_string();
    zones_ = std::make_unique<zone::ZoneSet>(
        std::vector{std::make_shared<const zone::Zone>(std::move(zone.value()))});
    auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
    ASSERT_TRUE(program.ok()) << program.error().to_string();
    program_ = std::move(program).value();
    writer_ = std::make_unique<fastpath::MapWriter>(program_->map_fds(), 100);
    ASSERT_TRUE(
        writer_->publish(fastpath::AnswerCompiler(responder_).compile(*zones_, nullptr)).ok());
  }

  // Rate 1 per second (nothing refills during a test run), burst kBurst.
  void limit(uint32_t slip, const std::vector<std::string>& allow = {}) {
    mdn_rrl_config c{};
    mdn_rrl_config_init(&c, 1, kBurst, slip, 24, 56);
    std::vector<policy::IpPrefix> prefixes;
    for (const auto& text : allow) prefixes.push_back(*policy::parse_prefix(text));
    ASSERT_TRUE(writer_->write_rrl(c, prefixes).ok());
  }

  static FrameSpec frame(std::vector<uint8_t> source, const std::string& name = "www.r.") {
    QuerySpec q;
    q.name = name;
    FrameSpec f;
    f.ipv6 = source.size() == 16;
    f.client_address = std::move(source);
    f.dns = testing::make_query(q);
    return f;
  }

  struct Counts {
    int answered = 0, slipped = 0, dropped = 0;
  };
  // Sends `n` queries; checks every reply is the userspace reply or its slipped form.
  Counts flood(const FrameSpec& f, int n) {
    Counts c;
    std::vector<uint8_t> reply;
    answer::QueryContext ctx;
    EXPECT_EQ(responder_.respond(*zones_, f.dns, ctx, reply), answer::Disposition::kReply);
    const auto full = testing::expected_reply_frame(f, reply);
    std::vector<uint8_t> slip_reply = reply;
    EXPECT_TRUE(rrl::make_slip_reply(slip_reply));
    const auto slipped = testing::expected_reply_frame(f, slip_reply);
    const auto in = testing::build_frame(f);
    for (int i = 0; i < n; ++i) {
      const auto r = testing::run_frame(program_->program_fd(), in);
      if (r.action == XDP_DROP) {
        ++c.dropped;
        continue;
      }
      EXPECT_EQ(r.action, static_cast<uint32_t>(XDP_TX));
      if (r.frame == full)
        ++c.answered;
      else if (r.frame == slipped)
        ++c.slipped;
      else
        ADD_FAILURE() << "reply " << i << " is neither the answer nor its slipped form";
    }
    return c;
  }

  uint64_t stat(int index) {
    auto stats = writer_->read_stats();
    return stats.ok() ? (*stats)[static_cast<size_t>(index)] : 0;
  }

  answer::Responder responder_{answer::ResponderConfig{}};
  std::unique_ptr<zone::ZoneSet> zones_;
  std::unique_ptr<fastpath::XdpProgram> program_;
  std::unique_ptr<fastpath::MapWriter> writer_;
};

const std::vector<uint8_t> kAttacker = {198, 18, 7, 9};

TEST_F(XdpRrl, OffByDefault) {
  const Counts c = flood(frame(kAttacker), 50);
  EXPECT_EQ(c.answered, 50);
}

TEST_F(XdpRrl, SlipZeroDropsEveryLimitedReply) {
  limit(0);
  const Counts c = flood(frame(kAttacker), 40);
  EXPECT_EQ(c.answered, kBurst);
  EXPECT_EQ(c.slipped, 0);
  EXPECT_EQ(c.dropped, 40 - kBurst);
  EXPECT_EQ(stat(MDN_STAT_RRL_DROPPED), static_cast<uint64_t>(40 - kBurst));
}

TEST_F(XdpRrl, SlipOneSendsTcForEveryLimitedReply) {
  limit(1);
  const Counts c = flood(frame(kAttacker), 40);
  EXPECT_EQ(c.answered, kBurst);
  EXPECT_EQ(c.slipped, 40 - kBurst);
  EXPECT_EQ(c.dropped, 0);
  EXPECT_EQ(stat(MDN_STAT_RRL_SLIPPED), static_cast<uint64_t>(40 - kBurst));
}

TEST_F(XdpRrl, SlipTwoSendsTcForEveryOtherLimitedReply) {
  limit(2);
  const Counts c = flood(frame(kAttacker), 41);
  EXPECT_EQ(c.answered, kBurst);
  EXPECT_EQ(c.slipped, (41 - kBurst) / 2);
  EXPECT_EQ(c.dropped, (41 - kBurst) - (41 - kBurst) / 2);
}

TEST_F(XdpRrl, AllowListAndOtherPrefixesAreNotLimited) {
  limit(0, {"198.18.9.0/24", "fd00:18:9::/48"});
  EXPECT_EQ(flood(frame(kAttacker), 30).answered, kBurst);
  // The same /24 as the attacker, another host: limited with it.
  EXPECT_EQ(flood(frame({198, 18, 7, 200}), 3).answered, 0);
  // Another /24: its own bucket, untouched by the flood.
  EXPECT_EQ(flood(frame({198, 18, 8, 1}), kBurst).answered, kBurst);
  // Allow-listed, IPv4 and IPv6: never limited.
  EXPECT_EQ(flood(frame({198, 18, 9, 4}), 30).answered, 30);
  std::vector<uint8_t> v6 = {0xfd, 0, 0, 0x18, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  EXPECT_EQ(flood(frame(v6), 30).answered, 30);
  // IPv6 outside the allow list: limited per /56.
  v6[5] = 0x0a;
  EXPECT_EQ(flood(frame(v6), 30).answered, kBurst);
}

TEST_F(XdpRrl, ReloadedAllowListTakesEffect) {
  limit(0);
  EXPECT_EQ(flood(frame(kAttacker), 20).answered, kBurst);
  limit(0, {"198.18.7.0/24"});
  EXPECT_EQ(flood(frame(kAttacker), 20).answered, 20);
  limit(0);
  EXPECT_EQ(flood(frame(kAttacker), 20).answered, 0) << "its bucket is still empty";
}

}  // namespace
}  // namespace meridian
