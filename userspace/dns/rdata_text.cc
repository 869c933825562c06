// RDATA presentation format <-> wire form, for zone files, Route 53 values and tests.
#include "dns/rdata_text.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstdio>

#include "dns/period.h"
#include "dns/rdata.h"
#include "dns/types.h"
#include "dns/wire_reader.h"

namespace meridian::dns {

namespace {

// Splits RDATA text into fields: whitespace separated, "quoted strings" kept whole (with the
// quotes removed and a flag saying they were quoted), backslash escapes kept for later decoding.
struct Field {
  std::string text;
  bool quoted = false;
};

Result<std::vector<Field>> split_fields(std::string_view text) {
  std::vector<Field> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) break;
    Field f;
    if (text[i] == '"') {
      f.quoted = true;
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) f.text.push_back(text[i++]);
        f.text.push_back(text[i++]);
      }
      if (i >= text.size()) return make_error("unterminated quoted string");
      ++i;
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
        if (text[i] == '\\' && i + 1 < text.size()) f.text.push_back(text[i++]);
        f.text.push_back(text[i++]);
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

// Decodes \X and \DDD escapes of a character-string.
Result<std::string> unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 1 >= s.size()) return make_error("dangling backslash");
    if (std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      if (i + 3 >= s.size()) return make_error("bad \\DDD escape");
      if (!std::isdigit(static_cast<unsigned char>(s[i + 2])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 3])))
        return make_error("bad \\DDD escape");
      int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
      if (v > 255) return make_error("\\DDD escape above 255");
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[++i]);
    }
  }
  return out;
}

Result<uint32_t> parse_number(std::string_view s, uint32_t max, const char* what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max)
    return make_error(std::string("bad ") + what + " '" + std::string(s) + "'");
  return static_cast<uint32_t>(v);
}

// An SOA timer: a number with optional units (1h30m, 2d, 1w), up to 2^32-1 seconds.
Result<uint32_t> parse_period(std::string_view s, const char* what) {
  if (s.empty()) return make_error(std::string("empty ") + what);
  uint32_t seconds = 0;
  switch (parse_period_seconds(s, /*unit_needs_number=*/true, &seconds)) {
    case PeriodStatus::kOk:
      return seconds;
    case PeriodStatus::kTooLarge:
      return make_error(std::string(what) + " too large");
    case PeriodStatus::kBad:
      break;
  }
  return make_error(std::string("bad ") + what + " '" + std::string(s) + "'");
}

void put16(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

Status put_name(std::vector<uint8_t>& out, const Field& f, const Name& origin, const char* what) {
  auto n = Name::from_text(f.text, &origin);
  if (!n) return make_error(std::string("bad ") + what + ": " + n.error().what);
  auto w = n->wire();
  out.insert(out.end(), w.begin(), w.end());
  return Ok{};
}

Status put_string(std::vector<uint8_t>& out, const Field& f) {
  auto s = unescape(f.text);
  if (!s) return s.error();
  if (s->size() > 255) return make_error("character-string longer than 255 octets");
  out.push_back(static_cast<uint8_t>(s->size()));
  out.insert(out.end(), s->begin(), s->end());
  return Ok{};
}

Status expect_fields(const std::vector<Field>& f, size_t n, uint16_t type) {
  if (f.size() != n)
    return make_error(type_to_text(type) + " needs " + std::to_string(n) + " field(s), got " +
                      std::to_string(f.size()));
  return Ok{};
}

std::string quote_string(std::span<const uint8_t> s) {
  std::string out = "\"";
  for (uint8_t c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c > 0x7e) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03u", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string generic_text(std::span<const uint8_t> rdata) {
  std::string out = "\\# " + std::to_string(rdata.size());
  if (!rdata.empty()) out += " ";
  char buf[3];
  for (uint8_t b : rdata) {
    std::snprintf(buf, sizeof buf, "%02X", b);
    out += buf;
  }
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> rdata_from_text(uint16_t type, std::string_view text,
                                             const Name& origin) {
  auto fields_r = split_fields(text);
  if (!fields_r) return fields_r.error();
  const auto& f = fields_r.value();
  std::vector<uint8_t> out;

  // RFC 3597 generic form, for any type.
  if (!f.empty() && !f[0].quoted && f[0].text == "\\#") {
    if (f.size() < 2) return make_error("generic RDATA needs a length");
    auto len = parse_number(f[1].text, 65535, "generic RDATA length");
    if (!len) return len.error();
    std::string hex;
    for (size_t i = 2; i < f.size(); ++i) hex += f[i].text;
    if (hex.size() != size_t{*len} * 2)
      return make_error("generic RDATA length does not match its data");
    for (size_t i = 0; i < hex.size(); i += 2) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
      if (ec != std::errc() || p != hex.data() + i + 2)
        return make_error("bad hex in generic RDATA");
      out.push_back(static_cast<uint8_t>(v));
    }
    return out;
  }

  switch (type) {
    case rrtype::A: {
      if (auto s = expect_fields(f, 1, type); !s) return s.error();
      uint8_t a[4];
      if (inet_pton(AF_INET, f[0].text.c_str(), a) != 1)
        return make_error("bad IPv4 address '" + f[0].text + "'");
      out.assign(a, a + 4);
      return out;
    }
    case rrtype::AAAA: {
      if (auto s = expect_fields(f, 1, type); !s) return s.error();
      uint8_t a[16];
      if (inet_pton(AF_INET6, f[0].text.c_str(), a) != 1)
        return make_error("bad IPv6 address '" + f[0].text + "'");
      out.assign(a, a + 16);
      return out;
    }
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR: {
      if (auto s = expect_fields(f, 1, type); !s) return s.error();
      if (auto s = put_name(out, f[0], origin, "target name"); !s) return s.error();
      return out;
    }
    case rrtype::MX: {
      if (auto s = expect_fields(f, 2, type); !s) return s.error();
      auto pref = parse_number(f[0].text, 65535, "MX preference");
      if (!pref) return pref.error();
      put16(out, *pref);
      if (auto s = put_name(out, f[1], origin, "MX exchange"); !s) return s.error();
      return out;
    }
    case rrtype::SRV: {
      if (auto s = expect_fields(f, 4, type); !s) return s.error();
      for (int i = 0; i < 3; ++i) {
        static const char* what[] = {"SRV priority", "SRV weight", "SRV port"};
        auto v = parse_number(f[static_cast<size_t>(i)].text, 65535, what[i]);
        if (!v) return v.error();
        put16(out, *v);
      }
      if (auto s = put_name(out, f[3], origin, "SRV target"); !s) return s.error();
      return out;
    }
    case rrtype::SOA: {
      if (auto s = expect_fields(f, 7, type); !s) return s.error();
      if (auto s = put_name(out, f[0], origin, "SOA MNAME"); !s) return s.error();
      if (auto s = put_name(out, f[1], origin, "SOA RNAME"); !s) return s.error();
      auto serial = parse_number(f[2].text, 0xffffffff, "SOA serial");
      if (!serial) return serial.error();
      put32(out, *serial);
      static const char* what[] = {"SOA refresh", "SOA retry", "SOA expire", "SOA minimum"};
      for (size_t i = 3; i < 7; ++i) {
        auto v = parse_period(f[i].text, what[i - 3]);
        if (!v) return v.error();
        put32(out, *v);
      }
      return out;
    }
    case rrtype::TXT: {
      if (f.empty()) return make_error("TXT needs at least one string");
      for (const auto& field : f)
        if (auto s = put_string(out, field); !s) return s.error();
      return out;
    }
    case rrtype::HINFO: {
      if (auto s = expect_fields(f, 2, type); !s) return s.error();
      for (const auto& field : f)
        if (auto s = put_string(out, field); !s) return s.error();
      return out;
    }
    case rrtype::CAA: {
      if (auto s = expect_fields(f, 3, type); !s) return s.error();
      auto flags = parse_number(f[0].text, 255, "CAA flags");
      if (!flags) return flags.error();
      const std::string& tag = f[1].text;
      if (tag.empty() || tag.size() > 255) return make_error("bad CAA tag");
      for (char c : tag)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          return make_error("bad CAA tag '" + tag + "'");
      auto value = unescape(f[2].text);
      if (!value) return value.error();
      out.push_back(static_cast<uint8_t>(*flags));
      out.push_back(static_cast<uint8_t>(tag.size()));
      out.insert(out.end(), tag.begin(), tag.end());
      out.insert(out.end(), value->begin(), value->end());
      return out;
    }
    default:
      return make_error("type " + type_to_text(type) +
                        " is only accepted in the generic form \\# <length> <hex>");
  }
}

std::string rdata_to_text(uint16_t type, std::span<const uint8_t> rdata) {
  WireReader r(rdata);
  auto name_at = [&]() { return Name::read(r).to_text(); };
  auto u16 = [&]() { return std::to_string(r.u16()); };
  std::string out;
  switch (type) {
    case rrtype::A:
    case rrtype::AAAA: {
      if (rdata.size() != (type == rrtype::A ? 4u : 16u)) return generic_text(rdata);
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(type == rrtype::A ? AF_INET : AF_INET6, rdata.data(), buf, sizeof buf);
      return buf;
    }
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      out = name_at();
      break;
    case rrtype::MX:
      out = u16();
      out += " " + name_at();
      break;
    case rrtype::SRV:
      out = u16();
      out += " " + u16();
      out += " " + u16();
      out += " " + name_at();
      break;
    case rrtype::SOA: {
      out = name_at();
      out += " " + name_at();
      for (int i = 0; i < 5; ++i) out += " " + std::to_string(r.u32());
      break;
    }
    case rrtype::TXT:
    case rrtype::HINFO: {
      while (r.ok() && !r.at_end()) {
        const uint8_t len = r.u8();
        auto s = r.bytes(len);
        if (!out.empty()) out += " ";
        out += quote_string(s);
      }
      break;
    }
    case rrtype::CAA: {
      const uint8_t flags = r.u8();
      const uint8_t tlen = r.u8();
      auto tag = r.bytes(tlen);
      auto value = r.bytes(r.remaining());
      out = std::to_string(flags) + " " + std::string(tag.begin(), tag.end()) + " " +
            quote_string(value);
      break;
    }
    default:
      return generic_text(rdata);
  }
  if (!r.ok() || !r.at_end()) return generic_text(rdata);
  return out;
}

}  // namespace meridian::dns
