// FrameBuilder: crafts Ethernet frames carrying DNS over UDP (IPv4 with or without options, IPv6,
// zero to two VLAN tags) for BPF program test runs, and the exact reply frame the XDP program
// must produce for a given DNS reply payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace meridian::testing {

struct FrameSpec {
  bool ipv6 = false;
  int vlan_tags = 0;                // 0, 1 (802.1Q) or 2 (802.1ad outer + 802.1Q inner)
  std::vector<uint8_t> ip_options;  // IPv4 only; length a multiple of 4, at most 40
  uint8_t ip_protocol = 17;         // UDP; 6 for TCP frames
  uint16_t ipv4_frag_off = 0;       // host order flags+offset (0x2000 = MF)
  uint16_t source_port = 40000;
  uint16_t dest_port = 53;
  std::vector<uint8_t> dns;             // UDP payload
  std::vector<uint8_t> client_address;  // source address (4 or 16 bytes); empty: a fixed one
  size_t ethernet_padding_to = 60;  // pad short frames like a NIC does (bytes after the IP packet)
};

std::vector<uint8_t> build_frame(const FrameSpec& spec);

// The frame the XDP program must send back for `query` (built by build_frame from `spec`) when
// the DNS reply is `dns_reply`: MACs, addresses and ports swapped, IPv4 options removed, TTL/hop
// limit 64, lengths and both checksums computed from scratch.
std::vector<uint8_t> expected_reply_frame(const FrameSpec& spec,
                                          const std::vector<uint8_t>& dns_reply);

// Offset of the UDP payload in a frame built from `spec`.
size_t dns_offset(const FrameSpec& spec);

// Verifies the IPv4 header checksum (if IPv4) and the UDP checksum of a frame built like `spec`
// but with no IPv4 options; true when both are right.
bool checksums_valid(const std::vector<uint8_t>& frame, const FrameSpec& spec);

}  // namespace meridian::testing
