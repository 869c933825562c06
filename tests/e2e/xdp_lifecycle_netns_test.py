#!/usr/bin/python3
"""End-to-end tests of the XDP program's lifecycle: detach or keep on SIGTERM, an attach failure,
and a restarted meridiand taking over a kept program (with shared or its own pins, mismatched
pins, a foreign program left alone).

Topology, daemon and helpers: netns.py.
Usage: xdp_lifecycle_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                         [unittest args, e.g. a test class]
"""

import json
import os
import socket
import sys
import threading
import time

import dns.flags
import dns.message

import netns


class XdpLifecycleTest(netns.TopologyPerTest):
    """SIGTERM: with "on_exit": "detach" (default) the program is detached; with "keep" it stays
    attached and keeps answering the last published data. In both cases the maps stay pinned in
    pin_dir (counters readable after the stop). Userspace sees only what XDP passed up."""

    def start(self, **args):
        return self.daemon(**args).start()

    def test_detach_on_sigterm(self):
        daemon = self.start()
        self.assertIsNotNone(self.topology.server_xdp_attached())
        for server in (netns.SERVER4, netns.SERVER6):
            for _ in range(5):
                self.assertEqual(netns.records(self.query(server, "www.xdp.example.", "A")),
                                 netns.POSITIVE[0][3])
            # A name only the wildcard answers: the program passes it up.
            self.assertEqual(self.query(server, "x.wild.xdp.example.", "A")["status"], "NOERROR")
        stats = daemon.stats()
        self.assertEqual(stats["answered"], 10, stats)
        self.assertEqual(stats["pass_name_miss"], 2, stats)
        self.assertEqual(daemon.terminate(), 0)
        # Userspace received exactly the two queries XDP passed up.
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 2 received, 2 replied", 0),
                             daemon.log())
        self.assertIsNone(self.topology.server_xdp_attached(), "program still attached")
        # Documented: the maps stay pinned, the counters can be read after the stop.
        self.assertEqual(sorted(os.listdir(daemon.pin_dir)),
                         ["mdn_control", "mdn_fragments", "mdn_geo", "mdn_groups", "mdn_health",
                          "mdn_latency", "mdn_names0", "mdn_names1", "mdn_names2", "mdn_names3",
                          "mdn_prefixes", "mdn_qlog", "mdn_rrl_allow", "mdn_rrl_buckets",
                          "mdn_rrl_config", "mdn_stats"])
        self.assertEqual(netns.read_stats(daemon.pin_dir)["answered"], 10)
        # Nothing answers any more: no program, no daemon.
        self.assertIsNone(self.query(netns.SERVER4, "www.xdp.example.", "A"))

    def test_keep_on_exit(self):
        daemon = self.start(on_exit="keep")
        prog = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog)
        self.assertEqual(netns.records(self.query(netns.SERVER4, "www.xdp.example.", "A")),
                         netns.POSITIVE[0][3])
        self.assertEqual(daemon.terminate(), 0)
        self.assertEqual(self.topology.server_xdp_attached(), prog)
        # The program keeps answering from the pinned maps with meridiand gone.
        for server in (netns.SERVER4, netns.SERVER6):
            self.assertEqual(netns.records(self.query(server, "www.xdp.example.", "A")),
                             netns.POSITIVE[0][3])
        self.assertEqual(netns.read_stats(daemon.pin_dir)["answered"], 3)
        # What it passes up finds no server now.
        self.assertIsNone(self.query(netns.SERVER4, "x.wild.xdp.example.", "A"))

    def test_attach_failure_leaves_userspace_serving(self):
        """One interface that does not exist: the fast path is not started at all (the interface
        attached first is detached again), the failure is logged, userspace answers everything."""
        daemon = netns.XdpDaemon(self.topology)
        daemon.config["xdp"]["interfaces"] = ["veth-srv", "mdnx-none0"]
        daemon.write_file("meridian.json", json.dumps(daemon.config))
        self.addCleanup(daemon.stop)
        daemon.start()
        line = daemon.wait_for_line("XDP fast path not started", 0)
        self.assertIsNotNone(line, daemon.log())
        self.assertIn("mdnx-none0", line)
        self.assertIsNone(self.topology.server_xdp_attached())
        for server in (netns.SERVER4, netns.SERVER6):
            self.assertEqual(netns.records(self.query(server, "www.xdp.example.", "A")),
                             netns.POSITIVE[0][3])
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 2 received, 2 replied", 0),
                             daemon.log())


def version_of(records_set):
    """1 or 2 when every record of a reply belongs to that versioned_zone() version, else None."""
    marks = {v: any(f" 198.18.{v}." in r or f"::{v}:" in r or f'"v{v}"' in r or f" mx{v}." in r
                    for r in records_set) for v in (1, 2)}
    if marks[1] != marks[2]:
        return 1 if marks[1] else 2
    return None


class TakeoverQueryLoop:
    """UDP queries from the client namespace without pause while a second meridiand takes over:
    each query waits TIMEOUT_S for its reply and is retried at most once. Records, per
    query, when it was sent and which zone version answered (None: lost after the retry, or a
    reply of neither version)."""

    TIMEOUT_S = 1

    def __init__(self, namespace, server, max_queries, max_seconds):
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.sock = netns.socket_in_netns(namespace, family, socket.SOCK_DGRAM)
        self.server = server
        self.max_queries, self.max_seconds = max_queries, max_seconds
        self.results = []  # (monotonic send time, version or None, reply records)
        self.retried = 0
        self.stop_event = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _exchange(self, wire):
        self.sock.sendto(wire, (self.server, 53))
        deadline = time.monotonic() + self.TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            self.sock.settimeout(remaining)
            data = self.sock.recv(65535)
            if data[:2] == wire[:2]:  # skips a late reply to the first try
                return data

    def _run(self):
        try:
            deadline = time.monotonic() + self.max_seconds
            n = 0
            while (not self.stop_event.is_set() and n < self.max_queries and
                   time.monotonic() < deadline):
                name, rtype = netns.RELOAD_QUERIES[n % len(netns.RELOAD_QUERIES)]
                q = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
                q.flags &= ~dns.flags.RD
                q.id = n & 0xFFFF
                n += 1
                sent = time.monotonic()
                reply = None
                for attempt in range(2):
                    try:
                        reply = dns.message.from_wire(self._exchange(q.to_wire()))
                        break
                    except socket.timeout:
                        if attempt == 0:
                            self.retried += 1
                if reply is None:
                    self.results.append((sent, None, None))
                    continue
                got = netns.message_records(reply)
                self.results.append((sent, version_of(got), got))
        except BaseException as e:
            self.error = e
        finally:
            self.sock.close()

    def run_for(self, count):
        """Runs `count` queries in this thread (the loop not started); returns the versions."""
        self.max_queries = count
        self._run()
        return [v for _, v, _ in self.results]


def program_exists(prog_id):
    return netns.run(["bpftool", "prog", "show", "id", str(prog_id)], check=False).returncode == 0


class XdpTakeoverTest(netns.TopologyPerTest):
    """A restarted meridiand and a program left attached ("on_exit": "keep", or a kill -9): the new
    daemon fills its maps, then replaces the old program in one operation, so queries sent
    without pause are all answered, by XDP, and after it is ready only with its data. Pins that do
    not match the program are replaced with a warning; a foreign XDP program is left alone."""

    def versions(self, count):
        return TakeoverQueryLoop(self.topology.client, netns.SERVER4, count, 30).run_for(count)

    def test_restart_takes_over_kept_program(self):
        """A killed (-9), B pins in the same pin_dir: B reuses A's maps and publishes into them
        before replacing the program."""
        self.check_takeover(kill=True, share_pins=True)

    def test_restart_with_own_pins_takes_over(self):
        """A stopped with SIGTERM ("on_exit": "keep"), B with another pin_dir: A's maps never see
        version 2, so only the replacement itself can bring it."""
        self.check_takeover(kill=False, share_pins=False)

    def check_takeover(self, kill, share_pins):
        a = self.daemon(zone_text=netns.versioned_zone(1), on_exit="keep").start()
        prog_a = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog_a)
        self.assertEqual(self.versions(5), [1] * 5)
        # A goes; its program keeps answering version 1 from the maps.
        if kill:
            a.proc.kill()
            a.proc.wait(netns.COMMAND_TIMEOUT_S)
        else:
            self.assertEqual(a.terminate(), 0)
        self.assertEqual(self.topology.server_xdp_attached(), prog_a)
        before = a.stats()
        self.assertEqual(self.versions(10), [1] * 10)
        self.assertEqual(netns.delta(before, a.stats())["answered"], 10)

        # B, with version 2 of the zone and the same pin_dir, starts while a client queries.
        loop = TakeoverQueryLoop(self.topology.client, netns.SERVER4, 200000, 60)
        loop.thread.start()
        try:
            time.sleep(0.3)
            b = self.daemon(zone_text=netns.versioned_zone(2),
                            pin_dir=a.pin_dir if share_pins else None)
            b.start()
            ready = time.monotonic()
            time.sleep(1)
        finally:
            loop.stop_event.set()
            loop.thread.join(10)
        after_ready = [v for sent, v, _ in loop.results if sent > ready]
        first_v2 = next((i for i, (_, v, _) in enumerate(loop.results) if v == 2), None)
        summary = (f"queries={len(loop.results)} retried={loop.retried} "
                   f"lost={sum(1 for _, v, g in loop.results if g is None)} "
                   f"v1={sum(1 for _, v, _ in loop.results if v == 1)} "
                   f"v2={sum(1 for _, v, _ in loop.results if v == 2)} "
                   f"after_ready={len(after_ready)}")
        print(f"takeover (kill={kill}, shared pins={share_pins}): {summary}", file=sys.stderr)
        self.assertIsNone(loop.error, summary)
        self.assertEqual([r for r in loop.results if r[1] is None], [], summary)  # none lost
        self.assertGreater(len(after_ready), 10, summary)
        self.assertEqual(set(after_ready), {2}, summary)
        # Version 1 never comes back once version 2 has answered.
        self.assertIsNotNone(first_v2, summary)
        self.assertNotIn(1, [v for _, v, _ in loop.results[first_v2:]], summary)

        prog_b = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog_b)
        self.assertNotEqual(prog_b, prog_a)
        self.assertIsNotNone(b.wait_for_line(
            f"XDP program id {prog_b} replaced meridian's program id {prog_a} on veth-srv "
            "(native mode)", 0), b.log())
        self.assertFalse(program_exists(prog_a), f"program {prog_a} still loaded")
        self.assertIsNone(b.wait_for_line("does not match", 0), b.log())
        # Answered by B's program, from B's data, nothing passed up.
        before = b.stats()
        self.assertEqual(self.versions(20), [2] * 20)
        d = netns.delta(before, b.stats())
        self.assertEqual(d["answered"], 20, d)
        self.assertEqual(d["pass_name_miss"] + d["pass_no_data"], 0, d)
        # B was started with the default "on_exit": it detaches what it took over.
        self.assertEqual(b.terminate(), 0)
        self.assertIsNone(self.topology.server_xdp_attached())

    def test_mismatched_pins_are_replaced(self):
        daemon = self.daemon()
        os.makedirs(daemon.pin_dir)
        # mdn_control holds 24 bytes; a map of 16-byte values stands for an incompatible build.
        netns.run(["bpftool", "map", "create", f"{daemon.pin_dir}/mdn_control", "type", "array",
                   "key", "4", "value", "16", "entries", "1", "name", "mdn_control"])
        netns.run(["bpftool", "map", "create", f"{daemon.pin_dir}/mdn_stats", "type", "hash", "key",
                   "4", "value", "8", "entries", "4", "name", "mdn_stats"])
        daemon.start()
        for name, why in (("mdn_control", "value size 16, this build's is 24"),
                          ("mdn_stats", "type 1, this build's is 6")):
            line = daemon.wait_for_line(f"pinned map {name} at {daemon.pin_dir}/{name}", 0)
            self.assertIsNotNone(line, daemon.log())
            self.assertIn(why, line)
        self.assertIsNotNone(daemon.wait_for_line(
            "XDP program attached to veth-srv (native mode)", 0), daemon.log())
        before = daemon.stats()
        for _ in range(5):
            r = self.topology_query("www.xdp.example.", "A")
            self.assertEqual(netns.records(r), netns.POSITIVE[0][3])
        self.assertEqual(netns.delta(before, daemon.stats())["answered"], 5)

    def topology_query(self, name, rtype):
        proc = netns.run(["ip", "netns", "exec", self.topology.client, "dig", f"@{netns.SERVER4}",
                          name, rtype, "+norec", "+time=2", "+tries=1"])
        return netns.parse_dig(proc.stdout)

    def test_foreign_program_is_left_alone(self):
        netns.run(["ip", "-n", self.topology.server, "link", "set", "dev", "veth-srv", "xdp", "obj",
                   netns.XDP_PASS_OBJECT, "sec", "xdp"])
        foreign = self.topology.server_xdp_attached()
        self.assertIsNotNone(foreign)
        daemon = self.daemon(on_exit="keep").start()
        line = daemon.wait_for_line("XDP fast path not started", 0)
        self.assertIsNotNone(line, daemon.log())
        self.assertIn(f'veth-srv: another XDP program is attached ("xdp_pass", id {foreign})',
                      line)
        self.assertEqual(self.topology.server_xdp_attached(), foreign)
        for _ in range(3):  # xdp_pass lets them through to userspace
            self.assertEqual(netns.records(self.topology_query("www.xdp.example.", "A")),
                             netns.POSITIVE[0][3])
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 3 received, 3 replied", 0),
                             daemon.log())
        self.assertEqual(self.topology.server_xdp_attached(), foreign)


if __name__ == "__main__":
    netns.main(__doc__)
