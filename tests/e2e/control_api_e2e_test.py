#!/usr/bin/python3
"""The control API end to end: meridianctl's zone, record-set, change-batch, import/export and
health-check commands against the real daemon with XDP attached in network namespaces (human and
--json output, exit codes for an unknown zone, a malformed or invalid batch and a stopped
daemon, changes answered by the XDP program once INSYNC); durability (meridiand killed with
SIGKILL at least 50 times during a stream of change batches: every acknowledged batch is there
after the restart and no batch is half there); and the API's security (bearer token over TCP,
socket permissions, oversized and malformed requests answered 4xx while DNS keeps serving); and
Route 53's change-batch rules on loopback (a second PRIMARY, an unknown CountryCode).

Usage: control_api_e2e_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                               [unittest args, e.g. ControlCliTest]
"""

import json
import os
import random
import re
import stat
import subprocess
import threading
import time
import unittest
import urllib.parse

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import control_http
import meridiand_e2e_test as loopback
import netns

KILLS = 50
BATCH_SETS = 5  # record sets each durability batch creates


def list_pages(zone, unix, query="", timeout=10):
    """Every page of GET /v1/zones/ZONE/rrsets (at most 300 record sets each), following
    NextRecordName/Type/Identifier; returns the pages' JSON bodies in order."""
    pages, start = [], {}
    while True:
        q = "&".join(p for p in (query, urllib.parse.urlencode(start)) if p)
        r = control_http.request("GET", f"/v1/zones/{zone}/rrsets" + ("?" + q if q else ""),
                                 unix=unix, timeout=timeout)
        if r.status != 200:
            raise AssertionError(f"GET rrsets?{q}: {r.status} {r.body}")
        pages.append(r.json())
        if not pages[-1]["IsTruncated"]:
            return pages
        start = {"StartRecord" + k: pages[-1]["NextRecord" + k]
                 for k in ("Name", "Type", "Identifier") if "NextRecord" + k in pages[-1]}


def ctl(*args, timeout=60):
    return subprocess.run([netns.MERIDIANCTL, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


# --- meridianctl against the real daemon, XDP attached ---------------------------------------------


class ControlCliTest(unittest.TestCase):
    """One topology and one daemon for the class; each test leaves the zone as it found it."""

    @classmethod
    def setUpClass(cls):
        cls.topology = netns.topology_or_skip()
        try:
            cls.daemon = netns.XdpDaemon(cls.topology).start()
            cls.socket = os.path.join(cls.daemon.dir, "control.sock")
        except BaseException:
            cls.topology.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.topology.destroy()

    def run_ctl(self, *args):
        return ctl(*args, "--socket", self.socket)

    def ok(self, *args):
        proc = self.run_ctl(*args)
        self.assertEqual(proc.returncode, 0, f"meridianctl {args}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def ok_json(self, *args):
        return json.loads(self.ok(*args, "--json"))

    def rc(self, code, *args):
        proc = self.run_ctl(*args)
        self.assertEqual(proc.returncode, code, f"meridianctl {args}:\n{proc.stdout}{proc.stderr}")
        return proc

    def dig(self, name, rtype="A"):
        out = netns.run(["ip", "netns", "exec", self.topology.client, "dig", "+norec",
                         "+time=3", "+tries=1", f"@{netns.SERVER4}", name, rtype]).stdout
        return netns.parse_dig(out)

    def write(self, name, text):
        return self.daemon.write_file(name, text if isinstance(text, str) else json.dumps(text))

    def zone_id(self):
        zones = self.ok_json("zones", "list")["HostedZones"]
        return [z["Id"] for z in zones if z["Name"] == netns.ORIGIN][0].split("/")[-1]

    # --- zones ---

    def test_zones_list_and_show(self):
        text = self.ok("zones", "list")
        self.assertRegex(text, r"Z[A-Z2-7]{13}\s+xdp\.example\.\s+\d+\s+config")
        zones = self.ok_json("zones", "list")
        self.assertTrue(zones["Durable"])
        [z] = [z for z in zones["HostedZones"] if z["Name"] == netns.ORIGIN]
        zid = z["Id"].split("/")[-1]
        for ref in (zid, "/hostedzone/" + zid, "xdp.example", "xdp.example."):
            shown = self.ok_json("zones", "show", ref)
            self.assertEqual(shown["HostedZone"]["Id"], z["Id"])
            self.assertEqual(shown["SOASerial"], 2026112501)
        self.assertIn("SOA serial:    2026112501", self.ok("zones", "show", zid))
        proc = self.rc(3, "zones", "show", "nope.example")
        self.assertIn("NoSuchHostedZone", proc.stderr)

    def test_zone_create_import_export_delete(self):
        created = self.ok_json("zones", "create", "made.example", "--comment", "by test")
        zid = created["HostedZone"]["Id"].split("/")[-1]
        self.assertEqual(created["HostedZone"]["ResourceRecordSetCount"], 2)  # SOA and NS
        self.rc(3, "zones", "create", "made.example")  # exists: Conflict
        # A zone file replaces it whole, then it round-trips through both formats.
        zone_file = self.write("made.zone", "$ORIGIN made.example.\n$TTL 300\n"
                               "@ SOA ns1 hostmaster 7 7200 900 1209600 300\n@ NS ns1\n"
                               "ns1 A 198.18.0.1\nwww A 198.18.7.7\n")
        out = self.ok("import", zone_file, "--zone", zid, "--format", "zonefile")
        self.assertIn(f"replaced /hostedzone/{zid} made.example. (4 record sets)", out)
        exported = self.ok("export", zid, "--format", "zonefile")
        self.assertIn("www.made.example. 300 IN A 198.18.7.7", exported)
        r53 = json.loads(self.ok("export", "made.example"))
        self.assertEqual(len(r53["ResourceRecordSets"]), 4)
        self.assertEqual(self.dig("www.made.example.")["answer"][0][4], "198.18.7.7")
        # Route 53 JSON in: the export of one zone imported as a new zone elsewhere is refused
        # (names outside the zone), the same JSON into itself is accepted.
        path = self.write("made.json", r53)
        self.ok("import", path, "--zone", "made.example", "--format", "route53-json")
        bad = self.write("bad.zone", "$ORIGIN made.example.\n@ 300 IN SOA ns1 hm 1 2 3 4 5\n"
                         "www 300 IN A not-an-address\n")
        proc = self.rc(3, "import", bad, "--zone", zid, "--format", "zonefile")
        self.assertIn("import:3", proc.stderr)
        self.assertEqual(self.dig("www.made.example.")["answer"][0][4], "198.18.7.7")  # kept
        out = self.ok("zones", "delete", zid)
        self.assertIn(f"deleted /hostedzone/{zid}", out)
        self.assertEqual(self.dig("www.made.example.")["status"], "REFUSED")
        self.rc(3, "zones", "delete", zid)

    # --- change batches ---

    def test_change_batch_is_insync_and_answered_by_xdp(self):
        batch = {"Comment": "cli test", "Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": "cli.xdp.example", "Type": "A", "TTL": 60,
                "ResourceRecords": [{"Value": "198.18.9.9"}]}}]}
        path = self.write("batch.json", batch)
        before = self.daemon.stats()
        info = self.ok_json("change-resource-record-sets", "--hosted-zone-id", self.zone_id(),
                            "--change-batch", "file://" + path)["ChangeInfo"]
        self.assertEqual(info["Status"], "INSYNC")
        self.assertEqual(info["Comment"], "cli test")
        self.assertRegex(info["Id"], r"^/change/C[A-Z0-9]{20}$")
        got = self.ok_json("get-change", info["Id"])["ChangeInfo"]
        self.assertEqual((got["Id"], got["Status"]), (info["Id"], "INSYNC"))
        self.assertIn("INSYNC", self.ok("get-change", info["Id"].split("/")[-1]))
        # INSYNC means the maps hold it: the XDP program answers it.
        reply = self.dig("cli.xdp.example.")
        self.assertEqual(reply["answer"][0][4], "198.18.9.9")
        d = netns.delta(before, self.daemon.stats())
        self.assertEqual(d["hit_a"], 1, d)
        proc = ctl("dump", "mdn_names0", "--pin-dir", self.daemon.pin_dir, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        names = json.loads(proc.stdout)
        # The query-log ring is listed as such and not consumed by a dump.
        maps = json.loads(ctl("maps", "--pin-dir", self.daemon.pin_dir, "--json").stdout)
        [ring] = [m for m in maps["maps"] if m["name"] == "mdn_qlog"]
        self.assertEqual((ring["type"], ring["entries"]), ("ringbuf", 0))
        self.assertIn("ring buffer", ctl("dump", "mdn_qlog", "--pin-dir", self.daemon.pin_dir).stdout)
        self.assertIn("cli.xdp.example.", {n["name"] for n in names["entries"]})
        # The human form, the record set listed, then the same record set deleted.
        listed = self.ok("record-sets", "list", "xdp.example", "--name", "cli", "--type", "A")
        self.assertRegex(listed, r"cli\.xdp\.example\.\s+A\s+-\s+simple\s+60\s+-\s+198\.18\.9\.9")
        out = self.ok("record-sets", "delete", "xdp.example", "cli", "A")
        self.assertRegex(out, r"change /change/C[A-Z0-9]{20}: INSYNC")
        self.assertEqual(self.dig("cli.xdp.example.")["status"], "NXDOMAIN")
        self.rc(3, "get-change", "CNOTACHANGE")

    def test_invalid_batch_changes_nothing_and_names_index_and_field(self):
        before = self.ok_json("record-sets", "list", "xdp.example")
        changes = [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"n{i}.xdp.example", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "198.18.8.1"}]}} for i in range(1000)]
        changes[999]["ResourceRecordSet"]["TTL"] = -1
        proc = self.rc(3, "change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                       "--change-batch", "file://" + self.write("bad.json", {"Changes": changes}))
        self.assertIn("InvalidChangeBatch: /Changes/999/ResourceRecordSet/TTL", proc.stderr)
        changes[999]["ResourceRecordSet"]["TTL"] = 60
        changes[999]["Action"] = "DELETE"  # of a record set that does not exist
        proc = self.rc(3, "change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                       "--change-batch", "file://" + self.write("bad.json", {"Changes": changes}))
        self.assertIn("InvalidChangeBatch: Changes[999]: DELETE: record set n999.xdp.example. A "
                      "was not found", proc.stderr)
        self.assertEqual(self.ok_json("record-sets", "list", "xdp.example"), before)
        self.assertEqual(self.dig("n1.xdp.example.")["status"], "NXDOMAIN")
        # Not JSON at all: refused by meridianctl itself (usage), the daemon is not asked.
        proc = self.rc(1, "change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                       "--change-batch", "file://" + self.write("junk.json", "{\"Changes\": ["))
        self.assertIn("not valid JSON", proc.stderr)
        self.rc(1, "change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                "--change-batch", "file:///nonexistent/batch.json")
        # A valid 1,000-change batch is applied whole.
        changes[999]["Action"] = "CREATE"
        info = self.ok_json("change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                            "--change-batch", "file://" + self.write("ok.json",
                                                                     {"Changes": changes}))
        self.assertEqual(info["ChangeInfo"]["Changes"], 1000)
        self.assertEqual(self.dig("n999.xdp.example.")["answer"][0][4], "198.18.8.1")
        for c in changes:
            c["Action"] = "DELETE"
        self.ok("change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                "--change-batch", "file://" + self.write("undo.json", {"Changes": changes}))
        self.assertEqual(self.ok_json("record-sets", "list", "xdp.example"), before)

    def test_unknown_zone(self):
        batch = self.write("one.json", {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "x.nope.example", "Type": "A", "TTL": 1,
            "ResourceRecords": [{"Value": "198.18.0.1"}]}}]})
        for args in (["change-resource-record-sets", "--hosted-zone-id", "ZNOSUCHZONE00",
                      "--change-batch", "file://" + batch],
                     ["record-sets", "list", "nope.example"],
                     ["export", "nope.example"],
                     ["zones", "delete", "ZNOSUCHZONE00"]):
            with self.subTest(args=args):
                proc = self.rc(3, *args)
                self.assertIn("NoSuchHostedZone", proc.stderr)

    def test_record_set_create_show_delete(self):
        out = self.ok("record-sets", "create", "xdp.example", "--name", "rs.xdp.example",
                      "--type", "AAAA", "--ttl", "120", "--value", "fd00:18::99")
        self.assertIn("INSYNC", out)
        shown = json.loads(self.ok("record-sets", "show", "xdp.example", "rs.xdp.example",
                                   "AAAA"))
        self.assertEqual(shown[0]["ResourceRecords"], [{"Value": "fd00:18::99"}])
        self.rc(3, "record-sets", "create", "xdp.example", "--name", "rs.xdp.example", "--type",
                "AAAA", "--value", "fd00:18::98")  # exists
        self.rc(1, "record-sets", "create", "xdp.example", "--name", "x")  # no type/value
        self.ok("record-sets", "delete", "xdp.example", "rs.xdp.example", "AAAA")
        self.rc(3, "record-sets", "show", "xdp.example", "rs.xdp.example", "AAAA")
        self.rc(3, "record-sets", "delete", "xdp.example", "rs.xdp.example", "AAAA")

    # --- health checks ---

    def test_health_checks_and_status(self):
        # Nothing listens on the server namespace's port 9: the check fails with a reason.
        check = {"Id": "port9", "Type": "TCP", "IPAddress": netns.SERVER4, "Port": 9,
                 "RequestInterval": 1, "FailureThreshold": 1}
        out = self.ok("health-checks", "create", json.dumps(check))
        self.assertIn("health check port9 saved", out)
        self.assertIn("port9", self.ok("health-checks", "list"))
        stored = dict(check, HealthCheckVersion=1)  # the server counts the versions
        self.assertEqual(self.ok_json("health-checks", "list")["HealthChecks"], [stored])
        self.assertEqual(json.loads(self.ok("health-checks", "show", "port9")), stored)
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            [status] = [s for s in self.ok_json("health")["HealthCheckStatuses"]
                        if s["Id"] == "port9"]
            if status["Status"] == "unhealthy":
                break
            time.sleep(0.2)
        self.assertEqual(status["Status"], "unhealthy", status)
        self.assertEqual(status["LastResult"], "failure")
        self.assertIn("refused", status["LastFailureReason"].lower())
        self.assertRegex(self.ok("health"), r"port9\s+unhealthy\s+failure")
        # In use by a record set: refused; unused: deleted.
        batch = {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": "hc.xdp.example", "Type": "A", "TTL": 60, "SetIdentifier": "a", "Weight": 1,
            "HealthCheckId": "port9", "ResourceRecords": [{"Value": "198.18.5.5"}]}}]}
        self.ok("change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                "--change-batch", json.dumps(batch))
        proc = self.rc(3, "health-checks", "delete", "port9")
        self.assertIn("in use by record set hc.xdp.example.", proc.stderr)
        batch["Changes"][0]["Action"] = "DELETE"
        self.ok("change-resource-record-sets", "--hosted-zone-id", "xdp.example",
                "--change-batch", json.dumps(batch))
        self.ok("health-checks", "delete", "port9")
        self.rc(3, "health-checks", "show", "port9")
        proc = self.rc(3, "health-checks", "create", json.dumps({"Id": "bad", "Type": "FTP"}))
        self.assertIn("InvalidInput", proc.stderr)

    def test_stats_summary_by_path(self):
        """stats: queries by path from the maps and the daemon, hit ratio, rcodes, pass reasons."""
        def summary():
            out = ctl("stats", "--pin-dir", self.daemon.pin_dir, "--socket", self.socket).stdout
            values = {}
            for key in ("answered by xdp", "answered by userspace"):
                m = re.search(key + r"\s+(\d+)", out)
                self.assertIsNotNone(m, out)
                values[key] = int(m.group(1))
            return values, out
        before, _ = summary()
        self.dig("www.xdp.example.")                       # XDP
        self.dig("nope.xdp.example.")                      # XDP, NXDOMAIN
        netns.run(["ip", "netns", "exec", self.topology.client, "dig", "+tcp", "+time=3",
                   "+tries=1", f"@{netns.SERVER4}", "www.xdp.example.", "A"])  # userspace
        after, out = summary()
        self.assertEqual(after["answered by xdp"] - before["answered by xdp"], 2, out)
        self.assertEqual(after["answered by userspace"] - before["answered by userspace"], 1, out)
        self.assertRegex(out, r"fast-path hit ratio\s+\d+\.\d%")
        self.assertRegex(out, r"rcodes\s+.*NOERROR \d+")
        self.assertRegex(out, r"passed up by xdp\s+.*tcp \d+")
        watch = ctl("stats", "--pin-dir", self.daemon.pin_dir, "--socket", self.socket,
                    "--watch", "0.3", "--count", "1").stdout
        self.assertRegex(watch, r"queries per second: xdp [\d.]+, userspace [\d.]+")
        # Without the daemon's socket the XDP side still shows, the userspace side says why.
        out = ctl("stats", "--pin-dir", self.daemon.pin_dir, "--socket", "/nonexistent").stdout
        self.assertIn("meridiand not reachable on /nonexistent", out)

    def test_stats_hit_ratio_without_the_daemon(self):
        """Without the control socket the hit ratio comes from the XDP counters alone (answered
        against answered + the UDP queries passed up), not 100%; watch mode says the same."""
        self.dig("www.xdp.example.")  # XDP
        self.dig("www.example.org.")  # not in our zones: up to userspace (REFUSED)
        counters = json.loads(ctl("stats", "--pin-dir", self.daemon.pin_dir, "--json").stdout)
        query_passes = ("malformed", "not_query", "unknown_option", "edns_version", "class",
                        "name_miss", "too_big", "no_data", "frame_grow", "policy", "stale")
        passed = sum(counters["pass_" + reason] for reason in query_passes)
        self.assertGreaterEqual(passed, 1, counters)
        expected = 100.0 * counters["answered"] / (counters["answered"] + passed)
        out = ctl("stats", "--pin-dir", self.daemon.pin_dir, "--socket", "/nonexistent").stdout
        m = re.search(r"fast-path hit ratio\s+(\d+\.\d)% \(UDP queries, from the XDP counters "
                      r"alone\)", out)
        self.assertIsNotNone(m, out)
        self.assertAlmostEqual(float(m.group(1)), expected, delta=0.051)
        self.assertLess(float(m.group(1)), 100.0, out)
        self.assertIn("name_miss", re.search(r"passed up by xdp.*", out).group(0))
        watch = ctl("stats", "--pin-dir", self.daemon.pin_dir, "--socket", "/nonexistent",
                    "--watch", "0.3", "--count", "1").stdout
        self.assertRegex(watch, r"userspace - \(meridiand not reachable on /nonexistent\), "
                                r"hit ratio (unknown|[\d.]+% \(UDP queries)")

    def test_help_is_a_manual_for_every_command(self):
        top = ctl("--help")
        self.assertEqual(top.returncode, 0)
        commands = ["maps", "dump", "explain", "stats", "zones", "record-sets",
                    "change-resource-record-sets", "get-change", "import", "export",
                    "health-checks", "health", "tags"]
        for command in commands:
            self.assertIn(command, top.stdout)
        for args in (["zones", "create"], ["change-resource-record-sets"], ["import"],
                     ["export"], ["record-sets", "create"], ["health-checks", "create"],
                     ["health-checks", "update"], ["tags", "list"], ["tags", "change"],
                     ["explain"], ["stats"]):
            with self.subTest(args=args):
                proc = ctl(*args, "--help")
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("EXIT STATUS", proc.stdout)

    def test_daemon_down_is_exit_2(self):
        for args in (["zones", "list"], ["health"], ["get-change", "C1"]):
            proc = ctl(*args, "--socket", os.path.join(self.daemon.dir, "missing.sock"))
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn("is meridiand running?", proc.stderr)


class ControlCliStoppedDaemonTest(unittest.TestCase):
    """After meridiand stopped, its socket is gone and every API command exits 2."""

    def test_stopped(self):
        topology = netns.topology_or_skip()
        self.addCleanup(topology.destroy)
        daemon = netns.XdpDaemon(topology).start()
        self.addCleanup(daemon.stop)
        sock = os.path.join(daemon.dir, "control.sock")
        self.assertEqual(ctl("zones", "list", "--socket", sock).returncode, 0)
        self.assertEqual(daemon.terminate(), 0)
        self.assertFalse(os.path.exists(sock))
        for args in (["zones", "list"], ["export", "xdp.example"], ["health-checks", "list"]):
            proc = ctl(*args, "--socket", sock)
            self.assertEqual(proc.returncode, 2, proc.stderr)


# --- the systemd unit -------------------------------------------------------------------------------

UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging", "systemd",
                    "meridiand.service")


def unit_capabilities():
    with open(UNIT) as f:
        for line in f:
            if line.startswith("CapabilityBoundingSet="):
                return line.split("=", 1)[1].split()
    raise AssertionError("no CapabilityBoundingSet in " + UNIT)


class SystemdUnitTest(unittest.TestCase):
    """meridiand with exactly the unit's capability set attaches XDP, answers from it and serves
    its control socket."""

    def test_unit_capabilities_are_enough(self):
        caps = unit_capabilities()
        self.assertEqual(set(caps), {"CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN",
                                     "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"})
        with open(UNIT) as f:
            unit = f.read()
        self.assertIn("AmbientCapabilities=" + " ".join(caps), unit)
        self.assertIn("ExecStartPre=/usr/local/sbin/meridiand --check-config", unit)
        topology = netns.topology_or_skip()
        self.addCleanup(topology.destroy)
        daemon = netns.XdpDaemon(topology)
        self.addCleanup(daemon.stop)
        bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
        # nsenter needs CAP_SYS_ADMIN of its own, so it runs first; setpriv then drops the rest.
        daemon.spawn(["nsenter", f"--net=/run/netns/{topology.server}", "setpriv",
                      f"--bounding-set={bounding}", "--inh-caps=-all", "--", netns.MERIDIAND,
                      "--config", os.path.join(daemon.dir, "meridian.json")],
                     "meridiand ready", netns.READY_TIMEOUT_S)
        status = netns.run(["grep", "-E", "^Cap(Bnd|Eff):", f"/proc/{daemon.proc.pid}/status"])
        numbers = {"CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21,
                   "CAP_PERFMON": 38, "CAP_BPF": 39}
        mask = sum(1 << numbers[c] for c in caps)
        self.assertIn(f"CapBnd:\t{mask:016x}", status.stdout)
        self.assertIn(f"CapEff:\t{mask:016x}", status.stdout)
        self.assertIsNotNone(daemon.wait_for_line("XDP program attached to veth-srv", 0),
                             daemon.log())
        before = daemon.stats()
        out = netns.run(["ip", "netns", "exec", topology.client, "dig", "+short", "+time=3",
                         "+tries=1", f"@{netns.SERVER4}", "www.xdp.example.", "A"]).stdout
        self.assertEqual(sorted(out.split()), ["198.18.10.80", "198.18.10.81"])
        self.assertEqual(netns.delta(before, daemon.stats())["answered"], 1)
        proc = ctl("zones", "list", "--socket", os.path.join(daemon.dir, "control.sock"))
        self.assertEqual(proc.returncode, 0, proc.stderr)


# --- durability ------------------------------------------------------------------------------------


class DurabilityTest(unittest.TestCase):
    """SIGKILL during a stream of change batches, at least 50 times."""

    def start(self, daemon):
        daemon.proc = None
        daemon.lines = []
        daemon.start()
        return os.path.join(daemon.dir, "control.sock")

    def present(self, sock, daemon):
        # A daemon that died after its ready line fails the test with its log. One that is alive
        # but refuses the first connection (seen once in CI, not reproduced since) is asked again
        # for up to 5 s and counted: what this test asserts is what the restart found.
        deadline = time.monotonic() + 5
        while True:
            try:
                pages = list_pages("example.com", sock, timeout=30)
                break
            except OSError as e:
                if daemon.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"control API not answering after the restart ({e}); "
                                         f"exit status {daemon.proc.poll()}:\n{daemon.log()}")
                self.refused_first += 1
                print(f"\nfirst connection refused ({e}), retrying:\n{daemon.log()}")
                time.sleep(0.2)
        batches = {}
        counter = None
        for rs in (rs for page in pages for rs in page["ResourceRecordSets"]):
            m = re.match(r"^r\d+\.b(\d+)\.example\.com\.$", rs["Name"])
            if m:
                batches[int(m.group(1))] = batches.get(int(m.group(1)), 0) + 1
            if rs["Name"] == "counter.example.com." and rs["Type"] == "TXT":
                counter = int(rs["ResourceRecords"][0]["Value"].strip('"'))
        return batches, counter

    def test_kill_minus_9_during_change_batches(self):
        daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                         "file": "example.com.zone"}])
        daemon.config["geoip"] = {"database": None}
        daemon.write_config(daemon.config)
        self.addCleanup(daemon.stop)
        acked = set()
        next_batch = 0
        kills = 0
        self.refused_first = 0
        rng = random.Random(7)
        in_flight_kills = 0
        while kills < KILLS:
            sock = self.start(daemon)
            batches, counter = self.present(sock, daemon)
            for b, n in batches.items():
                self.assertEqual(n, BATCH_SETS, f"batch {b} is half there ({n} of {BATCH_SETS}) "
                                 f"after kill {kills}")
            missing = acked - set(batches)
            self.assertFalse(missing, f"acknowledged batches lost after kill {kills}: {missing}")
            # The counter TXT is upserted by every batch: it names the newest batch present.
            self.assertEqual(counter, max(batches) if batches else None)

            stop = threading.Event()
            state = {"sent": 0, "acked_during": 0, "pending": None}

            def writer(start=next_batch):
                b = start
                while not stop.is_set():
                    changes = [{"Action": "CREATE", "ResourceRecordSet": {
                        "Name": f"r{i}.b{b}.example.com", "Type": "A", "TTL": 60,
                        "ResourceRecords": [{"Value": f"198.18.{b % 250}.{i + 1}"}]}}
                        for i in range(BATCH_SETS)]
                    changes.append({"Action": "UPSERT", "ResourceRecordSet": {
                        "Name": "counter.example.com", "Type": "TXT", "TTL": 60,
                        "ResourceRecords": [{"Value": f'"{b}"'}]}})
                    state["pending"] = b
                    try:
                        r = control_http.request("POST", "/v1/zones/example.com/rrsets",
                                                 {"Changes": changes}, unix=sock, timeout=30)
                    except OSError:
                        return  # killed: this batch may or may not be there, but whole
                    if r.status != 200:
                        state["error"] = r.body
                        return
                    acked.add(b)
                    state["acked_during"] += 1
                    b += 1
                    state["next"] = b

            t = threading.Thread(target=writer)
            t.start()
            time.sleep(rng.uniform(0.05, 0.5))
            daemon.proc.kill()  # SIGKILL
            daemon.proc.wait(10)
            stop.set()
            t.join(35)
            self.assertFalse(t.is_alive())
            self.assertNotIn("error", state, state.get("error"))
            if state["pending"] is not None and state["pending"] not in acked:
                in_flight_kills += 1
            next_batch = max(state.get("next", next_batch), (state["pending"] or 0) + 1)
            daemon.reader.join(5)
            daemon.proc.stderr.close()
            kills += 1
        # The last restart: everything acknowledged is there.
        sock = self.start(daemon)
        batches, counter = self.present(sock, daemon)
        self.assertFalse(acked - set(batches))
        self.assertGreater(len(acked), KILLS)  # batches went through between the kills
        self.assertGreater(in_flight_kills, KILLS // 2)  # most kills hit a batch in flight
        print(f"\n{kills} kills, {len(acked)} batches acknowledged, {len(batches)} present, "
              f"{in_flight_kills} kills during an unacknowledged batch, "
              f"{self.refused_first} first connections refused")


# --- security --------------------------------------------------------------------------------------


TOKEN = "e2e-token-0123456789abcdef"


class ControlApiSecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                             "file": "example.com.zone"}])
        cls.daemon.write_file("token", TOKEN + "\n")
        os.chmod(os.path.join(cls.daemon.dir, "token"), 0o600)
        cls.daemon.config["control"] = {"socket": "control.sock", "listen": "127.0.0.1:0",
                                        "token_file": "token", "max_body_bytes": 65536}
        cls.daemon.write_config(cls.daemon.config)
        cls.daemon.start()
        line = cls.daemon.wait_for_line("control API on", 0)
        m = re.search(r"tcp 127\.0\.0\.1:(\d+)", line or "")
        assert m, cls.daemon.log()
        cls.tcp = ("127.0.0.1", int(m.group(1)))
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_tcp_requires_the_token(self):
        for token in (None, "", "wrong-token-0123456789", TOKEN + "x", TOKEN[:-1]):
            for method, path in (("GET", "/v1/zones"), ("GET", "/metrics"),
                                 ("POST", "/v1/zones/example.com/rrsets"),
                                 ("GET", "/no/such/route")):
                with self.subTest(token=token, path=path):
                    r = control_http.request(method, path, body="{}" if method == "POST" else None,
                                             tcp=self.tcp, token=token)
                    self.assertEqual(r.status, 401, r.body)
                    self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
        r = control_http.request("GET", "/v1/zones", tcp=self.tcp,
                                 headers={"Authorization": "Basic " + TOKEN})
        self.assertEqual(r.status, 401)
        r = control_http.request("GET", "/v1/zones", tcp=self.tcp, token=TOKEN)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["HostedZones"][0]["Name"], "example.com.")
        # meridianctl over TCP: with the token file it works, without it is refused (exit 2).
        url = f"http://127.0.0.1:{self.tcp[1]}"
        proc = ctl("zones", "list", "--url", url,
                   "--token-file", os.path.join(self.daemon.dir, "token"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = ctl("zones", "list", "--url", url)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("Unauthorized", proc.stderr)

    def test_socket_is_not_world_writable(self):
        mode = stat.S_IMODE(os.stat(self.sock).st_mode)
        self.assertTrue(stat.S_ISSOCK(os.stat(self.sock).st_mode))
        self.assertEqual(mode & 0o007, 0, oct(mode))
        self.assertEqual(mode, 0o660, oct(mode))

    def test_bad_requests_get_4xx_and_serving_goes_on(self):
        stop = threading.Event()
        results = {"answered": 0, "lost": 0}

        def dns_load():
            while not stop.is_set():
                q = dns.message.make_query("www.example.com.", "A")
                try:
                    r = dns.query.udp(q, self.daemon.udp4[0], port=self.daemon.udp4[1],
                                      timeout=2)
                    results["answered" if r.rcode() == dns.rcode.NOERROR else "lost"] += 1
                except Exception:
                    results["lost"] += 1
                time.sleep(0.005)

        t = threading.Thread(target=dns_load)
        t.start()
        started = time.monotonic()
        try:
            cases = [
                ("oversized", lambda: control_http.request(
                    "POST", "/v1/zones/example.com/rrsets", "x" * 200000, unix=self.sock), 413),
                ("not JSON", lambda: control_http.request(
                    "POST", "/v1/zones/example.com/rrsets", "{nope", unix=self.sock), 400),
                ("empty body", lambda: control_http.request(
                    "POST", "/v1/zones/example.com/rrsets", "", unix=self.sock), 400),
                ("not a batch", lambda: control_http.request(
                    "POST", "/v1/zones/example.com/rrsets", [1, 2], unix=self.sock), 400),
                ("unknown route", lambda: control_http.request(
                    "GET", "/v1/nothing", unix=self.sock), 404),
                ("wrong method", lambda: control_http.request(
                    "PATCH", "/v1/zones", unix=self.sock), 405),
                ("oversized over TCP", lambda: control_http.request(
                    "POST", "/v1/zones", "x" * 200000, tcp=self.tcp, token=TOKEN), 413),
            ]
            for name, send, status in cases:
                with self.subTest(name):
                    r = send()
                    self.assertEqual(r.status, status, r.body)
                    if status != 405:
                        self.assertIn("Error", r.json())
            for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                        b"POST /v1/zones HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
                        b"GET /v1/zones HTTP/1.1\r\nBad header line\r\n\r\n"):
                with self.subTest(raw=raw):
                    out = control_http.raw_exchange(raw, unix=self.sock, timeout=3)
                    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
                    self.assertTrue(m is None or 400 <= int(m.group(1)) < 600, out[:200])
            # After all of it the API and DNS still answer.
            r = control_http.request("GET", "/v1/zones", unix=self.sock)
            self.assertEqual(r.status, 200)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))  # a second of DNS at least
        finally:
            stop.set()
            t.join(10)
        self.assertGreater(results["answered"], 10)
        self.assertEqual(results["lost"], 0, results)


# --- Route 53 rules of a change batch, through the real daemon ---------------------------------------


class ListRecordSetsPagingTest(unittest.TestCase):
    """`aws route53 list-resource-record-sets` output (tests/unit/data/, in Route 53's order) as a
    zone file and as an import, unchanged; ListResourceRecordSets pages in Route 53's order
    (labels reversed, then type, then SetIdentifier) through StartRecord*/MaxItems and
    IsTruncated/NextRecord*, and `meridianctl record-sets list` follows the pages."""

    FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "unit", "data",
                           "route53-list-resource-record-sets.json")

    @classmethod
    def setUpClass(cls):
        with open(cls.FIXTURE) as f:
            cls.fixture = f.read()
        cls.daemon = loopback.Daemon(
            zones=[{"origin": "example.org.", "format": "route53-json", "file": "org.json"}],
            extra_files={"org.json": cls.fixture})
        cls.daemon.start()
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    @staticmethod
    def positions(sets):
        # Route 53 prints a wildcard's '*' as the octal escape \052; meridiand prints '*'.
        return [(rs["Name"].replace("\\052.", "*.", 1), rs["Type"], rs.get("SetIdentifier"))
                for rs in sets]

    def get(self, query):
        r = control_http.request("GET", "/v1/zones/example.org/rrsets?" + query, unix=self.sock)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_pages_in_route53_order(self):
        expected = self.positions(json.loads(self.fixture)["ResourceRecordSets"])
        pages = list_pages("example.org", self.sock, "MaxItems=4")
        self.assertEqual(len(pages), 4)  # 15 record sets
        for page in pages:
            self.assertEqual(page["MaxItems"], "4")
            self.assertLessEqual(len(page["ResourceRecordSets"]), 4)
        self.assertNotIn("NextRecordName", pages[-1])
        seen = [p for page in pages for p in self.positions(page["ResourceRecordSets"])]
        self.assertEqual(seen, expected)
        # Between a weighted pair: the next one is named by its identifier.
        page = self.get("StartRecordName=api.example.org.&MaxItems=1")
        self.assertEqual((page["NextRecordName"], page["NextRecordType"],
                          page["NextRecordIdentifier"]), ("api.example.org.", "A", "green"))
        r = control_http.request("GET", "/v1/zones/example.org/rrsets?StartRecordType=A",
                                 unix=self.sock)
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("StartRecordType", r.json()["Error"]["Message"])

    def test_meridianctl_follows_pages(self):
        proc = ctl("record-sets", "list", "example.org", "--page-size", "2", "--json",
                   "--socket", self.sock)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        listed = json.loads(proc.stdout)
        self.assertEqual(self.positions(listed["ResourceRecordSets"]),
                         self.positions(json.loads(self.fixture)["ResourceRecordSets"]))
        self.assertFalse(listed["IsTruncated"])
        text = ctl("record-sets", "list", "example.org", "--page-size", "3", "--socket",
                   self.sock).stdout
        self.assertEqual(len([l for l in text.splitlines() if ".example.org." in l
                              or l.startswith("example.org.")]), 15, text)

    def test_import_takes_the_output_unchanged(self):
        path = os.path.join(self.daemon.dir, "import.json")
        with open(path, "w") as f:
            f.write(self.fixture)
        proc = ctl("import", path, "--zone", "example.org", "--format", "route53-json",
                   "--socket", self.sock)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(len(self.get("")["ResourceRecordSets"]), 15)


class ChangeBatchRulesTest(unittest.TestCase):
    """A second PRIMARY in a failover group and a CountryCode that does not exist are refused
    with 400 InvalidChangeBatch naming the JSON path, and the zone stays as it was."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                             "file": "example.com.zone"}])
        cls.daemon.config["geoip"] = {"database": None}
        cls.daemon.write_config(cls.daemon.config)
        cls.daemon.start()
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def record_sets(self):
        r = control_http.request("GET", "/v1/zones/example.com/rrsets", unix=self.sock)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["ResourceRecordSets"]

    def post(self, *record_sets):
        changes = [{"Action": "CREATE", "ResourceRecordSet": rs} for rs in record_sets]
        return control_http.request("POST", "/v1/zones/example.com/rrsets",
                                    {"Changes": changes}, unix=self.sock)

    def assert_refused(self, r, path):
        self.assertEqual(r.status, 400, r.body)
        error = r.json()["Error"]
        self.assertEqual(error["Code"], "InvalidChangeBatch", r.body)
        self.assertTrue(error["Message"].startswith(path + ": "), error["Message"])
        return error["Message"]

    def status(self, name):
        q = dns.message.make_query(name, "A")
        return dns.query.udp(q, self.daemon.udp4[0], port=self.daemon.udp4[1], timeout=2).rcode()

    def test_second_primary_and_unknown_country_are_refused(self):
        def failover(set_id, role, ip):
            return {"Name": "f.example.com", "Type": "A", "SetIdentifier": set_id,
                    "Failover": role, "TTL": 60, "ResourceRecords": [{"Value": ip}]}

        before = self.record_sets()
        message = self.assert_refused(
            self.post(failover("a", "PRIMARY", "192.0.2.1"), failover("b", "PRIMARY", "192.0.2.2")),
            "/Changes/1/ResourceRecordSet/Failover")
        self.assertIn("second PRIMARY", message)
        message = self.assert_refused(
            self.post({"Name": "g.example.com", "Type": "A", "SetIdentifier": "x",
                       "GeoLocation": {"CountryCode": "XX"}, "TTL": 60,
                       "ResourceRecords": [{"Value": "192.0.2.3"}]}),
            "/Changes/0/ResourceRecordSet/GeoLocation/CountryCode")
        self.assertIn('"XX" is not an ISO 3166-1 alpha-2 country code', message)
        self.assertEqual(self.record_sets(), before)
        self.assertEqual(self.status("f.example.com."), dns.rcode.NXDOMAIN)
        self.assertEqual(self.status("g.example.com."), dns.rcode.NXDOMAIN)
        # One of each role, and a real country, are accepted.
        r = self.post(failover("a", "PRIMARY", "192.0.2.1"), failover("b", "SECONDARY", "192.0.2.2"),
                      {"Name": "g.example.com", "Type": "A", "SetIdentifier": "ua",
                       "GeoLocation": {"CountryCode": "UA"}, "TTL": 60,
                       "ResourceRecords": [{"Value": "192.0.2.3"}]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(len(self.record_sets()), len(before) + 3)


class HealthCheckApiTest(unittest.TestCase):
    """Route 53's CreateHealthCheck (CallerReference + HealthCheckConfig, a generated id,
    idempotent on CallerReference, HealthCheckAlreadyExists), UpdateHealthCheck with
    HealthCheckVersion (HealthCheckVersionMismatch), and ChangeTagsForResource /
    ListTagsForResource on checks and zones, kept across a restart; through the API and
    meridianctl."""

    UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    # Disabled: never probed, so nothing here depends on a backend.
    CONFIG = {"Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9, "RequestInterval": 30,
              "Disabled": True}

    def setUp(self):
        self.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                              "file": "example.com.zone"}])
        self.daemon.config["geoip"] = {"database": None}
        self.daemon.write_config(self.daemon.config)
        self.addCleanup(self.daemon.stop)
        self.daemon.start()
        self.sock = os.path.join(self.daemon.dir, "control.sock")

    def api(self, method, path, body=None):
        return control_http.request(method, path, body, unix=self.sock)

    def ctl(self, *args):
        return ctl(*args, "--socket", self.sock)

    def assert_error(self, r, status, code, path=None):
        self.assertEqual(r.status, status, r.body)
        error = r.json()["Error"]
        self.assertEqual(error["Code"], code, r.body)
        if path is not None:
            self.assertTrue(error["Message"].startswith(path + ": "), error["Message"])

    def create(self, reference, config=None):
        return self.api("POST", "/v1/healthchecks",
                        {"CallerReference": reference, "HealthCheckConfig": config or self.CONFIG})

    def test_create_is_idempotent_on_caller_reference(self):
        r = self.create("ref-1")
        self.assertEqual(r.status, 201, r.body)
        first = r.json()
        self.assertTrue(first["Created"])
        check = first["HealthCheck"]
        self.assertRegex(check["Id"], self.UUID)
        self.assertEqual(check["CallerReference"], "ref-1")
        self.assertEqual(check["HealthCheckConfig"], self.CONFIG)
        self.assertEqual(check["HealthCheckVersion"], 1)
        self.assertEqual(first["Location"], "/v1/healthchecks/" + check["Id"])
        # The same request again: the same check, nothing created.
        r = self.create("ref-1")
        self.assertEqual(r.status, 201, r.body)
        self.assertFalse(r.json()["Created"])
        self.assertEqual(r.json()["HealthCheck"], check)
        # Another reference with the same settings: a second check.
        r = self.create("ref-2")
        self.assertEqual(r.status, 201, r.body)
        self.assertNotEqual(r.json()["HealthCheck"]["Id"], check["Id"])
        # The first reference with other settings: refused, nothing changed.
        r = self.create("ref-1", dict(self.CONFIG, Port=10))
        self.assert_error(r, 409, "HealthCheckAlreadyExists", "/CallerReference")
        self.assertIn(check["Id"], r.json()["Error"]["Message"])
        listed = self.api("GET", "/v1/healthchecks").json()["HealthChecks"]
        self.assertEqual([h["Id"] for h in listed if h.get("CallerReference") == "ref-1"],
                         [check["Id"]])
        self.assertEqual(self.api("GET", "/v1/healthchecks/" + check["Id"]).json()["HealthCheck"],
                         check)
        # Errors name their JSON path; the id is generated, not given in the config.
        self.assert_error(self.create("ref-3", dict(self.CONFIG, Port=0)), 400, "InvalidInput",
                          "/HealthCheckConfig/Port")
        self.assert_error(self.create("ref-3", dict(self.CONFIG, Id="mine")), 400,
                          "InvalidInput", "/HealthCheckConfig/Id")
        self.assert_error(self.create("x" * 65), 400, "InvalidInput", "/CallerReference")
        # meridianctl takes the same request.
        request = json.dumps({"CallerReference": "ref-1", "HealthCheckConfig": self.CONFIG})
        p = self.ctl("health-checks", "create", request)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(),
                         f"health check {check['Id']} exists (same CallerReference)")
        p = self.ctl("health-checks", "create",
                     json.dumps({"CallerReference": "ref-9", "HealthCheckConfig": self.CONFIG}))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.strip(), r"^health check [0-9a-f-]{36} created$")
        p = self.ctl("health-checks", "create",
                     json.dumps({"CallerReference": "ref-9",
                                 "HealthCheckConfig": dict(self.CONFIG, Port=11)}))
        self.assertEqual(p.returncode, 3, p.stdout)
        self.assertIn("HealthCheckAlreadyExists", p.stderr)

    def test_update_follows_the_version(self):
        check = self.create("ref-u").json()["HealthCheck"]
        path = "/v1/healthchecks/" + check["Id"]
        r = self.api("POST", path, {"HealthCheckVersion": 1, "Port": 8080, "FailureThreshold": 5})
        self.assertEqual(r.status, 200, r.body)
        updated = r.json()["HealthCheck"]
        self.assertEqual(updated["HealthCheckVersion"], 2)
        self.assertEqual(updated["HealthCheckConfig"],
                         dict(self.CONFIG, Port=8080, FailureThreshold=5))
        self.assertEqual(updated["CallerReference"], "ref-u")
        # A writer that read version 1 is refused; nothing changes.
        r = self.api("POST", path, {"HealthCheckVersion": 1, "Port": 81})
        self.assert_error(r, 409, "HealthCheckVersionMismatch", "/HealthCheckVersion")
        self.assertEqual(self.api("GET", path).json()["HealthCheck"], updated)
        # Without a version the update applies; each one counts.
        r = self.api("POST", path, {"Inverted": True})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["HealthCheck"]["HealthCheckVersion"], 3)
        self.assert_error(self.api("POST", path, {"Type": "HTTP"}), 400, "InvalidInput", "/Type")
        self.assert_error(self.api("POST", path, {"Port": 70000}), 400, "InvalidInput", "/Port")
        self.assert_error(self.api("POST", "/v1/healthchecks/nope", {"Port": 1}), 404,
                          "NoSuchHealthCheck")
        # meridianctl: --version N, refused (exit 3) when stale.
        p = self.ctl("health-checks", "update", check["Id"], "--version", "3", '{"Port": 9090}')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), f"health check {check['Id']} updated to version 4")
        p = self.ctl("health-checks", "update", check["Id"], "--version", "3", '{"Port": 9091}')
        self.assertEqual(p.returncode, 3, p.stdout)
        self.assertIn("HealthCheckVersionMismatch", p.stderr)
        shown = json.loads(self.ctl("health-checks", "show", check["Id"]).stdout)
        self.assertEqual(shown["HealthCheckVersion"], 4)
        self.assertEqual(shown["HealthCheckConfig"]["Port"], 9090)
        # A check given with its own id is versioned too: a replacement counts as an update.
        flat = dict(self.CONFIG, Id="flat-1")
        self.assertEqual(self.api("POST", "/v1/healthchecks", flat).status, 200)
        r = self.api("POST", "/v1/healthchecks", flat)
        self.assertEqual(r.json()["HealthCheck"]["HealthCheckVersion"], 2)
        r = self.api("POST", "/v1/healthchecks/flat-1", {"HealthCheckVersion": 2, "Port": 19})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["HealthCheck"], dict(flat, Port=19, HealthCheckVersion=3))

    def tags(self, kind, resource):
        r = self.api("GET", f"/v1/tags/{kind}/{resource}")
        self.assertEqual(r.status, 200, r.body)
        tag_set = r.json()["ResourceTagSet"]
        self.assertEqual(tag_set["ResourceType"], kind)
        return {t["Key"]: t["Value"] for t in tag_set["Tags"]}

    def test_tags_on_checks_and_zones_survive_a_restart(self):
        check = self.create("ref-t").json()["HealthCheck"]
        zone = self.api("GET", "/v1/zones/example.com").json()["HostedZone"]
        zone_id = zone["Id"].split("/")[-1]
        self.assertEqual(self.tags("healthcheck", check["Id"]), {})
        self.assertEqual(self.tags("hostedzone", zone_id), {})
        r = self.api("POST", f"/v1/tags/healthcheck/{check['Id']}",
                     {"AddTags": [{"Key": "team", "Value": "edge"}, {"Key": "env", "Value": "x"}]})
        self.assertEqual(r.status, 200, r.body)
        p = self.ctl("tags", "change", "--resource-type", "hostedzone", "--resource-id",
                     "example.com", "--add", "owner=dns", "--add", "tier=gold")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"owner\s+dns")
        p = self.ctl("tags", "change", "--resource-type", "healthcheck", "--resource-id",
                     check["Id"], "--add", "env=prod", "--remove", "team")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.tags("healthcheck", check["Id"]), {"env": "prod"})
        # Tags are not the configuration: the version stays.
        got = self.api("GET", "/v1/healthchecks/" + check["Id"]).json()["HealthCheck"]
        self.assertEqual(got["HealthCheckVersion"], 1)
        self.assertEqual(got["Tags"], [{"Key": "env", "Value": "prod"}])
        # Limits and unknown resources, with the JSON path.
        many = [{"Key": f"k{i}", "Value": "v"} for i in range(10)]
        self.assert_error(self.api("POST", f"/v1/tags/hostedzone/{zone_id}", {"AddTags": many}),
                          400, "InvalidInput", "/AddTags")
        self.assert_error(self.api("POST", f"/v1/tags/hostedzone/{zone_id}",
                                   {"AddTags": [{"Key": "k" * 129, "Value": ""}]}),
                          400, "InvalidInput", "/AddTags/0/Key")
        self.assert_error(self.api("POST", f"/v1/tags/hostedzone/{zone_id}",
                                   {"AddTags": [{"Key": "k", "Value": "v" * 257}]}),
                          400, "InvalidInput", "/AddTags/0/Value")
        self.assert_error(self.api("GET", "/v1/tags/hostedzone/nope.example"), 404,
                          "NoSuchHostedZone")
        self.assert_error(self.api("GET", "/v1/tags/healthcheck/nope"), 404, "NoSuchHealthCheck")
        self.assert_error(self.api("GET", "/v1/tags/volume/x"), 400, "InvalidInput")
        # An update keeps the tags.
        self.assertEqual(self.api("POST", "/v1/healthchecks/" + check["Id"], {"Port": 7}).status,
                         200)
        self.assertEqual(self.tags("healthcheck", check["Id"]), {"env": "prod"})

        self.daemon.terminate()
        self.daemon.lines = []
        self.daemon.start()
        self.assertEqual(self.tags("healthcheck", check["Id"]), {"env": "prod"})
        self.assertEqual(self.tags("hostedzone", zone_id), {"owner": "dns", "tier": "gold"})
        p = self.ctl("tags", "list", "--resource-type", "hostedzone", "--resource-id", zone_id,
                     "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["ResourceTagSet"],
                         {"ResourceType": "hostedzone", "ResourceId": zone_id,
                          "Tags": [{"Key": "owner", "Value": "dns"},
                                   {"Key": "tier", "Value": "gold"}]})
        got = self.api("GET", "/v1/healthchecks/" + check["Id"]).json()["HealthCheck"]
        self.assertEqual(got["HealthCheckVersion"], 2)
        self.assertEqual(got["CallerReference"], "ref-t")
        # What the server stored loads without a warning about its own fields.
        self.assertNotIn("ignored", self.daemon.log())
        # The same reference is still known after the restart.
        r = self.create("ref-t", dict(self.CONFIG, Port=7))
        self.assertEqual(r.status, 201, r.body)
        self.assertFalse(r.json()["Created"])


def main():
    import argparse
    import sys
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meridiand", required=True)
    parser.add_argument("--meridianctl", required=True)
    parser.add_argument("--xdp-pass-object", required=True)
    args, rest = parser.parse_known_args()
    netns.MERIDIAND = loopback.MERIDIAND = os.path.abspath(args.meridiand)
    netns.MERIDIANCTL = os.path.abspath(args.meridianctl)
    netns.XDP_PASS_OBJECT = os.path.abspath(args.xdp_pass_object)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
