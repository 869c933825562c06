// Query log sampling in the XDP program (bpf/query_log.h) through BPF_PROG_TEST_RUN on the real
// program: with mdn_control.qlog_sample 1 every answer (static, policy, NODATA, NXDOMAIN) puts
// exactly one event on mdn_qlog with the client, type, rcode, name and ECS of the query; with 0
// none; with N the count over 4,000 answers fits the binomial law; queries passed up, rate
// limited (dropped or slipped) give none; a full ring is counted; replies are the same bytes with
// and without sampling; and XdpQueryLogReader turns the events into query log entries.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "abi/heartbeat.h"
#include "answer/responder.h"
#include "bpf/frame_builder.h"
#include "bpf/xdp_test_support.h"
#include "dns/name.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/policy_compiler.h"
#include "fastpath/xdp_program.h"
#include "fastpath/xdp_query_log.h"
#include "meridian_rrl.h"
#include "policy/gslb_engine.h"
#include "unit/route53_text.h"
#include "zone/master_file.h"
#include "zone/route53_json.h"

namespace meridian {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::FrameSpec;
using testing::QuerySpec;

constexpr const char* kZoneQ =
    "$ORIGIN q.\n$TTL 300\n"
    "@ SOA ns1.q. hostmaster.example.org. 1 7200 900 1209600 60\n"
    "@ NS ns1.q.\n"
    "ns1 A 198.18.0.53\n"
    "www A 198.18.1.2\n"
    "www AAAA fd00:18::2\n"
    "*.wild A 198.18.3.1\n";

std::string policy_zone_json() {
  std::vector<std::string> sets = testing::route53_apex("example.com.", "198.51.100.53");
  sets.push_back(testing::route53_set("w.example.com.", R"("SetIdentifier": "a", "Weight": 1)",
                                      "198.51.100.1"));
  return testing::route53_document(sets);
}

const Bytes kClient4 = {198, 18, 7, 9};
const Bytes kClient6 = {0xfd, 0, 0, 0x18, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};

// Events read from the ring buffer with libbpf's consumer.
class Ring {
 public:
  explicit Ring(int fd) : rb_(ring_buffer__new(fd, &Ring::on_record, this, nullptr)) {}
  ~Ring() {
    if (rb_) ring_buffer__free(rb_);
  }
  bool ok() const { return rb_ != nullptr; }
  std::vector<mdn_qlog_event> take() {
    ring_buffer__consume(rb_);
    return std::move(events_);
  }

 private:
  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Ring*>(ctx);
    EXPECT_EQ(size, sizeof(mdn_qlog_event));
    mdn_qlog_event e{};
    std::memcpy(&e, data, std::min(size, sizeof e));
    self->events_.push_back(e);
    return 0;
  }
  ring_buffer* rb_;
  std::vector<mdn_qlog_event> events_;
};

class XdpQueryLog : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_bpf_privileges()) return;
    auto q = zone::parse_master_file(kZoneQ, *dns::Name::from_text("q."), "q.zone");
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    auto example =
        zone::parse_route53_json(policy_zone_json(), *dns::Name::from_text("example.com."), "test");
    ASSERT_TRUE(example.ok()) << example.error().to_string();
    const zone::ZoneSet plain({std::make_shared<const zone::Zone>(std::move(*q)),
                               std::make_shared<const zone::Zone>(std::move(*example))});
    auto attached = policy::attach_gslb(plain, policy::GslbInputs{});
    ASSERT_TRUE(attached.ok()) << attached.error().to_string();
    zones_ = new std::shared_ptr<const zone::ZoneSet>(*attached);
    answer::ResponderConfig config;
    config.shuffle_rrsets = false;  // one byte sequence per answer
    responder_ = new answer::Responder(config);

    auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
    ASSERT_TRUE(program.ok()) << program.error().to_string();
    program_ = program.value().release();
    writer_ = new fastpath::MapWriter(program_->map_fds(), 1000);
    entries_ = new std::vector<fastpath::FastPathEntry>(
        fastpath::AnswerCompiler(*responder_).compile(**zones_, nullptr));
    tables_ = new fastpath::PolicyTables();
    fastpath::PolicyCompileStats stats;
    fastpath::PolicyCompiler(*responder_).compile(**zones_, *entries_, *tables_, &stats);
    ASSERT_EQ(stats.groups, 1u);
    auto published = writer_->publish(*entries_, *tables_);
    ASSERT_TRUE(published.ok()) << published.error().to_string();
    ring_ = new Ring(program_->map_fds().qlog);
    ASSERT_TRUE(ring_->ok()) << "ring_buffer__new failed";
  }
  static void TearDownTestSuite() {
    delete ring_;
    delete tables_;
    delete entries_;
    delete writer_;
    delete program_;
    delete responder_;
    delete zones_;
  }
  void SetUp() override {
    if (!testing::have_bpf_privileges()) GTEST_SKIP() << "needs CAP_BPF or CAP_SYS_ADMIN";
    mdn_rrl_config off{};
    ASSERT_TRUE(writer_->write_rrl(off, {}).ok());
    sample(0);
    ring_->take();  // nothing left over from an earlier test
  }

  static void sample(uint32_t n) { ASSERT_TRUE(writer_->set_query_log_sample(n).ok()); }

  static FrameSpec frame(const std::string& name, uint16_t qtype, const Bytes& client,
                         Bytes ecs_option = {}) {
    QuerySpec q;
    q.name = name;
    q.qtype = qtype;
    if (!ecs_option.empty()) {
      q.edns = true;
      q.options = std::move(ecs_option);
    }
    FrameSpec f;
    f.ipv6 = client.size() == 16;
    f.client_address = client;
    f.dns = testing::make_query(q);
    return f;
  }

  static testing::RunResult xdp(const FrameSpec& f) {
    return testing::run_frame(program_->program_fd(), testing::build_frame(f));
  }

  static Bytes userspace(const FrameSpec& f) {
    Bytes reply;
    EXPECT_EQ(responder_->respond(**zones_, f.dns, testing::udp_context(f.client_address), reply),
              answer::Disposition::kReply);
    return reply;
  }

  static uint64_t stat(int index) {
    auto stats = writer_->read_stats();
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? (*stats)[static_cast<size_t>(index)] : 0;
  }

  static inline std::shared_ptr<const zone::ZoneSet>* zones_ = nullptr;
  static inline answer::Responder* responder_ = nullptr;
  static inline fastpath::XdpProgram* program_ = nullptr;
  static inline fastpath::MapWriter* writer_ = nullptr;
  static inline std::vector<fastpath::FastPathEntry>* entries_ = nullptr;
  static inline fastpath::PolicyTables* tables_ = nullptr;
  static inline Ring* ring_ = nullptr;
};

struct Row {
  const char* description;
  FrameSpec frame;
  uint16_t qtype;
  uint8_t kind;
  uint8_t rcode;
  std::string qname;  // as logged
  uint8_t ecs_family = 0;
  uint8_t ecs_source = 0;
  Bytes ecs_address = {};  // as sent
  std::string ecs_text = "";
};

TEST_F(XdpQueryLog, SampleOneLogsEveryAnswerExactlyOnce) {
  const std::vector<Row> rows = {
      {"IPv4, static, mixed case", frame("WwW.Q.", 1, kClient4), 1, MDN_QLOG_STATIC, 0, "www.q"},
      {"IPv6, AAAA, ECS IPv4 /24",
       frame("www.q.", 28, kClient6, testing::ecs(1, 24, {198, 18, 0})),
       28,
       MDN_QLOG_STATIC,
       0,
       "www.q",
       1,
       24,
       {198, 18, 0},
       "198.18.0.0/24"},
      {"IPv4, ECS IPv6 /48",
       frame("www.q.", 1, kClient4, testing::ecs(2, 48, {0x20, 0x01, 0x0d, 0xb8, 0, 1})),
       1,
       MDN_QLOG_STATIC,
       0,
       "www.q",
       2,
       48,
       {0x20, 0x01, 0x0d, 0xb8, 0, 1},
       "2001:db8:1::/48"},
      {"IPv4, ECS /0",
       frame("www.q.", 1, kClient4, testing::ecs(1, 0, {})),
       1,
       MDN_QLOG_STATIC,
       0,
       "www.q",
       1,
       0,
       {},
       "0.0.0.0/0"},
      {"NXDOMAIN", frame("No-Such.q.", 1, kClient4), 1, MDN_QLOG_NXDOMAIN, 3, "no-such.q"},
      {"NXDOMAIN two labels below, IPv6", frame("a.b.q.", 28, kClient6), 28, MDN_QLOG_NXDOMAIN, 3,
       "a.b.q"},
      {"NODATA", frame("www.q.", 15, kClient4), 15, MDN_QLOG_NODATA, 0, "www.q"},
      {"routing policy", frame("w.example.com.", 1, kClient4), 1, MDN_QLOG_POLICY, 0,
       "w.example.com"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.description);
    const Bytes expected = testing::expected_reply_frame(row.frame, userspace(row.frame));
    sample(0);
    const auto quiet = xdp(row.frame);
    ASSERT_EQ(quiet.action, static_cast<uint32_t>(XDP_TX));
    EXPECT_EQ(quiet.frame, expected);
    EXPECT_TRUE(ring_->take().empty());

    sample(1);
    const uint64_t before_ns = static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch() / std::chrono::nanoseconds(1));
    const auto logged = xdp(row.frame);
    ASSERT_EQ(logged.action, static_cast<uint32_t>(XDP_TX));
    EXPECT_EQ(logged.frame, expected) << "sampling changed the reply";
    const auto events = ring_->take();
    ASSERT_EQ(events.size(), 1u);
    const mdn_qlog_event& e = events[0];
    EXPECT_GE(e.timestamp_ns, before_ns);  // steady_clock is CLOCK_MONOTONIC, as the program's
    EXPECT_EQ(e.kind, row.kind);
    EXPECT_EQ(e.rcode, row.rcode);
    EXPECT_EQ(e.qtype, row.qtype);
    const bool v6 = row.frame.ipv6;
    EXPECT_EQ(e.family, v6 ? MDN_FAMILY_IPV6 : MDN_FAMILY_IPV4);
    Bytes client(16, 0);
    std::copy(row.frame.client_address.begin(), row.frame.client_address.end(), client.begin());
    EXPECT_EQ(Bytes(e.client, e.client + 16), client);
    EXPECT_EQ(e.ecs_family, row.ecs_family);
    EXPECT_EQ(e.ecs_source, row.ecs_source);
    Bytes ecs_address(16, 0);
    std::copy(row.ecs_address.begin(), row.ecs_address.end(), ecs_address.begin());
    EXPECT_EQ(Bytes(e.ecs_addr, e.ecs_addr + 16), ecs_address);
    // The name as the program keys it: the query's wire name, lowercased.
    auto name = dns::Name::from_text(row.qname + ".");
    ASSERT_TRUE(name.ok());
    const std::string key = name->key();
    ASSERT_EQ(e.name_len, key.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.qname), e.name_len), key);

    observe::QueryLogEntry entry;
    ASSERT_TRUE(fastpath::query_log_entry(
        e, std::chrono::nanoseconds(0), [](const dns::Name&) { return std::string("Z1"); },
        &entry));
    EXPECT_EQ(entry.qname, row.qname);
    EXPECT_EQ(entry.ecs, row.ecs_text);
    EXPECT_EQ(entry.hosted_zone_id, "Z1");
    EXPECT_EQ(entry.resolver_ip, v6 ? "fd00:18:7::99" : "198.18.7.9");
    EXPECT_FALSE(entry.tcp);
  }
}

TEST_F(XdpQueryLog, SampleZeroLogsNothing) {
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(xdp(frame("www.q.", 1, kClient4)).action, static_cast<uint32_t>(XDP_TX));
  EXPECT_TRUE(ring_->take().empty());
}

// Publishing a new generation rewrites mdn_control: the sample rate and the heartbeat must
// survive it.
TEST_F(XdpQueryLog, PublishKeepsTheSampleRateAndHeartbeat) {
  sample(7);
  const uint64_t beat = abi::monotonic_ns();
  ASSERT_TRUE(writer_->write_heartbeat(beat, 3000000000ull).ok());
  ASSERT_TRUE(writer_->publish(*entries_, *tables_).ok());
  ASSERT_TRUE(writer_->publish(*entries_, *tables_).ok());
  auto rate = writer_->query_log_sample();
  ASSERT_TRUE(rate.ok());
  EXPECT_EQ(*rate, 7u);
  auto control = writer_->read_control();
  ASSERT_TRUE(control.ok());
  EXPECT_EQ(control->heartbeat_ns, beat);
  EXPECT_EQ(control->stale_after_ns, 3000000000ull);
  ASSERT_TRUE(writer_->write_heartbeat(0, 0).ok());  // the other tests: never stale
  sample(1);
  ASSERT_TRUE(writer_->publish(*entries_, *tables_).ok());
  ASSERT_EQ(xdp(frame("www.q.", 1, kClient4)).action, static_cast<uint32_t>(XDP_TX));
  EXPECT_EQ(ring_->take().size(), 1u);
}

TEST_F(XdpQueryLog, PassedUpQueriesAreNotLogged) {
  sample(1);
  FrameSpec tcp = frame("www.q.", 1, kClient4);
  tcp.ip_protocol = 6;
  FrameSpec other_port = frame("www.q.", 1, kClient4);
  other_port.dest_port = 5353;
  const std::vector<std::pair<const char*, FrameSpec>> passed = {
      {"other zone", frame("www.elsewhere.", 1, kClient4)},
      {"wildcard", frame("x.wild.q.", 1, kClient4)},
      {"ANY", frame("www.q.", 255, kClient4)},
      {"TCP", tcp},
      {"other port", other_port},
  };
  for (const auto& [what, f] : passed) {
    SCOPED_TRACE(what);
    const Bytes in = testing::build_frame(f);
    const auto r = testing::run_frame(program_->program_fd(), in);
    EXPECT_EQ(r.action, static_cast<uint32_t>(XDP_PASS));
    EXPECT_EQ(r.frame, in);
  }
  EXPECT_TRUE(ring_->take().empty());
}

// Rate-limited replies are not answers: neither a drop nor a slip is logged.
TEST_F(XdpQueryLog, RateLimitedRepliesAreNotLogged) {
  sample(1);
  for (uint32_t slip : {0u, 1u}) {
    SCOPED_TRACE(slip ? "slip 1" : "slip 0");
    mdn_rrl_config c{};
    mdn_rrl_config_init(&c, 1, 5, slip, 24, 56);
    ASSERT_TRUE(writer_->write_rrl(c, {}).ok());
    const Bytes source = {198, 18, static_cast<uint8_t>(100 + slip), 1};  // a fresh bucket
    int tx = 0;
    for (int i = 0; i < 30; ++i) tx += xdp(frame("www.q.", 1, source)).action == XDP_TX ? 1 : 0;
    EXPECT_EQ(tx, slip ? 30 : 5);
    EXPECT_EQ(ring_->take().size(), 5u) << "only the burst was answered";
  }
}

// One in N: the count over 4,000 answers within the binomial's p = 0.001 bounds (|z| < 3.29).
// The generator cannot be seeded: a sample outside is drawn once more, and both must be outside
// to fail (1 in 10^6 for a fair generator).
TEST_F(XdpQueryLog, OneInNFitsTheBinomialLaw) {
  constexpr int kQueries = 4000;
  for (uint32_t n : {4u, 25u}) {
    SCOPED_TRACE("one in " + std::to_string(n));
    sample(n);
    const double mean = kQueries / static_cast<double>(n);
    const double bound = 3.29 * std::sqrt(kQueries * (1.0 / n) * (1.0 - 1.0 / n));
    auto draw = [&] {
      const Bytes in = testing::build_frame(frame("www.q.", 1, kClient4));
      for (int i = 0; i < kQueries; ++i)
        EXPECT_EQ(testing::run_frame(program_->program_fd(), in).action,
                  static_cast<uint32_t>(XDP_TX));
      const double got = static_cast<double>(ring_->take().size());
      std::printf("one in %u: %.0f events for %d answers (expected %.1f +- %.1f)\n", n, got,
                  kQueries, mean, bound);
      return std::fabs(got - mean) < bound;
    };
    if (!draw()) EXPECT_TRUE(draw()) << "two samples outside the p = 0.001 bounds";
  }
}

// A ring nobody reads fills up: further sampled answers are counted, and still sent.
TEST_F(XdpQueryLog, FullRingIsCountedAsLost) {
  sample(1);
  const uint64_t lost_before = stat(MDN_STAT_QLOG_LOST);
  constexpr int kQueries = 4000;  // more than MDN_QLOG_RING_BYTES holds (~3,270 events)
  const Bytes in = testing::build_frame(frame("www.q.", 1, kClient4));
  for (int i = 0; i < kQueries; ++i)
    ASSERT_EQ(testing::run_frame(program_->program_fd(), in).action, static_cast<uint32_t>(XDP_TX));
  const uint64_t lost = stat(MDN_STAT_QLOG_LOST) - lost_before;
  const size_t read = ring_->take().size();
  EXPECT_GT(lost, 0u);
  EXPECT_EQ(read + lost, static_cast<uint64_t>(kQueries));
  EXPECT_GT(read, 3000u);
}

// The reader thread: every event arrives at the sink converted, with a realtime timestamp and
// the hosted zone id the callback gives; stop() is prompt.
TEST_F(XdpQueryLog, ReaderDeliversEntries) {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<observe::QueryLogEntry> got;
  auto reader = fastpath::XdpQueryLogReader::start(
      program_->map_fds().qlog,
      [](const dns::Name& qname) {
        return qname.is_subdomain_of(*dns::Name::from_text("q.")) ? std::string("ZQ")
                                                                  : std::string();
      },
      [&](const observe::QueryLogEntry& e) {
        std::lock_guard<std::mutex> lock(mutex);
        got.push_back(e);
        cv.notify_all();
      });
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  sample(1);
  const auto before = std::chrono::system_clock::now();
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(xdp(frame("www.q.", 1, kClient4)).action, static_cast<uint32_t>(XDP_TX));
  ASSERT_EQ(xdp(frame("w.example.com.", 1, kClient6)).action, static_cast<uint32_t>(XDP_TX));
  const auto after = std::chrono::system_clock::now();
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return got.size() >= 11; }))
        << got.size() << " entries";
  }
  const auto stop_start = std::chrono::steady_clock::now();
  (*reader)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(1));
  EXPECT_EQ((*reader)->events(), 11u);
  EXPECT_EQ((*reader)->bad_events(), 0u);
  ASSERT_EQ(got.size(), 11u);
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& e = got[i];
    // Monotonic to realtime: within the run, give or take the conversion's error.
    EXPECT_GE(e.time, before - std::chrono::milliseconds(50));
    EXPECT_LE(e.time, after + std::chrono::milliseconds(50));
    if (i < 10) {
      EXPECT_EQ(observe::format_query_log_line(e, "FRA6").substr(29),
                "ZQ www.q A NOERROR UDP FRA6 198.18.7.9 -");
    } else {
      EXPECT_EQ(observe::format_query_log_line(e, "FRA6").substr(29),
                "- w.example.com A NOERROR UDP FRA6 fd00:18:7::99 -");
    }
  }
}

}  // namespace
}  // namespace meridian
