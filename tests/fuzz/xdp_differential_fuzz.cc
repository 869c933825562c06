// Differential fuzzing: the same DNS query through the real XDP program (BPF_PROG_TEST_RUN) and
// the userspace Responder; aborts when the fast path answers differently from userspace.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "bpf/frame_builder.h"
#include "dns/name.h"
#include "fastpath/answer_compiler.h"
#include "fastpath/map_writer.h"
#include "fastpath/xdp_program.h"
#include "zone/master_file.h"
#include "zone/zone_set.h"

namespace {

using namespace meridian;

// Input layout: byte 0 picks the framing, the rest is the DNS payload (the UDP payload as sent).
//   bit 0     IPv6 (else IPv4)
//   bits 1-2  VLAN tags: 0, 1, 2 (3 means 0)
//   bit 3     IPv4 options (8 bytes), which the reply must drop
//   bits 4-5  bytes after the IP packet: NIC padding to 60, 4, 17 or 61 extra bytes; the program
//             must size the reply from the UDP length, not from the frame
constexpr size_t kMaxDnsPayload = 1400;

// Every shape the fast path compiles (A, AAAA, MX with glue, TXT, NS at the apex, CNAME chains,
// long names, a TXT that fits only with EDNS) and shapes it must leave to userspace: wildcards,
// NODATA, a delegation with glue, an empty non-terminal, a CNAME out of the zone and a loop.
std::string zone_text() {
  std::string big_txt;
  for (int i = 0; i < 6; ++i)
    big_txt += " \"" + std::string(100, static_cast<char>('a' + i)) + "\"";
  std::string max_labels;
  for (int i = 0; i < 126; ++i) max_labels += "x.";
  const std::string long_name = std::string(59, 'l') + "." + std::string(63, 'm') + "." +
                                std::string(63, 'n') + "." + std::string(63, 'o') + ".t.";
  return "$ORIGIN t.\n$TTL 300\n"
         "@ SOA ns1.t. hostmaster.t. 1 7200 900 1209600 60\n"
         "@ NS ns1.t.\n"
         "@ MX 5 mx1\n"
         "@ A 198.18.1.10\n"
         "ns1 A 198.18.0.53\n"
         "ns1 AAAA fd00:18::53\n"
         "a A 198.18.1.1\n"
         "www A 198.18.1.2\n"
         "www A 198.18.1.3\n"
         "www AAAA fd00::1:2\n"
         "alias CNAME www\n"
         "alias2 CNAME alias\n"
         "out CNAME www.example.org.\n"
         "loop1 CNAME loop2\n"
         "loop2 CNAME loop1\n"
         "mail MX 10 mx1\n"
         "mail MX 20 mx2.example.org.\n"
         "mx1 A 198.18.1.9\n"
         "mx1 AAAA fd00::1:9\n"
         "txt TXT \"hello\" \"world\"\n"
         "big TXT" +
         big_txt + "\n" + std::string(63, 'x') + ".t. A 198.18.1.4\n" + long_name +
         " A 198.18.1.5\n" + max_labels +
         "t. A 198.18.1.8\n"
         "*.wild A 198.18.1.6\n"
         "*.cwild CNAME www\n"
         "a.b.c.d.e.f.g.h.deep A 198.18.1.7\n"
         "sub NS ns.sub\n"
         "ns.sub A 198.18.2.53\n"
         "_sip._udp SRV 10 60 5060 www\n";
}

struct Harness {
  zone::ZoneSet* zones = nullptr;
  answer::Responder* responder = nullptr;
  fastpath::XdpProgram* program = nullptr;
  fastpath::MapWriter* writer = nullptr;
};
Harness g;

// How many inputs each path took, printed at exit so a run shows it compared real answers.
struct Tally {
  uint64_t inputs = 0, answered = 0, passed = 0;
};
Tally tally;
bool verbose = false;  // MERIDIAN_FUZZ_VERBOSE=1: one line per input (to see what seeds do)

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "xdp_differential_fuzz: %s\n", what);
  std::abort();
}

void dump(const char* label, std::span<const uint8_t> bytes) {
  std::fprintf(stderr, "%s (%zu bytes):", label, bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i)
    std::fprintf(stderr, "%s%02x", (i % 32) ? "" : "\n  ", bytes[i]);
  std::fprintf(stderr, "\n");
}

// Loads the program once with maps filled exactly as the daemon fills them (AnswerCompiler over
// the zone, then MapWriter), so the fast path under test is the production one.
void set_up() {
  auto zone = zone::parse_master_file(zone_text(), *dns::Name::from_text("t."), "t.zone");
  if (!zone.ok()) {
    std::fprintf(stderr, "fixed zone does not load: %s\n", zone.error().to_string().c_str());
    std::abort();
  }
  g.zones = new zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(zone.value()))});
  answer::ResponderConfig config;
  config.shuffle_rrsets = false;  // one byte sequence per answer, so replies compare exactly
  g.responder = new answer::Responder(config);
  // CI runs as root: a run that cannot load the program must fail, not pass having tested nothing.
  auto program = fastpath::XdpProgram::load(fastpath::XdpSettings{});
  if (!program.ok()) {
    std::fprintf(stderr,
                 "xdp_differential_fuzz: cannot load the XDP program (needs CAP_BPF and "
                 "CAP_NET_ADMIN, or root): %s\n",
                 program.error().to_string().c_str());
    std::abort();
  }
  g.program = program.value().release();
  fastpath::AnswerCompiler compiler(*g.responder);
  fastpath::CompileStats stats;
  const auto entries = compiler.compile(*g.zones, &stats);
  if (entries.size() < 10) fail("the compiler produced fewer than 10 fast-path entries");
  g.writer = new fastpath::MapWriter(g.program->map_fds(), 1000);
  auto published = g.writer->publish(entries);
  if (!published.ok()) {
    std::fprintf(stderr, "publish failed: %s\n", published.error().to_string().c_str());
    std::abort();
  }
  if (published->published != entries.size()) fail("not every entry was published");
}

// libFuzzer treats this section as extra coverage counters: one slot per outcome (XDP action,
// userspace rcode; when answered also framing, qtype, TC, reply size class), so an input that
// reaches a new kind of fast-path answer is kept even when it adds no userspace coverage.
__attribute__((used, section("__libfuzzer_extra_counters"))) uint8_t outcome_counters[4096];

void note_outcome(uint32_t action, uint8_t shape, bool replies, const answer::AnswerInfo& info,
                  size_t reply_size) {
  uint64_t key = (action == XDP_TX ? 1u : 0u) | (action == XDP_PASS ? 2u : 0u) |
                 (replies ? 4u : 0u) | (static_cast<uint64_t>(info.rcode & 0x1f) << 3);
  // Only answered inputs get the fine-grained key: detail on passed junk would fill the corpus
  // with inputs the fast path never touches.
  if (action == XDP_TX)
    key |= (static_cast<uint64_t>(info.truncated) << 8) |
           (static_cast<uint64_t>(info.qtype & 0x1ff) << 9) |
           (static_cast<uint64_t>(std::min<size_t>(reply_size / 64, 31)) << 18) |
           (static_cast<uint64_t>(shape & 0x3f) << 23);
  key *= 0x9e3779b97f4a7c15ull;
  outcome_counters[(key >> 52) & 4095] = 1;
}

sockaddr_storage client_address(bool ipv6) {
  // The addresses and port frame_builder puts in the query frame.
  sockaddr_storage ss{};
  if (ipv6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(40000);
    s->sin6_addr.s6_addr[0] = 0xfd;
    s->sin6_addr.s6_addr[15] = 2;
  } else {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(40000);
    s->sin_addr.s_addr = htonl(0xc6120002);  // 198.18.0.2
  }
  return ss;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_up();
  verbose = std::getenv("MERIDIAN_FUZZ_VERBOSE") != nullptr;
  std::atexit([] {
    std::fprintf(stderr,
                 "xdp_differential_fuzz: %llu inputs, %llu answered by XDP (equal to "
                 "userspace), %llu passed up untouched\n",
                 static_cast<unsigned long long>(tally.inputs),
                 static_cast<unsigned long long>(tally.answered),
                 static_cast<unsigned long long>(tally.passed));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size - 1 > kMaxDnsPayload) return 0;
  const uint8_t shape = data[0];
  testing::FrameSpec spec;
  spec.ipv6 = shape & 1;
  spec.vlan_tags = ((shape >> 1) & 3) % 3;
  if (!spec.ipv6 && (shape & 8)) spec.ip_options = {1, 1, 1, 1, 1, 1, 1, 0};
  spec.dns.assign(data + 1, data + size);
  static constexpr size_t kTrailer[4] = {0, 4, 17, 61};
  if (const size_t extra = kTrailer[(shape >> 4) & 3]; extra != 0)
    spec.ethernet_padding_to = testing::dns_offset(spec) + spec.dns.size() + extra;
  const std::vector<uint8_t> input = testing::build_frame(spec);

  std::vector<uint8_t> out(input.size() + 4096);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = input.data();
  opts.data_out = out.data();
  opts.data_size_in = static_cast<uint32_t>(input.size());
  opts.data_size_out = static_cast<uint32_t>(out.size());
  opts.repeat = 1;
  if (const int err = bpf_prog_test_run_opts(g.program->program_fd(), &opts); err != 0) {
    std::fprintf(stderr, "BPF_PROG_TEST_RUN failed: %d\n", err);
    fail("BPF_PROG_TEST_RUN failed");
  }
  out.resize(opts.data_size_out);
  const uint32_t action = opts.retval;
  ++tally.inputs;
  if (verbose)
    std::fprintf(stderr, "action %s\n",
                 action == XDP_TX ? "XDP_TX" : (action == XDP_PASS ? "XDP_PASS" : "other"));

  // Userspace runs on every input, not only where XDP answered: libFuzzer sees no coverage inside
  // the BPF program, so the Responder's coverage and the outcome counter below are what steer
  // inputs towards well-formed queries the fast path takes.
  const answer::QueryContext ctx{answer::Transport::kUdp, client_address(spec.ipv6)};
  std::vector<uint8_t> reply;
  answer::AnswerInfo info;
  const bool userspace_replies =
      g.responder->respond(*g.zones, spec.dns, ctx, reply, &info) == answer::Disposition::kReply;
  note_outcome(action, shape, userspace_replies, info, reply.size());

  if (action == XDP_PASS) {
    if (out != input) {
      dump("input frame", input);
      dump("output frame", out);
      fail("XDP_PASS with a modified frame: a passed packet must go up untouched");
    }
    ++tally.passed;
    return 0;  // the fast path answers a subset; userspace may answer what it passes
  }
  if (action != XDP_TX) {
    std::fprintf(stderr, "action %u\n", action);
    dump("input frame", input);
    fail("action other than XDP_TX or XDP_PASS");
  }
  if (!userspace_replies) {
    dump("query", spec.dns);
    fail("XDP_TX for a query userspace drops");
  }
  testing::FrameSpec reply_spec = spec;
  reply_spec.ip_options.clear();
  if (!testing::checksums_valid(out, reply_spec)) {
    dump("XDP frame", out);
    fail("XDP_TX reply with an invalid IPv4 or UDP checksum");
  }
  const std::vector<uint8_t> expected = testing::expected_reply_frame(spec, reply);
  if (out != expected) {
    dump("query", spec.dns);
    dump("XDP frame", out);
    dump("expected frame (userspace reply)", expected);
    fail("XDP_TX reply differs from the userspace reply");
  }
  ++tally.answered;
  return 0;
}
