// WireReader: bounds-checked big-endian reads with a sticky error.
#include "dns/wire_reader.h"

namespace meridian::dns {

uint8_t WireReader::u8() {
  if (remaining() < 1) {
    fail();
    pos_ = msg_.size();
    return 0;
  }
  return msg_[pos_++];
}

uint16_t WireReader::u16() {
  if (remaining() < 2) {
    fail();
    pos_ = msg_.size();
    return 0;
  }
  uint16_t v = static_cast<uint16_t>((msg_[pos_] << 8) | msg_[pos_ + 1]);
  pos_ += 2;
  return v;
}

uint32_t WireReader::u32() {
  if (remaining() < 4) {
    fail();
    pos_ = msg_.size();
    return 0;
  }
  uint32_t v = (uint32_t{msg_[pos_]} << 24) | (uint32_t{msg_[pos_ + 1]} << 16) |
               (uint32_t{msg_[pos_ + 2]} << 8) | uint32_t{msg_[pos_ + 3]};
  pos_ += 4;
  return v;
}

std::span<const uint8_t> WireReader::bytes(size_t n) {
  if (remaining() < n) {
    fail();
    pos_ = msg_.size();
    return {};
  }
  auto s = msg_.subspan(pos_, n);
  pos_ += n;
  return s;
}

void WireReader::skip(size_t n) {
  (void)bytes(n);
}

void WireReader::seek(size_t pos) {
  if (pos > msg_.size()) {
    fail();
    pos_ = msg_.size();
    return;
  }
  pos_ = pos;
}

}  // namespace meridian::dns
