// WireWriter: bounded message output with RFC 1035 name compression.
#include "dns/wire_writer.h"

#include "dns/name.h"

namespace meridian::dns {

namespace {

inline uint8_t lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

// Compares the uncompressed labels `suffix` (ending with the root) with the name written at
// `offset` in `buf` (following pointers), case-insensitively.
bool matches(const std::vector<uint8_t>& buf, size_t offset, std::span<const uint8_t> suffix) {
  size_t s = 0;
  int hops = 0;
  while (offset < buf.size()) {
    const uint8_t len = buf[offset];
    if ((len & 0xc0) == 0xc0) {
      if (offset + 1 >= buf.size() || ++hops > 64) return false;
      offset = static_cast<size_t>(((len & 0x3f) << 8) | buf[offset + 1]);
      continue;
    }
    if (s >= suffix.size() || suffix[s] != len) return false;
    if (len == 0) return true;
    if (offset + 1 + len > buf.size() || s + 1 + len > suffix.size()) return false;
    for (size_t j = 1; j <= len; ++j)
      if (lower(buf[offset + j]) != lower(suffix[s + j])) return false;
    offset += 1 + len;
    s += 1 + len;
  }
  return false;
}

}  // namespace

WireWriter::WireWriter(std::vector<uint8_t>& buf, size_t limit) : buf_(buf), limit_(limit) {
  buf_.clear();
}

void WireWriter::u8(uint8_t v) {
  if (buf_.size() + 1 > limit_) {
    overflow_ = true;
    return;
  }
  buf_.push_back(v);
}

void WireWriter::u16(uint16_t v) {
  if (buf_.size() + 2 > limit_) {
    overflow_ = true;
    return;
  }
  buf_.push_back(static_cast<uint8_t>(v >> 8));
  buf_.push_back(static_cast<uint8_t>(v & 0xff));
}

void WireWriter::u32(uint32_t v) {
  if (buf_.size() + 4 > limit_) {
    overflow_ = true;
    return;
  }
  for (int shift = 24; shift >= 0; shift -= 8) buf_.push_back(static_cast<uint8_t>(v >> shift));
}

void WireWriter::bytes(std::span<const uint8_t> data) {
  if (buf_.size() + data.size() > limit_) {
    overflow_ = true;
    return;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

void WireWriter::patch_u16(size_t offset, uint16_t v) {
  if (offset + 2 > buf_.size()) return;
  buf_[offset] = static_cast<uint8_t>(v >> 8);
  buf_[offset + 1] = static_cast<uint8_t>(v & 0xff);
}

void WireWriter::name(const Name& name, bool compress) {
  const auto wire = name.wire();
  size_t pos = 0;
  // Try each suffix from the longest; the first one already written becomes a pointer.
  while (pos < wire.size()) {
    const uint8_t len = wire[pos];
    if (len == 0) break;
    if (compress) {
      const auto suffix = wire.subspan(pos);
      for (const Target& t : targets_) {
        if (matches(buf_, t.offset, suffix)) {
          u16(static_cast<uint16_t>(0xc000 | t.offset));
          return;
        }
      }
      if (buf_.size() < 0x4000) targets_.push_back(Target{static_cast<uint16_t>(buf_.size())});
    }
    bytes(wire.subspan(pos, 1 + len));
    pos += 1 + len;
  }
  u8(0);
}

void WireWriter::rollback(Mark m) {
  if (m.size < buf_.size()) buf_.resize(m.size);
  if (m.targets < targets_.size()) targets_.resize(m.targets);
  overflow_ = false;
}

}  // namespace meridian::dns
