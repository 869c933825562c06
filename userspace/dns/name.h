// Name: a domain name held as uncompressed wire labels in the case it was given.
// Comparison and hashing are case-insensitive (RFC 4343); the original case is kept for echoing.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace meridian::dns {

class WireReader;

class Name {
 public:
  Name();  // the root name "."

  // Presentation format: "www.example.com." (absolute) or "www" (relative to origin; an error if
  // origin is null). "@" is the origin. Supports \. and \DDD escapes. Errors: empty label,
  // label > 63 octets, name > 255 octets, bad escape.
  static Result<Name> from_text(std::string_view text, const Name* origin = nullptr);

  // Reads a possibly compressed name at the reader's position (RFC 1035 4.1.4). Pointers must point
  // strictly backwards (no forward pointers, no loops). On any malformation the reader's error is
  // set and the root is returned. After the call the reader is positioned after the name's
  // in-place bytes (after the first pointer, if any).
  static Name read(WireReader& reader);

  // Builds from uncompressed wire bytes; error if malformed.
  static Result<Name> from_wire(std::span<const uint8_t> wire);

  // Uncompressed wire form including the terminating zero octet, original case.
  std::span<const uint8_t> wire() const {
    return {reinterpret_cast<const uint8_t*>(wire_.data()), wire_.size()};
  }
  size_t wire_length() const { return wire_.size(); }
  size_t label_count() const;  // root has 0
  bool is_root() const { return wire_.size() == 1; }
  // i-th label from the left (0 = leftmost), without length octet.
  std::string_view label(size_t i) const;
  bool is_wildcard() const;  // leftmost label is "*"

  // Presentation form with a trailing dot; root is ".". Non-printable and special bytes escaped.
  std::string to_text() const;

  Name lowercased() const;
  // Wire form lowercased (ASCII only): a canonical key for hashing and maps.
  std::string key() const;

  bool equals(const Name& other) const;  // case-insensitive
  bool operator==(const Name& other) const { return equals(other); }
  // True if this name is `ancestor` or below it (case-insensitive).
  bool is_subdomain_of(const Name& ancestor) const;

  // This name with the leftmost `n` labels removed (n <= label_count()).
  Name strip_left(size_t n = 1) const;
  // "*." + parent: the wildcard owner that would cover a child of this name.
  Name wildcard_child() const;
  // `label` + "." + this; error if too long.
  Result<Name> prepend(std::string_view label) const;
  // Replaces the suffix `from` (which this name must be below) with `to`.
  Result<Name> replace_suffix(const Name& from, const Name& to) const;

  // RFC 4034 6.1 canonical ordering, case-insensitive.
  std::strong_ordering canonical_compare(const Name& other) const;

 private:
  explicit Name(std::string wire) : wire_(std::move(wire)) {}
  std::string wire_;  // length-prefixed labels + 0, as raw bytes
};

struct NameHash {
  size_t operator()(const Name& n) const;
};
struct NameEqual {
  bool operator()(const Name& a, const Name& b) const { return a.equals(b); }
};
struct NameCanonicalLess {
  bool operator()(const Name& a, const Name& b) const {
    return a.canonical_compare(b) == std::strong_ordering::less;
  }
};

}  // namespace meridian::dns
