#!/usr/bin/python3
"""Fleet change propagation: the time from the commit (the control API's 200 answer to a change
batch sent to edge 0) to the last edge answering the new data, per change, over N changes, with
p50/p99; the time to INSYNC on edge 0; etcd's CPU and RSS.

Setups, one after the other in one run:
  netns     3 edges with XDP attached natively, each in a network namespace of its own, and 3
            etcd members in another (tests/fleet/fleet_netns.py); queries from the hub
            namespace, so XDP answers them (checked: the edges' meridian_queries_total)
  loopback  one 3-member etcd on 127.0.0.1, edges on 127.0.0.1 ports without XDP (workers 1):
            first --small edges (3), then more are started up to --edges (100)

Each change UPSERTs prop.<zone> A to an address of its own; every edge is queried over UDP every
--poll-ms until it answers that address. Needs root (namespaces, XDP) and etcd/etcdctl on PATH.

    bench/fleet_propagation.py [--changes 50] [--edges 100] [--skip-netns] [--build-dir DIR]
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet_bench as fb  # noqa: E402

ZONE = "prop.bench.example."
NAME = "p." + ZONE


def address_of(k):
    return f"10.99.{(k >> 8) & 255}.{k & 255}"


def run_series(args, writer, zone_id, poller, first_k, count):
    """`count` one-change batches through `writer`, polled from before the POST; per change: the
    last edge's first answer after the POST was sent and after the 200 answer, and INSYNC."""
    sent, lasts, insyncs, missing = [], [], [], 0
    for k in range(first_k, first_k + count):
        address = address_of(k)
        post = {}

        def submit(a=address):
            post["sent"] = time.monotonic()
            post["id"], post["committed"] = fb.change_batch(
                writer, zone_id, [{"Action": "UPSERT", "ResourceRecordSet":
                                   fb.a_record_set(NAME, a)}])

        thread = threading.Thread(target=submit)
        thread.start()
        seen = poller.wait(fb.dns_query(NAME), lambda d, a=address: fb.has_a(d, a),
                           args.timeout)
        thread.join(args.timeout)
        if "committed" not in post:
            raise RuntimeError(f"change {k} not acknowledged")
        missing += len(poller.targets) - len(seen)
        if seen:
            last = max(seen.values())
            sent.append(last - post["sent"])
            lasts.append(max(0.0, last - post["committed"]))
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            r = writer.api("GET", f"/v1/changes/{post['id']}")
            if r.status == 200 and r.json()["ChangeInfo"]["Status"] == "INSYNC":
                insyncs.append(time.monotonic() - post["committed"])
                break
            time.sleep(0.02)
        time.sleep(args.pause)
    return {"sent": sent, "last": lasts, "insync": insyncs, "missing": missing}


def measure_point(args, label, writer, zone_id, poller, first_k, etcd_pids, metrics_urls):
    """An idle window (lease keep-alives only), then the change series, with etcd's CPU."""
    idle0 = fb.cpu_of(etcd_pids)
    time.sleep(args.idle)
    idle = (fb.cpu_of(etcd_pids) - idle0) / args.idle
    cpu0, t0 = fb.cpu_of(etcd_pids), time.monotonic()
    series = run_series(args, writer, zone_id, poller, first_k, args.changes)
    cpu = fb.cpu_of(etcd_pids) - cpu0
    wall = time.monotonic() - t0
    db = {"etcd_mvcc_db_total_size_in_bytes": 0.0}
    if metrics_urls:  # the namespace setup's etcd is not reachable from here
        db = fb.etcd_metrics_sum(metrics_urls, list(db))
    return {"label": label, "edges": len(poller.targets), "idle_cpu": idle,
            "cpu_per_change": cpu / args.changes, "cpu_busy": cpu / wall,
            "rss": fb.rss_of(etcd_pids) / len(etcd_pids),
            "db": db["etcd_mvcc_db_total_size_in_bytes"] / max(1, len(metrics_urls or [])),
            **series}


def report(p):
    last, insync, sent = p["last"], p["insync"], p["sent"]
    print(f"== {p['label']}: {p['edges']} edges, {len(last)} changes"
          + (f", {p['missing']} edge answers never seen" if p["missing"] else ""))
    print(f"   200 answer -> last edge:       p50 {fb.ms(fb.percentile(last, 50))}, "
          f"p99 {fb.ms(fb.percentile(last, 99))}, max {fb.ms(max(last, default=0))}")
    print(f"   POST sent -> last edge:        p50 {fb.ms(fb.percentile(sent, 50))}, "
          f"p99 {fb.ms(fb.percentile(sent, 99))}, max {fb.ms(max(sent, default=0))}")
    print(f"   commit -> INSYNC on edge 0:    p50 {fb.ms(fb.percentile(insync, 50))}, "
          f"p99 {fb.ms(fb.percentile(insync, 99))} ({len(insync)} of {len(last)} seen)")
    db = fb.mib(p["db"]) if p["db"] else "n/a"
    print(f"   etcd, 3 members together: idle {p['idle_cpu'] * 100:.1f}% of a core, "
          f"{p['cpu_per_change'] * 1000:.0f} ms CPU per change, "
          f"{p['cpu_busy'] * 100:.0f}% of a core during the series; "
          f"per member RSS {fb.mib(p['rss'])}, db {db}")
    sys.stdout.flush()


# --- 3 edges with XDP in namespaces --------------------------------------------------------------

def run_netns(args, cleanup):
    import fleet_netns
    import netns

    topology = fleet_netns.Topology(edges=3, etcd_members=3, backends=0).create()
    cleanup.add(topology.destroy)
    etcd = fleet_netns.Etcd(topology)
    cleanup.add(etcd.stop)
    etcd.start()
    xdp_pass = os.path.join(args.build_dir, "bpf", "xdp_pass.bpf.o")
    for i in range(3):
        # A native XDP_TX on a veth reaches the peer only when the peer runs an XDP program.
        netns.run(["ip", "-n", topology.hub, "link", "set", "dev", f"p{i}", "xdp", "obj",
                   xdp_pass, "sec", "xdp"])

    class XdpEdge(fleet_netns.Edge):
        def __init__(self, i):
            super().__init__(args.meridiand, topology, etcd, i, f"/bench-{topology.suffix}/",
                             args.lease_ttl)
            self.pin_dir = f"/sys/fs/bpf/meridian-bench-fleet-{topology.suffix}-{i}"
            self.config["xdp"] = {"interfaces": ["eth0"], "mode": "native",
                                  "pin_dir": self.pin_dir}
            self.config["listen"] = [f"{self.address}:53"]

        def start(self):
            # nsenter --net, not ip netns exec: the pins stay on this host's bpffs.
            path = self.write_file("meridian.json", fleet_netns.json.dumps(self.config))
            self.spawn(["nsenter", f"--net=/run/netns/{topology.edges[self.i]}", self.meridiand,
                        "--config", path], "meridiand ready", fleet_netns.READY_TIMEOUT_S)
            return self

        def stop(self, timeout=15):
            super().stop(timeout)
            netns.remove_pin_dir(self.pin_dir)

    edges = []
    for i in range(3):
        e = XdpEdge(i)
        cleanup.add(e.stop)
        edges.append(e.start())
    zone_id = fb.create_zone(edges[0], ZONE)
    sock = topology.hub_socket()
    cleanup.add(sock.close)
    poller = fb.DnsPoller([(fleet_netns.edge_address(i), 53) for i in range(3)], sock,
                          args.poll_ms / 1000)
    pids = [p.pid for p in etcd.procs]

    def xdp_answers():
        total = {"xdp": 0.0, "userspace": 0.0}
        for e in edges:
            for line in e.api("GET", "/metrics").body.splitlines():
                for path in total:
                    if line.startswith(f'meridian_queries_total{{path="{path}"}}'):
                        total[path] += float(line.rsplit(" ", 1)[1])
        return total

    before = xdp_answers()
    point = measure_point(args, "3 edges, XDP, namespaces", edges[0], zone_id, poller, 0, pids,
                          None)
    after = xdp_answers()
    report(point)
    xdp = after["xdp"] - before["xdp"]
    user = after["userspace"] - before["userspace"]
    print(f"   queries answered during the run: XDP {xdp:.0f}, userspace {user:.0f}")
    point["xdp"], point["userspace"] = xdp, user
    return point


# --- many edges on loopback ----------------------------------------------------------------------

def run_loopback(args, cleanup):
    cluster = fb.start_loopback_etcd(cleanup)
    pids = fb.etcd_pids(cluster)
    prefix = "/bench/"
    ports = set(cluster.client_ports + cluster.peer_ports)
    t0 = time.monotonic()
    edges = fb.start_edges(cleanup, args.meridiand, range(args.small), cluster.client_urls,
                           prefix, args.lease_ttl, ports, args.log_level)
    print(f"   {len(edges)} edges ready in {time.monotonic() - t0:.1f} s")
    zone_id = fb.create_zone(edges[0], ZONE)
    points = []
    k = 1000
    for target in (args.small, args.edges):
        if target > len(edges):
            t0 = time.monotonic()
            edges += fb.start_edges(cleanup, args.meridiand, range(len(edges), target),
                                    cluster.client_urls, prefix, args.lease_ttl, ports,
                                    args.log_level)
            print(f"   {len(edges)} edges ready in {time.monotonic() - t0:.1f} s")
        poller = fb.DnsPoller([("127.0.0.1", e.port) for e in edges], interval=args.poll_ms / 1000)
        # Every edge serves the state before timing (the new ones caught up).
        fb.change_batch(edges[0], zone_id, [{"Action": "UPSERT", "ResourceRecordSet":
                                             fb.a_record_set(NAME, address_of(k))}])
        seen = poller.wait(fb.dns_query(NAME), lambda d, a=address_of(k): fb.has_a(d, a), 60)
        if len(seen) != len(edges):
            raise RuntimeError(f"only {len(seen)} of {len(edges)} edges caught up")
        k += 1
        points.append(measure_point(args, f"{len(edges)} edges, loopback, no XDP", edges[0],
                                    zone_id, poller, k, pids, cluster.client_urls))
        report(points[-1])
        k += args.changes
    return points


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=fb.default_build_dir())
    ap.add_argument("--changes", type=int, default=50, help="changes per setup")
    ap.add_argument("--edges", type=int, default=100, help="loopback edges at the large point")
    ap.add_argument("--small", type=int, default=3, help="loopback edges at the small point")
    ap.add_argument("--skip-netns", action="store_true", help="no XDP setup in namespaces")
    ap.add_argument("--lease-ttl", type=int, default=10)
    ap.add_argument("--poll-ms", type=float, default=10)
    ap.add_argument("--pause", type=float, default=0.2, help="seconds between changes")
    ap.add_argument("--idle", type=float, default=10, help="idle window for etcd's CPU")
    ap.add_argument("--timeout", type=float, default=30, help="per change")
    ap.add_argument("--log-level", default="info", help="info: the ready line is one")
    args = ap.parse_args()
    args.meridiand = fb.meridiand_path(args.build_dir)
    if os.geteuid() != 0:
        sys.exit("needs root (namespaces, XDP)")
    cleanup = fb.Cleanup()
    started = time.monotonic()
    try:
        if not args.skip_netns:
            run_netns(args, cleanup)
        run_loopback(args, cleanup)
    finally:
        cleanup.run()
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
