// Name: wire-form domain names with case-insensitive comparison (RFC 4343).
#include "dns/name.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <vector>

#include "dns/types.h"
#include "dns/wire_reader.h"

namespace meridian::dns {

namespace {

inline uint8_t lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

}  // namespace

Name::Name() : wire_(1, '\0') {}

Result<Name> Name::from_text(std::string_view text, const Name* origin) {
  if (text == "@") {
    if (!origin) return make_error("'@' used without an origin");
    return *origin;
  }
  if (text.empty()) return make_error("empty name");
  if (text == ".") return Name();
  std::string wire;
  std::string label;
  bool absolute = false;
  auto flush = [&]() -> Status {
    if (label.empty()) return make_error("empty label in name '" + std::string(text) + "'");
    if (label.size() > kMaxLabel)
      return make_error("label longer than 63 octets in name '" + std::string(text) + "'");
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
    label.clear();
    return Ok{};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size())
        return make_error("dangling escape in name '" + std::string(text) + "'");
      char n = text[i + 1];
      if (n >= '0' && n <= '9') {
        if (i + 3 >= text.size() || !isdigit(static_cast<unsigned char>(text[i + 2])) ||
            !isdigit(static_cast<unsigned char>(text[i + 3])))
          return make_error("bad \\DDD escape in name '" + std::string(text) + "'");
        int v = (n - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (v > 255)
          return make_error("\\DDD escape above 255 in name '" + std::string(text) + "'");
        label.push_back(static_cast<char>(v));
        i += 3;
      } else {
        label.push_back(n);
        i += 1;
      }
    } else if (c == '.') {
      if (auto s = flush(); !s) return s.error();
      if (i + 1 == text.size()) absolute = true;
    } else {
      label.push_back(c);
    }
  }
  if (!label.empty()) {
    if (auto s = flush(); !s) return s.error();
  }
  if (!absolute) {
    if (!origin) return make_error("relative name '" + std::string(text) + "' without an origin");
    wire.append(reinterpret_cast<const char*>(origin->wire().data()), origin->wire_length());
  } else {
    wire.push_back('\0');
  }
  if (wire.size() > kMaxNameWire)
    return make_error("name longer than 255 octets: '" + std::string(text) + "'");
  return Name(std::move(wire));
}

Name Name::read(WireReader& reader) {
  const auto msg = reader.message();
  size_t pos = reader.position();
  size_t resume = 0;    // position after the first pointer; 0 = none followed yet
  size_t lowest = pos;  // pointers must go strictly below every position visited so far
  std::string wire;
  for (;;) {
    if (pos >= msg.size()) {
      reader.fail();
      return Name();
    }
    const uint8_t len = msg[pos];
    if (len == 0) {
      wire.push_back('\0');
      ++pos;
      break;
    }
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= msg.size()) {
        reader.fail();
        return Name();
      }
      const size_t target = static_cast<size_t>(((len & 0x3f) << 8) | msg[pos + 1]);
      if (target >= lowest) {  // forward pointer or loop
        reader.fail();
        return Name();
      }
      if (resume == 0) resume = pos + 2;
      lowest = target;
      pos = target;
      continue;
    }
    if (len & 0xc0) {  // 01 and 10 label types
      reader.fail();
      return Name();
    }
    if (pos + 1 + len > msg.size() || wire.size() + 1 + len + 1 > kMaxNameWire) {
      reader.fail();
      return Name();
    }
    wire.append(reinterpret_cast<const char*>(msg.data() + pos), 1 + len);
    pos += 1 + len;
  }
  reader.seek(resume ? resume : pos);
  return Name(std::move(wire));
}

Result<Name> Name::from_wire(std::span<const uint8_t> wire) {
  WireReader r(wire);
  Name n = read(r);
  if (!r.ok() || r.position() != wire.size() || n.wire_length() != wire.size())
    return make_error("malformed wire name");
  return n;
}

size_t Name::label_count() const {
  size_t n = 0;
  for (size_t i = 0; static_cast<uint8_t>(wire_[i]) != 0; i += 1 + static_cast<uint8_t>(wire_[i]))
    ++n;
  return n;
}

std::string_view Name::label(size_t index) const {
  size_t i = 0;
  for (size_t n = 0; static_cast<uint8_t>(wire_[i]) != 0; ++n) {
    const size_t len = static_cast<uint8_t>(wire_[i]);
    if (n == index) return std::string_view(wire_).substr(i + 1, len);
    i += 1 + len;
  }
  return {};
}

bool Name::is_wildcard() const {
  return wire_.size() >= 3 && wire_[0] == 1 && wire_[1] == '*';
}

std::string Name::to_text() const {
  if (is_root()) return ".";
  std::string out;
  for (size_t i = 0; static_cast<uint8_t>(wire_[i]) != 0;) {
    const size_t len = static_cast<uint8_t>(wire_[i]);
    for (size_t j = 0; j < len; ++j) {
      const uint8_t c = static_cast<uint8_t>(wire_[i + 1 + j]);
      if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
          c == '$') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x21 || c > 0x7e) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('.');
    i += 1 + len;
  }
  return out;
}

Name Name::lowercased() const {
  return Name(key());
}

std::string Name::key() const {
  std::string k = wire_;
  for (size_t i = 0; static_cast<uint8_t>(k[i]) != 0;) {
    const size_t len = static_cast<uint8_t>(k[i]);
    for (size_t j = 1; j <= len; ++j)
      k[i + j] = static_cast<char>(lower(static_cast<uint8_t>(k[i + j])));
    i += 1 + len;
  }
  return k;
}

bool Name::equals(const Name& other) const {
  if (wire_.size() != other.wire_.size()) return false;
  for (size_t i = 0; i < wire_.size(); ++i)
    if (lower(static_cast<uint8_t>(wire_[i])) != lower(static_cast<uint8_t>(other.wire_[i])))
      return false;
  return true;
}

bool Name::is_subdomain_of(const Name& ancestor) const {
  if (ancestor.wire_.size() > wire_.size()) return false;
  // Walk label boundaries until the remaining suffix has the ancestor's length.
  size_t i = 0;
  while (wire_.size() - i > ancestor.wire_.size()) i += 1 + static_cast<uint8_t>(wire_[i]);
  if (wire_.size() - i != ancestor.wire_.size()) return false;
  for (size_t j = 0; j < ancestor.wire_.size(); ++j)
    if (lower(static_cast<uint8_t>(wire_[i + j])) != lower(static_cast<uint8_t>(ancestor.wire_[j])))
      return false;
  return true;
}

Name Name::strip_left(size_t n) const {
  size_t i = 0;
  for (size_t k = 0; k < n && static_cast<uint8_t>(wire_[i]) != 0; ++k)
    i += 1 + static_cast<uint8_t>(wire_[i]);
  return Name(wire_.substr(i));
}

Name Name::wildcard_child() const {
  std::string w = "\x01*";
  w += wire_;
  if (w.size() > kMaxNameWire) return *this;
  return Name(std::move(w));
}

Result<Name> Name::prepend(std::string_view label) const {
  if (label.empty() || label.size() > kMaxLabel) return make_error("bad label length");
  if (wire_.size() + 1 + label.size() > kMaxNameWire)
    return make_error("name longer than 255 octets");
  std::string w;
  w.push_back(static_cast<char>(label.size()));
  w += label;
  w += wire_;
  return Name(std::move(w));
}

Result<Name> Name::replace_suffix(const Name& from, const Name& to) const {
  if (!is_subdomain_of(from)) return make_error("name is not below the suffix");
  std::string w = wire_.substr(0, wire_.size() - from.wire_.size());
  w += to.wire_;
  if (w.size() > kMaxNameWire) return make_error("name longer than 255 octets");
  return Name(std::move(w));
}

std::strong_ordering Name::canonical_compare(const Name& other) const {
  // Compare label by label from the right (RFC 4034 6.1), lowercased.
  auto labels = [](const std::string& w) {
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t i = 0; static_cast<uint8_t>(w[i]) != 0; i += 1 + static_cast<uint8_t>(w[i]))
      out.emplace_back(i + 1, static_cast<uint8_t>(w[i]));
    return out;
  };
  const auto a = labels(wire_), b = labels(other.wire_);
  size_t ia = a.size(), ib = b.size();
  while (ia > 0 && ib > 0) {
    --ia;
    --ib;
    const auto [pa, la] = a[ia];
    const auto [pb, lb] = b[ib];
    const size_t n = std::min(la, lb);
    for (size_t j = 0; j < n; ++j) {
      const uint8_t ca = lower(static_cast<uint8_t>(wire_[pa + j]));
      const uint8_t cb = lower(static_cast<uint8_t>(other.wire_[pb + j]));
      if (ca != cb) return ca <=> cb;
    }
    if (la != lb) return la <=> lb;
  }
  return a.size() <=> b.size();
}

size_t NameHash::operator()(const Name& n) const {
  // FNV-1a over the lowercased wire form.
  size_t h = 1469598103934665603ull;
  for (uint8_t c : n.wire()) {
    h ^= lower(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace meridian::dns
