#!/usr/bin/env python3
"""GET /status in a real browser (issue 12): headless Chromium renders the page
of a gateway with live traffic; every number the page marks with `data-metric`
must equal the same series in /metrics, and a screenshot is kept in
.local/artifacts/status.png.

Installs Debian's chromium when it is missing and this is root with apt-get;
otherwise it says so and skips (exit 0), since the browser is not part of the
product. BIN defaults to .build/debug/account-gateway.
"""
import html.parser, os, re, shutil, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import ROOT, Gateway, http  # noqa: E402

BIN = os.environ.get("ACCOUNT_GATEWAY_BIN", os.path.join(ROOT, ".build/debug/account-gateway"))
ARTIFACTS = os.path.join(ROOT, ".local", "artifacts")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("status: installing chromium (apt-get)", flush=True)
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], **quiet)
    return shutil.which("chromium")


class Marked(html.parser.HTMLParser):
    """Collects (metric, labels, text) of every element with data-metric."""
    def __init__(self):
        super().__init__()
        self.found, self._open = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-metric" in attrs:
            self._open = [attrs["data-metric"], attrs.get("data-labels", ""), attrs.get("data-value"), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[3] += data

    def handle_endtag(self, tag):
        if self._open is not None:
            metric, labels, value, text = self._open
            self.found.append((metric, labels, value if value is not None else text.strip()))
            self._open = None


def metrics_values(text):
    values = {}
    for line in text.splitlines():
        match = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if match:
            labels = ",".join(f"{k}={v}" for k, v in re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            values[(match.group(1), labels)] = float(match.group(3))
    return values


def main():
    chromium = find_chromium()
    if not chromium:
        print("status: SKIPPED - no chromium here and it cannot be installed (not root, or no apt-get)")
        return
    with Gateway(BIN, "account_gateway_status", "status-page.", LOG_LEVEL="warning", GATEWAY_WAIT_MS="2000") as gateway:
        base, token = gateway.base, gateway.token
        # Live traffic: imports, a profile change, an invalid body, and one Tencent refuses for good.
        gateway.sandbox_code(70402, user_id="status_refused")
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for body in [{"user_id": f"status_{i}"} for i in range(8)] + [{"user_id": "status_1", "nick": "Changed"},
                                                                         {"user_id": "status_refused"}, {"user_id": 5}]:
            http("POST", f"{base}/accounts", body, auth)
        time.sleep(6)  # one backlog count by the maintenance loop
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "status.png")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
        dom = subprocess.run([chromium, *flags, "--dump-dom", f"{base}/status"], capture_output=True, text=True,
                             timeout=60).stdout
        subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1100,1300", f"{base}/status"],
                       capture_output=True, timeout=60)
        metrics = metrics_values(urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode())

    parser = Marked()
    parser.feed(dom)
    failures = []
    if "<h1>account-gateway</h1>" not in dom:
        failures.append("the browser did not render the page")
    for metric, labels, shown in parser.found:
        expected = metrics.get((metric, labels))
        if expected is None:
            failures.append(f"{metric}{{{labels}}} is on the page but not in /metrics")
        elif abs(float(shown) - expected) > (5 if metric == "gateway_pending_oldest_seconds" else 0):
            failures.append(f"{metric}{{{labels}}}: page {shown}, /metrics {expected:g}")
    imported = metrics.get(("gateway_imports_total", "outcome=imported"), 0)
    if imported < 8 or not any(m == "gateway_imports_total" for m, _, _ in parser.found):
        failures.append(f"the traffic did not show: {imported:g} imported")
    for secret in ("status_refused", "status_1", "Changed", token):
        if secret in dom:
            failures.append("account data or a token on the page")
    size = os.path.getsize(shot) if os.path.exists(shot) else 0
    if size < 5000:
        failures.append(f"no screenshot ({size} bytes)")
    print(f"status: {len(parser.found)} numbers on the page checked against /metrics; screenshot {shot} ({size} bytes)")
    for failure in failures:
        print(f"status: FAIL {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
