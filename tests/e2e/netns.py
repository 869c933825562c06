"""Network-namespace helpers for the XDP end-to-end tests (the xdp_*_netns_test.py modules and the
other e2e scripts that need XDP): meridiand with its "xdp" section attached to the server end of a
veth pair, dig/kdig (and raw sockets) in a client namespace, and the program's counters read with
`meridianctl stats --json` to prove who answered.

Topology (per test class or test, names carry a unique suffix):
  client ns: veth-cli 198.18.0.2/24, fd00:18::2/64, XDP_PASS program (native XDP_TX on a veth is
             dropped unless the peer end has an XDP program)
  server ns: veth-srv 198.18.0.1/24, fd00:18::1/64, meridiand's XDP program (native mode)

meridiand is started with `nsenter --net` (network namespace only), so its maps are pinned in
the host's bpffs where the tests and meridianctl can read them, also after the daemon exits.
A test script calls main(__doc__), which sets the paths below from its command line.
"""

import argparse
import ctypes
import json
import os
import re
import socket
import subprocess
import sys
import threading
import unittest

import dns.rdatatype

from daemon_process import DaemonProcess

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


# --- zones and queries shared by the reload, takeover and stale tests -----------------------------

def versioned_zone(v):
    """Version v (1 or 2) of a zone whose names all change together: a 4-record A RRset, a
    3-record AAAA RRset, a TXT, a CNAME whose target (with its own addresses) moves, and an MX
    whose exchange moves; the SOA serial follows."""
    return f"""; xdp.example version {v}, written by the XDP reload and takeover tests.
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


# --- tests that start and stop their own daemons --------------------------------------------------

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


def main(doc=None):
    """Sets the paths from the command line and runs the calling script's tests (each test script
    calls it with its own docstring, whose first line becomes the --help description)."""
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
