// WireReader: a bounds-checked cursor over a DNS message with a sticky error flag.
// Every read past the end sets the error and returns zeros, so parsers check once at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace meridian::dns {

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> message) : msg_(message) {}

  // Network byte order reads; on overrun: error set, 0 returned, position moved to end.
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  // A view of the next n bytes (empty span and error on overrun).
  std::span<const uint8_t> bytes(size_t n);
  void skip(size_t n);

  size_t position() const { return pos_; }
  void seek(size_t pos);  // error if pos > size
  size_t remaining() const { return msg_.size() - pos_; }
  bool at_end() const { return pos_ == msg_.size(); }

  bool ok() const { return !error_; }
  void fail() { error_ = true; }

  // The whole message, for following compression pointers.
  std::span<const uint8_t> message() const { return msg_; }

 private:
  std::span<const uint8_t> msg_;
  size_t pos_ = 0;
  bool error_ = false;
};

}  // namespace meridian::dns
