#!/usr/bin/python3
"""GSLB end to end: meridiand on loopback with real HTTP backends (python3 -m http.server
subprocesses on 127.0.0.x), real health checks, a test GeoIP database built with
tests/tools/make_test_mmdb.pl, and a webhook receiver. Checks weighted, failover, geolocation (ECS
answer and scope), latency (great-circle and operator table) and a CALCULATED check; that answers
move within RequestInterval x FailureThreshold + 1 s when a backend stops and move back when it
starts; that each transition reaches the webhook exactly once; and that reloads keep states.

Usage: gslb_e2e_test.py --meridiand PATH --source-dir DIR [unittest args, e.g. GslbFailoverTest]
"""

import argparse
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import control_http
from daemon_process import READY_NEEDLE, DaemonProcess

MERIDIAND = None
SOURCE_DIR = None

READY_TIMEOUT_S = 30  # sanitizer builds start slowly on a loaded machine
QUERY_TIMEOUT_S = 3
INTERVAL_S = 1  # RequestInterval of every check here
SLACK_S = 1.0  # the spec's "+ 1 s"
ZONE = "gslb.test."

# The test GeoIP database: three client networks in three countries (198.18.0.0/15 only).
GEO_NETWORKS = [
    {"network": "198.18.100.0/24", "continent": "EU", "country": "DE",
     "latitude": 50.1, "longitude": 8.7},    # Frankfurt: nearest built-in region eu-central-1
    {"network": "198.18.101.0/24", "continent": "NA", "country": "US", "subdivision": "VA",
     "latitude": 38.9, "longitude": -77.4},  # Ashburn: us-east-1
    {"network": "198.18.102.0/23", "continent": "AS", "country": "JP",
     "latitude": 35.7, "longitude": 139.7},  # Tokyo: no record set for JP -> '*'
    {"network": "fd00:18:100::/48", "continent": "EU", "country": "DE"},  # IPv6 ECS
]
# Clients in the latency table (and in no GeoIP network): the table decides.
LATENCY_CSV = """prefix,region,ms
198.18.110.0/24,us-east-1,80
198.18.110.0/24,eu-central-1,9
"""


def free_port(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Backend:
    """python3 -m http.server on 127.0.0.x:port, stopped and started again on the same port."""

    def __init__(self, host, directory):
        self.host = host
        self.port = free_port(host)
        self.directory = directory
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", self.host,
             "--directory", self.directory],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"backend {self.host}:{self.port} did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class WebhookReceiver:
    """An HTTP server in the test that records every POSTed JSON body."""

    def __init__(self):
        self.bodies = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.cond:
                    receiver.bodies.append(json.loads(body))
                    receiver.cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def transitions(self, check_id):
        with self.cond:
            return [(b["old_state"], b["new_state"]) for b in self.bodies
                    if b["check_id"] == check_id]

    def wait_for(self, check_id, new_state, count, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                n = sum(1 for b in self.bodies
                        if b["check_id"] == check_id and b["new_state"] == new_state)
                if n >= count:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def record(name, values, ttl=30, **routing):
    rs = {"Name": name + "." + ZONE, "Type": "A", "TTL": ttl,
          "ResourceRecords": [{"Value": v} for v in values]}
    rs.update(routing)
    return rs


def zone_json(extra_sets=()):
    sets = [
        {"Name": ZONE, "Type": "SOA", "TTL": 300, "ResourceRecords": [
            {"Value": "ns1.gslb.test. hostmaster.gslb.test. 1 7200 900 1209600 60"}]},
        {"Name": ZONE, "Type": "NS", "TTL": 300, "ResourceRecords": [{"Value": "ns1.gslb.test."}]},
        record("ns1", ["198.18.0.53"]),
        # Weighted: two healthy sets share the answers; one down -> the other only.
        record("weighted", ["198.18.1.1"], SetIdentifier="a", Weight=1, HealthCheckId="hc-a"),
        record("weighted", ["198.18.2.1"], SetIdentifier="b", Weight=1, HealthCheckId="hc-b"),
        # Failover: primary on backend a, secondary on backend b.
        record("failover", ["198.18.1.2"], SetIdentifier="primary", Failover="PRIMARY",
               HealthCheckId="hc-a"),
        record("failover", ["198.18.2.2"], SetIdentifier="secondary", Failover="SECONDARY",
               HealthCheckId="hc-b"),
        # Geolocation: DE and US, and the default.
        record("geo", ["198.18.1.3"], SetIdentifier="de", GeoLocation={"CountryCode": "DE"},
               HealthCheckId="hc-a"),
        record("geo", ["198.18.2.3"], SetIdentifier="us", GeoLocation={"CountryCode": "US"},
               HealthCheckId="hc-b"),
        record("geo", ["198.18.3.3"], SetIdentifier="default", GeoLocation={"CountryCode": "*"},
               HealthCheckId="hc-c"),
        # Latency: eu-central-1 on backend a, us-east-1 on backend b.
        record("latency", ["198.18.1.4"], SetIdentifier="eu", Region="eu-central-1",
               HealthCheckId="hc-a"),
        record("latency", ["198.18.2.4"], SetIdentifier="us", Region="us-east-1",
               HealthCheckId="hc-b"),
        # CALCULATED: healthy while both a and b are.
        record("calculated", ["198.18.9.1"], SetIdentifier="primary", Failover="PRIMARY",
               HealthCheckId="hc-both"),
        record("calculated", ["198.18.9.2"], SetIdentifier="secondary", Failover="SECONDARY"),
        # All down -> NODATA ("all_down" in the config) instead of failing open.
        record("alldown", ["198.18.1.5"], SetIdentifier="only", Weight=1, HealthCheckId="hc-a"),
    ]
    return {"ResourceRecordSets": sets + list(extra_sets)}


def health_checks(backends, thresholds):
    checks = []
    for key in ("a", "b", "c"):
        b = backends[key]
        checks.append({"Id": "hc-" + key, "Type": "HTTP", "IPAddress": b.host, "Port": b.port,
                       "ResourcePath": "/", "RequestInterval": INTERVAL_S,
                       "FailureThreshold": thresholds[key], "ConnectTimeoutMs": 900,
                       "ResponseTimeoutMs": 900})
    checks.append({"Id": "hc-both", "Type": "CALCULATED", "ChildHealthChecks": ["hc-a", "hc-b"],
                   "HealthThreshold": 2})
    return checks


class GslbDaemon(DaemonProcess):
    def __init__(self, backends, webhook_url, thresholds, extra_sets=(), extra_checks=()):
        super().__init__("meridiand-gslb-e2e-")
        self.thresholds = thresholds
        self.backends = backends
        self.write_file("gslb.test.json", json.dumps(zone_json(extra_sets), indent=1))
        self.write_file("latency.csv", LATENCY_CSV)
        self.write_file("geo.json", json.dumps({"ip_version": 6, "networks": GEO_NETWORKS}))
        subprocess.run(["perl", os.path.join(SOURCE_DIR, "tests/tools/make_test_mmdb.pl"),
                        os.path.join(self.dir, "geo.json"), os.path.join(self.dir, "geo.mmdb")],
                       check=True, timeout=60)
        self.checks = health_checks(backends, thresholds) + list(extra_checks)
        self.write_file("checks.json", json.dumps(self.checks, indent=1))
        self.config = {
            "listen": ["127.0.0.1:0"], "workers": 2, "log": {"level": "info"},
            "zones": [{"origin": ZONE, "format": "route53-json", "file": "gslb.test.json"}],
            "geoip": {"database": "geo.mmdb"},
            "health_checks": {"file": "checks.json"},
            "health": {"state_db": "health.db", "webhooks": [webhook_url]},
            "state": {"database": "state.db"}, "control": {"socket": "control.sock"},
            "latency_table": {"file": "latency.csv"},
            "all_down": [{"name": "alldown." + ZONE, "type": "A", "mode": "nodata"}],
        }
        self.config_path = os.path.join(self.dir, "meridian.json")
        self.write_file("meridian.json", json.dumps(self.config, indent=1))
        self.server = None

    def start(self):
        line = self.spawn([MERIDIAND, "--config", self.config_path], READY_NEEDLE, READY_TIMEOUT_S)
        host, port = re.search(r"(\d+\.\d+\.\d+\.\d+):(\d+)", line).groups()
        self.server = (host, int(port))
        return self


def query(server, name, ecs=None):
    """A query for NAME.gslb.test A, with ECS ("198.18.100.0", 24) when given."""
    options = [dns.edns.ECSOption(ecs[0], ecs[1])] if ecs else []
    q = dns.message.make_query(name + "." + ZONE, dns.rdatatype.A, use_edns=0, options=options)
    return dns.query.udp(q, server[0], port=server[1], timeout=QUERY_TIMEOUT_S)


def addresses(response):
    return sorted(rd.address for rrset in response.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def ecs_scope(response):
    for option in response.options:
        if option.otype == dns.edns.ECS:
            return option.scopelen
    return None


def answers(server, name, ecs=None, count=1):
    """The set of answer tuples over `count` queries."""
    return {tuple(addresses(query(server, name, ecs))) for _ in range(count)}


class GslbTestBase(unittest.TestCase):
    """One daemon, three backends, one webhook receiver per test class."""

    THRESHOLDS = {"a": 1, "b": 2, "c": 1}
    EXTRA_SETS = ()  # record sets a test class adds to zone_json()

    @classmethod
    def extra_checks(cls, backends):
        """Health checks a test class adds to health_checks()."""
        return []

    @classmethod
    def setUpClass(cls):
        cls.docroot = tempfile.mkdtemp(prefix="gslb-e2e-www-")
        with open(os.path.join(cls.docroot, "index.html"), "w") as f:
            f.write("ok\n")
        cls.backends = {key: Backend(f"127.0.0.{11 + i}", cls.docroot)
                        for i, key in enumerate(("a", "b", "c"))}
        cls.webhook = WebhookReceiver()
        cls.daemon = None
        try:
            for b in cls.backends.values():
                b.start()
            cls.daemon = GslbDaemon(cls.backends, cls.webhook.url, cls.THRESHOLDS,
                                    cls.EXTRA_SETS, cls.extra_checks(cls.backends)).start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.server = cls.daemon.server
        # Answers must come from the policy engine, not from a server that ignores the routing
        # fields: a daemon built without it says so, and the test fails loudly here (after
        # stopping what it started).
        if cls.daemon.wait_for_line("gslb: policy engine", 1) is None:
            log = cls.daemon.log()
            cls.tearDownClass()
            raise AssertionError("meridiand did not report a GSLB policy engine:\n" + log)

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()
        for b in cls.backends.values():
            b.stop()
        cls.webhook.close()
        subprocess.run(["rm", "-rf", cls.docroot], check=False)

    def wait_until(self, predicate, timeout, what):
        """Polls predicate every 50 ms; returns the seconds it took, fails after timeout."""
        start = time.monotonic()
        while True:
            if predicate():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                self.fail(f"{what}: not within {timeout:.1f} s\n" + self.daemon.log()[-4000:])
            time.sleep(0.05)

    def bound(self, key):
        return INTERVAL_S * self.THRESHOLDS[key] + SLACK_S

    def stop_backend(self, key):
        self.backends[key].stop()
        return time.monotonic()

    def start_backend(self, key):
        self.backends[key].start()
        return time.monotonic()


class GslbSteadyStateTest(GslbTestBase):
    """Every backend up: the answers each policy gives."""

    def test_weighted_uses_both_sets(self):
        seen = answers(self.server, "weighted", count=60)
        self.assertEqual(seen, {("198.18.1.1",), ("198.18.2.1",)})
        r = query(self.server, "weighted", ecs=("198.18.100.0", 24))
        self.assertEqual(ecs_scope(r), 0, "a weighted answer does not depend on the client")

    def test_failover_answers_primary(self):
        self.assertEqual(answers(self.server, "failover", count=10), {("198.18.1.2",)})

    def test_geolocation_by_ecs_country_with_scope(self):
        cases = [
            (("198.18.100.0", 24), ["198.18.1.3"], 24),  # DE
            (("198.18.101.7", 32), ["198.18.2.3"], 24),  # US: scope is the database network
            (("198.18.102.0", 24), ["198.18.3.3"], 23),  # JP: no JP record set -> '*'
            (("fd00:18:100::", 56), ["198.18.1.3"], 48),  # DE over IPv6
        ]
        for ecs, expected, scope in cases:
            with self.subTest(ecs=ecs):
                r = query(self.server, "geo", ecs=ecs)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                self.assertEqual(addresses(r), expected)
                self.assertEqual(ecs_scope(r), scope)
                opt = next(o for o in r.options if o.otype == dns.edns.ECS)
                self.assertEqual(opt.srclen, ecs[1], "source prefix copied")

    def test_geolocation_without_ecs_uses_the_resolver_address(self):
        # 127.0.0.1 is in no network of the test database: the default '*' record set.
        self.assertEqual(addresses(query(self.server, "geo")), ["198.18.3.3"])

    def test_latency_by_distance_and_by_table(self):
        # Frankfurt client: eu-central-1 is nearest; Ashburn client: us-east-1.
        r = query(self.server, "latency", ecs=("198.18.100.0", 24))
        self.assertEqual(addresses(r), ["198.18.1.4"])
        self.assertEqual(ecs_scope(r), 24)
        r = query(self.server, "latency", ecs=("198.18.101.0", 24))
        self.assertEqual(addresses(r), ["198.18.2.4"])
        # The operator table wins for its prefix: 9 ms to eu-central-1.
        r = query(self.server, "latency", ecs=("198.18.110.0", 24))
        self.assertEqual(addresses(r), ["198.18.1.4"])
        self.assertEqual(ecs_scope(r), 24)

    def test_all_down_group_answers_while_healthy(self):
        self.assertEqual(answers(self.server, "alldown", count=5), {("198.18.1.5",)})

    def test_calculated_healthy_while_both_children_are(self):
        self.assertEqual(answers(self.server, "calculated", count=5), {("198.18.9.1",)})


class GslbDisabledInvertedTest(GslbTestBase):
    """Route 53: a disabled check is healthy and Inverted is applied last, so a check both
    Disabled and Inverted is unhealthy. Every backend is up: failover, weighted and a CALCULATED
    check answer as for a failed check, and the control API reports the check unhealthy."""

    EXTRA_SETS = (
        record("offinv-failover", ["198.18.1.6"], SetIdentifier="primary", Failover="PRIMARY",
               HealthCheckId="hc-off-inv"),
        record("offinv-failover", ["198.18.2.6"], SetIdentifier="secondary",
               Failover="SECONDARY", HealthCheckId="hc-off"),
        record("offinv-weighted", ["198.18.1.7"], SetIdentifier="a", Weight=1,
               HealthCheckId="hc-off-inv"),
        record("offinv-weighted", ["198.18.2.7"], SetIdentifier="b", Weight=1,
               HealthCheckId="hc-off"),
        record("offinv-calculated", ["198.18.9.3"], SetIdentifier="primary", Failover="PRIMARY",
               HealthCheckId="hc-calc-off-inv"),
        record("offinv-calculated", ["198.18.9.4"], SetIdentifier="secondary",
               Failover="SECONDARY"),
    )

    @classmethod
    def extra_checks(cls, backends):
        a = backends["a"]
        http = {"Type": "HTTP", "IPAddress": a.host, "Port": a.port, "ResourcePath": "/",
                "RequestInterval": INTERVAL_S, "FailureThreshold": 1}
        return [
            dict(http, Id="hc-off-inv", Disabled=True, Inverted=True),
            dict(http, Id="hc-off", Disabled=True, InitialState="unhealthy"),
            {"Id": "hc-calc-off-inv", "Type": "CALCULATED", "ChildHealthChecks": ["hc-a"],
             "HealthThreshold": 1, "Disabled": True, "Inverted": True},
        ]

    def test_failover_answers_secondary(self):
        self.assertEqual(answers(self.server, "offinv-failover", count=10), {("198.18.2.6",)})

    def test_weighted_answers_only_the_other_set(self):
        self.assertEqual(answers(self.server, "offinv-weighted", count=30), {("198.18.2.7",)})

    def test_calculated_disabled_and_inverted_is_unhealthy(self):
        self.assertEqual(answers(self.server, "offinv-calculated", count=5), {("198.18.9.4",)})

    def test_control_api_reports_unhealthy(self):
        r = control_http.request("GET", "/v1/health",
                                 unix=os.path.join(self.daemon.dir, "control.sock"))
        self.assertEqual(r.status, 200)
        status = {h["Id"]: h["Status"] for h in r.json()["HealthCheckStatuses"]}
        self.assertEqual(status["hc-off-inv"], "unhealthy")
        self.assertEqual(status["hc-calc-off-inv"], "unhealthy")
        self.assertEqual(status["hc-off"], "healthy")
        self.assertEqual(status["hc-a"], "healthy")


def alias(name, target, **routing):
    rs = {"Name": name + "." + ZONE, "Type": "A",
          "AliasTarget": {"HostedZoneId": "Z1", "DNSName": target + "." + ZONE,
                          "EvaluateTargetHealth": True}}
    rs.update(routing)
    return rs


class GslbAliasTargetHealthTest(GslbTestBase):
    """Spec rule 9: an alias with EvaluateTargetHealth is healthy only when its target gives the
    client at least one healthy answer. The target has a record set for DE only (no default), so
    for a US client it answers NODATA: the failover moves to the secondary for that client (with
    the target's ECS scope), while a DE client gets the primary alias's answer."""

    EXTRA_SETS = (
        record("de-only", ["198.18.1.8"], SetIdentifier="de", GeoLocation={"CountryCode": "DE"},
               HealthCheckId="hc-a"),
        alias("alias-failover", "de-only", SetIdentifier="primary", Failover="PRIMARY"),
        record("alias-failover", ["198.18.2.8"], SetIdentifier="secondary",
               Failover="SECONDARY"),
    )

    def test_target_nodata_for_the_client_is_unhealthy(self):
        r = query(self.server, "alias-failover", ecs=("198.18.101.0", 24))  # US
        self.assertEqual((r.rcode(), addresses(r)), (dns.rcode.NOERROR, ["198.18.2.8"]))
        self.assertEqual(ecs_scope(r), 24, "the target's decision for the client sets the scope")
        r = query(self.server, "alias-failover")  # 127.0.0.1: in no network, no default
        self.assertEqual(addresses(r), ["198.18.2.8"])

    def test_target_answer_for_the_client_is_healthy(self):
        r = query(self.server, "alias-failover", ecs=("198.18.100.0", 24))  # DE
        self.assertEqual((r.rcode(), addresses(r)), (dns.rcode.NOERROR, ["198.18.1.8"]))
        self.assertEqual(ecs_scope(r), 24)


class GslbFailoverTest(GslbTestBase):
    """Stopping backend a (threshold 1) moves failover, weighted, geolocation (DE), latency (EU)
    and the CALCULATED name; starting it moves them back; webhooks see each transition once."""

    def test_stop_and_start_backend_a(self):
        # Wait until the first probes have run (states start healthy, so answers are already
        # right; this only makes the measured time start from a probed state).
        self.assertTrue(self.daemon.wait_for_line("health checker started", 10))
        time.sleep(1.5)
        self.assertEqual(self.webhook.transitions("hc-a"), [])

        t0 = self.stop_backend("a")
        moved = self.wait_until(
            lambda: answers(self.server, "failover") == {("198.18.2.2",)}, self.bound("a") + 2,
            "failover to secondary")
        print(f"\n  failover moved {moved:.2f} s after backend a stopped "
              f"(bound {self.bound('a'):.1f} s)", file=sys.stderr)
        self.assertLessEqual(moved, self.bound("a"))
        # The others moved in the same health transition.
        self.assertEqual(answers(self.server, "weighted", count=30), {("198.18.2.1",)})
        r = query(self.server, "geo", ecs=("198.18.100.0", 24))
        self.assertEqual(addresses(r), ["198.18.3.3"], "DE unhealthy: walk up to '*'")
        r = query(self.server, "latency", ecs=("198.18.100.0", 24))
        self.assertEqual(addresses(r), ["198.18.2.4"], "eu-central-1 down: next region")
        self.assertEqual(answers(self.server, "calculated"), {("198.18.9.2",)})
        r = query(self.server, "alldown")
        self.assertEqual((r.rcode(), addresses(r)), (dns.rcode.NOERROR, []), "all_down: nodata")
        self.assertEqual([rr.rdtype for rr in r.authority], [dns.rdatatype.SOA])
        self.assertLessEqual(time.monotonic() - t0, self.bound("a") + 2)

        t1 = self.start_backend("a")
        back = self.wait_until(
            lambda: answers(self.server, "failover") == {("198.18.1.2",)}, self.bound("a") + 2,
            "failover back to primary")
        print(f"  failover moved back {back:.2f} s after backend a started", file=sys.stderr)
        self.assertLessEqual(back, self.bound("a"))
        self.assertEqual(answers(self.server, "calculated"), {("198.18.9.1",)})
        self.assertEqual(answers(self.server, "alldown"), {("198.18.1.5",)})
        self.assertEqual(answers(self.server, "weighted", count=60),
                         {("198.18.1.1",), ("198.18.2.1",)})
        del t1

        # Webhooks: each transition exactly once (wait for the last, then a quiet period).
        self.assertTrue(self.webhook.wait_for("hc-a", "healthy", 1, 5))
        self.assertTrue(self.webhook.wait_for("hc-both", "healthy", 1, 5))
        time.sleep(2.5)
        self.assertEqual(self.webhook.transitions("hc-a"),
                         [("healthy", "unhealthy"), ("unhealthy", "healthy")])
        self.assertEqual(self.webhook.transitions("hc-both"),
                         [("healthy", "unhealthy"), ("unhealthy", "healthy")])
        self.assertEqual(self.webhook.transitions("hc-b"), [])
        self.assertEqual(self.webhook.transitions("hc-c"), [])
        self.assertRegex(self.daemon.log(), r"\[health\] health check hc-a: healthy -> unhealthy")

    def test_threshold_two_and_weighted(self):
        # Backend b has FailureThreshold 2: weighted loses b within 2 x 1 s + 1 s.
        self.assertTrue(self.daemon.wait_for_line("health checker started", 10))
        time.sleep(1.5)
        self.stop_backend("b")
        try:
            moved = self.wait_until(
                lambda: answers(self.server, "weighted", count=20) == {("198.18.1.1",)},
                self.bound("b") + 2, "weighted without b")
            print(f"\n  weighted moved {moved:.2f} s after backend b stopped "
                  f"(bound {self.bound('b'):.1f} s)", file=sys.stderr)
            self.assertLessEqual(moved, self.bound("b"))
            r = query(self.server, "geo", ecs=("198.18.101.0", 24))
            self.assertEqual(addresses(r), ["198.18.3.3"], "US unhealthy: walk up to '*'")
        finally:
            self.start_backend("b")
        back = self.wait_until(
            lambda: len(answers(self.server, "weighted", count=30)) == 2, self.bound("b") + 2,
            "weighted with b again")
        print(f"  weighted moved back {back:.2f} s after backend b started", file=sys.stderr)
        self.assertLessEqual(back, self.bound("b"))
        self.assertTrue(self.webhook.wait_for("hc-b", "healthy", 1, 5))
        time.sleep(2.5)
        self.assertEqual(self.webhook.transitions("hc-b"),
                         [("healthy", "unhealthy"), ("unhealthy", "healthy")])


class GslbReloadTest(GslbTestBase):
    """SIGHUP: a bad health-check file keeps the old state; a good one keeps unchanged checks'
    states (a down backend stays down without a new threshold run)."""

    def test_reload_keeps_states_and_survives_errors(self):
        self.assertTrue(self.daemon.wait_for_line("health checker started", 10))
        self.stop_backend("a")
        try:
            self.wait_until(lambda: answers(self.server, "failover") == {("198.18.2.2",)},
                            self.bound("a") + 2, "failover to secondary")
            # A bad check file: the reload fails, everything stays as it was.
            mark = self.daemon.line_count()
            bad = json.loads(json.dumps(self.daemon.checks))
            bad[0]["FailureThreshold"] = 99
            self.daemon.write_file("checks.json", json.dumps(bad))
            self.daemon.signal(signal.SIGHUP)
            line = self.daemon.wait_for_line("reload failed", 10, mark)
            self.assertIsNotNone(line, self.daemon.log())
            self.assertIn("FailureThreshold", line)
            self.assertEqual(answers(self.server, "failover"), {("198.18.2.2",)})
            # A good reload that adds a check: hc-a keeps its unhealthy state at once.
            good = json.loads(json.dumps(self.daemon.checks))
            good.append({"Id": "hc-extra", "Type": "TCP", "IPAddress": "127.0.0.13",
                         "Port": self.backends["c"].port, "RequestInterval": 1})
            self.daemon.write_file("checks.json", json.dumps(good))
            mark = self.daemon.line_count()
            self.daemon.signal(signal.SIGHUP)
            self.assertIsNotNone(self.daemon.wait_for_line("reloaded", 10, mark), self.daemon.log())
            self.assertEqual(answers(self.server, "failover", count=5), {("198.18.2.2",)})
            self.assertEqual(self.webhook.transitions("hc-a"), [("healthy", "unhealthy")])
        finally:
            self.start_backend("a")
        self.wait_until(lambda: answers(self.server, "failover") == {("198.18.1.2",)},
                        self.bound("a") + 2, "failover back to primary")


    def test_reload_replaces_geoip_database_and_latency_table(self):
        ecs_de = ("198.18.100.0", 24)
        self.assertEqual(addresses(query(self.server, "geo", ecs=ecs_de)), ["198.18.1.3"])
        self.assertEqual(addresses(query(self.server, "latency", ecs=("198.18.110.0", 24))),
                         ["198.18.1.4"])
        # The DE network now says US (file replaced atomically), the table now prefers us-east-1.
        moved = [dict(n, country="US", continent="NA") if n["network"] == "198.18.100.0/24"
                 else n for n in GEO_NETWORKS]
        self.daemon.write_file("geo2.json", json.dumps({"ip_version": 6, "networks": moved}))
        subprocess.run(["perl", os.path.join(SOURCE_DIR, "tests/tools/make_test_mmdb.pl"),
                        os.path.join(self.daemon.dir, "geo2.json"),
                        os.path.join(self.daemon.dir, "geo2.mmdb")], check=True, timeout=60)
        os.replace(os.path.join(self.daemon.dir, "geo2.mmdb"),
                   os.path.join(self.daemon.dir, "geo.mmdb"))
        self.daemon.write_file("latency.csv", LATENCY_CSV.replace(",80", ",4"))
        mark = self.daemon.line_count()
        self.daemon.signal(signal.SIGHUP)
        self.assertIsNotNone(self.daemon.wait_for_line("reloaded", 10, mark), self.daemon.log())
        r = query(self.server, "geo", ecs=ecs_de)
        self.assertEqual((addresses(r), ecs_scope(r)), (["198.18.2.3"], 24))
        self.assertEqual(addresses(query(self.server, "latency", ecs=("198.18.110.0", 24))),
                         ["198.18.2.4"])
        # A broken database: the reload fails and the answers stay.
        self.daemon.write_file("geo.mmdb", "not a maxmind database")
        mark = self.daemon.line_count()
        self.daemon.signal(signal.SIGHUP)
        self.assertIsNotNone(self.daemon.wait_for_line("reload failed", 10, mark),
                             self.daemon.log())
        self.assertEqual(addresses(query(self.server, "geo", ecs=ecs_de)), ["198.18.2.3"])


class GslbRoute53HealthChecksTest(unittest.TestCase):
    """`aws route53 list-health-checks` output (tests/unit/data/route53-list-health-checks.json,
    shaped after Route 53's API reference) as the health-checks file, unchanged: meridiand
    starts, logs one warning per ignored field (not one per check), and serves the checks on
    the control API, which takes a check in that shape too. Unknown fields stay errors naming
    their JSON path."""

    IGNORED = ("EnableSNI", "HealthCheckVersion", "MeasureLatency", "Regions")

    def setUp(self):
        self.daemon = DaemonProcess("meridiand-r53hc-e2e-")
        self.addCleanup(self.daemon.stop)
        with open(os.path.join(SOURCE_DIR, "tests/unit/data/route53-list-health-checks.json")) as f:
            self.fixture = f.read()
        self.daemon.write_file("checks.json", self.fixture)
        first = json.loads(self.fixture)["HealthChecks"][0]["Id"]
        apex = zone_json()["ResourceRecordSets"][:3]  # SOA, NS, ns1
        self.daemon.write_file("z.json", json.dumps({"ResourceRecordSets": apex + [record(
            "checked", ["198.18.1.9"], SetIdentifier="a", Weight=1, HealthCheckId=first)]}))
        self.config_path = self.daemon.write_file("meridian.json", json.dumps({
            "listen": ["127.0.0.1:0"], "workers": 1, "log": {"level": "info"},
            "zones": [{"origin": ZONE, "format": "route53-json", "file": "z.json"}],
            "health_checks": {"file": "checks.json"}, "state": {"database": "state.db"},
            "control": {"socket": "control.sock"}}))

    def test_list_output_loads_with_one_warning_per_ignored_field(self):
        self.daemon.spawn([MERIDIAND, "--config", self.config_path], READY_NEEDLE,
                          READY_TIMEOUT_S)
        log = self.daemon.log()
        for field in self.IGNORED:
            lines = [l for l in log.splitlines()
                     if f'health check field "{field}" ignored' in l]
            self.assertEqual(len(lines), 1, f"{field}:\n{log}")
            self.assertIn("checks.json: ", lines[0])
        self.assertRegex(log, r'"HealthCheckVersion" ignored \(read-only[^)]*\): at '
                              r'/HealthChecks/0/HealthCheckVersion and 3 more')
        sock = os.path.join(self.daemon.dir, "control.sock")
        r = control_http.request("GET", "/v1/healthchecks", unix=sock)
        self.assertEqual(r.status, 200)
        expected = [c["Id"] for c in json.loads(self.fixture)["HealthChecks"]]
        self.assertEqual(sorted(h["Id"] for h in r.json()["HealthChecks"]), sorted(expected))

        # The API takes one check as Route 53 prints it; the ignored fields come back as
        # warnings, and an unknown field is refused with its path.
        check = json.loads(self.fixture)["HealthChecks"][1]
        check["Id"] = "posted"
        r = control_http.request("POST", "/v1/healthchecks", body=json.dumps(check), unix=sock)
        self.assertEqual(r.status, 200, r.body)
        warnings = r.json()["Warnings"]
        self.assertEqual(len(warnings), 3, warnings)  # HealthCheckVersion, MeasureLatency, SNI
        self.assertIn('"MeasureLatency" ignored', " ".join(warnings))
        check["HealthCheckConfig"]["MeasureLatencyMs"] = 5
        r = control_http.request("POST", "/v1/healthchecks", body=json.dumps(check), unix=sock)
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("/HealthCheckConfig/MeasureLatencyMs", r.body)

    def test_unknown_field_in_the_file_names_its_path(self):
        doc = json.loads(self.fixture)
        doc["HealthChecks"][2]["HealthCheckConfig"]["Bogus"] = True
        self.daemon.write_file("checks.json", json.dumps(doc))
        p = subprocess.run([MERIDIAND, "--check-config", self.config_path], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("checks.json: /HealthChecks/2/HealthCheckConfig/Bogus: unknown field",
                      p.stderr)


class GslbCheckConfigTest(unittest.TestCase):
    """--check-config covers the GSLB sections and names the JSON path or file line."""

    def run_check(self, config, files):
        with tempfile.TemporaryDirectory(prefix="gslb-check-") as d:
            for name, text in files.items():
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            path = os.path.join(d, "meridian.json")
            with open(path, "w") as f:
                json.dump(config, f)
            p = subprocess.run([MERIDIAND, "--check-config", path], capture_output=True,
                               text=True, timeout=60)
            return p.returncode, (p.stdout + p.stderr).replace(d + "/", "")

    def test_errors_name_the_place(self):
        zone = {"origin": ZONE, "format": "route53-json", "file": "z.json"}
        good = [{"Id": "hc-" + k, "Type": "TCP", "IPAddress": "198.18.0.1", "Port": 80}
                for k in ("a", "b", "c")]
        good.append({"Id": "hc-both", "Type": "CALCULATED", "ChildHealthChecks": ["hc-a"]})
        files = {"z.json": json.dumps(zone_json()), "lat.csv": "198.18.0.0/24,nowhere-1,5\n",
                 "good.json": json.dumps(good),
                 "checks.json": json.dumps([{"Id": "x", "Type": "TCP", "IPAddress": "198.18.0.1"}])}
        base = {"zones": [zone], "health_checks": {"file": "good.json"}}
        rc, out = self.run_check(dict(base, health_checks={"file": "checks.json"}), files)
        self.assertEqual(rc, 1)
        self.assertIn("checks.json: /0", out)
        rc, out = self.run_check({"zones": [zone]}, files)
        self.assertEqual(rc, 1)
        self.assertIn('HealthCheckId "hc-', out)
        rc, out = self.run_check(dict(base, latency_table={"file": "lat.csv"}), files)
        self.assertEqual(rc, 1)
        self.assertIn("lat.csv:1: unknown region", out)
        rc, out = self.run_check(dict(base, geoip={"database": "absent.mmdb"}), files)
        self.assertEqual(rc, 1)
        self.assertIn("absent.mmdb", out)
        rc, out = self.run_check(dict(base, cidr_collections={"c": {"x": ["198.18.0.0/25"]}}),
                                 files)
        self.assertEqual(rc, 1)
        self.assertIn("/cidr_collections/c/x/0", out)
        rc, out = self.run_check(dict(base, geoip={"database": None}), files)
        self.assertEqual(rc, 0, out)
        self.assertIn("4 health checks, GeoIP database: none", out)


def main():
    global MERIDIAND, SOURCE_DIR
    parser = argparse.ArgumentParser()
    parser.add_argument("--meridiand", required=True)
    parser.add_argument("--source-dir", required=True)
    args, rest = parser.parse_known_args()
    MERIDIAND = os.path.abspath(args.meridiand)
    SOURCE_DIR = os.path.abspath(args.source_dir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
