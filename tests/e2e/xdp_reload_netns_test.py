#!/usr/bin/python3
"""End-to-end test of reloads under query load: while SIGHUP swaps between two versions of a zone,
every answer XDP or userspace sends is wholly one version, never a mix.

Topology, daemon and helpers: netns.py.
Usage: xdp_reload_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                         [unittest args, e.g. a test class]
"""

import signal
import socket
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.rcode

import netns
from tcp_framing import recv_exact


class ReloadQueryLoop:
    """Queries the RELOAD_QUERIES round robin from a socket in the client namespace until told to
    stop or a bound is reached; tallies every reply by the version it matches (or a mix)."""

    def __init__(self, namespace, server, tcp, expected, max_queries, max_seconds):
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.sock = netns.socket_in_netns(namespace, family,
                                          socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.settimeout(netns.REPLY_TIMEOUT_S)
        if tcp:
            self.sock.connect((server, 53))
        self.server, self.tcp, self.expected = server, tcp, expected
        self.max_queries, self.max_seconds = max_queries, max_seconds
        self.sent = self.lost = 0
        self.by_version = {1: 0, 2: 0}
        self.bad = []  # (query, records) of replies that match neither version wholly
        self.stop_event = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _exchange(self, wire):
        if self.tcp:
            self.sock.sendall(struct.pack("!H", len(wire)) + wire)
            (length,) = struct.unpack("!H", recv_exact(self.sock, 2))
            return recv_exact(self.sock, length)
        self.sock.sendto(wire, (self.server, 53))
        deadline = time.monotonic() + netns.REPLY_TIMEOUT_S
        while time.monotonic() < deadline:  # skips a late reply to an earlier (lost) query
            data = self.sock.recv(65535)
            if data[:2] == wire[:2]:
                return data
        raise socket.timeout()

    def _run(self):
        try:
            deadline = time.monotonic() + self.max_seconds
            while (not self.stop_event.is_set() and self.sent < self.max_queries and
                   time.monotonic() < deadline):
                name, rtype = netns.RELOAD_QUERIES[self.sent % len(netns.RELOAD_QUERIES)]
                q = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
                q.flags &= ~dns.flags.RD
                q.id = self.sent & 0xFFFF
                self.sent += 1
                try:
                    reply = dns.message.from_wire(self._exchange(q.to_wire()))
                except socket.timeout:
                    self.lost += 1
                    continue
                got = netns.message_records(reply)
                for v in (1, 2):
                    if got == self.expected[v][(name, rtype)]:
                        self.by_version[v] += 1
                        break
                else:
                    if len(self.bad) < 20:
                        self.bad.append(((name, rtype, dns.rcode.to_text(reply.rcode())),
                                         sorted(got)))
                    else:
                        self.bad.append(None)
        except BaseException as e:
            self.error = e
        finally:
            self.sock.close()


class XdpReloadConsistencyTest(netns.NetnsTestCase):
    """SIGHUP reloads flipping the zone between two versions while clients query without pause:
    every reply is wholly one version, none is lost, and the UDP ones come from XDP."""

    MAX_RELOADS = 30
    MAX_SECONDS = 20

    @classmethod
    def setUpClass(cls):
        cls.make(zone_text=netns.versioned_zone(1))

    def expected_versions(self):
        """The reply records for each query in each version, as userspace computes them (TCP,
        no reload running)."""
        expected = {1: {}, 2: {}}
        for v in (2, 1):  # ends on version 1, the running one
            start = self.daemon.line_count()
            self.daemon.write_file("xdp.example.zone", netns.versioned_zone(v))
            self.daemon.proc.send_signal(signal.SIGHUP)
            self.assertIsNotNone(self.daemon.wait_for_line("reloaded", 20, start),
                                 self.daemon.log())
            sock = netns.socket_in_netns(self.topology.client, socket.AF_INET, socket.SOCK_STREAM)
            with sock:
                sock.settimeout(3)
                sock.connect((netns.SERVER4, 53))
                for name, rtype in netns.RELOAD_QUERIES:
                    q = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
                    wire = q.to_wire()
                    sock.sendall(struct.pack("!H", len(wire)) + wire)
                    (length,) = struct.unpack("!H", recv_exact(sock, 2))
                    got = netns.message_records(dns.message.from_wire(recv_exact(sock, length)))
                    self.assertTrue(any(f" 198.18.{v}." in r or f"::{v}:" in r or f'"v{v}"' in r
                                        for r in got), (v, name, rtype, got))
                    expected[v][(name, rtype)] = got
        for key in expected[1]:
            self.assertTrue(expected[1][key].isdisjoint(expected[2][key]), key)
        return expected

    def test_reloads_under_query_load(self):
        expected = self.expected_versions()
        loops = [ReloadQueryLoop(self.topology.client, netns.SERVER4, False, expected, 200000, 40),
                 ReloadQueryLoop(self.topology.client, netns.SERVER6, False, expected, 200000, 40),
                 ReloadQueryLoop(self.topology.client, netns.SERVER4, True, expected, 50000, 40)]
        before = self.daemon.stats()
        for loop in loops:
            loop.thread.start()
        reloads = 0
        version = 1
        deadline = time.monotonic() + self.MAX_SECONDS
        try:
            while reloads < self.MAX_RELOADS and time.monotonic() < deadline:
                version = 3 - version
                start = self.daemon.line_count()
                self.daemon.write_file("xdp.example.zone", netns.versioned_zone(version))
                self.daemon.proc.send_signal(signal.SIGHUP)
                line = self.daemon.wait_for_line("reloaded", 20, start)
                self.assertIsNotNone(line, self.daemon.log())
                self.assertIsNone(self.daemon.wait_for_line("reload failed", 0, start))
                reloads += 1
                time.sleep(0.05)  # let both versions be queried between flips
        finally:
            for loop in loops:
                loop.stop_event.set()
            for loop in loops:
                loop.thread.join(10)
        after = self.daemon.stats()
        d = netns.delta(before, after)
        udp_sent = sum(loop.sent for loop in loops if not loop.tcp)
        summary = (f"reloads={reloads} " + "; ".join(
            f"{'tcp' if l.tcp else 'udp'} {l.server}: sent={l.sent} lost={l.lost} "
            f"v1={l.by_version[1]} v2={l.by_version[2]} mixed={len(l.bad)}" for l in loops) +
            f"; xdp answered={d['answered']} pass_name_miss={d['pass_name_miss']}")
        print(summary, file=sys.stderr)
        self.assertGreaterEqual(reloads, 10, summary)
        for loop in loops:
            self.assertIsNone(loop.error, summary)
            self.assertEqual(loop.bad, [], summary)
            self.assertEqual(loop.lost, 0, summary)
            self.assertGreater(loop.by_version[1], 0, summary)
            self.assertGreater(loop.by_version[2], 0, summary)
        # Every UDP query is in the maps of both versions: XDP answers all of them.
        self.assertGreater(udp_sent, 500, summary)
        self.assertEqual(d["answered"], udp_sent, summary)
        self.assertEqual(d["pass_name_miss"], 0, summary)
        self.assertEqual(d["pass_no_data"], 0, summary)


if __name__ == "__main__":
    netns.main(__doc__)
