// AnswerCompiler: asks the Responder for each (name, type) and keeps the answers the XDP program
// can replay byte for byte.
#include "fastpath/answer_compiler.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <span>
#include <string_view>

#include "dns/message.h"
#include "dns/types.h"
#include "dns/wire_reader.h"

namespace meridian::fastpath {

namespace {

constexpr uint16_t kCompileQueryFlags = dns::flag::RD | dns::flag::CD;

uint16_t read_u16(const std::vector<uint8_t>& b, size_t off) {
  return static_cast<uint16_t>((b[off] << 8) | b[off + 1]);
}

// Rule 1: the responder sends the values of a simple RRset answering the query in a random order.
// The program can do the same when the answer section ends with one RRset of A or AAAA records
// (after a CNAME chain of single records, if any): those have one size and one compressed owner,
// so any order of them is valid bytes. Sets `shuffle` to their count and `at` to the offset of
// the first in the answer data; false when the answer has another RRset of several records.
bool shuffle_in_xdp(const std::vector<uint8_t>& reply, size_t question_end, uint16_t qtype,
                    uint8_t& shuffle, uint16_t& at) {
  shuffle = 0;
  at = 0;
  const dns::ParseResult pr = dns::parse_message(reply);
  if (!pr.ok()) return false;
  const auto& answers = pr.message.answers;
  // Records of the last RRset of the answer section, and whether an earlier one has several.
  size_t last = answers.empty() ? 0 : 1;
  bool earlier_multi = false;
  for (size_t i = 1; i < answers.size(); ++i) {
    const bool same =
        answers[i].type == answers[i - 1].type && answers[i].owner.equals(answers[i - 1].owner);
    if (!same) earlier_multi = earlier_multi || last > 1;
    last = same ? last + 1 : 1;
  }
  if (earlier_multi) return false;
  if (last < 2) return true;
  const size_t rr = qtype == dns::rrtype::A ? 16 : qtype == dns::rrtype::AAAA ? 28 : 0;
  if (rr == 0 || last > MDN_SHUFFLE_MAX || answers.back().type != qtype) return false;
  // The section's bytes: the RRset's records end where the authority section starts, so walk
  // the reply's records to find that offset.
  dns::WireReader r(reply);
  r.seek(question_end);
  for (size_t i = 0; i < answers.size(); ++i) {
    dns::Name::read(r);
    r.skip(8);
    r.skip(r.u16());
  }
  if (!r.ok()) return false;
  const size_t end = r.position();
  const size_t start = end - last * rr;
  if (start < question_end || end - question_end > MDN_SHUFFLE_END) return false;
  for (size_t i = 0; i < last; ++i) {
    const size_t p = start + i * rr;
    if ((reply[p] & 0xc0) != 0xc0 || reply[p] != reply[start] || reply[p + 1] != reply[start + 1])
      return false;
  }
  shuffle = static_cast<uint8_t>(last);
  at = static_cast<uint16_t>(start - question_end);
  return true;
}

// Absent types asked for to get a name's NODATA answer (never present at a name in practice;
// when one is, the answers differ or carry records and the name gets no NODATA entry).
constexpr uint16_t kAbsentType = 65534, kOtherAbsentType = 65533;

// The query the compiler asks the responder: RD and CD set (the program copies RD, and the
// responder clears CD), the name as given (its case kept), class IN.
std::vector<uint8_t> make_query(std::span<const uint8_t> qname_wire, uint16_t qtype) {
  std::vector<uint8_t> query = {
      0, 0, kCompileQueryFlags >> 8, kCompileQueryFlags & 0xff, 0, 1, 0, 0, 0, 0, 0, 0};
  query.insert(query.end(), qname_wire.begin(), qname_wire.end());
  query.push_back(qtype >> 8);
  query.push_back(qtype & 0xff);
  query.push_back(0);
  query.push_back(dns::rrclass::IN);
  return query;
}

// A negative reply of the shape the program writes: the question echoed, QR, the copied query
// bits, AA, `rcode`, no answer or additional records, no routing policy. Sets `tail` to the bytes
// after the question.
bool ask_negative(const answer::Responder& responder, const zone::ZoneSet& zones,
                  std::span<const uint8_t> qname_wire, uint16_t qtype, uint16_t rcode,
                  std::vector<uint8_t>& tail, uint16_t& nscount) {
  const auto query = make_query(qname_wire, qtype);
  answer::QueryContext ctx;
  ctx.transport = answer::Transport::kTcp;
  std::vector<uint8_t> reply;
  answer::AnswerInfo info;
  if (responder.respond(zones, query, ctx, reply, &info) != answer::Disposition::kReply)
    return false;
  if (info.policy || info.truncated || reply.size() < query.size() ||
      std::memcmp(reply.data() + 12, query.data() + 12, query.size() - 12) != 0)
    return false;
  const uint16_t flags = read_u16(reply, 2);
  const uint16_t expected =
      dns::flag::QR | (kCompileQueryFlags & kCopiedQueryFlags) | dns::flag::AA | rcode;
  if (flags != expected || read_u16(reply, 4) != 1 || read_u16(reply, 6) != 0 ||
      read_u16(reply, 10) != 0)
    return false;
  nscount = read_u16(reply, 8);
  tail.assign(reply.begin() + static_cast<long>(query.size()), reply.end());
  return true;
}

// Whether `name` is at or below a zone cut of `z` (an NS set below the apex on the way down),
// walked as the responder's find_cut walks it.
bool at_or_below_cut(const zone::Zone& z, const dns::Name& name) {
  const size_t apex_labels = z.origin().label_count();
  for (size_t strip = name.label_count() - apex_labels; strip-- > 0;) {
    const zone::Node* node = z.find(name.strip_left(strip));
    if (!node) return false;
    if (!node->group(dns::rrtype::NS).empty()) return true;
  }
  return false;
}

// The offsets of the compression pointers in negative sections made of SOA records; false for
// anything else.
bool soa_pointers(const std::vector<uint8_t>& t, uint16_t count, std::vector<uint16_t>& out) {
  size_t p = 0;
  auto walk_name = [&]() {
    while (p < t.size()) {
      const uint8_t b = t[p];
      if (b == 0) {
        ++p;
        return true;
      }
      if ((b & 0xc0) == 0xc0) {
        if (p + 2 > t.size()) return false;
        out.push_back(static_cast<uint16_t>(p));
        p += 2;
        return true;
      }
      if (b & 0xc0) return false;
      p += 1 + b;
    }
    return false;
  };
  for (uint16_t i = 0; i < count; ++i) {
    if (!walk_name() || p + 10 > t.size()) return false;
    const uint16_t type = read_u16(t, p);
    const size_t end = p + 10 + read_u16(t, p + 8);
    p += 10;
    if (type != dns::rrtype::SOA || !walk_name() || !walk_name()) return false;
    p += 20;
    if (p != end) return false;
  }
  return p == t.size();
}

// What the program does to the sample's NXDOMAIN sections for a query name `delta` octets
// longer: every pointer moves by delta.
std::vector<uint8_t> move_pointers(std::vector<uint8_t> t, const std::vector<uint16_t>& pointers,
                                   int delta) {
  for (uint16_t p : pointers) {
    const int v = read_u16(t, p) + delta;
    t[p] = static_cast<uint8_t>(v >> 8);
    t[p + 1] = static_cast<uint8_t>(v & 0xff);
  }
  return t;
}

// The first 8 octets of a lowercased wire label (length byte first), zero padded: what the
// program compares a query's label under the encloser with.
std::array<uint8_t, 8> label_word(std::span<const uint8_t> label_wire) {
  std::array<uint8_t, 8> w{};
  for (size_t i = 0; i < w.size() && i < label_wire.size() && i < size_t{label_wire[0]} + 1u; ++i)
    w[i] = label_wire[i];
  return w;
}

// Fills the NXDOMAIN part of `neg` for names below `owner`: the responder's reply for a sample
// name one label below, the pointers to move, the child labels to pass up; checked against two
// more names (one short label in upper case, two long labels) moved the same way.
bool compile_nxdomain(const answer::Responder& responder, const zone::ZoneSet& zones,
                      const zone::Zone& z, const dns::Name& owner, mdn_negative& neg) {
  const auto soa = z.soa_fields();
  if (!soa) return false;
  std::vector<std::array<uint8_t, 8>> unsafe;
  for (const dns::Name* y : {&soa->mname, &soa->rname}) {
    if (!y->is_subdomain_of(owner) || y->label_count() <= owner.label_count()) continue;
    const dns::Name child = y->strip_left(y->label_count() - owner.label_count() - 1);
    if (z.find(child)) continue;  // exists: no query name has its closest encloser at owner
    const std::string key = child.key();
    const auto w = label_word(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
    if (std::find(unsafe.begin(), unsafe.end(), w) == unsafe.end()) unsafe.push_back(w);
  }
  if (unsafe.size() > MDN_NEG_UNSAFE) return false;

  // A name below owner that does not exist and is not under an unsafe label.
  auto free_child = [&](const std::string& label, dns::Name& out) {
    auto c = owner.prepend(label);
    if (!c || c->wire_length() > 255 || z.find(*c)) return false;
    const std::string key = c->key();
    const auto w = label_word(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
    if (std::find(unsafe.begin(), unsafe.end(), w) != unsafe.end()) return false;
    out = *c;
    return true;
  };
  auto pick = [&](size_t length, dns::Name& out) {
    static constexpr std::string_view kAlphabet = "qzxjkvwybcdfghlmnprst0123456789";
    for (size_t i = 0; i < 64; ++i) {
      std::string label(length, 'q');
      label[0] = kAlphabet[i % kAlphabet.size()];
      if (length > 1) label[length - 1] = kAlphabet[(i / kAlphabet.size()) % kAlphabet.size()];
      if (free_child(label, out)) return true;
    }
    return false;
  };
  dns::Name sample, short_name, deep_name;
  if (!pick(10, sample) || !pick(1, short_name)) return false;
  std::vector<uint8_t> t;
  uint16_t nscount = 0;
  if (!ask_negative(responder, zones, sample.wire(), dns::rrtype::A, dns::rcode::NXDOMAIN, t,
                    nscount))
    return false;
  std::vector<uint16_t> pointers;
  if (t.size() > MDN_NEG_NX_MAX || !soa_pointers(t, nscount, pointers) ||
      pointers.size() > MDN_NEG_POINTERS)
    return false;
  // Every pointer must target the encloser's part of the question or what follows it.
  const size_t encloser_at = 12 + sample.wire_length() - owner.wire_length();
  for (uint16_t p : pointers)
    if ((read_u16(t, p) & 0x3fff) < encloser_at) return false;

  // The check: other names moved the same way give exactly the responder's bytes.
  std::vector<std::pair<std::vector<uint8_t>, uint16_t>> checks;
  std::vector<uint8_t> upper(short_name.wire().begin(), short_name.wire().end());
  for (auto& c : upper) c = static_cast<uint8_t>(std::toupper(c));
  checks.emplace_back(upper, dns::rrtype::AAAA);
  if (owner.wire_length() + 64 + 11 <= 255) {
    auto deep = sample.prepend(std::string(63, 'Q'));
    if (deep)
      checks.emplace_back(std::vector<uint8_t>(deep->wire().begin(), deep->wire().end()),
                          kAbsentType);
  }
  for (const auto& [wire, qtype] : checks) {
    std::vector<uint8_t> got;
    uint16_t ns = 0;
    if (!ask_negative(responder, zones, wire, qtype, dns::rcode::NXDOMAIN, got, ns) ||
        ns != nscount)
      return false;
    const int delta = static_cast<int>(wire.size()) - static_cast<int>(sample.wire_length());
    if (got != move_pointers(t, pointers, delta)) return false;
  }

  neg.nx_length = static_cast<uint16_t>(t.size());
  neg.nx_flags = dns::flag::AA | dns::rcode::NXDOMAIN;
  neg.nx_nscount = nscount;
  neg.nx_qname_len = static_cast<uint16_t>(sample.wire_length());
  std::memcpy(neg.nx_data, t.data(), t.size());
  neg.nx_csum = checksum_partial(neg.nx_data, t.size());
  neg.npointers = static_cast<uint8_t>(pointers.size());
  for (size_t i = 0; i < pointers.size(); ++i) neg.pointers[i] = pointers[i];
  for (size_t i = 0; i < unsafe.size(); ++i) std::memcpy(neg.unsafe[i], unsafe[i].data(), 8);
  return true;
}

}  // namespace

std::vector<uint16_t> fast_path_qtypes() {
  using namespace dns::rrtype;
  return {A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA, PTR, HINFO};
}

uint32_t checksum_partial(const uint8_t* data, size_t len) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 1 < len; i += 2) {
    uint16_t w;
    std::memcpy(&w, data + i, 2);
    sum += w;
  }
  if (i < len) {
    uint8_t last[2] = {data[i], 0};
    uint16_t w;
    std::memcpy(&w, last, 2);
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

bool AnswerCompiler::compile_one(const zone::ZoneSet& zones, const dns::Name& name, uint16_t qtype,
                                 FastPathEntry& out, CompileStats* stats) const {
  auto count_unanswerable = [&] {
    if (stats) ++stats->not_answerable;
    return false;
  };
  const std::string key = name.key();
  const std::vector<uint8_t> query =
      make_query(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()), qtype);
  const size_t question_end = query.size();

  // TCP: the full answer, never truncated. The XDP program checks the client's UDP limit itself
  // and passes the query up when the answer does not fit.
  answer::QueryContext ctx;
  ctx.transport = answer::Transport::kTcp;
  std::vector<uint8_t> reply;
  answer::AnswerInfo info;
  if (responder_.respond(zones, query, ctx, reply, &info) != answer::Disposition::kReply)
    return count_unanswerable();
  // Routing-policy answers differ per client (and per query for weighted/multivalue): they stay
  // in userspace until the XDP program evaluates policies itself.
  if (info.policy) return count_unanswerable();
  if (reply.size() < question_end ||
      std::memcmp(reply.data() + 12, query.data() + 12, question_end - 12) != 0)
    return count_unanswerable();

  const uint16_t flags = read_u16(reply, 2);
  const uint16_t rcode = flags & dns::flag::RCODE_MASK;
  const uint16_t ancount = read_u16(reply, 6), nscount = read_u16(reply, 8);
  const uint16_t arcount = read_u16(reply, 10);
  const uint16_t own_bits = dns::flag::AA | dns::flag::RCODE_MASK;
  // Only headers of the shape the XDP program writes: QR, the copied query bits, AA, rcode.
  if ((flags & ~own_bits) != (dns::flag::QR | (kCompileQueryFlags & kCopiedQueryFlags)))
    return count_unanswerable();
  if (rcode != dns::rcode::NOERROR || read_u16(reply, 4) != 1) return count_unanswerable();
  const bool positive = ancount > 0;
  const bool referral = ancount == 0 && nscount > 0 && !(flags & dns::flag::AA);
  if (!positive && !referral) return count_unanswerable();

  uint8_t shuffle = 0;
  uint16_t shuffle_at = 0;
  if (responder_.config().shuffle_rrsets &&
      !shuffle_in_xdp(reply, question_end, qtype, shuffle, shuffle_at)) {
    if (stats) ++stats->needs_shuffle;
    return false;
  }

  const size_t length = reply.size() - question_end;
  if (length > MDN_ANSWER_MAX) {
    if (stats) ++stats->oversize;
    return false;
  }
  out = FastPathEntry{};
  out.name_key = key;
  out.qtype = qtype;
  out.answer.flags = flags & own_bits;
  out.answer.ancount = ancount;
  out.answer.nscount = nscount;
  out.answer.arcount = arcount;
  out.answer.length = static_cast<uint16_t>(length);
  out.answer.shuffle = shuffle;
  out.answer.shuffle_at = shuffle_at;
  std::memcpy(out.answer.data, reply.data() + question_end, length);
  out.answer.csum = checksum_partial(out.answer.data, length);
  if (stats) ++stats->entries;
  return true;
}

std::vector<FastPathEntry> AnswerCompiler::compile(const zone::ZoneSet& zones,
                                                   CompileStats* stats) const {
  std::vector<FastPathEntry> entries;
  const auto qtypes = fast_path_qtypes();
  for (const auto& zone : zones.zones()) {
    for (const auto& [key, node] : zone->nodes()) {
      // A wildcard owner answers other names (owner = the query name): those stay in userspace.
      if (node.empty() || node.owner.is_wildcard()) continue;
      // Only the types present at the node, plus every type when the node is a CNAME (the
      // chain answers them all).
      const bool is_cname = node.find(dns::rrtype::CNAME) != nullptr;
      for (uint16_t qtype : qtypes) {
        bool present = is_cname;
        for (const auto& rs : node.record_sets) present = present || rs.type == qtype;
        if (!present) continue;
        FastPathEntry entry;
        if (compile_one(zones, node.owner, qtype, entry, stats))
          entries.push_back(std::move(entry));
      }
    }
  }
  // One negative entry per existing name, of the zone that answers for it (a name of a parent
  // zone at or below a child zone's apex is the child's to answer).
  for (const auto& zone : zones.zones())
    for (const auto& [key, node] : zone->nodes())
      if (zones.find_zone(node.owner) == zone.get())
        entries.push_back(compile_negative(zones, *zone, node, stats));
  return entries;
}

FastPathEntry AnswerCompiler::compile_negative(const zone::ZoneSet& zones, const zone::Zone& zone,
                                               const zone::Node& node, CompileStats* stats) const {
  CompileStats ignored;
  CompileStats& st = stats ? *stats : ignored;
  FastPathEntry e;
  e.name_key = node.owner.key();
  e.qtype = 0;
  e.answer.kind = MDN_ANSWER_NEGATIVE;
  mdn_negative neg{};
  auto done = [&] {
    std::memcpy(e.answer.data + MDN_NEG_AT, &neg, sizeof(neg));
    return e;
  };
  if (at_or_below_cut(zone, node.owner)) {
    ++st.negative_cut;
    return done();
  }
  if (node.owner.is_wildcard() || node.find(dns::rrtype::CNAME)) {
    ++st.negative_cname;
    return done();
  }

  // NODATA: the same bytes for two absent types, and the types present listed so that their
  // queries (answered by positive entries, or left to userspace) never get it.
  std::vector<uint16_t> types;
  for (const auto& rs : node.record_sets)
    if (std::find(types.begin(), types.end(), rs.type) == types.end()) types.push_back(rs.type);
  if (types.size() > MDN_NEG_TYPES) {
    ++st.negative_types;
  } else {
    std::vector<uint8_t> tail, other;
    uint16_t ns = 0, other_ns = 0;
    if (ask_negative(responder_, zones, node.owner.wire(), kAbsentType, dns::rcode::NOERROR, tail,
                     ns) &&
        ask_negative(responder_, zones, node.owner.wire(), kOtherAbsentType, dns::rcode::NOERROR,
                     other, other_ns) &&
        tail == other && ns == other_ns && tail.size() <= MDN_NEG_AT) {
      e.answer.flags = dns::flag::AA;
      e.answer.nscount = ns;
      e.answer.length = static_cast<uint16_t>(tail.size());
      std::memcpy(e.answer.data, tail.data(), tail.size());
      e.answer.csum = checksum_partial(e.answer.data, tail.size());
      for (size_t i = 0; i < types.size(); ++i) neg.types[i] = types[i];
      neg.nodata = 1;
      ++st.nodata;
    } else {
      ++st.negative_unverified;
    }
  }

  // NXDOMAIN below: not when a wildcard child answers the missing names.
  if (zone.find(node.owner.wildcard_child())) {
    ++st.negative_wildcard_child;
  } else if (compile_nxdomain(responder_, zones, zone, node.owner, neg)) {
    ++st.nxdomain_enclosers;
  } else {
    ++st.negative_unverified;
  }
  return done();
}

}  // namespace meridian::fastpath
