// Query building and test runs for the XDP program tests.
#include "bpf/xdp_test_support.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>

#include "dns/name.h"

namespace meridian::testing {

std::vector<uint8_t> option(uint16_t code, std::vector<uint8_t> data) {
  std::vector<uint8_t> o = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code),
                            static_cast<uint8_t>(data.size() >> 8),
                            static_cast<uint8_t>(data.size())};
  o.insert(o.end(), data.begin(), data.end());
  return o;
}

std::vector<uint8_t> ecs(uint16_t family, uint8_t source, std::vector<uint8_t> address) {
  std::vector<uint8_t> d = {static_cast<uint8_t>(family >> 8), static_cast<uint8_t>(family), source,
                            0};
  d.insert(d.end(), address.begin(), address.end());
  return option(8, d);
}

std::vector<uint8_t> make_query(const QuerySpec& q) {
  std::vector<uint8_t> m = {static_cast<uint8_t>(q.id >> 8),
                            static_cast<uint8_t>(q.id),
                            static_cast<uint8_t>(q.flags >> 8),
                            static_cast<uint8_t>(q.flags),
                            0,
                            1,
                            0,
                            0,
                            0,
                            0,
                            0,
                            static_cast<uint8_t>(q.edns ? 1 : 0)};
  auto name = dns::Name::from_text(q.name);
  EXPECT_TRUE(name.ok()) << q.name;
  auto wire = name->wire();
  m.insert(m.end(), wire.begin(), wire.end());
  m.push_back(static_cast<uint8_t>(q.qtype >> 8));
  m.push_back(static_cast<uint8_t>(q.qtype));
  m.push_back(static_cast<uint8_t>(q.qclass >> 8));
  m.push_back(static_cast<uint8_t>(q.qclass));
  if (q.edns) {
    m.insert(m.end(),
             {0, 0, 41, static_cast<uint8_t>(q.payload >> 8), static_cast<uint8_t>(q.payload), 0,
              q.edns_version, static_cast<uint8_t>(q.do_bit ? 0x80 : 0), 0,
              static_cast<uint8_t>(q.options.size() >> 8), static_cast<uint8_t>(q.options.size())});
    m.insert(m.end(), q.options.begin(), q.options.end());
  }
  return m;
}

bool have_bpf_privileges() {
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "mdn_probe", 4, 4, 1, nullptr);
  if (fd < 0) return false;
  close(fd);
  return true;
}

RunResult run_frame(int program_fd, const std::vector<uint8_t>& frame) {
  RunResult r;
  r.frame.resize(4096);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = frame.data();
  opts.data_out = r.frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_size_out = static_cast<uint32_t>(r.frame.size());
  opts.repeat = 1;
  int err = bpf_prog_test_run_opts(program_fd, &opts);
  EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed: " << err;
  r.action = opts.retval;
  r.frame.resize(opts.data_size_out);
  return r;
}

answer::QueryContext udp_context(const std::vector<uint8_t>& client) {
  answer::QueryContext ctx;
  ctx.transport = answer::Transport::kUdp;
  if (client.size() == 16) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ctx.client);
    sin6->sin6_family = AF_INET6;
    std::copy(client.begin(), client.end(), sin6->sin6_addr.s6_addr);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ctx.client);
    sin->sin_family = AF_INET;
    std::copy(client.begin(), client.end(), reinterpret_cast<uint8_t*>(&sin->sin_addr));
  }
  return ctx;
}

}  // namespace meridian::testing
