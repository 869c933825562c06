#!/usr/bin/python3
"""Routing policies decided by the XDP program, end to end in network namespaces: meridiand with a
Route 53 JSON zone (failover, weighted, geolocation), a GeoIP database built at test time, and
HTTP health checks against real backends, with its program attached natively to veth-srv. Queries
come from the client namespace (dnspython over raw sockets); `meridianctl stats --json` proves
each answer was decided in XDP (answered, hit_policy) and nothing went up (pass_*), and the same
query over TCP (userspace) must give the same answer and ECS scope.

Topology (per test class): netns.Topology (veth-srv 198.18.0.1 / fd00:18::1 in the
server namespace, veth-cli 198.18.0.2 / fd00:18::2 in the client namespace), plus the backends'
addresses 198.18.50.1 (A) and 198.18.50.2 (B) on the server namespace's lo, where
`python3 -m http.server` listens. The health checker runs inside meridiand, in the server
namespace, so its probes never cross the veth that carries the XDP program.

Usage: xdp_gslb_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                              [unittest args, e.g. XdpGslbFailoverTest]
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

import netns
from tcp_framing import frame, recv_message

MAKE_TEST_MMDB = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools",
                              "make_test_mmdb.pl")
ZONE = "gxdp.test."
INTERVAL_S = 1  # RequestInterval of every check (the minimum allowed)
THRESHOLDS = {"a": 1, "b": 2}
SLACK_S = 1.0  # the brief's "interval x threshold + 1 s"
BACKEND_PORT = 8080  # the server namespace is private: no other listener can hold it
BACKENDS = {"a": "198.18.50.1", "b": "198.18.50.2"}
QUERY_TIMEOUT_S = 3
POLL_S = 0.1

# Answers per record set.
FAILOVER_PRIMARY, FAILOVER_SECONDARY = "198.18.61.1", "198.18.62.1"
WEIGHTED = {"heavy": ("198.18.61.2", 3), "light": ("198.18.62.2", 1)}
GEO_ANSWER = {"DE": "198.18.61.3", "US": "198.18.62.3", "FR": "198.18.63.3",
              "*": "198.18.64.3"}

# The test GeoIP database. The client's own networks (198.18.0.0/24, fd00:18::/48) are in FR so
# that a query without ECS is decided on the packet's source address.
GEO_NETWORKS = [
    {"network": "198.18.0.0/24", "continent": "EU", "country": "FR"},
    {"network": "198.18.100.0/24", "continent": "EU", "country": "DE"},
    {"network": "198.18.101.0/24", "continent": "NA", "country": "US", "subdivision": "VA"},
    {"network": "198.18.102.0/23", "continent": "AS", "country": "JP"},  # no JP set: '*'
    {"network": "fd00:18::/48", "continent": "EU", "country": "FR"},
    {"network": "fd00:18:100::/48", "continent": "EU", "country": "DE"},
    {"network": "fd00:18:101::/48", "continent": "NA", "country": "US"},
]


def record(name, values, **routing):
    rs = {"Name": name + "." + ZONE, "Type": "A", "TTL": 30,
          "ResourceRecords": [{"Value": v} for v in values]}
    rs.update(routing)
    return rs


def zone_json(extra_sets=()):
    sets = [
        {"Name": ZONE, "Type": "SOA", "TTL": 300, "ResourceRecords": [
            {"Value": "ns1.gxdp.test. hostmaster.gxdp.test. 1 7200 900 1209600 60"}]},
        {"Name": ZONE, "Type": "NS", "TTL": 300, "ResourceRecords": [{"Value": "ns1.gxdp.test."}]},
        record("ns1", ["198.18.0.1"]),
        record("failover", [FAILOVER_PRIMARY], SetIdentifier="primary", Failover="PRIMARY",
               HealthCheckId="hc-a"),
        record("failover", [FAILOVER_SECONDARY], SetIdentifier="secondary",
               Failover="SECONDARY", HealthCheckId="hc-b"),
    ]
    for ident, (value, weight) in WEIGHTED.items():
        sets.append(record("weighted", [value], SetIdentifier=ident, Weight=weight))
    for country, value in GEO_ANSWER.items():
        sets.append(record("geo", [value], SetIdentifier="geo-" + country.replace("*", "default"),
                           GeoLocation={"CountryCode": country}))
    return {"ResourceRecordSets": sets + list(extra_sets)}


def health_checks():
    return [{"Id": "hc-" + key, "Type": "HTTP", "IPAddress": host, "Port": BACKEND_PORT,
             "ResourcePath": "/", "RequestInterval": INTERVAL_S,
             "FailureThreshold": THRESHOLDS[key], "ConnectTimeoutMs": 900,
             "ResponseTimeoutMs": 900}
            for key, host in BACKENDS.items()]


class NetnsBackend:
    """python3 -m http.server bound to an address of the server namespace; stopped and started
    again on the same address and port."""

    def __init__(self, netns_name, host, directory):
        self.netns = netns_name
        self.host = host
        self.directory = directory
        self.proc = None

    def start(self):
        # nsenter without --fork execs the server itself, so proc.pid is the server's pid.
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.netns}", sys.executable, "-m", "http.server",
             str(BACKEND_PORT), "--bind", self.host, "--directory", self.directory],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = netns.socket_in_netns(self.netns, socket.AF_INET, socket.SOCK_STREAM)
            with probe:
                probe.settimeout(0.5)
                try:
                    probe.connect((self.host, BACKEND_PORT))
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"backend {self.host}:{BACKEND_PORT} did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class GslbXdpDaemon(netns.XdpDaemon):
    """meridiand in the server namespace serving the GSLB zone, with XDP on veth-srv."""

    def __init__(self, topology, extra_sets=()):
        super().__init__(topology, zone_text="")
        self.write_file("gxdp.test.json", json.dumps(zone_json(extra_sets), indent=1))
        self.write_file("checks.json", json.dumps(health_checks(), indent=1))
        self.write_file("geo.json", json.dumps({"ip_version": 6, "networks": GEO_NETWORKS}))
        netns.run(["perl", MAKE_TEST_MMDB, os.path.join(self.dir, "geo.json"),
                   os.path.join(self.dir, "geo.mmdb")], timeout=60)
        self.config.update({
            "zones": [{"origin": ZONE, "format": "route53-json", "file": "gxdp.test.json"}],
            "geoip": {"database": "geo.mmdb"},
            "health_checks": {"file": "checks.json"},
            "health": {"state_db": None},  # nothing persisted outside the temp dir
        })
        self.write_file("meridian.json", json.dumps(self.config, indent=2))


def make_query(name, ecs=None):
    options = [dns.edns.ECSOption(ecs[0], ecs[1])] if ecs else []
    q = dns.message.make_query(name + "." + ZONE, dns.rdatatype.A, use_edns=0, payload=1232,
                               options=options)
    q.flags &= ~dns.flags.RD
    return q


def addresses(response):
    return sorted(rd.address for rrset in response.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def ecs_scope(response):
    for option in response.options:
        if option.otype == dns.edns.ECS:
            return option.scopelen
    return None


class XdpGslbTestBase(unittest.TestCase):
    """One topology, two backends and one daemon per test class, all removed at the end (also
    when setUpClass fails half way)."""

    topology = None
    daemon = None
    backends = {}
    docroot = None
    udp = {}
    EXTRA_SETS = ()  # record sets a test class adds to zone_json()
    # What the daemon logs about the groups it compiled for XDP.
    POLICY_LINE = ("routing policies decided in XDP: 3 groups; left to userspace: 0 by type, "
                   "0 with aliases, 0 oversize")

    @classmethod
    def setUpClass(cls):
        reason = netns.skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        netns.ensure_bpffs()
        try:
            cls.topology = netns.Topology().create()
            for host in BACKENDS.values():
                netns.run(["ip", "-n", cls.topology.server, "addr", "add", host + "/32", "dev",
                           "lo"])
            cls.docroot = tempfile.mkdtemp(prefix="mdnx-gslb-www-")
            with open(os.path.join(cls.docroot, "index.html"), "w") as f:
                f.write("ok\n")
            cls.backends = {key: NetnsBackend(cls.topology.server, host, cls.docroot)
                            for key, host in BACKENDS.items()}
            for backend in cls.backends.values():
                backend.start()
            cls.daemon = GslbXdpDaemon(cls.topology, cls.EXTRA_SETS).start()
            log = cls.daemon.log()
            for needle in ("XDP program attached to veth-srv (native mode)", cls.POLICY_LINE,
                           "geolocation table written to XDP"):
                if cls.daemon.wait_for_line(needle, 1) is None:
                    raise AssertionError(f"no log line {needle!r}:\n{log}")
            cls.udp = {
                family: netns.socket_in_netns(cls.topology.client, family, socket.SOCK_DGRAM)
                for family in (socket.AF_INET, socket.AF_INET6)}
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for sock in cls.udp.values():
            sock.close()
        cls.udp = {}
        if cls.daemon:
            cls.daemon.stop()  # also removes the pin dir
            cls.daemon = None
        for backend in cls.backends.values():
            backend.stop()
        cls.backends = {}
        if cls.topology:
            cls.topology.destroy()
            cls.topology = None
        if cls.docroot:
            shutil.rmtree(cls.docroot, ignore_errors=True)
            cls.docroot = None

    def udp_query(self, server, name, ecs=None):
        """One query over UDP from the client namespace; replies with another ID (a late reply
        to an earlier query that timed out) are skipped."""
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        sock = self.udp[family]
        q = make_query(name, ecs)
        sock.sendto(q.to_wire(), (server, 53))
        deadline = time.monotonic() + QUERY_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"{name} @{server}: no UDP reply within {QUERY_TIMEOUT_S} s")
            sock.settimeout(remaining)
            try:
                wire, source = sock.recvfrom(65535)
            except socket.timeout:
                continue
            r = dns.message.from_wire(wire)
            if r.id == q.id and source[0] == server:
                return r

    def tcp_query(self, server, name, ecs=None):
        """The same query over TCP: the XDP program passes TCP up, so userspace answers."""
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        with netns.socket_in_netns(self.topology.client, family, socket.SOCK_STREAM) as sock:
            sock.settimeout(QUERY_TIMEOUT_S)
            sock.connect((server, 53))
            q = make_query(name, ecs)
            sock.sendall(frame(q))
            r = recv_message(sock)
            self.assertEqual(r.id, q.id)
            return r

    def assert_all_xdp_policy(self, d, count):
        """`count` UDP queries, each answered by XDP after a policy decision, none passed up."""
        self.assertEqual(d["answered"], count, d)
        self.assertEqual(d["hit_policy"], count, d)
        self.assertEqual(d["hit_a"], count, d)  # a policy answer also counts under its type
        # ARP, IPv6 neighbour discovery and MLD reports (a hop-by-hop header) on the veth may
        # pass up meanwhile; these queries can only end in a hit or one of the other reasons.
        noise = ("pass_not_ip", "pass_not_udp", "pass_not_dns_port", "pass_ipv6_ext")
        passed = {k: v for k, v in netns.nonzero(d, "pass_").items() if k not in noise}
        self.assertEqual(passed, {}, d)
        self.assertEqual(netns.nonzero(d, "error_"), {}, d)

    def wait_for_first_probes(self):
        """Checks start healthy; waiting for a probed state makes a measured move start from
        the checker's steady rhythm, not from its first round."""
        self.assertIsNotNone(self.daemon.wait_for_line("health checker started", 10),
                             self.daemon.log())
        time.sleep(1.5)


class XdpGslbGeolocationTest(XdpGslbTestBase):
    """ECS from networks in different countries, to the server's IPv4 and IPv6 address: each gets
    its country's record set and the database network's length as scope, decided in XDP; the
    same query over TCP (userspace) gives the same answer and scope."""

    # (ECS address, source prefix, expected record set, expected scope)
    CASES = [
        ("198.18.100.0", 24, "DE", 24),
        ("198.18.101.7", 32, "US", 24),   # scope: the database network, not the source prefix
        ("198.18.102.0", 24, "*", 23),    # JP has no record set: the default
        ("198.18.200.0", 24, "*", 17),    # no country: the empty network 198.18.128.0/17
        ("fd00:18:100::", 56, "DE", 48),
        ("fd00:18:101::", 48, "US", 48),
    ]

    def test_ecs_countries_decided_in_xdp(self):
        for server in (netns.SERVER4, netns.SERVER6):
            for address, source, country, scope in self.CASES:
                with self.subTest(server=server, ecs=f"{address}/{source}"):
                    ecs = (address, source)
                    before = self.daemon.stats()
                    r = self.udp_query(server, "geo", ecs)
                    d = netns.delta(before, self.daemon.stats())
                    self.assertEqual(r.rcode(), dns.rcode.NOERROR, r)
                    self.assertTrue(r.flags & dns.flags.AA, r)
                    self.assertEqual(addresses(r), [GEO_ANSWER[country]], r)
                    self.assertEqual(ecs_scope(r), scope, r)
                    opt = next(o for o in r.options if o.otype == dns.edns.ECS)
                    self.assertEqual(opt.srclen, source, "source prefix echoed")
                    self.assert_all_xdp_policy(d, 1)

                    before = self.daemon.stats()
                    t = self.tcp_query(server, "geo", ecs)
                    d = netns.delta(before, self.daemon.stats())
                    self.assertEqual(d["answered"], 0, d)
                    self.assertGreaterEqual(d["pass_tcp"], 3, d)  # SYN, ACK, query at least
                    self.assertEqual((addresses(t), ecs_scope(t), t.rcode()),
                                     (addresses(r), ecs_scope(r), r.rcode()))

    def test_without_ecs_the_source_address_decides(self):
        # The client's addresses are in FR networks of the database, in both families.
        for server in (netns.SERVER4, netns.SERVER6):
            with self.subTest(server=server):
                before = self.daemon.stats()
                r = self.udp_query(server, "geo")
                d = netns.delta(before, self.daemon.stats())
                self.assertEqual(addresses(r), [GEO_ANSWER["FR"]], r)
                self.assertIsNone(ecs_scope(r), "no ECS in the query, none in the reply")
                self.assert_all_xdp_policy(d, 1)
                self.assertEqual(addresses(self.tcp_query(server, "geo")), [GEO_ANSWER["FR"]])


class XdpGslbFailoverTest(XdpGslbTestBase):
    """Stopping backend A moves the failover answer to SECONDARY within interval x threshold +
    1 s, every answer on the way decided in XDP; starting A again moves it back as fast."""

    def poll_until(self, expected, other, bound, what):
        """Queries every POLL_S until the answer is `expected`; every answer must be `expected`
        or `other` and come from XDP. Returns the seconds from now until the first `expected`,
        and the number of queries."""
        start = time.monotonic()
        last = self.daemon.stats()
        queries = 0
        while True:
            server = netns.SERVER4 if queries % 2 == 0 else netns.SERVER6
            r = self.udp_query(server, "failover")
            now = time.monotonic()
            stats = self.daemon.stats()
            queries += 1
            # One stats read per query: the difference to the previous read is this query only.
            self.assert_all_xdp_policy(netns.delta(last, stats), 1)
            last = stats
            got = addresses(r)
            self.assertIn(got, ([expected], [other]), r)
            if got == [expected]:
                return now - start, queries
            if now - start > bound + 2:
                self.fail(f"{what}: not within {bound + 2:.1f} s\n" + self.daemon.log()[-4000:])
            time.sleep(POLL_S)

    def steady(self, expected, count=10):
        before = self.daemon.stats()
        for i in range(count):
            server = netns.SERVER4 if i % 2 == 0 else netns.SERVER6
            self.assertEqual(addresses(self.udp_query(server, "failover")), [expected])
        self.assert_all_xdp_policy(netns.delta(before, self.daemon.stats()), count)

    def test_backend_a_stops_and_starts(self):
        bound = INTERVAL_S * THRESHOLDS["a"] + SLACK_S
        self.wait_for_first_probes()
        self.steady(FAILOVER_PRIMARY)

        mark = self.daemon.line_count()
        # Times run from the moment the backend's process is gone (stop returns after wait).
        self.backends["a"].stop()
        moved, n = self.poll_until(FAILOVER_SECONDARY, FAILOVER_PRIMARY, bound, "to SECONDARY")
        print(f"\n  XDP failover to SECONDARY {moved:.2f} s after backend A stopped "
              f"({n} queries, bound {bound:.1f} s)", file=sys.stderr)
        self.assertLessEqual(moved, bound)
        self.assertIsNotNone(self.daemon.wait_for_line(
            "health check hc-a: healthy -> unhealthy", 1, mark), self.daemon.log())
        self.steady(FAILOVER_SECONDARY)
        # TCP (userspace) agrees.
        self.assertEqual(addresses(self.tcp_query(netns.SERVER4, "failover")),
                         [FAILOVER_SECONDARY])

        mark = self.daemon.line_count()
        self.backends["a"].start()
        back, n = self.poll_until(FAILOVER_PRIMARY, FAILOVER_SECONDARY, bound, "back to PRIMARY")
        print(f"  XDP failover back to PRIMARY {back:.2f} s after backend A started "
              f"({n} queries, bound {bound:.1f} s)", file=sys.stderr)
        self.assertLessEqual(back, bound)
        self.assertIsNotNone(self.daemon.wait_for_line(
            "health check hc-a: unhealthy -> healthy", 1, mark), self.daemon.log())
        self.steady(FAILOVER_PRIMARY)


class XdpGslbWeightedTest(XdpGslbTestBase):
    """400 queries to a 3:1 weighted name: both record sets answer, in plausible proportions
    (the exact distribution is tested with chi-square in tests/bpf), every one decided in XDP."""

    QUERIES = 400

    def test_weighted_in_xdp(self):
        counts = {value: 0 for value, _ in WEIGHTED.values()}
        before = self.daemon.stats()
        deadline = time.monotonic() + 60
        for i in range(self.QUERIES):
            self.assertLess(time.monotonic(), deadline, f"{i} queries in 60 s")
            server = netns.SERVER4 if i % 2 == 0 else netns.SERVER6
            got = addresses(self.udp_query(server, "weighted"))
            self.assertEqual(len(got), 1, got)
            self.assertIn(got[0], counts)
            counts[got[0]] += 1
        self.assert_all_xdp_policy(netns.delta(before, self.daemon.stats()), self.QUERIES)
        heavy = counts[WEIGHTED["heavy"][0]]
        total_weight = sum(w for _, w in WEIGHTED.values())
        expected = self.QUERIES * WEIGHTED["heavy"][1] / total_weight  # 300
        sd = (self.QUERIES * 0.75 * 0.25) ** 0.5  # 8.7
        print(f"\n  weighted 3:1 over {self.QUERIES} XDP answers: {counts}", file=sys.stderr)
        # Six standard deviations: a wrong weight (1:1 gives 200, 1:3 gives 100) fails, chance
        # alone essentially never does.
        self.assertLess(abs(heavy - expected), 6 * sd, counts)
        self.assertGreater(counts[WEIGHTED["light"][0]], 0, counts)

        # A weighted answer does not depend on the client: ECS scope 0, still decided in XDP.
        before = self.daemon.stats()
        r = self.udp_query(netns.SERVER4, "weighted", ("198.18.100.0", 24))
        self.assertEqual(ecs_scope(r), 0, r)
        self.assert_all_xdp_policy(netns.delta(before, self.daemon.stats()), 1)


class XdpGslbAliasTargetHealthTest(XdpGslbTestBase):
    """Spec rule 9 with XDP attached: whether an alias with EvaluateTargetHealth is healthy
    depends on the client (its target, a geolocation group for DE only, answers NODATA to
    others), so the program never decides its group: every such query goes up, and userspace
    answers the primary's target for DE and the secondary for US and for the client's own FR
    address, the same over UDP and TCP. The target group itself is still decided in XDP."""

    EXTRA_SETS = (
        record("de-only", ["198.18.65.1"], SetIdentifier="de", GeoLocation={"CountryCode": "DE"}),
        {"Name": "alias-failover." + ZONE, "Type": "A", "SetIdentifier": "primary",
         "Failover": "PRIMARY", "AliasTarget": {"HostedZoneId": "Z1", "DNSName": "de-only." + ZONE,
                                                "EvaluateTargetHealth": True}},
        record("alias-failover", ["198.18.66.1"], SetIdentifier="secondary",
               Failover="SECONDARY"),
    )
    POLICY_LINE = ("routing policies decided in XDP: 4 groups; left to userspace: 0 by type, "
                   "1 with aliases, 0 oversize")
    CASES = [  # (ECS or None, expected answer, expected scope)
        (("198.18.100.0", 24), "198.18.65.1", 24),  # DE: the target answers
        (("198.18.101.0", 24), "198.18.66.1", 24),  # US: target NODATA -> alias unhealthy
        (None, "198.18.66.1", None),                # FR (the source address): the same
    ]

    def test_alias_groups_go_up_and_are_decided_per_client(self):
        noise = ("pass_not_ip", "pass_not_udp", "pass_not_dns_port", "pass_ipv6_ext")
        for server in (netns.SERVER4, netns.SERVER6):
            for ecs, expected, scope in self.CASES:
                with self.subTest(server=server, ecs=ecs):
                    before = self.daemon.stats()
                    r = self.udp_query(server, "alias-failover", ecs)
                    d = netns.delta(before, self.daemon.stats())
                    self.assertEqual((r.rcode(), addresses(r)), (dns.rcode.NOERROR, [expected]))
                    self.assertEqual(ecs_scope(r), scope, r)
                    self.assertEqual(d["answered"], 0, d)
                    passed = {k: v for k, v in netns.nonzero(d, "pass_").items()
                              if k not in noise}
                    self.assertEqual(sum(passed.values()), 1, d)
                    t = self.tcp_query(server, "alias-failover", ecs)
                    self.assertEqual((addresses(t), ecs_scope(t)), (addresses(r), ecs_scope(r)))

    def test_the_target_group_is_decided_in_xdp(self):
        before = self.daemon.stats()
        r = self.udp_query(netns.SERVER4, "de-only", ("198.18.100.0", 24))
        self.assertEqual(addresses(r), ["198.18.65.1"])
        self.assert_all_xdp_policy(netns.delta(before, self.daemon.stats()), 1)


if __name__ == "__main__":
    netns.main(__doc__)
