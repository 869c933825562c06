// Reading "ADDRESS/LENGTH" prefixes (198.18.0.0/15, fd00:18::/48) from text: the address, the
// length and whether bits are set past it, found once here. Each caller (the config file, the
// policy tables) applies its own limits and words its own errors from these facts.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian {

struct PrefixText {
  bool has_slash = false;
  bool address_ok = false;  // the part before '/' is an IPv4 or IPv6 address
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};  // IPv4 in the first 4 bytes
  std::optional<unsigned> length;     // the part after '/' when it is a decimal number

  // Whether any address bit at or past `length` is set (needs address_ok and length).
  bool bits_past_length() const {
    for (unsigned bit = *length; bit < (ipv6 ? 128u : 32u); ++bit) {
      if (address[bit / 8] & (0x80 >> (bit % 8))) return true;
    }
    return false;
  }

  // The canonical text: inet_ntop's form of the address, "/", the length.
  std::string to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(ipv6 ? AF_INET6 : AF_INET, address.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(*length);
  }
};

// Splits `text` at its first '/' and reads both sides; never fails, the facts say what is wrong.
inline PrefixText read_prefix_text(std::string_view text) {
  PrefixText p;
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return p;
  p.has_slash = true;
  const std::string address(text.substr(0, slash));
  if (inet_pton(AF_INET, address.c_str(), p.address.data()) == 1) {
    p.address_ok = true;
  } else if (inet_pton(AF_INET6, address.c_str(), p.address.data()) == 1) {
    p.address_ok = true;
    p.ipv6 = true;
  }
  const std::string_view length_text = text.substr(slash + 1);
  unsigned length = 0;
  auto [end, ec] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (!length_text.empty() && ec == std::errc() && end == length_text.data() + length_text.size())
    p.length = length;
  return p;
}

}  // namespace meridian
