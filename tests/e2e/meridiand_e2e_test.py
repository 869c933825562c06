#!/usr/bin/python3
"""End-to-end tests of meridiand over real loopback sockets: UDP and TCP (RFC 7766), reloads,
signals, and --check-config. Each test class starts its own daemon on ports the kernel picks.

Usage: meridiand_e2e_test.py --meridiand PATH [--source-dir DIR] [unittest args, e.g. -k Reload]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype

import rfc8906_cases
from daemon_process import READY_NEEDLE, DaemonProcess
from tcp_framing import frame, recv_message

MERIDIAND = None
SOURCE_DIR = None
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

READY_TIMEOUT_S = 20  # generous: sanitizer builds start slowly on a loaded machine
QUERY_TIMEOUT_S = 3


class Daemon(DaemonProcess):
    """meridiand on loopback with a generated config in its own temp dir."""

    def __init__(self, zones=None, listen=("127.0.0.1:0", "[::1]:0"), workers=2, tcp=None,
                 edns=None, extra_files=None):
        super().__init__("meridiand-e2e-")
        self.zones = zones if zones is not None else [
            {"origin": "example.com.", "format": "rfc1035", "file": "example.com.zone"},
            {"origin": "example.net.", "format": "route53-json", "file": "example.net.json"},
        ]
        for name in ("example.com.zone", "example.net.json"):
            shutil.copy(os.path.join(DATA_DIR, name), os.path.join(self.dir, name))
        for name, text in (extra_files or {}).items():
            self.write_file(name, text)
        self.config = {"listen": list(listen), "workers": workers, "log": {"level": "info"},
                       "zones": self.zones, "state": {"database": "state.db"},
                       "control": {"socket": "control.sock"}}
        if tcp:
            self.config["tcp"] = tcp
        if edns:
            self.config["edns"] = edns
        self.config_path = os.path.join(self.dir, "meridian.json")
        self.write_config(self.config)
        self.udp4 = self.udp6 = None

    def write_config(self, config):
        self.write_file("meridian.json", json.dumps(config, indent=2))

    def start(self):
        line = self.spawn([MERIDIAND, "--config", self.config_path], READY_NEEDLE,
                          READY_TIMEOUT_S)
        addresses = re.findall(r"(\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:]+\]):(\d+)", line)
        for host, port in addresses:
            if host.startswith("["):
                self.udp6 = (host[1:-1], int(port))
            else:
                self.udp4 = (host, int(port))
        return self


def query(name, rdtype, where, tcp=False, want_dnssec=False, use_edns=0):
    q = dns.message.make_query(name, rdtype, use_edns=use_edns, want_dnssec=want_dnssec)
    host, port = where
    if tcp:
        return dns.query.tcp(q, host, port=port, timeout=QUERY_TIMEOUT_S)
    return dns.query.udp(q, host, port=port, timeout=QUERY_TIMEOUT_S)


def answer_texts(response, rdtype):
    out = set()
    for rrset in response.answer:
        if rrset.rdtype == rdtype:
            out.update(rd.to_text() for rd in rrset)
    return out


def tcp_connect(where, source=None):
    """A connected TCP socket; `source`: the local address to bind (any 127.0.0.0/8 address is
    local, so tests can be clients in many /24s)."""
    family = socket.AF_INET6 if ":" in where[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.settimeout(QUERY_TIMEOUT_S)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            s.bind((source, 0))
        s.connect(where)
    except OSError:
        s.close()
        raise
    return s


def closed_by_peer(sock, timeout):
    """True if the peer closes (EOF or reset) within timeout, False if it stays open."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class ServingTest(unittest.TestCase):
    """Answers over UDP and TCP, IPv4 and IPv6, and RFC 7766 framing behaviour."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(edns={"udp_payload": 1232, "nsid": "e2e-1"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def assert_host_answer(self, response, tcp):
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertTrue(response.flags & dns.flags.AA, "AA must be set for our zone")
        self.assertFalse(response.flags & dns.flags.TC)
        self.assertEqual(answer_texts(response, dns.rdatatype.A), {"192.0.2.10"})

    def test_udp_ipv4(self):
        self.assert_host_answer(query("host.example.com.", "A", self.daemon.udp4), tcp=False)

    def test_udp_ipv6(self):
        self.assert_host_answer(query("host.example.com.", "A", self.daemon.udp6), tcp=False)

    def test_tcp_ipv4(self):
        self.assert_host_answer(query("host.example.com.", "A", self.daemon.udp4, tcp=True),
                                tcp=True)

    def test_tcp_ipv6(self):
        self.assert_host_answer(query("host.example.com.", "A", self.daemon.udp6, tcp=True),
                                tcp=True)

    def test_route53_json_zone_served(self):
        response = query("api.example.net.", "A", self.daemon.udp4)
        self.assertEqual(response.rcode(), dns.rcode.NOERROR)
        self.assertEqual(answer_texts(response, dns.rdatatype.A), {"198.51.100.7"})

    def test_name_outside_zones_refused(self):
        response = query("example.org.", "A", self.daemon.udp4)
        self.assertEqual(response.rcode(), dns.rcode.REFUSED)
        self.assertFalse(response.flags & dns.flags.AA)

    def test_nxdomain_over_tcp(self):
        response = query("nope.example.com.", "A", self.daemon.udp6, tcp=True)
        self.assertEqual(response.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(len(response.authority), 1)
        self.assertEqual(response.authority[0].rdtype, dns.rdatatype.SOA)

    def test_response_to_response_is_dropped(self):
        q = dns.message.make_query("host.example.com.", "A")
        q.flags |= dns.flags.QR
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(q.to_wire(), self.daemon.udp4)
            with self.assertRaises(socket.timeout):
                s.recv(65535)
        # The server is still answering afterwards.
        self.assert_host_answer(query("host.example.com.", "A", self.daemon.udp4), tcp=False)

    def test_other_opcodes_notimp_with_only_qr_and_opcode(self):
        """NOTIFY, STATUS and UPDATE with RD, CD and AD set: NOTIMP whose flags are QR and the
        opcode only, the ID copied (ISC's compliance tester, `opcodeflg`), over UDP and TCP."""
        for opcode in (dns.opcode.NOTIFY, dns.opcode.STATUS, dns.opcode.UPDATE):
            for tcp in (False, True):
                with self.subTest(opcode=dns.opcode.to_text(opcode), tcp=tcp):
                    q = dns.message.make_query("example.com.", "SOA")
                    q.id = 0x4d2e
                    q.set_opcode(opcode)
                    q.flags |= dns.flags.RD | dns.flags.CD | dns.flags.AD
                    if tcp:
                        with tcp_connect(self.daemon.udp4) as s:
                            s.sendall(frame(q))
                            r = recv_message(s)
                    else:
                        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                            s.settimeout(QUERY_TIMEOUT_S)
                            s.sendto(q.to_wire(), self.daemon.udp4)
                            r = dns.message.from_wire(s.recv(65535))
                    self.assertEqual(r.id, 0x4d2e, "ID copied")
                    self.assertEqual(r.rcode(), dns.rcode.NOTIMP)
                    self.assertEqual(r.flags, dns.flags.QR | dns.opcode.to_flags(opcode)
                                     | dns.rcode.NOTIMP, hex(r.flags))

    def test_tcp_pipelined_queries_in_one_write(self):
        names = [f"q{i}.wild.example.com." for i in range(8)] + ["host.example.com."]
        queries = [dns.message.make_query(n, "A") for n in names]
        with tcp_connect(self.daemon.udp4) as s:
            s.sendall(b"".join(frame(q) for q in queries))
            replies = [recv_message(s) for _ in queries]
        by_id = {r.id: r for r in replies}
        self.assertEqual(set(by_id), {q.id for q in queries}, "every query answered once")
        for q in queries:
            r = by_id[q.id]
            self.assertEqual(r.question[0].name, q.question[0].name)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertTrue(answer_texts(r, dns.rdatatype.A))

    def test_tcp_many_pipelined_queries(self):
        # More than one read's worth, so frames straddle read boundaries.
        queries = [dns.message.make_query(f"n{i}.wild.example.com.", "A") for i in range(300)]
        with tcp_connect(self.daemon.udp6) as s:
            s.sendall(b"".join(frame(q) for q in queries))
            replies = [recv_message(s) for _ in queries]
        self.assertEqual({r.id for r in replies}, {q.id for q in queries})
        self.assertTrue(all(answer_texts(r, dns.rdatatype.A) == {"192.0.2.99"} for r in replies))

    def test_tcp_query_sent_byte_by_byte(self):
        q = dns.message.make_query("host.example.com.", "A")
        with tcp_connect(self.daemon.udp4) as s:
            for b in frame(q):
                s.send(bytes([b]))
                time.sleep(0.005)
            r = recv_message(s)
        self.assertEqual(r.id, q.id)
        self.assert_host_answer(r, tcp=True)

    def test_tcp_frames_split_at_odd_boundaries(self):
        q1 = dns.message.make_query("host.example.com.", "A")
        q2 = dns.message.make_query("host.example.com.", "AAAA")
        data = frame(q1) + frame(q2)
        cut1, cut2 = 1, len(frame(q1)) + 1  # inside the first length prefix, then the second
        with tcp_connect(self.daemon.udp4) as s:
            for part in (data[:cut1], data[cut1:cut2], data[cut2:]):
                s.send(part)
                time.sleep(0.05)
            replies = {r.id: r for r in (recv_message(s), recv_message(s))}
        self.assertEqual(answer_texts(replies[q1.id], dns.rdatatype.A), {"192.0.2.10"})
        self.assertEqual(answer_texts(replies[q2.id], dns.rdatatype.AAAA), {"2001:db8::10"})

    def test_tcp_connection_stays_open_between_queries(self):
        with tcp_connect(self.daemon.udp6) as s:
            for rdtype in ("A", "AAAA", "MX"):
                q = dns.message.make_query("host.example.com.", rdtype)
                s.sendall(frame(q))
                self.assertEqual(recv_message(s).id, q.id)
                time.sleep(0.1)

    def test_tcp_answers_then_closes_after_client_half_close(self):
        q = dns.message.make_query("host.example.com.", "A")
        with tcp_connect(self.daemon.udp4) as s:
            s.sendall(frame(q))
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_message(s).id, q.id)
            self.assertTrue(closed_by_peer(s, 3))

    def test_large_reply_truncated_over_udp_whole_over_tcp(self):
        udp = query("big.example.com.", "TXT", self.daemon.udp4, use_edns=0)
        self.assertTrue(udp.flags & dns.flags.TC, "2.5 KB does not fit 1232 bytes")
        self.assertEqual(len(udp.answer), 0, "no partial RRsets")
        tcp = query("big.example.com.", "TXT", self.daemon.udp4, tcp=True, use_edns=0)
        self.assertFalse(tcp.flags & dns.flags.TC)
        self.assertEqual(len(answer_texts(tcp, dns.rdatatype.TXT)), 12)

    def test_nsid_returned_when_asked(self):
        import dns.edns
        q = dns.message.make_query("host.example.com.", "A", use_edns=0,
                                   options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
        r = dns.query.udp(q, self.daemon.udp4[0], port=self.daemon.udp4[1],
                          timeout=QUERY_TIMEOUT_S)
        nsids = [o for o in r.options if o.otype == dns.edns.NSID]
        self.assertEqual(len(nsids), 1)
        self.assertEqual(nsids[0].to_wire(), b"e2e-1")

    def test_udp_burst_all_answered(self):
        # Many datagrams in flight at once exercise the recvmmsg/sendmmsg batching.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(QUERY_TIMEOUT_S)
            # Room for every reply, so a loss here would be the server's.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            queries = [dns.message.make_query(f"b{i}.wild.example.com.", "A") for i in range(200)]
            for i, q in enumerate(queries):
                q.id = i + 1  # distinct: random IDs collide (birthday) in one test out of four
            for q in queries:
                s.sendto(q.to_wire(), self.daemon.udp4)
            seen = set()
            deadline = time.monotonic() + 10
            while len(seen) < len(queries) and time.monotonic() < deadline:
                seen.add(dns.message.from_wire(s.recv(65535)).id)
        self.assertEqual(seen, {q.id for q in queries})


class TcpLimitsTest(unittest.TestCase):
    """Idle timeout and connection caps, with small configured values."""

    IDLE_MS = 400
    PER_SOURCE = 3

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(tcp={"idle_timeout_ms": cls.IDLE_MS, "max_connections": 64,
                                 "max_connections_per_source": cls.PER_SOURCE}).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def served_connection(self, where):
        """A connection the server has accepted and answered on. Connections closed by an earlier
        test give their per-source slots back asynchronously, so a new one may be over the cap for
        a moment: retry for up to 5 s."""
        deadline = time.monotonic() + 5
        while True:
            s = tcp_connect(where)
            q = dns.message.make_query("host.example.com.", "A")
            try:
                s.sendall(frame(q))
                self.assertEqual(recv_message(s).id, q.id)
                return s
            except (ConnectionError, socket.timeout):
                s.close()
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def full_quota(self, where):
        """PER_SOURCE connections, all answered: the server then counts exactly these."""
        deadline = time.monotonic() + 5
        while True:
            conns = [tcp_connect(where) for _ in range(self.PER_SOURCE)]
            try:
                for s in conns:
                    q = dns.message.make_query("host.example.com.", "A")
                    s.sendall(frame(q))
                    self.assertEqual(recv_message(s).id, q.id)
                return conns
            except (ConnectionError, socket.timeout):
                for s in conns:
                    s.close()
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def assert_refused(self, sock, why):
        """Closed as it is accepted: well before the idle timeout would close it anyway."""
        self.assertTrue(closed_by_peer(sock, self.IDLE_MS / 1000 / 2), why)

    def test_idle_connection_is_closed(self):
        with self.served_connection(self.daemon.udp4) as s:
            started = time.monotonic()  # idle from the reply on
            self.assertTrue(closed_by_peer(s, 5), "idle connection must be closed")
            elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, self.IDLE_MS / 1000 * 0.8)
        self.assertLess(elapsed, self.IDLE_MS / 1000 + 2)

    def test_activity_keeps_connection_open(self):
        with tcp_connect(self.daemon.udp6) as s:
            # Queries at half the timeout for twice the timeout: still open.
            for _ in range(4):
                time.sleep(self.IDLE_MS / 1000 / 2)
                q = dns.message.make_query("host.example.com.", "A")
                s.sendall(frame(q))
                self.assertEqual(recv_message(s).id, q.id)
            self.assertTrue(closed_by_peer(s, 5), "closed once idle again")

    def test_per_source_cap(self):
        conns = self.full_quota(self.daemon.udp4)
        try:
            extra = tcp_connect(self.daemon.udp4)
            with extra:
                self.assert_refused(extra, "connection over the cap is closed")
            for s in conns:  # the ones within the cap still work
                q = dns.message.make_query("host.example.com.", "A")
                s.sendall(frame(q))
                self.assertEqual(recv_message(s).id, q.id)
        finally:
            for s in conns:
                s.close()
        self.served_connection(self.daemon.udp4).close()  # closed connections give slots back

    def test_cap_is_per_network(self):
        # 127.0.0.1 holding the quota blocks the rest of 127.0.0.0/24, not another /24 nor ::1.
        conns = self.full_quota(self.daemon.udp4)
        try:
            with tcp_connect(self.daemon.udp4, source="127.0.0.2") as same_network:
                self.assert_refused(same_network, "a connection from the same /24 over the cap")
            with tcp_connect(self.daemon.udp4, source="127.0.1.1") as other_network:
                q = dns.message.make_query("host.example.com.", "A")
                other_network.sendall(frame(q))
                self.assertEqual(recv_message(other_network).id, q.id)
            r = query("host.example.com.", "A", self.daemon.udp6, tcp=True)
            self.assertEqual(answer_texts(r, dns.rdatatype.A), {"192.0.2.10"})
        finally:
            for s in conns:
                s.close()


class SlowDrip:
    """Slow clients: `per_network` connections from each of `networks` /24s (127.1.N.10 and up),
    each sending one byte of a query that never ends every `interval` seconds, and connecting
    again on the next tick when the server closed it, as an attacker holding the table would.
    One thread, non-blocking sends; stop() closes every socket."""

    def __init__(self, where, networks, per_network, interval):
        self.where = where
        self.interval = interval
        self.sources = [f"127.1.{n}.{10 + k}" for n in range(networks) for k in range(per_network)]
        self.socks = [None] * len(self.sources)
        # A length prefix announcing 512 bytes, then zeros: one byte a tick never completes it.
        self.payload = b"\x02\x00" + bytes(512)
        self.sent = [0] * len(self.sources)
        self.connects = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        for i, s in enumerate(self.socks):
            if s:
                s.close()
                self.socks[i] = None

    def open_count(self):
        return sum(1 for s in self.socks if s)

    def _tick(self, i):
        s = self.socks[i]
        if s is None:
            try:
                s = tcp_connect(self.where, source=self.sources[i])
            except OSError:
                return
            s.setblocking(False)
            self.socks[i], self.sent[i] = s, 0
            self.connects += 1
        try:
            s.send(self.payload[self.sent[i] % len(self.payload):][:1])
            self.sent[i] += 1
        except OSError:  # closed by the server (reset, broken pipe): again on the next tick
            s.close()
            self.socks[i] = None

    def _run(self):
        start = time.monotonic()
        due = [start + self.interval * i / len(self.sources) for i in range(len(self.sources))]
        while not self.stopping.is_set():
            now = time.monotonic()
            for i in range(len(self.sources)):
                if now >= due[i]:
                    self._tick(i)
                    due[i] = now + self.interval
            self.stopping.wait(0.01)


class TcpSlowClientTest(unittest.TestCase):
    """Slow clients holding every TCP slot (the idle timer used to restart on every byte) must not
    keep honest clients out: each query has to arrive whole within tcp.query_timeout_ms, and a
    new connection to a full table closes the least recently active one."""

    MAX_CONNECTIONS = 64
    PER_SOURCE = 8
    NETWORKS = 16  # x 12 connections: 192 slow clients, 128 within their /24's cap, for 64 slots
    PER_NETWORK = 12
    DRIP_S = 1.0  # well inside the idle timeout (10 s, the default)
    MONITOR_S = 12

    def setUp(self):
        self.daemon = Daemon(listen=("127.0.0.1:0",), tcp={
            "max_connections": self.MAX_CONNECTIONS,
            "max_connections_per_source": self.PER_SOURCE}).start()
        self.addCleanup(self.daemon.stop)

    def honest_tcp_query(self):
        q = dns.message.make_query("host.example.com.", "A")
        try:
            with tcp_connect(self.daemon.udp4) as s:
                s.sendall(frame(q))
                r = recv_message(s)
            return r.id == q.id and answer_texts(r, dns.rdatatype.A) == {"192.0.2.10"}
        except (OSError, EOFError, dns.exception.DNSException):
            return False

    def honest_dig(self):
        host, port = self.daemon.udp4
        try:
            out = subprocess.run(["dig", "+tcp", "+tries=1", "+time=3", "+short", f"@{host}",
                                  "-p", str(port), "host.example.com.", "A"],
                                 capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return out.returncode == 0 and out.stdout.split() == ["192.0.2.10"]

    def test_honest_clients_answered_while_slow_clients_drip(self):
        drip = SlowDrip(self.daemon.udp4, self.NETWORKS, self.PER_NETWORK, self.DRIP_S).start()
        try:
            # One full round of the drip: every slow client has connected (and the table is full).
            time.sleep(self.DRIP_S * 1.5)
            self.assertGreaterEqual(drip.open_count(), self.MAX_CONNECTIONS)
            answered, failed = {"tcp": 0, "dig": 0}, {"tcp": 0, "dig": 0}
            deadline = time.monotonic() + self.MONITOR_S
            round_ = 0
            while time.monotonic() < deadline:
                kind = "dig" if round_ % 5 == 0 else "tcp"
                ok = self.honest_dig() if kind == "dig" else self.honest_tcp_query()
                (answered if ok else failed)[kind] += 1
                round_ += 1
                time.sleep(0.2)
            connects = drip.connects
        finally:
            drip.stop()
        self.assertEqual(self.daemon.terminate(), 0)
        stopped = self.daemon.wait_for_line("stopped:", 5) or ""
        print(f"\nhonest answered {answered}, failed {failed}; slow-client connections "
              f"{connects}; {stopped.split('stopped: ', 1)[-1]}", file=sys.stderr)
        self.assertEqual(failed, {"tcp": 0, "dig": 0},
                         f"honest queries failed during the attack (answered {answered})")
        self.assertGreater(answered["dig"], 5)
        self.assertGreater(answered["tcp"], 20)
        # The table really was full and held by slow clients: they were timed out and evicted,
        # and the /24s over their cap were refused.
        counts = dict((k, int(v)) for v, k in re.findall(
            r"(\d+) (refused|timed out receiving a query|evicted)", stopped))
        self.assertGreater(counts.get("timed out receiving a query", 0), 0, stopped)
        self.assertGreater(counts.get("evicted", 0), 0, stopped)
        self.assertGreater(counts.get("refused", 0), 0, stopped)


class Rfc8906Test(unittest.TestCase):
    """RFC 8906 section 8's test cases and genreport's checks, with dig as written there."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(edns={"udp_payload": 1232, "nsid": "e2e-8906"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def run_cases(self, where):
        failures, outputs = rfc8906_cases.check_all(
            ["dig", f"@{where[0]}", "-p", str(where[1])], "example.com.")
        self.assertEqual(failures, {}, "\n".join(outputs[name] for name in failures))

    def test_ipv4(self):
        self.run_cases(self.daemon.udp4)

    def test_ipv6(self):
        self.run_cases(self.daemon.udp6)


ZONE_V1 = """$ORIGIN example.com.
$TTL 300
@    IN SOA ns1 hostmaster 1 7200 3600 1209600 300
     IN NS  ns1
ns1  IN A   192.0.2.53
host IN A   192.0.2.10
"""


class ReloadTest(unittest.TestCase):
    """SIGHUP reloads config and zones; a failed reload keeps serving the old data."""

    def setUp(self):
        self.daemon = Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                     "file": "reload.zone"}],
                             extra_files={"reload.zone": ZONE_V1}).start()

    def tearDown(self):
        self.daemon.stop()

    def host_address(self):
        return answer_texts(query("host.example.com.", "A", self.daemon.udp4), dns.rdatatype.A)

    def reload(self, expect):
        mark = self.daemon.line_count()
        self.daemon.signal(signal.SIGHUP)
        line = self.daemon.wait_for_line(expect, 10, start=mark)
        self.assertIsNotNone(line, f"no '{expect}' log line after SIGHUP:\n{self.daemon.log()}")
        return line

    def test_sighup_picks_up_changed_zone(self):
        self.assertEqual(self.host_address(), {"192.0.2.10"})
        self.daemon.write_file("reload.zone", ZONE_V1.replace("192.0.2.10", "192.0.2.20")
                               .replace(" 1 7200", " 2 7200"))
        self.reload("reloaded")
        self.assertEqual(self.host_address(), {"192.0.2.20"})

    def test_sighup_adds_zone(self):
        self.assertEqual(query("api.example.net.", "A", self.daemon.udp4).rcode(),
                         dns.rcode.REFUSED)
        config = dict(self.daemon.config)
        config["zones"] = self.daemon.config["zones"] + [
            {"origin": "example.net.", "format": "route53-json", "file": "example.net.json"}]
        self.daemon.write_config(config)
        self.reload("reloaded")
        r = query("api.example.net.", "A", self.daemon.udp4)
        self.assertEqual(answer_texts(r, dns.rdatatype.A), {"198.51.100.7"})

    def test_bad_zone_reload_keeps_old_answers(self):
        self.assertEqual(self.host_address(), {"192.0.2.10"})
        self.daemon.write_file("reload.zone", ZONE_V1.replace("192.0.2.10", "192.0.2.20") +
                               "broken IN A not-an-address\n")
        line = self.reload("reload failed")
        self.assertIn("reload.zone:7", line)
        self.assertEqual(self.host_address(), {"192.0.2.10"})
        self.assertIsNone(self.daemon.proc.poll(), "daemon must keep running")

    def test_bad_config_reload_keeps_old_answers(self):
        self.daemon.write_file("meridian.json", '{"zones": [}')
        line = self.reload("reload failed")
        self.assertIn("meridian.json:1:", line)
        self.assertEqual(self.host_address(), {"192.0.2.10"})
        self.assertEqual(self.host_address(), {"192.0.2.10"}, "and over TCP")


class LifecycleTest(unittest.TestCase):
    def test_sigterm_exits_zero(self):
        d = Daemon().start()
        try:
            d.signal(signal.SIGTERM)
            self.assertEqual(d.proc.wait(10), 0)
        finally:
            d.stop()

    def test_sigint_exits_zero_with_open_tcp_connection(self):
        d = Daemon().start()
        try:
            with tcp_connect(d.udp4):
                d.signal(signal.SIGINT)
                self.assertEqual(d.proc.wait(10), 0)
        finally:
            d.stop()

    def test_ready_line_names_listen_addresses(self):
        d = Daemon().start()
        try:
            line = d.wait_for_line(READY_NEEDLE, 1)
            self.assertRegex(line, r"\(udp\+tcp, \d+ workers\)$", "a whole line")
            self.assertIsNotNone(d.udp4, line)
            self.assertIsNotNone(d.udp6, line)
            self.assertIn(f"127.0.0.1:{d.udp4[1]}", line)
            self.assertIn(f"[::1]:{d.udp6[1]}", line)
        finally:
            d.stop()

    def test_wildcard_listener_replies_from_queried_address(self):
        # Bound to 0.0.0.0, a reply must come from the address the query went to (dnspython
        # rejects a reply from any other source). Only loopback addresses are queried.
        d = Daemon(listen=["0.0.0.0:0"]).start()
        try:
            port = d.udp4[1]
            for address in ("127.0.0.1", "127.0.0.2"):
                r = query("host.example.com.", "A", (address, port))
                self.assertEqual(answer_texts(r, dns.rdatatype.A), {"192.0.2.10"}, address)
        finally:
            d.stop()

    def test_port_in_use_fails_to_start(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blocker:
            blocker.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: meridiand cannot share it
            port = blocker.getsockname()[1]
            d = Daemon(listen=[f"127.0.0.1:{port}"])
            try:
                proc = subprocess.run([MERIDIAND, "--config", d.config_path], timeout=20,
                                      capture_output=True, text=True)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn(f"127.0.0.1:{port}", proc.stderr)
            finally:
                d.stop()


class CheckConfigTest(unittest.TestCase):
    """--check-config validates the file and its zones; errors name the file and line or path."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meridiand-check-")
        shutil.copy(os.path.join(DATA_DIR, "example.com.zone"), self.dir)
        shutil.copy(os.path.join(DATA_DIR, "example.net.json"), self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path):
        return subprocess.run([MERIDIAND, "--check-config", path], timeout=30,
                              capture_output=True, text=True)

    GOOD = """{
  "listen": ["127.0.0.1:5353", "[::1]:5353"],
  "workers": 0,
  "edns": {"udp_payload": 1232, "nsid": "meridian-1"},
  "tcp": {"idle_timeout_ms": 10000, "max_connections": 1024, "max_connections_per_source": 32},
  "log": {"level": "info"},
  "zones": [
    {"origin": "example.com.", "format": "rfc1035", "file": "example.com.zone"},
    {"origin": "example.net.", "format": "route53-json", "file": "example.net.json"}
  ],
  "state": {"database": "state.db"}
}
"""

    def assert_rejected(self, path, *needles):
        proc = self.check(path)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        for needle in needles:
            self.assertIn(needle, proc.stderr)
        return proc.stderr

    def test_good_file_exits_zero(self):
        proc = self.check(self.write("good.json", self.GOOD))
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_minimal_file_uses_defaults(self):
        proc = self.check(self.write("min.json", "{}"))
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_shipped_example_is_valid(self):
        if not SOURCE_DIR:
            self.skipTest("--source-dir not given")
        proc = self.check(os.path.join(SOURCE_DIR, "examples", "meridian.json"))
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_json_syntax_error_names_line_and_column(self):
        text = self.GOOD.replace('"workers": 0,', '"workers": 0,,')
        path = self.write("syntax.json", text)
        self.assert_rejected(path, f"{path}:3:")

    def test_bad_format_names_json_path(self):
        path = self.write("format.json", self.GOOD.replace('"route53-json"', '"bind"'))
        self.assert_rejected(path, path, "/zones/1/format", "rfc1035")

    def test_unknown_key_rejected(self):
        path = self.write("unknown.json", self.GOOD.replace("idle_timeout_ms", "idle_timeout"))
        self.assert_rejected(path, path, "/tcp/idle_timeout", "unknown key")

    def test_bad_listen_address(self):
        path = self.write("listen.json", self.GOOD.replace("127.0.0.1:5353", "localhost:5353"))
        self.assert_rejected(path, "/listen/0")

    def test_wrong_type(self):
        path = self.write("type.json", self.GOOD.replace('"workers": 0', '"workers": "four"'))
        self.assert_rejected(path, "/workers")

    def test_out_of_range(self):
        path = self.write("range.json", self.GOOD.replace('"udp_payload": 1232',
                                                          '"udp_payload": 100'))
        self.assert_rejected(path, "/edns/udp_payload")

    def test_bad_log_level(self):
        path = self.write("log.json", self.GOOD.replace('"info"', '"verbose"'))
        self.assert_rejected(path, "/log/level")

    def test_duplicate_origin(self):
        path = self.write("dup.json", self.GOOD.replace('"example.net."', '"example.com."'))
        self.assert_rejected(path, "/zones/1/origin", "duplicate")

    def test_missing_zone_key(self):
        path = self.write("missing.json", self.GOOD.replace('"format": "rfc1035", ', ""))
        self.assert_rejected(path, "/zones/0", "format")

    def test_bad_zone_line_names_file_and_line(self):
        with open(os.path.join(DATA_DIR, "example.com.zone")) as f:
            zone = f.read().splitlines()
        zone.insert(8, "bad  IN  A  999.1.2.3")  # becomes line 9
        self.write("example.com.zone", "\n".join(zone) + "\n")
        path = self.write("badzone.json", self.GOOD)
        self.assert_rejected(path, os.path.join(self.dir, "example.com.zone") + ":9")

    def test_missing_zone_file(self):
        path = self.write("nofile.json", self.GOOD.replace("example.com.zone", "absent.zone"))
        self.assert_rejected(path, "absent.zone")

    def test_missing_config_file(self):
        self.assert_rejected(os.path.join(self.dir, "absent.json"), "absent.json")

    def test_run_with_bad_config_exits_nonzero(self):
        path = self.write("bad.json", '{"listen": 5}')
        proc = subprocess.run([MERIDIAND, "--config", path], timeout=30, capture_output=True,
                              text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("/listen", proc.stderr)

    def test_no_arguments_is_an_error(self):
        proc = subprocess.run([MERIDIAND], timeout=30, capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)


def main():
    global MERIDIAND, SOURCE_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--meridiand", required=True)
    parser.add_argument("--source-dir")
    args, rest = parser.parse_known_args()
    MERIDIAND = os.path.abspath(args.meridiand)
    SOURCE_DIR = args.source_dir
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
