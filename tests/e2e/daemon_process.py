"""A meridiand process for end-to-end tests: a private temp dir for its files, stderr collected by
a reader thread so tests can wait for log lines, and a bounded stop. The loopback tests and the
namespace tests subclass it with their own command line and config.

Log lines are whole: the reader splits the byte stream at b"\n" only (no text-mode newline
translation, which would also split at a carriage return), so a test never sees part of a line,
however the daemon's writes were cut up on a loaded machine. Only a last line the daemon never
ended (it died mid-write) is kept as it is."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

# The line meridiand logs once it serves; it names every listen address and ends the line.
READY_NEEDLE = "meridiand ready: listening on "


class DaemonProcess:
    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.proc = None
        self.reader = None
        self.lines = []
        self.cond = threading.Condition()

    def write_file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)  # atomic: a reload never reads half a file
        return path

    def spawn(self, argv, ready_needle, timeout):
        """Starts argv and waits for a log line containing ready_needle; returns that line."""
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        line = self.wait_for_line(ready_needle, timeout)
        if line is None:
            log = self.log()
            self.stop()
            raise AssertionError("meridiand did not become ready:\n" + log)
        return line

    def _read_stderr(self):
        pending = b""
        while True:
            chunk = os.read(self.proc.stderr.fileno(), 65536)
            if not chunk:
                break
            *whole, pending = (pending + chunk).split(b"\n")
            if whole:
                self._add_lines(whole)
        self._add_lines([pending] if pending else [])

    def _add_lines(self, raw_lines):
        with self.cond:
            self.lines.extend(line.decode("utf-8", "replace") for line in raw_lines)
            self.cond.notify_all()

    def wait_for_line(self, needle, timeout, start=0):
        """The first log line at index >= start containing needle, or None after timeout (or once
        the daemon has exited and its log is complete)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if needle in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.reader.is_alive():
                    return None
                self.cond.wait(min(remaining, 0.2))

    def log(self):
        with self.cond:
            return "\n".join(self.lines)

    def line_count(self):
        with self.cond:
            return len(self.lines)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def terminate(self, timeout=15):
        """SIGTERM and wait; returns the exit status (fails the test if it does not stop)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("meridiand did not stop on SIGTERM:\n" + self.log())
        self.reader.join(5)
        return status

    def stop(self, timeout=15):
        """Stops the process if it runs (SIGTERM, then SIGKILL) and removes the temp dir."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc:
            self.reader.join(5)
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
