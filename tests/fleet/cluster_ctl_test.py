#!/usr/bin/python3
"""meridianctl's fleet commands end to end, against real etcd members (etcd_cluster.py) and real
meridiand processes on loopback:

- SingleHostTest: a meridiand without a "cluster" section is not a fleet member (cluster status
  exit 3 NotAFleetMember, no fleet column, no meridian_fleet_* metrics); `cluster import` refuses
  a database that a running meridiand holds, and a missing one.
- ClusterImportTest: a state database made by a single-host meridiand through its API (zones,
  record sets, a health check, changes) imported into etcd in one transaction and in batches
  (the same keys and values), served by an edge started on the prefix (DNS answers, cluster
  status, health votes, metrics, the change history); importing into a non-empty prefix is
  refused; an edge serves nothing of a prefix whose head key is not written yet.
- TlsEdgeTest: etcd on https only with client certificates (made by openssl now); an edge with
  cluster.tls joins it and serves a zone created through its API; import over TLS.
- QuorumLossTest: two edges on a 3-member etcd; both listed with their applied revision; with
  two members killed the edge says "unreachable since" (status and metric) and refuses writes;
  with them restarted it is connected again.

Usage: cluster_ctl_test.py --meridiand PATH --meridianctl PATH [unittest args]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unittest

import dns.message
import dns.query
import dns.rcode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import control_http  # noqa: E402
from daemon_process import DaemonProcess  # noqa: E402
from etcd_cluster import EtcdCluster, free_port  # noqa: E402

MERIDIAND = None
MERIDIANCTL = None
READY_TIMEOUT_S = 30
CONVERGE_TIMEOUT_S = 30


class Meridiand(DaemonProcess):
    """meridiand on 127.0.0.1 (a port the kernel picks), its state database and control socket in
    its temp dir; a fleet edge when `cluster` is given (the "cluster" section)."""

    def __init__(self, cluster=None):
        super().__init__("meridian-fleet-ctl-")
        # A fleet edge takes its zones from etcd only (no "zones" with "cluster").
        self.config = {"listen": ["127.0.0.1:0"], "workers": 1, "log": {"level": "info"},
                       "state": {"database": "state.db"}, "control": {"socket": "control.sock"}}
        if cluster:
            self.config["cluster"] = cluster
        else:
            self.config["zones"] = []
        self.socket = os.path.join(self.dir, "control.sock")
        self.database = os.path.join(self.dir, "state.db")
        self.udp = None

    def start(self):
        self.write_file("meridian.json", json.dumps(self.config, indent=2))
        line = self.spawn([MERIDIAND, "--config", os.path.join(self.dir, "meridian.json")],
                          "meridiand ready", READY_TIMEOUT_S)
        host, port = re.search(r"(\d+\.\d+\.\d+\.\d+):(\d+)", line).groups()
        self.udp = (host, int(port))
        return self

    def ctl(self, *args):
        return run_ctl(*args, "--socket", self.socket)

    def ok(self, *args):
        proc = self.ctl(*args)
        if proc.returncode != 0:
            raise AssertionError(f"meridianctl {' '.join(args)}: exit {proc.returncode}\n"
                                 f"{proc.stdout}{proc.stderr}\n--- meridiand ---\n{self.log()}")
        return proc.stdout

    def ok_json(self, *args):
        return json.loads(self.ok(*args, "--json"))

    def metrics(self):
        return control_http.request("GET", "/metrics", unix=self.socket).body

    def query(self, name, rdtype="A"):
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, self.udp[0], port=self.udp[1], timeout=3)

    def answers(self, name, rdtype="A"):
        """The answer's record texts, or None when the answer is not NOERROR."""
        r = self.query(name, rdtype)
        if r.rcode() != dns.rcode.NOERROR:
            return None
        return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def run_ctl(*args, timeout=60):
    return subprocess.run([MERIDIANCTL, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def wait_until(what, fn, timeout=CONVERGE_TIMEOUT_S, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


def metric(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return None if m is None else float(m.group(1))


def edge_cluster(etcd, prefix, edge, vantage=None):
    section = {"endpoints": etcd.client_urls, "prefix": prefix, "edge": edge, "lease_ttl_s": 4}
    if vantage:
        section["vantage"] = vantage
    if etcd.tls:
        section["tls"] = {"ca": etcd.ca_file, "certificate": etcd.client_cert,
                          "key": etcd.client_key}
    return section


def etcd_values(etcd, prefix):
    """{key: value} under prefix, read with etcdctl (-w json: keys and values base64)."""
    import base64
    r = etcd.etcdctl("get", "--prefix", prefix, "-w", "json", check=True)
    kvs = json.loads(r.stdout).get("kvs", [])
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in kvs}


def etcd_mod_revision(etcd, key):
    r = etcd.etcdctl("get", key, "-w", "json", check=True)
    kvs = json.loads(r.stdout).get("kvs", [])
    return int(kvs[0]["mod_revision"]) if kvs else 0


def make_single_host_state(daemon, check_port):
    """Zones, record sets, a health check and changes through the API of a single-host daemon;
    returns {"zone_id", "change_id"}."""
    daemon.ok("zones", "create", "import.example", "--comment", "to be imported")
    daemon.ok("zones", "create", "second.example")
    change = daemon.ok_json("record-sets", "create", "import.example", "--name",
                            "www.import.example", "--type", "A", "--value", "198.18.0.10")
    daemon.ok("record-sets", "create", "second.example", "--name", "api.second.example", "--type",
              "A", "--value", "198.18.0.20")
    daemon.ok("health-checks", "create", json.dumps(
        {"Id": "web-check", "Type": "TCP", "IPAddress": "127.0.0.1", "Port": check_port,
         "RequestInterval": 1, "FailureThreshold": 1}))
    zones = daemon.ok_json("zones", "list")["HostedZones"]
    zone_id = next(z["Id"] for z in zones if z["Name"] == "import.example.")
    return {"zone_id": zone_id.split("/")[-1],
            "change_id": change["ChangeInfo"]["Id"].split("/")[-1]}


class SingleHostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Meridiand().start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_cluster_status_says_not_a_fleet_member(self):
        for extra in ((), ("--json",)):
            proc = self.daemon.ctl("cluster", "status", *extra)
            self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
            self.assertIn("NotAFleetMember", proc.stderr)
            self.assertIn("single-host", proc.stderr)
            self.assertEqual(proc.stdout, "")

    def test_no_fleet_column_and_no_fleet_metrics(self):
        self.daemon.ok("health-checks", "create", json.dumps(
            {"Id": "single", "Type": "TCP", "IPAddress": "127.0.0.1", "Port": free_port(),
             "RequestInterval": 10, "FailureThreshold": 1}))
        self.assertNotIn("fleet vote", self.daemon.ok("health"))
        self.assertNotIn("Vote", json.dumps(self.daemon.ok_json("health")))
        text = self.daemon.metrics()
        self.assertIn("meridian_zones", text)
        self.assertNotIn("meridian_fleet_", text)

    def test_import_refused_while_meridiand_holds_the_database(self):
        proc = run_ctl("cluster", "import", "--state-db", self.daemon.database,
                       "--endpoints", f"http://127.0.0.1:{free_port()}")
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        self.assertIn("in use by", proc.stderr)
        self.assertIn(f"(pid {self.daemon.proc.pid})", proc.stderr)

    def test_import_of_a_missing_database_is_a_usage_error(self):
        missing = os.path.join(self.daemon.dir, "no-such.db")
        proc = run_ctl("cluster", "import", "--state-db", missing, "--endpoints",
                       "http://127.0.0.1:1")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(missing, proc.stderr)
        self.assertFalse(os.path.exists(missing), "the import created the database it was given")

    def test_bad_arguments_are_usage_errors(self):
        for args, needle in ((["--prefix", "meridian"], "--prefix"),
                             (["--cert", "/x.pem"], "--cert and --key")):
            proc = run_ctl("cluster", "import", "--state-db", self.daemon.database,
                           "--endpoints", "http://127.0.0.1:1", *args)
            self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
            self.assertIn(needle, proc.stderr)


class ClusterImportTest(unittest.TestCase):
    """One etcd member; the state database of a single-host meridiand, stopped, imported."""

    @classmethod
    def setUpClass(cls):
        cls.etcd = EtcdCluster(size=1).start()
        cls.source = Meridiand()
        try:
            cls.source.start()
            cls.made = make_single_host_state(cls.source, free_port())
            cls.source.terminate()
        except BaseException:
            cls.source.stop()
            cls.etcd.stop()
            raise
        cls.edges = []

    @classmethod
    def tearDownClass(cls):
        for edge in cls.edges:
            edge.stop()
        cls.source.stop()
        cls.etcd.stop()

    def start_edge(self, prefix, name):
        edge = Meridiand(edge_cluster(self.etcd, prefix, name, vantage="vantage-" + name))
        self.edges.append(edge)
        return edge.start()

    def import_into(self, prefix, *extra):
        return run_ctl("cluster", "import", "--state-db", self.source.database, "--endpoints",
                       self.etcd.endpoints, "--prefix", prefix, *extra)

    def test_batched_import_writes_what_one_transaction_writes(self):
        one = self.import_into("/one/", "--json")
        self.assertEqual(one.returncode, 0, one.stderr)
        report = json.loads(one.stdout)
        self.assertEqual(report["Transactions"], 1)
        self.assertEqual((report["Zones"], report["HealthChecks"]), (2, 1))
        self.assertGreaterEqual(report["Changes"], 2)
        # Two operations per transaction: every key alone, then the head.
        batched = self.import_into("/batched/", "--max-txn-ops", "2", "--json")
        self.assertEqual(batched.returncode, 0, batched.stderr)
        keys = 2 + 1 + report["Changes"]
        self.assertEqual(json.loads(batched.stdout)["Transactions"], keys + 1)
        a, b = etcd_values(self.etcd, "/one/"), etcd_values(self.etcd, "/batched/")
        self.assertEqual(len(a), keys + 1)
        strip = lambda values, p: {k[len(p):]: v for k, v in values.items()  # noqa: E731
                                   if k != p + "state/head"}
        self.assertEqual(strip(a, "/one/"), strip(b, "/batched/"))
        # The head is the last key written: every other key has a smaller revision.
        head_rev = etcd_mod_revision(self.etcd, "/batched/state/head")
        for key in b:
            if key != "/batched/state/head":
                self.assertLess(etcd_mod_revision(self.etcd, key), head_rev, key)
        # The values are the fleet's formats (manage/shared_state.h).
        zone = json.loads(a[f"/one/state/zones/{self.made['zone_id']}"])
        self.assertEqual(zone["Name"], "import.example.")
        self.assertEqual(zone["Comment"], "to be imported")
        www = [rs for rs in zone["ResourceRecordSets"] if rs["Name"] == "www.import.example."]
        self.assertEqual(www[0]["ResourceRecords"], [{"Value": "198.18.0.10"}])
        check = json.loads(a["/one/state/checks/web-check"])
        self.assertEqual((check["Id"], check["Type"]), ("web-check", "TCP"))
        change = json.loads(a[f"/one/changes/{self.made['change_id']}"])
        self.assertEqual(change["ZoneId"], self.made["zone_id"])

    def test_edge_serves_the_import_and_a_second_import_is_refused(self):
        proc = self.import_into("/meridian/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("imported 2 zones", proc.stdout)
        head_rev = etcd_mod_revision(self.etcd, "/meridian/state/head")
        self.assertGreater(head_rev, 0)

        edge = self.start_edge("/meridian/", "edge-a")
        wait_until("the imported zone answered",
                   lambda: edge.answers("www.import.example.") == ["198.18.0.10"])
        self.assertEqual(edge.answers("api.second.example."), ["198.18.0.20"])

        # cluster status: human and JSON.
        status = wait_until("the edge listed with the head revision", lambda: (
            lambda s: s if s["Connected"] and s["Edges"] and
            s["Edges"][0]["AppliedRevision"] >= head_rev else None)(edge.ok_json("cluster",
                                                                                 "status")))
        self.assertEqual((status["Edge"], status["Vantage"]), ("edge-a", "vantage-edge-a"))
        self.assertGreaterEqual(status["AppliedRevision"], head_rev)
        self.assertEqual(status["Edges"][0]["Lag"], 0)
        text = edge.ok("cluster", "status")
        self.assertRegex(text, r"edge:\s+edge-a \(vantage vantage-edge-a\)")
        self.assertRegex(text, r"etcd:\s+connected \(" + re.escape(self.etcd.client_urls[0]))
        self.assertRegex(text, r"lease:\s+[0-9a-f]+, ttl 4 s")
        # name, vantage, applied revision, lag, the local inputs' digest, started
        self.assertRegex(text, r"(?m)^edge-a\s+vantage-edge-a\s+\d+\s+0\s+[0-9a-f]{16}\s+\d{4}-")
        self.assertNotIn("local inputs differ", text)

        # The imported change history answers; INSYNC once this (only) edge serves it.
        change = edge.ok_json("get-change", self.made["change_id"])
        self.assertEqual(change["ChangeInfo"]["Status"], "INSYNC")

        # The imported check is probed here and voted on: a closed port, 0 of 1 healthy.
        wait_until("the check's vote", lambda: "0 of 1 vantage points healthy" in edge.ok("health"))
        health = edge.ok("health")
        self.assertIn("fleet vote", health.splitlines()[0])
        self.assertRegex(health, r"web-check\s+unhealthy\s+unhealthy: 0 of 1 vantage points")
        vote = edge.ok_json("health")["HealthCheckStatuses"][0]["Vote"]
        self.assertEqual((vote["HealthyObservers"], vote["Observers"]), (0, 1))

        # Metrics.
        m = edge.metrics()
        self.assertEqual(metric(m, "meridian_fleet_connected"), 1)
        self.assertEqual(metric(m, "meridian_fleet_edges"), 1)
        self.assertGreaterEqual(metric(m, "meridian_fleet_applied_revision"), head_rev)
        self.assertGreaterEqual(metric(m, "meridian_fleet_full_reloads_total"), 1)
        self.assertGreaterEqual(metric(m, "meridian_fleet_observations_written_total"), 1)
        self.assertEqual(metric(m, "meridian_fleet_apply_failures_total"), 0)
        self.assertEqual(metric(m, "meridian_fleet_writes_total", '{result="conflict"}'), 0)
        self.assertIsNotNone(metric(m, "meridian_fleet_watch_restarts_total"))
        # A write through the edge is one committed transaction.
        before = metric(m, "meridian_fleet_writes_total", '{result="committed"}')
        edge.ok("record-sets", "create", "import.example", "--name", "new.import.example",
                "--type", "A", "--value", "198.18.0.11")
        self.assertEqual(metric(edge.metrics(), "meridian_fleet_writes_total",
                                '{result="committed"}'), before + 1)
        self.assertEqual(edge.answers("new.import.example."), ["198.18.0.11"])

        # Importing again into the now non-empty prefix is refused and writes nothing.
        before = etcd_values(self.etcd, "/meridian/")
        again = self.import_into("/meridian/")
        self.assertEqual(again.returncode, 3, again.stdout + again.stderr)
        self.assertIn("already", again.stderr)
        self.assertIn("empty prefix", again.stderr)
        self.assertEqual(etcd_values(self.etcd, "/meridian/"), before)

    def test_edge_serves_nothing_of_a_prefix_without_its_head(self):
        proc = self.import_into("/source/")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        zone_key = f"state/zones/{self.made['zone_id']}"
        value = etcd_values(self.etcd, "/source/")["/source/" + zone_key]
        edge = self.start_edge("/partial/", "edge-p")
        wait_until("connected", lambda: edge.ok_json("cluster", "status")["Connected"])
        put = json.loads(self.etcd.etcdctl("put", "/partial/" + zone_key, value, "-w", "json",
                                           check=True).stdout)
        revision = int(put["header"]["revision"])
        wait_until("the edge watched the zone key", lambda: edge.ok_json(
            "cluster", "status")["WatchedRevision"] >= revision)
        r = edge.query("www.import.example.")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED, "a zone without the head key was served")
        self.etcd.etcdctl("put", "/partial/state/head", '{"At": 0}', check=True)
        wait_until("served once the head is written",
                   lambda: edge.answers("www.import.example.") == ["198.18.0.10"])


class TlsEdgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.etcd = EtcdCluster(size=1, tls=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.etcd.stop()

    def test_etcd_requires_the_client_certificate(self):
        proc = self.etcd.etcdctl("get", "/x", cert=False, timeout=30)
        self.assertNotEqual(proc.returncode, 0, "etcd answered a client without a certificate")

    def test_edge_with_client_certificate_serves_a_zone_made_through_its_api(self):
        edge = Meridiand(edge_cluster(self.etcd, "/tls/", "edge-tls"))
        try:
            edge.start()
            wait_until("connected over TLS", lambda: edge.ok_json("cluster", "status")["Connected"])
            edge.ok("zones", "create", "tls.example")
            edge.ok("record-sets", "create", "tls.example", "--name", "www.tls.example", "--type",
                    "A", "--value", "198.18.0.30")
            self.assertEqual(edge.answers("www.tls.example."), ["198.18.0.30"])
            keys = etcd_values(self.etcd, "/tls/")
            self.assertIn("/tls/state/head", keys)
            self.assertIn("/tls/edges/edge-tls", keys)
            self.assertTrue(any(k.startswith("/tls/state/zones/") for k in keys))
            self.assertRegex(edge.ok("cluster", "status"),
                             r"etcd:\s+connected \(https://127\.0\.0\.1:")
        finally:
            edge.stop()

    def test_import_over_tls(self):
        source = Meridiand()
        try:
            source.start()
            source.ok("zones", "create", "tls-import.example")
            source.terminate()
            base = ["cluster", "import", "--state-db", source.database, "--endpoints",
                    self.etcd.endpoints, "--prefix", "/tls-import/", "--cacert", self.etcd.ca_file]
            without = run_ctl(*base)
            self.assertEqual(without.returncode, 2, without.stdout + without.stderr)
            self.assertEqual(etcd_values(self.etcd, "/tls-import/"), {})
            proc = run_ctl(*base, "--cert", self.etcd.client_cert, "--key", self.etcd.client_key)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn("imported 1 zones", proc.stdout)
            self.assertIn("/tls-import/state/head", etcd_values(self.etcd, "/tls-import/"))
        finally:
            source.stop()


class QuorumLossTest(unittest.TestCase):
    def test_status_follows_the_quorum(self):
        with EtcdCluster(size=3) as etcd:
            a = Meridiand(edge_cluster(etcd, "/q/", "edge-a"))
            b = Meridiand(edge_cluster(etcd, "/q/", "edge-b"))
            try:
                a.start()
                b.start()
                a.ok("zones", "create", "quorum.example")
                a.ok("record-sets", "create", "quorum.example", "--name", "www.quorum.example",
                     "--type", "A", "--value", "198.18.0.40")
                wait_until("served by B", lambda: b.answers("www.quorum.example.") ==
                           ["198.18.0.40"])
                head = etcd_mod_revision(etcd, "/q/state/head")
                status = wait_until("both edges at the head", lambda: (
                    lambda s: s if len(s["Edges"]) == 2 and all(
                        e["AppliedRevision"] >= head and e["Lag"] == 0 for e in s["Edges"])
                    else None)(a.ok_json("cluster", "status")))
                self.assertEqual([e["Name"] for e in status["Edges"]], ["edge-a", "edge-b"])
                self.assertEqual(metric(a.metrics(), "meridian_fleet_edges"), 2)

                # Two of three members gone, the leader among them: no quorum.
                leader = etcd.leader_index()
                self.assertIsNotNone(leader)
                others = [i for i in range(3) if i != leader]
                etcd.kill(leader)
                etcd.kill(others[0])
                text = wait_until("unreachable shown", lambda: (
                    lambda t: t if "unreachable since" in t else None)(a.ok("cluster", "status")))
                self.assertRegex(text, r"etcd:\s+unreachable since \d{4}-\d\d-\d\dT")
                self.assertIn("writes are refused", text)
                self.assertEqual(metric(a.metrics(), "meridian_fleet_connected"), 0)
                write = a.ctl("record-sets", "create", "quorum.example", "--name",
                              "cut.quorum.example", "--type", "A", "--value", "198.18.0.41")
                self.assertEqual(write.returncode, 4, write.stdout + write.stderr)
                self.assertIn("etcd unreachable since", write.stderr)
                self.assertEqual(a.answers("www.quorum.example."), ["198.18.0.40"])

                etcd.restart(leader, wait=False)
                etcd.restart(others[0], wait=False)
                etcd.wait_healthy()
                wait_until("connected again",
                           lambda: a.ok_json("cluster", "status")["Connected"])
                self.assertIsNotNone(etcd.leader_index())
                self.assertEqual(metric(a.metrics(), "meridian_fleet_connected"), 1)
            finally:
                a.stop()
                b.stop()


def main():
    global MERIDIAND, MERIDIANCTL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meridiand", required=True)
    parser.add_argument("--meridianctl", required=True)
    args, rest = parser.parse_known_args()
    MERIDIAND = os.path.abspath(args.meridiand)
    MERIDIANCTL = os.path.abspath(args.meridianctl)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
