"""A real etcd cluster for the fleet tests: 1 or 3 members on 127.0.0.1, ports the kernel picks,
data in a temp dir, optionally TLS with client certificates made by openssl at test time.

    from etcd_cluster import EtcdCluster

    cluster = EtcdCluster(size=3, tls=False)   # etcd/etcdctl from PATH (or etcd=, etcdctl=)
    cluster.start()                # all members, waits until every one is healthy
    cluster.client_urls            # ["http://127.0.0.1:PORT", ...] (https:// with tls)
    cluster.endpoints              # the same, comma separated (meridianctl --endpoints)
    cluster.leader_index()         # index of the member that leads now (None: no leader)
    cluster.kill(i)                # SIGKILL member i (by its pid); its data dir stays
    cluster.terminate(i)           # SIGTERM member i and wait
    cluster.restart(i)             # start member i again on the same data dir and ports
    cluster.wait_healthy([i, ...]) # wait until these members (default: all running) are healthy
    cluster.etcdctl("get", "--prefix", "/meridian/")   # CompletedProcess; TLS flags added
    cluster.log(i)                 # member i's output, for a failure message
    cluster.stop()                 # kill every member, remove the temp dir

    with EtcdCluster(size=1) as cluster: ...   # start() and stop()

With tls=True every client URL is https only and needs a client certificate
(--client-cert-auth); the files are in the cluster's temp dir:
    cluster.ca_file, cluster.client_cert, cluster.client_key
(peers talk plain http on loopback). The server certificate has both serverAuth and clientAuth
(etcd's gRPC gateway presents it to etcd's own gRPC server).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

START_TIMEOUT_S = 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, in PEM files
    under `directory`; returns (ca, server_cert, server_key, client_cert, client_key)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=meridian test CA", cwd=directory)
    for name, cn, usage, san in (
            ("server", "etcd", "serverAuth,clientAuth", "IP:127.0.0.1,DNS:localhost"),
            ("client", "meridian-edge", "clientAuth", None)):
        _openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
                 cwd=directory)
        ext = "extendedKeyUsage=" + usage + "\n"
        if san:
            ext += "subjectAltName=" + san + "\n"
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write(ext)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem",
                 cwd=directory)
    for name in ("ca.key", "server.key", "client.key"):
        os.chmod(os.path.join(directory, name), 0o600)
    return tuple(os.path.join(directory, n) for n in
                 ("ca.pem", "server.pem", "server.key", "client.pem", "client.key"))


class EtcdCluster:
    def __init__(self, size=3, tls=False, etcd="etcd", etcdctl="etcdctl"):
        if size < 1:
            raise ValueError("an etcd cluster has at least one member")
        self.size = size
        self.tls = tls
        self.etcd = etcd
        self.etcdctl_path = etcdctl
        self.dir = tempfile.mkdtemp(prefix="meridian-etcd-")
        self.client_ports = [free_port() for _ in range(size)]
        self.peer_ports = [free_port() for _ in range(size)]
        scheme = "https" if tls else "http"
        self.client_urls = [f"{scheme}://127.0.0.1:{p}" for p in self.client_ports]
        self.peer_urls = [f"http://127.0.0.1:{p}" for p in self.peer_ports]
        self.procs = [None] * size
        self.ca_file = self.client_cert = self.client_key = None
        self._server_cert = self._server_key = None
        if tls:
            (self.ca_file, self._server_cert, self._server_key, self.client_cert,
             self.client_key) = make_certificates(self.dir)
        self._token = "meridian-test-" + uuid.uuid4().hex[:12]

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoints(self):
        return ",".join(self.client_urls)

    def _argv(self, i):
        initial = ",".join(f"m{j}={self.peer_urls[j]}" for j in range(self.size))
        argv = [self.etcd, "--name", f"m{i}", "--data-dir", os.path.join(self.dir, f"m{i}"),
                "--listen-client-urls", self.client_urls[i],
                "--advertise-client-urls", self.client_urls[i],
                "--listen-peer-urls", self.peer_urls[i],
                "--initial-advertise-peer-urls", self.peer_urls[i],
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", self._token, "--logger", "zap", "--log-level", "warn"]
        if self.tls:
            argv += ["--cert-file", self._server_cert, "--key-file", self._server_key,
                     "--trusted-ca-file", self.ca_file, "--client-cert-auth"]
        return argv

    def _spawn(self, i):
        log = open(os.path.join(self.dir, f"m{i}.log"), "ab")
        try:
            self.procs[i] = subprocess.Popen(self._argv(i), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT)
        finally:
            log.close()

    def start(self, timeout=START_TIMEOUT_S):
        """Starts every member (together: they elect a leader among themselves) and waits until
        each one is healthy."""
        for i in range(self.size):
            self._spawn(i)
        self.wait_healthy(timeout=timeout)
        return self

    def running(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def kill(self, i):
        """SIGKILL member i by its pid and reap it; its data dir is kept for restart(i)."""
        p = self.procs[i]
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)

    def terminate(self, i, timeout=10):
        p = self.procs[i]
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(i)

    def restart(self, i, timeout=START_TIMEOUT_S, wait=True):
        """Starts member i again with the same data dir and ports (kills it first if it runs).
        With wait, returns once it is healthy (it needs a quorum for that)."""
        self.kill(i)
        self._spawn(i)
        if wait:
            self.wait_healthy([i], timeout=timeout)

    def stop(self):
        for i in range(self.size):
            self.kill(i)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- etcdctl ---------------------------------------------------------------------------

    def etcdctl(self, *args, endpoints=None, timeout=30, check=False, cert=True):
        """etcdctl with this cluster's endpoints (default: all) and, with tls, the CA and (unless
        cert=False) the client certificate."""
        argv = [self.etcdctl_path, "--endpoints", ",".join(endpoints or self.client_urls),
                "--dial-timeout", "2s", "--command-timeout", "5s"]
        if self.tls:
            argv += ["--cacert", self.ca_file]
            if cert:
                argv += ["--cert", self.client_cert, "--key", self.client_key]
        env = dict(os.environ, ETCDCTL_API="3")
        return subprocess.run(argv + list(args), env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=check)

    def healthy(self, i):
        return self.etcdctl("endpoint", "health", endpoints=[self.client_urls[i]]).returncode == 0

    def wait_healthy(self, indexes=None, timeout=START_TIMEOUT_S):
        """Waits until each member of `indexes` (default: every running one) answers `etcdctl
        endpoint health`; raises AssertionError with their logs otherwise."""
        if indexes is None:
            indexes = [i for i in range(self.size) if self.running(i)]
        deadline = time.monotonic() + timeout
        pending = list(indexes)
        while pending:
            for i in list(pending):
                if not self.running(i):
                    raise AssertionError(f"etcd member {i} exited:\n" + self.log(i))
                if self.healthy(i):
                    pending.remove(i)
            if pending and time.monotonic() > deadline:
                raise AssertionError(f"etcd members {pending} not healthy after {timeout} s:\n" +
                                     "\n".join(self.log(i) for i in pending))
            if pending:
                time.sleep(0.2)

    def leader_index(self):
        """The index of the member leading now, from `etcdctl endpoint status -w json` over the
        running members; None when none of them knows a leader."""
        running = [i for i in range(self.size) if self.running(i)]
        if not running:
            return None
        r = self.etcdctl("endpoint", "status", "-w", "json",
                         endpoints=[self.client_urls[i] for i in running])
        try:
            statuses = json.loads(r.stdout)
        except ValueError:
            return None
        for s in statuses:
            st = s.get("Status", {})
            if st.get("leader") and st.get("header", {}).get("member_id") == st["leader"]:
                return self.client_urls.index(s["Endpoint"])
        return None

    def log(self, i):
        try:
            with open(os.path.join(self.dir, f"m{i}.log"), errors="replace") as f:
                return f"--- etcd member {i} ---\n" + f.read()[-4000:]
        except OSError:
            return f"--- etcd member {i}: no log ---"
