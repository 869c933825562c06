#!/usr/bin/python3
"""End-to-end tests of what the XDP program answers and what it passes up: answers on IPv4 and IPv6
with TX offload on and off and byte for byte equal to userspace, the RFC 8906 cases, the queries
it hands to userspace by reason, and generic (SKB) mode.

Topology, daemon and helpers: netns.py.
Usage: xdp_serving_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                         [unittest args, e.g. a test class]
"""

import socket
import struct

import dns.flags
import dns.message

import netns
import rfc8906_cases
from tcp_framing import recv_exact


class XdpServingTest(netns.NetnsTestCase):
    """dig and kdig answers served by native XDP over IPv4 and IPv6 with the client's TX checksum
    offload on and off; each must be counted as exactly one XDP answer of its type, carry the
    zone's data and equal what userspace answers over TCP."""

    @classmethod
    def setUpClass(cls):
        cls.make()
        cls.require_log_line("XDP program attached to veth-srv (native mode)")

    def check_served_by_xdp(self, server, tx_offload):
        self.topology.client_tx_offload(tx_offload)
        for tool in ("dig", "kdig"):
            for name, rtype, hit, expected in netns.POSITIVE:
                with self.subTest(tool=tool, server=server, name=name, type=rtype,
                                  tx=tx_offload):
                    udp, d = self.dig_counted(tool, server, name, rtype)
                    self.assertEqual(udp["status"], "NOERROR", udp["text"])
                    self.assertIn("aa", udp["flags"])
                    self.assertEqual(netns.records(udp), expected, udp["text"])
                    # Exactly one XDP answer, of this type, and nothing passed up as a DNS query.
                    self.assertEqual(d["answered"], 1, d)
                    self.assertEqual(netns.nonzero(d, "hit_"), {hit: 1}, d)
                    self.assertEqual(d["pass_name_miss"] + d["pass_too_big"] +
                                     d["pass_unknown_option"] + d["pass_malformed"], 0, d)
                    # Userspace (TCP) gives the same message, records in any order.
                    tcp, d = self.dig_counted(tool, server, name, rtype, "+tcp")
                    self.assertEqual(d["answered"], 0, d)
                    self.assertGreaterEqual(d["pass_tcp"], 3, d)  # SYN, ACK, query at least
                    for key in ("status", "flags", "answer", "authority", "additional"):
                        self.assertEqual(udp[key], tcp[key],
                                         f"{key}: XDP\n{udp['text']}\nuserspace\n{tcp['text']}")

    def test_ipv4_tx_offload_on(self):
        self.check_served_by_xdp(netns.SERVER4, True)

    def test_ipv4_tx_offload_off(self):
        self.check_served_by_xdp(netns.SERVER4, False)

    def test_ipv6_tx_offload_on(self):
        self.check_served_by_xdp(netns.SERVER6, True)

    def test_ipv6_tx_offload_off(self):
        self.check_served_by_xdp(netns.SERVER6, False)

    def test_reply_bytes_equal_userspace(self):
        """Raw sockets in the client namespace: the XDP reply over UDP is byte for byte the
        userspace reply over TCP for the same query (same ID, same EDNS); with an RRset of several
        values, which both paths shuffle, the same message with its records in any order."""
        for server, family in ((netns.SERVER4, socket.AF_INET), (netns.SERVER6, socket.AF_INET6)):
            udp = netns.socket_in_netns(self.topology.client, family, socket.SOCK_DGRAM)
            tcp = netns.socket_in_netns(self.topology.client, family, socket.SOCK_STREAM)
            with udp, tcp:
                udp.settimeout(3)
                tcp.settimeout(3)
                tcp.connect((server, 53))
                for i, (name, rtype, hit, expected) in enumerate(netns.POSITIVE):
                    for use_edns in (-1, 0):
                        with self.subTest(server=server, name=name, type=rtype, edns=use_edns):
                            q = dns.message.make_query(name, rtype, use_edns=use_edns,
                                                       payload=1232)
                            q.flags &= ~dns.flags.RD
                            q.id = 4242 + i
                            wire = q.to_wire()
                            before = self.daemon.stats()
                            udp.sendto(wire, (server, 53))
                            from_xdp = udp.recv(65535)
                            d = netns.delta(before, self.daemon.stats())
                            self.assertEqual(d["answered"], 1, d)
                            tcp.sendall(struct.pack("!H", len(wire)) + wire)
                            (length,) = struct.unpack("!H", recv_exact(tcp, 2))
                            from_userspace = recv_exact(tcp, length)
                            reply = dns.message.from_wire(from_xdp)
                            if any(len(rrset) > 1 for rrset in reply.answer):
                                # Rule 1: both paths shuffle the values; the same message,
                                # records in any order, and the same length.
                                self.assertEqual(len(from_xdp), len(from_userspace))
                                self.assertEqual(reply, dns.message.from_wire(from_userspace))
                            else:
                                self.assertEqual(from_xdp.hex(), from_userspace.hex())
                            self.assertEqual(reply.id, q.id)
                            self.assertTrue(reply.flags & dns.flags.AA)


class XdpRfc8906Test(netns.NetnsTestCase):
    """RFC 8906 section 8 and genreport's checks through the XDP topology: every case must hold
    whichever path answers it, and the fast path must answer the plain, EDNS, DO and unknown-flag
    SOA queries itself."""

    @classmethod
    def setUpClass(cls):
        cls.make()
        cls.require_log_line("XDP program attached to veth-srv (native mode)")

    def run_cases(self, server):
        before = self.daemon.stats()
        failures, outputs = rfc8906_cases.check_all(
            ["ip", "netns", "exec", self.topology.client, "dig", f"@{server}"], netns.ORIGIN)
        d = netns.delta(before, self.daemon.stats())
        self.assertEqual(failures, {}, "\n".join(outputs[name] for name in failures))
        # 8.1.1, 8.2.1, 8.2.4, 8.2.8, zflag, edns@512 and ednsflags=0x80 are UDP SOA queries the
        # fast path serves; the rest (TCP, BADVERS, NODATA, NSID/unknown options) go up.
        self.assertEqual(d["hit_soa"], 7, d)

    def test_ipv4(self):
        self.run_cases(netns.SERVER4)

    def test_ipv6(self):
        self.run_cases(netns.SERVER6)


class XdpPassUpTest(netns.NetnsTestCase):
    """What the program passes up (a name a wildcard answers, other zones, TCP, NSID, EDNS
    version) is answered by userspace in the same topology, and the pass counter says why.
    NXDOMAIN and NODATA under the zone are answered by the program itself, with the SOA."""

    @classmethod
    def setUpClass(cls):
        cls.make()

    def assert_passed(self, d, reason, count=1):
        self.assertEqual(d["answered"], 0, d)
        self.assertEqual(netns.nonzero(d, "hit_"), {}, d)
        if count is None:
            self.assertGreaterEqual(d[reason], 1, d)
        else:
            self.assertEqual(d[reason], count, d)

    def test_passed_up_and_answered(self):
        for server in (netns.SERVER4, netns.SERVER6):
            for tool in ("dig", "kdig"):
                with self.subTest(server=server, tool=tool, case="nxdomain"):
                    r, d = self.dig_counted(tool, server, "nope.xdp.example.", "A")
                    self.assertEqual(d["answered"], 1, d)
                    self.assertEqual(netns.nonzero(d, "hit_"), {"hit_nxdomain": 1}, d)
                    self.assertEqual(r["status"], "NXDOMAIN")
                    self.assertIn("aa", r["flags"])
                    self.assertEqual(netns.records(r, "authority"), {netns.SOA_RECORD})
                with self.subTest(server=server, tool=tool, case="wildcard"):
                    r, d = self.dig_counted(tool, server, "x.wild.xdp.example.", "A")
                    self.assert_passed(d, "pass_name_miss")
                    self.assertEqual(r["status"], "NOERROR")
                    self.assertEqual(netns.records(r),
                                     {("x.wild.xdp.example.", "A", "198.18.10.99")})
                with self.subTest(server=server, tool=tool, case="nodata"):
                    r, d = self.dig_counted(tool, server, "www.xdp.example.", "TXT")
                    self.assertEqual(d["answered"], 1, d)
                    self.assertEqual(netns.nonzero(d, "hit_"), {"hit_nodata": 1}, d)
                    self.assertEqual(r["status"], "NOERROR")
                    self.assertEqual(netns.records(r), set())
                    self.assertEqual(netns.records(r, "authority"), {netns.SOA_RECORD})
                with self.subTest(server=server, tool=tool, case="refused"):
                    r, d = self.dig_counted(tool, server, "www.example.org.", "A")
                    self.assert_passed(d, "pass_name_miss")
                    self.assertEqual(r["status"], "REFUSED")
                with self.subTest(server=server, tool=tool, case="tcp"):
                    r, d = self.dig_counted(tool, server, "www.xdp.example.", "A", "+tcp")
                    self.assert_passed(d, "pass_tcp", count=None)
                    self.assertEqual(netns.records(r), netns.POSITIVE[0][3])
                with self.subTest(server=server, tool=tool, case="nsid"):
                    r, d = self.dig_counted(tool, server, "www.xdp.example.", "A", "+nsid")
                    self.assert_passed(d, "pass_unknown_option")
                    self.assertEqual(netns.records(r), netns.POSITIVE[0][3])
                    self.assertIn(f'"{netns.NSID}"', r["text"])  # only userspace adds NSID
            with self.subTest(server=server, case="edns version 1"):
                r, d = self.dig_counted("dig", server, "www.xdp.example.", "A", "+edns=1",
                                        "+noednsnegotiation")
                self.assert_passed(d, "pass_edns_version")
                self.assertEqual(r["status"], "BADVERS")


class XdpGenericModeTest(netns.NetnsTestCase):
    """"mode": "generic" works without a program on the peer (generic XDP_TX goes through the
    stack's transmit path)."""

    @classmethod
    def setUpClass(cls):
        cls.make(peer_xdp=False, mode="generic")
        cls.require_log_line("XDP program attached to veth-srv (generic mode)")

    def test_answered_in_generic_mode(self):
        for server in (netns.SERVER4, netns.SERVER6):
            for tool in ("dig", "kdig"):
                for name, rtype, hit, expected in netns.POSITIVE[:4]:
                    with self.subTest(server=server, tool=tool, name=name, type=rtype):
                        r, d = self.dig_counted(tool, server, name, rtype)
                        self.assertEqual(netns.records(r), expected, r["text"])
                        self.assertEqual(d["answered"], 1, d)
                        self.assertEqual(netns.nonzero(d, "hit_"), {hit: 1}, d)


if __name__ == "__main__":
    netns.main(__doc__)
