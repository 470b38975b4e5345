"""A tiny loopback stand-in for Kestra's HTTP API that records every request.

Only what test_python_sdk.py needs; the full simulator lives in tests/kestra-sim.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KestraStub:
    def __init__(self):
        self.requests = []
        self.kv = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                stub.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                path = self.path.split("?")[0]
                prefix = "/api/v1/main/namespaces/company.team/kv/"
                if path == "/api/v1/main/flows/search":
                    return self._answer(200, {"results": [{"id": "hello", "namespace": "company.team"}], "total": 1})
                if path.startswith(prefix):
                    key = path[len(prefix):]
                    if self.command == "PUT":
                        stub.kv[key] = json.loads(body)
                        return self._answer(200)
                    if self.command == "GET" and key in stub.kv:
                        return self._answer(200, {"type": "STRING", "value": stub.kv[key]})
                    return self._answer(404, {"message": f"No value found for key '{key}'"})
                return self._answer(404, {"message": "Not Found"})

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
