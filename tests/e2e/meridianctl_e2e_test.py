#!/usr/bin/python3
"""meridianctl against the real daemon and its real pinned maps, in network namespaces: every
subcommand (maps, dump, explain, stats) in human and --json form, the exit codes (unknown map,
name, type or address: 1; no pins: 2), the maps still readable after meridiand stopped, and
`explain` agreeing with the answers the XDP program actually sends (dnspython from the client
namespace) for a corpus of clients and ECS prefixes over failover, geolocation, IP-based and
latency names, plus exact probabilities for the random policies.

Topology and daemon: xdp_gslb_netns_test (veth pair, HTTP backends, test GeoIP database), with
CIDR collections, a latency table and a multivalue name added to its zone.

Usage: meridianctl_e2e_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                               [unittest args, e.g. MeridianctlGslbTest]
"""

import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest

import dns.rcode

import xdp_gslb_netns_test as gslb
import netns

ZONE = gslb.ZONE
CIDR_ANSWER = {"berlin": "198.18.61.4", "paris": "198.18.62.4", "*": "198.18.64.4"}
CIDR_COLLECTION = {"berlin": ["198.18.100.0/24"],
                   "paris": ["198.18.64.0/22", "fd00:18:100::/48"]}
LATENCY_ANSWER = {"lab-a": "198.18.61.5", "lab-b": "198.18.62.5"}
REGIONS = {"lab-a": {"latitude": 50.11, "longitude": 8.68},    # Frankfurt
           "lab-b": {"latitude": 40.71, "longitude": -74.0}}   # New York
LATENCY_CSV = "198.18.100.0/24,lab-b,5\n"  # DE clients: measured 5 ms to lab-b, lab-a unknown
MULTI = [f"198.18.70.{i}" for i in range(1, 11)]  # 10 healthy: 8 drawn per answer
GROUPS = 6  # failover, weighted, geo, cidr, latency, multi

# The GSLB test's networks, DE and US with positions (latency by distance).
POSITIONS = {"DE": (51.0, 10.0), "US": (38.9, -77.4)}
GEO_NETWORKS = [dict(n, **({"latitude": POSITIONS[n["country"]][0],
                            "longitude": POSITIONS[n["country"]][1]}
                           if n["country"] in POSITIONS else {}))
                for n in gslb.GEO_NETWORKS]

WATCH_TIMEOUT_S = 30


def zone_json():
    z = gslb.zone_json()
    sets = z["ResourceRecordSets"]
    for location, value in CIDR_ANSWER.items():
        sets.append(gslb.record("cidr", [value], SetIdentifier="cidr-" + location.strip("*"),
                                CidrRoutingConfig={"CollectionId": "offices",
                                                   "LocationName": location}))
    for region, value in LATENCY_ANSWER.items():
        sets.append(gslb.record("latency", [value], SetIdentifier=region, Region=region))
    for i, value in enumerate(MULTI):
        sets.append(gslb.record("multi", [value], SetIdentifier=f"m{i}", MultiValueAnswer=True))
    return z


class CtlDaemon(gslb.GslbXdpDaemon):
    """The GSLB test's daemon with CIDR collections, a latency table and regions."""

    def __init__(self, topology):
        super().__init__(topology)
        self.write_file("gxdp.test.json", json.dumps(zone_json(), indent=1))
        self.write_file("geo.json", json.dumps({"ip_version": 6, "networks": GEO_NETWORKS}))
        netns.run(["perl", gslb.MAKE_TEST_MMDB, os.path.join(self.dir, "geo.json"),
                   os.path.join(self.dir, "geo.mmdb")], timeout=60)
        self.write_file("latency.csv", LATENCY_CSV)
        self.config.update({
            "cidr_collections": {"offices": CIDR_COLLECTION},
            "regions": REGIONS,
            "latency_table": {"file": "latency.csv"},
        })
        self.write_file("meridian.json", json.dumps(self.config, indent=2))


def ctl(pin_dir, *args):
    """meridianctl with --pin-dir; returns the CompletedProcess (any exit code)."""
    return netns.run([netns.MERIDIANCTL, *args, "--pin-dir", pin_dir], check=False)


class CtlAssertions:
    def ctl_ok(self, *args):
        proc = ctl(self.daemon.pin_dir, *args)
        self.assertEqual(proc.returncode, 0, f"meridianctl {args}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def ctl_json(self, *args):
        return json.loads(self.ctl_ok(*args, "--json"))

    def ctl_rc(self, rc, *args, pin_dir=None):
        proc = ctl(pin_dir or self.daemon.pin_dir, *args)
        self.assertEqual(proc.returncode, rc, f"meridianctl {args}:\n{proc.stdout}{proc.stderr}")
        return proc


def answer_addresses(explanation, records_key="records"):
    return sorted(r["rdata"] for r in explanation.get(records_key, [])
                  if r.get("section") == "answer" and r.get("type") == "A")


class MeridianctlGslbTest(CtlAssertions, gslb.XdpGslbTestBase):
    """One topology, the HTTP backends and one daemon for the class."""

    @classmethod
    def setUpClass(cls):
        reason = netns.skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        netns.ensure_bpffs()
        try:
            cls.topology = netns.Topology().create()
            for host in gslb.BACKENDS.values():
                netns.run(["ip", "-n", cls.topology.server, "addr", "add", host + "/32", "dev",
                           "lo"])
            cls.docroot = tempfile.mkdtemp(prefix="mdnx-ctl-www-")
            with open(os.path.join(cls.docroot, "index.html"), "w") as f:
                f.write("ok\n")
            cls.backends = {key: gslb.NetnsBackend(cls.topology.server, host, cls.docroot)
                            for key, host in gslb.BACKENDS.items()}
            for backend in cls.backends.values():
                backend.start()
            cls.daemon = CtlDaemon(cls.topology).start()
            for needle in ("XDP program attached to veth-srv (native mode)",
                           f"routing policies decided in XDP: {GROUPS} groups",
                           "geolocation table written to XDP"):
                if cls.daemon.wait_for_line(needle, 1) is None:
                    raise AssertionError(f"no log line {needle!r}:\n{cls.daemon.log()}")
            cls.udp = {
                family: netns.socket_in_netns(cls.topology.client, family, socket.SOCK_DGRAM)
                for family in (socket.AF_INET, socket.AF_INET6)}
        except BaseException:
            cls.tearDownClass()
            raise

    # --- maps ------------------------------------------------------------------------------------

    def test_maps(self):
        j = self.ctl_json("maps")
        self.assertEqual(j["pin_dir"], self.daemon.pin_dir)
        live = j["live_generation"]
        self.assertIn(live, (0, 1))
        maps = {m["name"]: m for m in j["maps"]}
        for name in ("mdn_names0", "mdn_names1", "mdn_names2", "mdn_names3", "mdn_control",
                     "mdn_stats", "mdn_groups", "mdn_fragments", "mdn_prefixes", "mdn_latency",
                     "mdn_geo", "mdn_health"):
            self.assertIn(name, maps)
        self.assertEqual(maps["mdn_stats"]["type"], "percpu_array")
        self.assertEqual(maps["mdn_health"]["max_entries"], 65536)
        self.assertGreater(maps["mdn_health"]["memlock"], 0)
        self.assertEqual(maps["mdn_control"]["entries"], 1)  # never zero: the heartbeat
        groups = maps["mdn_groups"]
        self.assertEqual(groups["type"], "array_of_maps")
        self.assertEqual(groups["entries"], 2 if "empty" not in groups["inner"][1 - live] else 1)
        live_slot = next(s for s in groups["inner"] if s["live"])
        self.assertEqual(live_slot["slot"], live)
        self.assertEqual(live_slot["type"], "array")
        self.assertEqual(live_slot["entries"], GROUPS)
        fragments = next(s for s in maps["mdn_fragments"]["inner"] if s["live"])
        self.assertGreaterEqual(fragments["entries"], 2 + 2 + 4 + 3 + 2 + 10)  # candidates
        geo = maps["mdn_geo"]["inner"][0]
        self.assertTrue(geo["live"])
        self.assertEqual(geo["type"], "lpm_trie")
        self.assertGreaterEqual(geo["entries"], len(GEO_NETWORKS))

        text = self.ctl_ok("maps")
        self.assertIn(f"live generation {live}", text)
        self.assertIn("in use", text)
        line = next(l for l in text.splitlines() if l.startswith("mdn_health "))
        self.assertIn("65536", line)
        self.assertRegex(text, rf"\n  \[{live}\] live +array +4 +1808 +{GROUPS} ")

    # --- dump ------------------------------------------------------------------------------------

    def group(self, groups, name):
        return next(g for g in groups["entries"] if g.get("name") == f"{name}.{ZONE}")

    def test_dump_groups_and_fragments(self):
        groups = self.ctl_json("dump", "mdn_groups")
        self.assertTrue(groups["live"])
        self.assertEqual(len(groups["entries"]), GROUPS)
        fo = self.group(groups, "failover")
        self.assertEqual((fo["policy"], fo["type"], fo["count"]), ("failover", "A", 2))
        self.assertEqual([c["role"] for c in fo["candidates"]], ["primary", "secondary"])
        for c in fo["candidates"]:
            self.assertIsInstance(c["health_slot"], int)
            self.assertIn(c["healthy"], (True, False))
        geo = self.group(groups, "geo")
        self.assertEqual(sorted(c["location"] for c in geo["candidates"]),
                         ["country DE", "country FR", "country US", "default (*)"])
        cidr = self.group(groups, "cidr")
        self.assertEqual(cidr["policy"], "ip-based")
        self.assertGreater(cidr["collection"], 0)
        self.assertIn("default (*)", [c["location"] for c in cidr["candidates"]])
        self.assertEqual(self.group(groups, "multi")["count"], 10)
        self.assertEqual(sorted(c["weight"] for c in self.group(groups, "weighted")["candidates"]),
                         [1, 3])

        fragments = self.ctl_json("dump", "mdn_fragments")
        rdata = {(r["owner"], r["rdata"]) for f in fragments["entries"]
                 for r in f.get("records", []) if r["section"] == "answer"}
        self.assertIn((f"failover.{ZONE}", gslb.FAILOVER_PRIMARY), rdata)
        self.assertIn((f"cidr.{ZONE}", CIDR_ANSWER["berlin"]), rdata)
        # Fragment indexes in the groups point at those records.
        by_index = {f["fragment"]: f for f in fragments["entries"]}
        primary = by_index[fo["candidates"][0]["fragment"]]
        self.assertEqual([r["rdata"] for r in primary["records"]], [gslb.FAILOVER_PRIMARY])

        text = self.ctl_ok("dump", "mdn_groups")
        self.assertIn("policy=failover", text)
        self.assertIn("role=secondary", text)
        self.assertIn("location=country DE", text)

    def test_dump_names(self):
        found = {}
        for c in range(4):
            for e in self.ctl_json("dump", f"mdn_names{c}")["entries"]:
                found[(e["name"], e["type"])] = e
        ns1 = found[(f"ns1.{ZONE}", "A")]
        self.assertEqual(ns1["kind"], "static")
        self.assertEqual([r["rdata"] for r in ns1["records"]], ["198.18.0.1"])
        self.assertEqual((ns1["rcode"], ns1["aa"], ns1["ancount"]), ("NOERROR", True, 1))
        self.assertEqual(found[(f"geo.{ZONE}", "A")]["kind"], "policy")
        self.assertIsInstance(found[(f"geo.{ZONE}", "A")]["group"], int)
        text = self.ctl_ok("dump", "mdn_names0")
        self.assertIn(f"name=ns1.{ZONE}", text)
        self.assertIn("ns1.gxdp.test. 30 IN A 198.18.0.1", text)

    def test_dump_prefix_tables(self):
        geo = self.ctl_json("dump", "mdn_geo")
        de = next(e for e in geo["entries"] if e["prefix"] == "198.18.100.0/24")
        self.assertEqual((de["client"]["continent"], de["client"]["country"], de["scope"]),
                         ("EU", "DE", 24))
        self.assertTrue(de["client"]["has_point"])
        us = next(e for e in geo["entries"] if e["prefix"] == "fd00:18:101::/48")
        self.assertEqual(us["client"]["country"], "US")

        prefixes = self.ctl_json("dump", "mdn_prefixes")
        berlin = [e for e in prefixes["entries"] if e["prefix"] == "198.18.100.0/24"]
        self.assertTrue(any(e["table"] > 0 and e["cidr_location"] is not None and e["scope"] == 24
                            for e in berlin), berlin)
        self.assertTrue(any(e["table"] == 0 and e["latency_profile"] > 0 for e in berlin), berlin)
        latency = self.ctl_json("dump", "mdn_latency")
        self.assertEqual([e["ms"] for e in latency["entries"]], [5])
        text = self.ctl_ok("dump", "mdn_geo")
        self.assertIn("prefix=198.18.100.0/24  scope=24  client=(continent=EU country=DE "
                      "has_point=true", text)

    def test_dump_small_maps_generation_limit(self):
        live = self.ctl_json("maps")["live_generation"]
        [control] = self.ctl_json("dump", "mdn_control")["entries"]
        self.assertEqual(control["generation"], live)
        heartbeat = control["heartbeat"]
        self.assertTrue(heartbeat["written"], heartbeat)
        self.assertLess(heartbeat["age_s"], 5, heartbeat)  # written every second
        self.assertEqual((heartbeat["stale_after_s"], heartbeat["stale"]), (30, False), heartbeat)
        stats = self.ctl_json("dump", "mdn_stats")
        self.assertEqual(stats["entries"][0]["counter"], "packets")
        idle = self.ctl_json("dump", "mdn_groups", "--generation", str(1 - live))
        self.assertEqual((idle["generation"], idle["live"]), (1 - live, False))
        limited = self.ctl_json("dump", "mdn_fragments", "--limit", "1")
        self.assertEqual((len(limited["entries"]), limited["truncated"]), (1, True))
        self.assertIn("(limit reached)", self.ctl_ok("dump", "mdn_fragments", "--limit", "1"))
        names = {m["name"] for m in self.ctl_json("maps")["maps"]}
        if "mdn_rrl_config" in names:  # rate limiting maps, when the program has them
            rrl = self.ctl_json("dump", "mdn_rrl_config")
            self.assertIn("enabled", rrl["entries"][0])

    def test_dump_errors(self):
        proc = self.ctl_rc(1, "dump", "mdn_nothere")
        self.assertIn("no map mdn_nothere", proc.stderr)
        self.ctl_rc(1, "dump", "mdn_groups", "--generation", "2")
        self.ctl_rc(1, "dump")
        self.ctl_rc(1, "frobnicate")
        self.ctl_rc(0, "dump", "--help")

    # --- explain ---------------------------------------------------------------------------------

    # (name, server, ECS or None); the client address is the client namespace's own.
    CORPUS = [
        ("geo", netns.SERVER4, None), ("geo", netns.SERVER6, None),
        ("geo", netns.SERVER4, ("198.18.100.0", 24)), ("geo", netns.SERVER4, ("198.18.101.7", 32)),
        ("geo", netns.SERVER4, ("198.18.102.0", 24)), ("geo", netns.SERVER4, ("198.18.200.0", 24)),
        ("geo", netns.SERVER4, ("198.18.100.0", 16)), ("geo", netns.SERVER4, ("10.1.2.0", 24)),
        ("geo", netns.SERVER6, ("fd00:18:100::", 56)), ("geo", netns.SERVER6, ("fd00:18:101::", 48)),
        ("failover", netns.SERVER4, None), ("failover", netns.SERVER6, ("198.18.100.0", 24)),
        ("cidr", netns.SERVER4, None), ("cidr", netns.SERVER6, None),
        ("cidr", netns.SERVER4, ("198.18.100.0", 24)), ("cidr", netns.SERVER4, ("198.18.65.0", 24)),
        ("cidr", netns.SERVER4, ("198.18.64.0", 16)), ("cidr", netns.SERVER4, ("198.18.9.0", 24)),
        ("cidr", netns.SERVER6, ("fd00:18:100::", 48)), ("cidr", netns.SERVER6, ("fd00:18:100::", 32)),
        ("latency", netns.SERVER4, None), ("latency", netns.SERVER6, None),
        ("latency", netns.SERVER4, ("198.18.100.0", 24)),
        ("latency", netns.SERVER4, ("198.18.101.0", 24)),
        ("latency", netns.SERVER4, ("198.18.100.0", 20)),
        ("ns1", netns.SERVER4, None),
        ("nothere", netns.SERVER4, None), ("deep.below.nothere", netns.SERVER6, None),
    ]

    def explain(self, name, server, ecs, *extra):
        client = netns.CLIENT6 if ":" in server else netns.CLIENT4
        args = ["explain", f"{name}.{ZONE}", "A", "--client", client]
        if ecs:
            args += ["--ecs", f"{ecs[0]}/{ecs[1]}"]
        proc = ctl(self.daemon.pin_dir, *args, *extra)
        return proc

    def test_explain_agrees_with_xdp(self):
        answered = passed = 0
        for name, server, ecs in self.CORPUS:
            with self.subTest(name=name, server=server, ecs=ecs):
                proc = self.explain(name, server, ecs, "--json")
                self.assertIn(proc.returncode, (0, 1), proc.stderr)
                e = json.loads(proc.stdout)
                before = self.daemon.stats()
                r = self.udp_query(server, name, ecs)
                d = netns.delta(before, self.daemon.stats())
                if e["verdict"] == "answer":
                    answered += 1
                    self.assertEqual(d["answered"], 1, (e, d))
                    self.assertEqual(gslb.addresses(r), answer_addresses(e), (e, r.to_text()))
                    self.assertEqual(dns.rcode.to_text(r.rcode()), e["rcode"])
                    self.assertEqual(gslb.ecs_scope(r), e["ecs_scope"], (e, r.to_text()))
                else:
                    passed += 1
                    self.assertEqual(e["verdict"], "passed to userspace")
                    self.assertEqual(d["answered"], 0, (e, d))
                    self.assertEqual(d["pass_policy"] + d["pass_name_miss"], 1, (e, d))
                    self.assertNotIn("rcode", e)
        print(f"\n  explain agreed with XDP on {answered} answers and {passed} passed up",
              file=sys.stderr)
        self.assertGreaterEqual(answered, 20)
        self.assertGreaterEqual(passed, 2)  # the CIDR blocks longer than the source prefix

    def test_explain_reasons(self):
        e = json.loads(self.explain("geo", netns.SERVER4, ("198.18.100.0", 24), "--json").stdout)
        self.assertEqual(e["client"], {"address": "198.18.100.0/24", "from": "ECS"})
        self.assertEqual(e["group"]["policy"], "geolocation")
        self.assertEqual(e["client_facts"]["geo"]["prefix"], "198.18.100.0/24")
        self.assertEqual(e["client_facts"]["geo"]["client"]["country"], "DE")
        chosen = [c for c in e["candidates"] if c["chosen"]]
        self.assertEqual([c["location"] for c in chosen], ["country DE"])
        self.assertIn("most specific", chosen[0]["why"])
        self.assertEqual((answer_addresses(e), e["ecs_scope"]), ([gslb.GEO_ANSWER["DE"]], 24))
        others = {c["location"]: c["why"] for c in e["candidates"] if not c["chosen"]}
        self.assertEqual(others["country US"], "does not match the client")
        self.assertIn("more specific", others["default (*)"])

        e = json.loads(self.explain("cidr", netns.SERVER4, ("198.18.64.0", 16), "--json").stdout)
        self.assertEqual(e["verdict"], "passed to userspace")
        self.assertIn("bits the client did not send", e["reason"])
        e = json.loads(self.explain("cidr", netns.SERVER4, ("198.18.100.0", 24), "--json").stdout)
        self.assertEqual(e["client_facts"]["cidr"][0]["prefix"], "198.18.100.0/24")
        self.assertEqual(answer_addresses(e), [CIDR_ANSWER["berlin"]])
        e = json.loads(self.explain("latency", netns.SERVER4, ("198.18.100.0", 24), "--json").stdout)
        self.assertEqual(e["client_facts"]["latency_table"]["scope"], 24)
        self.assertEqual(answer_addresses(e), [LATENCY_ANSWER["lab-b"]])  # 5 ms, lab-a unknown
        e = json.loads(self.explain("latency", netns.SERVER4, ("198.18.101.0", 24), "--json").stdout)
        self.assertEqual(answer_addresses(e), [LATENCY_ANSWER["lab-b"]])  # US: New York is near

        text = self.explain("geo", netns.SERVER4, ("198.18.100.0", 24)).stdout
        for needle in ("geolocation", "country DE", "198.18.100.0/24", "chosen: the most specific",
                       "ECS scope 24", f"geo.{ZONE} 30 IN A {gslb.GEO_ANSWER['DE']}"):
            self.assertIn(needle, text)
        text = self.explain("cidr", netns.SERVER4, ("198.18.64.0", 16)).stdout
        self.assertIn("passed to userspace: CIDR collection", text)
        text = self.explain("ns1", netns.SERVER4, None).stdout
        self.assertIn("entry:      static", text)
        self.assertIn("198.18.0.1", text)

    def test_explain_random_policies(self):
        e = json.loads(self.explain("weighted", netns.SERVER4, None, "--json").stdout)
        self.assertEqual(e["chosen"], "random")
        p = {answer_addresses(c)[0]: c["probability"] for c in e["candidates"]}
        self.assertEqual(p, {value: weight / 4 for value, weight in gslb.WEIGHTED.values()})
        e = json.loads(self.explain("multi", netns.SERVER4, None, "--json").stdout)
        self.assertEqual(e["chosen"], "random")
        self.assertEqual({answer_addresses(c)[0]: c["probability"] for c in e["candidates"]},
                         {v: 0.8 for v in MULTI})
        got = gslb.addresses(self.udp_query(netns.SERVER4, "multi"))
        self.assertEqual(len(got), 8)
        self.assertTrue(set(got) <= set(MULTI))
        text = self.explain("weighted", netns.SERVER4, None).stdout
        self.assertIn("p=0.7500", text)
        self.assertIn("drawn at random", text)

    def test_explain_errors(self):
        client = ["--client", netns.CLIENT4]
        self.assertIn("unknown type", self.ctl_rc(1, "explain", f"geo.{ZONE}", "BOGUS",
                                                  *client).stderr)
        self.ctl_rc(1, "explain", f"geo.{ZONE}", "A", "--client", "not-an-address")
        self.ctl_rc(1, "explain", f"geo.{ZONE}", "A", "--ecs", "198.18.0.0/33", *client)
        self.ctl_rc(1, "explain", f"geo.{ZONE}", "A")  # no client at all
        proc = self.ctl_rc(1, "explain", "www.example.org", "A", *client)
        self.assertIn("passed to userspace", proc.stdout)
        self.assertIn("not in the maps", proc.stderr)
        self.ctl_rc(1, "explain", f"geo.{ZONE}")  # TYPE missing
        self.assertIn("EXIT STATUS", self.ctl_rc(0, "explain", "--help").stdout)

    # --- stats -----------------------------------------------------------------------------------

    def test_stats(self):
        before = self.ctl_json("stats")
        self.udp_query(netns.SERVER4, "geo")
        after = self.ctl_json("stats")
        self.assertEqual(after["hit_policy"] - before["hit_policy"], 1)
        self.assertIn("hit_policy", self.ctl_ok("stats"))

        # --watch: per-second rates while queries flow (bounded by --count and the timeout).
        stop = threading.Event()

        def load():
            deadline = time.monotonic() + WATCH_TIMEOUT_S
            while not stop.is_set() and time.monotonic() < deadline:
                self.udp_query(netns.SERVER4, "geo")
                time.sleep(0.02)

        t = threading.Thread(target=load)
        t.start()
        try:
            out = self.ctl_ok("stats", "--watch", "0.5", "--count", "2", "--json")
            text = self.ctl_ok("stats", "--watch", "0.3", "--count", "1")
        finally:
            stop.set()
            t.join(WATCH_TIMEOUT_S)
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual(len(lines), 2)
        for line in lines:
            self.assertGreater(line["interval_s"], 0.4)
            self.assertGreater(line["rates"]["hit_policy"], 1)
            self.assertGreaterEqual(line["counters"]["hit_policy"], after["hit_policy"])
        self.assertIn("per second", text)
        self.assertIn("per second", self.ctl_ok("stats", "--watch", "--count", "1"))  # 1 s
        self.assertIn("hit_policy", text)
        self.ctl_rc(1, "stats", "--watch", "0")

    # --- health, last: it stops a backend ---------------------------------------------------------

    def test_z_health_moves_explain(self):
        """Backend A down: explain reads the health map (primary unhealthy, secondary chosen),
        the actual answer agrees, and mdn_health lists the primary's slot."""
        self.wait_for_first_probes()
        self.backends["a"].stop()
        try:
            deadline = time.monotonic() + gslb.INTERVAL_S * gslb.THRESHOLDS["a"] + 5
            while True:
                e = json.loads(self.explain("failover", netns.SERVER4, None, "--json").stdout)
                if not e["candidates"][0]["healthy"]:
                    break
                self.assertLess(time.monotonic(), deadline, "primary never became unhealthy")
                time.sleep(0.1)
            self.assertEqual(answer_addresses(e), [gslb.FAILOVER_SECONDARY])
            self.assertIn("no healthy primary", e["candidates"][1]["why"])
            self.assertEqual(e["candidates"][0]["why"], "unhealthy")
            self.assertEqual(gslb.addresses(self.udp_query(netns.SERVER4, "failover")),
                             [gslb.FAILOVER_SECONDARY])
            slot = e["candidates"][0]["health_slot"]
            health = self.ctl_json("dump", "mdn_health")["entries"]
            self.assertIn({"slot": slot, "state": "unhealthy"}, health)
            self.assertIn("UNHEALTHY", self.explain("failover", netns.SERVER4, None).stdout)
        finally:
            self.backends["a"].start()


class MeridianctlStoppedDaemonTest(CtlAssertions, netns.NetnsTestCase):
    """The maps stay readable after meridiand stops; once the pins are gone every command exits
    with 2."""

    @classmethod
    def setUpClass(cls):
        cls.make()
        cls.require_log_line("XDP program attached to veth-srv (native mode)")

    def test_after_stop_and_without_pins(self):
        www = ["explain", "www.xdp.example", "A", "--client", netns.CLIENT4]
        e = json.loads(self.ctl_ok(*www, "--json"))
        self.assertEqual((e["entry"]["kind"], e["entry"]["shuffled_records"]), ("static", 2))
        self.assertEqual(answer_addresses(e), ["198.18.10.80", "198.18.10.81"])
        self.assertIsNone(e["ecs_scope"])
        dig = self.dig("dig", netns.SERVER4, "www.xdp.example.", "A")
        self.assertEqual(sorted(r[4] for r in dig["answer"]), answer_addresses(e))

        self.assertEqual(self.daemon.terminate(), 0)
        maps = self.ctl_json("maps")
        self.assertIn("mdn_names0", {m["name"] for m in maps["maps"]})
        names = self.ctl_json("dump", "mdn_names0")
        self.assertIn("www.xdp.example.", {n["name"] for n in names["entries"]})
        self.assertEqual(json.loads(self.ctl_ok(*www, "--json"))["records"], e["records"])
        self.ctl_ok("stats")

        netns.remove_pin_dir(self.daemon.pin_dir)
        for args in (["maps"], ["dump", "mdn_names0"], www, ["stats"], ["stats", "--json"]):
            with self.subTest(args=args):
                proc = self.ctl_rc(2, *args)
                self.assertIn("cannot read pin dir", proc.stderr)


if __name__ == "__main__":
    netns.main(__doc__)
