// Unit tests of the slipped reply (rrl::make_slip_reply) on real replies from answer::Responder:
// header + question + OPT, TC=1, the real reply's ID, flags and rcode, no records; malformed
// input is refused and left as it was.
#include "rrl/slip_reply.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/types.h"
#include "zone/master_file.h"
#include "zone/zone_set.h"

namespace meridian::rrl {
namespace {

using Bytes = std::vector<uint8_t>;

const zone::ZoneSet& zones() {
  static const zone::ZoneSet set = [] {
    const char* text = R"(
$ORIGIN example.com.
$TTL 3600
@    IN SOA ns1 hostmaster 1 7200 900 1209600 300
     IN NS  ns1
ns1  IN A   198.18.0.53
www  IN A   198.18.0.1
     IN A   198.18.0.2
big  IN TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     IN TXT "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     IN TXT "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
sub  IN NS  ns.sub
ns.sub IN A 198.18.1.53
)";
    auto origin = dns::Name::from_text("example.com.");
    auto z = zone::parse_master_file(text, *origin, "example.com.");
    EXPECT_TRUE(z.ok()) << z.error().to_string();
    return zone::ZoneSet({std::make_shared<const zone::Zone>(std::move(z.value()))});
  }();
  return set;
}

// A query as raw bytes: ID 0xbeef, RD, one question (letters as given), OPT with DO when asked.
Bytes make_query(const std::string& name, uint16_t type, bool edns) {
  Bytes q = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, static_cast<uint8_t>(edns ? 1 : 0)};
  size_t start = 0;
  while (start < name.size()) {
    const size_t dot = name.find('.', start);
    const std::string label = name.substr(start, dot - start);
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    start = dot == std::string::npos ? name.size() : dot + 1;
  }
  q.push_back(0);
  q.insert(q.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1});
  if (edns) q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0});  // 1232, DO
  return q;
}

Bytes respond(const Bytes& query) {
  const answer::Responder responder{answer::ResponderConfig{}};
  answer::QueryContext ctx;
  ctx.client.ss_family = AF_INET;
  Bytes reply;
  EXPECT_EQ(responder.respond(zones(), query, ctx, reply), answer::Disposition::kReply);
  return reply;
}

uint16_t u16(const Bytes& m, size_t at) {
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

struct Case {
  const char* why;
  std::string name;
  uint16_t type;
  bool edns;
  uint16_t rcode;
};

TEST(SlipReply, HeaderQuestionAndOptOfTheRealReply) {
  const std::vector<Case> cases = {
      {"answer with EDNS", "WwW.Example.COM", dns::rrtype::A, true, dns::rcode::NOERROR},
      {"answer without EDNS", "www.example.com", dns::rrtype::A, false, dns::rcode::NOERROR},
      {"NXDOMAIN (SOA in authority)", "nothere.example.com", dns::rrtype::A, true,
       dns::rcode::NXDOMAIN},
      {"NODATA", "www.example.com", dns::rrtype::MX, false, dns::rcode::NOERROR},
      {"referral with glue, OPT after it", "a.sub.example.com", dns::rrtype::A, true,
       dns::rcode::NOERROR},
      {"already truncated (no EDNS: 512)", "big.example.com", dns::rrtype::TXT, false,
       dns::rcode::NOERROR},
      {"REFUSED outside our zones", "www.example.org", dns::rrtype::A, true, dns::rcode::REFUSED},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    const Bytes query = make_query(c.name, c.type, c.edns);
    const Bytes real = respond(query);
    Bytes slipped = real;
    ASSERT_TRUE(make_slip_reply(slipped));
    const auto parsed = dns::parse_message(slipped);
    ASSERT_TRUE(parsed.ok()) << dns::parse_error_name(parsed.error);
    const auto& m = parsed.message;
    EXPECT_EQ(m.header.id, 0xbeef);
    EXPECT_EQ(m.header.flags, u16(real, 2) | dns::flag::TC) << "flags of the real reply + TC";
    EXPECT_EQ(m.header.rcode(), c.rcode);
    EXPECT_EQ(m.header.qdcount, 1);
    EXPECT_EQ(m.header.ancount, 0);
    EXPECT_EQ(m.header.nscount, 0);
    EXPECT_EQ(m.header.arcount, c.edns ? 1 : 0);
    EXPECT_EQ(m.edns.has_value(), c.edns);
    // The question exactly as the client sent it (letter case kept).
    const size_t qend = query.size() - (c.edns ? 11 : 0);
    ASSERT_GE(slipped.size(), qend);
    EXPECT_EQ(Bytes(slipped.begin() + 12, slipped.begin() + static_cast<long>(qend)),
              Bytes(query.begin() + 12, query.begin() + static_cast<long>(qend)));
    if (c.edns) {
      // The OPT record is the real reply's, byte for byte (payload, DO, extended rcode).
      ASSERT_EQ(slipped.size(), qend + 11);
      EXPECT_EQ(Bytes(slipped.begin() + static_cast<long>(qend), slipped.end()),
                Bytes(real.end() - 11, real.end()));
      EXPECT_TRUE(m.edns->do_bit());
    } else {
      EXPECT_EQ(slipped.size(), qend);
    }
    EXPECT_LE(slipped.size(), real.size());
  }
}

TEST(SlipReply, FormerrWithoutQuestion) {
  // QDCOUNT 2: FORMERR; the reply carries no question to echo.
  Bytes query = make_query("www.example.com", dns::rrtype::A, false);
  query[5] = 2;
  const Bytes real = respond(query);
  Bytes slipped = real;
  ASSERT_TRUE(make_slip_reply(slipped));
  EXPECT_EQ(slipped.size(), real.size()) << "header (+ question as echoed) only";
  EXPECT_EQ(u16(slipped, 2), u16(real, 2) | dns::flag::TC);
  EXPECT_EQ(slipped[3] & 0x0f, dns::rcode::FORMERR);
}

TEST(SlipReply, MalformedInputIsRefusedUnchanged) {
  const Bytes good = respond(make_query("www.example.com", dns::rrtype::A, true));
  std::vector<Bytes> bad = {
      Bytes(good.begin(), good.begin() + 11),  // shorter than a header
      Bytes(good.begin(), good.begin() + 20),  // question cut
      Bytes(good.begin(), good.end() - 3),     // last record cut
  };
  Bytes more_records = good;
  more_records[7] = static_cast<uint8_t>(more_records[7] + 1);  // ANCOUNT says one more
  bad.push_back(more_records);
  Bytes bad_label = good;
  bad_label[12] = 0x80;  // reserved label type
  bad.push_back(bad_label);
  for (const Bytes& b : bad) {
    Bytes copy = b;
    EXPECT_FALSE(make_slip_reply(copy));
    EXPECT_EQ(copy, b);
  }
}

}  // namespace
}  // namespace meridian::rrl
