#!/usr/bin/env python3
"""A stand-in for Tencent's REST API over HTTPS, for the TLS tests.

Usage: tls_upstream.py CERT_CHAIN_PEM KEY_PEM

Listens on 127.0.0.1 on a free port, prints the port on the first line of
stdout, and answers every POST with HTTP 200 and Tencent's "OK" body. It
runs until killed.
"""
import http.server
import ssl
import sys

BODY = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Tencent

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format, *args):
        pass  # a refused handshake is the expected outcome; keep the test output clean


def main():
    cert, key = sys.argv[1], sys.argv[2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
