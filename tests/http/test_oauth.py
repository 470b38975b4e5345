"""`kestra-mcp serve --http` as an OAuth resource server, driven by the official Python MCP SDK
with a real OAuth bearer token: an authorization server's discovery document and JWKS served
on loopback, the token minted here with a key generated for the test (PyJWT, cryptography)."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from kestra_stub import KestraStub  # noqa: E402

HERE = os.path.dirname(__file__)
BINARY = os.environ.get("KESTRA_MCP_BIN", os.path.join(HERE, "../../target/debug/kestra-mcp"))
SCOPE = "kestra-mcp"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Issuer:
    """An authorization server's public side: OpenID discovery and JWKS on loopback."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "test-key", "alg": "RS256", "use": "sig"})
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                documents = {
                    "/realm/.well-known/openid-configuration": {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"},
                    "/realm/jwks": {"keys": [jwk]},
                }
                body = documents.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body or {}).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, audience, scope=f"openid {SCOPE}", sub="alice"):
        now = int(time.time())
        claims = {"iss": self.url, "aud": audience, "sub": sub, "iat": now, "nbf": now, "exp": now + 300, "scope": scope}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "test-key"})

    def close(self):
        self.server.shutdown()


@pytest.fixture
def kestra():
    stub = KestraStub()
    yield stub
    stub.close()


@pytest.fixture
def issuer():
    server = Issuer()
    yield server
    server.close()


@pytest.fixture
def server(kestra, issuer):
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    env = {"PATH": os.environ.get("PATH", ""), "KESTRA_BASE_URL": kestra.url, "KESTRA_API_TOKEN": "kestra-side-token",
           "KESTRA_MCP_OAUTH_ISSUER": issuer.url, "KESTRA_MCP_OAUTH_RESOURCE": resource,
           "KESTRA_MCP_OAUTH_SCOPES": SCOPE}
    proc = subprocess.Popen([os.path.abspath(BINARY), "serve", "--http", f"127.0.0.1:{port}"], env=env,
                            cwd=tempfile.mkdtemp(), stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield resource
    proc.terminate()
    proc.wait(timeout=10)


async def list_and_search(url, token):
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with client, streamable_http_client(url, http_client=client) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            found = await session.call_tool("search_flows", {"query": "hello"})
            return tools, found


def test_python_sdk_with_an_oauth_token_lists_and_calls_tools(server, issuer, kestra):
    token = issuer.token(audience=server)
    tools, found = anyio.run(list_and_search, server, token)
    assert len(tools.tools) == 39
    assert not found.is_error and json.loads(found.content[0].text)["total"] == 1
    sent = [r for r in kestra.requests if r[1].startswith("/api/v1/main/flows/search")]
    assert len(sent) == 1
    # Kestra sees kestra-mcp's own credentials, never the client's token.
    for _, _, headers, body in kestra.requests:
        assert headers.get("authorization") == "Bearer kestra-side-token"
        assert token not in json.dumps(headers) and token not in (body or "")


def test_the_metadata_is_public_and_a_token_for_another_audience_is_refused(server, issuer):
    base = server.rsplit("/mcp", 1)[0]
    with urllib.request.urlopen(f"{base}/.well-known/oauth-protected-resource/mcp", timeout=10) as answer:
        metadata = json.loads(answer.read())
    assert metadata["resource"] == server
    assert metadata["authorization_servers"] == [issuer.url]

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
    wrong = issuer.token(audience="https://other.example.com/mcp")
    request = urllib.request.Request(server, data=json.dumps(init).encode(), method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {wrong}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    challenge = refused.value.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge
