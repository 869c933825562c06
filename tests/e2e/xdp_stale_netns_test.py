#!/usr/bin/python3
"""End-to-end test of a dead daemon's fast path: with meridiand gone, XDP passes every query up once
the heartbeat is older than stale_after, and a restarted daemon takes over.

Topology, daemon and helpers: netns.py.
Usage: xdp_stale_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                         [unittest args, e.g. a test class]
"""

import json
import os
import re
import signal
import socket
import sys
import time

import dns.flags
import dns.message

import control_http
import netns


class StaleProbe:
    """www.xdp.example. A over UDP from the client namespace, one query at a time: answered within
    TIMEOUT_S or not (no retry: a missing answer is the result being measured)."""

    TIMEOUT_S = 0.5

    def __init__(self, namespace):
        self.sock = netns.socket_in_netns(namespace, socket.AF_INET, socket.SOCK_DGRAM)
        self.next_id = 0

    def close(self):
        self.sock.close()

    def answered(self):
        q = dns.message.make_query("www.xdp.example.", "A", use_edns=0, payload=1232)
        q.flags &= ~dns.flags.RD
        q.id = self.next_id = (self.next_id + 1) & 0xFFFF
        wire = q.to_wire()
        self.sock.sendto(wire, (netns.SERVER4, 53))
        deadline = time.monotonic() + self.TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                return False
            except ConnectionRefusedError:  # an ICMP error for an earlier query
                continue
            if data[:2] == wire[:2]:
                reply = dns.message.from_wire(data)
                return netns.message_records(reply) == {
                    "www.xdp.example. A 198.18.10.80", "www.xdp.example. A 198.18.10.81"}


HEARTBEAT_LINE = re.compile(r"^xdp heartbeat +([0-9.]+) s ago(.*)$", re.M)


class XdpStaleTest(netns.TopologyPerTest):
    """A dead meridiand's program ("on_exit": "keep", then kill -9 or SIGTERM) answers from its
    frozen maps only until meridiand's heartbeat in mdn_control is older than "stale_after"; then
    it passes every query up (pass_stale), and with no daemon behind it nothing answers, so
    resolvers move on to the other authoritative servers. A restarted meridiand takes the program
    over and XDP answers again; a reload changes stale_after. `meridianctl stats` shows the
    heartbeat's age from the pinned map, with or without the daemon, and the metrics page has it
    as a gauge."""

    STALE_AFTER_S = 3
    PROBE_INTERVAL_S = 0.1

    def start_daemon(self, pin_dir=None):
        daemon = self.daemon(on_exit="keep", pin_dir=pin_dir)
        daemon.config["xdp"]["stale_after"] = self.STALE_AFTER_S
        daemon.write_file("meridian.json", json.dumps(daemon.config))
        return daemon.start()

    def heartbeat(self, pin_dir):
        """(age in seconds, rest of the line) from `meridianctl stats`."""
        out = netns.run([netns.MERIDIANCTL, "stats", "--pin-dir", pin_dir, "--socket",
                         "/nonexistent"]).stdout
        m = HEARTBEAT_LINE.search(out)
        self.assertIsNotNone(m, out)
        return float(m.group(1)), m.group(2)

    def last_beat(self, pin_dir):
        """time.monotonic() of the last heartbeat in the pinned mdn_control."""
        control = json.loads(netns.run([netns.MERIDIANCTL, "dump", "mdn_control", "--pin-dir",
                                        pin_dir, "--json"]).stdout)["entries"][0]
        return time.monotonic() - control["heartbeat"]["age_s"]

    def probe(self, count):
        """Answers to `count` probes sent now, one after the other."""
        probe = StaleProbe(self.topology.client)
        try:
            return [probe.answered() for _ in range(count)]
        finally:
            probe.close()

    def probe_until_stale(self, since, seconds):
        """Probes every PROBE_INTERVAL_S until `seconds` after `since` (200 at most). Checks that
        they were answered without a gap and then never again; returns (seconds after `since` the
        last answered one was sent or None, the same for the first unanswered one, how many were
        answered, how many not)."""
        results = []
        probe = StaleProbe(self.topology.client)
        try:
            while time.monotonic() < since + seconds and len(results) < 200:
                sent = time.monotonic()
                results.append((sent - since, probe.answered()))
                time.sleep(max(0.0, self.PROBE_INTERVAL_S - (time.monotonic() - sent)))
        finally:
            probe.close()
        answered = [t for t, ok in results if ok]
        unanswered = [t for t, ok in results if not ok]
        last = max(answered) if answered else None
        first = min(unanswered) if unanswered else None
        summary = (f"{len(answered)} answered, the last sent {last} s after; {len(unanswered)} "
                   f"unanswered, the first sent {first} s after")
        self.assertTrue(unanswered, summary)
        self.assertTrue(last is None or last < first, "answered again once stale: " + summary)
        return last, first, len(answered), len(unanswered)

    def test_dead_daemon_goes_stale_and_restart_takes_over(self):
        a = self.start_daemon()
        prog_a = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog_a)
        age, rest = self.heartbeat(a.pin_dir)
        self.assertLess(age, 1.5, rest)
        self.assertEqual(rest, f" (stale after {self.STALE_AFTER_S} s)")
        before = a.stats()
        self.assertEqual(self.probe(5), [True] * 5)
        d = netns.delta(before, a.stats())
        self.assertEqual((d["answered"], d["pass_stale"]), (5, 0), d)
        metrics = control_http.request("GET", "/metrics",
                                       unix=os.path.join(a.dir, "control.sock")).body
        m = re.search(r"(?m)^meridian_xdp_heartbeat_age_seconds (\S+)$", metrics)
        self.assertIsNotNone(m, metrics)
        self.assertLess(float(m.group(1)), 1.5, metrics)
        self.assertRegex(metrics, r"(?m)^meridian_xdp_stale_after_seconds 3$")
        self.assertRegex(metrics, r'(?m)^meridian_xdp_pass_total\{reason="stale"\} 0$')

        # kill -9: nothing detaches the program and nothing writes the heartbeat any more.
        before = a.stats()
        last_beat = self.last_beat(a.pin_dir)
        a.proc.kill()
        killed = time.monotonic()
        a.proc.wait(netns.COMMAND_TIMEOUT_S)
        self.assertEqual(self.topology.server_xdp_attached(), prog_a)
        last, first, answered, unanswered = self.probe_until_stale(killed,
                                                                   self.STALE_AFTER_S + 3)
        self.assertIsNotNone(last, "no XDP answer after the kill")
        beat = last_beat - killed  # the last heartbeat, in seconds after the kill (<= 0)
        summary = (f"last heartbeat {-beat:.2f} s before the kill; {answered} answered, the last "
                   f"sent {last:.2f} s after the kill; {unanswered} unanswered, the first sent "
                   f"{first:.2f} s after")
        print(f"stale after kill -9 (stale_after {self.STALE_AFTER_S} s): {summary}",
              file=sys.stderr)
        # Stale stale_after past the last heartbeat (at most a period, 1 s, before the kill), give
        # or take the program's clock tick and a probe's interval.
        self.assertGreaterEqual(beat, -1.2, summary)
        self.assertGreaterEqual(last, beat + self.STALE_AFTER_S - 0.3, summary)
        self.assertLessEqual(first, beat + self.STALE_AFTER_S + 0.3, summary)
        self.assertLessEqual(first, self.STALE_AFTER_S + 1, summary)
        d = netns.delta(before, a.stats())
        # Passed up untouched, counted as stale; no server to answer them.
        self.assertEqual((d["answered"], d["pass_stale"]), (answered, unanswered), d)
        age, rest = self.heartbeat(a.pin_dir)
        self.assertGreater(age, self.STALE_AFTER_S, rest)
        self.assertIn("STALE", rest)
        explained = netns.run([netns.MERIDIANCTL, "explain", "www.xdp.example.", "A", "--client",
                               netns.CLIENT4, "--pin-dir", a.pin_dir]).stdout
        self.assertIn("verdict:    passed to userspace: meridiand's heartbeat is", explained)

        # A restarted meridiand (same pin_dir) takes over; XDP answers again, with a fresh beat.
        b = self.start_daemon(pin_dir=a.pin_dir)
        prog_b = self.topology.server_xdp_attached()
        self.assertIsNotNone(b.wait_for_line(
            f"XDP program id {prog_b} replaced meridian's program id {prog_a} on veth-srv", 0),
            b.log())
        before = b.stats()
        self.assertEqual(self.probe(5), [True] * 5)
        d = netns.delta(before, b.stats())
        self.assertEqual((d["answered"], d["pass_stale"]), (5, 0), d)
        age, rest = self.heartbeat(b.pin_dir)
        self.assertLess(age, 1.5, rest)
        self.assertNotIn("STALE", rest)

        # A reload applies a new stale_after at once (the one "xdp" setting it changes).
        b.config["xdp"]["stale_after"] = 2
        b.write_file("meridian.json", json.dumps(b.config))
        start = b.line_count()
        b.signal(signal.SIGHUP)
        self.assertIsNotNone(b.wait_for_line("reloaded:", netns.READY_TIMEOUT_S, start), b.log())
        self.assertIsNotNone(b.wait_for_line("XDP stale_after: 2 s", 0, start), b.log())
        self.assertEqual(self.heartbeat(b.pin_dir)[1], " (stale after 2 s)")

        # A clean stop with "on_exit": "keep" leaves the program attached, stale 2 s later.
        self.assertEqual(b.terminate(), 0)
        stopped = time.monotonic()
        self.assertEqual(self.topology.server_xdp_attached(), prog_b)
        before = b.stats()
        last, first, answered, unanswered = self.probe_until_stale(stopped, 2 + 2)
        print(f"stale after SIGTERM (stale_after 2 s): {answered} answered, {unanswered} not, the "
              f"first unanswered sent {first:.2f} s after the exit", file=sys.stderr)
        self.assertLessEqual(first, 2 + 0.3, (last, first))
        d = netns.delta(before, b.stats())
        self.assertEqual((d["answered"], d["pass_stale"]), (answered, unanswered), d)


if __name__ == "__main__":
    netns.main(__doc__)
