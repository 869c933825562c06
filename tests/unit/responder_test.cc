// Unit tests of answer::Responder against the dns-conformance spec (header, answers, EDNS).
// Each group quotes the spec bullet it checks (../shared/spec/dns-conformance.md, sections
// "Header and question", "Answers", "EDNS"). Queries are built as raw bytes so malformed ones are
// as easy to make as good ones; replies are read raw too (header bits, every OPT option).
#include "answer/responder.h"

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "dns/message.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/types.h"
#include "dns/wire_reader.h"
#include "zone/master_file.h"
#include "zone/zone_set.h"

namespace meridian::answer {
namespace {

namespace rrtype = dns::rrtype;
namespace rrclass = dns::rrclass;
namespace rcode = dns::rcode;
namespace flag = dns::flag;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------
// Zones. example.com's negative TTL comes from MINIMUM (300 < 3600); example.net's from the SOA
// TTL (60 < 3600): both orderings of RFC 2308's min().

std::string repeated_txt(char c, int strings, int length) {
  std::string out;
  for (int i = 0; i < strings; ++i)
    out += " \"" + std::string(static_cast<size_t>(length), c) + "\"";
  return out;
}

std::string example_com_text() {
  std::string text = R"(
$ORIGIN example.com.
$TTL 3600
@        3600 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 300
              IN NS   ns1
              IN NS   ns2
ns1           IN A    198.18.0.53
ns2           IN A    198.18.0.54
www           IN A    198.18.0.1
              IN AAAA fd00:18::1
multi         IN TXT  "text"
              IN MX   10 mail
              IN A    198.18.0.2
mail          IN A    198.18.0.25
              IN AAAA fd00:18::25
mx            IN MX   10 mail
alias         IN CNAME www
dangling      IN CNAME missing
outside       IN CNAME www.example.org.
cross         IN CNAME www.example.net.
crossnx       IN CNAME nothere.example.net.
loop1         IN CNAME loop2
loop2         IN CNAME loop1
self          IN CNAME self
a.ent         IN A    198.18.0.7
*.wild        IN A    198.18.0.100
*.wild        IN TXT  "wildcard"
host.wild     IN TXT  "host"
leaf.ent.wild IN A    198.18.0.101
*.cwild       IN CNAME www
sub           IN NS   ns.sub
              IN NS   ns.elsewhere.org.
ns.sub        IN A    198.18.1.53
              IN AAAA fd00:18:1::53
host.sub      IN A    198.18.1.1
hinfo         IN HINFO "PC" "Linux"
)";
  // c0 -> c1 -> ... -> c8 (A): exactly 8 CNAME steps. l0 -> ... -> l10 (A): 10 steps.
  for (int i = 0; i < 8; ++i)
    text += "c" + std::to_string(i) + " IN CNAME c" + std::to_string(i + 1) + "\n";
  text += "c8 IN A 198.18.0.8\n";
  for (int i = 0; i < 10; ++i)
    text += "l" + std::to_string(i) + " IN CNAME l" + std::to_string(i + 1) + "\n";
  text += "l10 IN A 198.18.0.10\n";
  // mxmany: 12 MX records (~330 bytes) whose 12 targets' A and AAAA (~530 bytes) cannot all
  // follow in 512 bytes: optional additional data that is left out, whole RRsets at a time.
  for (int i = 10; i < 22; ++i) {
    const std::string host = "mail" + std::to_string(i);
    text += "mxmany IN MX " + std::to_string(i) + " " + host + "\n";
    text += host + " IN A 198.18.3." + std::to_string(i) + "\n";
    text += host + " IN AAAA fd00:18:3::" + std::to_string(i) + "\n";
  }
  text += "tobig IN CNAME big\n";
  // fat: a delegation whose 12 NS and their A+AAAA glue (~800 bytes) do not fit 512.
  for (int i = 0; i < 12; ++i) {
    const std::string ns = "ns" + std::to_string(i) + ".fat";
    text += "fat IN NS " + ns + "\n";
    text += ns + " IN A 198.18.4." + std::to_string(i + 1) + "\n";
    text += ns + " IN AAAA fd00:18:4::" + std::to_string(i + 1) + "\n";
  }
  // medium: ~330 bytes of reply; big: ~700 (over 512, under 1232); huge: ~1700 (over 1232).
  text += "medium IN TXT" + repeated_txt('m', 3, 90) + "\n";
  for (char c : {'a', 'b', 'c', 'd', 'e', 'f'})
    text += "big IN TXT" + repeated_txt(c, 1, 100) + "\n";
  for (char c : {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'})
    text += "huge IN TXT" + repeated_txt(c, 1, 200) + "\n";
  return text;
}

constexpr std::string_view kExampleNet = R"(
$ORIGIN example.net.
@     60 IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 3600
    3600 IN NS  ns1
ns1 3600 IN A   198.18.2.53
www 3600 IN A   198.18.2.1
)";

std::shared_ptr<const zone::Zone> load(std::string_view text, std::string_view origin) {
  auto name = dns::Name::from_text(origin);
  EXPECT_TRUE(name.ok());
  auto z = zone::parse_master_file(text, *name, origin);
  if (!z.ok()) ADD_FAILURE() << z.error().to_string();
  return std::make_shared<const zone::Zone>(std::move(z.value()));
}

const zone::ZoneSet& zones() {
  static const zone::ZoneSet set(
      {load(example_com_text(), "example.com."), load(kExampleNet, "example.net.")});
  return set;
}

// ---------------------------------------------------------------------------------------------
// Query builder: raw bytes, any field settable, so malformed queries are as easy as good ones.

struct Option {
  uint16_t code = 0;
  Bytes data;
};

struct Opt {
  Bytes owner{0};  // root
  uint16_t payload = 1232;
  uint8_t ext_rcode = 0;
  uint8_t version = 0;
  uint16_t flags = 0;
  std::vector<Option> options;
};

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// Presentation name to uncompressed wire, letter case kept exactly.
Bytes name_wire(std::string_view text) {
  Bytes out;
  while (!text.empty() && text != ".") {
    const size_t dot = text.find('.');
    const std::string_view label = text.substr(0, dot);
    out.push_back(static_cast<uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  out.push_back(0);
  return out;
}

Bytes opt_record(const Opt& o) {
  Bytes b = o.owner;
  put16(b, rrtype::OPT);
  put16(b, o.payload);
  b.push_back(o.ext_rcode);
  b.push_back(o.version);
  put16(b, o.flags);
  Bytes rdata;
  for (const auto& opt : o.options) {
    put16(rdata, opt.code);
    put16(rdata, static_cast<uint16_t>(opt.data.size()));
    rdata.insert(rdata.end(), opt.data.begin(), opt.data.end());
  }
  put16(b, static_cast<uint16_t>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
  return b;
}

struct Query {
  uint16_t id = 0x4d52;
  uint16_t flags = 0;  // QR, opcode, AA, TC, RD, RA, Z, AD, CD as sent
  struct Q {
    std::string name;
    uint16_t type;
    uint16_t cls;
  };
  std::vector<Q> questions;
  std::vector<Opt> opts;            // each becomes one OPT record in the additional section
  std::optional<uint16_t> qdcount;  // override of the header count
  std::optional<uint16_t> arcount;  // override of the header count
  Bytes extra;                      // raw bytes appended after everything else
  uint16_t extra_additional = 0;    // records inside `extra` counted in ARCOUNT

  Query() = default;
  Query(std::string name, uint16_t type, uint16_t cls = rrclass::IN) {
    questions.push_back({std::move(name), type, cls});
  }
  Query& with_flags(uint16_t f) {
    flags = f;
    return *this;
  }
  Query& with_opcode(uint8_t opcode) {
    flags = static_cast<uint16_t>((flags & ~flag::OPCODE_MASK) | (opcode << flag::OPCODE_SHIFT));
    return *this;
  }
  Query& with_edns(Opt o = {}) {
    opts.push_back(std::move(o));
    return *this;
  }

  Bytes wire() const {
    Bytes b;
    put16(b, id);
    put16(b, flags);
    put16(b, qdcount.value_or(static_cast<uint16_t>(questions.size())));
    put16(b, 0);
    put16(b, 0);
    put16(b, arcount.value_or(static_cast<uint16_t>(opts.size() + extra_additional)));
    for (const auto& q : questions) {
      const Bytes n = name_wire(q.name);
      b.insert(b.end(), n.begin(), n.end());
      put16(b, q.type);
      put16(b, q.cls);
    }
    for (const auto& o : opts) {
      const Bytes r = opt_record(o);
      b.insert(b.end(), r.begin(), r.end());
    }
    b.insert(b.end(), extra.begin(), extra.end());
    return b;
  }
};

Option ecs_option(uint16_t family, uint8_t source, uint8_t scope, Bytes address) {
  Bytes d;
  put16(d, family);
  d.push_back(source);
  d.push_back(scope);
  d.insert(d.end(), address.begin(), address.end());
  return {dns::edns_option::ECS, d};
}

Option cookie_option(size_t length) {
  Bytes d(length);
  for (size_t i = 0; i < length; ++i) d[i] = static_cast<uint8_t>(0xa0 + i);
  return {dns::edns_option::COOKIE, d};
}

// ---------------------------------------------------------------------------------------------
// Reply reader: the header fields, the records via dns::parse_message (which also proves the
// reply is well formed), and the OPT record read raw so every option can be checked.

struct Reply {
  Disposition disposition = Disposition::kDrop;
  Bytes wire;
  AnswerInfo info;
  dns::Message msg;
  bool parsed = false;

  int opt_count = 0;
  Bytes opt_owner;
  uint16_t opt_payload = 0;
  uint8_t opt_ext_rcode = 0;
  uint8_t opt_version = 0;
  uint16_t opt_flags = 0;
  std::vector<Option> options;

  uint16_t u16_at(size_t off) const {
    return static_cast<uint16_t>((wire[off] << 8) | wire[off + 1]);
  }
  uint16_t id() const { return u16_at(0); }
  uint16_t flags() const { return u16_at(2); }
  uint16_t qdcount() const { return u16_at(4); }
  uint16_t ancount() const { return u16_at(6); }
  uint16_t nscount() const { return u16_at(8); }
  uint16_t arcount() const { return u16_at(10); }
  bool has(uint16_t f) const { return (flags() & f) != 0; }
  uint8_t opcode() const { return (flags() & flag::OPCODE_MASK) >> flag::OPCODE_SHIFT; }
  // The full 12-bit rcode (header low 4 bits, OPT upper 8 bits).
  uint16_t rcode() const {
    return static_cast<uint16_t>((opt_ext_rcode << 4) | (flags() & flag::RCODE_MASK));
  }
  bool has_opt() const { return opt_count > 0; }
  const Option* option(uint16_t code) const {
    for (const auto& o : options)
      if (o.code == code) return &o;
    return nullptr;
  }
  size_t count_type(const std::vector<dns::ResourceRecord>& section, uint16_t type) const {
    size_t n = 0;
    for (const auto& rr : section) n += rr.type == type;
    return n;
  }
};

void read_opt(Reply& r) {
  dns::WireReader rd(r.wire);
  rd.seek(dns::kHeaderSize);
  for (uint16_t i = 0; i < r.qdcount(); ++i) {
    (void)dns::Name::read(rd);
    rd.skip(4);
  }
  const int records = r.ancount() + r.nscount() + r.arcount();
  for (int i = 0; i < records && rd.ok(); ++i) {
    const size_t owner_at = rd.position();
    const dns::Name owner = dns::Name::read(rd);
    const size_t owner_end = rd.position();
    const uint16_t type = rd.u16();
    const uint16_t cls = rd.u16();
    const uint32_t ttl = rd.u32();
    const uint16_t rdlength = rd.u16();
    auto rdata = rd.bytes(rdlength);
    if (!rd.ok() || type != rrtype::OPT) continue;
    ++r.opt_count;
    r.opt_owner.assign(r.wire.begin() + static_cast<long>(owner_at),
                       r.wire.begin() + static_cast<long>(owner_end));
    (void)owner;
    r.opt_payload = cls;
    r.opt_ext_rcode = static_cast<uint8_t>(ttl >> 24);
    r.opt_version = static_cast<uint8_t>(ttl >> 16);
    r.opt_flags = static_cast<uint16_t>(ttl);
    dns::WireReader o(rdata);
    while (!o.at_end() && o.ok()) {
      Option opt;
      opt.code = o.u16();
      const uint16_t len = o.u16();
      auto data = o.bytes(len);
      opt.data.assign(data.begin(), data.end());
      if (o.ok()) r.options.push_back(std::move(opt));
    }
    EXPECT_TRUE(o.ok()) << "OPT options overrun the OPT RDATA";
  }
  EXPECT_TRUE(rd.ok()) << "reply records overrun the reply";
}

Reply respond_with(const Responder& responder, const Bytes& query,
                   Transport transport = Transport::kUdp) {
  Reply r;
  QueryContext ctx;
  ctx.transport = transport;
  ctx.client.ss_family = AF_INET;
  r.disposition = responder.respond(zones(), query, ctx, r.wire, &r.info);
  if (r.disposition != Disposition::kReply) return r;
  EXPECT_GE(r.wire.size(), dns::kHeaderSize);
  if (r.wire.size() < dns::kHeaderSize) return r;
  const dns::ParseResult pr = dns::parse_message(r.wire);
  EXPECT_TRUE(pr.ok()) << "reply does not parse: " << dns::parse_error_name(pr.error);
  r.parsed = pr.ok();
  r.msg = pr.message;
  read_opt(r);
  return r;
}

Reply ask(const Bytes& query, Transport transport = Transport::kUdp) {
  static const Responder responder{ResponderConfig{}};
  return respond_with(responder, query, transport);
}
Reply ask(const Query& q, Transport transport = Transport::kUdp) {
  return ask(q.wire(), transport);
}

// The question section of the query, byte for byte (everything after the header up to the end of
// the first question).
Bytes question_bytes(const Query& q) {
  Bytes b;
  const Bytes n = name_wire(q.questions.at(0).name);
  b.insert(b.end(), n.begin(), n.end());
  put16(b, q.questions[0].type);
  put16(b, q.questions[0].cls);
  return b;
}

// True when the reply carries exactly the query's question bytes after its header.
bool echoes_question(const Reply& r, const Query& q) {
  const Bytes want = question_bytes(q);
  if (r.qdcount() != 1 || r.wire.size() < dns::kHeaderSize + want.size()) return false;
  return Bytes(r.wire.begin() + dns::kHeaderSize,
               r.wire.begin() + static_cast<long>(dns::kHeaderSize + want.size())) == want;
}

dns::Name name(std::string_view text) {
  return *dns::Name::from_text(text);
}

std::optional<dns::Name> target_of(const dns::ResourceRecord& rr) {
  return dns::rdata_target_name(rr.type, rr.rdata);
}

Bytes a_rdata(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {a, b, c, d};
}

// =============================================================================================
// Header and question
// =============================================================================================

// Spec: "QR=1, ID copied, opcode copied, question echoed byte-for-byte (the client's letter case
// kept: resolvers randomise case). RD copied; RA=0; Z=0 always; AD=0; AA=1 only for data from
// our zones."

TEST(ResponderHeaderAndQuestion, ReplyHasQrSetAndIdCopied) {
  for (uint16_t id : {uint16_t{0}, uint16_t{1}, uint16_t{0x4d52}, uint16_t{0xffff}}) {
    Query q("www.example.com.", rrtype::A);
    q.id = id;
    const Reply r = ask(q);
    ASSERT_EQ(r.disposition, Disposition::kReply);
    EXPECT_TRUE(r.has(flag::QR));
    EXPECT_EQ(r.id(), id);
  }
}

TEST(ResponderHeaderAndQuestion, IdCopiedOnErrorReplies) {
  Query formerr("www.example.com.", rrtype::A);
  formerr.id = 0xbeef;
  formerr.qdcount = 2;  // second question missing: truncated
  EXPECT_EQ(ask(formerr).id(), 0xbeef);
  Query refused("www.example.org.", rrtype::A);
  refused.id = 0xcafe;
  EXPECT_EQ(ask(refused).id(), 0xcafe);
}

TEST(ResponderHeaderAndQuestion, OpcodeCopiedIntoReply) {
  EXPECT_EQ(ask(Query("www.example.com.", rrtype::A)).opcode(), dns::opcode::QUERY);
  for (uint8_t op : {dns::opcode::IQUERY, dns::opcode::STATUS, dns::opcode::NOTIFY,
                     dns::opcode::UPDATE, uint8_t{15}}) {
    const Reply r = ask(Query("www.example.com.", rrtype::A).with_opcode(op));
    EXPECT_EQ(r.opcode(), op) << "opcode " << int{op};
  }
}

TEST(ResponderHeaderAndQuestion, QuestionEchoedByteForByteWithClientCase) {
  for (const char* qname : {"www.example.com.", "WwW.eXaMpLe.CoM.", "WWW.EXAMPLE.COM.",
                            "NoSuCh.ExAmPlE.cOm.", "x.Y.wILD.example.COM."}) {
    Query q(qname, rrtype::A);
    const Reply r = ask(q);
    EXPECT_TRUE(echoes_question(r, q)) << qname;
  }
}

TEST(ResponderHeaderAndQuestion, AnswerOwnerKeepsClientCase) {
  // The answer's owner is the query name as the client wrote it (a pointer to the question).
  Query q("wWw.ExAmPlE.cOm.", rrtype::A);
  const Reply r = ask(q);
  ASSERT_EQ(r.msg.answers.size(), 1u);
  const Bytes want = name_wire("wWw.ExAmPlE.cOm.");
  const auto got = r.msg.answers[0].owner.wire();
  EXPECT_EQ(Bytes(got.begin(), got.end()), want);
}

TEST(ResponderHeaderAndQuestion, RdCopied) {
  EXPECT_TRUE(ask(Query("www.example.com.", rrtype::A).with_flags(flag::RD)).has(flag::RD));
  EXPECT_FALSE(ask(Query("www.example.com.", rrtype::A).with_flags(0)).has(flag::RD));
  // Also on error replies.
  EXPECT_TRUE(ask(Query("www.example.org.", rrtype::A).with_flags(flag::RD)).has(flag::RD));
}

TEST(ResponderHeaderAndQuestion, RaZeroEvenWhenQuerySetsIt) {
  const Reply r = ask(Query("www.example.com.", rrtype::A).with_flags(flag::RA | flag::RD));
  EXPECT_FALSE(r.has(flag::RA));
}

TEST(ResponderHeaderAndQuestion, ZAlwaysZero) {
  for (const char* qname : {"www.example.com.", "nosuch.example.com.", "www.example.org."}) {
    const Reply r = ask(Query(qname, rrtype::A).with_flags(flag::Z));
    EXPECT_FALSE(r.has(flag::Z)) << qname;
  }
}

TEST(ResponderHeaderAndQuestion, AdAlwaysZero) {
  const Reply r = ask(Query("www.example.com.", rrtype::A).with_flags(flag::AD));
  EXPECT_FALSE(r.has(flag::AD));
  const Reply r2 = ask(Query("www.example.com.", rrtype::A).with_edns(Opt{.flags = 0x8000}));
  EXPECT_FALSE(r2.has(flag::AD));
}

TEST(ResponderHeaderAndQuestion, CdNotCopied) {
  // The spec copies only ID, opcode and RD; CD is cleared like Knot and NSD do
  // (docs/conformance.md).
  EXPECT_FALSE(ask(Query("www.example.com.", rrtype::A).with_flags(flag::CD)).has(flag::CD));
  EXPECT_FALSE(ask(Query("www.example.com.", rrtype::A)).has(flag::CD));
  EXPECT_TRUE(
      ask(Query("www.example.com.", rrtype::A).with_flags(flag::CD | flag::RD)).has(flag::RD));
}

TEST(ResponderHeaderAndQuestion, QueryAaAndTcNotReflected) {
  const Reply r = ask(Query("www.example.org.", rrtype::A).with_flags(flag::AA | flag::TC));
  EXPECT_FALSE(r.has(flag::AA));
  EXPECT_FALSE(r.has(flag::TC));
}

TEST(ResponderHeaderAndQuestion, AaSetOnlyForDataFromOurZones) {
  EXPECT_TRUE(ask(Query("www.example.com.", rrtype::A)).has(flag::AA));        // answer
  EXPECT_TRUE(ask(Query("www.example.com.", rrtype::TXT)).has(flag::AA));      // NODATA
  EXPECT_TRUE(ask(Query("nosuch.example.com.", rrtype::A)).has(flag::AA));     // NXDOMAIN
  EXPECT_FALSE(ask(Query("host.sub.example.com.", rrtype::A)).has(flag::AA));  // referral
  EXPECT_FALSE(ask(Query("www.example.org.", rrtype::A)).has(flag::AA));       // not ours
  EXPECT_FALSE(ask(Query("www.example.com.", rrtype::A, rrclass::CH)).has(flag::AA));
  EXPECT_FALSE(ask(Query("www.example.com.", rrtype::A).with_opcode(4)).has(flag::AA));
  Query two("www.example.com.", rrtype::A);
  two.questions.push_back(two.questions[0]);
  EXPECT_FALSE(ask(two).has(flag::AA));  // FORMERR
}

// Spec: "Matching is case-insensitive (RFC 4343)."

TEST(ResponderHeaderAndQuestion, MatchingIsCaseInsensitive) {
  for (const char* qname : {"WWW.EXAMPLE.COM.", "wWw.ExAmPlE.cOm.", "www.EXAMPLE.com."}) {
    const Reply r = ask(Query(qname, rrtype::A));
    EXPECT_EQ(r.rcode(), rcode::NOERROR) << qname;
    EXPECT_TRUE(r.has(flag::AA)) << qname;
    ASSERT_EQ(r.msg.answers.size(), 1u) << qname;
    EXPECT_EQ(r.msg.answers[0].rdata, a_rdata(198, 18, 0, 1));
  }
  // Wildcard, CNAME target and delegation lookups are case-insensitive too.
  EXPECT_EQ(ask(Query("X.WILD.EXAMPLE.COM.", rrtype::A)).msg.answers.size(), 1u);
  EXPECT_EQ(ask(Query("ALIAS.example.COM.", rrtype::A)).msg.answers.size(), 2u);
  const Reply referral = ask(Query("HOST.SUB.Example.Com.", rrtype::A));
  EXPECT_FALSE(referral.has(flag::AA));
  EXPECT_EQ(referral.count_type(referral.msg.authority, rrtype::NS), 2u);
}

// Spec: "A packet with QR=1 is never answered."

TEST(ResponderHeaderAndQuestion, QrSetIsDropped) {
  EXPECT_EQ(ask(Query("www.example.com.", rrtype::A).with_flags(flag::QR)).disposition,
            Disposition::kDrop);
  // Also when it would otherwise be an error reply (malformed, other opcode, not ours).
  Query bad("www.example.com.", rrtype::A);
  bad.flags = flag::QR;
  bad.qdcount = 3;
  EXPECT_EQ(ask(bad).disposition, Disposition::kDrop);
  EXPECT_EQ(
      ask(Query("www.example.com.", rrtype::A).with_flags(flag::QR).with_opcode(4)).disposition,
      Disposition::kDrop);
  EXPECT_EQ(ask(Query("www.example.org.", rrtype::A).with_flags(flag::QR).with_edns()).disposition,
            Disposition::kDrop);
  EXPECT_EQ(ask(Bytes{0x12, 0x34, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0}).disposition,
            Disposition::kDrop);
}

// Spec: "Opcode other than QUERY: NOTIMP, no AA, question echoed if present. (NOTIFY/UPDATE:
// NOTIMP too.)"

TEST(ResponderHeaderAndQuestion, OtherOpcodesGetNotimpWithoutAaAndWithQuestion) {
  for (uint8_t op : {dns::opcode::IQUERY, dns::opcode::STATUS, uint8_t{3}, dns::opcode::NOTIFY,
                     dns::opcode::UPDATE, uint8_t{6}, uint8_t{15}}) {
    Query q("www.example.com.", rrtype::SOA);
    q.with_opcode(op);
    const Reply r = ask(q);
    ASSERT_EQ(r.disposition, Disposition::kReply) << int{op};
    EXPECT_EQ(r.rcode(), rcode::NOTIMP) << int{op};
    EXPECT_FALSE(r.has(flag::AA)) << int{op};
    EXPECT_TRUE(echoes_question(r, q)) << int{op};
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0) << int{op};
    EXPECT_EQ(r.info.rcode, rcode::NOTIMP);
  }
}

// ISC's DNS compliance tester (genreport, test `opcodeflg`): a NOTIMP reply to an opcode other
// than QUERY carries no flag the query set. The opcode's message format is unknown, so nothing in
// it is interpreted: QR, the opcode, the ID and NOTIMP, and no other flag, over UDP and TCP, with
// and without EDNS.
TEST(ResponderHeaderAndQuestion, OtherOpcodesNotimpCarriesOnlyQrAndOpcode) {
  const uint16_t every_flag =
      flag::AA | flag::TC | flag::RD | flag::RA | flag::Z | flag::AD | flag::CD;
  for (uint8_t op : {dns::opcode::IQUERY, dns::opcode::STATUS, dns::opcode::NOTIFY,
                     dns::opcode::UPDATE, uint8_t{15}}) {
    for (uint16_t sent : {uint16_t{flag::RD | flag::CD | flag::AD}, every_flag}) {
      for (Transport transport : {Transport::kUdp, Transport::kTcp}) {
        for (bool edns : {false, true}) {
          SCOPED_TRACE("opcode " + std::to_string(op) + " flags " + std::to_string(sent) +
                       (transport == Transport::kUdp ? " UDP" : " TCP") + (edns ? " EDNS" : ""));
          Query q("www.example.com.", rrtype::A);
          q.id = 0x4d2e;
          q.with_flags(sent).with_opcode(op);
          if (edns) q.with_edns();
          const Reply r = ask(q, transport);
          ASSERT_EQ(r.disposition, Disposition::kReply);
          EXPECT_EQ(r.id(), 0x4d2e);
          EXPECT_EQ(r.flags(), flag::QR | (op << flag::OPCODE_SHIFT) | rcode::NOTIMP);
          EXPECT_TRUE(echoes_question(r, q));
        }
      }
    }
  }
  // QUERY keeps copying RD (spec: "RD copied"), NOTIMP for AXFR over UDP included.
  EXPECT_TRUE(ask(Query("example.com.", rrtype::AXFR).with_flags(flag::RD)).has(flag::RD));
}

TEST(ResponderHeaderAndQuestion, NotifyAndUpdateForOurZoneStillNotimp) {
  // An UPDATE carries the zone in the question with class IN; a NOTIFY the SOA name.
  for (uint8_t op : {dns::opcode::NOTIFY, dns::opcode::UPDATE}) {
    Query q("example.com.", rrtype::SOA);
    q.with_opcode(op).with_flags(static_cast<uint16_t>(q.flags | flag::AA));
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::NOTIMP);
    EXPECT_FALSE(r.has(flag::AA));
    EXPECT_TRUE(echoes_question(r, q));
  }
}

TEST(ResponderHeaderAndQuestion, OtherOpcodeWithoutQuestionGetsNotimpWithoutQuestion) {
  Query q;
  q.with_opcode(dns::opcode::STATUS);
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::NOTIMP);
  EXPECT_EQ(r.qdcount(), 0);
  EXPECT_EQ(r.wire.size(), dns::kHeaderSize);
}

// Spec: "QDCOUNT ≠ 1 for QUERY: FORMERR (RFC 9619). A packet too short for a header: dropped."

TEST(ResponderHeaderAndQuestion, QdcountZeroIsFormerr) {
  const Reply r = ask(Query());
  ASSERT_EQ(r.disposition, Disposition::kReply);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.qdcount(), 0);
  EXPECT_FALSE(r.has(flag::AA));
}

TEST(ResponderHeaderAndQuestion, QdcountTwoIsFormerr) {
  Query q("www.example.com.", rrtype::A);
  q.questions.push_back({"mail.example.com.", rrtype::A, rrclass::IN});
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.ancount(), 0);
  EXPECT_FALSE(r.has(flag::AA));
}

TEST(ResponderHeaderAndQuestion, QdcountLargerThanPacketIsFormerr) {
  Query q("www.example.com.", rrtype::A);
  q.qdcount = 0xffff;
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.qdcount(), 0);
}

TEST(ResponderHeaderAndQuestion, ShorterThanHeaderIsDropped) {
  const Bytes full = Query("www.example.com.", rrtype::A).wire();
  for (size_t len = 0; len < dns::kHeaderSize; ++len) {
    const Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
    EXPECT_EQ(ask(cut).disposition, Disposition::kDrop) << len << " bytes";
  }
}

TEST(ResponderHeaderAndQuestion, BareHeaderIsAnsweredFormerr) {
  // Exactly 12 bytes, QDCOUNT 0: a header can be echoed.
  const Reply r = ask(Bytes{0xab, 0xcd, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_EQ(r.disposition, Disposition::kReply);
  EXPECT_EQ(r.id(), 0xabcd);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_TRUE(r.has(flag::RD));
}

// Spec: "A truncated or malformed question or additional section: FORMERR if a header can be
// echoed, otherwise dropped. Never a crash, never a read past the packet."

TEST(ResponderHeaderAndQuestion, TruncatedQuestionIsFormerrWithoutQuestion) {
  const Bytes full = Query("www.example.com.", rrtype::A).wire();
  for (size_t len = dns::kHeaderSize; len < full.size(); ++len) {
    const Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
    const Reply r = ask(cut);
    ASSERT_EQ(r.disposition, Disposition::kReply) << len;
    EXPECT_EQ(r.rcode(), rcode::FORMERR) << len;
    EXPECT_EQ(r.qdcount(), 0) << len;
    EXPECT_EQ(r.id(), 0x4d52) << len;
  }
}

TEST(ResponderHeaderAndQuestion, MalformedQuestionNameIsFormerr) {
  // Label type 01 (0x40), a label longer than 63, and a forward compression pointer.
  for (Bytes qname : {Bytes{0x43, 'w', 'w', 'w', 0}, Bytes{0xc0, 0x20},
                      Bytes{0x03, 'w', 'w', 'w', 0xc0, 0x11, 0}}) {
    Bytes wire = {0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    wire.insert(wire.end(), qname.begin(), qname.end());
    put16(wire, rrtype::A);
    put16(wire, rrclass::IN);
    const Reply r = ask(wire);
    ASSERT_EQ(r.disposition, Disposition::kReply);
    EXPECT_EQ(r.rcode(), rcode::FORMERR);
    EXPECT_EQ(r.qdcount(), 0);
  }
}

TEST(ResponderHeaderAndQuestion, CompressedQuestionNameIsFormerr) {
  // A pointer back into the header (offset 5 holds a zero byte: the root name) cannot be echoed
  // byte for byte as a question: malformed.
  Bytes wire = {0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x05};
  put16(wire, rrtype::A);
  put16(wire, rrclass::IN);
  const Reply r = ask(wire);
  ASSERT_EQ(r.disposition, Disposition::kReply);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.qdcount(), 0);
}

TEST(ResponderHeaderAndQuestion, NameLongerThan255IsFormerr) {
  Bytes wire = {0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 5; ++i) {
    wire.push_back(63);
    wire.insert(wire.end(), 63, 'a');
  }
  wire.push_back(0);
  put16(wire, rrtype::A);
  put16(wire, rrclass::IN);
  EXPECT_EQ(ask(wire).rcode(), rcode::FORMERR);
}

TEST(ResponderHeaderAndQuestion, MalformedAdditionalIsFormerrWithQuestion) {
  // An A record in the additional section whose RDLENGTH runs past the packet.
  Query q("www.example.com.", rrtype::A);
  q.extra = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 20, 1, 2, 3, 4};
  q.extra_additional = 1;
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_TRUE(echoes_question(r, q));
  EXPECT_EQ(r.ancount(), 0);

  // ARCOUNT claims a record that is not there.
  Query missing("www.example.com.", rrtype::A);
  missing.arcount = 1;
  EXPECT_EQ(ask(missing).rcode(), rcode::FORMERR);

  // An A record with RDLENGTH 3.
  Query badrdata("www.example.com.", rrtype::A);
  badrdata.extra = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3};
  badrdata.extra_additional = 1;
  EXPECT_EQ(ask(badrdata).rcode(), rcode::FORMERR);
}

TEST(ResponderHeaderAndQuestion, TrailingBytesAfterLastRecordAreFormerrWithQuestion) {
  Query q("www.example.com.", rrtype::A);
  q.extra = {0xde, 0xad};
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_TRUE(echoes_question(r, q));
}

TEST(ResponderHeaderAndQuestion, EveryPrefixOfAnEdnsQueryIsDroppedOrFormerr) {
  // Cutting anywhere inside a query with an OPT and options: never a crash or an over-read
  // (ASan), always dropped (no header) or FORMERR.
  Opt o;
  o.flags = 0x8000;
  o.options = {ecs_option(1, 24, 0, {198, 18, 0}), cookie_option(8), {dns::edns_option::NSID, {}}};
  const Bytes full = Query("www.example.com.", rrtype::A).with_edns(o).wire();
  ASSERT_EQ(ask(full).rcode(), rcode::NOERROR);
  for (size_t len = 0; len < full.size(); ++len) {
    const Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
    const Reply r = ask(cut);
    if (len < dns::kHeaderSize) {
      EXPECT_EQ(r.disposition, Disposition::kDrop) << len;
    } else {
      ASSERT_EQ(r.disposition, Disposition::kReply) << len;
      EXPECT_EQ(r.rcode(), rcode::FORMERR) << len;
    }
  }
}

TEST(ResponderHeaderAndQuestion, EveryByteFlipIsAnsweredOrDroppedSafely) {
  // Deterministic corruption of each byte: whatever the outcome, a reply parses and keeps the ID.
  Opt o;
  o.options = {ecs_option(2, 56, 0, {0xfd, 0, 0, 0x18, 0, 0, 0}), cookie_option(16)};
  const Bytes full = Query("mx.example.com.", rrtype::MX).with_edns(o).wire();
  for (size_t pos = 0; pos < full.size(); ++pos) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0xc0}, uint8_t{0x3f}}) {
      Bytes mutated = full;
      mutated[pos] = value;
      const Reply r = ask(mutated);
      if (r.disposition == Disposition::kReply) {
        EXPECT_TRUE(r.parsed) << pos;
        EXPECT_EQ(r.id(), static_cast<uint16_t>((mutated[0] << 8) | mutated[1])) << pos;
      } else {
        EXPECT_TRUE(mutated[2] & 0x80) << "dropped without QR at byte " << pos;
      }
    }
  }
}

// Spec: "Class other than IN (CHAOS, HESIOD, ANY): REFUSED."

TEST(ResponderHeaderAndQuestion, ClassOtherThanInIsRefused) {
  for (uint16_t cls : {rrclass::CH, rrclass::HS, rrclass::ANY, rrclass::NONE, uint16_t{2}}) {
    Query q("www.example.com.", rrtype::A, cls);
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::REFUSED) << cls;
    EXPECT_FALSE(r.has(flag::AA)) << cls;
    EXPECT_TRUE(echoes_question(r, q)) << cls;
    EXPECT_EQ(r.ancount() + r.nscount(), 0) << cls;
  }
  // The classic CHAOS version.bind query too.
  EXPECT_EQ(ask(Query("version.bind.", rrtype::TXT, rrclass::CH)).rcode(), rcode::REFUSED);
}

// =============================================================================================
// Answers
// =============================================================================================

// Spec: "Name not inside any of our zones: REFUSED, AA=0, no records."

TEST(ResponderAnswers, NameOutsideOurZonesIsRefusedWithoutAaOrRecords) {
  for (const char* qname :
       {"www.example.org.", "com.", ".", "example.", "wwwexample.com.", "net."}) {
    Query q(qname, rrtype::A);
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::REFUSED) << qname;
    EXPECT_FALSE(r.has(flag::AA)) << qname;
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0) << qname;
    EXPECT_TRUE(echoes_question(r, q)) << qname;
  }
}

// Spec: "Name exists with the type: NOERROR, AA=1, the RRset in the answer section."

TEST(ResponderAnswers, PositiveAnswerHasAaAndTheRRset) {
  const Reply r = ask(Query("www.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_TRUE(r.has(flag::AA));
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::A);
  EXPECT_EQ(r.msg.answers[0].ttl, 3600u);
  EXPECT_TRUE(r.msg.answers[0].owner.equals(name("www.example.com.")));
  EXPECT_EQ(r.nscount(), 0);
  EXPECT_TRUE(r.info.authoritative);
  EXPECT_EQ(r.info.qtype, rrtype::A);

  const Reply apex = ask(Query("example.com.", rrtype::NS));
  EXPECT_TRUE(apex.has(flag::AA));
  EXPECT_EQ(apex.count_type(apex.msg.answers, rrtype::NS), 2u);
  // Apex NS targets are ours: their addresses come as additional data.
  EXPECT_EQ(apex.count_type(apex.msg.additional, rrtype::A), 2u);

  // A direct SOA query returns the SOA with its own TTL (no negative-TTL capping).
  const Reply soa = ask(Query("example.com.", rrtype::SOA));
  ASSERT_EQ(soa.msg.answers.size(), 1u);
  EXPECT_EQ(soa.msg.answers[0].ttl, 3600u);
}

TEST(ResponderAnswers, WholeRRsetReturned) {
  const Reply r = ask(Query("big.example.com.", rrtype::TXT), Transport::kTcp);
  EXPECT_EQ(r.msg.answers.size(), 6u);
}

TEST(ResponderAnswers, MxAnswerCarriesTargetAddressesInAdditional) {
  const Reply r = ask(Query("mx.example.com.", rrtype::MX));
  EXPECT_EQ(r.count_type(r.msg.answers, rrtype::MX), 1u);
  EXPECT_EQ(r.count_type(r.msg.additional, rrtype::A), 1u);
  EXPECT_EQ(r.count_type(r.msg.additional, rrtype::AAAA), 1u);
}

// Spec: "Name exists without the type (NODATA), and NXDOMAIN: the zone's SOA in the authority
// section with TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308)."

void expect_negative(const Reply& r, uint16_t want_rcode, const char* zone, uint32_t ttl) {
  EXPECT_EQ(r.rcode(), want_rcode);
  EXPECT_TRUE(r.has(flag::AA));
  EXPECT_EQ(r.ancount(), 0);
  ASSERT_EQ(r.msg.authority.size(), 1u);
  EXPECT_EQ(r.msg.authority[0].type, rrtype::SOA);
  EXPECT_TRUE(r.msg.authority[0].owner.equals(name(zone)));
  EXPECT_EQ(r.msg.authority[0].ttl, ttl);
}

TEST(ResponderAnswers, NodataHasSoaWithMinimumWhenMinimumIsSmaller) {
  // example.com: SOA TTL 3600, MINIMUM 300.
  expect_negative(ask(Query("www.example.com.", rrtype::TXT)), rcode::NOERROR, "example.com.", 300);
}

TEST(ResponderAnswers, NodataHasSoaWithSoaTtlWhenSoaTtlIsSmaller) {
  // example.net: SOA TTL 60, MINIMUM 3600.
  expect_negative(ask(Query("www.example.net.", rrtype::TXT)), rcode::NOERROR, "example.net.", 60);
}

TEST(ResponderAnswers, NxdomainHasSoaWithMinimumWhenMinimumIsSmaller) {
  expect_negative(ask(Query("nosuch.example.com.", rrtype::A)), rcode::NXDOMAIN, "example.com.",
                  300);
  expect_negative(ask(Query("a.b.c.nosuch.example.com.", rrtype::AAAA)), rcode::NXDOMAIN,
                  "example.com.", 300);
}

TEST(ResponderAnswers, NxdomainHasSoaWithSoaTtlWhenSoaTtlIsSmaller) {
  expect_negative(ask(Query("nosuch.example.net.", rrtype::A)), rcode::NXDOMAIN, "example.net.",
                  60);
}

TEST(ResponderAnswers, InfoReportsNegativeOutcome) {
  const Reply r = ask(Query("nosuch.example.com.", rrtype::A));
  EXPECT_EQ(r.info.rcode, rcode::NXDOMAIN);
  EXPECT_TRUE(r.info.authoritative);
  EXPECT_FALSE(r.info.truncated);
}

// Spec: "Empty non-terminal (a name with no records but with names below it): NODATA, not
// NXDOMAIN, and a wildcard does not match it."

TEST(ResponderAnswers, EmptyNonTerminalIsNodata) {
  expect_negative(ask(Query("ent.example.com.", rrtype::A)), rcode::NOERROR, "example.com.", 300);
  expect_negative(ask(Query("ENT.example.com.", rrtype::TXT)), rcode::NOERROR, "example.com.", 300);
}

TEST(ResponderAnswers, WildcardDoesNotMatchEmptyNonTerminal) {
  // ent.wild has a child (leaf.ent.wild) and *.wild exists: ent.wild is NODATA, not wildcard A.
  expect_negative(ask(Query("ent.wild.example.com.", rrtype::A)), rcode::NOERROR, "example.com.",
                  300);
  // Below the empty non-terminal the closest encloser is ent.wild, which has no wildcard child.
  expect_negative(ask(Query("x.ent.wild.example.com.", rrtype::A)), rcode::NXDOMAIN, "example.com.",
                  300);
}

// Spec: "CNAME: the CNAME in the answer and, while the target is inside our zones, the chain
// followed (loops cut, at most 8 steps); the final rcode is that of the last name."

TEST(ResponderAnswers, CnameFollowedInZone) {
  const Reply r = ask(Query("alias.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_TRUE(r.has(flag::AA));
  ASSERT_EQ(r.msg.answers.size(), 2u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
  EXPECT_TRUE(r.msg.answers[0].owner.equals(name("alias.example.com.")));
  EXPECT_TRUE(target_of(r.msg.answers[0])->equals(name("www.example.com.")));
  EXPECT_EQ(r.msg.answers[1].type, rrtype::A);
  EXPECT_TRUE(r.msg.answers[1].owner.equals(name("www.example.com.")));
}

TEST(ResponderAnswers, CnameQueriedDirectlyIsNotFollowed) {
  const Reply r = ask(Query("alias.example.com.", rrtype::CNAME));
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
}

TEST(ResponderAnswers, CnameChainIntoAnotherOfOurZonesFollowed) {
  const Reply r = ask(Query("cross.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  ASSERT_EQ(r.msg.answers.size(), 2u);
  EXPECT_EQ(r.msg.answers[1].type, rrtype::A);
  EXPECT_EQ(r.msg.answers[1].rdata, a_rdata(198, 18, 2, 1));
}

TEST(ResponderAnswers, CnameChainEndingInNxdomainGivesNxdomainWithTheCname) {
  const Reply r = ask(Query("dangling.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NXDOMAIN);
  EXPECT_TRUE(r.has(flag::AA));
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
  ASSERT_EQ(r.msg.authority.size(), 1u);
  EXPECT_EQ(r.msg.authority[0].type, rrtype::SOA);
  EXPECT_EQ(r.msg.authority[0].ttl, 300u);

  // Into the other zone: that zone's SOA and negative TTL.
  const Reply x = ask(Query("crossnx.example.com.", rrtype::A));
  EXPECT_EQ(x.rcode(), rcode::NXDOMAIN);
  ASSERT_EQ(x.msg.answers.size(), 1u);
  ASSERT_EQ(x.msg.authority.size(), 1u);
  EXPECT_TRUE(x.msg.authority[0].owner.equals(name("example.net.")));
  EXPECT_EQ(x.msg.authority[0].ttl, 60u);
}

TEST(ResponderAnswers, CnameChainEndingInNodataGivesNoerrorWithSoa) {
  const Reply r = ask(Query("alias.example.com.", rrtype::TXT));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
  ASSERT_EQ(r.msg.authority.size(), 1u);
  EXPECT_EQ(r.msg.authority[0].type, rrtype::SOA);
}

TEST(ResponderAnswers, CnameLoopIsCut) {
  const Reply r = ask(Query("loop1.example.com.", rrtype::A));
  ASSERT_EQ(r.disposition, Disposition::kReply);
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  ASSERT_EQ(r.msg.answers.size(), 2u);
  EXPECT_TRUE(r.msg.answers[0].owner.equals(name("loop1.example.com.")));
  EXPECT_TRUE(r.msg.answers[1].owner.equals(name("loop2.example.com.")));

  const Reply self = ask(Query("self.example.com.", rrtype::A));
  EXPECT_EQ(self.rcode(), rcode::NOERROR);
  ASSERT_EQ(self.msg.answers.size(), 1u);
  EXPECT_EQ(self.msg.answers[0].type, rrtype::CNAME);
}

TEST(ResponderAnswers, CnameChainOfEightStepsIsFollowedToTheEnd) {
  const Reply r = ask(Query("c0.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  ASSERT_EQ(r.msg.answers.size(), 9u);
  EXPECT_EQ(r.count_type(r.msg.answers, rrtype::CNAME), 8u);
  EXPECT_EQ(r.msg.answers.back().type, rrtype::A);
  EXPECT_TRUE(r.msg.answers.back().owner.equals(name("c8.example.com.")));
}

TEST(ResponderAnswers, CnameChainLongerThanEightStepsStops) {
  // l0 -> l1 -> ... -> l10 (A). Eight targets are followed (l1..l8); l8's own CNAME is the last
  // record given and its target l9 is not looked up, so l10's A never appears.
  const Reply r = ask(Query("l0.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_EQ(r.count_type(r.msg.answers, rrtype::A), 0u);
  EXPECT_EQ(r.count_type(r.msg.answers, rrtype::CNAME), 9u);
  EXPECT_EQ(r.msg.answers.size(), 9u);
  EXPECT_TRUE(r.msg.answers.back().owner.equals(name("l8.example.com.")));
  EXPECT_EQ(r.nscount(), 0);
}

TEST(ResponderAnswers, CnameToOutsideOurZonesStops) {
  const Reply r = ask(Query("outside.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_TRUE(r.has(flag::AA));
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
  EXPECT_TRUE(target_of(r.msg.answers[0])->equals(name("www.example.org.")));
  EXPECT_EQ(r.nscount(), 0);
}

// Spec: "Wildcards (RFC 4592): `*.zone` matches names with no closer match; the owner in the
// answer is the query name."

TEST(ResponderAnswers, WildcardSynthesisUsesQueryNameAsOwner) {
  for (const char* qname :
       {"anything.wild.example.com.", "a.b.c.wild.example.com.", "MiXeD.wild.example.com."}) {
    const Reply r = ask(Query(qname, rrtype::A));
    EXPECT_EQ(r.rcode(), rcode::NOERROR) << qname;
    EXPECT_TRUE(r.has(flag::AA)) << qname;
    ASSERT_EQ(r.msg.answers.size(), 1u) << qname;
    EXPECT_EQ(r.msg.answers[0].rdata, a_rdata(198, 18, 0, 100));
    const auto owner = r.msg.answers[0].owner.wire();
    EXPECT_EQ(Bytes(owner.begin(), owner.end()), name_wire(qname)) << qname;
  }
}

TEST(ResponderAnswers, WildcardNodataForMissingType) {
  expect_negative(ask(Query("anything.wild.example.com.", rrtype::AAAA)), rcode::NOERROR,
                  "example.com.", 300);
}

TEST(ResponderAnswers, WildcardNotUsedWhenCloserNameExists) {
  // host.wild exists (TXT only): an A query is NODATA, not the wildcard's A.
  expect_negative(ask(Query("host.wild.example.com.", rrtype::A)), rcode::NOERROR, "example.com.",
                  300);
  const Reply txt = ask(Query("host.wild.example.com.", rrtype::TXT));
  ASSERT_EQ(txt.msg.answers.size(), 1u);
  EXPECT_NE(txt.msg.answers[0].rdata, (Bytes{8, 'w', 'i', 'l', 'd', 'c', 'a', 'r', 'd'}));
  // Below an existing name that has no wildcard child: NXDOMAIN.
  expect_negative(ask(Query("x.host.wild.example.com.", rrtype::A)), rcode::NXDOMAIN,
                  "example.com.", 300);
}

TEST(ResponderAnswers, WildcardOwnerQueriedLiterally) {
  const Reply r = ask(Query("*.wild.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  ASSERT_EQ(r.msg.answers.size(), 1u);
}

TEST(ResponderAnswers, WildcardCnameSynthesizedAndFollowed) {
  const Reply r = ask(Query("foo.cwild.example.com.", rrtype::A));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  ASSERT_EQ(r.msg.answers.size(), 2u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
  EXPECT_TRUE(r.msg.answers[0].owner.equals(name("foo.cwild.example.com.")));
  EXPECT_EQ(r.msg.answers[1].type, rrtype::A);
}

TEST(ResponderAnswers, UnknownTypeIsNodata) {
  expect_negative(ask(Query("www.example.com.", 666)), rcode::NOERROR, "example.com.", 300);
}

// Spec: "Delegation below a zone cut (NS records not at the apex): a referral — NOERROR, AA=0,
// NS in authority, glue A/AAAA in additional."

void expect_referral(const Reply& r) {
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_FALSE(r.has(flag::AA));
  EXPECT_EQ(r.ancount(), 0);
  ASSERT_EQ(r.msg.authority.size(), 2u);
  for (const auto& rr : r.msg.authority) {
    EXPECT_EQ(rr.type, rrtype::NS);
    EXPECT_TRUE(rr.owner.equals(name("sub.example.com.")));
  }
  // Glue only for the in-bailiwick server; none for ns.elsewhere.org.
  ASSERT_EQ(r.msg.additional.size(), 2u);
  for (const auto& rr : r.msg.additional) {
    EXPECT_TRUE(rr.owner.equals(name("ns.sub.example.com.")));
    EXPECT_TRUE(rr.type == rrtype::A || rr.type == rrtype::AAAA);
  }
  EXPECT_FALSE(r.info.authoritative);
}

TEST(ResponderAnswers, ReferralForNameBelowTheCut) {
  expect_referral(ask(Query("host.sub.example.com.", rrtype::A)));  // occluded data not given
  expect_referral(ask(Query("deep.below.sub.example.com.", rrtype::AAAA)));
  expect_referral(ask(Query("ns.sub.example.com.", rrtype::A)));  // glue is not authoritative
}

TEST(ResponderAnswers, ReferralForNameAtTheCut) {
  expect_referral(ask(Query("sub.example.com.", rrtype::A)));
  expect_referral(ask(Query("sub.example.com.", rrtype::NS)));
  expect_referral(ask(Query("sub.example.com.", rrtype::ANY)));
}

TEST(ResponderAnswers, ReferralWhoseGlueDoesNotFitIsTruncated) {
  // Glue is required for the referral to be usable: when it does not fit, TC=1 (not a referral
  // with glue silently left out).
  Query q("www.fat.example.com.", rrtype::A);
  const Reply r = ask(q);
  EXPECT_TRUE(r.has(flag::TC));
  EXPECT_FALSE(r.has(flag::AA));
  EXPECT_TRUE(echoes_question(r, q));
  EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  const Reply e = ask(Query("www.fat.example.com.", rrtype::A).with_edns());
  EXPECT_FALSE(e.has(flag::TC));
  EXPECT_EQ(e.count_type(e.msg.authority, rrtype::NS), 12u);
  EXPECT_EQ(e.msg.additional.size(), 24u);
}

TEST(ResponderAnswers, DsAtTheCutIsAnsweredByTheParent) {
  // DS belongs to the parent side of the cut: authoritative NODATA here, not a referral.
  expect_negative(ask(Query("sub.example.com.", rrtype::DS)), rcode::NOERROR, "example.com.", 300);
}

// Spec: "ANY over UDP: one RRset or a synthesized HINFO (RFC 8482), never the whole node."

TEST(ResponderAnswers, AnyOverUdpReturnsOneRRset) {
  // multi has A, MX and TXT: the responder gives the RRset with the lowest type (A).
  const Reply r = ask(Query("multi.example.com.", rrtype::ANY));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_TRUE(r.has(flag::AA));
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::A);
  // The apex (SOA, NS, ...) also yields a single RRset.
  const Reply apex = ask(Query("example.com.", rrtype::ANY));
  EXPECT_EQ(apex.msg.answers.size(), 2u);  // the two records of the NS RRset
  EXPECT_EQ(apex.count_type(apex.msg.answers, rrtype::NS), 2u);
}

TEST(ResponderAnswers, AnyOverTcpAlsoReturnsOneRRset) {
  const Reply r = ask(Query("multi.example.com.", rrtype::ANY), Transport::kTcp);
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::A);
}

TEST(ResponderAnswers, AnyForNonexistentNameAndEmptyNonTerminal) {
  expect_negative(ask(Query("nosuch.example.com.", rrtype::ANY)), rcode::NXDOMAIN, "example.com.",
                  300);
  expect_negative(ask(Query("ent.example.com.", rrtype::ANY)), rcode::NOERROR, "example.com.", 300);
}

TEST(ResponderAnswers, AnyOnCnameNodeReturnsTheCnameUnfollowed) {
  const Reply r = ask(Query("alias.example.com.", rrtype::ANY));
  ASSERT_EQ(r.msg.answers.size(), 1u);
  EXPECT_EQ(r.msg.answers[0].type, rrtype::CNAME);
}

// Spec: "AXFR/IXFR over UDP: NOTIMP. (Zone transfer over TCP is optional and off by default.)"

TEST(ResponderAnswers, AxfrAndIxfrOverUdpAreNotimp) {
  for (uint16_t type : {rrtype::AXFR, rrtype::IXFR}) {
    Query q("example.com.", type);
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::NOTIMP) << type;
    EXPECT_FALSE(r.has(flag::AA)) << type;
    EXPECT_TRUE(echoes_question(r, q)) << type;
    EXPECT_EQ(r.ancount() + r.nscount(), 0) << type;
  }
}

TEST(ResponderAnswers, AxfrOverTcpIsRefusedWhileTransfersAreOff) {
  const Reply r = ask(Query("example.com.", rrtype::AXFR), Transport::kTcp);
  EXPECT_EQ(r.rcode(), rcode::REFUSED);
  EXPECT_EQ(r.ancount(), 0);
}

// =============================================================================================
// EDNS (RFC 6891)
// =============================================================================================

// Spec: "OPT in the reply exactly when the query had one, including TC, FORMERR and REFUSED
// replies."

struct OptPresenceCase {
  const char* what;
  Query query;
  uint16_t rcode;
  bool tc = false;
};

std::vector<OptPresenceCase> opt_presence_cases() {
  std::vector<OptPresenceCase> cases;
  cases.push_back({"answer", Query("www.example.com.", rrtype::A), rcode::NOERROR});
  cases.push_back({"nodata", Query("www.example.com.", rrtype::TXT), rcode::NOERROR});
  cases.push_back({"nxdomain", Query("nosuch.example.com.", rrtype::A), rcode::NXDOMAIN});
  cases.push_back({"referral", Query("host.sub.example.com.", rrtype::A), rcode::NOERROR});
  cases.push_back({"refused-outside", Query("www.example.org.", rrtype::A), rcode::REFUSED});
  cases.push_back(
      {"refused-class", Query("www.example.com.", rrtype::A, rrclass::CH), rcode::REFUSED});
  cases.push_back(
      {"notimp-opcode", Query("example.com.", rrtype::SOA).with_opcode(4), rcode::NOTIMP});
  cases.push_back({"notimp-axfr", Query("example.com.", rrtype::AXFR), rcode::NOTIMP});
  Query two("www.example.com.", rrtype::A);
  two.questions.push_back(two.questions[0]);
  cases.push_back({"formerr-qdcount", two, rcode::FORMERR});
  Query noq;
  cases.push_back({"formerr-no-question", noq, rcode::FORMERR});
  // huge (~1700 bytes) does not fit 512 (no EDNS) nor 1232 (EDNS, our limit).
  cases.push_back({"truncated", Query("huge.example.com.", rrtype::TXT), rcode::NOERROR, true});
  return cases;
}

TEST(ResponderEdns, NoOptInReplyWhenQueryHadNone) {
  for (const auto& c : opt_presence_cases()) {
    const Reply r = ask(c.query);
    ASSERT_EQ(r.disposition, Disposition::kReply) << c.what;
    EXPECT_EQ(r.rcode(), c.rcode) << c.what;
    EXPECT_EQ(r.has(flag::TC), c.tc) << c.what;
    EXPECT_EQ(r.opt_count, 0) << c.what;
  }
}

TEST(ResponderEdns, OptInReplyWhenQueryHadOne) {
  for (auto c : opt_presence_cases()) {
    c.query.with_edns(Opt{.payload = 4096});
    const Reply r = ask(c.query);
    ASSERT_EQ(r.disposition, Disposition::kReply) << c.what;
    EXPECT_EQ(r.rcode(), c.rcode) << c.what;
    EXPECT_EQ(r.has(flag::TC), c.tc) << c.what;
    EXPECT_EQ(r.opt_count, 1) << c.what;
    EXPECT_EQ(r.opt_owner, Bytes{0}) << c.what;
    EXPECT_EQ(r.opt_version, 0) << c.what;
  }
}

TEST(ResponderEdns, OptInFormerrForMalformedRecordAfterTheOpt) {
  Query q("www.example.com.", rrtype::A);
  q.with_edns();
  q.extra = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3};  // A with RDLENGTH 3
  q.extra_additional = 1;
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.opt_count, 1);
}

// Spec: "More than one OPT, or OPT not owned by the root name: FORMERR."

TEST(ResponderEdns, TwoOptsAreFormerrWithOneOpt) {
  Query q("www.example.com.", rrtype::A);
  q.with_edns().with_edns();
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.ancount(), 0);
  EXPECT_EQ(r.opt_count, 1);
  EXPECT_TRUE(echoes_question(r, q));
}

TEST(ResponderEdns, OptNotOwnedByRootIsFormerr) {
  Query q("www.example.com.", rrtype::A);
  Opt o;
  o.owner = name_wire("example.com.");
  q.with_edns(o);
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.ancount(), 0);
  EXPECT_EQ(r.opt_count, 1);
  EXPECT_EQ(r.opt_owner, Bytes{0});

  // A compression pointer to the question name is not the root either.
  Query p("www.example.com.", rrtype::A);
  p.with_edns(Opt{.owner = {0xc0, 0x0c}});
  EXPECT_EQ(ask(p).rcode(), rcode::FORMERR);
}

TEST(ResponderEdns, OptInAnswerSectionIsFormerr) {
  Query q("www.example.com.", rrtype::A);
  Bytes wire = q.wire();
  const Bytes opt = opt_record(Opt{});
  wire.insert(wire.end(), opt.begin(), opt.end());
  wire[7] = 1;  // ANCOUNT 1
  EXPECT_EQ(ask(wire).rcode(), rcode::FORMERR);
}

// Spec: "EDNS version > 0: BADVERS (extended rcode 16) with OPT version 0, no answer records."

TEST(ResponderEdns, VersionAboveZeroIsBadvers) {
  for (uint8_t version : {uint8_t{1}, uint8_t{2}, uint8_t{255}}) {
    Query q("www.example.com.", rrtype::A);
    q.with_edns(Opt{.version = version});
    const Reply r = ask(q);
    ASSERT_EQ(r.disposition, Disposition::kReply);
    EXPECT_EQ(r.rcode(), rcode::BADVERS) << int{version};
    EXPECT_EQ(r.flags() & flag::RCODE_MASK, 0) << int{version};  // 16 = ext 1, header 0
    EXPECT_EQ(r.opt_ext_rcode, 1) << int{version};
    EXPECT_EQ(r.opt_version, 0) << int{version};
    EXPECT_EQ(r.ancount(), 0) << int{version};
    EXPECT_EQ(r.nscount(), 0) << int{version};
    EXPECT_EQ(r.arcount(), 1) << int{version};  // the OPT alone
    EXPECT_FALSE(r.has(flag::AA)) << int{version};
    EXPECT_TRUE(echoes_question(r, q)) << int{version};
    EXPECT_EQ(r.info.rcode, rcode::BADVERS);
  }
}

TEST(ResponderEdns, BadversTakesPrecedenceOverOtherOutcomes) {
  for (const char* qname : {"www.example.org.", "nosuch.example.com."}) {
    Query q(qname, rrtype::A);
    q.with_edns(Opt{.version = 1});
    EXPECT_EQ(ask(q).rcode(), rcode::BADVERS) << qname;
  }
}

// Spec: "Unknown options and unknown flags are ignored and never echoed. DO is echoed when set."

TEST(ResponderEdns, UnknownOptionsIgnoredAndNotEchoed) {
  Query q("www.example.com.", rrtype::A);
  Opt o;
  o.options = {{65001, {1, 2, 3}}, {15, {}}, {dns::edns_option::PADDING, Bytes(16, 0)}};
  q.with_edns(o);
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_EQ(r.msg.answers.size(), 1u);
  EXPECT_TRUE(r.options.empty());
}

TEST(ResponderEdns, UnknownFlagsIgnoredAndNotEchoed) {
  Query q("www.example.com.", rrtype::A);
  q.with_edns(Opt{.flags = 0x7fff});  // every flag but DO
  const Reply r = ask(q);
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_EQ(r.opt_flags, 0);
  // The query's extended-rcode bits are not reflected either.
  Query e("www.example.com.", rrtype::A);
  e.with_edns(Opt{.ext_rcode = 0x55});
  const Reply er = ask(e);
  EXPECT_EQ(er.opt_ext_rcode, 0);
  EXPECT_EQ(er.rcode(), rcode::NOERROR);
}

TEST(ResponderEdns, DoEchoedWhenSet) {
  Query q("www.example.com.", rrtype::A);
  q.with_edns(Opt{.flags = 0xffff});
  EXPECT_EQ(ask(q).opt_flags, dns::kEdnsDoBit);
  Query nx("nosuch.example.com.", rrtype::A);
  nx.with_edns(Opt{.flags = dns::kEdnsDoBit});
  EXPECT_EQ(ask(nx).opt_flags, dns::kEdnsDoBit);
  Query plain("www.example.com.", rrtype::A);
  plain.with_edns();
  EXPECT_EQ(ask(plain).opt_flags, 0);
}

// Spec: "Requestor payload below 512 is treated as 512. Our advertised payload: 1232
// (configurable)."

size_t tcp_size(const char* qname, uint16_t type) {
  return ask(Query(qname, type).with_edns(), Transport::kTcp).wire.size();
}

TEST(ResponderEdns, PayloadBelow512TreatedAs512) {
  // medium's reply is larger than 100 bytes but fits 512.
  const size_t full = tcp_size("medium.example.com.", rrtype::TXT);
  ASSERT_GT(full, 100u);
  ASSERT_LE(full, 512u);
  for (uint16_t payload : {uint16_t{0}, uint16_t{1}, uint16_t{100}, uint16_t{511}}) {
    Query q("medium.example.com.", rrtype::TXT);
    q.with_edns(Opt{.payload = payload});
    const Reply r = ask(q);
    EXPECT_FALSE(r.has(flag::TC)) << payload;
    EXPECT_EQ(r.msg.answers.size(), 1u) << payload;  // one TXT record of three strings
    EXPECT_EQ(r.wire.size(), full) << payload;
  }
}

TEST(ResponderEdns, PayloadLimitHonouredAbove512) {
  const size_t big = tcp_size("big.example.com.", rrtype::TXT);
  ASSERT_GT(big, 512u);
  ASSERT_LE(big, 1232u);
  Query at512("big.example.com.", rrtype::TXT);
  at512.with_edns(Opt{.payload = 512});
  EXPECT_TRUE(ask(at512).has(flag::TC));
  Query just("big.example.com.", rrtype::TXT);
  just.with_edns(Opt{.payload = static_cast<uint16_t>(big)});
  const Reply fits = ask(just);
  EXPECT_FALSE(fits.has(flag::TC));
  EXPECT_EQ(fits.wire.size(), big);
  Query one_less("big.example.com.", rrtype::TXT);
  one_less.with_edns(Opt{.payload = static_cast<uint16_t>(big - 1)});
  EXPECT_TRUE(ask(one_less).has(flag::TC));
}

TEST(ResponderEdns, AdvertisedPayloadIs1232ByDefault) {
  for (uint16_t payload : {uint16_t{100}, uint16_t{512}, uint16_t{4096}}) {
    const Reply r = ask(Query("www.example.com.", rrtype::A).with_edns(Opt{.payload = payload}));
    EXPECT_EQ(r.opt_payload, 1232) << payload;
  }
  // Also on error replies.
  EXPECT_EQ(ask(Query("www.example.org.", rrtype::A).with_edns()).opt_payload, 1232);
  EXPECT_EQ(ask(Query("www.example.com.", rrtype::A).with_edns(Opt{.version = 1})).opt_payload,
            1232);
}

TEST(ResponderEdns, UdpRepliesCappedAtOurPayloadEvenWhenClientOffersMore) {
  const size_t huge = tcp_size("huge.example.com.", rrtype::TXT);
  ASSERT_GT(huge, 1232u);
  Query q("huge.example.com.", rrtype::TXT);
  q.with_edns(Opt{.payload = 65535});
  const Reply r = ask(q);
  EXPECT_TRUE(r.has(flag::TC));
  EXPECT_LE(r.wire.size(), 1232u);
}

TEST(ResponderEdns, AdvertisedPayloadIsConfigurable) {
  ResponderConfig config;
  config.advertised_udp_payload = 4096;
  const Responder responder(config);
  Query q("huge.example.com.", rrtype::TXT);
  q.with_edns(Opt{.payload = 4096});
  const Reply r = respond_with(responder, q.wire());
  EXPECT_EQ(r.opt_payload, 4096);
  EXPECT_FALSE(r.has(flag::TC));
  EXPECT_EQ(r.msg.answers.size(), 8u);

  // A smaller setting limits UDP replies to it even when the client offers more.
  ResponderConfig small;
  small.advertised_udp_payload = 600;
  const Responder small_responder(small);
  Query b("big.example.com.", rrtype::TXT);
  b.with_edns(Opt{.payload = 4096});
  const Reply rs = respond_with(small_responder, b.wire());
  EXPECT_EQ(rs.opt_payload, 600);
  EXPECT_TRUE(rs.has(flag::TC));
}

// Spec: "A reply that does not fit the client's limit (512 without EDNS): TC=1 with the question
// (and OPT), no partial RRsets."

TEST(ResponderEdns, TooBigWithoutEdnsIsTruncatedWithQuestionOnly) {
  Query q("big.example.com.", rrtype::TXT);
  const Reply r = ask(q);
  EXPECT_TRUE(r.has(flag::TC));
  EXPECT_TRUE(r.has(flag::AA));
  EXPECT_EQ(r.rcode(), rcode::NOERROR);
  EXPECT_TRUE(echoes_question(r, q));
  EXPECT_EQ(r.ancount(), 0);  // no partial RRset
  EXPECT_EQ(r.nscount(), 0);
  EXPECT_EQ(r.arcount(), 0);
  EXPECT_LE(r.wire.size(), 512u);
  EXPECT_FALSE(r.has_opt());
  EXPECT_TRUE(r.info.truncated);
}

TEST(ResponderEdns, TooBigWithEdnsIsTruncatedWithQuestionAndOpt) {
  Query q("huge.example.com.", rrtype::TXT);
  q.with_edns(Opt{.payload = 1232, .flags = dns::kEdnsDoBit});
  const Reply r = ask(q);
  EXPECT_TRUE(r.has(flag::TC));
  EXPECT_TRUE(echoes_question(r, q));
  EXPECT_EQ(r.ancount(), 0);
  EXPECT_EQ(r.nscount(), 0);
  EXPECT_EQ(r.arcount(), 1);
  EXPECT_EQ(r.opt_count, 1);
  EXPECT_EQ(r.opt_flags, dns::kEdnsDoBit);
}

TEST(ResponderEdns, CnameWhoseTargetRRsetDoesNotFitIsTruncatedWithoutPartialRRsets) {
  // tobig CNAME big: the CNAME fits 512 bytes, big's six TXT records do not. TC=1 and no TXT
  // record at all (never some of the six).
  Query q("tobig.example.com.", rrtype::TXT);
  const Reply r = ask(q);
  EXPECT_TRUE(r.has(flag::TC));
  EXPECT_TRUE(echoes_question(r, q));
  EXPECT_EQ(r.count_type(r.msg.answers, rrtype::TXT), 0u);
  EXPECT_LE(r.wire.size(), 512u);
  const Reply tcp = ask(q, Transport::kTcp);
  EXPECT_FALSE(tcp.has(flag::TC));
  EXPECT_EQ(tcp.count_type(tcp.msg.answers, rrtype::CNAME), 1u);
  EXPECT_EQ(tcp.count_type(tcp.msg.answers, rrtype::TXT), 6u);
}

TEST(ResponderEdns, AdditionalDataThatDoesNotFitIsLeftOutWithoutTc) {
  // RFC 2181 9: additional data is optional; what is left out does not set TC, and what is
  // given is whole RRsets (each target's A and AAAA are one record each here).
  Query q("mxmany.example.com.", rrtype::MX);
  const Reply r = ask(q);
  EXPECT_FALSE(r.has(flag::TC));
  EXPECT_LE(r.wire.size(), 512u);
  EXPECT_EQ(r.count_type(r.msg.answers, rrtype::MX), 12u);
  const size_t additional = r.msg.additional.size();
  EXPECT_GT(additional, 0u);
  EXPECT_LT(additional, 24u);
  const Reply tcp = ask(q, Transport::kTcp);
  EXPECT_EQ(tcp.msg.additional.size(), 24u);
}

TEST(ResponderEdns, TcpGetsTheFullAnswer) {
  const Reply r = ask(Query("huge.example.com.", rrtype::TXT), Transport::kTcp);
  EXPECT_FALSE(r.has(flag::TC));
  EXPECT_EQ(r.msg.answers.size(), 8u);
  EXPECT_GT(r.wire.size(), 1232u);
  const Reply e =
      ask(Query("huge.example.com.", rrtype::TXT).with_edns(Opt{.payload = 512}), Transport::kTcp);
  EXPECT_FALSE(e.has(flag::TC));
  EXPECT_EQ(e.msg.answers.size(), 8u);
  EXPECT_EQ(e.opt_count, 1);
}

TEST(ResponderEdns, SmallAnswersNotTruncated) {
  const Reply r = ask(Query("mx.example.com.", rrtype::MX));
  EXPECT_FALSE(r.has(flag::TC));
  EXPECT_FALSE(r.info.truncated);
}

// Spec: "Cookies (RFC 7873): a malformed cookie option (length other than 8 or 16–40) gets
// FORMERR; a well-formed one is answered (with a server cookie once implemented)."

TEST(ResponderEdns, MalformedCookieLengthIsFormerr) {
  for (size_t len :
       {size_t{0}, size_t{1}, size_t{7}, size_t{9}, size_t{15}, size_t{41}, size_t{64}}) {
    Query q("www.example.com.", rrtype::A);
    q.with_edns(Opt{.options = {cookie_option(len)}});
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::FORMERR) << len;
    EXPECT_EQ(r.ancount(), 0) << len;
    EXPECT_EQ(r.opt_count, 1) << len;
    EXPECT_TRUE(echoes_question(r, q)) << len;
  }
}

TEST(ResponderEdns, WellFormedCookieIsAnswered) {
  for (size_t len : {size_t{8}, size_t{16}, size_t{24}, size_t{32}, size_t{40}}) {
    Query q("www.example.com.", rrtype::A);
    q.with_edns(Opt{.options = {cookie_option(len)}});
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::NOERROR) << len;
    EXPECT_EQ(r.msg.answers.size(), 1u) << len;
    EXPECT_EQ(r.opt_count, 1) << len;
  }
}

// Spec: "ECS: see gslb-semantics.md." Malformed ECS (RFC 7871 7.1.2) is FORMERR; a well-formed
// one is echoed with FAMILY, SOURCE PREFIX and ADDRESS copied and SCOPE 0 for answers that do
// not depend on the client.

TEST(ResponderEdns, MalformedEcsIsFormerr) {
  struct Case {
    const char* what;
    Option ecs;
  };
  const std::vector<Case> cases = {
      {"address longer than prefix", ecs_option(1, 24, 0, {198, 18, 0, 1})},
      {"address shorter than prefix", ecs_option(1, 24, 0, {198, 18})},
      {"non-zero bits past prefix", ecs_option(1, 23, 0, {198, 18, 1})},
      {"non-zero bits past v6 prefix", ecs_option(2, 60, 0, {0xfd, 0, 0, 0x18, 0, 0, 0, 0x0f})},
      {"unknown family", ecs_option(3, 24, 0, {198, 18, 0})},
      {"family zero", ecs_option(0, 0, 0, {})},
      {"v4 prefix over 32", ecs_option(1, 33, 0, {198, 18, 0, 1, 0})},
      {"v6 prefix over 128", ecs_option(2, 129, 0, Bytes(17, 0))},
      {"shorter than the fixed part", {dns::edns_option::ECS, {0, 1, 24}}},
      {"two ECS options", ecs_option(1, 0, 0, {})},
  };
  for (const auto& c : cases) {
    Query q("www.example.com.", rrtype::A);
    Opt o;
    o.options = {c.ecs};
    if (std::string_view(c.what) == "two ECS options") o.options.push_back(c.ecs);
    q.with_edns(o);
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::FORMERR) << c.what;
    EXPECT_EQ(r.ancount(), 0) << c.what;
    EXPECT_EQ(r.opt_count, 1) << c.what;
    EXPECT_EQ(r.option(dns::edns_option::ECS), nullptr) << c.what;
  }
}

TEST(ResponderEdns, OptionOverrunningOptRdataIsFormerr) {
  Query q("www.example.com.", rrtype::A);
  Bytes wire = q.wire();
  wire[11] = 1;  // ARCOUNT
  const Bytes opt = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 6, 0, 8, 0, 10, 0, 1};
  wire.insert(wire.end(), opt.begin(), opt.end());
  const Reply r = ask(wire);
  EXPECT_EQ(r.rcode(), rcode::FORMERR);
  EXPECT_EQ(r.opt_count, 1);
}

void expect_ecs_echo(const Reply& r, const Option& sent) {
  const Option* got = r.option(dns::edns_option::ECS);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->data.size(), sent.data.size());
  EXPECT_EQ(got->data[0], sent.data[0]);  // FAMILY
  EXPECT_EQ(got->data[1], sent.data[1]);
  EXPECT_EQ(got->data[2], sent.data[2]);  // SOURCE PREFIX-LENGTH
  EXPECT_EQ(got->data[3], 0);             // SCOPE PREFIX-LENGTH: static answer
  EXPECT_EQ(Bytes(got->data.begin() + 4, got->data.end()),
            Bytes(sent.data.begin() + 4, sent.data.end()));  // ADDRESS
}

TEST(ResponderEdns, WellFormedEcsEchoedWithScopeZero) {
  for (const Option& ecs :
       {ecs_option(1, 24, 0, {198, 18, 7}), ecs_option(1, 32, 0, {198, 18, 7, 9}),
        ecs_option(1, 23, 0, {198, 18, 6}), ecs_option(1, 0, 0, {}),
        ecs_option(2, 56, 0, {0xfd, 0, 0, 0x18, 0, 0, 0x42}),
        ecs_option(2, 128, 0, {0xfd, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})}) {
    Query q("www.example.com.", rrtype::A);
    q.with_edns(Opt{.options = {ecs}});
    const Reply r = ask(q);
    EXPECT_EQ(r.rcode(), rcode::NOERROR);
    EXPECT_EQ(r.msg.answers.size(), 1u);
    expect_ecs_echo(r, ecs);
  }
}

TEST(ResponderEdns, EcsEchoedOnNegativeAnswers) {
  const Option ecs = ecs_option(1, 24, 0, {198, 18, 7});
  for (const char* qname : {"www.example.com.", "nosuch.example.com."}) {
    Query q(qname, rrtype::TXT);
    q.with_edns(Opt{.options = {ecs}});
    const Reply r = ask(q);
    EXPECT_EQ(r.msg.authority.size(), 1u) << qname;
    expect_ecs_echo(r, ecs);
  }
}

TEST(ResponderEdns, EcsWithNonZeroQueryScopeStillGetsScopeZero) {
  const Option ecs = ecs_option(1, 24, 16, {198, 18, 7});
  Query q("www.example.com.", rrtype::A);
  q.with_edns(Opt{.options = {ecs}});
  const Reply r = ask(q);
  const Option* got = r.option(dns::edns_option::ECS);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->data[3], 0);
}

// NSID (RFC 5001): returned when asked and configured.

TEST(ResponderEdns, NsidReturnedWhenAskedAndConfigured) {
  ResponderConfig config;
  config.nsid = Bytes{'n', 's', '-', 'a'};
  const Responder responder(config);
  Query q("www.example.com.", rrtype::A);
  q.with_edns(Opt{.options = {{dns::edns_option::NSID, {}}}});
  const Reply r = respond_with(responder, q.wire());
  const Option* nsid = r.option(dns::edns_option::NSID);
  ASSERT_NE(nsid, nullptr);
  EXPECT_EQ(nsid->data, (Bytes{'n', 's', '-', 'a'}));

  // Not asked: not given.
  const Reply quiet =
      respond_with(responder, Query("www.example.com.", rrtype::A).with_edns().wire());
  EXPECT_EQ(quiet.option(dns::edns_option::NSID), nullptr);
  // Asked but not configured: not given.
  const Reply unset = ask(q);
  EXPECT_EQ(unset.option(dns::edns_option::NSID), nullptr);
  EXPECT_EQ(unset.rcode(), rcode::NOERROR);
}

}  // namespace
}  // namespace meridian::answer
