"""Three (or N) kestra-mcp HTTP replicas behind HAProxy on loopback, against kestra-sim: for
tests/deploy/test_replicas.py and scripts/bench/replicas.py.

HAProxy balances round-robin and keeps a session on its replica with a stick table keyed by the
`Mcp-Session-Id` header: stored from the replica's answer to `initialize`, matched on every
later request of the session. A replica is taken out when `/readyz` stops answering. Its admin
socket tells the tests where each session lives and how many requests each replica served.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.abspath(os.environ.get("KESTRA_MCP_BIN", os.path.join(ROOT, "target", "debug", "kestra-mcp")))
SIM = os.path.abspath(os.environ.get("KESTRA_SIM_BIN", os.path.join(ROOT, "target", "debug", "kestra-sim")))
SIM_USER, SIM_PASSWORD = "admin@kestra.io", "kestra-sim"

HAPROXY_CONFIG = """
global
    stats socket {socket} mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    # A session whose replica is down goes to another one, which answers that it does not know
    # the session (404), rather than HAProxy answering 503 for as long as the replica is away.
    option redispatch
    retries 1

frontend mcp
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    stick-table type string len 128 size 100k expire 30m
    stick on req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} never listened on {port}")


class Replicas:
    def __init__(self, count=3, token="replicas-token", extra_env=None):
        self.count, self.token, self.extra_env = count, token, extra_env or {}
        self.procs, self.ports = {}, {}
        self.dir = tempfile.mkdtemp(prefix="replicas-")
        self.socket = os.path.join(self.dir, "haproxy.sock")

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        sim_port = free_port()
        self.procs["kestra-sim"] = subprocess.Popen(
            [SIM, "--kestra-version", "1.3", "--port", str(sim_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_listening(sim_port, self.procs["kestra-sim"], "kestra-sim")
        env = {"PATH": os.environ.get("PATH", ""), "KESTRA_BASE_URL": f"http://127.0.0.1:{sim_port}/api/v1",
               "KESTRA_USERNAME": SIM_USER, "KESTRA_PASSWORD": SIM_PASSWORD, "KESTRA_MCP_HTTP_TOKEN": self.token,
               "KESTRA_MCP_DISABLED_TOOLS": "ee", **self.extra_env}
        for i in range(1, self.count + 1):
            name, port = f"r{i}", free_port()
            self.ports[name] = port
            self.procs[name] = subprocess.Popen([BINARY, "serve", "--http", f"127.0.0.1:{port}"], env=env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, port in self.ports.items():
            wait_until_listening(port, self.procs[name], name)
        self.port = free_port()
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check inter 300ms fall 1 rise 1"
                            for name, port in self.ports.items())
        config = os.path.join(self.dir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write(HAPROXY_CONFIG.format(socket=self.socket, port=self.port, servers=servers))
        self.procs["haproxy"] = subprocess.Popen(["haproxy", "-db", "-f", config], stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE)
        wait_until_listening(self.port, self.procs["haproxy"], "haproxy")
        self._wait_all_up()
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    def _wait_all_up(self):
        for _ in range(100):
            states = self._stat_column("status")
            if states and all(states.get(n) == "UP" for n in self.ports):
                return
            time.sleep(0.1)
        raise RuntimeError(f"replicas not all UP in HAProxy: {self._stat_column('status')}")

    def admin(self, command):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.socket)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stick_table(self):
        """Session id -> the replica it is pinned to."""
        names = {str(i): name for i, name in enumerate(self.ports, start=1)}
        table = {}
        for line in self.admin("show table replicas").splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            if "key" in fields and "server_id" in fields:
                table[fields["key"]] = names.get(fields["server_id"], fields["server_id"])
        return table

    def _stat_column(self, column):
        lines = self.admin("show stat").splitlines()
        if not lines:
            return {}
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "replicas" and row.get("svname") in self.ports:
                out[row["svname"]] = row.get(column)
        return out

    def served(self):
        """Replica -> HTTP requests HAProxy sent it so far."""
        return {name: int(v or 0) for name, v in self._stat_column("stot").items()}

    def kill(self, name):
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def __exit__(self, *exc):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def ready(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200
