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
  // name, for each type in fast_path_qtypes().
  std::vector<FastPathEntry> compile(const zone::ZoneSet& zones, CompileStats* stats) const;

  // The entry for one (name, type), or false when it must stay in userspace.
  bool compile_one(const zone::ZoneSet& zones, const dns::Name& name, uint16_t qtype,
                   FastPathEntry& out, CompileStats* stats) const;

 private:
  const answer::Responder& responder_;
};

}  // namespace meridian::fastpath
