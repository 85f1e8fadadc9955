"""What the fault suite and the benchmarks share: a fresh database on the
throwaway PostgreSQL, a key, free ports, the binary's environment, readiness."""
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCALPG = os.path.join(ROOT, "scripts", "localpg.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} never became ready")


def start_sandbox(binary, env, logdir, port, *options):
    """`account-gateway sandbox` on 127.0.0.1:PORT with OPTIONS (faults, latency),
    logging to LOGDIR/sandbox.log; returns the process once it answers."""
    log = open(os.path.join(logdir, "sandbox.log"), "w")
    process = subprocess.Popen([binary, "sandbox", "--listen", f"127.0.0.1:{port}", *options], env=env, stdout=log,
                               stderr=log)
    try:
        wait_ready(f"http://127.0.0.1:{port}/sandbox/stats")
    except BaseException:
        process.terminate()
        process.wait()
        raise
    return process


def get_json(url):
    """The JSON answer of a GET that must succeed (raises otherwise)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def http(method, url, body=None, headers=None, timeout=15):
    """Returns (status, parsed JSON or None); status None when no answer came."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload or b"null")
        except ValueError:
            return error.code, None
    except Exception:  # noqa: BLE001 - connection refused/reset: no answer
        return None, None


def psql(database_url, sql):
    return subprocess.run(["psql", "-X", "-qtA", database_url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def prepare(binary, database, prefix, as_service_role=False, **extra_env):
    """A fresh, migrated database, a secret key, a sandbox port and an importer token.

    Returns (env, logdir, sandbox_port, token); `env` is what every process of the
    stack runs with (TENCENT_ENDPOINT points at the sandbox port). With
    `as_service_role`, `migrate --service-role gateway_service` grants that role
    and env's DATABASE_URL connects as it, as in production (it may read every
    table but change no schema); otherwise as the owner."""
    subprocess.run([LOCALPG, "psql", "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
                    "-c", f"CREATE DATABASE {database} OWNER gateway"], check=True, capture_output=True)
    database_url = subprocess.run([LOCALPG, "url", database], check=True, capture_output=True, text=True).stdout.strip()
    logdir = tempfile.mkdtemp(prefix=prefix)
    keyfile = os.path.join(logdir, "key")
    # Readable by its owner only: the gateway refuses a key file others may read.
    with os.fdopen(os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(os.urandom(32).hex())
    sandbox_port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, TENCENT_SDKAPPID="1400000000", TENCENT_SECRET_KEY_FILE=keyfile,
               TENCENT_ENDPOINT=f"http://127.0.0.1:{sandbox_port}", **extra_env)
    service = ["--service-role", "gateway_service"] if as_service_role else []
    subprocess.run([binary, "migrate", *service], env=env, check=True, capture_output=True)
    token = subprocess.run([binary, "caller", "add", prefix.strip(".-"), "--role", "importer"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    if as_service_role:
        env["DATABASE_URL"] = subprocess.run([LOCALPG, "service-url", database], check=True, capture_output=True,
                                             text=True).stdout.strip()
    return env, logdir, sandbox_port, token


class Gateway:
    """One sandbox and one `serve` on a fresh database, as the service role: what
    the checks of make test that need a live gateway start (`with Gateway(...)`).
    `owner_env` is the owner's environment, for `caller add`."""

    def __init__(self, binary, database, prefix, **extra_env):
        self.binary = binary
        self.env, self.logdir, self.sandbox_port, self.token = prepare(binary, database, prefix, as_service_role=True,
                                                                       **extra_env)
        owner_url = subprocess.run([LOCALPG, "url", database], check=True, capture_output=True, text=True).stdout.strip()
        self.owner_env = dict(self.env, DATABASE_URL=owner_url)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.processes = []

    def __enter__(self):
        self.processes = [start_sandbox(self.binary, self.env, self.logdir, self.sandbox_port)]
        self.processes.append(
            subprocess.Popen([self.binary, "serve"], env=dict(self.env, GATEWAY_LISTEN=f"127.0.0.1:{self.port}"),
                             stderr=open(os.path.join(self.logdir, "serve.log"), "w")))
        try:
            wait_ready(f"{self.base}/readyz")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
            process.wait()

    def caller(self, name, role):
        """A new caller's token, made as the owner."""
        return subprocess.run([self.binary, "caller", "add", name, "--role", role], env=self.owner_env, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]

    def sandbox_code(self, code, user_id=None):
        """Every call (or the imports of one UserID) answered with `code`."""
        path = f"/sandbox/accounts/{user_id}/code" if user_id else "/sandbox/code"
        request = urllib.request.Request(self.sandbox + path, data=json.dumps({"code": code}).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).read()
