"""Several replicas behind a load balancer (issue 22): three `kestra-mcp serve --http` on
loopback behind HAProxy (Debian's package), with the official Python SDK as the client.

- Sessions (the handshake revisions, `Mcp-Session-Id`): HAProxy keeps each session on the
  replica that created it (a stick table keyed by the header the replica answered with), so many
  sessions at once spread over the replicas and every call works.
- A replica killed mid-session: the client's next call fails with a clear error (the session
  lived there; the replica HAProxy sends it to instead does not know it), and a new session
  works on a replica still alive.
- Sessionless (2026-07-28): every request stands alone, so requests of one client spread over
  the replicas with no stickiness at all, and all succeed.

Throughput with 1 and 3 replicas is a benchmark (scripts/bench/replicas.py), not a timed test.
"""

import os
import shutil
import sys
import time

import anyio
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, os.path.dirname(__file__))
from replicas import Replicas  # noqa: E402

TOKEN = "replicas-token"


@pytest.fixture
def cluster():
    if not shutil.which("haproxy"):
        if os.geteuid() != 0:
            pytest.skip("haproxy is not installed and installing Debian's package needs root")
        pytest.fail("haproxy is not installed: scripts/test.sh installs Debian's package (as root)")
    with Replicas(count=3, token=TOKEN) as replicas:
        yield replicas


def client():
    return create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})


async def handshake_session(url, calls=2):
    async with client() as http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            results = [await session.call_tool("list_namespaces", {}) for _ in range(calls)]
            return len(tools.tools), results


def test_sessions_stick_to_the_replica_that_created_them_and_spread_over_replicas(cluster):
    async def many():
        out = []

        async def one():
            out.append(await handshake_session(cluster.url))

        async with anyio.create_task_group() as tg:
            for _ in range(9):
                tg.start_soon(one)
        return out

    sessions = anyio.run(many)
    assert len(sessions) == 9
    for tools, results in sessions:
        assert tools >= 29
        assert not any(r.is_error for r in results), [r.content[0].text for r in results if r.is_error]
    # Each session id a replica answered is pinned to that replica, and the nine spread.
    table = cluster.stick_table()
    assert len(table) == 9, table
    assert len(set(table.values())) >= 2, f"all sessions on one replica: {table}"


def test_a_replica_killed_mid_session_gives_a_clear_error_and_a_new_session_works(cluster):
    async def scenario():
        known = set(cluster.stick_table())
        async with client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                first = await session.call_tool("list_namespaces", {})
                (ours,) = [sid for sid in cluster.stick_table() if sid not in known]
                holder = cluster.stick_table()[ours]
                cluster.kill(holder)
                started = time.monotonic()
                try:
                    with anyio.fail_after(30):
                        after = await session.call_tool("list_namespaces", {})
                    error = None
                except Exception as e:  # noqa: BLE001 (what the SDK raises is the point)
                    after, error = None, e
                return first, holder, after, error, time.monotonic() - started

    first, holder, after, error, took = anyio.run(scenario)
    assert not first.is_error
    # The session is gone with its replica: the call fails (an exception, or an error result),
    # quickly, saying why; it never silently runs somewhere else.
    message = str(error) if error else (after.content[0].text if after.is_error else "")
    assert error or after.is_error, after
    assert "session" in message.lower() or "404" in message or "503" in message, message
    assert took < 25, took
    # A new session lands on a replica that is alive and works.
    known = set(cluster.stick_table())
    tools, results = anyio.run(handshake_session, cluster.url)
    (new,) = [sid for sid in cluster.stick_table() if sid not in known]
    assert cluster.stick_table()[new] != holder
    assert not any(r.is_error for r in results)


def test_sessionless_requests_spread_over_replicas_without_stickiness(cluster):
    before = cluster.served()

    async def scenario():
        async with client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.discover()
                results = [await session.call_tool("list_namespaces", {}) for _ in range(9)]
                return session.protocol_version, results

    version, results = anyio.run(scenario)
    assert version == "2026-07-28"
    assert not any(r.is_error for r in results), [r.content[0].text for r in results if r.is_error]
    after = cluster.served()
    grew = [name for name in after if after[name] > before.get(name, 0)]
    assert len(grew) >= 2, f"requests per replica before {before}, after {after}"
