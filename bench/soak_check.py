#!/usr/bin/python3
"""Soak helpers for bench/soak.sh: the answer checker, the memory sampler and the summaries.

  soak_check.py check --server4 A --server6 A --duration S --rate Q --timeout T --events FILE
                      --gen-base N --geoip yes|no --out FILE.json
      Sends its own queries for S seconds at Q per second (IPv4 and IPv6, with and without EDNS,
      with ECS for the geolocation name) and checks every reply against the set of answers the
      soak zone allows at any moment of the run. Writes counts and the first wrong replies.
  soak_check.py mem --pid PID --pin-dir DIR
      One JSON line: meridiand's VmRSS, the BPF maps it holds open (count and memlock) and the
      maps the fast path can reach (pinned maps plus the inner maps installed in them).
  soak_check.py report --samples FILE --warmup S --max-rss-kib-per-min K --max-map-growth-kib K
      The memory series summary; exit status 1 when memory is not flat.
  soak_check.py stats --before FILE --after FILE
      The fast path's counter deltas (meridianctl stats --json before and after).
"""

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

# The soak zone's allowed answers (bench/soak.sh writes the zone; keep the two in step).
ZONE = "soak.example."
STATIC_A = ({"198.18.10.1"}, {"198.18.10.2"})  # alternates with every reload
MULTI_A = {"198.18.11.1", "198.18.11.2", "198.18.11.3", "198.18.11.4"}
STATIC_AAAA = {"fd00:18::10"}
PRIMARY, SECONDARY = "198.18.1.10", "198.18.2.10"  # failover: primary has the backend's check
WEIGHTED = ({"198.18.3.1"}, {"198.18.3.2", "198.18.3.3"}, {"198.18.3.4"})  # 3rd: backend check
GEO_NA, GEO_EU, GEO_DEFAULT = "198.18.4.1", "198.18.4.2", "198.18.4.9"  # NA has the backend check
ECS_US, ECS_NL = "8.8.8.0", "193.0.0.0"  # only data inside the query: nothing is sent there

# A health transition takes effect within RequestInterval x FailureThreshold (1 s) plus the probe
# (refused at once on a stopped local backend); answers later than this after a flap must follow.
HEALTH_GRACE_S = 3.0


def queries():
    """(label, qname, qtype, ecs) in the order the checker cycles through them."""
    return [
        ("static A", "static." + ZONE, "A", None),
        ("multi A", "multi." + ZONE, "A", None),
        ("static AAAA", "static." + ZONE, "AAAA", None),
        ("gen TXT", "gen." + ZONE, "TXT", None),
        ("SOA", ZONE, "SOA", None),
        ("failover A", "app." + ZONE, "A", None),
        ("weighted A", "www." + ZONE, "A", None),
        ("geo A", "geo." + ZONE, "A", None),
        ("geo A ECS US", "geo." + ZONE, "A", ECS_US),
        ("geo A ECS NL", "geo." + ZONE, "A", ECS_NL),
        ("NXDOMAIN", "nope." + ZONE, "A", None),
    ]


class Events:
    """The backend's flaps, appended by soak.sh as "EPOCH changing|up|down" lines."""

    def __init__(self, path):
        self.path = path
        self.events = []
        self.loaded_at = 0.0

    def refresh(self, now):
        if now - self.loaded_at < 0.2:
            return
        self.loaded_at = now
        try:
            with open(self.path) as f:
                rows = [line.split() for line in f if line.strip()]
            # "changing" is written before the backend is started or stopped, "up"/"down" once
            # it is: between the two the health checker may see either.
            self.events = [(float(t), {"up": True, "down": False}.get(state))
                           for t, state in rows]
        except (OSError, ValueError):
            pass

    def settled_state(self, sent, received):
        """True/False: the backend was up/down for the whole of [sent - grace, received];
        None while a flap is under way or recent enough that either answer is right."""
        state = None
        for t, up in self.events:
            if t <= sent - HEALTH_GRACE_S:
                state = up
            elif t <= received:
                return None
        return state


class Checker:
    def __init__(self, args):
        self.args = args
        self.events = Events(args.events)
        self.counts = {"sent": 0, "answered": 0, "wrong": 0, "lost": 0, "late_health": 0,
                       "gen_regressions": 0, "id_mismatch": 0}
        self.per_label = {}
        self.examples = []
        self.weighted = [0, 0, 0]
        self.failover = {PRIMARY: 0, SECONDARY: 0}
        self.latencies = []
        self.late_since = []  # seconds between the flap and each late health answer
        self.health_answers = []  # failover, weighted and geolocation answers that follow health
        # (qname, qtype) -> (receive time, generation) of the newest generation seen, so a
        # query sent after that answer arrived must not see an older one.
        self.last_gen = {}

    def wrong(self, label, why, reply=None):
        self.counts["wrong"] += 1
        self.per_label.setdefault(label, {"wrong": 0, "lost": 0})["wrong"] += 1
        if len(self.examples) < 10:
            self.examples.append({"query": label, "why": why,
                                  "reply": reply.to_text() if reply is not None else None})

    def generation(self, key, gen, sent, received, label, reply):
        last = self.last_gen.get(key)
        if last and sent > last[0] and gen < last[1]:
            self.counts["gen_regressions"] += 1
            self.wrong(label, f"generation {gen} after {last[1]} was answered", reply)
        if not last or gen > last[1]:
            self.last_gen[key] = (received, gen)

    def check(self, q, reply, sent, received):
        label, qname, qtype, ecs = q
        if reply.rcode() != (dns.rcode.NXDOMAIN if label == "NXDOMAIN" else dns.rcode.NOERROR):
            return self.wrong(label, "rcode " + dns.rcode.to_text(reply.rcode()), reply)
        if not reply.flags & dns.flags.AA or reply.flags & dns.flags.TC:
            return self.wrong(label, "flags " + dns.flags.to_text(reply.flags), reply)
        if len(reply.question) != 1 or reply.question[0].name.to_text().lower() != qname or \
                dns.rdatatype.to_text(reply.question[0].rdtype) != qtype:
            return self.wrong(label, "question differs", reply)
        rrsets = [r for r in reply.answer]
        if label == "NXDOMAIN":
            if rrsets or [r.rdtype for r in reply.authority] != [dns.rdatatype.SOA]:
                return self.wrong(label, "NXDOMAIN without exactly the SOA in authority", reply)
            return None
        if len(rrsets) != 1 or rrsets[0].name.to_text().lower() != qname or \
                dns.rdatatype.to_text(rrsets[0].rdtype) != qtype:
            return self.wrong(label, "answer is not one RRset of the question", reply)
        values = {r.to_text() for r in rrsets[0]}
        if len(values) != len(rrsets[0]):
            return self.wrong(label, "duplicate records", reply)
        key = (qname, qtype)
        if label == "static A":
            ok = values in STATIC_A
        elif label == "multi A":
            ok = values == MULTI_A
        elif label == "static AAAA":
            ok = values == STATIC_AAAA
        elif label == "gen TXT":
            ok = len(values) == 1 and next(iter(values)).startswith('"gen=')
            if ok:
                self.generation(key, int(next(iter(values))[5:-1]), sent, received, label, reply)
        elif label == "SOA":
            serial = rrsets[0][0].serial
            ok = serial >= self.args.gen_base
            if ok:
                self.generation(key, serial - self.args.gen_base, sent, received, label, reply)
        elif label == "failover A":
            ok = values in ({PRIMARY}, {SECONDARY})
            if ok:
                self.failover[next(iter(values))] += 1
                self.health_follows(label, values == {PRIMARY}, sent, received, reply)
        elif label == "weighted A":
            ok = values in WEIGHTED
            if ok:
                self.weighted[WEIGHTED.index(values)] += 1
                # The third set is checked against the backend: never chosen while it is down
                # (the other two are healthy, so there is no fail open).
                if values == WEIGHTED[2]:
                    self.health_follows(label, True, sent, received, reply, only_if_down=True)
        elif label == "geo A":
            # The client's own address (198.18.0.2) is in no GeoIP network: the "*" set.
            ok = values == {GEO_DEFAULT}
        elif label == "geo A ECS US":
            if self.args.geoip == "yes":
                ok = values in ({GEO_NA}, {GEO_DEFAULT})
                if ok:
                    self.health_follows(label, values == {GEO_NA}, sent, received, reply)
            else:
                ok = values == {GEO_DEFAULT}
        elif label == "geo A ECS NL":
            ok = values == ({GEO_EU} if self.args.geoip == "yes" else {GEO_DEFAULT})
        else:
            ok = False
        if not ok:
            self.wrong(label, "answer outside the allowed set: " + " ".join(sorted(values)), reply)

    def health_follows(self, label, says_up, sent, received, reply, only_if_down=False):
        """Kept for judge_health, which runs at the end, when every flap is in the events file
        (one written just before this reply arrived may not have been read yet)."""
        answer = " ".join(sorted(r.to_text() for r in reply.answer[0]))  # not the whole reply
        self.health_answers.append((label, says_up, sent, received, answer, only_if_down))

    def judge_health(self):
        self.events.refresh(time.time() + 1)
        for answer in self.health_answers:
            self.judge_one(*answer)

    def judge_one(self, label, says_up, sent, received, answer, only_if_down):
        """A health-dependent answer that contradicts a settled backend state: counted apart
        from the wrong answers (it is allowed, just late)."""
        state = self.events.settled_state(sent, received)
        if state is None or state == says_up or (only_if_down and state):
            return
        self.counts["late_health"] += 1
        since = sent - max(t for t, _ in self.events.events if t <= sent)
        self.late_since.append(since)
        if len(self.examples) < 10:
            self.examples.append({"query": label, "why": "late health: backend settled " +
                                  ("up" if state else "down") + f" {since:.1f}s before the query "
                                  f"(at {time.strftime('%H:%M:%S', time.gmtime(sent))} UTC)",
                                  "reply": answer})

    def make(self, q, v6, edns):
        label, qname, qtype, ecs = q
        if ecs:
            msg = dns.message.make_query(qname, qtype, use_edns=0, payload=1232,
                                         options=[dns.edns.ECSOption(ecs, 24)])
        else:
            msg = dns.message.make_query(qname, qtype, use_edns=0 if edns else False,
                                         payload=1232)
        msg.flags &= ~dns.flags.RD
        return msg

    def run(self):
        args = self.args
        socks = {False: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                 True: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)}
        for s in socks.values():
            s.setblocking(False)
        dest = {False: (args.server4, 53), True: (args.server6, 53)}
        qs = queries()
        n = len(qs)
        outstanding = {}  # (v6, id) -> (query, message, sent time)
        start = time.time()
        end = start + args.duration
        interval = 1.0 / args.rate
        k = 0
        next_send = start
        while True:
            now = time.time()
            self.events.refresh(now)
            if now < end and now >= next_send:
                q = qs[k % n]
                v6 = (k // n) % 2 == 1
                edns = (k // (2 * n)) % 2 == 1
                msg = self.make(q, v6, edns)
                msg.id = k & 0xFFFF
                key = (v6, msg.id)
                if key in outstanding:  # 65,536 queries in flight cannot happen at this rate
                    self.lost(outstanding.pop(key)[0])
                try:
                    socks[v6].sendto(msg.to_wire(), dest[v6])
                    outstanding[key] = (q, msg, now)
                    self.counts["sent"] += 1
                except OSError:
                    self.counts["sent"] += 1
                    self.lost(q)
                k += 1
                next_send += interval
                if next_send < now - 1.0:  # fell behind (host busy): do not burst to catch up
                    next_send = now
            for key in [key for key, (_, _, t) in outstanding.items() if now - t > args.timeout]:
                self.lost(outstanding.pop(key)[0])
            if now >= end and not outstanding:
                break
            if now >= end + args.timeout + 1:
                break
            wait = max(0.0, min(next_send - now, 0.05)) if now < end else 0.05
            ready, _, _ = select.select(list(socks.values()), [], [], wait)
            for s in ready:
                v6 = s is socks[True]
                while True:
                    try:
                        data = s.recv(65535)
                    except BlockingIOError:
                        break
                    received = time.time()
                    try:
                        reply = dns.message.from_wire(data)
                    except Exception as e:  # a reply that does not parse is a wrong answer
                        self.wrong("unparsable", repr(e))
                        continue
                    entry = outstanding.pop((v6, reply.id), None)
                    if entry is None:
                        self.counts["id_mismatch"] += 1
                        continue
                    q, msg, sent = entry
                    self.counts["answered"] += 1
                    self.latencies.append(received - sent)
                    if not msg.is_response(reply):
                        self.wrong(q[0], "not a response to the query", reply)
                        continue
                    self.check(q, reply, sent, received)
        for q, _, _ in outstanding.values():
            self.lost(q)
        self.judge_health()
        self.latencies.sort()
        lat = self.latencies
        result = dict(self.counts)
        result.update({
            "duration_s": round(time.time() - start, 1),
            "rate": args.rate,
            "timeout_s": args.timeout,
            "latency_ms": {"p50": ms(lat, 0.5), "p99": ms(lat, 0.99), "max": ms(lat, 1.0)},
            "weighted_sets": self.weighted,
            "failover": self.failover,
            "late_health_max_s": round(max(self.late_since), 1) if self.late_since else None,
            "per_query": self.per_label,
            "examples": self.examples,
        })
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        return 0

    def lost(self, q):
        self.counts["lost"] += 1
        self.per_label.setdefault(q[0], {"wrong": 0, "lost": 0})["lost"] += 1


def ms(values, fraction):
    if not values:
        return None
    return round(values[min(len(values) - 1, int(fraction * len(values)))] * 1000, 2)


def bpftool_json(*argv):
    out = subprocess.run(["bpftool", "--json", *argv], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def mem(args):
    """One sample. Maps the daemon holds open come from /proc/PID/fdinfo (each map fd has
    map_id and memlock lines); an inner map it forgot to close would show here. The maps the
    fast path reaches are the pinned ones plus the inner maps installed in the map-in-map
    slots; old generations must disappear from that set when they are replaced."""
    sample = {"t": round(time.time(), 1)}
    with open(f"/proc/{args.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                sample["rss_kib"] = int(line.split()[1])
    held = {}
    fd_dir = f"/proc/{args.pid}/fdinfo"
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if "map_id" in info:
            held[int(info["map_id"])] = int(info.get("memlock", "0"))
    sample["held_maps"] = len(held)
    sample["held_map_kib"] = sum(held.values()) // 1024
    reachable = {}
    for name in sorted(os.listdir(args.pin_dir)) if os.path.isdir(args.pin_dir) else []:
        info = bpftool_json("map", "show", "pinned", os.path.join(args.pin_dir, name))
        if not info:
            continue
        reachable[info["id"]] = info.get("bytes_memlock", 0)
        if info.get("type") in ("array_of_maps", "hash_of_maps"):
            for entry in bpftool_json("map", "dump", "id", str(info["id"])) or []:
                inner = entry.get("inner_map_id", entry.get("value"))
                if isinstance(inner, list):  # raw bytes: a little-endian u32 id
                    inner = int.from_bytes(bytes(int(b, 16) for b in inner[:4]), "little")
                if isinstance(inner, int) and inner not in reachable:
                    inner_info = bpftool_json("map", "show", "id", str(inner))
                    if inner_info:
                        reachable[inner] = inner_info.get("bytes_memlock", 0)
    sample["live_maps"] = len(reachable)
    sample["live_map_kib"] = sum(reachable.values()) // 1024
    print(json.dumps(sample))
    return 0


def slope_per_min(points):
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if den == 0 else 60.0 * sum((t - mx) * (v - my) for t, v in points) / den


def report(args):
    with open(args.samples) as f:
        samples = [json.loads(line) for line in f if line.strip()]
    if not samples:
        print("memory: no samples")
        return 1
    t0 = samples[0]["t"]
    ok = True
    print(f"memory: {len(samples)} samples, every {args.every:g} s; growth per minute is the "
          f"least-squares slope after the first {args.warmup:g} s")
    for key, unit in (("rss_kib", "KiB"), ("held_map_kib", "KiB"), ("held_maps", "maps"),
                      ("live_map_kib", "KiB"), ("live_maps", "maps")):
        values = [s[key] for s in samples]
        steady = [(s["t"] - t0, s[key]) for s in samples if s["t"] - t0 >= args.warmup]
        if len(steady) < 2:
            steady = [(s["t"] - t0, s[key]) for s in samples]
        slope = slope_per_min(steady)
        print(f"  {key:13s} start {values[0]:>8} end {values[-1]:>8} max {max(values):>8} "
              f"min {min(values):>8}  growth {slope:+9.1f} {unit}/min")
        if key == "rss_kib" and slope > args.max_rss_kib_per_min:
            print(f"  RSS grows {slope:.1f} KiB/min > bound {args.max_rss_kib_per_min} KiB/min")
            ok = False
        if key in ("held_map_kib", "live_map_kib"):
            # A sample can only come out low (an inner map replaced between the dump of its
            # outer map and the look-up of its size), never high: a leak is an end above every
            # early steady sample.
            early = [v for _, v in steady[:max(1, len(steady) // 2)]]
            growth = values[-1] - max(early)
            if growth > args.max_map_growth_kib:
                print(f"  {key} grew {growth} KiB after warm-up > bound "
                      f"{args.max_map_growth_kib} KiB")
                ok = False
    print("  series (s: RSS KiB / live map KiB / maps held): " + ", ".join(
        f"{s['t'] - t0:.0f}: {s['rss_kib']}/{s['live_map_kib']}/{s['held_maps']}"
        for s in samples))
    return 0 if ok else 1


def stats(args):
    def load(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}
    before, after = load(args.before), load(args.after)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}
    passed = {k: v for k, v in delta.items() if k.startswith("pass_") and v}
    print(f"XDP answered {delta.get('answered', 0)}, passed up {sum(passed.values())}: " +
          (", ".join(f"{k} {v}" for k, v in sorted(passed.items())) or "none"))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("--server4", required=True)
    c.add_argument("--server6", required=True)
    c.add_argument("--duration", type=float, required=True)
    c.add_argument("--rate", type=float, default=200)
    c.add_argument("--timeout", type=float, default=5)
    c.add_argument("--events", required=True)
    c.add_argument("--gen-base", type=int, required=True)
    c.add_argument("--geoip", choices=("yes", "no"), default="yes")
    c.add_argument("--out", required=True)
    m = sub.add_parser("mem")
    m.add_argument("--pid", required=True)
    m.add_argument("--pin-dir", required=True)
    r = sub.add_parser("report")
    r.add_argument("--samples", required=True)
    r.add_argument("--every", type=float, default=10)
    r.add_argument("--warmup", type=float, default=60)
    r.add_argument("--max-rss-kib-per-min", type=float, default=256)
    r.add_argument("--max-map-growth-kib", type=int, default=0)
    s = sub.add_parser("stats")
    s.add_argument("--before", required=True)
    s.add_argument("--after", required=True)
    args = parser.parse_args()
    if args.command == "check":
        return Checker(args).run()
    return {"mem": mem, "report": report, "stats": stats}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
