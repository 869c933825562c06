// FrameBuilder: Ethernet/VLAN/IPv4/IPv6/UDP framing for BPF test runs, with full checksums.
#include "bpf/frame_builder.h"

#include <cstddef>

namespace meridian::testing {

namespace {

constexpr uint8_t kClientMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr uint8_t kServerMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr uint8_t kClientV4[4] = {198, 18, 0, 2};
constexpr uint8_t kServerV4[4] = {198, 18, 0, 1};
constexpr uint8_t kClientV6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr uint8_t kServerV6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

const uint8_t* client_of(const FrameSpec& spec) {
  if (spec.client_address.size() == (spec.ipv6 ? 16u : 4u)) return spec.client_address.data();
  return spec.ipv6 ? kClientV6 : kClientV4;
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v & 0xff));
}
void set16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v & 0xff);
}

// RFC 1071 sum over big-endian 16-bit words.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}
uint16_t finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

size_t l2_length(const FrameSpec& spec) {
  return 14 + 4 * static_cast<size_t>(spec.vlan_tags);
}

// Appends L2 headers with the given MACs (dst first).
void put_l2(std::vector<uint8_t>& f, const FrameSpec& spec, const uint8_t* dst,
            const uint8_t* src) {
  f.insert(f.end(), dst, dst + 6);
  f.insert(f.end(), src, src + 6);
  if (spec.vlan_tags == 2) {
    put16(f, 0x88a8);
    put16(f, 100);  // outer VLAN id
  }
  if (spec.vlan_tags >= 1) {
    put16(f, 0x8100);
    put16(f, 200);
  }
  put16(f, spec.ipv6 ? 0x86dd : 0x0800);
}

// Appends IP + UDP + payload; `options` only for IPv4; `ttl` 64 for replies.
void put_l3(std::vector<uint8_t>& f, const FrameSpec& spec, const uint8_t* src, const uint8_t* dst,
            uint16_t sport, uint16_t dport, const std::vector<uint8_t>& payload,
            const std::vector<uint8_t>& options, uint8_t ttl, uint16_t frag, uint8_t protocol) {
  const uint16_t udp_len = static_cast<uint16_t>(8 + payload.size());
  const size_t l3 = f.size();
  if (spec.ipv6) {
    put16(f, 0x6000);
    put16(f, 0);
    put16(f, udp_len);
    f.push_back(protocol);
    f.push_back(ttl);
    f.insert(f.end(), src, src + 16);
    f.insert(f.end(), dst, dst + 16);
  } else {
    const size_t ihl = 5 + options.size() / 4;
    f.push_back(static_cast<uint8_t>(0x40 | ihl));
    f.push_back(0);
    put16(f, static_cast<uint16_t>(ihl * 4 + udp_len));
    put16(f, 0x1234);  // id
    put16(f, frag);
    f.push_back(ttl);
    f.push_back(protocol);
    put16(f, 0);
    f.insert(f.end(), src, src + 4);
    f.insert(f.end(), dst, dst + 4);
    f.insert(f.end(), options.begin(), options.end());
    set16(f, l3 + 10, finish(sum16(f.data() + l3, ihl * 4)));
  }
  const size_t l4 = f.size();
  put16(f, sport);
  put16(f, dport);
  put16(f, udp_len);
  put16(f, 0);
  f.insert(f.end(), payload.begin(), payload.end());
  // pseudo header + UDP
  uint32_t sum = 0;
  const size_t alen = spec.ipv6 ? 16 : 4;
  sum = sum16(src, alen, sum);
  sum = sum16(dst, alen, sum);
  sum += 17 + udp_len;
  sum = sum16(f.data() + l4, udp_len, sum);
  uint16_t check = finish(sum);
  set16(f, l4 + 6, check == 0 ? 0xffff : check);
}

}  // namespace

size_t dns_offset(const FrameSpec& spec) {
  return l2_length(spec) + (spec.ipv6 ? 40 : 20 + spec.ip_options.size()) + 8;
}

std::vector<uint8_t> build_frame(const FrameSpec& spec) {
  std::vector<uint8_t> f;
  put_l2(f, spec, kServerMac, kClientMac);
  put_l3(f, spec, client_of(spec), spec.ipv6 ? kServerV6 : kServerV4, spec.source_port,
         spec.dest_port, spec.dns, spec.ip_options, 64, spec.ipv4_frag_off, spec.ip_protocol);
  if (f.size() < spec.ethernet_padding_to) f.resize(spec.ethernet_padding_to, 0);
  return f;
}

std::vector<uint8_t> expected_reply_frame(const FrameSpec& spec,
                                          const std::vector<uint8_t>& dns_reply) {
  std::vector<uint8_t> f;
  put_l2(f, spec, kClientMac, kServerMac);
  put_l3(f, spec, spec.ipv6 ? kServerV6 : kServerV4, client_of(spec), spec.dest_port,
         spec.source_port, dns_reply, {}, 64, 0, 17);
  return f;
}

bool checksums_valid(const std::vector<uint8_t>& frame, const FrameSpec& spec) {
  const size_t l3 = l2_length(spec);
  if (frame.size() < l3 + (spec.ipv6 ? 48 : 28)) return false;
  const size_t l4 = l3 + (spec.ipv6 ? 40 : 20);
  if (!spec.ipv6 && finish(sum16(frame.data() + l3, 20)) != 0) return false;
  const size_t udp_len = static_cast<size_t>((frame[l4 + 4] << 8) | frame[l4 + 5]);
  if (l4 + udp_len > frame.size()) return false;
  const size_t alen = spec.ipv6 ? 16 : 4;
  const size_t src = spec.ipv6 ? l3 + 8 : l3 + 12;
  uint32_t sum = sum16(frame.data() + src, 2 * alen);
  sum += 17 + static_cast<uint32_t>(udp_len);
  sum = sum16(frame.data() + l4, udp_len, sum);
  return finish(sum) == 0;
}

}  // namespace meridian::testing
