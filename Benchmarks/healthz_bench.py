#!/usr/bin/env python3
"""The HTTP server's speed next to a peer (issue 10): `GET /healthz` on one
`serve` replica (release build unless ACCOUNT_GATEWAY_BIN says otherwise) and on
a Hummingbird 2 server answering the same JSON (Benchmarks/HummingbirdPeer, its
own package, so the product never depends on SwiftNIO), each with wrk for
SECONDS at 1, 16 and 128 connections (2 wrk threads; 1 at 1 connection),
alternating the two servers so both see the same machine.

    Benchmarks/healthz_bench.py [--seconds 5] [--rounds 2]

Prints requests/s, p50 and p99 per server and the gateway's ratios to the peer.
Builds the peer on first use (about 3 minutes). Installs wrk when missing (as root with apt-get).
"""
import argparse, os, re, subprocess, sys

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


def wrk(url, connections, seconds):
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", url],
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not tb.have_wrk():
        sys.exit("healthz_bench: wrk is missing and cannot be installed (not root, no apt-get, or the install failed)")
    peer_bin = build_peer()
    peer_port = free_port()
    peer = subprocess.Popen([peer_bin, str(peer_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{peer_port}/healthz")
        with tb.running_stack("healthz-bench", 1) as stack:
            servers = {"gateway": f"http://127.0.0.1:{stack.ports[0]}/healthz",
                       "hummingbird": f"http://127.0.0.1:{peer_port}/healthz"}
            for name, url in servers.items():
                wrk(url, 16, 1)  # warm up
            print(f"GET /healthz, wrk {args.seconds} s per run, {args.rounds} rounds, servers alternating")
            print(f"{'conns':>5} {'server':<12} {'req/s':>18} {'p50 ms':>14} {'p99 ms':>14}")
            for connections in (1, 16, 128):
                runs = {name: [] for name in servers}
                for _ in range(args.rounds):
                    for name, url in servers.items():
                        runs[name].append(wrk(url, connections, args.seconds))
                for name, results in runs.items():
                    rates, p50s, p99s = zip(*results)
                    print(f"{connections:>5} {name:<12} {min(rates):>8.0f}–{max(rates):<9.0f}"
                          f" {min(p50s):>6.2f}–{max(p50s):<7.2f} {min(p99s):>6.2f}–{max(p99s):<7.2f}")
                g, h = runs["gateway"], runs["hummingbird"]
                best = lambda rs, i, f: f(r[i] for r in rs)  # noqa: E731
                print(f"{connections:>5} {'ratio':<12} req/s {best(g, 0, max) / best(h, 0, max):.2f}x"
                      f"  p99 {best(g, 2, min) / best(h, 2, min):.2f}x (gateway / hummingbird, best runs)")
    finally:
        peer.terminate()
        peer.wait()


if __name__ == "__main__":
    main()
