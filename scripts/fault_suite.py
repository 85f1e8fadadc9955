#!/usr/bin/env python3
"""Fault injection: nothing accepted is ever lost.

Runs the built binary as it runs in production — three `serve` replicas on one
real PostgreSQL, in front of `account-gateway sandbox` — and offers load while:
  * the sandbox answers 30% of calls with transient Tencent errors, 10% with
    HTTP 502, and drops or loses some answers after doing the work;
  * one replica is killed with SIGKILL mid-load and restarted;
  * PostgreSQL is restarted once mid-load.
Then the faults stop, the backlog drains, and every request that was answered
201/200/202 must be imported in the sandbox and `imported` in `accounts`, with
the profile it asked for. Nothing may answer 5xx except 503 during the outage.

    scripts/fault_suite.py [--seconds 20] [--threads 12]

Prints a report (accepted, imported, lost, duplicate upstream calls, drain
time) and exits non-zero when anything was lost or answered wrongly.
Part of `make test`.
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

from stack import LOCALPG, ROOT, free_port, http, prepare, psql, start_sandbox, wait_ready

BIN = os.path.join(ROOT, ".build", "debug", "account-gateway")


class Replica:
    def __init__(self, index, env, logdir):
        self.index, self.env, self.logdir = index, dict(env), logdir
        self.port = free_port()
        self.env["GATEWAY_LISTEN"] = f"127.0.0.1:{self.port}"
        self.process = None
        self.starts = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.logdir, f"replica{self.index}.{self.starts}.log"), "w")
        self.process = subprocess.Popen([BIN, "serve"], env=self.env, stdout=log, stderr=log)
        wait_ready(self.url + "/readyz")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=12)
    parser.add_argument("--drain-timeout", type=float, default=120)
    args = parser.parse_args()
    rng = random.Random(20261126)

    env, logdir, sandbox_port, token = prepare(BIN, "account_gateway_faults", "fault-suite.", as_service_role=True,
                                               GATEWAY_WAIT_MS="1500", LOG_LEVEL="info")
    database_url = env["DATABASE_URL"]
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = start_sandbox(BIN, env, logdir, sandbox_port, "--error-rate", "0.3",
                            "--error-codes", "70500,60008,70169,40006", "--http502-rate", "0.1",
                            "--drop-rate", "0.05", "--lost-response-rate", "0.05")
    replicas = [Replica(i, env, logdir) for i in range(3)]
    failures = []
    try:
        for replica in replicas:
            replica.start()

        # Each thread owns its users, so the requests for one user are sequential
        # and "the profile it asked for" is the last one answered 2xx.
        answers = []          # (time, user, status)
        expected = {}         # user -> nicks it may end with: the last accepted one, and
                              # those of later requests that got no answer (they may have committed)
        latencies = []        # (seconds, status)
        lock = threading.Lock()
        outage = {"start": None, "end": None}
        stop_at = time.time() + args.seconds

        def load(thread):
            local_rng = random.Random(thread)
            users = []
            n = 0
            while time.time() < stop_at:
                if users and local_rng.random() < 0.15:
                    user = local_rng.choice(users)  # re-import with a changed profile
                else:
                    user = f"t{thread}_u{n}"
                    n += 1
                    users.append(user)
                nick = f"{user}-v{local_rng.randrange(1_000_000)}"
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                if local_rng.random() < 0.3:
                    headers["Idempotency-Key"] = f"{user}-{nick}"
                replica = replicas[local_rng.randrange(len(replicas))]
                sent = time.time()
                status, _ = http("POST", replica.url + "/accounts", {"user_id": user, "nick": nick}, headers)
                with lock:
                    answers.append((time.time(), user, status))
                    latencies.append((time.time() - sent, status))
                    if status in (200, 201, 202):
                        expected[user] = {nick}
                    elif status in (None, 503) and user in expected:
                        expected[user].add(nick)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(args.threads)]
        started = time.time()
        for t in threads:
            t.start()

        time.sleep(args.seconds * 0.25)
        print(f"fault_suite: SIGKILL replica 1 at +{time.time() - started:.1f}s", flush=True)
        replicas[1].kill()
        time.sleep(2)
        replicas[1].start()
        print(f"fault_suite: replica 1 restarted at +{time.time() - started:.1f}s", flush=True)
        time.sleep(max(0.0, started + args.seconds * 0.55 - time.time()))
        outage["start"] = time.time()
        print(f"fault_suite: restarting PostgreSQL at +{outage['start'] - started:.1f}s", flush=True)
        subprocess.run([LOCALPG, "restart"], check=True)
        outage["end"] = time.time()
        print(f"fault_suite: PostgreSQL back after {outage['end'] - outage['start']:.1f}s", flush=True)
        for t in threads:
            t.join()

        # Faults stop; the backlog drains.
        http("PUT", sandbox_url + "/sandbox/faults",
             {"error_rate": 0, "http502_rate": 0, "lost_response_rate": 0, "drop_rate": 0})
        drain_start = time.time()
        while True:
            pending = int(psql(database_url, "SELECT count(*) FROM accounts WHERE status = 'pending'"))
            if pending == 0 or time.time() - drain_start > args.drain_timeout:
                break
            time.sleep(0.5)
        drain_seconds = time.time() - drain_start

        # Verify.
        status_counts = {}
        for at, user, status in answers:
            status_counts[status] = status_counts.get(status, 0) + 1
            if status is not None and status >= 500:
                in_outage = status == 503 and outage["start"] - 1 <= at <= outage["end"] + 15
                if not in_outage:
                    failures.append(f"{user}: answered {status} outside the database outage")
            if status not in (None, 200, 201, 202, 409, 503):
                failures.append(f"{user}: unexpected status {status}")
        # Never a hang: every answer (or refusal) comes within the wait budget plus the server's own bounds.
        hung = [(round(seconds, 1), status) for seconds, status in latencies if seconds > 10]
        if hung:
            failures.append(f"{len(hung)} requests took over 10 s: {hung[:5]}")
        rows = psql(database_url, "SELECT user_id, status, coalesce(nick, '') FROM accounts")
        stored = {}
        for line in rows.splitlines():
            user, state, nick = line.split("|", 2)
            stored[user] = (state, nick)
        imported = lost = 0
        for user, nicks in expected.items():
            state, stored_nick = stored.get(user, (None, None))
            upstream = http("GET", f"{sandbox_url}/sandbox/accounts/{user}")[1] or {}
            if state == "imported" and stored_nick in nicks and upstream.get("nick") == stored_nick:
                imported += 1
            else:
                lost += 1
                failures.append(f"{user}: asked for nick {sorted(nicks)!r}; accounts has {state}/{stored_nick!r}, "
                                f"the sandbox has {upstream.get('nick')!r}")
        stats = http("GET", sandbox_url + "/sandbox/stats")[1] or {}
        print("fault_suite report")
        print(f"  requests sent            {len(answers)}")
        print(f"  answers                  " + ", ".join(f"{k}: {v}" for k, v in sorted(status_counts.items(), key=lambda kv: str(kv[0]))))
        print(f"  accepted users           {len(expected)}")
        print(f"  imported as asked        {imported}")
        print(f"  lost                     {lost}")
        print(f"  pending after drain      {sum(1 for s in stored.values() if s[0] == 'pending')}")
        print(f"  upstream calls           {sum(stats.get('calls', {}).values())} "
              f"(502: {stats.get('http_502')}, injected errors: {stats.get('injected_errors')}, "
              f"dropped: {stats.get('dropped_connections')})")
        print(f"  duplicate upstream calls {stats.get('duplicate_imports')} (imports naming an existing UserID, "
              f"profile changes included)")
        print(f"  slowest answer           {max((l for l, st in latencies if st is not None), default=0):.2f}s")
        print(f"  drain time               {drain_seconds:.1f}s")
        if not expected:
            failures.append("no request was accepted: the suite tested nothing")
    finally:
        for replica in replicas:
            replica.stop()
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=10)
    for failure in failures[:30]:
        print("fault_suite: FAIL:", failure)
    if failures:
        print(f"fault_suite: logs in {logdir}")
        print(f"0 passed, {len(failures)} failed")
        sys.exit(1)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
