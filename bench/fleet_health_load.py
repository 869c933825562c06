#!/usr/bin/python3
"""Fleet health load: --edges meridiand edges on loopback (no XDP, workers 1) sharing --checks
HTTP health checks (RequestInterval --interval) against --backends local HTTP backends, one
3-member etcd on loopback. Measures:

  steady state  etcd's writes per second over --window seconds once every edge has published its
                observations (etcd_mvcc_put_total, _delete_total, _txn_total, raft proposals),
                its lease keep-alives, bytes stored (etcd_mvcc_db_total_size_in_bytes), keys,
                etcd's and the edges' CPU
  convergence   a failover record set whose primary is checked against backend 0: backend 0 is
                killed, and the time until every edge answers the secondary is measured (and the
                etcd writes of that transition); then backend 0 is started again and the way
                back is timed the same way

Check i probes backend i mod --backends (127.0.0.1, a port of its own); a backend is a small
asyncio HTTP server answering 200 to everything. Needs etcd/etcdctl on PATH.

    bench/fleet_health_load.py [--edges 100] [--checks 200] [--window 60] [--build-dir DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet_bench as fb  # noqa: E402

ZONE = "health.bench.example."
APP = "app." + ZONE
PRIMARY, SECONDARY = "192.0.2.1", "192.0.2.2"
PREFIX = "/bench-health/"

BACKEND = r"""
import asyncio, sys
async def serve(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

WRITE_METRICS = ["etcd_mvcc_put_total", "etcd_mvcc_delete_total", "etcd_mvcc_txn_total",
                 "etcd_server_proposals_committed_total", "etcd_mvcc_range_total",
                 "etcd_debugging_mvcc_events_total"]
LEASE_METRICS = ["etcd_debugging_lease_renewed_total", "etcd_debugging_lease_granted_total",
                 "etcd_debugging_lease_revoked_total"]
SIZE_METRICS = ["etcd_mvcc_db_total_size_in_bytes", "etcd_mvcc_db_total_size_in_use_in_bytes",
                "etcd_debugging_mvcc_keys_total"]
EDGE_METRICS = ["meridian_fleet_observations_written_total", "meridian_fleet_full_reloads_total",
                "meridian_fleet_watch_restarts_total"]


class Backend:
    def __init__(self, port):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", BACKEND, str(self.port)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def edge_metrics(edges):
    total = dict.fromkeys(EDGE_METRICS, 0.0)
    for e in edges:
        try:
            body = e.api("GET", "/metrics").body
        except OSError as error:
            state = "running" if e.proc.poll() is None else f"exited {e.proc.returncode}"
            print(f"   edge {e.name} ({state}): no metrics: {error}\n{e.log_tail(1500)}")
            continue
        for line in body.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in total:
                total[name] += float(line.rsplit(" ", 1)[1])
    return total


def observation_count(cluster):
    r = cluster.etcdctl("get", "--prefix", PREFIX + "obs/", "--keys-only", "--limit", "1", "-w",
                        "json")
    return int(json.loads(r.stdout).get("count", 0)) if r.returncode == 0 else -1


def lease_expiries(edges):
    """Edges' leases that expired under them (each logs it, then joins again)."""
    n = 0
    for e in edges:
        n += e.log_tail(1 << 30).count("expired: joining the fleet again")
    return n


def delta(after, before):
    return {k: after[k] - before[k] for k in after}


def converge(args, edges, poller, address, started, cluster):
    """Seconds from `started` until the first and the last edge answer `address` for APP, and
    the etcd writes meanwhile."""
    def puts():
        try:
            return fb.etcd_metrics(cluster.client_urls[0], WRITE_METRICS)["etcd_mvcc_put_total"]
        except OSError:  # a member too busy to answer in time
            return float("nan")

    p0 = puts()
    seen = poller.wait(fb.dns_query(APP), lambda d: fb.has_a(d, address),
                       args.interval * args.threshold + args.lease_ttl + 90)
    p1 = puts()
    if not seen:
        return None
    times = sorted(t - started for t in seen.values())
    return {"first": times[0], "last": times[-1], "edges": len(seen), "puts": p1 - p0}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=fb.default_build_dir())
    ap.add_argument("--edges", type=int, default=100)
    ap.add_argument("--checks", type=int, default=200)
    ap.add_argument("--backends", type=int, default=4)
    ap.add_argument("--interval", type=int, default=10, help="RequestInterval")
    ap.add_argument("--threshold", type=int, default=3, help="FailureThreshold")
    ap.add_argument("--lease-ttl", type=int, default=10)
    ap.add_argument("--window", type=float, default=60, help="steady-state window, seconds")
    ap.add_argument("--settle", type=float, default=20,
                    help="seconds after every observation is published before the window")
    ap.add_argument("--warmup-timeout", type=float, default=600)
    ap.add_argument("--poll-ms", type=float, default=20)
    ap.add_argument("--log-level", default="info", help="info: the ready line is one")
    args = ap.parse_args()
    meridiand = fb.meridiand_path(args.build_dir)
    cleanup = fb.Cleanup()
    started = time.monotonic()
    try:
        cluster = fb.start_loopback_etcd(cleanup)
        etcd_pids = fb.etcd_pids(cluster)
        url0 = cluster.client_urls[0]
        ports = set(cluster.client_ports + cluster.peer_ports)
        backends = [Backend(fb.free_port(ports)) for _ in range(args.backends)]
        for b in backends:
            cleanup.add(b.kill)
            b.start()
        # Edge 0 first: the zone, the checks and the record set go to etcd through it, so the
        # others start from the whole state instead of applying 200 revisions each.
        edges = fb.start_edges(cleanup, meridiand, [0], cluster.client_urls, PREFIX,
                               args.lease_ttl, ports, args.log_level)
        zone_id = fb.create_zone(edges[0], ZONE)
        for i in range(args.checks):
            r = edges[0].api("POST", "/v1/healthchecks", {
                "Id": f"c{i}", "Type": "HTTP", "IPAddress": "127.0.0.1",
                "Port": backends[i % args.backends].port, "ResourcePath": "/",
                "RequestInterval": args.interval, "FailureThreshold": args.threshold})
            if r.status != 200:
                raise RuntimeError(f"health check c{i} refused: {r.status} {r.body}")
        fb.change_batch(edges[0], zone_id, [
            {"Action": "CREATE", "ResourceRecordSet": fb.a_record_set(
                APP, PRIMARY, 10, SetIdentifier="primary", Failover="PRIMARY",
                HealthCheckId="c0")},
            {"Action": "CREATE", "ResourceRecordSet": fb.a_record_set(
                APP, SECONDARY, 10, SetIdentifier="secondary", Failover="SECONDARY")}])
        t0 = time.monotonic()
        edges += fb.start_edges(cleanup, meridiand, range(1, args.edges), cluster.client_urls,
                                PREFIX, args.lease_ttl, ports, args.log_level)
        print(f"{len(edges)} edges ready in {time.monotonic() - t0:.1f} s; "
              f"{args.checks} checks at {args.interval} s over {args.backends} backends")
        sys.stdout.flush()
        poller = fb.DnsPoller([("127.0.0.1", e.port) for e in edges],
                              interval=args.poll_ms / 1000)

        # Warm-up: every (check, edge) observation published once.
        expected = args.edges * args.checks
        deadline = time.monotonic() + args.warmup_timeout
        count = 0
        while time.monotonic() < deadline:
            count = observation_count(cluster)
            if count >= expected:
                break
            print(f"   warm-up: {count} of {expected} observations after "
                  f"{time.monotonic() - t0:.0f} s, {lease_expiries(edges)} lease expiries")
            sys.stdout.flush()
            time.sleep(10)
        warm = time.monotonic() - t0
        print(f"observations published: {count} of {expected} after {warm:.0f} s")
        if count < expected:
            raise RuntimeError("warm-up did not finish")
        seen = poller.wait(fb.dns_query(APP), lambda d: fb.has_a(d, PRIMARY), 30)
        print(f"edges answering the primary: {len(seen)} of {len(edges)}")
        time.sleep(args.settle)

        # Steady state.
        edge_pids = [e.proc.pid for e in edges]
        def etcd_now():
            m = fb.etcd_metrics(url0, WRITE_METRICS)
            m.update(fb.etcd_metrics_sum(cluster.client_urls, LEASE_METRICS))  # the leader's
            return m

        m0, e0 = etcd_now(), edge_metrics(edges)
        c0, ce0, w0 = fb.cpu_of(etcd_pids), fb.cpu_of(edge_pids), time.monotonic()
        time.sleep(args.window)
        m1, e1 = etcd_now(), edge_metrics(edges)
        c1, ce1, w1 = fb.cpu_of(etcd_pids), fb.cpu_of(edge_pids), time.monotonic()
        wall = w1 - w0
        d, de = delta(m1, m0), delta(e1, e0)
        sizes = fb.etcd_metrics(url0, SIZE_METRICS)
        writes = (d["etcd_mvcc_put_total"] + d["etcd_mvcc_delete_total"])
        print(f"== steady state, {wall:.0f} s, {args.edges} edges x {args.checks} checks:")
        print(f"   etcd writes: {writes / wall:.2f}/s (puts {d['etcd_mvcc_put_total']:.0f}, "
              f"deletes {d['etcd_mvcc_delete_total']:.0f}, txns {d['etcd_mvcc_txn_total']:.0f}, "
              f"raft proposals {d['etcd_server_proposals_committed_total'] / wall:.2f}/s), "
              f"reads {d['etcd_mvcc_range_total'] / wall:.1f}/s, watch events sent "
              f"{d['etcd_debugging_mvcc_events_total'] / wall:.1f}/s")
        print(f"   lease keep-alives: {d['etcd_debugging_lease_renewed_total'] / wall:.1f}/s "
              f"(granted {d['etcd_debugging_lease_granted_total']:.0f}, "
              f"revoked {d['etcd_debugging_lease_revoked_total']:.0f})")
        print(f"   edges: observations written {de[EDGE_METRICS[0]]:.0f}, full reloads "
              f"{de[EDGE_METRICS[1]]:.0f}, watch restarts {de[EDGE_METRICS[2]]:.0f}; lease "
              f"expiries since the start {lease_expiries(edges)}")
        dead = [e.name for e in edges if e.proc.poll() is not None]
        if dead:
            print(f"   edges that exited: {len(dead)} ({', '.join(dead[:10])})")
        print(f"   stored: db {fb.mib(sizes['etcd_mvcc_db_total_size_in_bytes'])} "
              f"(in use {fb.mib(sizes['etcd_mvcc_db_total_size_in_use_in_bytes'])}), "
              f"{sizes['etcd_debugging_mvcc_keys_total']:.0f} keys")
        print(f"   CPU: etcd {(c1 - c0) / wall * 100:.0f}% of a core (3 members), edges "
              f"{(ce1 - ce0) / wall * 100:.0f}% ({(ce1 - ce0) / wall / len(edges) * 1000:.1f} "
              f"ms/s each); etcd RSS {fb.mib(fb.rss_of(etcd_pids) / len(etcd_pids))} per member")
        sys.stdout.flush()

        # Convergence: backend 0 dies, then comes back.
        for what, action, address in (("dies", backends[0].kill, SECONDARY),
                                      ("comes back", backends[0].start, PRIMARY)):
            action()
            result = converge(args, edges, poller, address, time.monotonic(), cluster)
            if result is None:
                print(f"== backend 0 {what}: no edge converged")
                continue
            print(f"== backend 0 {what} ({args.checks // args.backends} checks on it): "
                  f"first edge {result['first']:.1f} s, last edge {result['last']:.1f} s "
                  f"({result['edges']} of {len(edges)} edges); etcd puts meanwhile "
                  f"{result['puts']:.0f}")
            sys.stdout.flush()
    finally:
        cleanup.run()
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
