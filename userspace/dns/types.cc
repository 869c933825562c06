// Mnemonics for DNS types, classes and rcodes.
#include "dns/types.h"

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace meridian::dns {

namespace {

constexpr std::array<std::pair<uint16_t, std::string_view>, 20> kTypes = {{
    {rrtype::A, "A"},         {rrtype::NS, "NS"},
    {rrtype::CNAME, "CNAME"}, {rrtype::SOA, "SOA"},
    {rrtype::PTR, "PTR"},     {rrtype::HINFO, "HINFO"},
    {rrtype::MX, "MX"},       {rrtype::TXT, "TXT"},
    {rrtype::AAAA, "AAAA"},   {rrtype::SRV, "SRV"},
    {rrtype::OPT, "OPT"},     {rrtype::DS, "DS"},
    {rrtype::RRSIG, "RRSIG"}, {rrtype::IXFR, "IXFR"},
    {rrtype::AXFR, "AXFR"},   {rrtype::MAILB, "MAILB"},
    {rrtype::MAILA, "MAILA"}, {rrtype::ANY, "ANY"},
    {rrtype::CAA, "CAA"},     {39, "DNAME"},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::optional<uint16_t> parse_generic(std::string_view text, std::string_view prefix) {
  if (text.size() <= prefix.size() || !iequals(text.substr(0, prefix.size()), prefix))
    return std::nullopt;
  unsigned value = 0;
  auto digits = text.substr(prefix.size());
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || p != digits.data() + digits.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string type_to_text(uint16_t type) {
  for (const auto& [v, name] : kTypes)
    if (v == type) return std::string(name);
  return "TYPE" + std::to_string(type);
}

std::optional<uint16_t> type_from_text(std::string_view text) {
  for (const auto& [v, name] : kTypes)
    if (iequals(text, name)) return v;
  return parse_generic(text, "TYPE");
}

std::string class_to_text(uint16_t cls) {
  switch (cls) {
    case rrclass::IN:
      return "IN";
    case rrclass::CH:
      return "CH";
    case rrclass::HS:
      return "HS";
    case rrclass::NONE:
      return "NONE";
    case rrclass::ANY:
      return "ANY";
    default:
      return "CLASS" + std::to_string(cls);
  }
}

std::optional<uint16_t> class_from_text(std::string_view text) {
  if (iequals(text, "IN")) return rrclass::IN;
  if (iequals(text, "CH") || iequals(text, "CHAOS")) return rrclass::CH;
  if (iequals(text, "HS")) return rrclass::HS;
  if (iequals(text, "NONE")) return rrclass::NONE;
  if (iequals(text, "ANY")) return rrclass::ANY;
  return parse_generic(text, "CLASS");
}

std::string rcode_to_text(uint16_t rcode) {
  switch (rcode) {
    case rcode::NOERROR:
      return "NOERROR";
    case rcode::FORMERR:
      return "FORMERR";
    case rcode::SERVFAIL:
      return "SERVFAIL";
    case rcode::NXDOMAIN:
      return "NXDOMAIN";
    case rcode::NOTIMP:
      return "NOTIMP";
    case rcode::REFUSED:
      return "REFUSED";
    case rcode::BADVERS:
      return "BADVERS";
    case rcode::BADCOOKIE:
      return "BADCOOKIE";
    default:
      return "RCODE" + std::to_string(rcode);
  }
}

}  // namespace meridian::dns
