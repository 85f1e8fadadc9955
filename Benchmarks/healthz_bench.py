#!/usr/bin/env python3
"""The HTTP server's speed next to a peer (issue 10): `GET /healthz` on one
`serve` replica (release build unless ACCOUNT_GATEWAY_BIN says otherwise) and on
a Hummingbird 2 server answering the same JSON (Benchmarks/HummingbirdPeer, its
own package, so the product never depends on SwiftNIO), each with wrk for
SECONDS at 1, 16 and 128 connections, alternating the two servers so both see
the same machine, in a counterbalanced order (gateway, peer, peer, gateway, ...)
so that load fading away during the runs does not always fall on the same one.
Two placements, each printed as its own table:

* isolated: the servers on one CPU, wrk (one thread) on another,
  with taskset, as if client and server were separate machines. A load
  generator that shares the server's cores measures its own scheduling: on a
  2-core host, wrk's two threads plus a busy server are three runnable threads
  on two cores, and `perf sched latency` shows wrk's threads waiting up to
  4.5 ms for a CPU while the gateway's loop waits 0.014 ms on average; that
  wait lands in wrk's p99, and more of it the faster the server answers.
* shared: no pinning, 2 wrk threads (1 at 1 connection), everything on every
  core: how the two behave when co-located with their client. Here the
  server's CPU per request decides most: every microsecond it spends is one
  wrk waits for.

Each placement is judged on its own (issue 10: at 16 and 128 connections,
>= 1.0x the peer's requests/s and a p99 no worse than its).

Without taskset or with fewer than 2 CPUs only the shared table is printed.

    Benchmarks/healthz_bench.py [--seconds 5] [--rounds 2]

Prints requests/s, p50 and p99 per server and the gateway's ratios to the peer.
Builds the peer on first use (about 3 minutes). Installs wrk when missing (as root with apt-get).
"""
import argparse, os, re, shutil, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput_bench as tb  # noqa: E402  (its Stack starts the database, sandbox and serve)
from stack import free_port, wait_ready  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_DIR = os.path.join(HERE, "HummingbirdPeer")


def build_peer():
    subprocess.run(["swift", "build", "-c", "release", "--package-path", PEER_DIR], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(PEER_DIR, ".build", "release", "HummingbirdPeer")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def placements():
    """(name, CPU list for the servers or None, CPU list for wrk or None, wrk threads at >1 connection)."""
    shared = ("shared", None, None, 2)
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cpus) < 2:
        return [shared]
    return [("isolated", str(cpus[0]), str(cpus[1]), 1), shared]


def pinned(cpus, command):
    return ["taskset", "-c", cpus, *command] if cpus else command


def wrk(url, connections, seconds, cpus=None, threads=2):
    threads = 1 if connections == 1 else threads
    out = subprocess.run(pinned(cpus, ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", url]),
                         check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        latency[pct] = float(value) * UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx answers")
    return rate, latency["50"], latency["99"]


def cpu_busy(interval=1.0):
    """The share of every CPU's time spent busy over `interval` seconds (/proc/stat), or None off Linux."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle
    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except OSError:
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def settle(limit_seconds=90, busy_below=0.10):
    """Waits until the machine is quiet: a p99 of a few hundred microseconds
    measures whatever else runs (after `make bench`'s database benches, PostgreSQL's
    autovacuum and checkpoints for a minute or more). Says how long it waited."""
    start = time.monotonic()
    busy = cpu_busy()
    while busy is not None and busy >= busy_below and time.monotonic() - start < limit_seconds:
        busy = cpu_busy()
    waited = time.monotonic() - start
    if busy is None:
        return
    if busy < busy_below:
        print(f"machine quiet ({busy:.0%} busy) after {waited:.0f} s")
    else:
        print(f"machine still {busy:.0%} busy after {waited:.0f} s: these figures include that load")


def compare(servers, args, client_cpus, threads):
    """Alternating wrk runs against each server; prints a table and returns whether the gateway held up."""
    for url in servers.values():
        wrk(url, 16, 1, client_cpus, threads)  # warm up
    print(f"{'conns':>5} {'server':<12} {'req/s':>18} {'p50 ms':>14} {'p99 ms':>14}")
    held = True
    for connections in (1, 16, 128):
        runs = {name: [] for name in servers}
        for round_index in range(args.rounds):
            # Counterbalanced (gateway, peer, peer, gateway, ...): whatever load is fading
            # away on the machine (after make bench's database benches, PostgreSQL's
            # checkpoints and autovacuum) then weighs on both servers alike, not always on
            # the one measured first.
            order = list(servers.items())
            for name, url in order if round_index % 2 == 0 else reversed(order):
                runs[name].append(wrk(url, connections, args.seconds, client_cpus, threads))
        for name, results in runs.items():
            rates, p50s, p99s = zip(*results)
            print(f"{connections:>5} {name:<12} {min(rates):>8.0f}–{max(rates):<9.0f}"
                  f" {min(p50s):>6.2f}–{max(p50s):<7.2f} {min(p99s):>6.2f}–{max(p99s):<7.2f}")
        g, h = runs["gateway"], runs["hummingbird"]
        best = lambda rs, i, f: f(r[i] for r in rs)  # noqa: E731
        rate_ratio = best(g, 0, max) / best(h, 0, max)
        p99_ratio = best(g, 2, min) / best(h, 2, min)
        target = ""
        if connections > 1:
            met = rate_ratio >= 1.0 and p99_ratio <= 1.0
            held = held and met
            target = f"  target req/s >= 1.0x, p99 <= 1.0x: {'met' if met else 'NOT met'}"
        print(f"{connections:>5} {'ratio':<12} req/s {rate_ratio:.2f}x  p99 {p99_ratio:.2f}x"
              f" (gateway / hummingbird, best runs){target}")
    return held


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not tb.have_wrk():
        sys.exit("healthz_bench: wrk is missing and cannot be installed (not root, no apt-get, or the install failed)")
    peer_bin = build_peer()
    for name, server_cpus, client_cpus, threads in placements():
        peer_port = free_port()
        peer = subprocess.Popen(pinned(server_cpus, [peer_bin, str(peer_port)]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{peer_port}/healthz")
            print()
            with tb.running_stack("healthz-bench", 1, serve_prefix=pinned(server_cpus, [])) as stack:
                servers = {"gateway": f"http://127.0.0.1:{stack.ports[0]}/healthz",
                           "hummingbird": f"http://127.0.0.1:{peer_port}/healthz"}
                where = (f"servers on CPU {server_cpus}, wrk -t{threads} on CPU {client_cpus}" if server_cpus
                         else f"no pinning, wrk -t{threads}")
                settle()
                print(f"GET /healthz, {name} ({where}), wrk {args.seconds} s per run, {args.rounds} rounds, "
                      "servers alternating (ABBA)")
                held = compare(servers, args, client_cpus, threads)
                print(f"healthz_bench: {name} placement: {'targets met' if held else 'targets NOT met'}")
        finally:
            peer.terminate()
            peer.wait()


if __name__ == "__main__":
    main()
