#!/usr/bin/env python3
"""An independent check of the UserSig the gateway sends.

A minimal stand-in for Tencent's account_import, written in Python from
TENCENT.md alone (no code shared with the Swift implementation). It answers
OK only when the request's usersig verifies: right identifier and sdkappid,
not expired, HMAC-SHA256 over the documented content. Used by scripts/e2e.sh.

    tencent_verifier.py PORT SDKAPPID KEYFILE [ADMIN]
"""
import base64
import hashlib
import hmac
import json
import sys
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def verify(usersig, identifier, sdkappid, key, now=None):
    """Returns None when valid, else the reason."""
    now = int(time.time()) if now is None else now
    try:
        raw = base64.b64decode(usersig.replace("*", "+").replace("-", "/").replace("_", "="), validate=True)
        doc = json.loads(zlib.decompress(raw).decode("utf-8"))
    except Exception as error:  # noqa: BLE001 - any decoding failure is a bad signature
        return f"undecodable: {error}"
    if doc.get("TLS.ver") != "2.0":
        return "version"
    if doc.get("TLS.identifier") != identifier:
        return "identifier"
    if doc.get("TLS.sdkappid") != sdkappid:
        return "sdkappid"
    issued, expire = doc.get("TLS.time"), doc.get("TLS.expire")
    if not isinstance(issued, int) or not isinstance(expire, int) or now > issued + expire:
        return "expired"
    content = f"TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{issued}\nTLS.expire:{expire}\n"
    expected = base64.b64encode(hmac.new(key.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, doc.get("TLS.sig", "")):
        return "signature"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    verified = 0

    def do_POST(self):  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if url.path == "/verified":
            return self.answer({"verified": Handler.verified})
        problem = None
        if url.path != "/v4/im_open_login_svc/account_import" or query.get("contenttype") != "json":
            problem = (60002, "bad url")
        elif query.get("sdkappid") != str(SDKAPPID) or query.get("identifier") != ADMIN:
            problem = (70014, "sdkappid or identifier")
        elif not 0 <= int(query.get("random", "-1")) <= 4294967295:
            problem = (60002, "random")
        else:
            reason = verify(query.get("usersig", ""), ADMIN, SDKAPPID, KEY)
            if reason:
                problem = (70009, f"usersig rejected: {reason}")
            elif "UserID" not in json.loads(body or b"{}"):
                problem = (70402, "UserID missing")
        if problem:
            return self.answer({"ActionStatus": "FAIL", "ErrorCode": problem[0], "ErrorInfo": problem[1]})
        Handler.verified += 1
        self.answer({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    def do_GET(self):  # noqa: N802
        self.answer({"verified": Handler.verified})

    def answer(self, document):
        data = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    PORT, SDKAPPID = int(sys.argv[1]), int(sys.argv[2])
    KEY = open(sys.argv[3], encoding="utf-8").read().strip()
    ADMIN = sys.argv[4] if len(sys.argv) > 4 else "administrator"
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
