"""A fleet in network namespaces for the fleet tests: etcd members, HTTP backends and meridiand
edges, each edge in a namespace of its own, so one edge can lose etcd or a backend while the
others keep them.

Topology (names carry a unique suffix; everything inside 198.18.0.0/24):
  hub ns:    bridge "br0" 198.18.0.1/24 (the test's queries come from there), plus HTTP backend
             k on 198.18.0.(20+k):8080
  etcd ns:   "eth0" with etcd member j on 198.18.0.(2+j) (client port 2379, peer port 2380)
  edge i ns: "eth0" 198.18.0.(10+i)/24; meridiand listens on 198.18.0.(10+i):53 and
             127.0.0.1:53 inside it
Every "eth0" is a veth whose peer is on the hub's bridge.

cut(i, address) adds a blackhole route for `address` inside edge i's namespace (no firewall
needed): that edge cannot reach it, everything else can. heal(i, address) removes it.
cut_from_etcd(i) also blackholes the edge's address inside the etcd namespace: a watch stream
would otherwise keep delivering (only the edge's ACKs would be lost).
Queries come from a socket created in the hub namespace; the control API is each edge's Unix
socket (a file, reachable from the test process).
"""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

import control_http  # noqa: E402
from daemon_process import DaemonProcess  # noqa: E402
from netns import run, socket_in_netns  # noqa: E402

HUB4 = "198.18.0.1"
READY_TIMEOUT_S = 30


def etcd_address(j):
    return f"198.18.0.{2 + j}"


def backend_address(k):
    return f"198.18.0.{20 + k}"


def edge_address(i):
    return f"198.18.0.{10 + i}"


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("etcd"):
        return "etcd is not installed (scripts/setup.sh installs it)"
    return None


class Topology:
    def __init__(self, edges=3, etcd_members=3, backends=2):
        suffix = f"{os.getpid() % 100000}{int(time.monotonic() * 1000) % 1000}"
        self.suffix = suffix
        self.hub = f"mfh-{suffix}"
        self.etcd_ns = f"mfd-{suffix}"
        self.edges = [f"mfe{i}-{suffix}" for i in range(edges)]
        self.etcd_members = etcd_members
        self.backends = backends
        self.created = []

    def create(self):
        try:
            run(["ip", "netns", "add", self.hub])
            self.created.append(self.hub)
            run(["ip", "-n", self.hub, "link", "set", "lo", "up"])
            run(["ip", "-n", self.hub, "link", "add", "name", "br0", "type", "bridge"])
            run(["ip", "-n", self.hub, "link", "set", "br0", "up"])
            run(["ip", "-n", self.hub, "addr", "add", HUB4 + "/24", "dev", "br0"])
            self.attach(self.etcd_ns, "pd", [etcd_address(j) for j in range(self.etcd_members)])
            for k in range(self.backends):
                run(["ip", "-n", self.hub, "addr", "add", backend_address(k) + "/32", "dev",
                     "br0"])
            for i, ns in enumerate(self.edges):
                self.attach(ns, f"p{i}", [edge_address(i)])
        except BaseException:
            self.destroy()
            raise
        return self

    def attach(self, ns, peer, addresses):
        """A namespace whose "eth0" carries `addresses` (the first as a /24), its veth peer
        `peer` on the hub's bridge."""
        run(["ip", "netns", "add", ns])
        self.created.append(ns)
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer,
             "netns", self.hub])
        for n, address in enumerate(addresses):
            run(["ip", "-n", ns, "addr", "add", address + ("/24" if n == 0 else "/32"), "dev",
                 "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        run(["ip", "-n", self.hub, "link", "set", peer, "master", "br0"])
        run(["ip", "-n", self.hub, "link", "set", peer, "up"])

    def destroy(self):
        for ns in reversed(self.created):
            run(["ip", "netns", "del", ns], check=False)
        self.created = []

    def cut(self, i, address):
        run(["ip", "-n", self.edges[i], "route", "add", "blackhole", address + "/32"])

    def heal(self, i, address):
        run(["ip", "-n", self.edges[i], "route", "del", "blackhole", address + "/32"],
            check=False)

    def cut_from_etcd(self, i):
        for j in range(self.etcd_members):
            self.cut(i, etcd_address(j))
        run(["ip", "-n", self.etcd_ns, "route", "add", "blackhole", edge_address(i) + "/32"])

    def heal_etcd(self, i):
        for j in range(self.etcd_members):
            self.heal(i, etcd_address(j))
        run(["ip", "-n", self.etcd_ns, "route", "del", "blackhole", edge_address(i) + "/32"],
            check=False)

    def hub_socket(self, kind=socket.SOCK_DGRAM):
        """A socket in the hub bound to the hub's own address: replies to the etcd or backend
        addresses would be lost to an edge cut off from them."""
        sock = socket_in_netns(self.hub, socket.AF_INET, kind)
        sock.bind((HUB4, 0))
        return sock


class Etcd:
    """etcd members in the etcd namespace, started and killed by pid."""

    def __init__(self, topology):
        self.topology = topology
        self.dir = tempfile.mkdtemp(prefix="meridian-fleet-etcd-")
        self.procs = [None] * topology.etcd_members
        self.cluster = ",".join(f"m{j}=http://{etcd_address(j)}:2380"
                                for j in range(topology.etcd_members))

    @property
    def client_urls(self):
        return [f"http://{etcd_address(j)}:2379" for j in range(self.topology.etcd_members)]

    def start_member(self, j, state="new"):
        a = etcd_address(j)
        with open(os.path.join(self.dir, f"m{j}.log"), "a") as log:
            self.procs[j] = self._spawn(j, a, state, log)

    def _spawn(self, j, a, state, log):
        return subprocess.Popen(
            ["ip", "netns", "exec", self.topology.etcd_ns, "etcd", "--name", f"m{j}",
             "--data-dir", os.path.join(self.dir, f"m{j}"),
             "--listen-client-urls", f"http://{a}:2379", "--advertise-client-urls",
             f"http://{a}:2379", "--listen-peer-urls", f"http://{a}:2380",
             "--initial-advertise-peer-urls", f"http://{a}:2380",
             "--initial-cluster", self.cluster, "--initial-cluster-state", state,
             "--initial-cluster-token", f"meridian-{self.topology.suffix}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def start(self):
        for j in range(self.topology.etcd_members):
            self.start_member(j)
        self.wait_healthy()
        return self

    def etcdctl(self, *args, endpoints=None, check=True):
        return run(["ip", "netns", "exec", self.topology.etcd_ns, "etcdctl", "--endpoints",
                    ",".join(endpoints or self.client_urls), "--dial-timeout", "2s",
                    "--command-timeout", "3s", *args], check=check, timeout=15)

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [self.client_urls[j] for j, p in enumerate(self.procs)
                    if p and p.poll() is None]
            proc = self.etcdctl("endpoint", "health", endpoints=live, check=False)
            if proc.returncode == 0:
                return
            time.sleep(0.3)
        raise AssertionError("etcd did not become healthy:\n" + self.logs())

    def leader_index(self):
        live = [j for j, p in enumerate(self.procs) if p and p.poll() is None]
        out = self.etcdctl("endpoint", "status", "-w", "json",
                           endpoints=[self.client_urls[j] for j in live]).stdout
        for status, j in zip(json.loads(out), live):
            if status["Status"]["header"]["member_id"] == status["Status"]["leader"]:
                return j
        raise AssertionError("no etcd leader: " + out)

    def kill(self, j):
        self.procs[j].send_signal(signal.SIGKILL)
        self.procs[j].wait(10)

    def restart(self, j):
        self.start_member(j, state="existing")

    def logs(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name)) as f:
                    out.append(f"--- {name}\n" + f.read()[-3000:])
        return "\n".join(out)

    def stop(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Backend:
    """A real HTTP server (python3 -m http.server) in the hub namespace."""

    def __init__(self, topology, k):
        self.address = backend_address(k)
        self.dir = tempfile.mkdtemp(prefix="meridian-fleet-backend-")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", topology.hub, "/usr/bin/python3", "-m", "http.server",
             "--bind", self.address, "--directory", self.dir, "8080"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class WebhookReceiver:
    """An HTTP server in the hub namespace (198.18.0.1:port) keeping every POSTed JSON body."""

    def __init__(self, topology, port=8090):
        self.bodies = []
        self.url = f"http://{HUB4}:{port}/hook"
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        sock = socket_in_netns(topology.hub, socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HUB4, port))
        sock.listen(16)
        self.server = http.server.HTTPServer((HUB4, port), Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Edge(DaemonProcess):
    """meridiand as edge i of the fleet, in its own namespace."""

    def __init__(self, meridiand, topology, etcd, i, prefix, lease_ttl_s=3, webhooks=()):
        super().__init__(f"meridian-fleet-edge{i}-")
        self.meridiand = meridiand
        self.topology = topology
        self.i = i
        self.name = f"e{i}"
        self.address = edge_address(i)
        self.socket_path = os.path.join(self.dir, "control.sock")
        self.config = {
            "listen": [f"{self.address}:53", "127.0.0.1:53"],
            "workers": 1,
            "log": {"level": "info"},
            "geoip": {"database": None},
            "state": {"database": os.path.join(self.dir, "state.db")},
            "health": {"state_db": None, "webhooks": list(webhooks)},
            "control": {"socket": self.socket_path},
            "cluster": {"endpoints": etcd.client_urls, "edge": self.name,
                        "vantage": f"pop{i}", "prefix": prefix, "lease_ttl_s": lease_ttl_s},
        }

    def start(self):
        path = self.write_file("meridian.json", json.dumps(self.config))
        self.lines = []
        self.spawn(["ip", "netns", "exec", self.topology.edges[self.i], self.meridiand,
                    "--config", path], "meridiand ready", READY_TIMEOUT_S)
        return self

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.reader.join(5)
        self.proc.stderr.close()

    def api(self, method, path, body=None):
        return control_http.request(method, path, body=body, unix=self.socket_path, timeout=15)

    def query(self, sock, name, rtype="A", timeout=2.0):
        q = dns.message.make_query(name, rtype)
        return dns.query.udp(q, self.address, timeout=timeout, port=53, sock=sock)


def answers(response):
    return sorted(rdata.to_text() for rrset in response.answer for rdata in rrset)


def wait_until(predicate, timeout, interval=0.1):
    """The first truthy value of predicate() within timeout seconds, or None."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, dns.exception.DNSException):
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)
