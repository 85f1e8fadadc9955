#!/usr/bin/env python3
"""Issue 10's two limits, against one `serve` replica (release build unless
ACCOUNT_GATEWAY_BIN says otherwise), on the throwaway PostgreSQL:

  idle     1,100 idle keep-alive connections from one address (more than the
           1,024 cap and the 512 per client), then a new client: it must be
           answered within 2 s.
  blank    64 clients sending only blank lines for 5 s: the server's resident
           memory must grow by less than 64 MB.
  tokens   wrk on 64 connections sending bad tokens (a different well-formed
           unknown token on each connection, and malformed ones) for 5 s, while a
           legitimate caller reads its account over one keep-alive connection:
           its p99 must stay at or under 50 ms and every answer be 200 (issue 11).

    Benchmarks/http_limits.py
Exit status 1 when a limit is missed.
"""
import http.client, json, os, resource, socket, subprocess, sys, tempfile, threading, time

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


WRK_BAD_TOKENS = """
local counter = 0
setup = function(thread) thread:set("id", counter); counter = counter + 1 end
request = function()
  local token = (id % 2 == 0) and ("agw_" .. string.rep(string.char(65 + id % 26), 43)) or "not-a-token"
  return wrk.format("GET", "/accounts/bad_token_probe", {["Authorization"] = "Bearer " .. token})
end
"""


def bad_tokens(port, token, seconds=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/accounts", body=json.dumps({"user_id": "legit_reader"}),
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    conn.getresponse().read()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_BAD_TOKENS)
    flood = subprocess.Popen(["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}/"],
                             stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    latencies, statuses = [], {}
    stop = time.monotonic() + seconds - 1
    while time.monotonic() < stop:
        started = time.monotonic()
        conn.request("GET", "/accounts/legit_reader", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        latencies.append(time.monotonic() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    out = flood.communicate()[0]
    os.unlink(script.name)
    rate = next((line.split()[-1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("inf")
    return p99, statuses, len(latencies), rate


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
        p99, statuses, reads, rate = bad_tokens(port, stack.token)
        ok = p99 <= 0.050 and set(statuses) == {200}
        failures += not ok
        print(f"tokens bad tokens at {rate} req/s on 64 connections; the legitimate reader: {reads} reads, "
              f"p99 {p99 * 1000:.1f} ms, answers {statuses}  (target: p99 <= 50 ms, all 200) {'ok' if ok else 'MISS'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
