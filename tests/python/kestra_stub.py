"""A tiny loopback stand-in for Kestra's HTTP API that records every request.

Only what test_python_sdk.py needs; the full simulator lives in tests/kestra-sim.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KestraStub:
    def __init__(self, pace=1.5):
        self.requests = []
        self.kv = {}
        # Executions that progress over time: id -> (start time, flow id, killed).
        self.executions = {}
        self.pace = pace
        # Executions of `approval` resumed: id -> the resume request's body.
        self.resumed = {}
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

            def _stream(self, execution_id):
                """The follow stream: a `start` stub, `progress` at each change, `end` (as 1.3)."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(f'id: start\ndata: {{"id": "{execution_id}"}}\n\n'.encode())
                self.wfile.flush()
                last = None
                for _ in range(600):
                    execution = stub.execution(execution_id)
                    if execution != last:
                        ended = execution["state"]["current"] not in ("RUNNING", "CREATED")
                        name = "end" if ended else "progress"
                        try:
                            self.wfile.write(f"id: {name}\ndata: {json.dumps(execution)}\n\n".encode())
                            self.wfile.flush()
                        except OSError:
                            return
                        if ended:
                            return
                        last = execution
                    time.sleep(0.1)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                stub.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                path = self.path.split("?")[0]
                prefix = "/api/v1/main/namespaces/company.team/kv/"
                if self.command == "POST" and path in ("/api/v1/main/executions/company.team/slow",
                                                       "/api/v1/main/executions/company.team/endless",
                                                       "/api/v1/main/executions/company.team/approval"):
                    execution_id = f"e{len(stub.executions) + 1}"
                    stub.executions[execution_id] = [time.monotonic(), path.rsplit("/", 1)[1], False]
                    return self._answer(200, stub.execution(execution_id))
                parts = path.split("/")
                if len(parts) >= 6 and parts[4] == "executions" and parts[5] in stub.executions:
                    execution_id = parts[5]
                    if len(parts) == 6 and self.command == "GET":
                        return self._answer(200, stub.execution(execution_id))
                    if parts[6:] == ["follow"]:
                        return self._stream(execution_id)
                    if parts[6:] == ["resume"] and self.command == "POST":
                        stub.resumed[execution_id] = body
                        return self._answer(204)
                    if parts[6:] == ["kill"] and self.command == "DELETE":
                        stub.executions[execution_id][2] = True
                        return self._answer(202)
                if path == "/api/v1/main/flows/company.team/approval":
                    return self._answer(200, APPROVAL_FLOW)
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

    def execution(self, execution_id):
        """`slow`: three tasks, one ending every `pace` seconds; `endless` never ends;
        `approval` is paused at its Pause task until it is resumed, then ends."""
        started, flow, killed = self.executions[execution_id]
        if flow == "approval":
            return self.approval(execution_id)
        ended = min(3, int((time.monotonic() - started) / self.pace)) if flow == "slow" else 0
        runs = [{"id": f"r{i}", "taskId": f"t{i}", "state": {"current": "SUCCESS" if i < ended else "RUNNING"}}
                for i in range(min(3, ended + 1))]
        state = {"current": "KILLED"} if killed else (
            {"current": "SUCCESS", "duration": "PT4.5S"} if ended == 3 else {"current": "RUNNING"})
        return {"id": execution_id, "namespace": "company.team", "flowId": flow, "taskRunList": runs,
                "state": state, "outputs": {"answer": 42} if ended == 3 else {}}

    def approval(self, execution_id):
        resumed = execution_id in self.resumed
        history = [{"state": "CREATED"}, {"state": "RUNNING"}, {"state": "PAUSED"}]
        if resumed:
            history += [{"state": "RUNNING"}, {"state": "SUCCESS"}]
        current = "SUCCESS" if resumed else "PAUSED"
        return {"id": execution_id, "namespace": "company.team", "flowId": "approval",
                "taskRunList": [{"id": "r0", "taskId": "approve", "state": {"current": current}}],
                "state": {"current": current, "histories": history}}

    def close(self):
        self.server.shutdown()


# A flow whose Pause task asks for two onResume inputs (as Kestra 1.3 answers GET /flows/...).
APPROVAL_FLOW = {"id": "approval", "namespace": "company.team", "tasks": [
    {"id": "approve", "type": "io.kestra.plugin.core.flow.Pause", "onResume": [
        {"id": "approved", "type": "BOOL", "defaults": "true", "description": "Approve?"},
        {"id": "comment", "type": "STRING", "required": True}]}]}
