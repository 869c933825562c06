// RDATA in wire form: reading (expanding compressed names), writing (compressing where RFC 3597
// allows it), and typed views of the fields the answer logic needs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.h"

namespace meridian::dns {

class WireReader;
class WireWriter;

// Reads `rdlength` bytes of RDATA of `type` at the reader's position and returns it uncompressed:
// names inside NS, CNAME, PTR, MX, SOA, SRV rdata are expanded. Fixed-size types (A=4, AAAA=16)
// and structure (e.g. SOA has two names then 20 bytes) are validated; on any malformation the
// reader's error is set. Unknown types are copied as opaque bytes.
std::vector<uint8_t> read_rdata(WireReader& reader, uint16_t type, uint16_t rdlength);

// Writes RDLENGTH followed by the RDATA, compressing embedded names only for NS, CNAME, PTR, MX
// and SOA (RFC 3597 section 4). `rdata` is uncompressed wire form.
void write_rdata(WireWriter& writer, uint16_t type, std::span<const uint8_t> rdata);

// Names embedded in an uncompressed RDATA: for NS/CNAME/PTR the target, MX the exchange, SRV the
// target. nullopt for other types or malformed rdata.
std::optional<Name> rdata_target_name(uint16_t type, std::span<const uint8_t> rdata);

struct SoaFields {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
};
std::optional<SoaFields> parse_soa(std::span<const uint8_t> rdata);
std::vector<uint8_t> build_soa(const SoaFields& soa);

}  // namespace meridian::dns
