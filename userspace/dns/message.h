// DNS message parsing (all sections, OPT with its options) and the record/OPT writers used to
// build replies. Parsing never reads past the buffer, whatever the input.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.h"
#include "dns/types.h"

namespace meridian::dns {

class WireWriter;

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  bool qr() const { return flags & flag::QR; }
  uint8_t opcode() const { return (flags & flag::OPCODE_MASK) >> flag::OPCODE_SHIFT; }
  uint8_t rcode() const { return flags & flag::RCODE_MASK; }
};

struct Question {
  Name qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct ResourceRecord {
  Name owner;
  uint16_t type = 0;
  uint16_t rclass = rrclass::IN;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;  // uncompressed wire form
};

// EDNS Client Subnet (RFC 7871), as received.
struct EcsOption {
  uint16_t family = 0;  // 1 = IPv4, 2 = IPv6
  uint8_t source_prefix = 0;
  uint8_t scope_prefix = 0;
  std::array<uint8_t, 16> address{};  // zero-padded
  uint8_t address_length = 0;         // octets present on the wire
};

struct EdnsOptionRaw {
  uint16_t code = 0;
  std::vector<uint8_t> data;
};

struct Edns {
  uint16_t udp_payload = 0;  // as sent (not yet clamped to 512)
  uint8_t extended_rcode = 0;
  uint8_t version = 0;
  uint16_t flags = 0;  // DO is kEdnsDoBit
  bool do_bit() const { return flags & kEdnsDoBit; }

  std::optional<EcsOption> ecs;
  std::optional<std::vector<uint8_t>> cookie;  // client cookie (8) + optional server cookie
  bool nsid_requested = false;
  bool padding_present = false;
  std::vector<EdnsOptionRaw> other_options;  // unknown options, kept for the fast-path decision
};

// Why a message failed to parse. Values are stable (used in stats and tests).
enum class ParseError : uint8_t {
  kNone = 0,
  kTooShort,            // fewer than 12 bytes: no header to echo
  kTruncated,           // a section ends past the buffer (or counts larger than the packet)
  kBadName,             // label type 01/10, label > 63, name > 255
  kBadPointer,          // forward pointer, pointer loop, pointer out of range
  kBadRdata,            // RDATA does not match its type's structure or RDLENGTH
  kTrailingData,        // bytes after the last counted record
  kMultipleOpt,         // more than one OPT record
  kOptNotRoot,          // OPT owner is not the root name
  kOptNotInAdditional,  // OPT in answer or authority section
  kBadOption,           // an EDNS option overruns the OPT RDATA
  kBadEcs,              // malformed ECS (RFC 7871 section 7.1.2 and family)
  kBadCookie,           // cookie length not 8 or 16..40
};
const char* parse_error_name(ParseError e);

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;  // without the OPT record
  std::optional<Edns> edns;
  size_t question_end = 0;  // offset just past the question section (for echoing it verbatim)
};

struct ParseResult {
  Message message;
  ParseError error = ParseError::kNone;
  size_t error_offset = 0;  // where parsing stopped
  bool header_ok = false;   // the 12-byte header was read (an error reply can be formed)
  bool ok() const { return error == ParseError::kNone; }
};

// Parses a whole message. On error, `message` holds what was parsed before the error
// (header always when header_ok; questions parsed so far).
ParseResult parse_message(std::span<const uint8_t> wire);

void write_header(WireWriter& writer, const Header& header);
// Writes one resource record (owner compressed, rdata via write_rdata).
void write_record(WireWriter& writer, const Name& owner, uint16_t type, uint16_t rclass,
                  uint32_t ttl, std::span<const uint8_t> rdata);
void write_record(WireWriter& writer, const ResourceRecord& rr);

// The OPT record of a reply.
struct ReplyEdns {
  uint16_t udp_payload = kDefaultAdvertisedPayload;
  uint8_t extended_rcode = 0;  // upper 8 bits of a 12-bit rcode
  bool do_bit = false;
  std::optional<EcsOption> ecs;                // echoed with scope set by the caller
  std::optional<std::vector<uint8_t>> cookie;  // echoed client(+server) cookie
  std::optional<std::vector<uint8_t>> nsid;    // our NSID when requested and configured
};
// Size in bytes of the OPT record write_opt would produce.
size_t opt_size(const ReplyEdns& edns);
void write_opt(WireWriter& writer, const ReplyEdns& edns);

}  // namespace meridian::dns
