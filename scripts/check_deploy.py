#!/usr/bin/env python3
"""The deploy files, checked as far as this machine allows without a registry:

* every Kubernetes manifest in deploy/kubernetes with `kubernetes-validate
  --strict` (installed from PyPI when missing), and their images tagged with
  this build's version;
* every alert's runbook link leads to a heading of docs/OPERATIONS.md;
* the Dockerfile: multi-stage, a release build with the static Swift standard
  library, a non-root numeric USER, a HEALTHCHECK, no `latest` tag, apt lists
  removed; and its runtime stage installs the Debian package of every shared
  library the binary (and the Swift libraries it loads, static in the image)
  needs, found with `readelf` and `dpkg -S` on the built binary.
"""
import glob, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ACCOUNT_GATEWAY_BIN", os.path.join(ROOT, ".build/debug/account-gateway"))
# In debian:bookworm-slim already (essential packages).
BASE = {"libc6", "libstdc++6", "libgcc-s1"}
failures = []


def check_kubernetes():
    try:
        import kubernetes_validate  # noqa: F401
    except ImportError:
        command = [sys.executable, "-m", "pip", "install", "-q", "kubernetes-validate==1.37.0"]
        if subprocess.run(command).returncode != 0:
            subprocess.run(command + ["--break-system-packages"], check=True)
    manifests = sorted(glob.glob(os.path.join(ROOT, "deploy/kubernetes/*.yaml")))
    result = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", *manifests],
                            capture_output=True, text=True)
    if result.returncode != 0:
        failures.append("kubernetes-validate --strict:\n" + result.stdout + result.stderr)
    version = re.search(r'current = "([^"]+)"', open(os.path.join(ROOT, "Sources/Gateway/Observability/GatewayVersion.swift")).read()).group(1)
    for manifest in manifests:
        for image in re.findall(r"image: (\S+)", open(manifest).read()):
            if not image.endswith(":" + version):
                failures.append(f"{os.path.basename(manifest)}: image {image} is not tagged {version}")
    print(f"check_deploy: {len(manifests)} manifests validated (kubernetes-validate --strict)")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def package_of(library):
    for directory in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"):
        path = os.path.join(directory, library)
        if os.path.exists(path):
            out = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True).stdout
            if not out:
                out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
            if out:
                return out.split(":")[0]
    return None


def check_dockerfile():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    runtime = text[text.rfind("\nFROM "):]
    checks = {
        "multi-stage (a build stage and a runtime stage)": len(stages) >= 2,
        "release build with --static-swift-stdlib": "-c release" in text and "--static-swift-stdlib" in text,
        "no image tagged latest or untagged": all(":" in image and not image.endswith(":latest") for image, _ in stages),
        "runtime runs as a numeric non-root USER": bool(re.search(r"^USER\s+[1-9]\d*(:\d+)?\s*$", runtime, re.M)),
        "runtime has a HEALTHCHECK on /healthz": "HEALTHCHECK" in runtime and "/healthz" in runtime,
        "apt lists removed in every layer that installs": text.count("apt-get install") == text.count("rm -rf /var/lib/apt/lists/*"),
        "CA certificates in the runtime": "ca-certificates" in runtime,
        "the binary is copied from the build stage": "COPY --from=build" in runtime,
    }
    for what, ok in checks.items():
        if not ok:
            failures.append(f"Dockerfile: not {what}")
    installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", " ".join(re.findall(r"apt-get install[^\n]*(?:\\\n[^\n]*)*", runtime))))
    libraries = set(needed(BIN))
    for library in list(libraries):
        if library.startswith(("libswift", "libFoundation", "libdispatch", "libBlocks", "lib_Foundation", "libTesting")):
            libraries.discard(library)
            swift = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
            path = re.search(rf"{re.escape(library)} => (\S+)", swift)
            if path:
                libraries |= {dep for dep in needed(path.group(1)) if not dep.startswith(("libswift", "libFoundation", "libdispatch", "libBlocks", "lib_Foundation"))}
    packages = {}
    for library in sorted(libraries):
        package = package_of(library)
        if package is None:
            failures.append(f"Dockerfile: cannot tell which package provides {library}")
        elif package not in BASE:
            packages[library] = package
    for library, package in sorted(packages.items()):
        if package not in installed:
            failures.append(f"Dockerfile: the runtime stage does not install {package} (for {library})")
    print(f"check_deploy: Dockerfile checked; the runtime provides {', '.join(sorted(set(packages.values())))} "
          f"for {', '.join(sorted(packages))}")


def check_runbooks():
    """Every alert's runbook link points at a heading of docs/OPERATIONS.md."""
    guide = open(os.path.join(ROOT, "docs/OPERATIONS.md")).read()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", guide, re.M)}
    links = re.findall(r'runbook: "docs/OPERATIONS.md#([^"]+)"', open(os.path.join(ROOT, "deploy/prometheus/alerts.yml")).read())
    for anchor in links:
        if anchor not in anchors:
            failures.append(f"alerts.yml: runbook #{anchor} has no heading in docs/OPERATIONS.md")
    print(f"check_deploy: {len(links)} runbook links lead to docs/OPERATIONS.md headings")


check_kubernetes()
check_dockerfile()
check_runbooks()
for failure in failures:
    print(f"check_deploy: FAIL {failure}")
sys.exit(1 if failures else 0)
