"""DNS over TCP framing for the end-to-end tests (RFC 7766): the two-byte length prefix, and
reading exactly one message however the bytes arrive."""

import struct

import dns.message


def frame(message):
    wire = message.to_wire()
    return struct.pack("!H", len(wire)) + wire


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_message(sock):
    (length,) = struct.unpack("!H", recv_exact(sock, 2))
    return dns.message.from_wire(recv_exact(sock, length))
