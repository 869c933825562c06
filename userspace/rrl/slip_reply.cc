// Builds the slipped reply from the real one by walking its sections (our own Responder wrote
// it, but every step is still bounds-checked).
#include "rrl/slip_reply.h"

#include <cstddef>
#include <cstring>

#include "dns/types.h"

namespace meridian::rrl {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeOpt = 41;

uint16_t u16_at(const std::vector<uint8_t>& m, size_t at) {
  return static_cast<uint16_t>((m[at] << 8) | m[at + 1]);
}

void put_u16(std::vector<uint8_t>& m, size_t at, uint16_t v) {
  m[at] = static_cast<uint8_t>(v >> 8);
  m[at + 1] = static_cast<uint8_t>(v);
}

// Moves `pos` past one (possibly compressed) name. False when it runs past the message.
bool skip_name(const std::vector<uint8_t>& m, size_t& pos) {
  while (pos < m.size()) {
    const uint8_t len = m[pos];
    if ((len & 0xc0) == 0xc0) {
      pos += 2;
      return pos <= m.size();
    }
    if (len & 0xc0) return false;  // reserved label types
    pos += 1 + len;
    if (len == 0) return pos <= m.size();
  }
  return false;
}

}  // namespace

bool make_slip_reply(std::vector<uint8_t>& reply) {
  if (reply.size() < kHeader) return false;
  const uint16_t qdcount = u16_at(reply, 4);
  const uint32_t before_additional = uint32_t{u16_at(reply, 6)} + u16_at(reply, 8);
  const uint32_t records = before_additional + u16_at(reply, 10);
  size_t pos = kHeader;
  for (uint16_t q = 0; q < qdcount; ++q) {
    if (!skip_name(reply, pos) || pos + 4 > reply.size()) return false;
    pos += 4;
  }
  const size_t question_end = pos;
  size_t opt_begin = 0, opt_end = 0;
  for (uint32_t r = 0; r < records; ++r) {
    const size_t start = pos;
    if (!skip_name(reply, pos) || pos + 10 > reply.size()) return false;
    const uint16_t type = u16_at(reply, pos);
    const size_t end = pos + 10 + u16_at(reply, pos + 8);
    if (end > reply.size()) return false;
    if (type == kTypeOpt && r >= before_additional) {
      opt_begin = start;
      opt_end = end;
    }
    pos = end;
  }
  const size_t opt_size = opt_end - opt_begin;
  if (opt_size > 0) std::memmove(reply.data() + question_end, reply.data() + opt_begin, opt_size);
  reply.resize(question_end + opt_size);
  put_u16(reply, 2, static_cast<uint16_t>(u16_at(reply, 2) | dns::flag::TC));
  put_u16(reply, 6, 0);
  put_u16(reply, 8, 0);
  put_u16(reply, 10, opt_size > 0 ? 1 : 0);
  return true;
}

}  // namespace meridian::rrl
