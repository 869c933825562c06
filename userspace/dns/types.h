// DNS protocol constants: record types, classes, opcodes, rcodes, header flag masks, EDNS options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::dns {

namespace rrtype {
inline constexpr uint16_t A = 1;
inline constexpr uint16_t NS = 2;
inline constexpr uint16_t CNAME = 5;
inline constexpr uint16_t SOA = 6;
inline constexpr uint16_t PTR = 12;
inline constexpr uint16_t HINFO = 13;
inline constexpr uint16_t MX = 15;
inline constexpr uint16_t TXT = 16;
inline constexpr uint16_t AAAA = 28;
inline constexpr uint16_t SRV = 33;
inline constexpr uint16_t OPT = 41;
inline constexpr uint16_t DS = 43;
inline constexpr uint16_t RRSIG = 46;
inline constexpr uint16_t IXFR = 251;
inline constexpr uint16_t AXFR = 252;
inline constexpr uint16_t MAILB = 253;
inline constexpr uint16_t MAILA = 254;
inline constexpr uint16_t ANY = 255;
inline constexpr uint16_t CAA = 257;
}  // namespace rrtype

namespace rrclass {
inline constexpr uint16_t IN = 1;
inline constexpr uint16_t CH = 3;
inline constexpr uint16_t HS = 4;
inline constexpr uint16_t NONE = 254;
inline constexpr uint16_t ANY = 255;
}  // namespace rrclass

namespace opcode {
inline constexpr uint8_t QUERY = 0;
inline constexpr uint8_t IQUERY = 1;
inline constexpr uint8_t STATUS = 2;
inline constexpr uint8_t NOTIFY = 4;
inline constexpr uint8_t UPDATE = 5;
}  // namespace opcode

// Full 12-bit rcodes; values above 15 need EDNS (upper 8 bits go in the OPT TTL).
namespace rcode {
inline constexpr uint16_t NOERROR = 0;
inline constexpr uint16_t FORMERR = 1;
inline constexpr uint16_t SERVFAIL = 2;
inline constexpr uint16_t NXDOMAIN = 3;
inline constexpr uint16_t NOTIMP = 4;
inline constexpr uint16_t REFUSED = 5;
inline constexpr uint16_t BADVERS = 16;
inline constexpr uint16_t BADCOOKIE = 23;
}  // namespace rcode

// Header flag word (bytes 2-3 of the header), read by mask, never by bitfield.
namespace flag {
inline constexpr uint16_t QR = 0x8000;
inline constexpr uint16_t OPCODE_MASK = 0x7800;
inline constexpr int OPCODE_SHIFT = 11;
inline constexpr uint16_t AA = 0x0400;
inline constexpr uint16_t TC = 0x0200;
inline constexpr uint16_t RD = 0x0100;
inline constexpr uint16_t RA = 0x0080;
inline constexpr uint16_t Z = 0x0040;
inline constexpr uint16_t AD = 0x0020;
inline constexpr uint16_t CD = 0x0010;
inline constexpr uint16_t RCODE_MASK = 0x000f;
}  // namespace flag

// EDNS option codes (RFC 6891 and friends).
namespace edns_option {
inline constexpr uint16_t NSID = 3;
inline constexpr uint16_t ECS = 8;
inline constexpr uint16_t COOKIE = 10;
inline constexpr uint16_t PADDING = 12;
}  // namespace edns_option

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameWire = 255;
inline constexpr size_t kMaxLabel = 63;
inline constexpr uint16_t kMinUdpPayload = 512;
inline constexpr uint16_t kDefaultAdvertisedPayload = 1232;
inline constexpr uint16_t kEdnsDoBit = 0x8000;  // in the low 16 bits of the OPT TTL

// "A", "AAAA", ... or "TYPE65534" (RFC 3597) for unknown types.
std::string type_to_text(uint16_t type);
// Accepts mnemonics case-insensitively and "TYPEnnn".
std::optional<uint16_t> type_from_text(std::string_view text);
std::string class_to_text(uint16_t cls);
std::optional<uint16_t> class_from_text(std::string_view text);
std::string rcode_to_text(uint16_t rcode);

}  // namespace meridian::dns
