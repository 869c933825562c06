// PolicyCompiler: groups, fragments and prefix tables for the XDP program's routing policies.
#include "fastpath/policy_compiler.h"

#include <cstring>

#include "dns/message.h"
#include "dns/types.h"
#include "dns/wire_writer.h"
#include "policy/client_regions.h"
#include "policy/decision_table.h"
#include "policy/gslb_engine.h"

namespace meridian::fastpath {

namespace {

// A query type no zone holds: asking the responder for it at a name gives that name's NODATA.
constexpr uint16_t kNoDataProbeType = 65534;

uint16_t read_u16(const std::vector<uint8_t>& b, size_t off) {
  return static_cast<uint16_t>((b[off] << 8) | b[off + 1]);
}

// Types whose policy answer is the chosen record sets' RRs and nothing else, with no names in
// their data (so their bytes do not depend on what else the message holds): CNAME answers follow
// chains, NS/MX/SRV answers carry additional data, names in PTR data may compress differently.
bool fast_path_policy_type(uint16_t type) {
  using namespace dns::rrtype;
  return type == A || type == AAAA || type == TXT || type == CAA;
}

// Header + question of `name`, as the responder writes them before the sections (the question
// is a compression target).
void write_question(dns::WireWriter& w, const dns::Name& name, uint16_t qtype) {
  for (int i = 0; i < 12; ++i) w.u8(0);
  w.name(name, true);
  w.u16(qtype);
  w.u16(dns::rrclass::IN);
}

// The RRs of one record set under `name` with `ttl`, written as the responder writes an answer.
bool build_fragment(const dns::Name& name, const zone::RecordSet& rs, uint32_t ttl,
                    mdn_fragment& out) {
  std::vector<uint8_t> buf;
  dns::WireWriter w(buf, 65535);
  write_question(w, name, rs.type);
  const size_t start = w.size();
  for (const auto& rdata : rs.rdatas)
    dns::write_record(w, name, rs.type, dns::rrclass::IN, ttl, rdata);
  if (w.overflow() || w.size() - start > MDN_FRAGMENT_MAX) return false;
  out = mdn_fragment{};
  out.ancount = static_cast<uint16_t>(rs.rdatas.size());
  out.length = static_cast<uint16_t>(w.size() - start);
  std::memcpy(out.data, buf.data() + start, out.length);
  out.csum = checksum_partial(out.data, out.length);
  return true;
}

// Asks the responder (over TCP: never truncated) for (name, qtype).
bool ask(const answer::Responder& responder, const zone::ZoneSet& zones, const dns::Name& name,
         uint16_t qtype, std::vector<uint8_t>& reply, size_t& question_end,
         answer::AnswerInfo& info) {
  std::vector<uint8_t> query;
  dns::WireWriter w(query, 512);
  write_question(w, name, qtype);
  if (w.overflow()) return false;
  query[2] = 0x01;  // RD, as the static compiler's queries
  query[5] = 1;     // QDCOUNT
  question_end = query.size();
  answer::QueryContext ctx;
  ctx.transport = answer::Transport::kTcp;
  return responder.respond(zones, query, ctx, reply, &info) == answer::Disposition::kReply &&
         reply.size() >= question_end;
}

// The name's NODATA answer (SOA in authority) from the responder, as a fragment.
bool nodata_fragment(const answer::Responder& responder, const zone::ZoneSet& zones,
                     const dns::Name& name, mdn_fragment& out) {
  std::vector<uint8_t> reply;
  size_t qend = 0;
  answer::AnswerInfo info;
  if (!ask(responder, zones, name, kNoDataProbeType, reply, qend, info)) return false;
  const uint16_t flags = read_u16(reply, 2);
  if (info.policy || (flags & dns::flag::RCODE_MASK) != dns::rcode::NOERROR ||
      !(flags & dns::flag::AA) || read_u16(reply, 6) != 0 || read_u16(reply, 8) != 1 ||
      read_u16(reply, 10) != 0 || reply.size() - qend > MDN_FRAGMENT_MAX)
    return false;
  out = mdn_fragment{};
  out.nscount = 1;
  out.length = static_cast<uint16_t>(reply.size() - qend);
  std::memcpy(out.data, reply.data() + qend, out.length);
  out.csum = checksum_partial(out.data, out.length);
  return true;
}

// Prefix table entries for one trie: every region with the value XDP reads.
void add_trie(uint32_t table, const policy::PrefixTrie& trie, uint32_t none,
              std::vector<PrefixEntry>& out) {
  trie.for_each_region([&](const policy::IpPrefix& region, const policy::PrefixTrie::Match& m) {
    mdn_prefix_value v{};
    v.value = m.value == policy::PrefixTrie::kNone ? none : m.value;
    v.scope = m.scope;
    out.emplace_back(make_prefix_key(table, region), v);
  });
}

}  // namespace

mdn_prefix_key make_prefix_key(uint32_t table, const policy::IpPrefix& prefix) {
  mdn_prefix_key k{};
  k.prefixlen = MDN_PREFIX_HEAD_BITS + prefix.length;
  mdn_prefix_key_set_table(&k, table);
  k.family = prefix.ipv6 ? MDN_FAMILY_IPV6 : MDN_FAMILY_IPV4;
  std::memcpy(k.addr, prefix.address.data(), prefix.ipv6 ? 16 : 4);
  return k;
}

void PolicyCompiler::compile(const zone::ZoneSet& zones, std::vector<FastPathEntry>& entries,
                             PolicyTables& tables, PolicyCompileStats* stats) const {
  PolicyCompileStats local;
  PolicyCompileStats& st = stats ? *stats : local;
  const policy::GslbEngine* engine = policy::gslb_engine(zones);
  if (!engine) return;
  const policy::DecisionTable& table = engine->table();
  bool latency_used = false, cidr_used = false;

  for (const auto& [key, g] : table.groups()) {
    if (!fast_path_policy_type(g.type) || g.name.is_wildcard()) {
      ++st.type;
      continue;
    }
    bool alias = false, mixed_ttl = false;
    for (uint32_t i = 0; i < g.group.count; ++i) {
      const uint32_t slot = g.group.candidates[i].health;
      alias = alias || g.record_sets[i]->alias.has_value() ||
              (slot != MDN_NO_HEALTH && slot >= MDN_HEALTH_SLOTS);
      mixed_ttl = mixed_ttl || g.record_sets[i]->ttl != g.record_sets[0]->ttl;
    }
    if (alias) {
      ++st.alias;
      continue;
    }
    if (g.group.policy == MDN_POLICY_MULTIVALUE && mixed_ttl) {
      ++st.mixed_ttl;
      continue;
    }
    // The responder must answer this (name, type) through the group (not a referral, not a
    // CNAME chain): what XDP then decides is what userspace would have decided.
    std::vector<uint8_t> reply;
    size_t qend = 0;
    answer::AnswerInfo info;
    if (!ask(responder_, zones, g.name, g.type, reply, qend, info) || !info.policy ||
        read_u16(reply, 4) != 1 || read_u16(reply, 10) != 0) {
      ++st.not_policy;
      continue;
    }

    mdn_group_entry entry{};
    entry.group = g.group;
    entry.nodata = MDN_NO_FRAGMENT;
    const size_t first_fragment = tables.fragments.size();
    bool fits = true;
    for (uint32_t i = 0; i < g.group.count && fits; ++i) {
      mdn_fragment f;
      fits = build_fragment(g.name, *g.record_sets[i], g.record_sets[i]->ttl, f);
      entry.group.candidates[i].record_set = static_cast<uint32_t>(tables.fragments.size());
      if (fits) tables.fragments.push_back(f);
    }
    if (!fits) {
      tables.fragments.resize(first_fragment);
      ++st.oversize;
      continue;
    }
    // Without a NODATA fragment the group still serves its answers; a NODATA outcome goes up.
    mdn_fragment nodata;
    if (nodata_fragment(responder_, zones, g.name, nodata)) {
      entry.nodata = static_cast<uint32_t>(tables.fragments.size());
      tables.fragments.push_back(nodata);
    }

    FastPathEntry e;
    e.name_key = g.name.key();
    e.qtype = g.type;
    e.answer.kind = MDN_ANSWER_POLICY;
    e.answer.csum = static_cast<uint32_t>(tables.groups.size());
    entries.push_back(e);
    tables.groups.push_back(entry);
    latency_used = latency_used || g.group.policy == MDN_POLICY_LATENCY;
    tables.needs_geo = tables.needs_geo || g.group.policy == MDN_POLICY_GEOLOCATION ||
                       g.group.policy == MDN_POLICY_LATENCY ||
                       g.group.policy == MDN_POLICY_GEOPROXIMITY;
    cidr_used = cidr_used || g.group.policy == MDN_POLICY_IP_BASED;
    ++st.groups;
  }

  // The latency table always has its regions (an empty table: every client without a profile,
  // scope 0, as userspace), so the program never mistakes a missing table for a long prefix.
  if (latency_used) {
    add_trie(MDN_TABLE_LATENCY, table.latency_prefixes(), MDN_NO_PROFILE, tables.prefixes);
    for (const auto& [k, ms] : table.latency_values())
      tables.latency_ms.push_back(
          {mdn_latency_key{static_cast<uint32_t>(k >> 32), static_cast<uint32_t>(k)}, ms});
  } else {
    add_trie(MDN_TABLE_LATENCY, policy::PrefixTrie{}, MDN_NO_PROFILE, tables.prefixes);
  }
  if (cidr_used)
    for (uint32_t id = 1; const policy::PrefixTrie* trie = table.cidr_collection(id); ++id)
      add_trie(id, *trie, MDN_NO_LOCATION, tables.prefixes);
}

Result<std::vector<PrefixEntry>> compile_geo_table(const geo::GeoDatabase* db) {
  std::vector<PrefixEntry> out;
  if (!db) {
    for (bool ipv6 : {false, true}) {
      policy::IpPrefix all;
      all.ipv6 = ipv6;
      out.emplace_back(make_prefix_key(MDN_TABLE_GEO, all), mdn_prefix_value{});
    }
    return out;
  }
  auto walked = policy::for_each_geo_region(
      *db, [&](const policy::IpPrefix& prefix, const mdn_client& client, uint8_t scope) {
        mdn_prefix_value v{};
        v.client = client;
        v.scope = scope;
        out.emplace_back(make_prefix_key(MDN_TABLE_GEO, prefix), v);
      });
  if (!walked) return walked.error();
  return out;
}

}  // namespace meridian::fastpath
