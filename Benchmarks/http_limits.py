#!/usr/bin/env python3
"""Issue 10's two limits, against one `serve` replica (release build unless
ACCOUNT_GATEWAY_BIN says otherwise), on the throwaway PostgreSQL:

  idle     1,100 idle keep-alive connections from one address (more than the
           1,024 cap and the 512 per client), then a new client: it must be
           answered within 2 s.
  blank    64 clients sending only blank lines for 5 s: the server's resident
           memory must grow by less than 64 MB.

    Benchmarks/http_limits.py
Exit status 1 when a limit is missed.
"""
import json, os, resource, socket, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput_bench as tb  # noqa: E402  (its Stack starts the database, sandbox and serve)


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def idle_connections(port):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    conns, answered = [], 0
    for _ in range(1100):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        conns.append(s)
    for s in conns:
        s.settimeout(5)
        try:
            answered += s.recv(4096).startswith(b"HTTP/1.1 200")
        except OSError:
            pass
    started = time.monotonic()
    new = socket.create_connection(("127.0.0.1", port))
    new.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    new.settimeout(5)
    status = new.recv(4096)[:12]
    seconds = time.monotonic() - started
    for s in conns + [new]:
        s.close()
    return answered, status, seconds


def blank_lines(port, pid, seconds=5, clients=64):
    before = rss_kib(pid)
    stop = time.monotonic() + seconds

    def flood():
        while time.monotonic() < stop:
            try:
                s = socket.create_connection(("127.0.0.1", port))
                while time.monotonic() < stop:
                    s.sendall(b"\r\n" * 512)
            except OSError:
                pass

    threads = [threading.Thread(target=flood) for _ in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return before, rss_kib(pid)


def main():
    failures = 0
    with tb.running_stack("http-limits", 1) as stack:
        port = stack.ports[0]
        pid = stack.processes[-1].pid
        answered, status, seconds = idle_connections(port)
        ok = status == b"HTTP/1.1 200" and seconds < 2
        failures += not ok
        print(f"idle   1,100 idle connections ({answered} answered); new client {status!r} in {seconds:.3f} s"
              f"  (target: 200 within 2 s) {'ok' if ok else 'MISS'}")
        before, after = blank_lines(port, pid)
        ok = after - before < 64 * 1024
        failures += not ok
        print(f"blank  RSS {before} KiB -> {after} KiB (+{after - before} KiB)  (target: < 64 MiB) {'ok' if ok else 'MISS'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
