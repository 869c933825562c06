// Responder: authoritative answers per docs/conformance.md — header rules, zone lookup with
// CNAME chains, wildcards, referrals and negative answers, EDNS, and truncation by whole RRsets.
#include "answer/responder.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "dns/message.h"
#include "dns/rdata.h"
#include "dns/types.h"
#include "dns/wire_reader.h"
#include "dns/wire_writer.h"
#include "policy/gslb_engine.h"

namespace meridian::answer {

namespace {

using dns::Name;
using zone::RecordSet;

constexpr int kMaxCnameSteps = 8;
constexpr size_t kMaxTcpMessage = 65535;
// Header bits copied from the query into every reply.
constexpr uint16_t kCopiedFlags =
    dns::flag::OPCODE_MASK | dns::flag::RD;  // CD cleared, as Knot and NSD do

// One RRset to write: its owner as it appears in the reply and the record set.
struct RRsetRef {
  Name owner;
  const RecordSet* rs = nullptr;
  uint32_t ttl = 0;      // TTL to write (negative answers cap the SOA TTL)
  bool shuffle = false;  // a simple RRset answering the query: values in random order (rule 1)
};

struct Answer {
  uint16_t rcode = dns::rcode::NOERROR;
  bool authoritative = true;
  std::vector<RRsetRef> answer;
  std::vector<RRsetRef> authority;
  std::vector<RRsetRef> additional;
  bool additional_required = false;  // referral glue: must fit, or the reply is truncated
  bool policy = false;               // a routing-policy group was decided
  uint8_t ecs_scope = 0;             // the longest scope of those decisions
};

// The GSLB engine of the snapshot and the client it decides for.
struct Routing {
  const policy::GslbEngine* engine = nullptr;
  policy::ClientAddress client;
};

// Decides a routing-policy group. Returns the chosen record sets (empty for NODATA) or sets
// SERVFAIL; records the ECS scope either way.
bool decide(const Routing& routing, const policy::GroupEntry& group, Answer& a,
            std::vector<const RecordSet*>& chosen) {
  const policy::GslbAnswer g = routing.engine->answer(group, routing.client);
  a.policy = true;
  a.ecs_scope = std::max(a.ecs_scope, g.scope);
  if (g.outcome == policy::Outcome::kServFail) {
    a.rcode = dns::rcode::SERVFAIL;
    a.authoritative = false;
    a.answer.clear();
    a.authority.clear();
    a.additional.clear();
    return false;
  }
  chosen = g.record_sets;
  return true;
}

void add_negative_soa(const zone::Zone& z, Answer& a) {
  const RecordSet* soa = z.soa();
  if (!soa) return;
  uint32_t ttl = soa->ttl;
  if (auto f = z.soa_fields()) ttl = std::min(ttl, f->minimum);
  a.authority.push_back({z.origin(), soa, ttl});
}

// A/AAAA of `target` from our own data (glue or in-zone targets), without duplicates.
void add_addresses(const zone::ZoneSet& zones, const Name& target, Answer& a) {
  const zone::Zone* z = zones.find_zone(target);
  if (!z) return;
  const zone::Node* node = z->find(target);
  if (!node) return;
  for (uint16_t type : {dns::rrtype::A, dns::rrtype::AAAA}) {
    const RecordSet* rs = node->find(type);
    if (!rs) continue;
    bool seen = false;
    for (const auto& ref : a.additional) seen = seen || ref.rs == rs;
    for (const auto& ref : a.answer) seen = seen || ref.rs == rs;
    if (!seen) a.additional.push_back({node->owner, rs, rs->ttl});
  }
}

// Additional-section processing for NS, MX and SRV answers (RFC 1035 3.3, RFC 2782).
void add_additional_for(const zone::ZoneSet& zones, const RRsetRef& ref, Answer& a) {
  const uint16_t t = ref.rs->type;
  if (t != dns::rrtype::NS && t != dns::rrtype::MX && t != dns::rrtype::SRV) return;
  for (const auto& rdata : ref.rs->rdatas)
    if (auto target = dns::rdata_target_name(t, rdata)) add_addresses(zones, *target, a);
}

// The deepest zone cut (NS below the apex) at or above `name`, or null.
const zone::Node* find_cut(const zone::Zone& z, const Name& name, uint16_t qtype) {
  const size_t apex_labels = z.origin().label_count();
  const size_t labels = name.label_count();
  // Walk from just below the apex down to the name: the highest cut wins.
  for (size_t strip = labels - apex_labels; strip-- > 0;) {
    const Name candidate = name.strip_left(strip);
    const zone::Node* node = z.find(candidate);
    if (!node) return nullptr;  // nothing below a missing node
    if (node->group(dns::rrtype::NS).empty()) continue;
    // DS at the cut itself is the parent's data: answered, not referred.
    if (strip == 0 && qtype == dns::rrtype::DS) return nullptr;
    return node;
  }
  return nullptr;
}

// The record sets of a node to answer ANY with: all simple ones, in type order.
std::vector<const RecordSet*> any_rrsets(const zone::Node& node) {
  std::vector<const RecordSet*> out;
  for (const auto& rs : node.record_sets)
    if (rs.is_simple()) out.push_back(&rs);
  std::sort(out.begin(), out.end(),
            [](const RecordSet* a, const RecordSet* b) { return a->type < b->type; });
  return out;
}

void resolve(const zone::ZoneSet& zones, const Routing& routing, const Name& qname, uint16_t qtype,
             Answer& a) {
  Name cur = qname;
  for (int step = 0; step <= kMaxCnameSteps; ++step) {
    const zone::Zone* z = zones.find_zone(cur);
    if (!z) return;  // chain left our zones: the resolver follows it
    if (const zone::Node* cut = find_cut(*z, cur, qtype)) {
      for (const RecordSet* ns : cut->group(dns::rrtype::NS)) {
        a.authority.push_back({cut->owner, ns, ns->ttl});
        for (const auto& rdata : ns->rdatas) {
          auto target = dns::rdata_target_name(dns::rrtype::NS, rdata);
          if (target && target->is_subdomain_of(cut->owner)) add_addresses(zones, *target, a);
        }
      }
      if (a.answer.empty()) a.authoritative = false;
      a.additional_required = true;
      return;
    }

    const zone::Node* node = z->find(cur);
    Name owner = cur;
    if (!node) {
      // Closest encloser, then its wildcard (RFC 4592). Empty non-terminals are nodes, so they
      // are found here and never wildcard-matched.
      Name ce = cur;
      const zone::Node* encloser = nullptr;
      while (!encloser && ce.label_count() > z->origin().label_count()) {
        ce = ce.strip_left();
        encloser = z->find(ce);
      }
      const zone::Node* wild = z->find(ce.wildcard_child());
      if (!wild) {
        a.rcode = dns::rcode::NXDOMAIN;
        add_negative_soa(*z, a);
        return;
      }
      node = wild;  // owner stays the query name
    }

    if (node->empty()) {  // empty non-terminal: NODATA
      add_negative_soa(*z, a);
      return;
    }

    const RecordSet* cname = node->find(dns::rrtype::CNAME);
    const policy::GroupEntry* cname_group =
        routing.engine && qtype != dns::rrtype::CNAME && qtype != dns::rrtype::ANY
            ? routing.engine->group(node->owner, dns::rrtype::CNAME)
            : nullptr;
    if (cname_group) {  // a CNAME with a routing policy: follow the chosen one
      std::vector<const RecordSet*> chosen;
      if (!decide(routing, *cname_group, a, chosen)) return;
      cname = chosen.empty() ? nullptr : chosen.front();
      if (!cname) {
        add_negative_soa(*z, a);
        return;
      }
    }
    if (cname && qtype != dns::rrtype::CNAME && qtype != dns::rrtype::ANY) {
      for (const auto& ref : a.answer)
        if (ref.rs == cname && ref.owner.equals(owner)) return;  // loop: stop here
      a.answer.push_back({owner, cname, cname->ttl});
      auto target = dns::rdata_target_name(dns::rrtype::CNAME, cname->rdatas.front());
      if (!target) return;
      cur = *target;
      continue;
    }

    if (qtype == dns::rrtype::ANY) {
      auto sets = any_rrsets(*node);
      // RFC 8482: one RRset, over TCP too (as Knot does): ANY never returns the whole node.
      if (!sets.empty()) sets.resize(1);
      for (const RecordSet* rs : sets) a.answer.push_back({owner, rs, rs->ttl, true});
      if (sets.empty()) add_negative_soa(*z, a);
      return;
    }

    if (const policy::GroupEntry* group =
            routing.engine ? routing.engine->group(node->owner, qtype) : nullptr) {
      std::vector<const RecordSet*> chosen;
      if (!decide(routing, *group, a, chosen)) return;
      if (chosen.empty()) {
        add_negative_soa(*z, a);  // NODATA: no location matched, or all down with nodata
        return;
      }
      // One RRset: every chosen record set under the query name with one TTL (RFC 2181 5.2).
      uint32_t ttl = chosen.front()->ttl;
      for (const RecordSet* rs : chosen) ttl = std::min(ttl, rs->ttl);
      for (const RecordSet* rs : chosen) a.answer.push_back({owner, rs, ttl});
      return;
    }
    if (const RecordSet* rs = node->find(qtype)) {
      a.answer.push_back({owner, rs, rs->ttl, true});
      add_additional_for(zones, a.answer.back(), a);
      return;
    }
    add_negative_soa(*z, a);  // NODATA
    return;
  }
}

// A per-thread xorshift64* generator: shuffles need speed, not secrecy.
uint64_t next_random() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;
  }();
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

// Writes every record of one RRset, in a uniformly random order when `shuffle` (Fisher-Yates);
// false if it did not fit (the caller rolls back).
bool write_rrset(dns::WireWriter& w, const RRsetRef& ref, bool shuffle) {
  const auto& rdatas = ref.rs->rdatas;
  std::vector<uint32_t> order(rdatas.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  if (shuffle)
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[static_cast<size_t>((next_random() >> 32) % i)]);
  for (uint32_t i : order) {
    dns::write_record(w, ref.owner, ref.rs->type, dns::rrclass::IN, ref.ttl, rdatas[i]);
    if (w.overflow()) return false;
  }
  return true;
}

class ReplyBuilder {
 public:
  ReplyBuilder(std::vector<uint8_t>& out, std::span<const uint8_t> query, uint16_t query_flags,
               size_t limit, const std::optional<dns::ReplyEdns>& edns)
      : out_(out),
        query_(query),
        flags_(query_flags & kCopiedFlags),
        edns_(edns),
        writer_(out, limit - (edns ? dns::opt_size(*edns) : 0)) {}

  // Header placeholder and the question, echoed byte for byte. `question_end` of the header
  // size means no question (it did not parse, or was compressed and cannot be echoed).
  void begin(size_t question_end) {
    Name qname;
    bool echo = false;
    if (question_end > dns::kHeaderSize) {
      dns::WireReader r(query_);
      r.seek(dns::kHeaderSize);
      qname = Name::read(r);
      echo = r.ok() && dns::kHeaderSize + qname.wire_length() + 4 == question_end;
    }
    writer_.bytes(query_.subspan(0, 2));
    writer_.u16(0);
    writer_.u16(echo ? 1 : 0);
    writer_.u16(0);
    writer_.u16(0);
    writer_.u16(0);
    if (echo) {
      // Written as a compression target for the records after it, then overwritten with the
      // client's exact bytes (same length) so its letter case is kept.
      writer_.name(qname, true);
      std::memcpy(out_.data() + dns::kHeaderSize, query_.data() + dns::kHeaderSize,
                  qname.wire_length());
      writer_.bytes(query_.subspan(dns::kHeaderSize + qname.wire_length(), 4));
    }
  }

  // Whether RRsets marked for it are written in a random order (ResponderConfig).
  void shuffle(bool on) { shuffle_ = on; }

  // Writes the sections; whole RRsets only. Returns false when the reply had to be truncated.
  bool sections(const Answer& a) {
    const auto mark = writer_.mark();
    uint16_t an = 0, ns = 0, ar = 0;
    for (const auto& ref : a.answer) {
      if (!write_rrset(writer_, ref, shuffle_ && ref.shuffle)) return truncate(mark);
      an = static_cast<uint16_t>(an + ref.rs->rdatas.size());
    }
    for (const auto& ref : a.authority) {
      if (!write_rrset(writer_, ref, false)) return truncate(mark);
      ns = static_cast<uint16_t>(ns + ref.rs->rdatas.size());
    }
    for (const auto& ref : a.additional) {
      const auto before = writer_.mark();
      if (!write_rrset(writer_, ref, false)) {
        if (a.additional_required) return truncate(mark);
        writer_.rollback(before);  // optional data may be left out (RFC 2181 9)
        break;
      }
      ar = static_cast<uint16_t>(ar + ref.rs->rdatas.size());
    }
    counts_ = {an, ns, ar};
    return true;
  }

  void finish(uint16_t rcode, bool aa, bool tc) {
    uint16_t flags = dns::flag::QR | flags_ | (rcode & dns::flag::RCODE_MASK);
    if (aa) flags |= dns::flag::AA;
    if (tc) flags |= dns::flag::TC;
    writer_.patch_u16(2, flags);
    writer_.patch_u16(6, counts_[0]);
    writer_.patch_u16(8, counts_[1]);
    uint16_t ar = counts_[2];
    if (edns_) {
      dns::ReplyEdns e = *edns_;
      e.extended_rcode = static_cast<uint8_t>(rcode >> 4);
      // The OPT space was reserved: lift the limit by exactly that much.
      dns::WireWriter opt_writer(opt_buf_, dns::opt_size(e));
      dns::write_opt(opt_writer, e);
      out_.insert(out_.end(), opt_buf_.begin(), opt_buf_.end());
      ++ar;
    }
    writer_.patch_u16(10, ar);
  }

 private:
  bool truncate(dns::WireWriter::Mark mark) {
    writer_.rollback(mark);
    counts_ = {0, 0, 0};
    return false;
  }

  std::vector<uint8_t>& out_;
  bool shuffle_ = false;
  std::span<const uint8_t> query_;
  uint16_t flags_;
  const std::optional<dns::ReplyEdns>& edns_;
  dns::WireWriter writer_;
  std::array<uint16_t, 3> counts_{0, 0, 0};
  std::vector<uint8_t> opt_buf_;
};

bool opt_error(dns::ParseError e) {
  using dns::ParseError;
  return e == ParseError::kOptNotRoot || e == ParseError::kMultipleOpt ||
         e == ParseError::kBadOption || e == ParseError::kBadEcs || e == ParseError::kBadCookie;
}

}  // namespace

Disposition Responder::respond(const zone::ZoneSet& zones, std::span<const uint8_t> query,
                               const QueryContext& ctx, std::vector<uint8_t>& reply,
                               AnswerInfo* info) const {
  reply.clear();
  if (query.size() < dns::kHeaderSize) return Disposition::kDrop;
  const uint16_t qflags = static_cast<uint16_t>((query[2] << 8) | query[3]);
  if (qflags & dns::flag::QR) return Disposition::kDrop;

  const dns::ParseResult pr = dns::parse_message(query);
  const dns::Message& m = pr.message;
  const uint8_t opcode = m.header.opcode();

  // The reply's OPT: present exactly when the query had one.
  std::optional<dns::ReplyEdns> edns;
  if (m.edns || opt_error(pr.error)) {
    dns::ReplyEdns e;
    e.udp_payload = config_.advertised_udp_payload;
    if (m.edns) {
      e.do_bit = m.edns->do_bit();
      if (pr.ok() && m.edns->ecs) {
        e.ecs = m.edns->ecs;
        e.ecs->scope_prefix = 0;  // these answers do not depend on the client address
      }
      if (pr.ok() && m.edns->nsid_requested && config_.nsid) e.nsid = config_.nsid;
    }
    edns = e;
  }

  size_t limit = kMaxTcpMessage;
  if (ctx.transport == Transport::kUdp) {
    limit = dns::kMinUdpPayload;
    if (m.edns && pr.ok()) {
      limit = std::max<size_t>(m.edns->udp_payload, dns::kMinUdpPayload);
      limit = std::min<size_t>(
          limit, std::max<size_t>(config_.advertised_udp_payload, dns::kMinUdpPayload));
    }
  }
  // NSID is optional (RFC 5001) and may be up to 512 bytes: it is left out when the OPT would not
  // leave room for the header and question, so the OPT reserved below never exceeds the limit.
  if (edns && edns->nsid && dns::opt_size(*edns) + m.question_end > limit) edns->nsid.reset();

  const bool question_parsed =
      m.header.qdcount == 1 && m.questions.size() == 1 && m.question_end > dns::kHeaderSize;
  // `copied` is what of the query's flags the reply may copy (ReplyBuilder keeps only opcode and
  // RD of it).
  auto simple_reply = [&](uint16_t rcode, bool echo_question, uint16_t copied) {
    ReplyBuilder b(reply, query, copied, limit, edns);
    b.begin(echo_question && question_parsed ? m.question_end : dns::kHeaderSize);
    b.finish(rcode, false, false);
    if (info) {
      *info = AnswerInfo{rcode, question_parsed ? m.questions[0].qtype : uint16_t{0}, false, false};
      info->question = question_parsed;
      if (pr.ok() && m.edns) info->ecs = m.edns->ecs;
    }
    return Disposition::kReply;
  };

  if (!pr.ok()) {
    // Errors after a complete question keep the question; errors inside it do not.
    const bool after_question = question_parsed && pr.error_offset >= m.question_end;
    return simple_reply(dns::rcode::FORMERR, after_question, qflags);
  }
  // The opcode's message format is unknown, so none of its flags is read: the reply has QR and
  // the opcode and no other flag (ISC's compliance tester, `opcodeflg`).
  if (opcode != dns::opcode::QUERY)
    return simple_reply(dns::rcode::NOTIMP, true, qflags & dns::flag::OPCODE_MASK);
  if (m.header.qdcount != 1) return simple_reply(dns::rcode::FORMERR, false, qflags);
  // A compressed question name cannot be echoed byte for byte: malformed.
  if (m.question_end != dns::kHeaderSize + m.questions[0].qname.wire_length() + 4)
    return simple_reply(dns::rcode::FORMERR, false, qflags);
  if (m.edns && m.edns->version > 0) return simple_reply(dns::rcode::BADVERS, true, qflags);

  const dns::Question& q = m.questions[0];
  if (q.qclass != dns::rrclass::IN) return simple_reply(dns::rcode::REFUSED, true, qflags);
  if (q.qtype == dns::rrtype::AXFR || q.qtype == dns::rrtype::IXFR)
    return simple_reply(ctx.transport == Transport::kUdp ? dns::rcode::NOTIMP : dns::rcode::REFUSED,
                        true, qflags);
  const zone::Zone* zone = zones.find_zone(q.qname);
  if (!zone) return simple_reply(dns::rcode::REFUSED, true, qflags);

  Routing routing;
  routing.engine = policy::gslb_engine(zones);
  // Spec: the ECS address when the query has a usable ECS option, else the resolver's.
  std::optional<policy::ClientAddress> ecs;
  if (routing.engine) {
    if (m.edns && m.edns->ecs) ecs = policy::ClientAddress::from_ecs(*m.edns->ecs);
    routing.client = ecs ? *ecs : policy::ClientAddress::from_sockaddr(ctx.client);
  }
  Answer a;
  resolve(zones, routing, q.qname, q.qtype, a);
  // RFC 7871 7.2.1: scope 0 answers a source prefix of 0 (the resolver's address decided).
  if (edns && edns->ecs) edns->ecs->scope_prefix = ecs ? a.ecs_scope : 0;

  ReplyBuilder b(reply, query, qflags, limit, edns);
  b.begin(m.question_end);
  b.shuffle(config_.shuffle_rrsets);
  const bool fits = b.sections(a);
  b.finish(a.rcode, a.authoritative, !fits);
  if (info) {
    *info = AnswerInfo{a.rcode, q.qtype, !fits, a.authoritative, a.policy};
    info->question = true;
    info->zone = zone;
    if (m.edns) info->ecs = m.edns->ecs;
  }
  return Disposition::kReply;
}

}  // namespace meridian::answer
