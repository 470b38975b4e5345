#!/usr/bin/env python3
"""A stand-in Kestra API for the benchmarks: answers at once, over HTTP/1.1 with keep-alive.

GET .../flows/<namespace>   -> 200 `[]`  (after SLOW_SECONDS when the namespace is `slow`)
GET .../configs             -> 200 {"version": "1.3.0"}
anything else               -> 200 `{}`

It is an asyncio protocol rather than http.server so that it is not the bottleneck of the
throughput runs (one Python thread serves tens of thousands of small requests per second).
It prints `PORT <n>` on stdout once listening and runs until killed or its stdin closes.
"""

import asyncio
import sys

SLOW_SECONDS = 1.0


def answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


EMPTY_LIST = answer(b"[]")
CONFIGS = answer(b'{"version": "1.3.0"}')
EMPTY_OBJECT = answer(b"{}")


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
        # Answers must go out in request order even when one of them is delayed.
        self.queue: list[asyncio.Future] = []

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            self.handle(head.split(b" ", 2)[1] if b" " in head else b"/")

    def handle(self, path: bytes):
        path = path.split(b"?", 1)[0]
        if b"/flows/" in path:
            reply = EMPTY_LIST
        elif path.endswith(b"/configs"):
            reply = CONFIGS
        else:
            reply = EMPTY_OBJECT
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.queue.append(fut)
        if path.endswith(b"/flows/slow"):
            loop.call_later(SLOW_SECONDS, fut.set_result, reply)
        else:
            fut.set_result(reply)
        self.flush()

    def flush(self):
        while self.queue and self.queue[0].done():
            self.transport.write(self.queue.pop(0).result())
        if self.queue:
            self.queue[0].add_done_callback(lambda _f: self.flush())


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    stdin_closed = loop.create_future()

    def watch_stdin():
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set_result, None)

    loop.run_in_executor(None, watch_stdin)
    await stdin_closed
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
