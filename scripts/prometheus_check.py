#!/usr/bin/env python3
"""A real Prometheus against a live gateway (issue 12): Debian's `prometheus`
scrapes one `serve` every second and evaluates deploy/prometheus/alerts.yml;
the sandbox then answers every call with 70009 (a UserSig the app does not
accept: misconfiguration), an import is sent, and AccountGatewayUpstreamMisconfigured
must go pending and then fire, after its `for: 1m` (asked through Prometheus's
HTTP API; about 70 s).

Installs the package when missing and this is root with apt-get; otherwise says
so and skips (exit 0). BIN defaults to .build/debug/account-gateway.
"""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import ROOT, Gateway, free_port, http  # noqa: E402

BIN = os.environ.get("ACCOUNT_GATEWAY_BIN", os.path.join(ROOT, ".build/debug/account-gateway"))
ALERT = "AccountGatewayUpstreamMisconfigured"


def find_prometheus():
    if not shutil.which("prometheus") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("prometheus: installing the Debian package", flush=True)
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if subprocess.run(["apt-get", "install", "-y", "-q", "prometheus"], **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-q", "prometheus"], **quiet)
    return shutil.which("prometheus"), shutil.which("promtool")


def main():
    prometheus, promtool = find_prometheus()
    if not prometheus:
        print("prometheus: SKIPPED - the prometheus package is not installed and cannot be (not root, or no apt-get)")
        return
    rules = os.path.join(ROOT, "deploy/prometheus")
    subprocess.run([promtool, "check", "rules", os.path.join(rules, "alerts.yml")], check=True)
    subprocess.run([promtool, "test", "rules", os.path.join(rules, "alerts_test.yml")], check=True, cwd=rules)
    with Gateway(BIN, "account_gateway_prometheus", "prometheus.", LOG_LEVEL="warning", GATEWAY_WAIT_MS="300") as gateway:
        work = tempfile.mkdtemp(prefix="prometheus-check.")
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {os.path.join(rules, "alerts.yml")}
scrape_configs:
  - job_name: account-gateway
    static_configs:
      - targets: ["127.0.0.1:{gateway.port}"]
""")
        port = free_port()
        server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={work}/data",
                                   f"--web.listen-address=127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "prometheus.log"), "w"))
        state = None
        try:
            gateway.sandbox_code(70009)
            http("POST", f"{gateway.base}/accounts", {"user_id": "prometheus_probe"},
                 {"Authorization": f"Bearer {gateway.token}", "Content-Type": "application/json"})
            deadline = time.monotonic() + 120
            seen = set()
            while time.monotonic() < deadline and state != "firing":
                time.sleep(1)
                try:
                    answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=2))
                except OSError:
                    continue
                state = next((a["state"] for a in answer["data"]["alerts"] if a["labels"]["alertname"] == ALERT), None)
                if state:
                    seen.add(state)
        finally:
            server.terminate()
            server.wait()
    print(f"prometheus: {ALERT} went {' then '.join(sorted(seen, reverse=True)) or 'nowhere'} after the sandbox answered 70009")
    sys.exit(0 if state == "firing" and "pending" in seen else 1)


if __name__ == "__main__":
    main()
