// Tests of the DNS wire library: names, header, question, RDATA of every served type in wire and
// presentation form, OPT and its options, and one test per class of malformed input.
#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "dns/message.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rdata_text.h"
#include "dns/types.h"
#include "dns/wire_reader.h"
#include "dns/wire_writer.h"

namespace meridian::dns {
namespace {

using Bytes = std::vector<uint8_t>;

Name N(std::string_view text) {
  auto n = Name::from_text(text);
  EXPECT_TRUE(n.ok()) << text << ": " << (n.ok() ? "" : n.error().what);
  return n.ok() ? *n : Name();
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  int nibble = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      continue;  // spaces separate bytes for readability
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<uint8_t>(nibble * 16 + v));
      nibble = -1;
    }
  }
  return out;
}

// Presentation text of a name whose wire form is exactly `wire_len` octets (labels of up to 63).
std::string name_of_wire_length(size_t wire_len) {
  std::string text;
  size_t remaining = wire_len - 1;  // minus the root octet
  char fill = 'a';
  while (remaining > 0) {
    size_t len = std::min<size_t>(kMaxLabel, remaining - 1);
    if (remaining - (len + 1) == 1) --len;  // never leave room for only a length octet
    text += std::string(len, fill++) + ".";
    remaining -= len + 1;
  }
  return text;
}

// Hand-built messages, so malformed input can be expressed byte by byte.
class Packet {
 public:
  Packet& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  Packet& u16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Packet& u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    return u16(static_cast<uint16_t>(v));
  }
  Packet& raw(const Bytes& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  Packet& name(std::string_view text) {
    const Name n = N(text);
    bytes_.insert(bytes_.end(), n.wire().begin(), n.wire().end());
    return *this;
  }
  Packet& header(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar, uint16_t flags = 0) {
    return u16(0xbeef).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  Packet& question(std::string_view qname, uint16_t qtype = rrtype::A) {
    return name(qname).u16(qtype).u16(rrclass::IN);
  }
  // A record whose owner bytes were already appended (e.g. a pointer).
  Packet& rr_body(uint16_t type, const Bytes& rdata, uint32_t ttl = 300) {
    u16(type).u16(rrclass::IN).u32(ttl).u16(static_cast<uint16_t>(rdata.size()));
    return raw(rdata);
  }
  Packet& rr(std::string_view owner, uint16_t type, const Bytes& rdata) {
    return name(owner).rr_body(type, rdata);
  }
  Packet& opt(const Bytes& options, uint16_t udp = 1232, uint32_t ttl = 0) {
    u8(0).u16(rrtype::OPT).u16(udp).u32(ttl).u16(static_cast<uint16_t>(options.size()));
    return raw(options);
  }
  size_t size() const { return bytes_.size(); }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

Bytes option(uint16_t code, const Bytes& data) {
  Bytes out = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code),
               static_cast<uint8_t>(data.size() >> 8), static_cast<uint8_t>(data.size())};
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes ecs_option(uint16_t family, uint8_t source, uint8_t scope, const Bytes& address) {
  Bytes data = {static_cast<uint8_t>(family >> 8), static_cast<uint8_t>(family), source, scope};
  data.insert(data.end(), address.begin(), address.end());
  return option(edns_option::ECS, data);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Parses from an exactly-sized heap copy so ASan reports any read past the end.
ParseResult parse(std::span<const uint8_t> wire) {
  auto copy = std::make_unique<uint8_t[]>(wire.size() + (wire.empty() ? 1 : 0));
  std::copy(wire.begin(), wire.end(), copy.get());
  return parse_message(std::span<const uint8_t>(copy.get(), wire.size()));
}

Bytes wire_of(const Name& n) {
  return Bytes(n.wire().begin(), n.wire().end());
}

// ---------------------------------------------------------------------------------------------
// Names

TEST(NameTest, PresentationRoundTrip) {
  struct Row {
    const char* text;
    const char* canonical;
  };
  const Row rows[] = {
      {".", "."},
      {"example.com.", "example.com."},
      {"WWW.Example.COM.", "WWW.Example.COM."},  // case kept for echoing
      {"*.example.com.", "*.example.com."},
      {"a\\.b.example.", "a\\.b.example."},
      {"\\000\\255.x.", "\\000\\255.x."},
      {"sp\\032ace.x.", "sp\\032ace.x."},
      {"\\065bc.x.", "Abc.x."},
      {"semi\\;colon.x.", "semi\\;colon.x."},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.text);
    const Name n = N(row.text);
    EXPECT_EQ(n.to_text(), row.canonical);
    auto again = Name::from_text(n.to_text());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->wire_length(), n.wire_length());
    EXPECT_TRUE(std::equal(n.wire().begin(), n.wire().end(), again->wire().begin()));
    auto from_wire = Name::from_wire(n.wire());
    ASSERT_TRUE(from_wire.ok());
    EXPECT_EQ(from_wire->to_text(), row.canonical);
  }
  EXPECT_EQ(wire_of(N("a\\.b.example.")), from_hex("03 61 2e 62 07 6578616d706c65 00"));
}

TEST(NameTest, RelativeNamesAndAt) {
  const Name origin = N("example.com.");
  auto rel = Name::from_text("www", &origin);
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->to_text(), "www.example.com.");
  auto at = Name::from_text("@", &origin);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->to_text(), "example.com.");
  auto abs = Name::from_text("www.example.org.", &origin);
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->to_text(), "www.example.org.");
  EXPECT_FALSE(Name::from_text("www").ok());
  EXPECT_FALSE(Name::from_text("@").ok());
  EXPECT_FALSE(Name::from_text("").ok());
  EXPECT_FALSE(Name::from_text("a..b.").ok());
  EXPECT_FALSE(Name::from_text("bad\\").ok());
  EXPECT_FALSE(Name::from_text("bad\\25x.").ok());
  EXPECT_FALSE(Name::from_text("bad\\256.").ok());
}

TEST(NameTest, CaseInsensitiveCompareAndLowercase) {
  const Name mixed = N("WwW.ExAmPlE.CoM.");
  const Name lower = N("www.example.com.");
  EXPECT_TRUE(mixed.equals(lower));
  EXPECT_EQ(mixed, lower);
  EXPECT_EQ(NameHash{}(mixed), NameHash{}(lower));
  EXPECT_EQ(mixed.key(), lower.key());
  EXPECT_EQ(mixed.canonical_compare(lower), std::strong_ordering::equal);
  EXPECT_EQ(mixed.to_text(), "WwW.ExAmPlE.CoM.");
  EXPECT_EQ(mixed.lowercased().to_text(), "www.example.com.");
  EXPECT_FALSE(N("www.example.com.").equals(N("www.example.org.")));
  EXPECT_FALSE(N("www.example.com.").equals(N("ww.example.com.")));
  // Only ASCII letters fold: 0xC0 and 0xE0 differ by the same bit but are not letters.
  EXPECT_FALSE(N("\\192.x.").equals(N("\\224.x.")));
  EXPECT_TRUE(N("a.WWW.example.COM.").is_subdomain_of(N("www.Example.com.")));
  EXPECT_FALSE(N("www.example.com.").is_subdomain_of(N("a.www.example.com.")));
  EXPECT_FALSE(N("xexample.com.").is_subdomain_of(N("example.com.")));
}

TEST(NameTest, LabelAccessorsAndDerivedNames) {
  const Name n = N("a.b.example.com.");
  EXPECT_EQ(n.label_count(), 4u);
  EXPECT_EQ(n.label(0), "a");
  EXPECT_EQ(n.label(3), "com");
  EXPECT_EQ(n.strip_left(2).to_text(), "example.com.");
  EXPECT_EQ(n.wildcard_child().to_text(), "*.a.b.example.com.");
  EXPECT_TRUE(N("*.example.com.").is_wildcard());
  EXPECT_FALSE(n.is_wildcard());
  EXPECT_EQ(Name().label_count(), 0u);
  EXPECT_TRUE(Name().is_root());
  auto pre = n.prepend("x");
  ASSERT_TRUE(pre.ok());
  EXPECT_EQ(pre->to_text(), "x.a.b.example.com.");
  auto moved = n.replace_suffix(N("example.com."), N("example.net."));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->to_text(), "a.b.example.net.");
  EXPECT_FALSE(n.replace_suffix(N("example.org."), N("x.")).ok());
  // RFC 4034 6.1 order: example < a.example < yljkjljk.a.example < Z.a.example < zABC.a.EXAMPLE.
  EXPECT_EQ(N("example.").canonical_compare(N("a.example.")), std::strong_ordering::less);
  EXPECT_EQ(N("yljkjljk.a.example.").canonical_compare(N("Z.a.example.")),
            std::strong_ordering::less);
  EXPECT_EQ(N("Z.a.example.").canonical_compare(N("zABC.a.EXAMPLE.")), std::strong_ordering::less);
  EXPECT_EQ(N("zABC.a.EXAMPLE.").canonical_compare(N("z.a.example.")),
            std::strong_ordering::greater);
}

TEST(NameTest, LabelLimitIs63Octets) {
  const std::string l63(63, 'x'), l64(64, 'x');
  auto ok = Name::from_text(l63 + ".example.");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->label(0).size(), 63u);
  auto bad = Name::from_text(l64 + ".example.");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what.find("63"), std::string::npos) << bad.error().what;
  EXPECT_FALSE(N("example.").prepend(l64).ok());
  EXPECT_TRUE(N("example.").prepend(l63).ok());

  // On the wire a length octet above 63 is a label type (0x40 = 01, 0x80 = 10), never a length.
  Bytes wire = {63};
  wire.insert(wire.end(), 63, 'x');
  wire.push_back(0);
  EXPECT_TRUE(Name::from_wire(wire).ok());
  wire[0] = 64;
  wire.insert(wire.begin() + 1, 'x');
  EXPECT_FALSE(Name::from_wire(wire).ok());
}

TEST(NameTest, NameLimitIs255Octets) {
  const std::string at_limit = name_of_wire_length(255);
  const std::string over = name_of_wire_length(256);
  auto ok = Name::from_text(at_limit);
  ASSERT_TRUE(ok.ok()) << ok.error().what;
  EXPECT_EQ(ok->wire_length(), 255u);
  auto bad = Name::from_text(over);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what.find("255"), std::string::npos) << bad.error().what;

  // A relative name that only goes over the limit once the origin is appended.
  const Name origin = N("example.");  // 9 octets
  const std::string rel_ok = name_of_wire_length(255 - 8);
  const std::string rel_over = name_of_wire_length(256 - 8);
  auto rok = Name::from_text(rel_ok.substr(0, rel_ok.size() - 1), &origin);
  ASSERT_TRUE(rok.ok()) << rok.error().what;
  EXPECT_EQ(rok->wire_length(), 255u);
  EXPECT_FALSE(Name::from_text(rel_over.substr(0, rel_over.size() - 1), &origin).ok());

  // Wire form: exactly 255 accepted, 256 rejected.
  EXPECT_TRUE(Name::from_wire(ok->wire()).ok());
  const auto base = wire_of(*ok);
  // Drop the first label of the 255 name (64 octets) and prepend labels totalling 65.
  Bytes tail(base.begin() + 64, base.end());
  Bytes over_wire = {62};
  over_wire.insert(over_wire.end(), 62, 'q');
  over_wire.push_back(1);
  over_wire.push_back('r');
  over_wire.insert(over_wire.end(), tail.begin(), tail.end());
  ASSERT_EQ(over_wire.size(), 256u);
  EXPECT_FALSE(Name::from_wire(over_wire).ok());
  EXPECT_FALSE(ok->prepend("z").ok());
}

TEST(NameTest, ReadFollowsCompressionPointers) {
  // "example.com" at 12, "www" + pointer at 25, then a pointer-only name at 31.
  Packet p;
  p.header(0, 0, 0, 0).name("example.com.");
  p.u8(3).raw({'w', 'w', 'w'}).u16(0xc00c);
  p.u16(0xc019);  // -> www.example.com at 25
  const Bytes& b = p.bytes();
  WireReader r(b);
  r.seek(25);
  Name www = Name::read(r);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(www.to_text(), "www.example.com.");
  EXPECT_EQ(r.position(), 31u);  // after the first pointer, not after the target
  Name again = Name::read(r);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(again.to_text(), "www.example.com.");
  EXPECT_TRUE(r.at_end());
}

TEST(NameTest, WriterCompressesCaseInsensitively) {
  Bytes buf;
  WireWriter w(buf, 512);
  for (int i = 0; i < 12; ++i) w.u8(0);
  w.name(N("www.example.com."));  // 12: full, targets at 12, 16, 24
  w.name(N("mail.EXAMPLE.com."));
  w.name(N("example.com."));
  w.name(N("COM."));
  w.name(N("www.example.com."));
  w.name(N("org."));
  w.name(N("org."), false);  // not compressed
  w.name(Name());
  ASSERT_FALSE(w.overflow());
  const Bytes expected = concat({Bytes(12, 0), wire_of(N("www.example.com.")),
                                 from_hex("04 6d61696c c010  c010  c018  c00c  036f726700"),
                                 from_hex("036f726700  00")});
  EXPECT_EQ(buf, expected);

  // Every name reads back whole from the compressed buffer.
  WireReader r(buf);
  r.seek(12);
  for (const char* want : {"www.example.com.", "mail.example.com.", "example.com.", "com.",
                           "www.example.com.", "org.", "org.", "."}) {
    EXPECT_TRUE(Name::read(r).equals(N(want))) << want;
  }
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

// ---------------------------------------------------------------------------------------------
// Reader and writer primitives

TEST(WireReaderTest, OverrunIsStickyAndReturnsZero) {
  const Bytes b = {0x12, 0x34, 0x56};
  WireReader r(b);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u16(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.at_end());
  r.seek(0);
  EXPECT_EQ(r.u8(), 0x12);
  EXPECT_FALSE(r.ok());  // sticky
  WireReader r2(b);
  EXPECT_EQ(r2.u32(), 0u);
  EXPECT_FALSE(r2.ok());
  WireReader r3(b);
  EXPECT_TRUE(r3.bytes(4).empty());
  EXPECT_FALSE(r3.ok());
  WireReader r4(b);
  r4.seek(4);
  EXPECT_FALSE(r4.ok());
}

TEST(WireWriterTest, LimitSetsOverflowAndRollbackRestores) {
  Bytes buf;
  WireWriter w(buf, 14);
  w.u32(0x01020304);
  const auto mark = w.mark();
  w.name(N("example.com."));
  EXPECT_TRUE(w.overflow());
  EXPECT_LE(buf.size(), 14u);
  w.rollback(mark);
  EXPECT_FALSE(w.overflow());
  EXPECT_EQ(buf, from_hex("01020304"));
  w.u16(0xaabb);
  w.patch_u16(0, 0xccdd);
  EXPECT_EQ(buf, from_hex("ccdd0304 aabb"));
}

// ---------------------------------------------------------------------------------------------
// Header and question

TEST(MessageTest, HeaderAndQuestionRoundTrip) {
  Header h;
  h.id = 0xa55a;
  h.flags =
      static_cast<uint16_t>(flag::QR | (opcode::NOTIFY << flag::OPCODE_SHIFT) | flag::AA |
                            flag::TC | flag::RD | flag::RA | flag::AD | flag::CD | rcode::REFUSED);
  h.qdcount = 2;
  Bytes buf;
  WireWriter w(buf, 512);
  write_header(w, h);
  w.name(N("Www.Example.com."));
  w.u16(rrtype::AAAA);
  w.u16(rrclass::IN);
  w.name(N("example.COM."));  // compressed against the first name
  w.u16(rrtype::CAA);
  w.u16(rrclass::CH);
  ASSERT_FALSE(w.overflow());
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 12), from_hex("a55a a7b5 0002 0000 0000 0000"));

  auto res = parse(buf);
  ASSERT_TRUE(res.ok()) << parse_error_name(res.error);
  const Header& g = res.message.header;
  EXPECT_EQ(g.id, 0xa55a);
  EXPECT_EQ(g.flags, h.flags);
  EXPECT_TRUE(g.qr());
  EXPECT_EQ(g.opcode(), opcode::NOTIFY);
  EXPECT_EQ(g.rcode(), rcode::REFUSED);
  EXPECT_EQ(g.qdcount, 2);
  ASSERT_EQ(res.message.questions.size(), 2u);
  EXPECT_EQ(res.message.questions[0].qname.to_text(), "Www.Example.com.");  // case kept
  EXPECT_EQ(res.message.questions[0].qtype, rrtype::AAAA);
  // A compressed name reads with the case of the copy it points at.
  EXPECT_EQ(res.message.questions[1].qname.to_text(), "Example.com.");
  EXPECT_EQ(res.message.questions[1].qtype, rrtype::CAA);
  EXPECT_EQ(res.message.questions[1].qclass, rrclass::CH);
  EXPECT_EQ(res.message.question_end, buf.size());

  // Write the parsed form again: identical bytes.
  Bytes again;
  WireWriter w2(again, 512);
  write_header(w2, g);
  for (const auto& q : res.message.questions) {
    w2.name(q.qname);
    w2.u16(q.qtype);
    w2.u16(q.qclass);
  }
  EXPECT_EQ(again, buf);
}

// ---------------------------------------------------------------------------------------------
// RDATA: presentation and wire forms of every served type

struct RdataRow {
  uint16_t type;
  const char* text;       // as written in a zone file (origin example.com.)
  const char* canonical;  // as printed back
  const char* hex;        // uncompressed wire RDATA
};

const RdataRow kRdataRows[] = {
    {rrtype::A, "192.0.2.1", "192.0.2.1", "c0000201"},
    {rrtype::A, "0.0.0.0", "0.0.0.0", "00000000"},
    {rrtype::AAAA, "2001:DB8::1", "2001:db8::1", "20010db8 00000000 00000000 00000001"},
    {rrtype::AAAA, "::ffff:192.0.2.1", "::ffff:192.0.2.1", "00000000 00000000 0000ffff c0000201"},
    {rrtype::CNAME, "target", "target.example.com.", "06746172676574 076578616d706c65 03636f6d 00"},
    {rrtype::NS, "ns1.example.net.", "ns1.example.net.", "036e7331 076578616d706c65 036e6574 00"},
    {rrtype::PTR, "host.example.com.", "host.example.com.",
     "04686f7374 076578616d706c65 03636f6d 00"},
    {rrtype::MX, "10 mail", "10 mail.example.com.", "000a 046d61696c 076578616d706c65 03636f6d 00"},
    {rrtype::MX, "0 .", "0 .", "0000 00"},
    {rrtype::SOA, "ns1 hostmaster 2024010101 1h 15m 1w 300",
     "ns1.example.com. hostmaster.example.com. 2024010101 3600 900 604800 300",
     "036e7331 076578616d706c65 03636f6d 00 0a686f73746d6173746572 076578616d706c65 03636f6d 00"
     "78a3f175 00000e10 00000384 00093a80 0000012c"},
    {rrtype::TXT, "\"v=spf1 -all\" \"second string\"", "\"v=spf1 -all\" \"second string\"",
     "0b763d73706631202d616c6c 0d7365636f6e6420737472696e67"},
    {rrtype::TXT, "\"\"", "\"\"", "00"},
    {rrtype::TXT, "\"\" \"x\" \"\"", "\"\" \"x\" \"\"", "00 0178 00"},
    {rrtype::TXT, "unquoted", "\"unquoted\"", "08756e71756f746564"},
    {rrtype::TXT, "\"a\\\"b\\059c\\\\\"", "\"a\\\"b;c\\\\\"", "06 61 22 62 3b 63 5c"},
    {rrtype::TXT, "\"\\000\\255\"", "\"\\000\\255\"", "02 00 ff"},
    {rrtype::SRV, "10 20 443 sip", "10 20 443 sip.example.com.",
     "000a 0014 01bb 03736970 076578616d706c65 03636f6d 00"},
    {rrtype::CAA, "0 issue \"ca.example.net\"", "0 issue \"ca.example.net\"",
     "00 05 6973737565 63612e6578616d706c652e6e6574"},
    {rrtype::CAA, "128 iodef \"mailto:x@example.com\"", "128 iodef \"mailto:x@example.com\"",
     "80 05 696f646566 6d61696c746f3a78406578616d706c652e636f6d"},
    {rrtype::CAA, "0 issue \"\"", "0 issue \"\"", "00 05 6973737565"},
    {rrtype::HINFO, "\"PC\" \"Linux\"", "\"PC\" \"Linux\"", "025043 054c696e7578"},
    {65280, "\\# 3 abcdef", "\\# 3 ABCDEF", "abcdef"},
    {65280, "\\# 0", "\\# 0", ""},
};

TEST(RdataTest, PresentationAndWireFormsOfEveryType) {
  const Name origin = N("example.com.");
  for (const RdataRow& row : kRdataRows) {
    SCOPED_TRACE(type_to_text(row.type) + " " + row.text);
    auto wire = rdata_from_text(row.type, row.text, origin);
    ASSERT_TRUE(wire.ok()) << wire.error().what;
    EXPECT_EQ(*wire, from_hex(row.hex));
    EXPECT_EQ(rdata_to_text(row.type, *wire), row.canonical);
    auto again = rdata_from_text(row.type, row.canonical, origin);
    ASSERT_TRUE(again.ok()) << again.error().what;
    EXPECT_EQ(*again, *wire);
    // The generic form of any type reads back to the same bytes.
    auto generic = rdata_from_text(
        row.type, "\\# " + std::to_string(wire->size()) + " " + std::string(row.hex), origin);
    ASSERT_TRUE(generic.ok()) << generic.error().what;
    EXPECT_EQ(*generic, *wire);
  }
}

TEST(RdataTest, BadPresentationIsRejectedWithTheField) {
  static const std::string kLongLabel(64, 'x');
  const Name origin = N("example.com.");
  struct Row {
    uint16_t type;
    const char* text;
    const char* fragment;
  };
  const Row rows[] = {
      {rrtype::A, "192.0.2.256", "bad IPv4 address"},
      {rrtype::A, "192.0.2", "bad IPv4 address"},
      {rrtype::A, "", "needs 1 field"},
      {rrtype::A, "192.0.2.1 192.0.2.2", "needs 1 field"},
      {rrtype::AAAA, "2001:db8::g", "bad IPv6 address"},
      {rrtype::AAAA, "192.0.2.1", "bad IPv6 address"},
      {rrtype::MX, "10", "needs 2 field"},
      {rrtype::MX, "65536 mail", "bad MX preference"},
      {rrtype::SRV, "1 2 70000 x", "bad SRV port"},
      {rrtype::SOA, "ns1 hm 1 2 3 4", "needs 7 field"},
      {rrtype::SOA, "ns1 hm 1 2 3 4 5x", "bad SOA minimum"},
      {rrtype::CNAME, kLongLabel.c_str(), "label longer than 63"},
      {rrtype::TXT, "", "at least one string"},
      {rrtype::TXT, "\"unterminated", "unterminated quoted string"},
      {rrtype::TXT, "\"\\300\"", "above 255"},
      {rrtype::CAA, "0 is-sue \"x\"", "bad CAA tag"},
      {rrtype::CAA, "256 issue \"x\"", "bad CAA flags"},
      {65280, "\\# 2 abcdef", "does not match"},
      {65280, "\\# 1 zz", "bad hex"},
      {65280, "opaque", "generic form"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(type_to_text(row.type) + " " + row.text);
    auto r = rdata_from_text(row.type, row.text, origin);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().what.find(row.fragment), std::string::npos) << r.error().what;
  }
  // A TXT character-string is at most 255 octets.
  EXPECT_TRUE(rdata_from_text(rrtype::TXT, "\"" + std::string(255, 'a') + "\"", origin).ok());
  EXPECT_FALSE(rdata_from_text(rrtype::TXT, "\"" + std::string(256, 'a') + "\"", origin).ok());
}

TEST(RdataTest, MalformedWireRdataPrintsInGenericForm) {
  EXPECT_EQ(rdata_to_text(rrtype::A, from_hex("c00002")), "\\# 3 C00002");
  EXPECT_EQ(rdata_to_text(rrtype::MX, from_hex("000a 03 6162")), "\\# 5 000A036162");
  EXPECT_EQ(rdata_to_text(rrtype::TXT, from_hex("05 6162")), "\\# 3 056162");
}

TEST(RdataTest, SoaAndTargetHelpers) {
  const Name origin = N("example.com.");
  auto soa = rdata_from_text(rrtype::SOA, "ns1 hm 7 1 2 3 4", origin);
  ASSERT_TRUE(soa.ok());
  auto fields = parse_soa(*soa);
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->mname.to_text(), "ns1.example.com.");
  EXPECT_EQ(fields->rname.to_text(), "hm.example.com.");
  EXPECT_EQ(fields->serial, 7u);
  EXPECT_EQ(fields->minimum, 4u);
  EXPECT_EQ(build_soa(*fields), *soa);
  Bytes truncated(soa->begin(), soa->end() - 1);
  EXPECT_FALSE(parse_soa(truncated).has_value());

  auto mx = rdata_from_text(rrtype::MX, "5 mx", origin);
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(rdata_target_name(rrtype::MX, *mx)->to_text(), "mx.example.com.");
  auto srv = rdata_from_text(rrtype::SRV, "1 2 3 t", origin);
  ASSERT_TRUE(srv.ok());
  EXPECT_EQ(rdata_target_name(rrtype::SRV, *srv)->to_text(), "t.example.com.");
  EXPECT_FALSE(rdata_target_name(rrtype::A, from_hex("01020304")).has_value());
  EXPECT_FALSE(rdata_target_name(rrtype::MX, from_hex("000a")).has_value());
}

TEST(TypesTest, MnemonicsRoundTrip) {
  for (uint16_t t : {rrtype::A, rrtype::AAAA, rrtype::CNAME, rrtype::NS, rrtype::SOA, rrtype::MX,
                     rrtype::TXT, rrtype::SRV, rrtype::CAA, rrtype::PTR, rrtype::OPT}) {
    EXPECT_EQ(type_from_text(type_to_text(t)), t) << t;
  }
  EXPECT_EQ(type_to_text(65280), "TYPE65280");
  EXPECT_EQ(type_from_text("type65280"), 65280);
  EXPECT_EQ(type_from_text("aaaa"), rrtype::AAAA);
  EXPECT_FALSE(type_from_text("TYPE65536").has_value());
  EXPECT_FALSE(type_from_text("BOGUS").has_value());
  EXPECT_EQ(class_from_text("in"), rrclass::IN);
  EXPECT_EQ(class_from_text("CLASS3"), rrclass::CH);
  EXPECT_EQ(class_to_text(9), "CLASS9");
}

// ---------------------------------------------------------------------------------------------
// Whole messages: records of every type written by the library and parsed back

struct Written {
  Bytes wire;
  std::vector<ResourceRecord> records;
};

Written write_response(const std::vector<ResourceRecord>& answers,
                       const std::vector<ResourceRecord>& authority,
                       const std::vector<ResourceRecord>& additional,
                       const std::optional<ReplyEdns>& edns) {
  Written out;
  WireWriter w(out.wire, 65535);
  Header h;
  h.id = 7;
  h.flags = flag::QR | flag::AA;
  h.qdcount = 1;
  h.ancount = static_cast<uint16_t>(answers.size());
  h.nscount = static_cast<uint16_t>(authority.size());
  h.arcount = static_cast<uint16_t>(additional.size() + (edns ? 1 : 0));
  write_header(w, h);
  w.name(N("example.com."));
  w.u16(rrtype::ANY);
  w.u16(rrclass::IN);
  for (const auto* section : {&answers, &authority, &additional})
    for (const auto& rr : *section) write_record(w, rr);
  if (edns) {
    const size_t before = w.size();
    write_opt(w, *edns);
    EXPECT_EQ(w.size() - before, opt_size(*edns));
  }
  EXPECT_FALSE(w.overflow());
  return out;
}

void expect_same_records(const std::vector<ResourceRecord>& got,
                         const std::vector<ResourceRecord>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("record " + std::to_string(i) + " " + type_to_text(want[i].type));
    EXPECT_EQ(got[i].owner, want[i].owner);
    EXPECT_EQ(got[i].owner.to_text(), want[i].owner.to_text());  // case survives compression
    EXPECT_EQ(got[i].type, want[i].type);
    EXPECT_EQ(got[i].rclass, want[i].rclass);
    EXPECT_EQ(got[i].ttl, want[i].ttl);
    EXPECT_EQ(got[i].rdata, want[i].rdata);
  }
}

TEST(MessageTest, RecordsOfEveryTypeRoundTripThroughTheWire) {
  const Name origin = N("example.com.");
  std::vector<ResourceRecord> answers;
  uint32_t ttl = 60;
  for (const RdataRow& row : kRdataRows) {
    auto rdata = rdata_from_text(row.type, row.text, origin);
    ASSERT_TRUE(rdata.ok());
    ResourceRecord rr;
    rr.owner = (answers.size() % 2) ? N("example.com.") : N("host.example.com.");
    rr.type = row.type;
    rr.ttl = ttl++;
    rr.rdata = *rdata;
    answers.push_back(rr);
  }
  ResourceRecord ns{N("example.com."), rrtype::NS, rrclass::IN, 3600,
                    wire_of(N("ns1.example.com."))};
  ResourceRecord glue{N("ns1.example.com."), rrtype::A, rrclass::IN, 0xffffffff,
                      from_hex("c6336401")};
  const Written msg = write_response(answers, {ns}, {glue}, std::nullopt);

  auto res = parse(msg.wire);
  ASSERT_TRUE(res.ok()) << parse_error_name(res.error) << " at " << res.error_offset;
  expect_same_records(res.message.answers, answers);
  expect_same_records(res.message.authority, {ns});
  expect_same_records(res.message.additional, {glue});
  EXPECT_FALSE(res.message.edns.has_value());
  for (size_t i = 0; i < answers.size(); ++i)
    EXPECT_EQ(rdata_to_text(answers[i].type, res.message.answers[i].rdata),
              kRdataRows[i].canonical);

  // parse -> write -> parse: same records and the very same bytes.
  const Written again = write_response(res.message.answers, res.message.authority,
                                       res.message.additional, std::nullopt);
  EXPECT_EQ(again.wire, msg.wire);
  auto res2 = parse(again.wire);
  ASSERT_TRUE(res2.ok());
  expect_same_records(res2.message.answers, answers);
}

TEST(MessageTest, EmbeddedNamesAreCompressedOnlyWhereRfc3597Allows) {
  const Name origin = N("example.com.");
  auto rr = [&](uint16_t type, const char* text) {
    auto rdata = rdata_from_text(type, text, origin);
    EXPECT_TRUE(rdata.ok());
    return ResourceRecord{origin, type, rrclass::IN, 300, *rdata};
  };
  const std::vector<ResourceRecord> answers = {rr(rrtype::MX, "10 example.com."),
                                               rr(rrtype::SRV, "1 2 3 example.com.")};
  const Written msg = write_response(answers, {}, {}, std::nullopt);
  // Question name at 12 (13 octets). MX: owner pointer, rdata = preference + pointer to 12.
  const Bytes mx = from_hex("c00c 000f 0001 0000012c 0004 000a c00c");
  // SRV: the target stays uncompressed (RFC 2782).
  const Bytes srv =
      concat({from_hex("c00c 0021 0001 0000012c 0013 0001 0002 0003"), wire_of(N("example.com."))});
  EXPECT_EQ(Bytes(msg.wire.begin() + 29, msg.wire.end()), concat({mx, srv}));
  auto res = parse(msg.wire);
  ASSERT_TRUE(res.ok());
  expect_same_records(res.message.answers, answers);
}

TEST(MessageTest, CompressedRdataNamesAreExpandedOnRead) {
  // CNAME, NS, PTR, MX, SOA and SRV rdata whose names point into the question.
  Packet p;
  p.header(1, 6, 0, 0).question("www.example.com.");  // qname at 12, "example.com" at 16
  p.u16(0xc00c).rr_body(rrtype::CNAME, from_hex("04 6d61696c c010"));
  p.u16(0xc010).rr_body(rrtype::NS, from_hex("03 6e7331 c010"));
  p.u16(0xc010).rr_body(rrtype::PTR, from_hex("c00c"));
  p.u16(0xc010).rr_body(rrtype::MX, from_hex("0005 c00c"));
  p.u16(0xc010).rr_body(rrtype::SOA,
                        from_hex("c00c 02 686d c010 00000001 00000002 00000003 00000004 00000005"));
  p.u16(0xc010).rr_body(rrtype::SRV, from_hex("0001 0002 0003 c00c"));
  auto res = parse(p.bytes());
  ASSERT_TRUE(res.ok()) << parse_error_name(res.error) << " at " << res.error_offset;
  const auto& a = res.message.answers;
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0].owner.to_text(), "www.example.com.");
  EXPECT_EQ(rdata_to_text(a[0].type, a[0].rdata), "mail.example.com.");
  EXPECT_EQ(a[1].owner.to_text(), "example.com.");
  EXPECT_EQ(rdata_to_text(a[1].type, a[1].rdata), "ns1.example.com.");
  EXPECT_EQ(rdata_to_text(a[2].type, a[2].rdata), "www.example.com.");
  EXPECT_EQ(rdata_to_text(a[3].type, a[3].rdata), "5 www.example.com.");
  EXPECT_EQ(rdata_to_text(a[4].type, a[4].rdata), "www.example.com. hm.example.com. 1 2 3 4 5");
  EXPECT_EQ(rdata_to_text(a[5].type, a[5].rdata), "1 2 3 www.example.com.");
}

// ---------------------------------------------------------------------------------------------
// OPT and EDNS options

bool same_ecs(const EcsOption& a, const EcsOption& b) {
  return a.family == b.family && a.source_prefix == b.source_prefix &&
         a.scope_prefix == b.scope_prefix && a.address_length == b.address_length &&
         a.address == b.address;
}

EcsOption make_ecs(uint16_t family, uint8_t source, uint8_t scope, const Bytes& full_address) {
  EcsOption e;
  e.family = family;
  e.source_prefix = source;
  e.scope_prefix = scope;
  e.address_length = static_cast<uint8_t>((source + 7) / 8);
  for (size_t i = 0; i < e.address_length; ++i) e.address[i] = full_address[i];
  if (source % 8 != 0)  // bits past the prefix must be zero on the wire
    e.address[e.address_length - 1] &= static_cast<uint8_t>(0xff << (8 - source % 8));
  return e;
}

TEST(EdnsTest, OptWithEveryOptionRoundTrips) {
  const Bytes v4 = from_hex("c6 33 64 ff");
  const Bytes v6 = from_hex("20010db8 abcd ef01 2345 6789 abcd efff");
  std::vector<ReplyEdns> rows;
  for (uint8_t prefix : {0, 1, 8, 20, 24, 25, 32})
    rows.push_back(ReplyEdns{1232, 0, false, make_ecs(1, prefix, 0, v4), {}, {}});
  for (uint8_t prefix : {0, 7, 32, 48, 56, 64, 127, 128})
    rows.push_back(ReplyEdns{4096, 0, true, make_ecs(2, prefix, prefix / 2, v6), {}, {}});
  const Bytes client = from_hex("0102030405060708");
  const Bytes server = from_hex("1112131415161718 2122232425262728 3132333435363738 41424344");
  rows.push_back(ReplyEdns{512, 0, false, std::nullopt, client, {}});
  rows.push_back(ReplyEdns{512, 0, false, std::nullopt, concat({client, Bytes(8, 0xaa)}), {}});
  rows.push_back(ReplyEdns{512, 0, false, std::nullopt, concat({client, server}), {}});
  rows.push_back(ReplyEdns{1400, 1, true, make_ecs(1, 24, 24, v4), client, Bytes{'n', 's', '1'}});
  rows.push_back(ReplyEdns{1400, 0, false, std::nullopt, std::nullopt, Bytes{}});

  for (const ReplyEdns& e : rows) {
    SCOPED_TRACE("ecs=" +
                 (e.ecs ? std::to_string(e.ecs->family) + "/" + std::to_string(e.ecs->source_prefix)
                        : std::string("none")) +
                 " cookie=" + std::to_string(e.cookie ? e.cookie->size() : 0));
    const Written msg = write_response({}, {}, {}, e);
    auto res = parse(msg.wire);
    ASSERT_TRUE(res.ok()) << parse_error_name(res.error) << " at " << res.error_offset;
    ASSERT_TRUE(res.message.edns.has_value());
    const Edns& got = *res.message.edns;
    EXPECT_EQ(got.udp_payload, e.udp_payload);
    EXPECT_EQ(got.extended_rcode, e.extended_rcode);
    EXPECT_EQ(got.version, 0);
    EXPECT_EQ(got.do_bit(), e.do_bit);
    ASSERT_EQ(got.ecs.has_value(), e.ecs.has_value());
    if (e.ecs) EXPECT_TRUE(same_ecs(*got.ecs, *e.ecs));
    EXPECT_EQ(got.cookie, e.cookie);
    EXPECT_EQ(got.nsid_requested, e.nsid.has_value());
    EXPECT_TRUE(res.message.additional.empty());  // OPT is not an additional record

    // parse -> write -> parse again.
    ReplyEdns back{got.udp_payload, got.extended_rcode, got.do_bit(), got.ecs, got.cookie, e.nsid};
    EXPECT_EQ(write_response({}, {}, {}, back).wire, msg.wire);
  }
}

TEST(EdnsTest, QueryOptionsAreRecognised) {
  Packet p;
  p.header(1, 0, 0, 1).question("example.com.");
  p.opt(concat({option(edns_option::NSID, {}), option(edns_option::PADDING, Bytes(20, 0)),
                option(65001, from_hex("abcd")), option(edns_option::COOKIE, Bytes(8, 1)),
                ecs_option(2, 56, 0, from_hex("20010db8abcdef"))}),
        1232, 0x01028000);
  auto res = parse(p.bytes());
  ASSERT_TRUE(res.ok()) << parse_error_name(res.error);
  const Edns& e = *res.message.edns;
  EXPECT_EQ(e.udp_payload, 1232);
  EXPECT_EQ(e.extended_rcode, 1);
  EXPECT_EQ(e.version, 2);
  EXPECT_TRUE(e.do_bit());
  EXPECT_TRUE(e.nsid_requested);
  EXPECT_TRUE(e.padding_present);
  ASSERT_EQ(e.other_options.size(), 1u);
  EXPECT_EQ(e.other_options[0].code, 65001);
  EXPECT_EQ(e.other_options[0].data, from_hex("abcd"));
  EXPECT_EQ(e.cookie, Bytes(8, 1));
  ASSERT_TRUE(e.ecs.has_value());
  EXPECT_EQ(e.ecs->family, 2);
  EXPECT_EQ(e.ecs->source_prefix, 56);
  EXPECT_EQ(e.ecs->address_length, 7);
  EXPECT_EQ(e.ecs->address[6], 0xef);
  EXPECT_EQ(e.ecs->address[7], 0);

  // An OPT with no options at all.
  Packet bare;
  bare.header(1, 0, 0, 1).question("example.com.").opt({}, 512);
  auto r2 = parse(bare.bytes());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.message.edns->udp_payload, 512);
  EXPECT_FALSE(r2.message.edns->ecs.has_value());
  EXPECT_FALSE(r2.message.edns->cookie.has_value());
}

TEST(EdnsTest, CookieLengths) {
  for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 24, 32, 40, 41, 48}) {
    SCOPED_TRACE("cookie length " + std::to_string(len));
    Packet p;
    p.header(1, 0, 0, 1).question("example.com.").opt(option(edns_option::COOKIE, Bytes(len, 7)));
    auto res = parse(p.bytes());
    const bool good = len == 8 || (len >= 16 && len <= 40);
    if (good) {
      ASSERT_TRUE(res.ok()) << parse_error_name(res.error);
      EXPECT_EQ(res.message.edns->cookie->size(), len);
    } else {
      EXPECT_EQ(res.error, ParseError::kBadCookie);
      EXPECT_TRUE(res.message.edns.has_value());  // the FORMERR can carry an OPT
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed input: each class reports its own ParseError

struct BadMessage {
  std::string what;
  Bytes wire;
  ParseError expected;
};

std::vector<BadMessage> bad_messages() {
  std::vector<BadMessage> rows;
  auto add = [&](std::string what, const Packet& p, ParseError e) {
    rows.push_back(BadMessage{std::move(what), p.bytes(), e});
  };
  auto query_with_opt = [](const Bytes& options) {
    Packet p;
    p.header(1, 0, 0, 1).question("example.com.").opt(options);
    return p;
  };
  const Bytes a_rdata = from_hex("c0000201");

  rows.push_back({"empty", {}, ParseError::kTooShort});
  rows.push_back({"11-byte header", Bytes(11, 0), ParseError::kTooShort});

  // Labels.
  for (uint8_t type : {0x40, 0x41, 0x7f, 0x80, 0xbf}) {
    Packet p;
    p.header(1, 0, 0, 0).u8(type).raw(Bytes(70, 'a')).u8(0).u16(1).u16(1);
    add("label length octet " + std::to_string(type), p, ParseError::kBadName);
  }
  {
    Packet p;
    p.header(1, 0, 0, 0).u8(20).raw(Bytes(10, 'a'));
    add("label runs past the end", p, ParseError::kTruncated);
  }
  {
    Packet p;
    // Labels 63, 63, 63, 62 plus the root: 256 octets (Name refuses to build it, so by hand).
    p.header(1, 0, 0, 0);
    for (uint8_t len : {63, 63, 63, 62}) p.u8(len).raw(Bytes(len, 'n'));
    p.u8(0).u16(1).u16(1);
    add("qname of 256 octets", p, ParseError::kBadName);
  }
  {
    Packet p;  // 255-octet qname at 12; owner "x" + pointer to it is 257 octets
    p.header(1, 1, 0, 0).question(name_of_wire_length(255));
    p.u8(1).u8('x').u16(0xc00c).rr_body(rrtype::A, a_rdata);
    add("name over 255 octets through a pointer", p, ParseError::kBadName);
  }

  // Pointers.
  {
    Packet p;
    p.header(1, 0, 0, 0).u16(0xc00c).u16(1).u16(1);
    add("pointer to itself", p, ParseError::kBadPointer);
  }
  {
    Packet p;
    p.header(1, 0, 0, 0).u8(1).u8('a').u16(0xc00c).u16(1).u16(1);
    add("pointer back to the start of its own name", p, ParseError::kBadPointer);
  }
  {
    Packet p;  // qname at 12 points forward to 18, which points back to 12: a loop
    p.header(1, 0, 0, 0).u16(0xc012).u16(1).u16(1).u16(0xc00c);
    add("pointer loop of two", p, ParseError::kBadPointer);
  }
  {
    Packet p;
    p.header(1, 0, 0, 0).u16(0xc012).u16(1).u16(1).u8(1).u8('a').u8(0);
    add("forward pointer", p, ParseError::kBadPointer);
  }
  {
    Packet p;
    p.header(1, 0, 0, 0).u16(0xc0ff).u16(1).u16(1);
    add("pointer out of range", p, ParseError::kBadPointer);
  }
  {
    Packet p;
    p.header(1, 0, 0, 0).u16(0xffff).u16(1).u16(1);
    add("pointer 0x3fff", p, ParseError::kBadPointer);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0)
        .question("example.com.")
        .u16(0xc00c)
        .rr_body(rrtype::CNAME, from_hex("01 61 c0ff"));
    add("pointer out of range inside RDATA", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(2, 0, 0, 0).question("example.com.").u8(1).u8('a').u8(0xc0);
    add("pointer cut in half", p, ParseError::kTruncated);
  }

  // Counts that lie.
  {
    Packet p;
    p.header(2, 0, 0, 0).question("example.com.");
    add("QDCOUNT larger than the packet", p, ParseError::kTruncated);
  }
  {
    Packet p;  // passes the size estimate (5 + 11 * 5 > 44 octets fails it)
    p.header(1, 5, 0, 0).question("example.com.").rr("example.com.", rrtype::A, a_rdata);
    add("ANCOUNT far larger than the packet", p, ParseError::kTruncated);
  }
  {
    Packet p;
    p.header(1, 3, 0, 0).question("example.com.").rr("example.com.", rrtype::A, a_rdata);
    add("ANCOUNT larger than the packet", p, ParseError::kTruncated);
  }
  {
    Packet p;
    p.header(1, 0, 1, 0).question("example.com.");
    add("NSCOUNT larger than the packet", p, ParseError::kTruncated);
  }
  {
    Packet p;
    p.header(1, 0, 0, 2).question("example.com.").opt({});
    add("ARCOUNT larger than the packet", p, ParseError::kTruncated);
  }
  {
    Packet p;
    p.header(1, 0, 0, 2).question("example.com.").opt({}).raw(Bytes(10, 0));
    add("ARCOUNT counts a record cut one octet short", p, ParseError::kTruncated);
  }
  {
    Packet p;
    p.header(0xffff, 0xffff, 0xffff, 0xffff).question("example.com.");
    add("all counts 65535", p, ParseError::kTruncated);
  }

  // RDATA.
  {
    Packet p;
    p.header(1, 1, 0, 0)
        .question("example.com.")
        .rr("example.com.", rrtype::A, from_hex("c000020101"));
    add("A with 5 octets", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0).question("example.com.").rr("example.com.", rrtype::AAAA, a_rdata);
    add("AAAA with 4 octets", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0)
        .question("example.com.")
        .rr("example.com.", rrtype::CNAME, from_hex("01 61 00 00"));
    add("CNAME with a byte after the name", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0).question("example.com.").rr("example.com.", rrtype::MX, from_hex("00"));
    add("MX with 1 octet", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0)
        .question("example.com.")
        .rr("example.com.", rrtype::SOA, from_hex("00 00 00000001"));
    add("SOA without its numbers", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0)
        .question("example.com.")
        .rr("example.com.", rrtype::TXT, from_hex("05 6162"));
    add("TXT string longer than RDATA", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0).question("example.com.").rr("example.com.", rrtype::TXT, {});
    add("TXT with empty RDATA", p, ParseError::kBadRdata);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0).question("example.com.");
    p.name("example.com.").u16(rrtype::A).u16(1).u32(300).u16(40).raw(a_rdata);
    add("RDLENGTH past the end", p, ParseError::kTruncated);
  }

  // OPT placement.
  {
    Packet p = query_with_opt({});
    p.opt({});
    Bytes w = p.bytes();
    w[11] = 2;  // ARCOUNT 2
    rows.push_back({"two OPT records", w, ParseError::kMultipleOpt});
  }
  {
    Packet p;
    p.header(1, 0, 0, 1).question("example.com.");
    p.name("example.com.").u16(rrtype::OPT).u16(1232).u32(0).u16(0);
    add("OPT owner not root", p, ParseError::kOptNotRoot);
  }
  {
    Packet p;
    p.header(1, 1, 0, 0).question("example.com.").opt({});
    add("OPT in the answer section", p, ParseError::kOptNotInAdditional);
  }
  {
    Packet p;
    p.header(1, 0, 1, 0).question("example.com.").opt({});
    add("OPT in the authority section", p, ParseError::kOptNotInAdditional);
  }

  // Options.
  add("option longer than the OPT RDATA",
      query_with_opt(concat({from_hex("000a 0010"), Bytes(8, 1)})), ParseError::kBadOption);
  add("partial option header", query_with_opt(from_hex("00 0a 00")), ParseError::kBadOption);
  add("second option overruns",
      query_with_opt(concat({option(edns_option::NSID, {}), from_hex("000c 0004 00")})),
      ParseError::kBadOption);

  // ECS (RFC 7871 7.1.2).
  add("ECS v4/24 with 4 address octets", query_with_opt(ecs_option(1, 24, 0, from_hex("c0000201"))),
      ParseError::kBadEcs);
  add("ECS v4/24 with 2 address octets", query_with_opt(ecs_option(1, 24, 0, from_hex("c000"))),
      ParseError::kBadEcs);
  add("ECS v4/0 with an address octet", query_with_opt(ecs_option(1, 0, 0, from_hex("00"))),
      ParseError::kBadEcs);
  add("ECS v4/20 with bits past the prefix",
      query_with_opt(ecs_option(1, 20, 0, from_hex("c0000f"))), ParseError::kBadEcs);
  add("ECS v4/31 with the last bit set", query_with_opt(ecs_option(1, 31, 0, from_hex("c0000201"))),
      ParseError::kBadEcs);
  add("ECS v6/57 with bits past the prefix",
      query_with_opt(ecs_option(2, 57, 0, from_hex("20010db8abcdef 41"))), ParseError::kBadEcs);
  add("ECS v4 prefix 33", query_with_opt(ecs_option(1, 33, 0, from_hex("c0000201 00"))),
      ParseError::kBadEcs);
  add("ECS v6 prefix 129", query_with_opt(ecs_option(2, 129, 0, Bytes(17, 0))),
      ParseError::kBadEcs);
  add("ECS family 0", query_with_opt(ecs_option(0, 0, 0, {})), ParseError::kBadEcs);
  add("ECS family 3", query_with_opt(ecs_option(3, 8, 0, from_hex("c0"))), ParseError::kBadEcs);
  add("ECS shorter than its fixed part",
      query_with_opt(option(edns_option::ECS, from_hex("0001 18"))), ParseError::kBadEcs);
  add("two ECS options",
      query_with_opt(
          concat({ecs_option(1, 8, 0, from_hex("c0")), ecs_option(1, 8, 0, from_hex("c0"))})),
      ParseError::kBadEcs);

  // Cookies.
  for (size_t len : {7, 9, 41})
    add("cookie of " + std::to_string(len) + " octets",
        query_with_opt(option(edns_option::COOKIE, Bytes(len, 3))), ParseError::kBadCookie);

  // Trailing data.
  {
    Packet p;
    p.header(1, 0, 0, 0).question("example.com.").u8(0);
    add("one byte after the question", p, ParseError::kTrailingData);
  }
  {
    Packet p = query_with_opt({});
    p.raw(from_hex("00 00"));
    add("bytes after the OPT", p, ParseError::kTrailingData);
  }
  {
    Packet p;
    p.header(0, 0, 0, 0).u8(0);
    add("byte after a bare header", p, ParseError::kTrailingData);
  }
  return rows;
}

TEST(MalformedTest, EachClassReportsItsParseError) {
  for (const BadMessage& row : bad_messages()) {
    SCOPED_TRACE(row.what);
    auto res = parse(row.wire);
    EXPECT_EQ(res.error, row.expected)
        << "got " << parse_error_name(res.error) << ", want " << parse_error_name(row.expected);
    EXPECT_EQ(res.header_ok, row.wire.size() >= kHeaderSize);
    if (res.header_ok) EXPECT_EQ(res.message.header.id, 0xbeef);
  }
}

TEST(MalformedTest, ErrorNamesAreStable) {
  EXPECT_STREQ(parse_error_name(ParseError::kNone), "none");
  EXPECT_STREQ(parse_error_name(ParseError::kBadPointer), "bad-pointer");
  EXPECT_STREQ(parse_error_name(ParseError::kBadCookie), "bad-cookie");
  EXPECT_EQ(static_cast<int>(ParseError::kBadCookie), 12);
}

TEST(MalformedTest, ValidNamesAtTheLimitsParse) {
  Packet p;  // 255-octet qname; an answer owner pointing at it; a 63-octet label
  p.header(1, 2, 0, 0).question(name_of_wire_length(255));
  p.u16(0xc00c).rr_body(rrtype::A, from_hex("c0000201"));
  p.name(std::string(63, 'm') + ".example.").rr_body(rrtype::A, from_hex("c0000202"));
  auto res = parse(p.bytes());
  ASSERT_TRUE(res.ok()) << parse_error_name(res.error);
  EXPECT_EQ(res.message.questions[0].qname.wire_length(), 255u);
  EXPECT_EQ(res.message.answers[0].owner.wire_length(), 255u);
  EXPECT_EQ(res.message.answers[1].owner.label(0).size(), 63u);
}

// Several valid messages: a query with every option, and responses with compression.
std::vector<Bytes> valid_messages() {
  std::vector<Bytes> out;
  Packet q;
  q.header(1, 0, 0, 1, flag::RD).question("www.example.com.", rrtype::AAAA);
  q.opt(concat({ecs_option(1, 24, 0, from_hex("c63364")), option(edns_option::COOKIE, Bytes(24, 9)),
                option(edns_option::NSID, {}), option(edns_option::PADDING, Bytes(5, 0))}),
        1232, 0x8000);
  out.push_back(q.bytes());

  const Name origin = N("example.com.");
  std::vector<ResourceRecord> answers;
  for (const RdataRow& row : kRdataRows) {
    auto rdata = rdata_from_text(row.type, row.text, origin);
    answers.push_back(ResourceRecord{N("a.example.com."), row.type, rrclass::IN, 1, *rdata});
  }
  ResourceRecord ns{origin, rrtype::NS, rrclass::IN, 3600, wire_of(N("ns.example.com."))};
  ReplyEdns edns{1232,         0,         true, make_ecs(2, 56, 48, from_hex("20010db8abcdef")),
                 Bytes(16, 4), Bytes{'x'}};
  out.push_back(write_response(answers, {ns}, {ns}, edns).wire);

  Packet c;  // compressed names everywhere
  c.header(1, 2, 0, 0, flag::QR).question("www.example.com.");
  c.u16(0xc00c).rr_body(rrtype::CNAME, from_hex("03 777777 c010"));
  c.u16(0xc010).rr_body(rrtype::MX, from_hex("0001 c00c"));
  out.push_back(c.bytes());
  return out;
}

TEST(MalformedTest, EveryPrefixOfValidMessagesFailsWithoutOverread) {
  for (const Bytes& msg : valid_messages()) {
    ASSERT_TRUE(parse(msg).ok()) << parse_error_name(parse(msg).error);
    for (size_t len = 0; len < msg.size(); ++len) {
      SCOPED_TRACE("message of " + std::to_string(msg.size()) + " cut at " + std::to_string(len));
      auto res = parse(std::span<const uint8_t>(msg.data(), len));
      EXPECT_FALSE(res.ok());
      if (len < kHeaderSize) {
        EXPECT_EQ(res.error, ParseError::kTooShort);
        EXPECT_FALSE(res.header_ok);
      } else {
        EXPECT_TRUE(res.header_ok);
      }
    }
  }
}

TEST(MalformedTest, EveryByteCorruptedParsesWithoutOverread) {
  // Bounded: each byte of each valid message replaced by a few values known to matter.
  size_t parsed = 0;
  for (const Bytes& msg : valid_messages()) {
    for (size_t i = 0; i < msg.size(); ++i) {
      for (uint8_t v : {0x00, 0x01, 0x3f, 0x40, 0x80, 0xc0, 0xc1, 0xff}) {
        Bytes copy = msg;
        copy[i] = v;
        auto res = parse(copy);
        if (res.ok()) {
          // Whatever parsed must write back out without trouble.
          Bytes out;
          WireWriter w(out, 65535);
          for (const auto& rr : res.message.answers) write_record(w, rr);
          EXPECT_FALSE(w.overflow());
        }
        ++parsed;
      }
    }
  }
  EXPECT_GT(parsed, 1000u);
}

}  // namespace
}  // namespace meridian::dns
