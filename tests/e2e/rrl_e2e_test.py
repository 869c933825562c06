#!/usr/bin/python3
"""End-to-end tests of response rate limiting (docs/rrl.md): a real meridiand on loopback with
"rrl" configured, flooded from several 127.x.y.z source addresses (each its own /24; loopback
routes all of 127/8). Checks slip 0, 1 and 2, the allow list, an unaffected /24 beside a flood,
classes, TCP never limited, a reload changing the limits, and the counters in the stop log line.
Every flood is bounded in packets and time.

Usage: rrl_e2e_test.py --meridiand PATH [unittest args, e.g. RrlSlipTest]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import unittest

import dns.flags
import dns.message
import dns.query
import dns.rcode

from daemon_process import READY_NEEDLE, DaemonProcess

MERIDIAND = None
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
READY_TIMEOUT_S = 20
RATE = 10       # responses per second per /24 and class in these tests
FLOOD = 200     # queries per flood
QUIET_S = 0.5   # a flood's replies are all in once nothing arrived for this long


class RrlDaemon(DaemonProcess):
    """meridiand on 127.0.0.1 (port chosen by the kernel) with the given "rrl" section."""

    def __init__(self, rrl):
        super().__init__("meridiand-rrl-e2e-")
        shutil.copy(os.path.join(DATA_DIR, "example.com.zone"),
                    os.path.join(self.dir, "example.com.zone"))
        self.config = {"listen": ["127.0.0.1:0"], "workers": 2, "log": {"level": "info"},
                       "zones": [{"origin": "example.com.", "format": "rfc1035",
                                  "file": "example.com.zone"}],
                       "rrl": rrl, "state": {"database": "state.db"},
                       "control": {"socket": "control.sock"}}
        self.config_path = os.path.join(self.dir, "meridian.json")
        self.write_config()
        self.where = None

    def write_config(self):
        self.write_file("meridian.json", json.dumps(self.config, indent=2))

    def start(self):
        line = self.spawn([MERIDIAND, "--config", self.config_path], READY_NEEDLE, READY_TIMEOUT_S)
        host, port = re.search(r"(\d+\.\d+\.\d+\.\d+):(\d+)", line).groups()
        self.where = (host, int(port))
        return self

    def reload(self, rrl):
        """Rewrites the "rrl" section, sends SIGHUP, waits for the new limits to be logged."""
        start = self.line_count()
        self.config["rrl"] = rrl
        self.write_config()
        self.signal(signal.SIGHUP)
        line = self.wait_for_line("reloaded:", 20, start)
        assert line is not None, "reload not logged:\n" + self.log()
        return self.wait_for_line("response rate limiting:", 1, start)


def wire_query(name="host.example.com.", rdtype="A", qid=0):
    q = dns.message.make_query(name, rdtype, use_edns=0)
    q.id = qid
    return q.to_wire()


def udp_socket(source):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((source, 0))
    return s


def send(s, data, where):
    """sendto that waits (bounded) when the kernel says the socket's send queue is full, which
    happens on a loaded machine; returns False if it stayed full for 1 s."""
    for _ in range(1000):
        try:
            s.sendto(data, where)
            return True
        except BlockingIOError:
            time.sleep(0.001)
    return False


def ask(where, source, name="host.example.com."):
    """One UDP query from `source`; the reply (dns.message.Message) or None after 2 s."""
    s = udp_socket(source)
    try:
        s.settimeout(2)
        q = dns.message.make_query(name, "A")
        if not send(s, q.to_wire(), where):
            return None
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                r = dns.message.from_wire(s.recv(65535))
            except socket.timeout:
                return None
            if r.id == q.id:
                return r
        return None
    finally:
        s.close()


def flood(where, source, count=FLOOD, name="host.example.com.", rdtype="A",
          rcode=dns.rcode.NOERROR):
    """Sends `count` queries from `source` as fast as possible, then reads replies until none
    came for QUIET_S. Returns (full replies, TC replies, other replies, span): span is the seconds
    from the first query sent to the last reply received, the window every decision fell in;
    full = the real reply (rcode as expected, not TC, records when NOERROR), TC = a slipped one
    (TC=1, the same rcode, no records), other = anything else. A reply is matched to its query
    by ID; each query gets at most one."""
    base = wire_query(name, rdtype)
    s = udp_socket(source)
    try:
        started = time.monotonic()
        for i in range(count):
            assert send(s, struct.pack("!H", i) + base[2:], where), "send queue stayed full"
        span = time.monotonic() - started
        full = tc = other = 0
        seen = set()
        s.settimeout(QUIET_S)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data = s.recv(65535)
            except socket.timeout:
                break
            span = time.monotonic() - started
            m = dns.message.from_wire(data)
            if m.id in seen or m.id >= count or m.rcode() != rcode:
                other += 1
                continue
            seen.add(m.id)
            if m.flags & dns.flags.TC:
                if m.answer or m.authority or m.additional:
                    other += 1
                else:
                    tc += 1
            elif m.answer or rcode != dns.rcode.NOERROR:
                full += 1
            else:
                other += 1
        return full, tc, other, span
    finally:
        s.close()


def allowance(span_s):
    """Full replies a /24 may get from decisions made within span_s: the burst (= RATE) plus the
    refill meanwhile, plus one for rounding."""
    return RATE + int(span_s * RATE) + 1


class RrlSlipTest(unittest.TestCase):
    """slip 0, 1 and 2 on floods from one /24 each; a reload switches between them."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = RrlDaemon({"responses_per_second": RATE, "slip": 0}).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_slip_settings_in_order(self):
        # One test so the reloads happen in a known order.
        d = self.daemon
        line = d.wait_for_line("response rate limiting:", 1)
        self.assertIn("10 responses/s per /24 and /56 prefix and class", line)

        # slip 0: nothing beyond the rate.
        full, tc, other, took = flood(d.where, "127.10.0.1")
        self.assertGreaterEqual(full, RATE)
        self.assertLessEqual(full, allowance(took))
        self.assertEqual(tc, 0)
        self.assertEqual(other, 0)

        # slip 1: every limited reply is TC=1, so every query gets a reply.
        line = d.reload({"responses_per_second": RATE, "slip": 1})
        self.assertIn("slip 1", line)
        full, tc, other, took = flood(d.where, "127.10.1.1")
        self.assertGreaterEqual(full, RATE)
        self.assertLessEqual(full, allowance(took))
        self.assertEqual(full + tc, FLOOD)
        self.assertEqual(other, 0)

        # slip 2: every second limited reply is TC=1, the others dropped.
        line = d.reload({"responses_per_second": RATE, "slip": 2})
        self.assertIn("slip 2", line)
        full, tc, other, took = flood(d.where, "127.10.2.1")
        limited = FLOOD - full
        self.assertGreaterEqual(full, RATE)
        self.assertLessEqual(full, allowance(took))
        self.assertLessEqual(abs(tc - limited // 2), 1, (full, tc))
        self.assertEqual(other, 0)

        # Off again (rate 0): nothing is limited.
        line = d.reload({"responses_per_second": 0})
        self.assertIn("off", line)
        full, tc, other, _ = flood(d.where, "127.10.3.1")
        self.assertEqual((full, tc, other), (FLOOD, 0, 0))


class RrlIsolationTest(unittest.TestCase):
    """Who is never limited: allow-listed sources, other /24s beside a flood, other classes, TCP."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = RrlDaemon({"responses_per_second": RATE, "slip": 0,
                                "allow": ["127.20.9.0/24"]}).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_allow_listed_source_never_limited(self):
        for _ in range(3):
            full, tc, other, _ = flood(self.daemon.where, "127.20.9.7")
            self.assertEqual((full, tc, other), (FLOOD, 0, 0))

    def test_quiet_source_unaffected_by_a_flood_from_another_prefix(self):
        stop = threading.Event()
        sent = [0]
        replies = [0]
        took = [0.0]

        def attacker():
            # Runs until the test is done, bounded by 15 s and 40,000 packets. About 2,500 queries
            # a second: 250 times the /24's rate, yet little enough that a sanitizer build on a
            # busy machine keeps up (a server that cannot read its sockets drops everyone's
            # queries, which is not what this test is about). Its replies are counted.
            s = udp_socket("127.20.1.1")
            s.setblocking(False)
            base = wire_query()
            started = time.monotonic()
            deadline = started + 15

            def drain():
                while True:
                    try:
                        s.recv(65535)
                        replies[0] += 1
                        took[0] = time.monotonic() - started  # the last reply so far
                    except BlockingIOError:
                        return

            try:
                while not stop.is_set() and time.monotonic() < deadline and sent[0] < 40000:
                    for i in range(50):
                        sent[0] += send(s, struct.pack("!H", i) + base[2:], self.daemon.where)
                    time.sleep(0.02)
                    drain()
                time.sleep(QUIET_S)
                drain()
            finally:
                s.close()

        t = threading.Thread(target=attacker)
        t.start()
        try:
            time.sleep(0.2)  # the attacker's /24 is limited by now
            answered = 0
            for i in range(6):  # 4 queries/s from 127.20.2.0/24: below its own rate of 10/s
                r = ask(self.daemon.where, "127.20.2.1")
                self.assertIsNotNone(r, "query %d of the quiet /24 got no reply" % i)
                self.assertFalse(r.flags & dns.flags.TC)
                self.assertTrue(r.answer)
                answered += 1
                time.sleep(0.25)
            self.assertEqual(answered, 6)
        finally:
            stop.set()
            t.join(5)
        # Meanwhile the attacker's /24 got no more than its rate (slip 0: the rest dropped).
        self.assertGreater(sent[0], 20 * RATE)  # it was a flood, even on a slow machine
        self.assertLessEqual(replies[0], allowance(took[0]), (sent[0], took[0]))

    def test_classes_have_their_own_buckets(self):
        # Exhaust the answer class, then NXDOMAIN from the same /24 is still answered.
        full, _, _, _ = flood(self.daemon.where, "127.20.3.1")
        self.assertLess(full, FLOOD)
        r = ask(self.daemon.where, "127.20.3.1", "absent.example.com.")
        self.assertIsNotNone(r)
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertFalse(r.flags & dns.flags.TC)

    def test_tcp_never_limited(self):
        # The /24 is limited over UDP; 50 TCP queries from the same address all get answers.
        full, _, _, _ = flood(self.daemon.where, "127.20.4.1")
        self.assertLess(full, FLOOD)
        for i in range(50):
            q = dns.message.make_query("host.example.com.", "A")
            r = dns.query.tcp(q, self.daemon.where[0], port=self.daemon.where[1], timeout=3,
                              source="127.20.4.1")
            self.assertFalse(r.flags & dns.flags.TC)
            self.assertTrue(r.answer, i)


class RrlCountersTest(unittest.TestCase):
    """The stop log line counts what the clients saw: dropped and slipped, by class."""

    def test_stop_line_counts(self):
        d = RrlDaemon({"responses_per_second": RATE, "slip": 2}).start()
        try:
            full, tc, _, _ = flood(d.where, "127.30.0.1")
            nx_full, nx_tc, nx_other, _ = flood(d.where, "127.30.0.1", count=50,
                                                name="absent.example.com.",
                                                rcode=dns.rcode.NXDOMAIN)
            self.assertEqual(d.terminate(), 0)
            line = d.wait_for_line("rate limited (answer/nxdomain/error)", 5)
            self.assertIsNotNone(line, d.log())
            m = re.search(r"(\d+)/(\d+)/(\d+) dropped, (\d+)/(\d+)/(\d+) slipped", line)
            dropped = [int(x) for x in m.groups()[:3]]
            slipped = [int(x) for x in m.groups()[3:]]
            self.assertEqual(nx_other, 0)
            self.assertGreaterEqual(nx_full, RATE)
            self.assertEqual(slipped, [tc, nx_tc, 0])
            self.assertEqual(dropped, [FLOOD - full - tc, 50 - nx_full - nx_tc, 0])
        finally:
            d.stop()


def main():
    global MERIDIAND
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--meridiand", required=True)
    args, rest = parser.parse_known_args()
    MERIDIAND = os.path.abspath(args.meridiand)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
