"""A fleet end to end (label fleet): 3 etcd members and 3 meridiand edges, each edge in a network
namespace of its own (fleet_netns.py), real HTTP backends for health checks. What
docs/fleet.md promises: a change through any edge answered by all, INSYNC only once all serve it,
conflicting writes decided once, restarts and etcd leader loss without losing an acknowledged
change, a partitioned edge answering every query and refusing writes, and the health vote.

Run one class: fleet_e2e_test.py --meridiand PATH FleetReplicationTest
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import fleet_netns
from fleet_netns import Backend, Edge, Etcd, Topology, WebhookReceiver, answers, wait_until

MERIDIAND = None
ZONE = "fleet.example."
PROPAGATION_S = 10  # generous: sanitizer builds on a loaded 2-core machine


def a_change(action, name, address, ttl=60):
    return {"Action": action,
            "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": ttl,
                                  "ResourceRecords": [{"Value": address}]}}


class FleetCase(unittest.TestCase):
    """A topology, etcd, and three edges for the class; a zone created through edge 0."""

    LEASE_TTL_S = 3
    BACKENDS = 0
    WEBHOOKS = False

    @classmethod
    def setUpClass(cls):
        reason = fleet_netns.skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.topology = Topology(backends=max(cls.BACKENDS, 1)).create()
        cls.etcd = None
        cls.edges = []
        cls.backends = []
        cls.receiver = None
        try:
            cls.etcd = Etcd(cls.topology).start()
            cls.backends = [Backend(cls.topology, k) for k in range(cls.BACKENDS)]
            if cls.WEBHOOKS:
                cls.receiver = WebhookReceiver(cls.topology)
            prefix = f"/meridian-{cls.topology.suffix}/"
            hooks = [cls.receiver.url] if cls.receiver else []
            cls.edges = [Edge(MERIDIAND, cls.topology, cls.etcd, i, prefix, cls.LEASE_TTL_S,
                              hooks) for i in range(3)]
            for e in cls.edges:
                e.start()
            cls.sock = cls.topology.hub_socket()
            r = cls.edges[0].api("POST", "/v1/zones", {"Name": ZONE})
            assert r.status == 201, r.body
            cls.zone_id = r.json()["HostedZone"]["Id"].split("/")[-1]
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for e in getattr(cls, "edges", []):
            e.stop()
        for b in getattr(cls, "backends", []):
            b.stop()
        if getattr(cls, "receiver", None):
            cls.receiver.stop()
        if getattr(cls, "etcd", None):
            cls.etcd.stop()
        if hasattr(cls, "sock"):
            cls.sock.close()
        cls.topology.destroy()

    def change(self, edge, changes, comment="test"):
        return edge.api("POST", f"/v1/zones/{self.zone_id}/rrsets",
                        {"Comment": comment, "Changes": changes})

    def answered_by_all(self, name, expected, timeout=PROPAGATION_S, edges=None):
        for e in edges or self.edges:
            got = wait_until(lambda: answers(e.query(self.sock, name)) == expected, timeout)
            self.assertTrue(got, f"edge {e.name} does not answer {name} with {expected}: "
                                 f"{answers(e.query(self.sock, name))}\n{e.log()[-3000:]}")

    def change_status(self, edge, change_id):
        r = edge.api("GET", f"/v1/changes/{change_id}")
        self.assertEqual(r.status, 200, r.body)
        return r.json()["ChangeInfo"]["Status"]


class FleetReplicationTest(FleetCase):
    LEASE_TTL_S = 6  # an edge stopped for a moment stays a live member

    def test_change_on_one_edge_is_answered_by_all(self):
        r = self.change(self.edges[1], [a_change("CREATE", "www." + ZONE, "192.0.2.1")])
        self.assertEqual(r.status, 200, r.body)
        change_id = r.json()["ChangeInfo"]["Id"].split("/")[-1]
        self.answered_by_all("www." + ZONE, ["192.0.2.1"])
        self.assertTrue(wait_until(lambda: self.change_status(self.edges[2], change_id) ==
                                   "INSYNC", PROPAGATION_S))
        zones = [e.api("GET", "/v1/zones").json()["HostedZones"] for e in self.edges]
        self.assertTrue(all(z == zones[0] for z in zones), zones)

    def test_created_checks_versions_and_tags_are_the_fleets(self):
        # A check created by reference through one edge is the one another edge finds; its
        # version and tags, and a zone's tags, are read the same on every edge.
        request = {"CallerReference": "fleet-ref",
                   "HealthCheckConfig": {"Type": "TCP", "IPAddress": "192.0.2.7", "Port": 9,
                                         "Disabled": True}}
        r = self.edges[0].api("POST", "/v1/healthchecks", request)
        self.assertEqual(r.status, 201, r.body)
        check_id = r.json()["HealthCheck"]["Id"]
        r = self.edges[1].api("POST", "/v1/healthchecks", request)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.json()["HealthCheck"]["Id"], r.json()["Created"]), (check_id, False))
        r = self.edges[1].api("POST", f"/v1/healthchecks/{check_id}",
                              {"HealthCheckVersion": 1, "Port": 10})
        self.assertEqual(r.status, 200, r.body)
        r = self.edges[2].api("POST", f"/v1/healthchecks/{check_id}",
                              {"HealthCheckVersion": 1, "Port": 11})
        self.assertEqual(r.status, 409, r.body)
        self.assertEqual(r.json()["Error"]["Code"], "HealthCheckVersionMismatch")
        for kind, resource in (("healthcheck", check_id), ("hostedzone", self.zone_id)):
            r = self.edges[2].api("POST", f"/v1/tags/{kind}/{resource}",
                                  {"AddTags": [{"Key": "pop", "Value": "all"}]})
            self.assertEqual(r.status, 200, r.body)

        def seen(edge):
            check = edge.api("GET", f"/v1/healthchecks/{check_id}")
            zone_tags = edge.api("GET", f"/v1/tags/hostedzone/{self.zone_id}")
            if check.status != 200 or zone_tags.status != 200:
                return None
            c = check.json()["HealthCheck"]
            return (c["HealthCheckVersion"], c["HealthCheckConfig"]["Port"], c.get("Tags"),
                    zone_tags.json()["ResourceTagSet"]["Tags"])

        expected = (2, 10, [{"Key": "pop", "Value": "all"}], [{"Key": "pop", "Value": "all"}])
        for e in self.edges:
            self.assertTrue(wait_until(lambda: seen(e) == expected, PROPAGATION_S),
                            f"edge {e.name}: {seen(e)}")

    def test_insync_only_after_every_live_edge_serves_it(self):
        # Edge 2 is stopped (its lease lives on): it cannot apply, so the change stays PENDING.
        laggard = self.edges[2]
        laggard.signal(signal.SIGSTOP)
        try:
            r = self.change(self.edges[0], [a_change("UPSERT", "lag." + ZONE, "192.0.2.9")])
            self.assertEqual(r.status, 200, r.body)
            change_id = r.json()["ChangeInfo"]["Id"].split("/")[-1]
            self.answered_by_all("lag." + ZONE, ["192.0.2.9"], edges=self.edges[:2])
            self.assertEqual(self.change_status(self.edges[1], change_id), "PENDING")
        finally:
            laggard.signal(signal.SIGCONT)
        self.answered_by_all("lag." + ZONE, ["192.0.2.9"])
        self.assertTrue(wait_until(lambda: self.change_status(self.edges[0], change_id) ==
                                   "INSYNC", PROPAGATION_S))

    def test_conflicting_batches_on_two_edges_exactly_one_wins(self):
        for round_ in range(8):
            name = f"race{round_}.{ZONE}"
            barrier = threading.Barrier(2)
            results = [None, None]

            def submit(slot, edge, address):
                barrier.wait(5)
                results[slot] = self.change(edge, [a_change("CREATE", name, address)])

            threads = [threading.Thread(target=submit, args=(0, self.edges[0], "192.0.2.10")),
                       threading.Thread(target=submit, args=(1, self.edges[1], "192.0.2.11"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            statuses = sorted(r.status for r in results)
            self.assertEqual(statuses, [200, 400], [r.body for r in results])
            loser = results[0] if results[0].status == 400 else results[1]
            self.assertIn("InvalidChangeBatch", loser.body)
            winner = "192.0.2.10" if results[0].status == 200 else "192.0.2.11"
            self.answered_by_all(name, [winner])

    def test_concurrent_independent_batches_both_apply(self):
        barrier = threading.Barrier(3)
        results = [None] * 3

        def submit(i):
            barrier.wait(5)
            results[i] = self.change(self.edges[i], [a_change("CREATE", f"own{i}.{ZONE}",
                                                              f"192.0.2.{30 + i}")])

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual([r.status for r in results], [200] * 3, [r.body for r in results])
        for i in range(3):
            self.answered_by_all(f"own{i}.{ZONE}", [f"192.0.2.{30 + i}"])


    def test_drift_of_local_inputs_is_reported(self):
        self.assertTrue(wait_until(
            lambda: self.edges[0].api("GET", "/v1/cluster").json()["InputsConsistent"],
            PROPAGATION_S))
        edge = self.edges[2]
        edge.config["regions"] = {"lab": {"latitude": 50.1, "longitude": 8.7}}
        start = self.edges[0].line_count()
        edge.write_file("meridian.json", json.dumps(edge.config))
        edge.signal(signal.SIGHUP)
        try:
            self.assertTrue(wait_until(
                lambda: not self.edges[0].api("GET", "/v1/cluster").json()["InputsConsistent"],
                PROPAGATION_S))
            self.assertTrue(self.edges[0].wait_for_line(
                "edge e2 answers from other unshared GSLB inputs", PROPAGATION_S, start))
        finally:
            del edge.config["regions"]
            edge.write_file("meridian.json", json.dumps(edge.config))
            edge.signal(signal.SIGHUP)
        self.assertTrue(wait_until(
            lambda: self.edges[0].api("GET", "/v1/cluster").json()["InputsConsistent"],
            PROPAGATION_S))


    def test_an_edge_that_cannot_start_exits(self):
        # The control socket cannot be made, which is found after the fleet member started: the
        # process must say why and exit, not hang on the member's threads.
        broken = Edge(MERIDIAND, self.topology, self.etcd, 0,
                      self.edges[0].config["cluster"]["prefix"])
        broken.config["cluster"]["edge"] = "broken"
        broken.config["control"]["socket"] = "/proc/meridian-no-such-dir/control.sock"
        path = broken.write_file("meridian.json", json.dumps(broken.config))
        try:
            proc = subprocess.run(["ip", "netns", "exec", self.topology.edges[0], MERIDIAND,
                                   "--config", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 1, proc.stderr[-3000:])
            self.assertIn("cannot start", proc.stderr)
        finally:
            broken.stop()


class FleetRestartTest(FleetCase):
    def stream_changes(self, edge_for, count, on_ack=None, deadline_s=120):
        """Creates n0..n{count-1} one batch each, retrying a 503 (etcd electing) until it
        commits; returns the acknowledged names and the longest gap between acknowledgements."""
        acked, gaps = [], []
        last = time.monotonic()
        end = time.monotonic() + deadline_s
        for n in range(count):
            name = f"n{n}.{ZONE}"
            while time.monotonic() < end:
                try:
                    r = self.change(edge_for(n), [a_change("CREATE", name, "192.0.2.50")])
                except OSError:
                    time.sleep(0.1)
                    continue
                if r.status == 200:
                    break
                if r.status == 400 and "already exists" in r.body:
                    break  # committed, but the answer was lost on the way: still acknowledged
                self.assertEqual(r.status, 503, r.body)
                time.sleep(0.1)
            else:
                self.fail(f"{name} not committed within {deadline_s} s")
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            acked.append(name)
            if on_ack:
                on_ack(n)
        return acked, max(gaps)

    def assert_all_served(self, names):
        for e in self.edges:
            for name in names:
                got = wait_until(lambda: answers(e.query(self.sock, name)) == ["192.0.2.50"],
                                 PROPAGATION_S)
                self.assertTrue(got, f"edge {e.name} lost acknowledged {name}")

    def test_edge_killed_during_changes_restarts_from_cache_and_catches_up(self):
        victim = self.edges[2]
        events = {}

        def on_ack(n):
            if n == 10:
                victim.kill9()
                events["killed"] = n
            if n == 25:
                # Restarted cut off from etcd: it must answer from its cache at once.
                self.topology.cut_from_etcd(2)
                victim.start()
                events["cached_answer"] = answers(victim.query(self.sock, "n5." + ZONE))
                self.topology.heal_etcd(2)

        acked, _ = self.stream_changes(lambda n: self.edges[n % 2], 40, on_ack)
        self.assertEqual(events.get("cached_answer"), ["192.0.2.50"], victim.log()[-3000:])
        self.assertIn("fleet cache at revision", victim.log())
        self.assert_all_served(acked)

    def test_etcd_leader_killed_during_changes_writes_resume(self):
        events = {}

        def on_ack(n):
            if n == 10:
                leader = self.etcd.leader_index()
                self.etcd.kill(leader)
                events["leader"] = leader

        try:
            acked, longest_gap = self.stream_changes(lambda n: self.edges[0], 30, on_ack)
        finally:
            if "leader" in events:
                self.etcd.restart(events["leader"])
        # Election within seconds; the edge moves on to a live member on its own.
        self.assertLess(longest_gap, 8.0, "writes stalled after the leader died")
        self.assert_all_served([f"n{n}.{ZONE}" for n in range(30)])


class FleetPartitionTest(FleetCase):
    def test_partitioned_edge_answers_refuses_writes_and_catches_up(self):
        cut = self.edges[2]
        r = self.change(self.edges[0], [a_change("UPSERT", "p." + ZONE, "192.0.2.60")])
        self.assertEqual(r.status, 200, r.body)
        self.answered_by_all("p." + ZONE, ["192.0.2.60"])
        self.topology.cut_from_etcd(2)
        try:
            # Writes are refused with the reason and since when, never queued.
            refused = wait_until(
                lambda: (lambda r: r if r.status == 503 else None)(
                    self.change(cut, [a_change("UPSERT", "q." + ZONE, "192.0.2.61")])),
                PROPAGATION_S)
            self.assertTrue(refused, "a partitioned edge accepted a write")
            self.assertIn("etcd unreachable since", refused.body)
            status = cut.api("GET", "/v1/cluster").json()
            self.assertFalse(status["Connected"])
            self.assertIn("UnreachableSince", status)
            # The others go on: a change while it is cut off.
            r = self.change(self.edges[0], [a_change("UPSERT", "p." + ZONE, "192.0.2.62")])
            self.assertEqual(r.status, 200, r.body)
            # Every query to the cut-off edge is answered, from its last applied state.
            lost = []
            for n in range(300):
                try:
                    got = answers(cut.query(self.sock, "p." + ZONE, timeout=1.0))
                    if got != ["192.0.2.60"]:
                        lost.append(got)
                except Exception as e:  # noqa: BLE001 - a timeout is a lost query
                    lost.append(repr(e))
                time.sleep(0.01)
            self.assertEqual(lost, [], f"{len(lost)} of 300 queries not answered as before")
        finally:
            self.topology.heal_etcd(2)
        self.answered_by_all("p." + ZONE, ["192.0.2.62"], timeout=20)
        self.assertTrue(wait_until(lambda: cut.api("GET", "/v1/cluster").json()["Connected"],
                                   PROPAGATION_S))
        self.assertIn("etcd reachable again", cut.log())


class FleetHealthVoteTest(FleetCase):
    BACKENDS = 2
    WEBHOOKS = True
    INTERVAL_S, THRESHOLD = 1, 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            for k, check_id in enumerate(("primary", "secondary")):
                r = cls.edges[0].api("POST", "/v1/healthchecks", {
                    "Id": check_id, "Type": "HTTP", "IPAddress": fleet_netns.backend_address(k),
                    "Port": 8080, "ResourcePath": "/", "RequestInterval": cls.INTERVAL_S,
                    "FailureThreshold": cls.THRESHOLD})
                assert r.status == 200, r.body
            changes = []
            for k, (role, check_id) in enumerate((("PRIMARY", "primary"),
                                                  ("SECONDARY", "secondary"))):
                changes.append({"Action": "CREATE", "ResourceRecordSet": {
                    "Name": "app." + ZONE, "Type": "A", "TTL": 10, "SetIdentifier": role.lower(),
                    "Failover": role, "HealthCheckId": check_id,
                    "ResourceRecords": [{"Value": f"192.0.2.{100 + k}"}]}})
            r = cls.edges[0].api("POST", f"/v1/zones/{cls.zone_id}/rrsets", {"Changes": changes})
            assert r.status == 200, r.body
        except BaseException:
            cls.tearDownClass()
            raise

    def vote(self, edge, check_id):
        for s in edge.api("GET", "/v1/health").json()["HealthCheckStatuses"]:
            if s["Id"] == check_id:
                return s
        return None

    def test_vote(self):
        primary = fleet_netns.backend_address(0)
        self.answered_by_all("app." + ZONE, ["192.0.2.100"])
        self.assertTrue(wait_until(
            lambda: all((self.vote(e, "primary") or {}).get("Vote", {}).get("Observers") == 3
                        for e in self.edges), PROPAGATION_S))
        # One edge of three cannot reach the primary: its own probe says unhealthy, the fleet
        # keeps the primary in service everywhere.
        self.topology.cut(0, primary)
        try:
            own_down = wait_until(
                lambda: self.vote(self.edges[0], "primary")["Status"] == "unhealthy",
                self.INTERVAL_S * self.THRESHOLD + 10)
            self.assertTrue(own_down, self.edges[0].log()[-3000:])
            status = self.vote(self.edges[0], "primary")
            self.assertEqual(status["FleetStatus"], "healthy")
            self.assertEqual(status["Vote"]["Summary"], "2 of 3 vantage points healthy")
            time.sleep(self.INTERVAL_S * self.THRESHOLD + 1)
            for e in self.edges:
                self.assertEqual(answers(e.query(self.sock, "app." + ZONE)), ["192.0.2.100"])
            # Unreachable from all three: out everywhere within interval x threshold + lease + 1 s
            # (plus this machine's scheduling slack).
            self.topology.cut(1, primary)
            self.topology.cut(2, primary)
            start = time.monotonic()
            bound = self.INTERVAL_S * self.THRESHOLD + self.LEASE_TTL_S + 1
            self.answered_by_all("app." + ZONE, ["192.0.2.101"], timeout=bound + 5)
            elapsed = time.monotonic() - start
            print(f"\nbackend down for all: every edge answered without it after {elapsed:.2f} s "
                  f"(bound {bound} s)", file=sys.stderr)
            self.assertLess(elapsed, bound)
            self.assertIn("decided unhealthy (0 of 3 vantage points healthy)",
                          self.edges[1].log())
        finally:
            for i in range(3):
                self.topology.heal(i, primary)
        self.answered_by_all("app." + ZONE, ["192.0.2.100"], timeout=20)
        # One webhook per fleet-wide transition (down, then up), not one per edge; the edge
        # that could not reach the primary alone sent nothing.
        hooks = wait_until(lambda: (lambda b: b if len(b) >= 2 else None)(
            [b for b in self.receiver.bodies if b["check_id"] == "primary"]), PROPAGATION_S)
        self.assertTrue(hooks, self.receiver.bodies)
        time.sleep(1)
        hooks = [b for b in self.receiver.bodies if b["check_id"] == "primary"]
        self.assertEqual([(b["old_state"], b["new_state"]) for b in hooks],
                         [("healthy", "unhealthy"), ("unhealthy", "healthy")], hooks)
        self.assertEqual(hooks[0]["reason"], "fleet vote: 0 of 3 vantage points healthy")

    def test_vantage_labels_choose_the_observers(self):
        backend = fleet_netns.backend_address(1)
        r = self.edges[0].api("POST", "/v1/healthchecks", {
            "Id": "from-pop1", "Type": "HTTP", "IPAddress": backend, "Port": 8080,
            "RequestInterval": self.INTERVAL_S, "FailureThreshold": self.THRESHOLD,
            "Vantages": ["pop1"]})
        self.assertEqual(r.status, 200, r.body)
        seen = wait_until(lambda: (self.vote(self.edges[0], "from-pop1") or {}).get("Vote"),
                          PROPAGATION_S)
        self.assertTrue(seen)
        self.assertTrue(wait_until(
            lambda: self.vote(self.edges[0], "from-pop1")["Vote"]["Observers"] == 1,
            PROPAGATION_S))
        # Edge 0 does not probe it; the one observer decides for all.
        self.assertEqual(self.vote(self.edges[0], "from-pop1")["Status"], "unknown")
        self.topology.cut(1, backend)
        try:
            self.assertTrue(wait_until(
                lambda: all(self.vote(e, "from-pop1")["FleetStatus"] == "unhealthy"
                            for e in self.edges), self.INTERVAL_S * self.THRESHOLD + 10))
        finally:
            self.topology.heal(1, backend)
        r = self.edges[1].api("DELETE", "/v1/healthchecks/from-pop1")
        self.assertEqual(r.status, 200, r.body)

    def test_killed_edge_stops_voting_when_its_lease_ends(self):
        victim = self.edges[2]
        self.assertTrue(wait_until(
            lambda: self.vote(self.edges[0], "primary")["Vote"]["Observers"] == 3,
            PROPAGATION_S))
        victim.kill9()
        try:
            gone = wait_until(
                lambda: self.vote(self.edges[0], "primary")["Vote"]["Observers"] == 2,
                self.LEASE_TTL_S + 5)
            self.assertTrue(gone, "a dead edge's observation outlived its lease")
            # Edge records are read on each keep-alive (a third of the lease): allow one round.
            names = lambda: [e["Name"] for e in self.edges[0].api("GET", "/v1/cluster").json()[
                "Edges"]]  # noqa: E731
            self.assertTrue(wait_until(lambda: names() == ["e0", "e1"], self.LEASE_TTL_S),
                            names())
        finally:
            victim.start()
        self.assertTrue(wait_until(
            lambda: self.vote(self.edges[0], "primary")["Vote"]["Observers"] == 3,
            PROPAGATION_S))


def main():
    global MERIDIAND
    parser = argparse.ArgumentParser()
    parser.add_argument("--meridiand", required=True)
    args, rest = parser.parse_known_args()
    MERIDIAND = os.path.abspath(args.meridiand)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
