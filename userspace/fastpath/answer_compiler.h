// AnswerCompiler: turns the zones into fast-path entries by asking the userspace Responder itself
// what it would answer for each (name, type), so the XDP path can only ever send the bytes the
// userspace server would send: there is no second implementation of the answer logic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "answer/responder.h"
#include "meridian_maps.h"
#include "zone/zone_set.h"

namespace meridian::fastpath {

struct FastPathEntry {
  std::string name_key;  // lowercased wire name (Name::key())
  uint16_t qtype = 0;
  mdn_answer answer{};
};

// Why an (name, type) stayed in userspace; counted and logged by the caller.
struct CompileStats {
  size_t entries = 0;
  size_t oversize = 0;        // answer sections longer than MDN_ANSWER_MAX
  size_t not_answerable = 0;  // no positive answer (NODATA, NXDOMAIN) or flags we do not mirror
  size_t needs_shuffle = 0;   // an RRset of several values the program cannot shuffle (rule 1)
  // Negative answers (one (qtype 0, name) entry per existing name): names answering NODATA in
  // XDP, names whose missing children get NXDOMAIN in XDP, and why the others go up.
  size_t nodata = 0;
  size_t nxdomain_enclosers = 0;
  size_t negative_cut = 0;             // at or below a zone cut: referrals
  size_t negative_cname = 0;           // CNAME or wildcard owners
  size_t negative_types = 0;           // more types than MDN_NEG_TYPES (NODATA only)
  size_t negative_wildcard_child = 0;  // a wildcard child answers the missing names below
  size_t negative_unverified = 0;      // the replies were not ones the program can replay exactly
};

// The header bits the XDP program copies from the query; the compiler checks the responder
// does exactly this before trusting an entry.
inline constexpr uint16_t kCopiedQueryFlags = 0x7800 /* opcode */ | 0x0100 /* RD */;

// The query types the compiler tries at every name. ANY, AXFR and IXFR are never compiled: their
// answers depend on the transport.
std::vector<uint16_t> fast_path_qtypes();

// One's complement partial sum of `data` in native 16-bit words (zero padded to even), the
// representation bpf_csum_diff() uses, folded to 16 bits.
uint32_t checksum_partial(const uint8_t* data, size_t len);

class AnswerCompiler {
 public:
  explicit AnswerCompiler(const answer::Responder& responder) : responder_(responder) {}

  // Every positive answer (and referral) the responder gives for an existing, non-wildcard owner
  // name, for each type in fast_path_qtypes(); then one negative entry per existing name.
  std::vector<FastPathEntry> compile(const zone::ZoneSet& zones, CompileStats* stats) const;

  // The negative entry of one existing name: keyed (qtype 0, name), with the NODATA answer at
  // the name and the NXDOMAIN answer for names below it where the program can replay them
  // exactly (see docs/fastpath.md, "Negative answers"). Always written for a name of `zone`
  // (even with neither part): it tells the program the name exists.
  FastPathEntry compile_negative(const zone::ZoneSet& zones, const zone::Zone& zone,
                                 const zone::Node& node, CompileStats* stats) const;

  // The entry for one (name, type), or false when it must stay in userspace.
  bool compile_one(const zone::ZoneSet& zones, const dns::Name& name, uint16_t qtype,
                   FastPathEntry& out, CompileStats* stats) const;

 private:
  const answer::Responder& responder_;
};

}  // namespace meridian::fastpath
