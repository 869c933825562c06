// Negative answers in the XDP program (NODATA at existing names, NXDOMAIN below a closest
// encloser): fixture rows through BPF_PROG_TEST_RUN on the real program with maps filled by the
// production AnswerCompiler and MapWriter, each XDP reply equal byte for byte to the userspace
// Responder's, each pass-up untouched; and the acceptance run of 100,000 random names.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "bpf/frame_builder.h"
#include "bpf/xdp_test_support.h"
#include "dns/name.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/xdp_program.h"
#include "zone/master_file.h"

namespace meridian {
namespace {

using testing::ecs;
using testing::FrameSpec;
using testing::have_bpf_privileges;
using testing::make_query;
using testing::QuerySpec;

// n.: the SOA's RNAME is below the apex at a name that does not exist (hostmaster.n.), so names
// under that label go up; b.c.n. and c.n. are empty non-terminals; sub.n. is delegated.
constexpr const char* kZoneN =
    "$ORIGIN n.\n$TTL 300\n"
    "@ SOA ns1.n. hostmaster.n. 1 7200 900 1209600 60\n"
    "@ NS ns1.n.\n"
    "ns1 A 198.18.0.53\n"
    "www A 198.18.1.2\n"
    "www AAAA fd00:18::2\n"
    "a.b.c A 198.18.1.3\n"
    "alias CNAME www\n"
    "sub NS ns.sub\n"
    "ns.sub A 198.18.2.1\n"
    "*.wild A 198.18.3.1\n"
    "txt TXT \"x\"\n";
// w.: a wildcard at the apex answers every missing name below it.
constexpr const char* kZoneW =
    "$ORIGIN w.\n$TTL 300\n"
    "@ SOA ns1.w. hostmaster.example.org. 1 7200 900 1209600 120\n"
    "@ NS ns1.w.\n"
    "ns1 A 198.18.0.54\n"
    "* A 198.18.4.1\n";
// f.: the flood zone of the acceptance test; SOA names outside its random children.
constexpr const char* kZoneF =
    "$ORIGIN f.\n$TTL 3600\n"
    "@ SOA ns1.f. hostmaster.example.org. 7 7200 900 1209600 30\n"
    "@ NS ns1.f.\n"
    "ns1 A 198.18.0.55\n"
    "www A 198.18.5.1\n";

zone::Zone load(const char* text, const char* origin) {
  auto z = zone::parse_master_file(text, *dns::Name::from_text(origin), origin);
  EXPECT_TRUE(z.ok()) << z.error().to_string();
  return std::move(z.value());
}

answer::ResponderConfig fixed_order() {
  answer::ResponderConfig c;
  c.shuffle_rrsets = false;
  return c;
}

class XdpNegative : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_bpf_privileges()) return;
    zones_ = new zone::ZoneSet({std::make_shared<const zone::Zone>(load(kZoneN, "n.")),
                                std::make_shared<const zone::Zone>(load(kZoneW, "w.")),
                                std::make_shared<const zone::Zone>(load(kZoneF, "f."))});
    responder_ = new answer::Responder(fixed_order());
    auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
    ASSERT_TRUE(program.ok()) << program.error().to_string();
    program_ = program.value().release();
    auto entries = fastpath::AnswerCompiler(*responder_).compile(*zones_, &stats_);
    writer_ = new fastpath::MapWriter(program_->map_fds(), 1000);
    auto published = writer_->publish(entries);
    ASSERT_TRUE(published.ok()) << published.error().to_string();
    ASSERT_EQ(published->published, entries.size());
  }
  static void TearDownTestSuite() {
    delete writer_;
    delete program_;
    delete responder_;
    delete zones_;
  }
  void SetUp() override {
    if (!have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
  }

  static std::array<uint64_t, MDN_STAT_COUNT> stats() {
    auto s = writer_->read_stats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : std::array<uint64_t, MDN_STAT_COUNT>{};
  }
  static std::vector<uint8_t> userspace_reply(const std::vector<uint8_t>& query) {
    std::vector<uint8_t> reply;
    answer::QueryContext ctx;
    ctx.transport = answer::Transport::kUdp;
    EXPECT_EQ(responder_->respond(*zones_, query, ctx, reply), answer::Disposition::kReply);
    return reply;
  }
  static uint64_t passed(const std::array<uint64_t, MDN_STAT_COUNT>& s) {
    uint64_t total = 0;
    for (int i = MDN_STAT_PASS_NOT_IP; i <= MDN_STAT_PASS_IPV6_EXT; ++i) total += s[i];
    return total + s[MDN_STAT_PASS_POLICY];
  }

  static inline zone::ZoneSet* zones_ = nullptr;
  static inline answer::Responder* responder_ = nullptr;
  static inline fastpath::XdpProgram* program_ = nullptr;
  static inline fastpath::MapWriter* writer_ = nullptr;
  static inline fastpath::CompileStats stats_{};
};

struct Row {
  const char* description;
  std::string name;
  uint16_t qtype;
  uint32_t action;  // XDP_TX or XDP_PASS
  int counter;      // mdn_stat that must move by one
  uint16_t rcode;   // of the userspace reply (checked for XDP_TX rows)
  std::function<void(FrameSpec&, QuerySpec&)> setup = nullptr;
};

std::string deep_name(int labels) {
  std::string name;
  for (int i = 0; i < labels; ++i) name += "l" + std::to_string(i) + ".";
  return name + "nope.n.";
}

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      {"NODATA at a name", "www.n.", 16, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NODATA at a name, type absent everywhere", "www.n.", 65000, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NODATA at an empty non-terminal", "c.n.", 1, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NODATA at a deeper empty non-terminal", "B.c.N.", 28, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NODATA at the apex", "n.", 28, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NODATA DS at a name that is no cut", "www.n.", 43, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NODATA at the empty parent of a wildcard", "wild.n.", 1, XDP_TX, MDN_STAT_HIT_NODATA, 0},
      {"NXDOMAIN one label below the apex", "nope.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN three labels below the apex", "a.b.nope.n.", 28, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN eight labels below the apex (the walk's bound)", deep_name(7), 1, XDP_TX,
       MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN below an empty non-terminal", "zz.b.c.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN below a name with data", "x.www.n.", 16, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN mixed case", "NoPe.N.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN 63-octet label", std::string(63, 'Q') + ".n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN,
       3},
      {"NXDOMAIN a label sharing 7 letters with the RNAME's but longer", "hostmastery.n.", 1,
       XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN below the MNAME (it exists)", "x.ns1.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3},
      {"NXDOMAIN IPv6 with EDNS", "nope.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3,
       [](FrameSpec& f, QuerySpec& q) {
         f.ipv6 = true;
         q.edns = true;
       }},
      {"NXDOMAIN with ECS and DO", "nope.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3,
       [](FrameSpec&, QuerySpec& q) {
         q.edns = true;
         q.do_bit = true;
         q.options = ecs(1, 24, {198, 51, 100});
       }},
      {"NODATA IPv6 with ECS, two VLAN tags", "c.n.", 16, XDP_TX, MDN_STAT_HIT_NODATA, 0,
       [](FrameSpec& f, QuerySpec& q) {
         f.ipv6 = true;
         f.vlan_tags = 2;
         q.edns = true;
         q.options = ecs(2, 56, {0x20, 0x01, 0x0d, 0xb8, 0, 1, 2});
       }},
      {"NXDOMAIN IPv4 options", "nope.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3,
       [](FrameSpec& f, QuerySpec&) {
         f.ip_options = {1, 1, 1, 0};
       }},
      {"NXDOMAIN without RD", "nope.n.", 1, XDP_TX, MDN_STAT_HIT_NXDOMAIN, 3,
       [](FrameSpec&, QuerySpec& q) { q.flags = 0; }},
      // Pass-ups: what the entries cannot make exact goes to userspace, untouched.
      {"the RNAME's label under the apex (it would compress)", "hostmaster.n.", 1, XDP_PASS,
       MDN_STAT_PASS_NAME_MISS, 0},
      {"below the RNAME's label", "x.HostMaster.n.", 1, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"wildcard below a name", "x.wild.n.", 1, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"wildcard zone: a missing name gets the wildcard", "nope.w.", 28, XDP_PASS,
       MDN_STAT_PASS_NAME_MISS, 0},
      {"below a delegation", "x.sub.n.", 1, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"a missing type at a delegation", "sub.n.", 28, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"glue below a delegation", "ns.sub.n.", 28, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"a type at a CNAME not compiled", "alias.n.", 99, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"below a CNAME", "x.alias.n.", 1, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"ANY at a missing name", "nope.n.", 255, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"ANY at a name", "c.n.", 255, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"AXFR", "n.", 252, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"IXFR", "nope.n.", 251, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"type 0 at a name (its own key)", "www.n.", 0, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"type OPT", "www.n.", 41, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"meta type 128", "nope.n.", 128, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
      {"nine labels below the closest encloser (past the walk)", deep_name(8), 1, XDP_PASS,
       MDN_STAT_PASS_NAME_MISS, 0},
      {"a name outside our zones", "nope.example.", 1, XDP_PASS, MDN_STAT_PASS_NAME_MISS, 0},
  };
  return table;
}

TEST_F(XdpNegative, CompilerCounts) {
  // n.: 12 names (apex, ns1, www, a.b.c, b.c, c, alias, sub, ns.sub, *.wild, wild, txt).
  EXPECT_EQ(stats_.negative_cut, 2u) << "sub.n. and ns.sub.n.";
  EXPECT_EQ(stats_.negative_cname, 3u) << "alias.n., *.wild.n., *.w.";
  EXPECT_EQ(stats_.negative_wildcard_child, 2u) << "wild.n. and w.";
  EXPECT_EQ(stats_.negative_unverified, 0u);
  // NODATA: n. 8 names, w. 2 (apex, ns1), f. 3.
  EXPECT_EQ(stats_.nodata, 13u);
  // NXDOMAIN: NODATA names but wild.n. and w.
  EXPECT_EQ(stats_.nxdomain_enclosers, 11u);
}

TEST_F(XdpNegative, FixtureRows) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.description);
    FrameSpec frame;
    QuerySpec query;
    query.name = row.name;
    query.qtype = row.qtype;
    if (row.setup) row.setup(frame, query);
    frame.dns = make_query(query);
    const auto input = testing::build_frame(frame);
    const auto before = stats();
    const testing::RunResult result = testing::run_frame(program_->program_fd(), input);
    const auto after = stats();
    EXPECT_EQ(result.action, row.action);
    EXPECT_EQ(after[row.counter], before[row.counter] + 1);
    if (row.action == XDP_PASS) {
      EXPECT_EQ(result.frame, input) << "a passed packet must go up untouched";
      continue;
    }
    const auto user = userspace_reply(frame.dns);
    ASSERT_GE(user.size(), 12u);
    EXPECT_EQ(user[3] & 0xf, row.rcode);
    EXPECT_EQ(user[6] | user[7], 0) << "no answer records";
    EXPECT_EQ(after[MDN_STAT_HIT_A] + after[MDN_STAT_HIT_AAAA] + after[MDN_STAT_HIT_TXT],
              before[MDN_STAT_HIT_A] + before[MDN_STAT_HIT_AAAA] + before[MDN_STAT_HIT_TXT])
        << "a negative answer is not counted as a hit of its type";
    EXPECT_EQ(result.frame, testing::expected_reply_frame(frame, user));
    FrameSpec reply_spec = frame;
    reply_spec.ip_options.clear();
    EXPECT_TRUE(testing::checksums_valid(result.frame, reply_spec));
  }
}

// The acceptance run: 100,000 random names (labels of 1 to 63 random letters, digits and
// hyphens in random case, one to three labels) under f., IPv4 and IPv6, with and without EDNS:
// every one answered NXDOMAIN by XDP, byte for byte the userspace reply, and nothing passed up.
TEST_F(XdpNegative, RandomSubdomainFloodAnsweredInXdp) {
  std::mt19937_64 rng(20261125);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  const zone::Zone* f = zones_->find_zone(*dns::Name::from_text("f."));
  ASSERT_NE(f, nullptr);
  constexpr int kQueries = 100000;
  const auto before = stats();
  int generated = 0, mismatches = 0;
  while (generated < kQueries) {
    std::string name;
    const int labels = 1 + static_cast<int>(rng() % 3);
    for (int l = 0; l < labels; ++l) {
      const size_t len = 1 + rng() % 63;
      std::string label;
      for (size_t i = 0; i < len; ++i) label += alphabet[rng() % alphabet.size()];
      name += label + ".";
    }
    name += "f.";
    auto parsed = dns::Name::from_text(name);
    ASSERT_TRUE(parsed.ok()) << name;
    if (parsed->wire_length() > 255) continue;
    // Names that exist (ns1, www) answer otherwise: not part of the flood.
    if (f->find(parsed->strip_left(parsed->label_count() - 2))) continue;
    QuerySpec q;
    q.name = name;
    q.qtype = (rng() & 1) ? 1 : 28;
    q.id = static_cast<uint16_t>(rng());
    q.edns = rng() & 1;
    FrameSpec frame;
    frame.ipv6 = rng() & 1;
    frame.dns = make_query(q);
    const testing::RunResult result =
        testing::run_frame(program_->program_fd(), testing::build_frame(frame));
    ++generated;
    if (result.action != XDP_TX ||
        result.frame != testing::expected_reply_frame(frame, userspace_reply(frame.dns))) {
      if (++mismatches <= 5) ADD_FAILURE() << "not answered exactly by XDP: " << name;
    }
  }
  const auto after = stats();
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(after[MDN_STAT_HIT_NXDOMAIN] - before[MDN_STAT_HIT_NXDOMAIN],
            static_cast<uint64_t>(kQueries));
  EXPECT_EQ(passed(after), passed(before)) << "userspace saw none of them";
  std::printf(
      "random-subdomain flood: %d names, %llu NXDOMAIN from XDP, %llu passed up\n", kQueries,
      static_cast<unsigned long long>(after[MDN_STAT_HIT_NXDOMAIN] - before[MDN_STAT_HIT_NXDOMAIN]),
      static_cast<unsigned long long>(passed(after) - passed(before)));
}

// A name map too small for every negative entry: the program must not answer NXDOMAIN (a missing
// name's walk could pass over an existing name whose entry was left out), NODATA still where its
// entry made it in.
TEST(XdpNegativeCapacity, LeftOutNegativeEntriesTurnNxdomainOff) {
  if (!have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
  const zone::ZoneSet zones({std::make_shared<const zone::Zone>(load(kZoneF, "f."))});
  const answer::Responder responder(fixed_order());
  auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
  ASSERT_TRUE(program.ok()) << program.error().to_string();
  const auto entries = fastpath::AnswerCompiler(responder).compile(zones, nullptr);
  size_t negative = 0;
  for (const auto& e : entries) negative += e.qtype == 0;
  ASSERT_EQ(negative, 3u);
  auto run = [&](const fastpath::MapWriter&, const std::string& name) {
    QuerySpec q;
    q.name = name;
    FrameSpec f;
    f.dns = make_query(q);
    return testing::run_frame((*program)->program_fd(), testing::build_frame(f)).action;
  };
  {
    fastpath::MapWriter writer((*program)->map_fds(), static_cast<uint32_t>(entries.size()));
    auto published = writer.publish(entries);
    ASSERT_TRUE(published.ok());
    EXPECT_EQ(published->map_full, 0u);
    EXPECT_EQ(run(writer, "nope.f."), static_cast<uint32_t>(XDP_TX));
  }
  {
    fastpath::MapWriter writer((*program)->map_fds(), static_cast<uint32_t>(entries.size() - 1));
    auto published = writer.publish(entries);
    ASSERT_TRUE(published.ok());
    EXPECT_EQ(published->map_full, 1u) << "one negative entry left out (they are written last)";
    EXPECT_EQ(run(writer, "nope.f."), static_cast<uint32_t>(XDP_PASS));
    EXPECT_EQ(run(writer, "www.f."), static_cast<uint32_t>(XDP_TX)) << "positive entries stay";
  }
}

}  // namespace
}  // namespace meridian
