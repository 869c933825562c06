#!/usr/bin/python3
"""Hostile control input and operator mistakes, end to end against the real meridiand on loopback:
JSON nested millions deep on every route, $INCLUDE of server files (over the API and in a config
zone), slow-drip connections to the TCP control API while an honest client keeps calling, TLS on
the control API (a certificate made by openssl now, plain text refused, insecure listeners and
careless token files refused), a second instance on the same state database or pin directory
refused, an empty state database refused rather than seeded over, and a full disk answered 503.

Usage: hardening_e2e_test.py --meridiand PATH --meridianctl PATH [unittest args]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.client

import dns.message
import dns.query
import dns.rcode

import control_http
import meridiand_e2e_test as loopback

MERIDIANCTL = None
TOKEN = "hardening-e2e-token-0123456789"
SECRET_ENV = "MERIDIAN_E2E_SECRET"
SECRET = "s3cret-from-the-daemons-environment"


def udp_answers(daemon):
    q = dns.message.make_query("host.example.com.", "A")
    r = dns.query.udp(q, daemon.udp4[0], port=daemon.udp4[1], timeout=3)
    return r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def write_token(daemon, text=TOKEN + "\n", mode=0o600, name="token"):
    path = daemon.write_file(name, text)
    os.chmod(path, mode)
    return path


def start_fails(daemon, timeout=30):
    """Runs the daemon's config expecting a refusal; returns (exit status, stderr)."""
    proc = subprocess.run([loopback.MERIDIAND, "--config", daemon.config_path], timeout=timeout,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return proc.returncode, proc.stderr


def check_config(path):
    return subprocess.run([loopback.MERIDIAND, "--check-config", path], timeout=30,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)


# --- 1. JSON nested without bound --------------------------------------------------------------

# Every route of the control API, with the body kind it reads.
ROUTES = [
    ("POST", "/v1/zones"), ("POST", "/v1/zones/example.com/rrsets"), ("POST", "/v1/healthchecks"),
    ("PUT", "/v1/zones/example.com/import?format=route53-json"),
    ("PUT", "/v1/zones/example.com/import?format=rfc1035"),
    ("GET", "/v1/zones"), ("GET", "/v1/zones/example.com"), ("DELETE", "/v1/zones/nope.example"),
    ("GET", "/v1/zones/example.com/rrsets"), ("GET", "/v1/zones/example.com/export"),
    ("GET", "/v1/changes/C0"), ("GET", "/v1/healthchecks"), ("GET", "/v1/healthchecks/h0"),
    ("DELETE", "/v1/healthchecks/h0"), ("GET", "/v1/health"), ("GET", "/v1/status"),
    ("GET", "/v1/stats"), ("GET", "/metrics"), ("POST", "/v1/healthchecks/h0"),
    ("GET", "/v1/tags/hostedzone/example.com"), ("POST", "/v1/tags/hostedzone/example.com"),
]
JSON_ROUTES = {("POST", "/v1/zones"), ("POST", "/v1/zones/example.com/rrsets"),
               ("POST", "/v1/healthchecks"), ("POST", "/v1/healthchecks/h0"),
               ("POST", "/v1/tags/hostedzone/example.com")}


class NestedJsonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                             "file": "example.com.zone"}]).start()
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def bodies(self, depth):
        arrays = "[" * depth + "]" * depth
        # The body that crashed the daemon: a zone whose record sets are nested.
        zone = '{"Name": "deep.example", "ResourceRecordSets": ' + arrays + "}"
        if depth > 200000:
            return {"arrays": arrays, "zone": zone}
        return {"arrays": arrays, "zone": zone,
                "objects": '{"a":' * depth + "1" + "}" * depth,
                "batch": '{"Changes": [{"Action": "CREATE", "ResourceRecordSet": ' +
                         '{"x":' * depth + "1" + "}" * depth + "}]}"}

    def test_every_route_refuses_deep_nesting_and_serving_goes_on(self):
        for depth in (100000, 4000000):
            for kind, body in self.bodies(depth).items():
                for method, path in ROUTES:
                    with self.subTest(depth=depth, kind=kind, method=method, path=path):
                        r = control_http.request(method, path, body, unix=self.sock, timeout=60,
                                                 headers={"Content-Type": "application/json"})
                        self.assertLess(r.status, 500, r.body[:300])
                        if (method, path) in JSON_ROUTES or "route53-json" in path:
                            self.assertEqual(r.status, 400, r.body[:300])
                            self.assertIn("nested deeper than 64 levels", r.body)
                        self.assertIsNone(self.daemon.proc.poll(), self.daemon.log()[-2000:])
                        # Never the body echoed back.
                        self.assertNotIn("[" * 200, r.body)  # at most a short excerpt
                        self.assertNotIn('{"a":{"a":', r.body)
        self.assertTrue(udp_answers(self.daemon))
        self.assertEqual(control_http.request("GET", "/v1/zones", unix=self.sock).status, 200)
        # Nesting a real document needs stays accepted.
        ok = control_http.request("POST", "/v1/zones/example.com/rrsets", {"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {
                "Name": "nested-ok.example.com", "Type": "A", "TTL": 60,
                "ResourceRecords": [{"Value": "192.0.2.7"}]}}]}, unix=self.sock)
        self.assertEqual(ok.status, 200, ok.body)


# --- 2. $INCLUDE -------------------------------------------------------------------------------


class IncludeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ[SECRET_ENV] = SECRET  # the daemon inherits it: /proc/self/environ holds it
        cls.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                             "file": "example.com.zone"}]).start()
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")
        with open("/etc/hosts") as f:
            cls.hosts_words = {w for w in f.read().split() if len(w) > 6 and not w.startswith("#")}

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        os.environ.pop(SECRET_ENV, None)

    def assert_no_file_content(self, text):
        self.assertNotIn(SECRET, text)
        for word in self.hosts_words:
            self.assertNotIn(word, text)

    def test_zone_text_over_the_api_reads_no_files(self):
        head = "$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
        rss_before = rss_kib(self.daemon.proc.pid)
        for target in ("/etc/hosts", "/proc/self/environ", "/dev/zero", "example.com.zone"):
            text = head + f"$INCLUDE {target}\n"
            for method, path, body in (
                    ("PUT", "/v1/zones/example.com/import?format=rfc1035", text),
                    ("PUT", "/v1/zones/new.example/import?format=rfc1035", text),
                    ("POST", "/v1/zones", json.dumps({"Name": "other.example",
                                                      "ZoneFile": text}))):
                with self.subTest(target=target, path=path):
                    started = time.monotonic()
                    r = control_http.request(method, path, body, unix=self.sock, timeout=30)
                    self.assertLess(time.monotonic() - started, 5)
                    self.assertEqual(r.status, 400, r.body[:500])
                    self.assertIn("$INCLUDE is not accepted in zone text sent to the control API",
                                  r.body)
                    self.assert_no_file_content(r.body)
        self.assertLess(rss_kib(self.daemon.proc.pid) - rss_before, 64 * 1024)
        self.assertTrue(udp_answers(self.daemon))
        self.assertEqual(control_http.request("GET", "/v1/zones/other.example",
                                              unix=self.sock).status, 404)

    def test_config_zone_includes_stay_below_its_directory(self):
        d = tempfile.mkdtemp(prefix="meridian-include-e2e-")
        try:
            head = ("$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\n"
                    "ns1 A 192.0.2.1\n")
            os.makedirs(os.path.join(d, "parts"))
            with open(os.path.join(d, "parts", "hosts.inc"), "w") as f:
                f.write("www A 192.0.2.80\n")
            os.symlink("/etc/hosts", os.path.join(d, "parts", "escape.inc"))
            cases = {"parts/hosts.inc": None,
                     "/etc/hosts": "is not below the zone file's directory",
                     "/proc/self/environ": "is not below the zone file's directory",
                     "/dev/zero": "is not below the zone file's directory",
                     "../" + os.path.basename(d) + "/../../etc/hosts": "is not below",
                     "parts/escape.inc": "is not below"}
            for target, error in cases.items():
                with self.subTest(target=target):
                    with open(os.path.join(d, "example.org.zone"), "w") as f:
                        f.write(head + f"$INCLUDE {target}\n")
                    with open(os.path.join(d, "meridian.json"), "w") as f:
                        json.dump({"listen": ["127.0.0.1:0"], "state": {"database": None},
                                   "control": {"socket": None},
                                   "zones": [{"origin": "example.org.", "format": "rfc1035",
                                              "file": "example.org.zone"}]}, f)
                    proc = check_config(os.path.join(d, "meridian.json"))
                    out = proc.stdout + proc.stderr
                    if error is None:
                        self.assertEqual(proc.returncode, 0, out)
                    else:
                        self.assertEqual(proc.returncode, 1, out)
                        self.assertIn(error, out)
                        self.assertIn("example.org.zone:6", out)
                        self.assert_no_file_content(out)
        finally:
            shutil.rmtree(d, ignore_errors=True)


# --- 4. slow clients on the TCP control API ---------------------------------------------------


class ControlSlowClientTest(unittest.TestCase):
    ATTACK_NETWORKS = 24  # /24s of 127.2.0.0/16, each up to its per-source cap
    PER_NETWORK = 4
    SECONDS = 8

    @classmethod
    def setUpClass(cls):
        cls.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                             "file": "example.com.zone"}])
        write_token(cls.daemon)
        cls.daemon.config["control"] = {
            "socket": "control.sock", "listen": "127.0.0.1:0", "token_file": "token",
            "max_connections": 16, "max_connections_per_source": cls.PER_NETWORK,
            "request_timeout_ms": 2000}
        cls.daemon.write_config(cls.daemon.config)
        cls.daemon.start()
        line = cls.daemon.wait_for_line("control API on", 0)
        cls.tcp = ("127.0.0.1", int(re.search(r"tcp 127\.0\.0\.1:(\d+)", line).group(1)))

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def drip(self, source, stop, stats):
        """One slow client: a request sent a byte a second, reconnecting whenever closed."""
        request = b"POST /v1/zones HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"{" * 100
        while not stop.is_set():
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(2)
                s.bind((source, 0))
                s.connect(self.tcp)
                stats["connected"] += 1
                for byte in request:
                    if stop.is_set():
                        break
                    s.sendall(bytes([byte]))
                    if stop.wait(1.0):
                        break
                    # Closed by the server (shutdown): the next send or a recv says so.
                    s.setblocking(False)
                    try:
                        if s.recv(1) == b"":
                            stats["closed"] += 1
                            break
                    except BlockingIOError:
                        pass
                    finally:
                        s.setblocking(True)
            except OSError:
                stats["closed"] += 1
                stop.wait(0.1)
            finally:
                s.close()

    def test_slow_drip_never_locks_out_an_honest_client(self):
        stop = threading.Event()
        stats = {"connected": 0, "closed": 0}
        threads = []
        for n in range(self.ATTACK_NETWORKS):
            for k in range(self.PER_NETWORK + 2):  # two over the cap per network
                t = threading.Thread(target=self.drip, args=(f"127.2.{n}.{k + 1}", stop, stats))
                t.start()
                threads.append(t)
        honest = {"ok": 0, "failed": []}
        try:
            time.sleep(1.5)  # the attack fills the table first
            deadline = time.monotonic() + self.SECONDS
            while time.monotonic() < deadline:
                try:
                    r = control_http.request("GET", "/v1/zones", tcp=self.tcp, token=TOKEN,
                                             timeout=3)
                    if r.status == 200:
                        honest["ok"] += 1
                    else:
                        honest["failed"].append(r.status)
                except OSError as e:
                    honest["failed"].append(repr(e))
                time.sleep(0.2)
            proc = subprocess.run([MERIDIANCTL, "zones", "list", "--url",
                                   f"http://127.0.0.1:{self.tcp[1]}", "--token-file",
                                   os.path.join(self.daemon.dir, "token")],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 0, proc.stderr)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(honest["failed"], [], honest)
        self.assertGreater(honest["ok"], 20)
        guard = self.guard_metrics()
        print(f"\nhonest calls: {honest['ok']} answered, {len(honest['failed'])} failed; attack: "
              f"{stats['connected']} connections, {stats['closed']} closed on it; guard: {guard}")
        for outcome in ("refused", "evicted"):
            self.assertGreater(guard.get(outcome, 0), 0, guard)
        # The attack was real: far more connections than slots, and the guard closed them.
        self.assertGreater(stats["connected"], 16 * 2, stats)
        self.assertGreater(stats["closed"], 16, stats)
        self.assertTrue(udp_answers(self.daemon))

    def guard_metrics(self):
        metrics = control_http.request("GET", "/metrics", unix=os.path.join(self.daemon.dir,
                                                                           "control.sock")).body
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'meridian_control_connections_total\{outcome="(\w+)"\} (\d+)', metrics)}

    def test_a_request_dripped_slower_than_the_deadline_is_cut_off(self):
        before = self.guard_metrics().get("timed_out", 0)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.4.0.1", 0))
        s.connect(self.tcp)
        started = time.monotonic()
        closed_after = None
        try:
            for byte in b"GET /v1/zones HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 40:
                try:
                    s.sendall(bytes([byte]))
                    s.settimeout(0.5)
                    if s.recv(1) == b"":
                        closed_after = time.monotonic() - started
                        break
                except socket.timeout:
                    pass  # still open: the next byte
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                if time.monotonic() - started > 8:
                    break
        finally:
            s.close()
        # request_timeout_ms is 2000; the watchdog looks every 200 ms.
        self.assertIsNotNone(closed_after, "a byte every 0.5 s kept the connection for 8 s")
        self.assertGreater(closed_after, 1.5)
        self.assertLess(closed_after, 3.5)
        self.assertEqual(self.guard_metrics().get("timed_out", 0), before + 1)


# --- 5. TLS and the token ---------------------------------------------------------------------


class ControlTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                             "file": "example.com.zone"}])
        d = cls.daemon.dir
        cls.cert = os.path.join(d, "cert.pem")
        cls.key = os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", cls.key, "-out", cls.cert,
                        "-days", "1", "-subj", "/CN=meridian-e2e",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        os.chmod(cls.key, 0o600)
        cls.token_file = write_token(cls.daemon)
        cls.daemon.config["control"] = {
            "socket": "control.sock", "listen": "127.0.0.1:0", "token_file": "token",
            "tls": {"certificate": "cert.pem", "key": "key.pem"}}
        cls.daemon.write_config(cls.daemon.config)
        cls.daemon.start()
        line = cls.daemon.wait_for_line("control API on", 0)
        assert "(TLS, token)" in line, line
        cls.port = int(re.search(r"tcp 127\.0\.0\.1:(\d+)", line).group(1))

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_https_with_the_ca_works_and_plain_text_is_refused(self):
        context = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=10)
        conn.request("GET", "/v1/zones", headers={"Authorization": "Bearer " + TOKEN})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read())["HostedZones"][0]["Name"], "example.com.")
        conn.close()
        url = f"https://127.0.0.1:{self.port}"
        proc = subprocess.run([MERIDIANCTL, "zones", "list", "--url", url, "--cacert", self.cert,
                               "--token-file", self.token_file],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("example.com.", proc.stdout)
        # Without the CA the daemon's certificate is not trusted: no token is sent.
        proc = subprocess.run([MERIDIANCTL, "zones", "list", "--url", url,
                               "--token-file", self.token_file],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        # Plain HTTP to the TLS port gets no HTTP answer, and the token is not accepted.
        out = control_http.raw_exchange(
            b"GET /v1/zones HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
            b"\r\n\r\n", tcp=("127.0.0.1", self.port), timeout=3)
        self.assertFalse(out.startswith(b"HTTP/"), out[:100])
        self.assertNotIn(b"HostedZones", out)
        self.assertTrue(udp_answers(self.daemon))

    def config_with(self, control, token_text=TOKEN + "\n", token_mode=0o600, key_mode=0o600):
        d = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                    "file": "example.com.zone"}])
        write_token(d, token_text, token_mode)
        shutil.copy(self.cert, os.path.join(d.dir, "cert.pem"))
        shutil.copy(self.key, os.path.join(d.dir, "key.pem"))
        os.chmod(os.path.join(d.dir, "key.pem"), key_mode)
        d.config["control"] = dict({"socket": "control.sock", "token_file": "token"}, **control)
        d.write_config(d.config)
        return d

    def test_careless_settings_are_refused_with_the_reason(self):
        tls = {"certificate": "cert.pem", "key": "key.pem"}
        cases = [
            ("plain TCP on a non-loopback address", {"listen": "0.0.0.0:0"}, {},
             "needs \"tls\""),
            ("token readable by others", {"listen": "127.0.0.1:0"}, {"token_mode": 0o644},
             "chmod 600"),
            ("token readable by the group", {"listen": "127.0.0.1:0"}, {"token_mode": 0o640},
             "lets other users read or change it"),
            ("blank token", {"listen": "127.0.0.1:0"}, {"token_text": "   \n"}, "it is blank"),
            ("short token", {"listen": "127.0.0.1:0"}, {"token_text": "short-token\n"},
             "at least 16 characters"),
            ("TLS key readable by others", {"listen": "127.0.0.1:0", "tls": tls},
             {"key_mode": 0o644}, "control TLS key: mode 0644"),
        ]
        for name, control, files, needle in cases:
            with self.subTest(name):
                d = self.config_with(control, **files)
                try:
                    status, err = start_fails(d)
                    self.assertEqual(status, 1, err)
                    self.assertIn(needle, err)
                    self.assertNotIn(TOKEN, err)
                finally:
                    d.stop()

    def test_insecure_listener_is_allowed_with_a_warning_at_each_start(self):
        d = self.config_with({"listen": "0.0.0.0:0", "insecure": True})
        try:
            proc = check_config(d.config_path)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            d.start()
            self.assertIsNotNone(d.wait_for_line("without TLS (\"insecure\": true)", 5), d.log())
        finally:
            d.stop()


# --- 6. a second instance ---------------------------------------------------------------------


class SecondInstanceTest(unittest.TestCase):
    def test_same_state_database_is_refused_naming_the_pid(self):
        first = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                        "file": "example.com.zone"}]).start()
        second = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                         "file": "example.com.zone"}])
        try:
            second.config["state"] = {"database": os.path.join(first.dir, "state.db")}
            second.write_config(second.config)
            status, err = start_fails(second)
            self.assertEqual(status, 1, err)
            self.assertIn(f"state database is in use by meridiand (pid {first.proc.pid})", err)
            self.assertIsNone(first.proc.poll())
            self.assertTrue(udp_answers(first))
            # A killed owner leaves no lock behind: the next instance starts.
            first.proc.kill()
            first.proc.wait(10)
            second.start()
            self.assertTrue(udp_answers(second))
        finally:
            second.stop()
            first.stop()

    def test_same_pin_directory_is_refused_naming_the_pid(self):
        if os.geteuid() != 0:
            self.skipTest("pin directories in bpffs need root")
        pin_dir = f"/sys/fs/bpf/meridian-lock-e2e-{os.getpid()}"
        # An interface that does not exist: the fast path fails and userspace serves, but the
        # pin directory is this instance's all the same.
        xdp = {"interfaces": ["mdnlock0"], "mode": "generic", "pin_dir": pin_dir}
        daemons = []
        try:
            for _ in range(2):
                d = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                            "file": "example.com.zone"}])
                d.config["xdp"] = xdp
                d.write_config(d.config)
                daemons.append(d)
            daemons[0].start()
            status, err = start_fails(daemons[1])
            self.assertEqual(status, 1, err)
            self.assertIn(f"XDP pin directory is in use by meridiand (pid {daemons[0].proc.pid})",
                          err)
            self.assertTrue(udp_answers(daemons[0]))
        finally:
            for d in daemons:
                d.stop()
            shutil.rmtree(pin_dir, ignore_errors=True)
            if os.path.isdir(pin_dir):
                for name in os.listdir(pin_dir):
                    os.unlink(os.path.join(pin_dir, name))
                os.rmdir(pin_dir)


# --- 8, 9. the state database -----------------------------------------------------------------


class StateDatabaseTest(unittest.TestCase):
    def test_empty_database_file_is_refused_not_seeded(self):
        d = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                    "file": "example.com.zone"}])
        try:
            db = d.write_file("state.db", "")
            status, err = start_fails(d)
            self.assertEqual(status, 1, err)
            self.assertIn("exists but holds no meridiand schema (0 bytes)", err)
            self.assertIn(f"mv {db} {db}.broken", err)
            self.assertEqual(os.path.getsize(db), 0)
            # Moved aside as the message says, the daemon seeds a new one.
            os.rename(db, db + ".broken")
            d.start()
            self.assertTrue(udp_answers(d))
        finally:
            d.stop()

    def test_full_disk_is_503_logged_and_counted_and_nothing_is_lost(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        mnt = tempfile.mkdtemp(prefix="meridian-full-e2e-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], check=True)
        d = loopback.Daemon(zones=[{"origin": "example.com.", "format": "rfc1035",
                                    "file": "example.com.zone"}])
        try:
            d.config["state"] = {"database": os.path.join(mnt, "state.db")}
            d.write_config(d.config)
            d.start()
            sock = os.path.join(d.dir, "control.sock")

            def batch(prefix, count):
                return {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                    "Name": f"{prefix}{i}.example.com", "Type": "TXT", "TTL": 60,
                    "ResourceRecords": [{"Value": '"' + "x" * 200 + '"'}]}}
                    for i in range(count)]}

            self.assertEqual(control_http.request("POST", "/v1/zones/example.com/rrsets",
                                                  batch("before", 5), unix=sock).status, 200)
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            r = control_http.request("POST", "/v1/zones/example.com/rrsets", batch("full", 2000),
                                     unix=sock, timeout=60)
            self.assertEqual(r.status, 503, r.body[:500])
            self.assertEqual(r.json()["Error"]["Code"], "ServiceUnavailable")
            self.assertIn("full", r.body)
            self.assertIsNotNone(d.wait_for_line("state database write failed", 5), d.log())
            metrics = control_http.request("GET", "/metrics", unix=sock).body
            self.assertRegex(metrics, r"(?m)^meridian_state_write_errors_total 1$")
            self.assertTrue(udp_answers(d))
            # Nothing of the refused batch is served; room again, the same batch goes in.
            q = dns.message.make_query("full0.example.com.", "TXT")
            r = dns.query.udp(q, d.udp4[0], port=d.udp4[1], timeout=3)
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
            os.unlink(filler)
            r = control_http.request("POST", "/v1/zones/example.com/rrsets", batch("full", 50),
                                     unix=sock, timeout=60)
            self.assertEqual(r.status, 200, r.body[:500])
        finally:
            d.stop()
            subprocess.run(["umount", mnt], check=False)
            os.rmdir(mnt)


def main():
    global MERIDIANCTL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meridiand", required=True)
    parser.add_argument("--meridianctl", required=True)
    args, rest = parser.parse_known_args()
    loopback.MERIDIAND = os.path.abspath(args.meridiand)
    MERIDIANCTL = os.path.abspath(args.meridianctl)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
