#!/usr/bin/env python3
"""`account-gateway reconcile` against its limit: `account_check` allows 100
calls/s of 100 accounts, 10,000 accounts/s. Imports ACCOUNTS accounts with
`account-gateway import` into a fresh database and a sandbox that answers
every call after --sandbox-latency (default 100-200 ms, Tencent as seen from
a data centre), then times `reconcile` over them.

    Benchmarks/reconcile_bench.py [--accounts 20000] [--sandbox-latency 100-200]

Prints accounts/s, account_check calls and the most in any second, and fails
(exit 1) when reconcile does not confirm every account. Release build unless
ACCOUNT_GATEWAY_BIN says otherwise.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from stack import ROOT, get_json, prepare, start_sandbox  # noqa: E402

BIN = os.environ.get("ACCOUNT_GATEWAY_BIN", os.path.join(ROOT, ".build", "release", "account-gateway"))
LIMIT = 100 * 100  # account_check: calls/s x accounts per call


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--sandbox-latency", default="100-200", help="N or MIN-MAX milliseconds; 0 for none")
    args = parser.parse_args()

    env, logdir, sandbox_port, _ = prepare(BIN, "account_gateway_reconcile_bench", "reconcile-bench.", LOG_LEVEL="warning")
    latency = ["--latency-ms", args.sandbox_latency] if args.sandbox_latency != "0" else []
    sandbox = start_sandbox(BIN, env, logdir, sandbox_port, *latency)
    failures = []
    try:
        stats_url = f"http://127.0.0.1:{sandbox_port}/sandbox/stats"
        rows = os.path.join(logdir, "accounts.ndjson")
        with open(rows, "w") as f:
            for i in range(args.accounts):
                f.write(json.dumps({"user_id": f"reconcile_{i}"}) + "\n")
        imported = subprocess.run([BIN, "import", rows], env=env, capture_output=True, text=True)
        if imported.returncode != 0:
            sys.exit(f"reconcile_bench: import failed ({imported.returncode}): {imported.stderr[-500:]}")

        before = get_json(stats_url)
        started = time.monotonic()
        run = subprocess.run([BIN, "reconcile"], env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        stats = get_json(stats_url)
    finally:
        sandbox.terminate()
        sandbox.wait()

    calls = stats["calls"].get("account_check", 0)
    most = stats["max_calls_per_second"].get("account_check", 0)
    # The sandbox counts answers by code over every API: the import before reconcile has its own.
    import_too_fast = before["answers"].get("60007", 0)
    too_fast = stats["answers"].get("60007", 0) - import_too_fast
    rate = args.accounts / seconds
    print(f"reconcile_bench: {args.accounts:,} imported accounts, sandbox latency {args.sandbox_latency} ms")
    print(f"  reconcile                     exit {run.returncode} in {seconds:.1f} s: {run.stdout.strip()}")
    print(f"  accounts/s                    {rate:,.0f}  ({rate / LIMIT:.2f} of account_check's {LIMIT:,}/s)")
    print(f"  account_check calls           {calls}  (most in any second: {most}; 60007 answers: {too_fast})")
    print(f"  the import before it          60007 answers: {import_too_fast} (retried; not part of this figure)")
    if run.returncode != 0 or f"{args.accounts} confirmed" not in run.stdout:
        failures.append(f"reconcile did not confirm every account (exit {run.returncode})")
    for failure in failures:
        print(f"reconcile_bench: FAIL: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
