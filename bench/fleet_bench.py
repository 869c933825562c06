"""Shared parts of the fleet benchmarks (fleet_propagation.py, fleet_health_load.py): meridiand
edges on loopback ports, an etcd cluster (tests/fleet/etcd_cluster.py), per-process CPU and RSS
from /proc, etcd's metrics page, and a DNS poller that times when each edge first answers what is
expected. Everything started is registered with a Cleanup and stopped by pid on exit, Ctrl-C or
SIGTERM."""

import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fleet"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import control_http  # noqa: E402
from etcd_cluster import EtcdCluster  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 120  # 100 edges starting together on two cores


class Cleanup:
    """Callables run once, last registered first, at exit or on SIGINT/SIGTERM."""

    def __init__(self):
        self.actions = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def add(self, action):
        self.actions.append(action)
        return action

    def run(self):
        while self.actions:
            action = self.actions.pop()
            try:
                action()
            except Exception as e:  # noqa: BLE001 - clean up the rest anyway
                print(f"cleanup: {e!r}", file=sys.stderr)


def default_build_dir():
    return os.path.join(ROOT, "build", "release")


def meridiand_path(build_dir):
    """meridiand of `build_dir`; exits when etcd or etcdctl is not on PATH."""
    for tool in ("etcd", "etcdctl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not on PATH")
    return os.path.join(build_dir, "userspace", "daemon", "meridiand")


def free_port(used, low=20000, high=32000):
    """A port free for both UDP and TCP on 127.0.0.1, not in `used`, below the ephemeral range
    (32768-): the edges' own connections to etcd take ephemeral ports all the time."""
    for port in range(low, high):
        if port in used:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
        except OSError:
            continue
        used.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{high}")


# --- processes -----------------------------------------------------------------------------------

def proc_cpu_seconds(pid):
    """utime + stime of every thread of `pid`, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _live(read, pids):
    total = 0
    for p in pids:
        try:
            total += read(p)
        except FileNotFoundError:  # exited
            pass
    return total


def cpu_of(pids):
    return _live(proc_cpu_seconds, pids)


def rss_of(pids):
    return _live(proc_rss_bytes, pids)


def stop_process(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# --- etcd ----------------------------------------------------------------------------------------

def start_loopback_etcd(cleanup, members=3):
    cluster = EtcdCluster(size=members)
    cleanup.add(cluster.stop)
    cluster.start()
    return cluster


def etcd_pids(cluster):
    return [p.pid for p in cluster.procs if p is not None and p.poll() is None]


def etcd_metrics(url, names):
    """{metric name: summed value over its label sets} for `names` from etcd's /metrics."""
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=5) as r:
        text = r.read().decode()
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in out:
            out[name] += float(line.rsplit(" ", 1)[1])
    return out


def etcd_metrics_sum(urls, names):
    total = dict.fromkeys(names, 0.0)
    for url in urls:
        for k, v in etcd_metrics(url, names).items():
            total[k] += v
    return total


# --- edges on loopback ---------------------------------------------------------------------------

class LoopbackEdge:
    """meridiand as one edge of a fleet: 127.0.0.1:<port>, no XDP, one worker, its own state
    database and control socket in a temp dir, stderr to a log file there."""

    def __init__(self, meridiand, index, port, endpoints, prefix, lease_ttl_s, log_level="info"):
        self.meridiand = meridiand
        self.index = index
        self.name = f"e{index}"
        self.port = port
        self.dir = tempfile.mkdtemp(prefix=f"meridian-bench-{self.name}-")
        self.socket_path = os.path.join(self.dir, "control.sock")
        self.log_path = os.path.join(self.dir, "meridiand.log")
        self.proc = None
        self.config = {
            "listen": [f"127.0.0.1:{port}"],
            "workers": 1,
            "log": {"level": log_level},
            "geoip": {"database": None},
            "state": {"database": os.path.join(self.dir, "state.db")},
            "health": {"state_db": None},
            "control": {"socket": self.socket_path},
            "cluster": {"endpoints": list(endpoints), "edge": self.name,
                        "vantage": f"pop{index % 10}", "prefix": prefix,
                        "lease_ttl_s": lease_ttl_s},
        }

    def spawn(self):
        path = os.path.join(self.dir, "meridian.json")
        with open(path, "w") as f:
            json.dump(self.config, f)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.meridiand, "--config", path],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def ready(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return "meridiand ready" in f.read()
        except OSError:
            return False

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def api(self, method, path, body=None, timeout=30):
        return control_http.request(method, path, body=body, unix=self.socket_path,
                                    timeout=timeout)

    def stop(self):
        stop_process(self.proc)
        subprocess.run(["rm", "-rf", self.dir], check=False)


def stop_edges(edges, timeout=15):
    """SIGTERM to every edge at once, then waits (SIGKILL after `timeout`): one by one, 100
    edges would take minutes."""
    for e in edges:
        if e.proc is not None and e.proc.poll() is None:
            e.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for e in edges:
        if e.proc is None:
            continue
        try:
            e.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            e.proc.kill()
            e.proc.wait(10)
    for e in edges:
        e.stop()


def start_edges(cleanup, meridiand, indexes, endpoints, prefix, lease_ttl_s, used_ports,
                log_level="info"):
    """Starts edges `indexes` together and waits until every one logged its ready line."""
    edges = []
    cleanup.add(lambda: stop_edges(edges))
    for i in indexes:
        e = LoopbackEdge(meridiand, i, free_port(used_ports), endpoints, prefix, lease_ttl_s,
                         log_level)
        edges.append(e)
        e.spawn()
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(edges)
    while pending:
        pending = [e for e in pending if not e.ready()]
        for e in pending:
            if e.proc.poll() is not None:
                raise RuntimeError(f"edge {e.name} exited:\n{e.log_tail()}")
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} edges not ready after {READY_TIMEOUT_S} s:\n" +
                               pending[0].log_tail())
        if pending:
            time.sleep(0.2)
    return edges


def create_zone(edge, origin):
    r = edge.api("POST", "/v1/zones", {"Name": origin})
    if r.status != 201:
        raise RuntimeError(f"zone not created: {r.status} {r.body}")
    return r.json()["HostedZone"]["Id"].split("/")[-1]


def change_batch(edge, zone_id, changes, comment="bench"):
    """POSTs a change batch; (change id, monotonic time of the 200 answer)."""
    r = edge.api("POST", f"/v1/zones/{zone_id}/rrsets", {"Comment": comment, "Changes": changes})
    t = time.monotonic()
    if r.status != 200:
        raise RuntimeError(f"change batch refused: {r.status} {r.body}")
    return r.json()["ChangeInfo"]["Id"].split("/")[-1], t


def a_record_set(name, address, ttl=60, **extra):
    rrset = {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": address}]}
    rrset.update(extra)
    return rrset


# --- DNS polling ---------------------------------------------------------------------------------

def dns_query(name, qid=0x4d42, qtype=1):
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + b"\x00" + struct.pack(
        "!HH", qtype, 1)


def has_a(reply, address):
    """Whether `reply` carries an A record with `address` (rdlength 4 then the bytes)."""
    return b"\x00\x04" + socket.inet_aton(address) in reply[12:]


class DnsPoller:
    """Sends one query to every pending target every `interval` seconds and records the first
    time each target's reply satisfies a predicate. Targets are (host, port) pairs reachable
    through `sock` (a UDP socket, possibly made in another namespace)."""

    def __init__(self, targets, sock=None, interval=0.01):
        self.targets = list(targets)
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.interval = interval
        self.index = {t: i for i, t in enumerate(self.targets)}

    def drain(self):
        while True:
            try:
                self.sock.recvfrom(4096)
            except BlockingIOError:
                return

    def wait(self, query, predicate, timeout):
        """{target index: monotonic time its first matching reply arrived}; targets that never
        matched within `timeout` are missing."""
        self.drain()
        done = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(self.targets) and time.monotonic() < deadline:
            for i, t in enumerate(self.targets):
                if i not in done:
                    try:
                        self.sock.sendto(query, t)
                    except OSError:
                        pass
            round_end = time.monotonic() + self.interval
            while True:
                left = round_end - time.monotonic()
                if left <= 0 or len(done) == len(self.targets):
                    break
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    continue
                while True:
                    try:
                        data, source = self.sock.recvfrom(4096)
                    except BlockingIOError:
                        break
                    i = self.index.get(source[:2])
                    if i is not None and i not in done and predicate(data):
                        done[i] = time.monotonic()
        return done


# --- reporting -----------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest-rank percentile of `values` (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def mib(n):
    return f"{n / 1048576:.1f} MiB"
