#!/usr/bin/python3
"""End-to-end tests of the XDP fast path in network namespaces: meridiand with its "xdp" section
attached to the server end of a veth pair, dig/kdig (and raw sockets) in a client namespace, and
the program's counters read with `meridianctl stats --json` to prove who answered.

Topology (per test class, names carry a unique suffix):
  client ns: veth-cli 198.18.0.2/24, fd00:18::2/64, XDP_PASS program (native XDP_TX on a veth is
             dropped unless the peer end has an XDP program)
  server ns: veth-srv 198.18.0.1/24, fd00:18::1/64, meridiand's XDP program (native mode)

meridiand is started with `nsenter --net` (network namespace only), so its maps are pinned in
the host's bpffs where this test and meridianctl can read them, also after the daemon exits.

Usage: xdp_netns_test.py --meridiand PATH --meridianctl PATH --xdp-pass-object PATH
                         [unittest args, e.g. XdpServingTest]
"""

import argparse
import ctypes
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

import control_http
import rfc8906_cases
from daemon_process import DaemonProcess
from tcp_framing import recv_exact

MERIDIAND = None
MERIDIANCTL = None
XDP_PASS_OBJECT = None
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

READY_TIMEOUT_S = 30  # sanitizer builds and the verifier are slow on a loaded machine
COMMAND_TIMEOUT_S = 20
REPLY_TIMEOUT_S = 3  # a reply later than this counts as lost (generous: CI machines are loaded)
SERVER4, CLIENT4 = "198.18.0.1", "198.18.0.2"
SERVER6, CLIENT6 = "fd00:18::1", "fd00:18::2"
NSID = "xdp-e2e"
ORIGIN = "xdp.example."

_instance = 0


def unique_suffix():
    """Unique per process and call: namespaces, pin dirs and files never collide with another run
    (or another helper's test) on the same host."""
    global _instance
    _instance += 1
    return f"{os.getpid()}-{_instance}"


def run(args, check=True, timeout=COMMAND_TIMEOUT_S):
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}"
                             f"{proc.stderr}")
    return proc


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces, XDP, bpffs)"
    return None


def ensure_bpffs():
    if run(["mountpoint", "-q", "/sys/fs/bpf"], check=False).returncode != 0:
        run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"])


def topology_or_skip(**kwargs):
    """A created Topology (bpffs mounted), or unittest.SkipTest when not root."""
    reason = skip_reason()
    if reason:
        raise unittest.SkipTest(reason)
    ensure_bpffs()
    return Topology(**kwargs).create()


# --- network namespaces --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def socket_in_netns(netns, family, kind):
    """A socket created inside `netns`. setns() moves only the calling thread, so a short-lived
    thread enters the namespace and creates the socket; the socket stays in that namespace and
    can then be used from any thread of this process."""
    result = {}

    def enter_and_create():
        try:
            with open(f"/run/netns/{netns}") as f:
                if _libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns}: {os.strerror(err)}")
            result["socket"] = socket.socket(family, kind)
        except BaseException as e:  # handed to the caller's thread
            result["error"] = e

    t = threading.Thread(target=enter_and_create)
    t.start()
    t.join(COMMAND_TIMEOUT_S)
    if "error" in result:
        raise result["error"]
    return result["socket"]


class Topology:
    """Two namespaces joined by a veth pair; the client end carries an XDP_PASS program unless
    `peer_xdp` is False."""

    def __init__(self, peer_xdp=True):
        suffix = unique_suffix()
        self.server = f"mdnx-srv-{suffix}"
        self.client = f"mdnx-cli-{suffix}"
        self.peer_xdp = peer_xdp
        self.created = []

    def create(self):
        try:
            for ns in (self.server, self.client):
                run(["ip", "netns", "add", ns])
                self.created.append(ns)
                run(["ip", "-n", ns, "link", "set", "lo", "up"])
            self.add_veth()
        except BaseException:
            self.destroy()
            raise
        return self

    def add_veth(self):
        """The veth pair with its addresses (also used to bring it back after a test deleted
        it)."""
        run(["ip", "link", "add", "veth-srv", "netns", self.server, "type", "veth", "peer",
             "name", "veth-cli", "netns", self.client])
        for ns, dev, v4, v6 in ((self.server, "veth-srv", SERVER4, SERVER6),
                                (self.client, "veth-cli", CLIENT4, CLIENT6)):
            run(["ip", "-n", ns, "addr", "add", v4 + "/24", "dev", dev])
            run(["ip", "-n", ns, "addr", "add", v6 + "/64", "dev", dev, "nodad"])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        if self.peer_xdp:
            run(["ip", "-n", self.client, "link", "set", "dev", "veth-cli", "xdp", "obj",
                 XDP_PASS_OBJECT, "sec", "xdp"])

    def destroy(self):
        # Deleting a namespace deletes its veth end, the pair, and any XDP program on them.
        for ns in self.created:
            run(["ip", "netns", "del", ns], check=False)
        self.created = []

    def client_tx_offload(self, on):
        run(["ip", "netns", "exec", self.client, "ethtool", "-K", "veth-cli", "tx",
             "on" if on else "off"])
        features = run(["ip", "netns", "exec", self.client, "ethtool", "-k", "veth-cli"]).stdout
        want = "tx-checksumming: " + ("on" if on else "off")
        if want not in features:
            raise AssertionError(f"ethtool did not switch: want {want!r}:\n{features}")

    def server_xdp_attached(self):
        """The XDP program id attached to veth-srv, or None."""
        out = run(["ip", "-n", self.server, "-d", "-j", "link", "show", "dev", "veth-srv"]).stdout
        link = json.loads(out)[0]
        xdp = link.get("xdp")
        if not xdp:
            return None
        prog = xdp.get("prog") or {}
        return prog.get("id") or xdp.get("prog_id") or (
            xdp.get("attached", [{}])[0].get("prog", {}).get("id"))


# --- meridiand -----------------------------------------------------------------------------------

class XdpDaemon(DaemonProcess):
    """meridiand in the server namespace with an "xdp" section."""

    def __init__(self, topology, zone_text=None, mode="native", on_exit=None):
        suffix = unique_suffix()
        super().__init__(f"mdnx-{suffix}-")
        self.topology = topology
        self.pin_dir = f"/sys/fs/bpf/meridian-xdp-e2e-{suffix}"
        if zone_text is None:
            with open(os.path.join(DATA_DIR, "xdp.example.zone")) as f:
                zone_text = f.read()
        self.write_file("xdp.example.zone", zone_text)
        xdp = {"interfaces": ["veth-srv"], "mode": mode, "pin_dir": self.pin_dir}
        if on_exit:
            xdp["on_exit"] = on_exit
        self.config = {
            "listen": [f"{SERVER4}:53", f"[{SERVER6}]:53"],
            "workers": 2,
            "edns": {"udp_payload": 1232, "nsid": NSID},
            "log": {"level": "info"},
            "zones": [{"origin": ORIGIN, "format": "rfc1035", "file": "xdp.example.zone"}],
            "xdp": xdp,
            "state": {"database": "state.db"},
            "control": {"socket": "control.sock"},
        }
        self.write_file("meridian.json", json.dumps(self.config, indent=2))

    def start(self):
        self.spawn(["nsenter", f"--net=/run/netns/{self.topology.server}", MERIDIAND, "--config",
                    os.path.join(self.dir, "meridian.json")], "meridiand ready", READY_TIMEOUT_S)
        return self

    def stop(self, timeout=15):
        super().stop(timeout)
        remove_pin_dir(self.pin_dir)

    def stats(self):
        return read_stats(self.pin_dir)


def remove_pin_dir(pin_dir):
    if os.path.isdir(pin_dir):
        for name in os.listdir(pin_dir):
            os.unlink(os.path.join(pin_dir, name))
        os.rmdir(pin_dir)


def read_stats(pin_dir):
    out = run([MERIDIANCTL, "stats", "--pin-dir", pin_dir, "--json"]).stdout
    return json.loads(out)


def delta(before, after):
    return {k: after[k] - before.get(k, 0) for k in after}


def nonzero(d, prefix):
    return {k: v for k, v in d.items() if k.startswith(prefix) and v}


# --- dig and kdig --------------------------------------------------------------------------------

def parse_dig(text):
    """The parts of dig's or kdig's output the tests compare: status, header flags and the three
    record sections as sorted (owner, ttl, class, type, rdata) tuples."""
    out = {"status": None, "flags": None, "answer": [], "authority": [], "additional": []}
    section = None
    for line in text.splitlines():
        if "->>HEADER<<-" in line:
            m = re.search(r"status: (\w+)", line)
            out["status"] = m.group(1) if m else None
            continue
        m = re.match(r";; [Ff]lags: ([a-z ]*);", line)
        if m:
            out["flags"] = frozenset(m.group(1).split())
            continue
        m = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if m:
            section = m.group(1).lower()
            continue
        if not line.strip() or line.startswith(";"):
            if not line.strip():
                section = None
            continue
        if section:
            owner, ttl, klass, rtype, *rdata = line.split()
            out[section].append((owner.lower(), int(ttl), klass, rtype, " ".join(rdata)))
    for key in ("answer", "authority", "additional"):
        out[key] = sorted(out[key])
    return out


def records(parsed, section="answer"):
    """A section as a set of (owner, type, rdata), TTL and class left out. Rdata is lowercased:
    a compressed name may point into the question, which keeps the client's letter case."""
    return {(r[0], r[3], r[4].lower()) for r in parsed[section]}


# Positive answers the XDP program holds: (qname, qtype, hit counter, expected answer section).
POSITIVE = [
    ("www.xdp.example.", "A", "hit_a",
     {("www.xdp.example.", "A", "198.18.10.80"), ("www.xdp.example.", "A", "198.18.10.81")}),
    ("www.xdp.example.", "AAAA", "hit_aaaa", {("www.xdp.example.", "AAAA", "fd00:18::80")}),
    ("xdp.example.", "MX", "hit_mx", {("xdp.example.", "MX", "10 mail.xdp.example.")}),
    ("text.xdp.example.", "TXT", "hit_txt", {("text.xdp.example.", "TXT", '"hello from xdp"')}),
    ("ALIAS.xdp.Example.", "A", "hit_a",
     {("alias.xdp.example.", "CNAME", "www.xdp.example."),
      ("www.xdp.example.", "A", "198.18.10.80"), ("www.xdp.example.", "A", "198.18.10.81")}),
    ("alias.xdp.example.", "CNAME", "hit_cname",
     {("alias.xdp.example.", "CNAME", "www.xdp.example.")}),
    ("xdp.example.", "NS", "hit_ns", {("xdp.example.", "NS", "ns1.xdp.example.")}),
    ("xdp.example.", "SOA", "hit_soa",
     {("xdp.example.", "SOA",
       "ns1.xdp.example. hostmaster.xdp.example. 2026112501 7200 3600 1209600 60")}),
]

SOA_RECORD = ("xdp.example.", "SOA",
              "ns1.xdp.example. hostmaster.xdp.example. 2026112501 7200 3600 1209600 60")


class NetnsTestCase(unittest.TestCase):
    """Shared helpers: each test class has its own topology and daemon."""

    topology = None
    daemon = None

    @classmethod
    def make(cls, peer_xdp=True, **daemon_args):
        reason = skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        ensure_bpffs()
        cls.topology = Topology(peer_xdp=peer_xdp).create()
        try:
            cls.daemon = XdpDaemon(cls.topology, **daemon_args).start()
        except BaseException:
            cls.topology.destroy()
            raise

    @classmethod
    def require_log_line(cls, needle):
        """For setUpClass: unittest skips tearDownClass when setUpClass fails, so clean up here."""
        if cls.daemon.wait_for_line(needle, 1) is None:
            log = cls.daemon.log()
            cls.tearDownClass()
            raise AssertionError(f"no log line {needle!r}:\n{log}")

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()
        if cls.topology:
            cls.topology.destroy()

    def dig(self, tool, server, name, rtype, *options):
        if tool == "dig":
            args = ["dig", f"@{server}", name, rtype, "+norec", "+time=2", "+tries=1"]
        else:
            args = ["kdig", f"@{server}", name, rtype, "+norec", "+time=2", "+retry=0"]
        proc = run(["ip", "netns", "exec", self.topology.client] + args + list(options),
                   check=False)
        self.assertEqual(proc.returncode, 0, f"{' '.join(args)} failed:\n{proc.stdout}"
                         f"{proc.stderr}")
        parsed = parse_dig(proc.stdout)
        self.assertIsNotNone(parsed["status"], f"no answer from {' '.join(args)}:\n{proc.stdout}")
        parsed["text"] = proc.stdout
        return parsed

    def dig_counted(self, *args):
        """dig/kdig and the change of every XDP counter it caused."""
        before = self.daemon.stats()
        parsed = self.dig(*args)
        return parsed, delta(before, self.daemon.stats())


class XdpServingTest(NetnsTestCase):
    """dig and kdig answers served by native XDP over IPv4 and IPv6 with the client's TX checksum
    offload on and off; each must be counted as exactly one XDP answer of its type, carry the
    zone's data and equal what userspace answers over TCP."""

    @classmethod
    def setUpClass(cls):
        cls.make()
        cls.require_log_line("XDP program attached to veth-srv (native mode)")

    def check_served_by_xdp(self, server, tx_offload):
        self.topology.client_tx_offload(tx_offload)
        for tool in ("dig", "kdig"):
            for name, rtype, hit, expected in POSITIVE:
                with self.subTest(tool=tool, server=server, name=name, type=rtype,
                                  tx=tx_offload):
                    udp, d = self.dig_counted(tool, server, name, rtype)
                    self.assertEqual(udp["status"], "NOERROR", udp["text"])
                    self.assertIn("aa", udp["flags"])
                    self.assertEqual(records(udp), expected, udp["text"])
                    # Exactly one XDP answer, of this type, and nothing passed up as a DNS query.
                    self.assertEqual(d["answered"], 1, d)
                    self.assertEqual(nonzero(d, "hit_"), {hit: 1}, d)
                    self.assertEqual(d["pass_name_miss"] + d["pass_too_big"] +
                                     d["pass_unknown_option"] + d["pass_malformed"], 0, d)
                    # Userspace (TCP) gives the same message, records in any order.
                    tcp, d = self.dig_counted(tool, server, name, rtype, "+tcp")
                    self.assertEqual(d["answered"], 0, d)
                    self.assertGreaterEqual(d["pass_tcp"], 3, d)  # SYN, ACK, query at least
                    for key in ("status", "flags", "answer", "authority", "additional"):
                        self.assertEqual(udp[key], tcp[key],
                                         f"{key}: XDP\n{udp['text']}\nuserspace\n{tcp['text']}")

    def test_ipv4_tx_offload_on(self):
        self.check_served_by_xdp(SERVER4, True)

    def test_ipv4_tx_offload_off(self):
        self.check_served_by_xdp(SERVER4, False)

    def test_ipv6_tx_offload_on(self):
        self.check_served_by_xdp(SERVER6, True)

    def test_ipv6_tx_offload_off(self):
        self.check_served_by_xdp(SERVER6, False)

    def test_reply_bytes_equal_userspace(self):
        """Raw sockets in the client namespace: the XDP reply over UDP is byte for byte the
        userspace reply over TCP for the same query (same ID, same EDNS); with an RRset of several
        values, which both paths shuffle, the same message with its records in any order."""
        for server, family in ((SERVER4, socket.AF_INET), (SERVER6, socket.AF_INET6)):
            udp = socket_in_netns(self.topology.client, family, socket.SOCK_DGRAM)
            tcp = socket_in_netns(self.topology.client, family, socket.SOCK_STREAM)
            with udp, tcp:
                udp.settimeout(3)
                tcp.settimeout(3)
                tcp.connect((server, 53))
                for i, (name, rtype, hit, expected) in enumerate(POSITIVE):
                    for use_edns in (-1, 0):
                        with self.subTest(server=server, name=name, type=rtype, edns=use_edns):
                            q = dns.message.make_query(name, rtype, use_edns=use_edns,
                                                       payload=1232)
                            q.flags &= ~dns.flags.RD
                            q.id = 4242 + i
                            wire = q.to_wire()
                            before = self.daemon.stats()
                            udp.sendto(wire, (server, 53))
                            from_xdp = udp.recv(65535)
                            d = delta(before, self.daemon.stats())
                            self.assertEqual(d["answered"], 1, d)
                            tcp.sendall(struct.pack("!H", len(wire)) + wire)
                            (length,) = struct.unpack("!H", recv_exact(tcp, 2))
                            from_userspace = recv_exact(tcp, length)
                            reply = dns.message.from_wire(from_xdp)
                            if any(len(rrset) > 1 for rrset in reply.answer):
                                # Rule 1: both paths shuffle the values; the same message,
                                # records in any order, and the same length.
                                self.assertEqual(len(from_xdp), len(from_userspace))
                                self.assertEqual(reply, dns.message.from_wire(from_userspace))
                            else:
                                self.assertEqual(from_xdp.hex(), from_userspace.hex())
                            self.assertEqual(reply.id, q.id)
                            self.assertTrue(reply.flags & dns.flags.AA)


class XdpRfc8906Test(NetnsTestCase):
    """RFC 8906 section 8 and genreport's checks through the XDP topology: every case must hold
    whichever path answers it, and the fast path must answer the plain, EDNS, DO and unknown-flag
    SOA queries itself."""

    @classmethod
    def setUpClass(cls):
        cls.make()
        cls.require_log_line("XDP program attached to veth-srv (native mode)")

    def run_cases(self, server):
        before = self.daemon.stats()
        failures, outputs = rfc8906_cases.check_all(
            ["ip", "netns", "exec", self.topology.client, "dig", f"@{server}"], ORIGIN)
        d = delta(before, self.daemon.stats())
        self.assertEqual(failures, {}, "\n".join(outputs[name] for name in failures))
        # 8.1.1, 8.2.1, 8.2.4, 8.2.8, zflag, edns@512 and ednsflags=0x80 are UDP SOA queries the
        # fast path serves; the rest (TCP, BADVERS, NODATA, NSID/unknown options) go up.
        self.assertEqual(d["hit_soa"], 7, d)

    def test_ipv4(self):
        self.run_cases(SERVER4)

    def test_ipv6(self):
        self.run_cases(SERVER6)


class XdpPassUpTest(NetnsTestCase):
    """What the program passes up (a name a wildcard answers, other zones, TCP, NSID, EDNS
    version) is answered by userspace in the same topology, and the pass counter says why.
    NXDOMAIN and NODATA under the zone are answered by the program itself, with the SOA."""

    @classmethod
    def setUpClass(cls):
        cls.make()

    def assert_passed(self, d, reason, count=1):
        self.assertEqual(d["answered"], 0, d)
        self.assertEqual(nonzero(d, "hit_"), {}, d)
        if count is None:
            self.assertGreaterEqual(d[reason], 1, d)
        else:
            self.assertEqual(d[reason], count, d)

    def test_passed_up_and_answered(self):
        for server in (SERVER4, SERVER6):
            for tool in ("dig", "kdig"):
                with self.subTest(server=server, tool=tool, case="nxdomain"):
                    r, d = self.dig_counted(tool, server, "nope.xdp.example.", "A")
                    self.assertEqual(d["answered"], 1, d)
                    self.assertEqual(nonzero(d, "hit_"), {"hit_nxdomain": 1}, d)
                    self.assertEqual(r["status"], "NXDOMAIN")
                    self.assertIn("aa", r["flags"])
                    self.assertEqual(records(r, "authority"), {SOA_RECORD})
                with self.subTest(server=server, tool=tool, case="wildcard"):
                    r, d = self.dig_counted(tool, server, "x.wild.xdp.example.", "A")
                    self.assert_passed(d, "pass_name_miss")
                    self.assertEqual(r["status"], "NOERROR")
                    self.assertEqual(records(r), {("x.wild.xdp.example.", "A", "198.18.10.99")})
                with self.subTest(server=server, tool=tool, case="nodata"):
                    r, d = self.dig_counted(tool, server, "www.xdp.example.", "TXT")
                    self.assertEqual(d["answered"], 1, d)
                    self.assertEqual(nonzero(d, "hit_"), {"hit_nodata": 1}, d)
                    self.assertEqual(r["status"], "NOERROR")
                    self.assertEqual(records(r), set())
                    self.assertEqual(records(r, "authority"), {SOA_RECORD})
                with self.subTest(server=server, tool=tool, case="refused"):
                    r, d = self.dig_counted(tool, server, "www.example.org.", "A")
                    self.assert_passed(d, "pass_name_miss")
                    self.assertEqual(r["status"], "REFUSED")
                with self.subTest(server=server, tool=tool, case="tcp"):
                    r, d = self.dig_counted(tool, server, "www.xdp.example.", "A", "+tcp")
                    self.assert_passed(d, "pass_tcp", count=None)
                    self.assertEqual(records(r), POSITIVE[0][3])
                with self.subTest(server=server, tool=tool, case="nsid"):
                    r, d = self.dig_counted(tool, server, "www.xdp.example.", "A", "+nsid")
                    self.assert_passed(d, "pass_unknown_option")
                    self.assertEqual(records(r), POSITIVE[0][3])
                    self.assertIn(f'"{NSID}"', r["text"])  # only userspace adds NSID
            with self.subTest(server=server, case="edns version 1"):
                r, d = self.dig_counted("dig", server, "www.xdp.example.", "A", "+edns=1",
                                        "+noednsnegotiation")
                self.assert_passed(d, "pass_edns_version")
                self.assertEqual(r["status"], "BADVERS")


# --- concurrent reloads --------------------------------------------------------------------------

def versioned_zone(v):
    """Version v (1 or 2) of a zone whose names all change together: a 4-record A RRset, a
    3-record AAAA RRset, a TXT, a CNAME whose target (with its own addresses) moves, and an MX
    whose exchange moves; the SOA serial follows."""
    return f"""; xdp.example version {v}, written by xdp_netns_test.py's reload test.
$ORIGIN xdp.example.
$TTL 300
@       IN  SOA   ns1 hostmaster {2026112500 + v} 7200 3600 1209600 60
        IN  NS    ns1
        IN  MX    10 mx{v}
ns1     IN  A     198.18.10.53
mx{v}     IN  A     198.18.{v}.25
multi   IN  A     198.18.{v}.1
        IN  A     198.18.{v}.2
        IN  A     198.18.{v}.3
        IN  A     198.18.{v}.4
        IN  AAAA  fd00:18::{v}:1
        IN  AAAA  fd00:18::{v}:2
        IN  AAAA  fd00:18::{v}:3
ver     IN  TXT   "v{v}" "serial {2026112500 + v}"
chain   IN  CNAME target{v}
target{v} IN  A     198.18.{v}.100
        IN  A     198.18.{v}.101
"""


RELOAD_QUERIES = [("multi.xdp.example.", "A"), ("multi.xdp.example.", "AAAA"),
                  ("ver.xdp.example.", "TXT"), ("chain.xdp.example.", "A"),
                  ("xdp.example.", "MX")]


def message_records(msg):
    """Answer and additional sections of a dnspython message as a set of texts; OPT left out."""
    out = set()
    for section in (msg.answer, msg.additional):
        for rrset in section:
            for rd in rrset:
                out.add(f"{rrset.name.to_text().lower()} {dns.rdatatype.to_text(rrset.rdtype)} "
                        f"{rd.to_text()}")
    return frozenset(out)


class ReloadQueryLoop:
    """Queries the RELOAD_QUERIES round robin from a socket in the client namespace until told to
    stop or a bound is reached; tallies every reply by the version it matches (or a mix)."""

    def __init__(self, netns, server, tcp, expected, max_queries, max_seconds):
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.sock = socket_in_netns(netns, family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.settimeout(REPLY_TIMEOUT_S)
        if tcp:
            self.sock.connect((server, 53))
        self.server, self.tcp, self.expected = server, tcp, expected
        self.max_queries, self.max_seconds = max_queries, max_seconds
        self.sent = self.lost = 0
        self.by_version = {1: 0, 2: 0}
        self.bad = []  # (query, records) of replies that match neither version wholly
        self.stop_event = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _exchange(self, wire):
        if self.tcp:
            self.sock.sendall(struct.pack("!H", len(wire)) + wire)
            (length,) = struct.unpack("!H", recv_exact(self.sock, 2))
            return recv_exact(self.sock, length)
        self.sock.sendto(wire, (self.server, 53))
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while time.monotonic() < deadline:  # skips a late reply to an earlier (lost) query
            data = self.sock.recv(65535)
            if data[:2] == wire[:2]:
                return data
        raise socket.timeout()

    def _run(self):
        try:
            deadline = time.monotonic() + self.max_seconds
            while (not self.stop_event.is_set() and self.sent < self.max_queries and
                   time.monotonic() < deadline):
                name, rtype = RELOAD_QUERIES[self.sent % len(RELOAD_QUERIES)]
                q = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
                q.flags &= ~dns.flags.RD
                q.id = self.sent & 0xFFFF
                self.sent += 1
                try:
                    reply = dns.message.from_wire(self._exchange(q.to_wire()))
                except socket.timeout:
                    self.lost += 1
                    continue
                got = message_records(reply)
                for v in (1, 2):
                    if got == self.expected[v][(name, rtype)]:
                        self.by_version[v] += 1
                        break
                else:
                    if len(self.bad) < 20:
                        self.bad.append(((name, rtype, dns.rcode.to_text(reply.rcode())),
                                         sorted(got)))
                    else:
                        self.bad.append(None)
        except BaseException as e:
            self.error = e
        finally:
            self.sock.close()


class XdpReloadConsistencyTest(NetnsTestCase):
    """SIGHUP reloads flipping the zone between two versions while clients query without pause:
    every reply is wholly one version, none is lost, and the UDP ones come from XDP."""

    MAX_RELOADS = 30
    MAX_SECONDS = 20

    @classmethod
    def setUpClass(cls):
        cls.make(zone_text=versioned_zone(1))

    def expected_versions(self):
        """The reply records for each query in each version, as userspace computes them (TCP,
        no reload running)."""
        expected = {1: {}, 2: {}}
        for v in (2, 1):  # ends on version 1, the running one
            start = self.daemon.line_count()
            self.daemon.write_file("xdp.example.zone", versioned_zone(v))
            self.daemon.proc.send_signal(signal.SIGHUP)
            self.assertIsNotNone(self.daemon.wait_for_line("reloaded", 20, start),
                                 self.daemon.log())
            sock = socket_in_netns(self.topology.client, socket.AF_INET, socket.SOCK_STREAM)
            with sock:
                sock.settimeout(3)
                sock.connect((SERVER4, 53))
                for name, rtype in RELOAD_QUERIES:
                    q = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
                    wire = q.to_wire()
                    sock.sendall(struct.pack("!H", len(wire)) + wire)
                    (length,) = struct.unpack("!H", recv_exact(sock, 2))
                    got = message_records(dns.message.from_wire(recv_exact(sock, length)))
                    self.assertTrue(any(f" 198.18.{v}." in r or f"::{v}:" in r or f'"v{v}"' in r
                                        for r in got), (v, name, rtype, got))
                    expected[v][(name, rtype)] = got
        for key in expected[1]:
            self.assertTrue(expected[1][key].isdisjoint(expected[2][key]), key)
        return expected

    def test_reloads_under_query_load(self):
        expected = self.expected_versions()
        loops = [ReloadQueryLoop(self.topology.client, SERVER4, False, expected, 200000, 40),
                 ReloadQueryLoop(self.topology.client, SERVER6, False, expected, 200000, 40),
                 ReloadQueryLoop(self.topology.client, SERVER4, True, expected, 50000, 40)]
        before = self.daemon.stats()
        for loop in loops:
            loop.thread.start()
        reloads = 0
        version = 1
        deadline = time.monotonic() + self.MAX_SECONDS
        try:
            while reloads < self.MAX_RELOADS and time.monotonic() < deadline:
                version = 3 - version
                start = self.daemon.line_count()
                self.daemon.write_file("xdp.example.zone", versioned_zone(version))
                self.daemon.proc.send_signal(signal.SIGHUP)
                line = self.daemon.wait_for_line("reloaded", 20, start)
                self.assertIsNotNone(line, self.daemon.log())
                self.assertIsNone(self.daemon.wait_for_line("reload failed", 0, start))
                reloads += 1
                time.sleep(0.05)  # let both versions be queried between flips
        finally:
            for loop in loops:
                loop.stop_event.set()
            for loop in loops:
                loop.thread.join(10)
        after = self.daemon.stats()
        d = delta(before, after)
        udp_sent = sum(loop.sent for loop in loops if not loop.tcp)
        summary = (f"reloads={reloads} " + "; ".join(
            f"{'tcp' if l.tcp else 'udp'} {l.server}: sent={l.sent} lost={l.lost} "
            f"v1={l.by_version[1]} v2={l.by_version[2]} mixed={len(l.bad)}" for l in loops) +
            f"; xdp answered={d['answered']} pass_name_miss={d['pass_name_miss']}")
        print(summary, file=sys.stderr)
        self.assertGreaterEqual(reloads, 10, summary)
        for loop in loops:
            self.assertIsNone(loop.error, summary)
            self.assertEqual(loop.bad, [], summary)
            self.assertEqual(loop.lost, 0, summary)
            self.assertGreater(loop.by_version[1], 0, summary)
            self.assertGreater(loop.by_version[2], 0, summary)
        # Every UDP query is in the maps of both versions: XDP answers all of them.
        self.assertGreater(udp_sent, 500, summary)
        self.assertEqual(d["answered"], udp_sent, summary)
        self.assertEqual(d["pass_name_miss"], 0, summary)
        self.assertEqual(d["pass_no_data"], 0, summary)


# --- lifecycle -----------------------------------------------------------------------------------

class TopologyPerTest(unittest.TestCase):
    """For tests that start and stop daemons themselves: a fresh topology per test, daemons
    stopped and the topology removed at the end whatever happens."""

    def setUp(self):
        reason = skip_reason()
        if reason:
            self.skipTest(reason)
        ensure_bpffs()
        self.topology = Topology().create()
        self.addCleanup(self.topology.destroy)

    def daemon(self, pin_dir=None, **args):
        """An XdpDaemon (not started yet), stopped at cleanup; pin_dir overrides the default."""
        daemon = XdpDaemon(self.topology, **args)
        if pin_dir:
            daemon.pin_dir = pin_dir
            daemon.config["xdp"]["pin_dir"] = pin_dir
            daemon.write_file("meridian.json", json.dumps(daemon.config))
        self.addCleanup(daemon.stop)
        return daemon

    def query(self, server, name, rtype):
        proc = run(["ip", "netns", "exec", self.topology.client, "dig", f"@{server}", name, rtype,
                    "+norec", "+time=2", "+tries=1"], check=False)
        return parse_dig(proc.stdout) if proc.returncode == 0 else None



class XdpLifecycleTest(TopologyPerTest):
    """SIGTERM: with "on_exit": "detach" (default) the program is detached; with "keep" it stays
    attached and keeps answering the last published data. In both cases the maps stay pinned in
    pin_dir (counters readable after the stop). Userspace sees only what XDP passed up."""

    def start(self, **args):
        return self.daemon(**args).start()

    def test_detach_on_sigterm(self):
        daemon = self.start()
        self.assertIsNotNone(self.topology.server_xdp_attached())
        for server in (SERVER4, SERVER6):
            for _ in range(5):
                self.assertEqual(records(self.query(server, "www.xdp.example.", "A")),
                                 POSITIVE[0][3])
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
        self.assertEqual(read_stats(daemon.pin_dir)["answered"], 10)
        # Nothing answers any more: no program, no daemon.
        self.assertIsNone(self.query(SERVER4, "www.xdp.example.", "A"))

    def test_keep_on_exit(self):
        daemon = self.start(on_exit="keep")
        prog = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog)
        self.assertEqual(records(self.query(SERVER4, "www.xdp.example.", "A")), POSITIVE[0][3])
        self.assertEqual(daemon.terminate(), 0)
        self.assertEqual(self.topology.server_xdp_attached(), prog)
        # The program keeps answering from the pinned maps with meridiand gone.
        for server in (SERVER4, SERVER6):
            self.assertEqual(records(self.query(server, "www.xdp.example.", "A")),
                             POSITIVE[0][3])
        self.assertEqual(read_stats(daemon.pin_dir)["answered"], 3)
        # What it passes up finds no server now.
        self.assertIsNone(self.query(SERVER4, "x.wild.xdp.example.", "A"))

    def test_attach_failure_leaves_userspace_serving(self):
        """One interface that does not exist: the fast path is not started at all (the interface
        attached first is detached again), the failure is logged, userspace answers everything."""
        daemon = XdpDaemon(self.topology)
        daemon.config["xdp"]["interfaces"] = ["veth-srv", "mdnx-none0"]
        daemon.write_file("meridian.json", json.dumps(daemon.config))
        self.addCleanup(daemon.stop)
        daemon.start()
        line = daemon.wait_for_line("XDP fast path not started", 0)
        self.assertIsNotNone(line, daemon.log())
        self.assertIn("mdnx-none0", line)
        self.assertIsNone(self.topology.server_xdp_attached())
        for server in (SERVER4, SERVER6):
            self.assertEqual(records(self.query(server, "www.xdp.example.", "A")),
                             POSITIVE[0][3])
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 2 received, 2 replied", 0),
                             daemon.log())


class XdpGenericModeTest(NetnsTestCase):
    """"mode": "generic" works without a program on the peer (generic XDP_TX goes through the
    stack's transmit path)."""

    @classmethod
    def setUpClass(cls):
        cls.make(peer_xdp=False, mode="generic")
        cls.require_log_line("XDP program attached to veth-srv (generic mode)")

    def test_answered_in_generic_mode(self):
        for server in (SERVER4, SERVER6):
            for tool in ("dig", "kdig"):
                for name, rtype, hit, expected in POSITIVE[:4]:
                    with self.subTest(server=server, tool=tool, name=name, type=rtype):
                        r, d = self.dig_counted(tool, server, name, rtype)
                        self.assertEqual(records(r), expected, r["text"])
                        self.assertEqual(d["answered"], 1, d)
                        self.assertEqual(nonzero(d, "hit_"), {hit: 1}, d)


# --- restarts: taking over a kept program ---------------------------------------------------------

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

    def __init__(self, netns, server, max_queries, max_seconds):
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.sock = socket_in_netns(netns, family, socket.SOCK_DGRAM)
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
                name, rtype = RELOAD_QUERIES[n % len(RELOAD_QUERIES)]
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
                got = message_records(reply)
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
    return run(["bpftool", "prog", "show", "id", str(prog_id)], check=False).returncode == 0


class XdpTakeoverTest(TopologyPerTest):
    """A restarted meridiand and a program left attached ("on_exit": "keep", or a kill -9): the new
    daemon fills its maps, then replaces the old program in one operation, so queries sent
    without pause are all answered, by XDP, and after it is ready only with its data. Pins that do
    not match the program are replaced with a warning; a foreign XDP program is left alone."""

    def versions(self, count):
        return TakeoverQueryLoop(self.topology.client, SERVER4, count, 30).run_for(count)

    def test_restart_takes_over_kept_program(self):
        """A killed (-9), B pins in the same pin_dir: B reuses A's maps and publishes into them
        before replacing the program."""
        self.check_takeover(kill=True, share_pins=True)

    def test_restart_with_own_pins_takes_over(self):
        """A stopped with SIGTERM ("on_exit": "keep"), B with another pin_dir: A's maps never see
        version 2, so only the replacement itself can bring it."""
        self.check_takeover(kill=False, share_pins=False)

    def check_takeover(self, kill, share_pins):
        a = self.daemon(zone_text=versioned_zone(1), on_exit="keep").start()
        prog_a = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog_a)
        self.assertEqual(self.versions(5), [1] * 5)
        # A goes; its program keeps answering version 1 from the maps.
        if kill:
            a.proc.kill()
            a.proc.wait(COMMAND_TIMEOUT_S)
        else:
            self.assertEqual(a.terminate(), 0)
        self.assertEqual(self.topology.server_xdp_attached(), prog_a)
        before = a.stats()
        self.assertEqual(self.versions(10), [1] * 10)
        self.assertEqual(delta(before, a.stats())["answered"], 10)

        # B, with version 2 of the zone and the same pin_dir, starts while a client queries.
        loop = TakeoverQueryLoop(self.topology.client, SERVER4, 200000, 60)
        loop.thread.start()
        try:
            time.sleep(0.3)
            b = self.daemon(zone_text=versioned_zone(2),
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
        d = delta(before, b.stats())
        self.assertEqual(d["answered"], 20, d)
        self.assertEqual(d["pass_name_miss"] + d["pass_no_data"], 0, d)
        # B was started with the default "on_exit": it detaches what it took over.
        self.assertEqual(b.terminate(), 0)
        self.assertIsNone(self.topology.server_xdp_attached())

    def test_mismatched_pins_are_replaced(self):
        daemon = self.daemon()
        os.makedirs(daemon.pin_dir)
        # mdn_control holds 24 bytes; a map of 16-byte values stands for an incompatible build.
        run(["bpftool", "map", "create", f"{daemon.pin_dir}/mdn_control", "type", "array", "key",
             "4", "value", "16", "entries", "1", "name", "mdn_control"])
        run(["bpftool", "map", "create", f"{daemon.pin_dir}/mdn_stats", "type", "hash", "key",
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
            self.assertEqual(records(r), POSITIVE[0][3])
        self.assertEqual(delta(before, daemon.stats())["answered"], 5)

    def topology_query(self, name, rtype):
        proc = run(["ip", "netns", "exec", self.topology.client, "dig", f"@{SERVER4}", name,
                    rtype, "+norec", "+time=2", "+tries=1"])
        return parse_dig(proc.stdout)

    def test_foreign_program_is_left_alone(self):
        run(["ip", "-n", self.topology.server, "link", "set", "dev", "veth-srv", "xdp", "obj",
             XDP_PASS_OBJECT, "sec", "xdp"])
        foreign = self.topology.server_xdp_attached()
        self.assertIsNotNone(foreign)
        daemon = self.daemon(on_exit="keep").start()
        line = daemon.wait_for_line("XDP fast path not started", 0)
        self.assertIsNotNone(line, daemon.log())
        self.assertIn(f'veth-srv: another XDP program is attached ("xdp_pass", id {foreign})',
                      line)
        self.assertEqual(self.topology.server_xdp_attached(), foreign)
        for _ in range(3):  # xdp_pass lets them through to userspace
            self.assertEqual(records(self.topology_query("www.xdp.example.", "A")),
                             POSITIVE[0][3])
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 3 received, 3 replied", 0),
                             daemon.log())
        self.assertEqual(self.topology.server_xdp_attached(), foreign)


# --- faults --------------------------------------------------------------------------------------

def many_names_zone(count):
    """xdp.example with `count` extra hosts h1..hN (A 198.18.20.N), for the map-full test."""
    lines = ["$ORIGIN xdp.example.", "$TTL 300",
             "@ IN SOA ns1 hostmaster 2026112501 7200 3600 1209600 60", "  IN NS ns1",
             "ns1 IN A 198.18.10.53"]
    lines += [f"h{i} IN A 198.18.20.{i}" for i in range(1, count + 1)]
    return "\n".join(lines) + "\n"


class XdpFaultTest(TopologyPerTest):
    """Faults of the fast path that must leave userspace serving: the interface disappears under
    a running meridiand, the program cannot be loaded, a name class is full. Each is logged with
    its cause and never stops meridiand."""


    def reload(self, daemon):
        """SIGHUP; returns the log lines it produced once the reload has finished."""
        start = daemon.line_count()
        daemon.signal(signal.SIGHUP)
        line = daemon.wait_for_line("reloaded:", READY_TIMEOUT_S, start)
        self.assertIsNotNone(line, "reload did not finish:\n" + daemon.log())
        return daemon.log().splitlines()[start:]

    def test_interface_gone_and_back(self):
        daemon = self.daemon().start()
        first_prog = self.topology.server_xdp_attached()
        self.assertIsNotNone(first_prog)
        self.assertEqual(records(self.query(SERVER4, "www.xdp.example.", "A")), POSITIVE[0][3])
        self.assertEqual(daemon.stats()["answered"], 1)

        # Deleting one end of a veth deletes the pair and the program's attachment with it.
        run(["ip", "-n", self.topology.server, "link", "del", "veth-srv"])
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
        for server in (SERVER4, SERVER6):
            self.assertEqual(records(self.query(server, "www.xdp.example.", "A")),
                             POSITIVE[0][3])
        self.assertEqual(daemon.stats()["answered"], 1)

        # SIGHUP attaches the program to the new interface; XDP answers again.
        lines = self.reload(daemon)
        self.assertTrue(any("XDP program attached to veth-srv" in l for l in lines),
                        "\n".join(lines))
        self.assertEqual(self.topology.server_xdp_attached(), first_prog)
        before = daemon.stats()
        for server in (SERVER4, SERVER6):
            self.assertEqual(records(self.query(server, "www.xdp.example.", "A")),
                             POSITIVE[0][3])
        d = delta(before, daemon.stats())
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
        run(["ip", "-n", self.topology.server, "link", "del", "veth-srv"])
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
        for server in (SERVER4, SERVER6):
            self.assertEqual(records(self.query(server, "www.xdp.example.", "A")),
                             POSITIVE[0][3])
        self.assertEqual(self.query(SERVER4, "nope.xdp.example.", "A")["status"], "NXDOMAIN")
        lines = self.reload(daemon)
        self.assertFalse([l for l in lines if "XDP" in l], "\n".join(lines))
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(daemon.wait_for_line("stopped: udp 3 received, 3 replied", 0),
                             daemon.log())

    def test_pin_dir_not_a_directory(self):
        """pin_dir names a pinned map: refused before loading, with the reason."""
        not_a_dir = f"/sys/fs/bpf/mdnx-fault-{unique_suffix()}"
        run(["bpftool", "map", "create", not_a_dir, "type", "array", "key", "4", "value", "4",
             "entries", "1", "name", "mdnx_fault"])
        self.addCleanup(lambda: os.path.exists(not_a_dir) and os.unlink(not_a_dir))
        daemon, line = self.start_without_fast_path(not_a_dir)
        self.assertIn("pin_dir is not a directory", line)
        self.check_userspace_serves(daemon)
        self.assertTrue(os.path.exists(not_a_dir))  # left as it was

    def test_load_failure_leaves_userspace_serving(self):
        """pin_dir is a read-only bpffs: libbpf creates the maps but cannot pin them, so loading
        fails. The error names the step and the directory, libbpf's line names the map."""
        ro_dir = f"/sys/fs/bpf/mdnx-ro-{unique_suffix()}"
        os.mkdir(ro_dir)
        self.addCleanup(os.rmdir, ro_dir)
        run(["mount", "-t", "bpf", "-o", "ro", "bpf", ro_dir])
        self.addCleanup(run, ["umount", ro_dir])
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
            reply = self.query(SERVER4, name, rtype)
            self.assertIsNotNone(reply, f"{name} {rtype}: no reply")
            self.assertEqual(reply["status"], "NOERROR", reply)
            self.assertEqual(len(reply["answer"]), 1, reply)
            if name.startswith("h"):
                self.assertEqual(records(reply),
                                 {(name, "A", "198.18.20." + name[1:name.index(".")])})
        d = delta(before, daemon.stats())
        # Exactly the published ones from XDP, every other one passed up as a name miss.
        self.assertEqual(d["answered"], capacity, d)
        self.assertEqual(d["pass_name_miss"], len(questions) - capacity, d)
        self.assertEqual(daemon.terminate(), 0)
        self.assertIsNotNone(
            daemon.wait_for_line(f"stopped: udp {len(questions) - capacity} received, "
                                 f"{len(questions) - capacity} replied", 0), daemon.log())


# --- a dead daemon's fast path -------------------------------------------------------------------

class StaleProbe:
    """www.xdp.example. A over UDP from the client namespace, one query at a time: answered within
    TIMEOUT_S or not (no retry: a missing answer is the result being measured)."""

    TIMEOUT_S = 0.5

    def __init__(self, netns):
        self.sock = socket_in_netns(netns, socket.AF_INET, socket.SOCK_DGRAM)
        self.next_id = 0

    def close(self):
        self.sock.close()

    def answered(self):
        q = dns.message.make_query("www.xdp.example.", "A", use_edns=0, payload=1232)
        q.flags &= ~dns.flags.RD
        q.id = self.next_id = (self.next_id + 1) & 0xFFFF
        wire = q.to_wire()
        self.sock.sendto(wire, (SERVER4, 53))
        deadline = time.monotonic() + self.TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                return False
            except ConnectionRefusedError:  # an ICMP error for an earlier query
                continue
            if data[:2] == wire[:2]:
                reply = dns.message.from_wire(data)
                return message_records(reply) == {
                    "www.xdp.example. A 198.18.10.80", "www.xdp.example. A 198.18.10.81"}


HEARTBEAT_LINE = re.compile(r"^xdp heartbeat +([0-9.]+) s ago(.*)$", re.M)


class XdpStaleTest(TopologyPerTest):
    """A dead meridiand's program ("on_exit": "keep", then kill -9 or SIGTERM) answers from its
    frozen maps only until meridiand's heartbeat in mdn_control is older than "stale_after"; then
    it passes every query up (pass_stale), and with no daemon behind it nothing answers, so
    resolvers move on to the other authoritative servers. A restarted meridiand takes the program
    over and XDP answers again; a reload changes stale_after. `meridianctl stats` shows the
    heartbeat's age from the pinned map, with or without the daemon, and the metrics page has it
    as a gauge."""

    STALE_AFTER_S = 3
    PROBE_INTERVAL_S = 0.1

    def start_daemon(self, pin_dir=None):
        daemon = self.daemon(on_exit="keep", pin_dir=pin_dir)
        daemon.config["xdp"]["stale_after"] = self.STALE_AFTER_S
        daemon.write_file("meridian.json", json.dumps(daemon.config))
        return daemon.start()

    def heartbeat(self, pin_dir):
        """(age in seconds, rest of the line) from `meridianctl stats`."""
        out = run([MERIDIANCTL, "stats", "--pin-dir", pin_dir, "--socket", "/nonexistent"]).stdout
        m = HEARTBEAT_LINE.search(out)
        self.assertIsNotNone(m, out)
        return float(m.group(1)), m.group(2)

    def last_beat(self, pin_dir):
        """time.monotonic() of the last heartbeat in the pinned mdn_control."""
        control = json.loads(run([MERIDIANCTL, "dump", "mdn_control", "--pin-dir", pin_dir,
                                  "--json"]).stdout)["entries"][0]
        return time.monotonic() - control["heartbeat"]["age_s"]

    def probe(self, count):
        """Answers to `count` probes sent now, one after the other."""
        probe = StaleProbe(self.topology.client)
        try:
            return [probe.answered() for _ in range(count)]
        finally:
            probe.close()

    def probe_until_stale(self, since, seconds):
        """Probes every PROBE_INTERVAL_S until `seconds` after `since` (200 at most). Checks that
        they were answered without a gap and then never again; returns (seconds after `since` the
        last answered one was sent or None, the same for the first unanswered one, how many were
        answered, how many not)."""
        results = []
        probe = StaleProbe(self.topology.client)
        try:
            while time.monotonic() < since + seconds and len(results) < 200:
                sent = time.monotonic()
                results.append((sent - since, probe.answered()))
                time.sleep(max(0.0, self.PROBE_INTERVAL_S - (time.monotonic() - sent)))
        finally:
            probe.close()
        answered = [t for t, ok in results if ok]
        unanswered = [t for t, ok in results if not ok]
        last = max(answered) if answered else None
        first = min(unanswered) if unanswered else None
        summary = (f"{len(answered)} answered, the last sent {last} s after; {len(unanswered)} "
                   f"unanswered, the first sent {first} s after")
        self.assertTrue(unanswered, summary)
        self.assertTrue(last is None or last < first, "answered again once stale: " + summary)
        return last, first, len(answered), len(unanswered)

    def test_dead_daemon_goes_stale_and_restart_takes_over(self):
        a = self.start_daemon()
        prog_a = self.topology.server_xdp_attached()
        self.assertIsNotNone(prog_a)
        age, rest = self.heartbeat(a.pin_dir)
        self.assertLess(age, 1.5, rest)
        self.assertEqual(rest, f" (stale after {self.STALE_AFTER_S} s)")
        before = a.stats()
        self.assertEqual(self.probe(5), [True] * 5)
        d = delta(before, a.stats())
        self.assertEqual((d["answered"], d["pass_stale"]), (5, 0), d)
        metrics = control_http.request("GET", "/metrics",
                                       unix=os.path.join(a.dir, "control.sock")).body
        m = re.search(r"(?m)^meridian_xdp_heartbeat_age_seconds (\S+)$", metrics)
        self.assertIsNotNone(m, metrics)
        self.assertLess(float(m.group(1)), 1.5, metrics)
        self.assertRegex(metrics, r"(?m)^meridian_xdp_stale_after_seconds 3$")
        self.assertRegex(metrics, r'(?m)^meridian_xdp_pass_total\{reason="stale"\} 0$')

        # kill -9: nothing detaches the program and nothing writes the heartbeat any more.
        before = a.stats()
        last_beat = self.last_beat(a.pin_dir)
        a.proc.kill()
        killed = time.monotonic()
        a.proc.wait(COMMAND_TIMEOUT_S)
        self.assertEqual(self.topology.server_xdp_attached(), prog_a)
        last, first, answered, unanswered = self.probe_until_stale(killed,
                                                                   self.STALE_AFTER_S + 3)
        self.assertIsNotNone(last, "no XDP answer after the kill")
        beat = last_beat - killed  # the last heartbeat, in seconds after the kill (<= 0)
        summary = (f"last heartbeat {-beat:.2f} s before the kill; {answered} answered, the last "
                   f"sent {last:.2f} s after the kill; {unanswered} unanswered, the first sent "
                   f"{first:.2f} s after")
        print(f"stale after kill -9 (stale_after {self.STALE_AFTER_S} s): {summary}",
              file=sys.stderr)
        # Stale stale_after past the last heartbeat (at most a period, 1 s, before the kill), give
        # or take the program's clock tick and a probe's interval.
        self.assertGreaterEqual(beat, -1.2, summary)
        self.assertGreaterEqual(last, beat + self.STALE_AFTER_S - 0.3, summary)
        self.assertLessEqual(first, beat + self.STALE_AFTER_S + 0.3, summary)
        self.assertLessEqual(first, self.STALE_AFTER_S + 1, summary)
        d = delta(before, a.stats())
        # Passed up untouched, counted as stale; no server to answer them.
        self.assertEqual((d["answered"], d["pass_stale"]), (answered, unanswered), d)
        age, rest = self.heartbeat(a.pin_dir)
        self.assertGreater(age, self.STALE_AFTER_S, rest)
        self.assertIn("STALE", rest)
        explained = run([MERIDIANCTL, "explain", "www.xdp.example.", "A", "--client", CLIENT4,
                         "--pin-dir", a.pin_dir]).stdout
        self.assertIn("verdict:    passed to userspace: meridiand's heartbeat is", explained)

        # A restarted meridiand (same pin_dir) takes over; XDP answers again, with a fresh beat.
        b = self.start_daemon(pin_dir=a.pin_dir)
        prog_b = self.topology.server_xdp_attached()
        self.assertIsNotNone(b.wait_for_line(
            f"XDP program id {prog_b} replaced meridian's program id {prog_a} on veth-srv", 0),
            b.log())
        before = b.stats()
        self.assertEqual(self.probe(5), [True] * 5)
        d = delta(before, b.stats())
        self.assertEqual((d["answered"], d["pass_stale"]), (5, 0), d)
        age, rest = self.heartbeat(b.pin_dir)
        self.assertLess(age, 1.5, rest)
        self.assertNotIn("STALE", rest)

        # A reload applies a new stale_after at once (the one "xdp" setting it changes).
        b.config["xdp"]["stale_after"] = 2
        b.write_file("meridian.json", json.dumps(b.config))
        start = b.line_count()
        b.signal(signal.SIGHUP)
        self.assertIsNotNone(b.wait_for_line("reloaded:", READY_TIMEOUT_S, start), b.log())
        self.assertIsNotNone(b.wait_for_line("XDP stale_after: 2 s", 0, start), b.log())
        self.assertEqual(self.heartbeat(b.pin_dir)[1], " (stale after 2 s)")

        # A clean stop with "on_exit": "keep" leaves the program attached, stale 2 s later.
        self.assertEqual(b.terminate(), 0)
        stopped = time.monotonic()
        self.assertEqual(self.topology.server_xdp_attached(), prog_b)
        before = b.stats()
        last, first, answered, unanswered = self.probe_until_stale(stopped, 2 + 2)
        print(f"stale after SIGTERM (stale_after 2 s): {answered} answered, {unanswered} not, the "
              f"first unanswered sent {first:.2f} s after the exit", file=sys.stderr)
        self.assertLessEqual(first, 2 + 0.3, (last, first))
        d = delta(before, b.stats())
        self.assertEqual((d["answered"], d["pass_stale"]), (answered, unanswered), d)


def main(doc=None):
    """Sets the paths from the command line and runs the calling script's tests (the other XDP
    e2e scripts call it with their own docstring)."""
    global MERIDIAND, MERIDIANCTL, XDP_PASS_OBJECT
    parser = argparse.ArgumentParser(description=(doc or __doc__).splitlines()[0])
    parser.add_argument("--meridiand", required=True)
    parser.add_argument("--meridianctl", required=True)
    parser.add_argument("--xdp-pass-object", required=True)
    args, rest = parser.parse_known_args()
    MERIDIAND = os.path.abspath(args.meridiand)
    MERIDIANCTL = os.path.abspath(args.meridianctl)
    XDP_PASS_OBJECT = os.path.abspath(args.xdp_pass_object)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
