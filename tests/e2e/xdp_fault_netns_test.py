#!/usr/bin/python3
"""End-to-end tests of faults around the fast path: the interface gone and back, a pin dir that is
not a directory, a program that does not load, a full map; userspace keeps serving in each.

Topology, daemon and helpers: netns.py.
Usage: xdp_fault_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                         [unittest args, e.g. a test class]
"""

import json
import os
import re
import signal
import time

import netns


def many_names_zone(count):
    """xdp.example with `count` extra hosts h1..hN (A 198.18.20.N), for the map-full test."""
    lines = ["$ORIGIN xdp.example.", "$TTL 300",
             "@ IN SOA ns1 hostmaster 2026112501 7200 3600 1209600 60", "  IN NS ns1",
             "ns1 IN A 198.18.10.53"]
    lines += [f"h{i} IN A 198.18.20.{i}" for i in range(1, count + 1)]
    return "\n".join(lines) + "\n"


class XdpFaultTest(netns.TopologyPerTest):
    """Faults of the fast path that must leave userspace serving: the interface disappears under
    a running meridiand, the program cannot be loaded, a name class is full. Each is logged with
    its cause and never stops meridiand."""


    def reload(self, daemon):
        """SIGHUP; returns the log lines it produced once the reload has finished."""
        start = daemon.line_count()
        daemon.signal(signal.SIGHUP)
        line = daemon.wait_for_line("reloaded:", netns.READY_TIMEOUT_S, start)
        self.assertIsNotNone(line, "reload did not finish:\n" + daemon.log())
        return daemon.log().splitlines()[start:]

    def test_interface_gone_and_back(self):
        daemon = self.daemon().start()
        first_prog = self.topology.server_xdp_attached()
        self.assertIsNotNone(first_prog)
        self.assertEqual(netns.records(self.query(netns.SERVER4, "www.xdp.example.", "A")),
                         netns.POSITIVE[0][3])
        self.assertEqual(daemon.stats()["answered"], 1)

        # Deleting one end of a veth deletes the pair and the program's attachment with it.
        netns.run(["ip", "-n", self.topology.server, "link", "del", "veth-srv"])
        time.sleep(0.5)
        self.assertIsNone(daemon.proc.poll(), "meridiand exited:\n" + daemon.log())

        # meridiand learns of it at the next publish: the reload of the zones still succeeds and
        # the log names the interface.
        lines = self.reload(daemon)
        gone = [l for l in lines if "veth-srv" in l and "gone" in l]
        self.assertTrue(gone, "\n".join(lines))
        self.assertTrue(any("published" in l and "answers to XDP" in l for l in lines),
                        "\n".join(lines))

        # The interface comes back with the same name (a new ifindex): userspace answers at once
        # (its sockets are bound to the addresses, which are back), XDP is not attached yet.
        self.topology.add_veth()
        self.assertIsNone(self.topology.server_xdp_attached())
        for server in (netns.SERVER4, netns.SERVER6):
            self.assertEqual(netns.records(self.query(server, "www.xdp.example.", "A")),
                             netns.POSITIVE[0][3])
        self.assertEqual(daemon.stats()["answered"], 1)

        # SIGHUP attaches the program to the new interface; XDP answers again.
        lines = self.reload(daemon)
        self.assertTrue(any("XDP program attached to veth-srv" in l for l in lines),
                        "\n".join(lines))
        self.assertEqual(self.topology.server_xdp_attached(), first_prog)
        before = daemon.stats()
        for server in (netns.SERVER4, netns.SERVER6):
            self.assertEqual(netns.records(self.query(server, "www.xdp.example.", "A")),
                             netns.POSITIVE[0][3])
        d = netns.delta(before, daemon.stats())
        self.assertEqual(d["answered"], 2, d)

        # A second reload leaves the attachment alone (no duplicate attach, no warning).
        lines = self.reload(daemon)
        self.assertFalse([l for l in lines if "veth-srv" in l], "\n".join(lines))

        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNone(self.topology.server_xdp_attached(), "program still attached")
        # Userspace answered the two queries made while XDP was not attached.
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 2 received, 2 replied", 0),
                             daemon.log())

    def test_interface_gone_at_exit(self):
        """SIGTERM with the interface gone (never noticed by a reload): a clean exit."""
        daemon = self.daemon().start()
        self.assertIsNotNone(self.topology.server_xdp_attached())
        netns.run(["ip", "-n", self.topology.server, "link", "del", "veth-srv"])
        self.assertEqual(daemon.terminate(), 0, daemon.log())

    def start_without_fast_path(self, pin_dir):
        """meridiand whose fast path cannot start with `pin_dir`; returns it and the logged
        reason."""
        daemon = self.daemon()
        daemon.pin_dir = pin_dir + "/none"  # stop() must not unpin what the test put there
        daemon.config["xdp"]["pin_dir"] = pin_dir
        daemon.write_file("meridian.json", json.dumps(daemon.config))
        daemon.start()
        line = daemon.wait_for_line("XDP fast path not started, userspace serves everything", 0)
        self.assertIsNotNone(line, daemon.log())
        self.assertIn(pin_dir, line)
        return daemon, line

    def check_userspace_serves(self, daemon):
        """No program attached, userspace answers everything, a reload publishes nothing and
        succeeds, SIGTERM exits 0; no XDP counter is involved (there are no maps to read)."""
        self.assertIsNone(self.topology.server_xdp_attached())
        for server in (netns.SERVER4, netns.SERVER6):
            self.assertEqual(netns.records(self.query(server, "www.xdp.example.", "A")),
                             netns.POSITIVE[0][3])
        self.assertEqual(self.query(netns.SERVER4, "nope.xdp.example.", "A")["status"], "NXDOMAIN")
        lines = self.reload(daemon)
        self.assertFalse([l for l in lines if "XDP" in l], "\n".join(lines))
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 3 received, 3 replied", 0),
                             daemon.log())

    def test_pin_dir_not_a_directory(self):
        """pin_dir names a pinned map: refused before loading, with the reason."""
        not_a_dir = f"/sys/fs/bpf/mdnx-fault-{netns.unique_suffix()}"
        netns.run(["bpftool", "map", "create", not_a_dir, "type", "array", "key", "4", "value", "4",
                   "entries", "1", "name", "mdnx_fault"])
        self.addCleanup(lambda: os.path.exists(not_a_dir) and os.unlink(not_a_dir))
        daemon, line = self.start_without_fast_path(not_a_dir)
        self.assertIn("pin_dir is not a directory", line)
        self.check_userspace_serves(daemon)
        self.assertTrue(os.path.exists(not_a_dir))  # left as it was

    def test_load_failure_leaves_userspace_serving(self):
        """pin_dir is a read-only bpffs: libbpf creates the maps but cannot pin them, so loading
        fails. The error names the step and the directory, libbpf's line names the map."""
        ro_dir = f"/sys/fs/bpf/mdnx-ro-{netns.unique_suffix()}"
        os.mkdir(ro_dir)
        self.addCleanup(os.rmdir, ro_dir)
        netns.run(["mount", "-t", "bpf", "-o", "ro", "bpf", ro_dir])
        self.addCleanup(netns.run, ["umount", ro_dir])
        daemon, line = self.start_without_fast_path(ro_dir)
        self.assertIn("loading the XDP program", line)
        self.assertIn("Read-only file system", line)
        self.assertTrue([l for l in daemon.log().splitlines() if "libbpf" in l and "mdn_" in l],
                        daemon.log())
        self.check_userspace_serves(daemon)
        # Nothing pinned (a bpffs root lists only the kernel's *.debug iterators).
        self.assertEqual([n for n in os.listdir(ro_dir) if not n.endswith(".debug")], [])

    def test_map_full_leaves_the_rest_to_userspace(self):
        hosts = 40
        capacity = 10
        daemon = self.daemon(zone_text=many_names_zone(hosts))
        daemon.config["xdp"]["max_names"] = capacity
        daemon.write_file("meridian.json", json.dumps(daemon.config))
        daemon.start()
        line = daemon.wait_for_line("answers to XDP", 0)
        self.assertIsNotNone(line, daemon.log())
        m = re.search(r"published (\d+) answers to XDP .*left to userspace: (\d+) oversize, "
                      r"(\d+) map full", line)
        self.assertIsNotNone(m, line)
        published, oversize, full = (int(g) for g in m.groups())
        # Every name's wire form is under 32 octets: all in class 0, capped at `capacity`.
        # The zone's answers: apex SOA and NS, ns1 A, and one A per host.
        questions = ([("xdp.example.", "SOA"), ("xdp.example.", "NS"),
                      ("ns1.xdp.example.", "A")] +
                     [(f"h{i}.xdp.example.", "A") for i in range(1, hosts + 1)])
        # Each name (the apex, ns1, the hosts) also has its negative entry (NODATA/NXDOMAIN),
        # written after the others: all of them are left out, so the program answers no
        # NXDOMAIN from this generation (docs/fastpath.md, "Negative answers").
        names = hosts + 2
        self.assertEqual((published, oversize, full),
                         (capacity, 0, len(questions) + names - capacity), line)

        before = daemon.stats()
        for name, rtype in questions:
            reply = self.query(netns.SERVER4, name, rtype)
            self.assertIsNotNone(reply, f"{name} {rtype}: no reply")
            self.assertEqual(reply["status"], "NOERROR", reply)
            self.assertEqual(len(reply["answer"]), 1, reply)
            if name.startswith("h"):
                self.assertEqual(netns.records(reply),
                                 {(name, "A", "198.18.20." + name[1:name.index(".")])})
        d = netns.delta(before, daemon.stats())
        # Exactly the published ones from XDP, every other one passed up as a name miss.
        self.assertEqual(d["answered"], capacity, d)
        self.assertEqual(d["pass_name_miss"], len(questions) - capacity, d)
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(
            daemon.wait_for_line(f"stopped: udp {len(questions) - capacity} received, "
                                 f"{len(questions) - capacity} replied", 0), daemon.log())


if __name__ == "__main__":
    netns.main(__doc__)
