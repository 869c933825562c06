// The slipped reply of response rate limiting: what a limited client gets instead of the real
// reply, so that a real resolver retries over TCP (which is never limited) while a spoofed victim
// receives no amplification.
#pragma once

#include <cstdint>
#include <vector>

namespace meridian::rrl {

// Rewrites a complete reply in place into header + question + OPT (when the reply had one),
// TC=1, ID, opcode, flags and rcode unchanged, ANCOUNT = NSCOUNT = 0 (docs/rrl.md). Returns false
// (reply unchanged) when the reply does not parse; the caller then drops it.
bool make_slip_reply(std::vector<uint8_t>& reply);

}  // namespace meridian::rrl
