#!/usr/bin/env python3
"""Which of two `account-gateway` builds spends less CPU per `GET /healthz`,
measured so that the host's noise cancels out (issue 10).

Single wrk runs on this 2-core VM move by a third from one minute to the
next, which hides a change of 5-10 %. Here both builds serve at the same
time, pinned to the same CPU, each loaded by its own wrk on the other CPU;
each server's CPU time (utime + stime from /proc/PID/stat) is divided by the
requests it answered in the same seconds. Whatever else the host does then
weighs on both alike, and the ratio B/A repeats within about 2 % (one build
against itself: 0.97-0.99, the second slot a little favoured, so run it
both ways round).

    Benchmarks/cpu_duel.py BIN_A BIN_B [--rounds 5] [--seconds 4]

Needs taskset, wrk and two CPUs; the database and sandbox come from
throughput_bench's stack (a fresh database, as `make bench` uses).
"""
import argparse, os, re, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput_bench as tb  # noqa: E402
from stack import free_port, wait_ready  # noqa: E402


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_a")
    parser.add_argument("bin_b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or not tb.have_wrk():
        sys.exit("cpu_duel: needs two CPUs, taskset and wrk")
    server_cpu, client_cpu = str(cpus[0]), str(cpus[1])
    tick = os.sysconf("SC_CLK_TCK")

    # The stack gives the database and the sandbox; its own replica stays idle.
    with tb.running_stack("cpu-duel", 1) as stack:
        servers = []
        for binary in (args.bin_a, args.bin_b):
            port = free_port()
            process = subprocess.Popen(["taskset", "-c", server_cpu, binary, "serve"],
                                       env=dict(stack.env, GATEWAY_LISTEN=f"127.0.0.1:{port}"),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append((process, f"http://127.0.0.1:{port}/healthz"))
        try:
            for _, url in servers:
                wait_ready(url)
                subprocess.run(["wrk", "-t1", "-c16", "-d1s", url], check=True, capture_output=True)  # warm up
            ratios = []
            for _ in range(args.rounds):
                before = [cpu_ticks(process.pid) for process, _ in servers]
                clients = [subprocess.Popen(["taskset", "-c", client_cpu, "wrk", "-t1", "-c64", f"-d{args.seconds}s", url],
                                            stdout=subprocess.PIPE, text=True) for _, url in servers]
                outputs = [client.communicate()[0] for client in clients]
                after = [cpu_ticks(process.pid) for process, _ in servers]
                costs = []
                for start, end, out in zip(before, after, outputs):
                    answered = int(re.search(r"(\d+) requests in", out).group(1))
                    costs.append((end - start) / tick / answered * 1e6)
                ratios.append(costs[1] / costs[0])
                print(f"A {costs[0]:.1f} µs/request, B {costs[1]:.1f} µs/request, B/A {ratios[-1]:.3f}")
            print(f"cpu_duel: B/A median {statistics.median(ratios):.3f} over {len(ratios)} rounds "
                  f"({min(ratios):.3f}-{max(ratios):.3f})")
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
