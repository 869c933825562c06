#!/usr/bin/python3
"""Metrics and query logs end to end, with XDP attached in network namespaces: the Prometheus page
(over the control socket, and on its own TCP address without a token) scraped before and after a
known mix of queries, its counters matching what was sent by path, zone, type and rcode; health
states and change batches on the page; the Route 53-format query log holding every userspace
answer and (sample 1 in 1) every XDP answer; log rotation by rename and SIGUSR1.

Usage: observability_e2e_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                                 [unittest args]
"""

import json
import os
import re
import signal
import socket
import time
import unittest

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import control_http
import netns

LOG_LINE = re.compile(
    r"^1\.0 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\S+) (\S+) (UDP|TCP) "
    r"EDGE-TEST (\S+) (\S+)$")
SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')


def parse_metrics(text):
    """{(name, frozenset(labels)): value} from Prometheus text; checks HELP/TYPE come first."""
    out = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        assert name in typed, f"{name} has no TYPE line"
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        out[(name, pairs)] = float(value)
    return out


def metric(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0.0)


class XdpObservabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topology = netns.topology_or_skip()
        cls.daemon = None
        try:
            cls.daemon = netns.XdpDaemon(cls.topology)
            cls.daemon.config["query_log"] = {"file": "query.log", "xdp_sample": 1,
                                              "edge_location": "EDGE-TEST"}
            cls.daemon.config["metrics"] = {"listen": f"{netns.SERVER4}:9153"}
            cls.daemon.write_file("meridian.json", json.dumps(cls.daemon.config))
            cls.daemon.start()
            cls.sock = os.path.join(cls.daemon.dir, "control.sock")
            cls.log_path = os.path.join(cls.daemon.dir, "query.log")
            cls.udp = netns.socket_in_netns(cls.topology.client, socket.AF_INET,
                                            socket.SOCK_DGRAM)
        except BaseException:
            if cls.daemon:
                cls.daemon.stop()  # stops it if it started, removes its directory either way
            cls.topology.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.topology.destroy()

    def scrape(self):
        r = control_http.request("GET", "/metrics", unix=self.sock)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        return parse_metrics(r.body)

    def udp_query(self, name, rtype):
        q = dns.message.make_query(name, rtype)
        self.udp.sendto(q.to_wire(), (netns.SERVER4, 53))
        self.udp.settimeout(netns.REPLY_TIMEOUT_S)
        while True:
            data, _ = self.udp.recvfrom(4096)
            r = dns.message.from_wire(data)
            if r.id == q.id:
                return r

    def tcp_query(self, name, rtype):
        s = netns.socket_in_netns(self.topology.client, socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(netns.REPLY_TIMEOUT_S)
            s.connect((netns.SERVER4, 53))
            return dns.query.send_tcp(s, dns.message.make_query(name, rtype),
                                      time.time() + netns.REPLY_TIMEOUT_S) and \
                dns.query.receive_tcp(s, time.time() + netns.REPLY_TIMEOUT_S)[0]
        finally:
            s.close()

    def log_lines(self, path=None, want=0, timeout=10):
        """The query log's lines, waiting (bounded) until there are at least `want`."""
        deadline = time.monotonic() + timeout
        while True:
            with open(path or self.log_path) as f:
                lines = f.read().splitlines()
            if len(lines) >= want or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    def test_counters_and_log_match_the_queries_sent(self):
        before = self.scrape()
        start_lines = len(self.log_lines())
        sent = {("www.xdp.example", "A", "NOERROR", "UDP"): 20,
                ("nope.xdp.example", "A", "NXDOMAIN", "UDP"): 7,
                ("www.xdp.example", "AAAA", "NOERROR", "TCP"): 5,
                ("www.other.test", "A", "REFUSED", "TCP"): 3}
        for (name, rtype, rcode, proto), n in sent.items():
            for _ in range(n):
                r = (self.udp_query if proto == "UDP" else self.tcp_query)(name + ".", rtype)
                self.assertEqual(dns.rcode.to_text(r.rcode()), rcode)
        after = self.scrape()

        def d(name, **labels):
            return metric(after, name, **labels) - metric(before, name, **labels)

        # XDP answered the UDP ones, userspace the TCP ones.
        self.assertEqual(d("meridian_queries_total", path="xdp"), 27)
        self.assertEqual(d("meridian_queries_total", path="userspace"), 8)
        self.assertEqual(d("meridian_xdp_answers_total", rcode="NXDOMAIN"), 7)
        self.assertEqual(d("meridian_xdp_answers_total", rcode="NOERROR"), 20)
        self.assertEqual(d("meridian_xdp_answers_by_type_total", qtype="A"), 20)
        self.assertEqual(d("meridian_xdp_packets_total", counter="answered"), 27)
        self.assertEqual(d("meridian_userspace_queries_total", zone="xdp.example",
                           qtype="AAAA", rcode="NOERROR", transport="tcp"), 5)
        self.assertEqual(d("meridian_userspace_queries_total", zone="-", qtype="A",
                           rcode="REFUSED", transport="tcp"), 3)
        self.assertGreaterEqual(d("meridian_xdp_pass_total", reason="tcp"), 8)  # TCP: passed up
        ratio = metric(after, "meridian_fastpath_hit_ratio")
        xdp = metric(after, "meridian_queries_total", path="xdp")
        user = metric(after, "meridian_queries_total", path="userspace")
        self.assertAlmostEqual(ratio, xdp / (xdp + user), places=6)
        self.assertGreater(metric(after, "meridian_xdp_map_entries", map="names"), 0)
        self.assertEqual(metric(after, "meridian_zones"), 1)

        # The query log: one line per answer, Route 53's fields.
        lines = self.log_lines(want=start_lines + 35)[start_lines:]
        self.assertEqual(len(lines), 35, "\n".join(lines))
        zone_id = json.loads(netns.run([netns.MERIDIANCTL, "zones", "list", "--json", "--socket",
                                        self.sock]).stdout)["HostedZones"][0]["Id"].split("/")[-1]
        seen = {}
        for line in lines:
            m = LOG_LINE.match(line)
            self.assertIsNotNone(m, line)
            _, zone, qname, qtype, rcode, proto, resolver, ecs = m.groups()
            self.assertEqual(resolver, netns.CLIENT4)
            self.assertEqual(ecs, "-")
            self.assertEqual(zone, zone_id if qname.endswith("xdp.example") else "-", line)
            key = (qname, qtype, rcode, proto)
            seen[key] = seen.get(key, 0) + 1
        self.assertEqual(seen, sent)

    def test_metrics_listener_needs_no_token_and_serves_only_metrics(self):
        s = netns.socket_in_netns(self.topology.client, socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((netns.SERVER4, 9153))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"meridian_queries_total", body)
        parse_metrics(body.decode())
        s = netns.socket_in_netns(self.topology.client, socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((netns.SERVER4, 9153))
        s.sendall(b"GET /v1/zones HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 404"))
        s.close()

    def test_health_and_change_batches_on_the_page(self):
        before = self.scrape()
        check = {"Id": "obs-port9", "Type": "TCP", "IPAddress": netns.SERVER4, "Port": 9,
                 "RequestInterval": 1, "FailureThreshold": 1}
        r = control_http.request("POST", "/v1/healthchecks", check, unix=self.sock)
        self.assertEqual(r.status, 200, r.body)
        ok = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "obs.xdp.example", "Type": "A", "TTL": 5,
            "ResourceRecords": [{"Value": "198.18.3.3"}]}}]}
        bad = {"Changes": [{"Action": "DELETE", "ResourceRecordSet": {
            "Name": "none.xdp.example", "Type": "A", "TTL": 5,
            "ResourceRecords": [{"Value": "198.18.3.3"}]}}]}
        self.assertEqual(control_http.request("POST", "/v1/zones/xdp.example/rrsets", ok,
                                              unix=self.sock).status, 200)
        self.assertEqual(control_http.request("POST", "/v1/zones/xdp.example/rrsets", bad,
                                              unix=self.sock).status, 400)
        deadline = time.monotonic() + 20
        while True:
            after = self.scrape()
            key = ("meridian_health_check_healthy", frozenset({("check", "obs-port9")}))
            if after.get(key) == 0.0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(after.get(key), 0.0)
        self.assertIn(("meridian_health_check_probe_latency_seconds",
                       frozenset({("check", "obs-port9")})), after)
        self.assertGreaterEqual(metric(after, "meridian_health_probes_total", result="failure"), 1)
        self.assertEqual(metric(after, "meridian_change_batches_total", result="applied") -
                         metric(before, "meridian_change_batches_total", result="applied"), 1)
        self.assertEqual(metric(after, "meridian_change_batches_total", result="rejected") -
                         metric(before, "meridian_change_batches_total", result="rejected"), 1)
        control_http.request("POST", "/v1/zones/xdp.example/rrsets", {"Changes": [
            dict(ok["Changes"][0], Action="DELETE")]}, unix=self.sock)
        control_http.request("DELETE", "/v1/healthchecks/obs-port9", unix=self.sock)

    def test_rotation_by_rename_and_sigusr1(self):
        written = len(self.log_lines())
        self.udp_query("www.xdp.example.", "A")
        self.assertEqual(len(self.log_lines(want=written + 1)), written + 1)  # flushed: in this file
        rotated = self.log_path + ".1"
        os.rename(self.log_path, rotated)
        self.daemon.signal(signal.SIGUSR1)
        self.assertIsNotNone(self.daemon.wait_for_line("query log reopened", 10), self.daemon.log())
        self.udp_query("text.xdp.example.", "TXT")
        lines = self.log_lines(want=1)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(" text.xdp.example TXT NOERROR UDP EDGE-TEST ", lines[0])
        with open(rotated) as f:
            self.assertNotIn("text.xdp.example", f.read())
        os.unlink(rotated)


if __name__ == "__main__":
    netns.main(__doc__)
