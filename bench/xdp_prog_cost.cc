// xdp_prog_cost: what the XDP fast path costs per query, in kernel-measured nanoseconds
// (BPF_PROG_TEST_RUN duration), for an A hit, an AAAA hit, an EDNS+ECS hit, a miss (a name in
// no zone), an NXDOMAIN answered by the program, and hits
// decided by the weighted, geolocation, latency and multivalue routing policies, against a floor
// program that only swaps addresses and returns XDP_TX. Maps are filled by the production
// compilers and MapWriter from tests/diff/data/diff.zone plus a Route 53 JSON zone of policy
// groups, with the default country database (when setup built it) for geolocation; frames come
// from the BPF tests' frame builder. Prints Google Benchmark's table, then ns/query and the ratio
// to the floor. Needs CAP_BPF (root).
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "bpf/frame_builder.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/types.h"
#include "dns/wire_writer.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/policy_compiler.h"
#include "fastpath/xdp_program.h"
#include "geo/geo_database.h"
#include "meridian_maps.h"
#include "policy/gslb_engine.h"
#include "unit/route53_text.h"
#include "zone/master_file.h"
#include "zone/route53_json.h"
#include "zone/zone_set.h"

namespace {

using meridian::testing::FrameSpec;
namespace dns = meridian::dns;
namespace fastpath = meridian::fastpath;

long env_number(const char* name, long fallback) {
  const char* env = std::getenv(name);
  const long v = env ? std::strtol(env, nullptr, 10) : 0;
  return v > 0 ? v : fallback;
}

// Runs per BPF_PROG_TEST_RUN call for the cases that survive being run on their own output.
uint32_t repeat_count() {
  return static_cast<uint32_t>(env_number("MERIDIAN_BENCH_REPEAT", 10000));
}

// Query runs per benchmark repetition. A fixed count, because Google Benchmark's minimum time
// would count manual (kernel) time only: reaching 0.5 s of 60 ns runs takes minutes of syscalls.
int64_t runs_per_repetition() {
  return env_number("MERIDIAN_BENCH_RUNS", 200000);
}

struct QueryShape {
  std::string name;
  uint16_t qtype = dns::rrtype::A;
  bool edns = false;
  bool ecs = false;
  // The ECS /24 sent: a documentation network by default; a public one (found in a country
  // database) for the geolocation and latency cases.
  std::array<uint8_t, 3> ecs_network = {198, 51, 100};
};

// The policy groups timed: 3 weighted sets, 6 geolocation sets (countries, a continent, '*'),
// 4 latency regions, 10 multivalue sets (8 drawn per answer).
std::string policy_zone_json() {
  std::vector<std::string> sets = meridian::testing::route53_apex("gslb.test.", "198.18.0.53");
  for (int i = 0; i < 3; ++i)
    sets.push_back(meridian::testing::route53_set(
        "weighted.gslb.test.",
        R"("SetIdentifier": "w)" + std::to_string(i) + R"(", "Weight": )" + std::to_string(i + 1),
        "198.18.10." + std::to_string(i + 1)));
  const char* geo[] = {R"({"CountryCode": "GB"})",   R"({"CountryCode": "DE"})",
                       R"({"CountryCode": "US"})",   R"({"CountryCode": "JP"})",
                       R"({"ContinentCode": "EU"})", R"({"CountryCode": "*"})"};
  for (int i = 0; i < 6; ++i)
    sets.push_back(meridian::testing::route53_set(
        "geo.gslb.test.",
        R"("SetIdentifier": "g)" + std::to_string(i) + R"(", "GeoLocation": )" + geo[i],
        "198.18.11." + std::to_string(i + 1)));
  const char* regions[] = {"us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"};
  for (int i = 0; i < 4; ++i)
    sets.push_back(meridian::testing::route53_set(
        "latency.gslb.test.",
        R"("SetIdentifier": "r)" + std::to_string(i) + R"(", "Region": ")" + regions[i] + "\"",
        "198.18.12." + std::to_string(i + 1)));
  for (int i = 0; i < 10; ++i)
    sets.push_back(meridian::testing::route53_set(
        "multi.gslb.test.",
        R"("SetIdentifier": "m)" + std::to_string(i) + R"(", "MultiValueAnswer": true)",
        "198.18.13." + std::to_string(i + 1)));
  return meridian::testing::route53_document(sets);
}

// A query as a stub resolver sends it (RD set), written with the production wire writers.
std::vector<uint8_t> make_query(const QueryShape& q) {
  std::vector<uint8_t> buf;
  dns::WireWriter w(buf, 512);
  dns::Header h;
  h.id = 0x5151;
  h.flags = dns::flag::RD;
  h.qdcount = 1;
  h.arcount = q.edns ? 1 : 0;
  dns::write_header(w, h);
  w.name(*dns::Name::from_text(q.name), false);
  w.u16(q.qtype);
  w.u16(dns::rrclass::IN);
  if (q.edns) {
    dns::ReplyEdns opt;
    opt.udp_payload = 1232;
    if (q.ecs) {
      dns::EcsOption ecs;
      ecs.family = 1;
      ecs.source_prefix = 24;
      ecs.address = {q.ecs_network[0], q.ecs_network[1], q.ecs_network[2]};
      ecs.address_length = 3;
      opt.ecs = ecs;
    }
    dns::write_opt(w, opt);
  }
  return buf;
}

struct RunOutput {
  uint32_t action = 0;
  uint32_t duration_ns = 0;  // kernel-measured, per run
  std::vector<uint8_t> frame;
};

RunOutput test_run(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat) {
  RunOutput out;
  out.frame.resize(4096);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = out.frame.data();
  opts.data_size_out = static_cast<uint32_t>(out.frame.size());
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
    std::fprintf(stderr, "BPF_PROG_TEST_RUN failed: %s\n", std::strerror(errno));
    std::exit(1);
  }
  out.action = opts.retval;
  out.duration_ns = opts.duration;
  out.frame.resize(opts.data_size_out);
  return out;
}

struct Case {
  std::string name;
  int prog_fd = -1;
  std::vector<uint8_t> frame;
  // True when running the program on its own output gives the input back with the same action
  // (the floor swaps back and forth, a miss leaves the packet alone). BPF_PROG_TEST_RUN does not
  // restore the packet between repeats, so only these cases can use repeat > 1: after a hit the
  // next repeat would see the reply (QR=1), not the query.
  bool repeat_safe = false;
};

// Medians of the "ns/query" counter per benchmark name, captured while the console reporter
// prints as usual.
class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CapturingReporter(OutputOptions options) : ConsoleReporter(options) {}
  void ReportRuns(const std::vector<Run>& reports) override {
    for (const Run& run : reports) {
      if (run.error_occurred) continue;
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      auto it = run.counters.find("ns/query");
      if ((single || median) && it != run.counters.end())
        results[run.run_name.function_name] = it->second.value;
    }
    ConsoleReporter::ReportRuns(reports);
  }
  std::map<std::string, double> results;
};

void register_case(const Case& c, uint32_t repeat) {
  benchmark::RegisterBenchmark(
      (c.name + "/repeat:" + std::to_string(repeat)).c_str(),
      [c, repeat](benchmark::State& state) {
        double total_ns = 0;
        for (auto _ : state) {
          const RunOutput r = test_run(c.prog_fd, c.frame, repeat);
          total_ns += r.duration_ns;
          state.SetIterationTime(static_cast<double>(r.duration_ns) * repeat * 1e-9);
        }
        state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * repeat);
        state.counters["ns/query"] =
            benchmark::Counter(total_ns, benchmark::Counter::kAvgIterations);
      })
      ->UseManualTime()
      ->Iterations(std::max<int64_t>(1, runs_per_repetition() / repeat))
      ->Unit(benchmark::kNanosecond);
}

const char* action_name(uint32_t action) {
  switch (action) {
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_DROP:
      return "XDP_DROP";
    default:
      return "other";
  }
}

}  // namespace

int main(int argc, char** argv) {
  int probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, "mdn_probe", 4, 4, 1, nullptr);
  if (probe < 0) {
    std::fprintf(stderr, "xdp_prog_cost: needs CAP_BPF or CAP_SYS_ADMIN (run as root)\n");
    return 1;
  }
  close(probe);

  // The fast path, loaded and filled exactly like meridiand does it.
  auto origin = dns::Name::from_text("diff.test.");
  auto zone = meridian::zone::load_master_file(MERIDIAN_BENCH_ZONE, *origin);
  if (!zone) {
    std::fprintf(stderr, "zone: %s\n", zone.error().to_string().c_str());
    return 1;
  }
  auto policy_zone = meridian::zone::parse_route53_json(
      policy_zone_json(), *dns::Name::from_text("gslb.test."), "gslb.test");
  if (!policy_zone) {
    std::fprintf(stderr, "policy zone: %s\n", policy_zone.error().to_string().c_str());
    return 1;
  }
  // The default country database when setup built it; without one, geolocation answers '*'.
  std::unique_ptr<meridian::geo::GeoDatabase> geo_db;
  if (auto db = meridian::geo::GeoDatabase::open("/var/lib/meridian/geoip/country.mmdb"))
    geo_db = std::make_unique<meridian::geo::GeoDatabase>(std::move(*db));
  meridian::policy::GslbInputs inputs;
  inputs.geo = geo_db.get();
  inputs.health = std::make_shared<meridian::policy::HealthView>();
  auto attached = meridian::policy::attach_gslb(
      meridian::zone::ZoneSet(
          {std::make_shared<const meridian::zone::Zone>(std::move(zone.value())),
           std::make_shared<const meridian::zone::Zone>(std::move(policy_zone.value()))}),
      inputs);
  if (!attached) {
    std::fprintf(stderr, "policy engine: %s\n", attached.error().to_string().c_str());
    return 1;
  }
  const meridian::zone::ZoneSet& zones = **attached;
  meridian::answer::Responder responder(meridian::answer::ResponderConfig{});
  auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
  if (!program) {
    std::fprintf(stderr, "loading the XDP program: %s\n", program.error().to_string().c_str());
    return 1;
  }
  fastpath::CompileStats compile_stats;
  auto entries = fastpath::AnswerCompiler(responder).compile(zones, &compile_stats);
  fastpath::PolicyTables policy_tables;
  fastpath::PolicyCompileStats policy_stats;
  fastpath::PolicyCompiler(responder).compile(zones, entries, policy_tables, &policy_stats);
  fastpath::MapWriter writer((*program)->map_fds(), 1u << 16);
  const auto geo_start = std::chrono::steady_clock::now();
  auto geo_table = fastpath::compile_geo_table(geo_db.get());
  const auto geo_compiled = std::chrono::steady_clock::now();
  if (!geo_table || !writer.publish_geo(*geo_table)) {
    std::fprintf(stderr, "publishing the geolocation table failed\n");
    return 1;
  }
  const auto geo_written = std::chrono::steady_clock::now();
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf(
      "geolocation table: %zu prefixes (%s), enumerated in %.2f s, written in %.2f s; %zu policy "
      "groups in XDP\n",
      geo_table->size(), geo_db ? geo_db->path().c_str() : "no database",
      seconds(geo_start, geo_compiled), seconds(geo_compiled, geo_written), policy_stats.groups);
  auto published = writer.publish(entries, policy_tables);
  if (!published) {
    std::fprintf(stderr, "publishing: %s\n", published.error().to_string().c_str());
    return 1;
  }

  // The floor program, built next to the real one by bpf/CMakeLists.txt.
  const char* floor_path = std::getenv("MERIDIAN_XDP_FLOOR_OBJECT");
  if (!floor_path) floor_path = MERIDIAN_XDP_FLOOR_OBJECT;
  bpf_object* floor_obj = bpf_object__open_file(floor_path, nullptr);
  if (!floor_obj || bpf_object__load(floor_obj) != 0) {
    std::fprintf(stderr, "loading %s failed\n", floor_path);
    return 1;
  }
  const int floor_fd = bpf_program__fd(bpf_object__find_program_by_name(floor_obj, "xdp_floor"));
  const int fast_fd = (*program)->program_fd();

  struct Spec {
    const char* name;
    bool floor;
    bool ipv6;
    QueryShape query;
    uint32_t action;
    int stat;
  };
  const std::vector<Spec> specs = {
      {"floor (swap + XDP_TX)", true, false, {"web.diff.test.", dns::rrtype::A}, XDP_TX, -1},
      {"A hit", false, false, {"web.diff.test.", dns::rrtype::A}, XDP_TX, MDN_STAT_HIT_A},
      {"AAAA hit (IPv6)",
       false,
       true,
       {"web.diff.test.", dns::rrtype::AAAA},
       XDP_TX,
       MDN_STAT_HIT_AAAA},
      {"EDNS+ECS hit",
       false,
       false,
       {"web.diff.test.", dns::rrtype::A, true, true},
       XDP_TX,
       MDN_STAT_HIT_A},
      {"miss (XDP_PASS)",
       false,
       false,
       {"www.example.org.", dns::rrtype::A},
       XDP_PASS,
       MDN_STAT_PASS_NAME_MISS},
      {"NXDOMAIN hit",
       false,
       false,
       {"missing.diff.test.", dns::rrtype::A},
       XDP_TX,
       MDN_STAT_HIT_NXDOMAIN},
      {"weighted hit", false, false, {"weighted.gslb.test."}, XDP_TX, MDN_STAT_HIT_POLICY},
      {"geolocation hit (ECS)",
       false,
       false,
       {"geo.gslb.test.", dns::rrtype::A, true, true, {81, 2, 69}},
       XDP_TX,
       MDN_STAT_HIT_POLICY},
      {"latency hit (ECS)",
       false,
       false,
       {"latency.gslb.test.", dns::rrtype::A, true, true, {81, 2, 69}},
       XDP_TX,
       MDN_STAT_HIT_POLICY},
      {"multivalue hit (8 of 10)", false, false, {"multi.gslb.test."}, XDP_TX, MDN_STAT_HIT_POLICY},
  };

  // Every case is checked once before it is timed: the action, the counter that must move, and
  // for fast-path hits the reply bytes against the userspace Responder's, so the timings are of
  // the real answer path and not of an early exit.
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    FrameSpec fs;
    fs.ipv6 = s.ipv6;
    fs.dns = make_query(s.query);
    Case c{s.name, s.floor ? floor_fd : fast_fd, meridian::testing::build_frame(fs)};
    auto before = writer.read_stats();
    const RunOutput once = test_run(c.prog_fd, c.frame, 1);
    auto after = writer.read_stats();
    if (once.action != s.action) {
      std::fprintf(stderr, "%s: expected %s, got %s\n", s.name, action_name(s.action),
                   action_name(once.action));
      return 1;
    }
    if (s.stat >= 0 && (!before || !after || (*after)[s.stat] != (*before)[s.stat] + 1)) {
      std::fprintf(stderr, "%s: counter %d did not move\n", s.name, s.stat);
      return 1;
    }
    // Weighted and multivalue answers are random: their bytes are checked by the tests.
    const bool random =
        s.stat == MDN_STAT_HIT_POLICY && (s.query.name[0] == 'w' || s.query.name[0] == 'm');
    if (!s.floor && s.action == XDP_TX && !random) {
      meridian::answer::QueryContext ctx;
      auto* sin = reinterpret_cast<sockaddr_in*>(&ctx.client);
      sin->sin_family = AF_INET;
      const uint8_t client[4] = {198, 18, 0, 2};  // the frame builder's client address
      std::memcpy(&sin->sin_addr, client, 4);
      // Both paths shuffle an RRset of several values (rule 1): the replies must agree for some
      // draw of both (for the two to four records used here, far fewer tries than allowed).
      bool same = false;
      for (int attempt = 0; attempt < 200 && !same; ++attempt) {
        std::vector<uint8_t> reply;
        responder.respond(zones, fs.dns, ctx, reply);
        same = test_run(c.prog_fd, c.frame, 1).frame ==
               meridian::testing::expected_reply_frame(fs, reply);
      }
      if (!same) {
        std::fprintf(stderr, "%s: XDP reply differs from the userspace reply\n", s.name);
        return 1;
      }
    }
    const RunOutput twice = test_run(c.prog_fd, once.frame, 1);
    c.repeat_safe = twice.action == once.action && twice.frame == c.frame;
    cases.push_back(std::move(c));
  }

  const uint32_t repeat = repeat_count();
  for (const Case& c : cases) {
    register_case(c, 1);
    if (c.repeat_safe) register_case(c, repeat);
  }

  // Defaults suited to a noisy shared machine, unless given on the command line.
  std::vector<std::string> args(argv, argv + argc);
  auto has = [&](const char* flag) {
    return std::any_of(args.begin(), args.end(),
                       [&](const std::string& a) { return a.rfind(flag, 0) == 0; });
  };
  if (!has("--benchmark_repetitions")) args.push_back("--benchmark_repetitions=5");
  if (!has("--benchmark_display_aggregates_only"))
    args.push_back("--benchmark_display_aggregates_only=true");
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  int cargc = static_cast<int>(cargv.size());
  benchmark::Initialize(&cargc, cargv.data());
  if (benchmark::ReportUnrecognizedArguments(cargc, cargv.data())) return 1;
  CapturingReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Defaults
                                                   : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  // The summary. repeat:1 times include one ktime_get_ns() read per call (the kernel's timer
  // brackets each call); the floor measured both ways gives that overhead, which is subtracted
  // from the cases that cannot use repeat > 1.
  auto result = [&](const Case& c, uint32_t r) -> double {
    auto it = reporter.results.find(c.name + "/repeat:" + std::to_string(r));
    return it == reporter.results.end() ? -1 : it->second;
  };
  const Case& floor_case = cases.front();
  const double floor_ns = result(floor_case, repeat);
  const double floor_single = result(floor_case, 1);
  if (floor_ns <= 0 || floor_single < 0) {
    std::printf("\nno summary: the floor was filtered out or failed\n");
    bpf_object__close(floor_obj);
    return 0;
  }
  const double overhead = std::max(0.0, floor_single - floor_ns);
  std::printf("\nBPF_PROG_TEST_RUN cost per query (kernel-measured; median when repeated)\n");
  std::printf("timer overhead per repeat:1 call: %.1f ns (floor repeat:1 - floor repeat:%u)\n\n",
              overhead, repeat);
  std::printf("%-24s %-9s %12s %12s %10s\n", "case", "action", "ns/query", "raw r:1 ns", "x floor");
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const double single = result(c, 1);
    if (single < 0) continue;
    const double ns = c.repeat_safe ? result(c, repeat) : single - overhead;
    std::printf("%-24s %-9s %12.1f %12.1f %10.2f%s\n", c.name.c_str(), action_name(specs[i].action),
                ns, single, ns / floor_ns, c.repeat_safe ? "" : "  (repeat:1 - overhead)");
  }
  // The correction holds when a case timed both ways agrees with itself.
  for (const Case& c : cases) {
    if (&c == &floor_case || !c.repeat_safe) continue;
    const double single = result(c, 1), repeated = result(c, repeat);
    if (single >= 0 && repeated > 0)
      std::printf("check, %s: repeat:1 - overhead = %.1f ns, repeat:%u = %.1f ns (%+.0f%%)\n",
                  c.name.c_str(), single - overhead, repeat, repeated,
                  100.0 * (single - overhead - repeated) / repeated);
  }
  bpf_object__close(floor_obj);
  return 0;
}
