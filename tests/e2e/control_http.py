"""HTTP to meridiand's control API from the tests: over its Unix socket (no token) or over TCP
with a bearer token, with the raw status, headers and body kept (no client-side retries)."""

import http.client
import json
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(method, path, body=None, unix=None, tcp=None, token=None, headers=None, timeout=10):
    """One request; `unix` is a socket path, `tcp` a (host, port). Raises OSError when no HTTP
    answer comes (refused, reset, timeout)."""
    conn = UnixHTTPConnection(unix, timeout) if unix else http.client.HTTPConnection(
        tcp[0], tcp[1], timeout=timeout)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Response(r.status, dict(r.getheaders()), r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def raw_exchange(data, unix=None, tcp=None, timeout=5):
    """Writes raw bytes and returns whatever comes back before the server closes or the timeout
    (for malformed requests no HTTP library would send)."""
    if unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(unix)
    else:
        s = socket.create_connection(tcp, timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()
