// Fuzzes dns::parse_message and checks that what parses re-serialises and parses back the same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "dns/message.h"
#include "dns/types.h"
#include "dns/wire_writer.h"
#include "fuzz_check.h"

namespace {

using namespace meridian::dns;

// An invariant that does not hold is a bug: abort so libFuzzer keeps the input.
using meridian::fuzz::check;

uint8_t fold(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

bool same_ignoring_case(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}

// Compression matches names case-insensitively (RFC 1035 4.1.4), so a compressed name may come
// back in the case of the earlier name it points to; every other byte must come back exactly.
bool compressible(uint16_t type) {
  return type == rrtype::NS || type == rrtype::CNAME || type == rrtype::PTR || type == rrtype::MX ||
         type == rrtype::SOA;
}

void check_same_records(const std::vector<ResourceRecord>& a,
                        const std::vector<ResourceRecord>& b) {
  check(a.size() == b.size(), "record count changed on re-parse");
  for (size_t i = 0; i < a.size(); ++i) {
    check(a[i].owner.equals(b[i].owner), "owner changed on re-parse");
    check(a[i].type == b[i].type && a[i].rclass == b[i].rclass && a[i].ttl == b[i].ttl,
          "type, class or TTL changed on re-parse");
    if (compressible(a[i].type))
      check(same_ignoring_case(a[i].rdata, b[i].rdata), "RDATA changed on re-parse");
    else
      check(a[i].rdata == b[i].rdata, "RDATA changed on re-parse");
  }
}

// Writes the message back: questions, records, and the OPT fields write_opt can express.
bool serialise(const Message& m, std::vector<uint8_t>& out) {
  WireWriter w(out, 65535);
  Header h = m.header;
  h.arcount = static_cast<uint16_t>(m.additional.size() + (m.edns ? 1 : 0));
  write_header(w, h);
  for (const Question& q : m.questions) {
    w.name(q.qname, true);
    w.u16(q.qtype);
    w.u16(q.qclass);
  }
  for (const auto* section : {&m.answers, &m.authority, &m.additional})
    for (const ResourceRecord& rr : *section) write_record(w, rr);
  if (m.edns) {
    ReplyEdns e;
    e.udp_payload = m.edns->udp_payload;
    e.extended_rcode = m.edns->extended_rcode;
    e.do_bit = m.edns->do_bit();
    e.ecs = m.edns->ecs;
    e.cookie = m.edns->cookie;
    if (m.edns->nsid_requested) e.nsid = std::vector<uint8_t>{};
    write_opt(w, e);
  }
  return !w.overflow();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> wire(data, size);
  const ParseResult pr = parse_message(wire);
  check(parse_error_name(pr.error) != nullptr, "error without a name");
  check(pr.header_ok == (size >= kHeaderSize), "header_ok does not match the input length");
  check(pr.error_offset <= size, "error offset past the input");
  if (!pr.ok()) return 0;

  const Message& m = pr.message;
  check(m.question_end >= kHeaderSize && m.question_end <= size, "question_end out of range");
  check(m.questions.size() == m.header.qdcount, "question count differs from QDCOUNT");
  check(m.answers.size() == m.header.ancount, "answer count differs from ANCOUNT");
  check(m.authority.size() == m.header.nscount, "authority count differs from NSCOUNT");
  check(m.additional.size() + (m.edns ? 1 : 0) == m.header.arcount,
        "additional count differs from ARCOUNT");
  if (m.edns && m.edns->ecs) {
    const EcsOption& ecs = *m.edns->ecs;
    check(ecs.family == 1 || ecs.family == 2, "ECS family not 1 or 2");
    check(ecs.address_length == (ecs.source_prefix + 7) / 8, "ECS address length mismatch");
    check(ecs.address_length <= (ecs.family == 1 ? 4 : 16), "ECS address too long");
  }
  if (m.edns && m.edns->cookie) {
    const size_t n = m.edns->cookie->size();
    check(n == 8 || (n >= 16 && n <= 40), "cookie of a bad length accepted");
  }

  std::vector<uint8_t> first;
  if (!serialise(m, first)) return 0;  // expanded names may not fit 64 KiB again
  const ParseResult again = parse_message(first);
  check(again.ok(), "a serialised message does not parse");
  const Message& n = again.message;
  check(n.header.id == m.header.id && n.header.flags == m.header.flags,
        "header changed on re-parse");
  check(n.questions.size() == m.questions.size(), "question count changed on re-parse");
  for (size_t i = 0; i < m.questions.size(); ++i) {
    check(n.questions[i].qname.equals(m.questions[i].qname), "question name changed");
    check(n.questions[i].qtype == m.questions[i].qtype &&
              n.questions[i].qclass == m.questions[i].qclass,
          "question type or class changed");
  }
  check_same_records(m.answers, n.answers);
  check_same_records(m.authority, n.authority);
  check_same_records(m.additional, n.additional);
  check(m.edns.has_value() == n.edns.has_value(), "OPT presence changed on re-parse");
  if (m.edns) {
    check(n.edns->udp_payload == m.edns->udp_payload, "OPT payload changed");
    check(n.edns->do_bit() == m.edns->do_bit(), "DO bit changed");
    check(n.edns->nsid_requested == m.edns->nsid_requested, "NSID request changed");
    check(n.edns->cookie == m.edns->cookie, "cookie changed");
    check(n.edns->ecs.has_value() == m.edns->ecs.has_value(), "ECS presence changed");
    if (m.edns->ecs) {
      const EcsOption& a = *m.edns->ecs;
      const EcsOption& b = *n.edns->ecs;
      check(a.family == b.family && a.source_prefix == b.source_prefix &&
                a.scope_prefix == b.scope_prefix && a.address == b.address &&
                a.address_length == b.address_length,
            "ECS changed");
    }
  }

  // A second round trip starts from names already in the written case: it must be byte exact.
  std::vector<uint8_t> second;
  check(serialise(n, second), "a re-parsed message no longer fits");
  check(second == first, "serialising is not stable");
  return 0;
}
