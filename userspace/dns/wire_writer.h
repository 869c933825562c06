// WireWriter: appends a DNS message into a caller-owned buffer with a hard size limit and name
// compression. Writes past the limit set a sticky overflow flag; callers roll back to a mark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace meridian::dns {

class Name;

class WireWriter {
 public:
  // Writes into `buf` (cleared), never growing it beyond `limit` bytes.
  WireWriter(std::vector<uint8_t>& buf, size_t limit);

  void u8(uint8_t v);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void bytes(std::span<const uint8_t> data);
  // Overwrites a 16-bit value at an earlier offset (e.g. RDLENGTH, counts).
  void patch_u16(size_t offset, uint16_t v);

  // Writes a name, compressing against names written earlier with compression enabled
  // (RFC 1035 4.1.4). `compress=false` writes it in full (and does not record it as a target).
  void name(const Name& name, bool compress = true);

  size_t size() const { return buf_.size(); }
  size_t limit() const { return limit_; }
  bool overflow() const { return overflow_; }

  // Rollback support: a mark captures the size and compression table length.
  struct Mark {
    size_t size;
    size_t targets;
  };
  Mark mark() const { return {buf_.size(), targets_.size()}; }
  void rollback(Mark m);  // truncates to the mark and clears overflow

 private:
  struct Target {
    uint16_t offset;  // where the suffix starts in buf_
  };
  std::vector<uint8_t>& buf_;
  size_t limit_;
  bool overflow_ = false;
  std::vector<Target> targets_;  // offsets of label sequences usable as pointer targets
};

}  // namespace meridian::dns
