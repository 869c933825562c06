// Fuzzes Responder::respond over UDP and TCP on a fixed zone and checks every reply's envelope.
#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "dns/message.h"
#include "dns/types.h"
#include "fuzz_check.h"
#include "zone/master_file.h"
#include "zone/zone_set.h"

namespace {

using namespace meridian;

using meridian::fuzz::check;

// Every shape of answer: wildcard, CNAME chain (in zone, out of zone, looping), delegation with
// glue, an empty non-terminal, MX/SRV additional data, and a TXT RRset too big for 512 bytes.
constexpr const char* kZoneText = R"(
$ORIGIN fuzz.test.
$TTL 300
@        SOA   ns1 hostmaster 1 7200 900 1209600 60
         NS    ns1
         NS    ns2.elsewhere.example.
         MX    10 mail
         A     198.18.0.1
         AAAA  fd00:18::1
ns1      A     198.18.0.53
mail     A     198.18.0.25
         AAAA  fd00:18::25
www      CNAME c1
c1       CNAME c2
c2       CNAME web
web      A     198.18.0.80
         A     198.18.0.81
out      CNAME www.example.org.
loop1    CNAME loop2
loop2    CNAME loop1
*.wild   A     198.18.0.100
*.wild   TXT   "wildcard"
*.cwild  CNAME web
deep.ent.level A 198.18.0.7
_sip._udp SRV  10 60 5060 web
sub      NS    ns.sub
         NS    ns.elsewhere.example.
ns.sub   A     198.18.1.53
         AAAA  fd00:18:1::53
big      TXT   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         TXT   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
         TXT   "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
         TXT   "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
         TXT   "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
)";

const zone::ZoneSet& zones() {
  static const zone::ZoneSet set = [] {
    auto origin = dns::Name::from_text("fuzz.test.");
    auto z = zone::parse_master_file(kZoneText, *origin, "responder_fuzz");
    if (!z) {
      std::fprintf(stderr, "fixed zone does not load: %s\n", z.error().to_string().c_str());
      std::abort();
    }
    return zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(*z))});
  }();
  return set;
}

sockaddr_storage client(int family) {
  sockaddr_storage ss{};
  ss.ss_family = static_cast<sa_family_t>(family);
  return ss;
}

void check_reply(const answer::Responder& responder, std::span<const uint8_t> query,
                 answer::Transport transport, int family) {
  const answer::QueryContext ctx{transport, client(family)};
  std::vector<uint8_t> reply;
  answer::AnswerInfo info;
  const auto disposition = responder.respond(zones(), query, ctx, reply, &info);
  const bool must_drop = query.size() < dns::kHeaderSize || (query[2] & 0x80);
  check((disposition == answer::Disposition::kDrop) == must_drop,
        "dropped exactly when shorter than a header or QR=1");
  if (must_drop) return;

  const dns::ParseResult rp = dns::parse_message(reply);
  check(rp.ok(), "the reply does not parse");
  const dns::Header& h = rp.message.header;
  check(h.qr(), "reply without QR");
  check(reply[0] == query[0] && reply[1] == query[1], "reply ID differs from the query's");
  check(h.opcode() == ((query[2] >> 3) & 0x0f), "reply opcode differs from the query's");
  check(h.qdcount <= 1, "more than one question in a reply");
  const uint16_t rcode = static_cast<uint16_t>(
      h.rcode() | (rp.message.edns ? rp.message.edns->extended_rcode << 4 : 0));
  check(rcode == info.rcode, "reply rcode differs from AnswerInfo");
  check(((h.flags & dns::flag::TC) != 0) == info.truncated, "TC differs from AnswerInfo");

  const dns::ParseResult qp = dns::parse_message(query);
  if (qp.ok())
    check(rp.message.edns.has_value() == qp.message.edns.has_value(),
          "reply has OPT exactly when the query had one");

  if (transport == answer::Transport::kTcp) {
    check(reply.size() <= 65535, "TCP reply over 65535 bytes");
    return;
  }
  size_t limit = dns::kMinUdpPayload;
  if (qp.ok() && qp.message.edns) {
    const size_t ours = std::max<size_t>(responder.config().advertised_udp_payload, 512);
    limit = std::max<size_t>(512, std::min<size_t>(qp.message.edns->udp_payload, ours));
  }
  check(reply.size() <= limit, "UDP reply over the size limit");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The usual configuration, and one whose NSID is as large as the config allows (512 bytes)
  // with the smallest advertised payload: the OPT alone then fills most of a UDP reply.
  static const answer::Responder usual(
      answer::ResponderConfig{1232, std::vector<uint8_t>{'f', 'u', 'z', 'z'}});
  static const answer::Responder big_nsid(
      answer::ResponderConfig{512, std::vector<uint8_t>(512, 'n')});
  const std::span<const uint8_t> query(data, size);
  for (const answer::Responder* r : {&usual, &big_nsid}) {
    check_reply(*r, query, answer::Transport::kUdp, AF_INET);
    check_reply(*r, query, answer::Transport::kTcp, AF_INET6);
  }
  return 0;
}
