#!/usr/bin/python3
"""Response rate limiting in the XDP program, end to end: meridiand in a namespace with XDP on its
veth and an "rrl" section; a client namespace floods one name from one address. The replies the
client receives, and the program's counters, show slip 0 (no reply beyond the burst), slip 1
(every limited reply truncated), slip 2 (every other one truncated, the rest dropped); an
allow-listed source is never limited; a second client /24 querying beside the flood is not
affected. Settings change by SIGHUP.

Usage: xdp_rrl_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
"""

import json
import signal
import socket
import time

import dns.flags
import dns.message

import netns

BURST = 10
FLOOD = 100
# A second client address in another /24, on the client's veth.
OTHER4 = "198.18.9.2"


def flood(topology, source, count, name="www.xdp.example."):
    """Sends `count` queries from `source` (one socket, as fast as it can), then collects replies
    for a short while. Returns (answers, truncated) counted by ID."""
    sock = netns.socket_in_netns(topology.client, socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.bind((source, 0))
        sock.settimeout(0.3)
        for i in range(count):
            q = dns.message.make_query(name, "A", use_edns=False)
            q.id = i
            q.flags &= ~dns.flags.RD
            sock.sendto(q.to_wire(), (netns.SERVER4, 53))
        answers, truncated, seen = 0, 0, set()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(seen) < count:
            try:
                data = sock.recv(2048)
            except socket.timeout:
                break
            reply = dns.message.from_wire(data)
            if reply.id in seen:
                continue
            seen.add(reply.id)
            if reply.flags & dns.flags.TC:
                truncated += 1
            else:
                answers += 1
    return answers, truncated


class XdpRrlTest(netns.NetnsTestCase):
    """One daemon; each test writes its "rrl" settings and reloads."""

    @classmethod
    def setUpClass(cls):
        cls.make()
        cls.require_log_line("XDP program attached to veth-srv (native mode)")
        netns.run(["ip", "-n", cls.topology.client, "addr", "add", OTHER4 + "/24", "dev",
                   "veth-cli"])
        netns.run(["ip", "-n", cls.topology.server, "route", "add", "198.18.9.0/24", "dev",
                   "veth-srv"])

    def configure(self, **rrl):
        """Writes the settings (rate 1/s so nothing refills during a test) and waits for the
        reload to apply them."""
        settings = {"responses_per_second": 1, "burst": BURST}
        settings.update(rrl)
        config = dict(self.daemon.config)
        config["rrl"] = settings
        self.daemon.write_file("meridian.json", json.dumps(config, indent=2))
        mark = self.daemon.line_count()
        self.daemon.signal(signal.SIGHUP)
        self.assertIsNotNone(self.daemon.wait_for_line("response rate limiting:", 20, mark),
                             self.daemon.log())
        self.assertIsNotNone(self.daemon.wait_for_line("reloaded", 20, mark), self.daemon.log())

    def flood_counted(self, source, count):
        before = self.daemon.stats()
        answers, truncated = flood(self.topology, source, count)
        return answers, truncated, netns.delta(before, self.daemon.stats())

    def test_slip_modes_allow_list_and_bystander(self):
        # slip 0: the burst is answered, nothing after it.
        self.configure(slip=0)
        answers, truncated, d = self.flood_counted(netns.CLIENT4, FLOOD)
        self.assertEqual((answers, truncated), (BURST, 0), d)
        self.assertEqual(d["rrl_dropped"], FLOOD - BURST, d)
        self.assertEqual(d["answered"], BURST, d)
        self.assertEqual(d["pass_name_miss"], 0, d)

        # A client in another /24 beside the flooded one: its own bucket, its own burst.
        answers, truncated, d = self.flood_counted(OTHER4, BURST)
        self.assertEqual((answers, truncated), (BURST, 0), d)

        # slip 1: every limited reply truncated. Per /32 now: new buckets, a new burst.
        self.configure(slip=1, ipv4_prefix_length=32)
        answers, truncated, d = self.flood_counted(OTHER4, FLOOD)
        self.assertEqual((answers, truncated), (BURST, FLOOD - BURST), d)
        self.assertEqual(d["rrl_slipped"], FLOOD - BURST, d)

        # slip 2: every other limited reply truncated, the rest dropped.
        self.configure(slip=2, ipv4_prefix_length=32)
        answers, truncated, d = self.flood_counted(netns.CLIENT4, FLOOD)
        limited = FLOOD - BURST
        self.assertEqual((answers, truncated), (BURST, limited // 2), d)
        self.assertEqual(d["rrl_slipped"], limited // 2, d)
        self.assertEqual(d["rrl_dropped"], limited - limited // 2, d)

        # Allow-listed: never limited, even with its bucket empty.
        self.configure(slip=0, allow=[netns.CLIENT4 + "/32"])
        answers, truncated, d = self.flood_counted(netns.CLIENT4, FLOOD)
        self.assertEqual((answers, truncated), (FLOOD, 0), d)
        self.assertEqual(d["rrl_dropped"] + d["rrl_slipped"], 0, d)
        self.assertEqual(d["answered"], FLOOD, d)

        # Off again: everything answered.
        self.configure(responses_per_second=0)
        answers, truncated, d = self.flood_counted(OTHER4, FLOOD)
        self.assertEqual((answers, truncated), (FLOOD, 0), d)


if __name__ == "__main__":
    netns.main(__doc__)
