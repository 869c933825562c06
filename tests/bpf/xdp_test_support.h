// Shared by the XDP program tests: DNS query bytes, EDNS options, the BPF privilege probe and one
// BPF_PROG_TEST_RUN of a frame.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "answer/responder.h"

namespace meridian::testing {

struct QuerySpec {
  std::string name = "www.t.";
  uint16_t qtype = 1;
  uint16_t qclass = 1;
  uint16_t id = 0x4242;
  uint16_t flags = 0x0100;  // RD
  bool edns = false;
  uint16_t payload = 1232;
  bool do_bit = false;
  uint8_t edns_version = 0;
  std::vector<uint8_t> options;  // raw EDNS options
};

std::vector<uint8_t> make_query(const QuerySpec& q);

// One EDNS option: code, length, data.
std::vector<uint8_t> option(uint16_t code, std::vector<uint8_t> data);
// An ECS option (family 1 or 2, source prefix length, address bytes as sent).
std::vector<uint8_t> ecs(uint16_t family, uint8_t source, std::vector<uint8_t> address);

// The program can be loaded only with CAP_BPF (or CAP_SYS_ADMIN): probe by creating a map.
bool have_bpf_privileges();

struct RunResult {
  uint32_t action = 0;
  std::vector<uint8_t> frame;
};
// Runs `frame` once through the program; the output frame is what the program left.
RunResult run_frame(int program_fd, const std::vector<uint8_t>& frame);

// The userspace server's context for a UDP query from `client` (4 or 16 address bytes): what
// the XDP replies are compared with.
answer::QueryContext udp_context(const std::vector<uint8_t>& client);

}  // namespace meridian::testing
