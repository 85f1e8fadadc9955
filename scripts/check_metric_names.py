#!/usr/bin/env python3
"""Every metric the alert rules (deploy/prometheus/alerts.yml) and the Grafana
dashboard (deploy/grafana/account-gateway.json) name must be one a live gateway
exposes: starts one (sandbox and serve, BIN default .build/debug/account-gateway),
sends a little of each kind of traffic, scrapes /metrics, and fails naming any
metric that is referred to but not exposed."""
import json, os, re, sys, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import ROOT, Gateway, http  # noqa: E402

BIN = os.environ.get("ACCOUNT_GATEWAY_BIN", os.path.join(ROOT, ".build/debug/account-gateway"))
NAME = re.compile(r"\bgateway_[a-z0-9_]+\b")


def referenced():
    names = {}
    with open(os.path.join(ROOT, "deploy/prometheus/alerts.yml")) as f:
        for name in NAME.findall(f.read()):
            names.setdefault(name, set()).add("alerts.yml")
    with open(os.path.join(ROOT, "deploy/grafana/account-gateway.json")) as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in NAME.findall(target["expr"]):
                names.setdefault(name, set()).add(f"dashboard panel '{panel['title']}'")
    return names


def main():
    names = referenced()
    with Gateway(BIN, "account_gateway_metric_names", "metric-names.", LOG_LEVEL="warning") as gateway:
        auth = {"Authorization": f"Bearer {gateway.token}", "Content-Type": "application/json"}
        http("POST", f"{gateway.base}/accounts", {"user_id": "names_1"}, auth)
        http("GET", f"{gateway.base}/accounts/names_1", None, {"Authorization": "Bearer not-a-token"})
        text = urllib.request.urlopen(f"{gateway.base}/metrics", timeout=5).read().decode()
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    missing = {name: where for name, where in names.items() if name not in exposed}
    print(f"check_metric_names: {len(names)} metrics named by the rules and the dashboard; {len(exposed)} series names exposed")
    for name, where in sorted(missing.items()):
        print(f"check_metric_names: {name} is named by {', '.join(sorted(where))} but /metrics does not expose it")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
