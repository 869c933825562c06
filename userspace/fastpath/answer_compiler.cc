// AnswerCompiler: asks the Responder for each (name, type) and keeps the answers the XDP program
// can replay byte for byte.
#include "fastpath/answer_compiler.h"

#include <cstring>

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
  std::vector<uint8_t> query = {
      0, 0, kCompileQueryFlags >> 8, kCompileQueryFlags & 0xff, 0, 1, 0, 0, 0, 0, 0, 0};
  query.insert(query.end(), key.begin(), key.end());
  query.push_back(qtype >> 8);
  query.push_back(qtype & 0xff);
  query.push_back(0);
  query.push_back(dns::rrclass::IN);
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
  return entries;
}

}  // namespace meridian::fastpath
