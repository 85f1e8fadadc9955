#!/usr/bin/env python3
"""Schemathesis against a live gateway (issue 11): the API description in
schema/openapi.yaml, tested against the answers of the real thing.

Starts a stack of its own (fresh database migrated with the service role, the
sandbox, one `serve` of BIN, default .build/debug/account-gateway), makes an
importer and an auditor token, then runs `schemathesis run` twice: the accounts
and operations routes with the importer's token, the audit route with the
auditor's. Every phase runs (examples, coverage, fuzzing, stateful, following the
description's links from POST /accounts to GET /accounts/{user_id}). It fails on
any 5xx, any answer that violates the description (status, headers, content
type, body schema), any invalid request accepted, and any link that breaks.

One check is left out, on purpose: `positive_data_acceptance` (ST202) expects
every schema-valid request to succeed, but whether a `user_id` is valid depends
on the deployment's GATEWAY_ID_STRATEGY (1-32 bytes of [A-Za-z0-9_-] under
`verbatim`, up to 256 bytes under `hashed`), a `face_url` must also have a host,
and an Idempotency-Key reused with another body is a documented 422.

Installs schemathesis from PyPI when it is missing.
    scripts/schemathesis_check.py [--max-examples N]
"""
import argparse, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import ROOT, Gateway  # noqa: E402

VERSION = "4.32.5"
BIN = os.environ.get("ACCOUNT_GATEWAY_BIN", os.path.join(ROOT, ".build/debug/account-gateway"))


def ensure_schemathesis():
    try:
        import schemathesis  # noqa: F401
        return
    except ImportError:
        pass
    print(f"schemathesis: installing {VERSION} from PyPI", flush=True)
    command = [sys.executable, "-m", "pip", "install", "-q", f"schemathesis=={VERSION}"]
    if subprocess.run(command).returncode != 0:
        subprocess.run(command + ["--break-system-packages"], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=40)
    args = parser.parse_args()
    ensure_schemathesis()
    failures = 0
    with Gateway(BIN, "account_gateway_schemathesis", "schemathesis.", LOG_LEVEL="warning", GATEWAY_WAIT_MS="500") as gateway:
        auditor = gateway.caller("schemathesis-auditor", "auditor")
        runs = [("importer", gateway.token, ["--include-tag", "accounts", "--include-tag", "operations"]),
                # The audit route has no links, so no stateful phase.
                ("auditor", auditor, ["--include-tag", "audit", "--phases", "examples,coverage,fuzzing"])]
        for name, token, selection in runs:
            command = [sys.executable, "-m", "schemathesis.cli", "run", os.path.join(ROOT, "schema/openapi.yaml"),
                       "--url", gateway.base, "-H", f"Authorization: Bearer {token}",
                       "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                       "--max-examples", str(args.max_examples), "--generation-deterministic",
                       "--no-color", *selection]
            print(f"schemathesis: {name} routes", flush=True)
            result = subprocess.run(command, capture_output=True, text=True)
            output = result.stdout + result.stderr
            # The token is filtered by schemathesis; never print it ourselves.
            summary = [line for line in output.splitlines() if "passed" in line or "failures" in line or "❌" in line]
            print("\n".join(summary[-12:]))
            if result.returncode != 0:
                failures += 1
                print(output.replace(token, "[token]")[-6000:])
        logdir = gateway.logdir
    print(f"schemathesis: {'FAILED' if failures else 'no failure'} (logs in {logdir})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
