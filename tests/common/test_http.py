"""common.http on a real socket: framing, keep-alive, pipelining, limits, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from email.utils import parsedate_to_datetime

import pytest

from common.http import REASONS, Connection, HttpServer, Request


def handler(req: Request, conn: Connection) -> Awaitable[None] | None:
    if req.path == b"/boom":
        raise RuntimeError("boom")
    if req.path.startswith(b"/slow"):
        return _slow(req, conn)
    body = (b"%s %s q=%s xff=%s" % (req.method.encode(), req.path, req.query,
                                    req.headers.get("x-forwarded-for", "-").encode()))
    conn.respond(200, [("Content-Type", "text/plain"), ("X-Peer", req.peer)], body,
                 head_only=req.method == "HEAD")
    return None


async def _slow(req: Request, conn: Connection) -> None:
    await asyncio.sleep(0.2)
    conn.respond(200, [], b"slow " + req.path)


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    srv = HttpServer(handler, keepalive_timeout_s=0.5, max_body_bytes=64 * 1024,
                     max_url_bytes=8 * 1024, server_name="test-server")
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop(grace_s=0.5)


async def exchange(port: int, data: bytes, until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        if until_close:
            return await asyncio.wait_for(reader.read(), 5)
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


def answers(raw: bytes) -> list[tuple[bytes, bytes]]:
    """(head, body) of each response in `raw`, framed by Content-Length."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        out.append((head, rest[:length]))
        raw = rest[length:]
    return out


async def test_get_with_query_and_headers(server: HttpServer) -> None:
    out = await exchange(server.port, b"GET /a/b?x=1&y=%2F#frag HTTP/1.1\r\nHost: h\r\n"
                                      b"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n"
                                      b"Connection: close\r\n\r\n")
    [(head, body)] = answers(out)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close" in head
    assert b"\r\nX-Peer: 127.0.0.1" in head
    assert b"\r\nDate: " in head and b"\r\nServer: test-server\r\n" in head
    assert body == b"GET /a/b q=x=1&y=%2F xff=10.0.0.1, 10.0.0.2"


async def test_keep_alive_and_pipelining_answer_in_order(server: HttpServer) -> None:
    req = b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n"
    out = await exchange(server.port, b"".join(req % i for i in range(5))
                         + b"GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    got = answers(out)
    assert [h.split(b"\r\n")[0] for h, _ in got] == [b"HTTP/1.1 200 OK"] * 6
    assert [b.split(b" ")[1] for _, b in got] == [b"/0", b"/1", b"/2", b"/3", b"/4", b"/last"]


async def test_pipelined_requests_wait_for_an_answer_that_awaits(server: HttpServer) -> None:
    out = await exchange(server.port, b"GET /slow1 HTTP/1.1\r\nHost: h\r\n\r\n"
                         b"GET /fast HTTP/1.1\r\nHost: h\r\n\r\n"
                         b"GET /slow2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert [b.split(b" ")[-1] if b.startswith(b"slow") else b.split(b" ")[1]
            for _, b in answers(out)] == [b"/slow1", b"/fast", b"/slow2"]


async def test_http_10_closes_by_default(server: HttpServer) -> None:
    out = await exchange(server.port, b"GET /x HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in out


async def test_head_has_length_but_no_body(server: HttpServer) -> None:
    out = await exchange(server.port, b"HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(b"HEAD /x q= xff=-") in head
    assert body == b""


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /x HTTP/1.1\r\nHost h\r\n\r\n", b"400"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET /x HTTP/1.1\r\n" + b"X-A: " + b"b" * 17000 + b"\r\n\r\n", b"431"),
    (b"GET /x HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + b"z" * 70000, b"413"),
    (b"GET /boom HTTP/1.1\r\nHost: h\r\n\r\n", b"500"),
])
async def test_refusals_answer_then_close(server: HttpServer, request_bytes: bytes,
                                          status: bytes) -> None:
    out = await exchange(server.port, request_bytes)  # returns only once the server closes
    [(head, _)] = answers(out)
    assert head.startswith(b"HTTP/1.1 " + status), out[:200]
    assert b"\r\nConnection: close" in head


async def test_upgrade_is_answered_once_then_the_connection_closes(server: HttpServer) -> None:
    out = await exchange(server.port, b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                                      b"Upgrade: websocket\r\n\r\nnot http at all")
    [(head, body)] = answers(out)
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"GET /x q= xff=-"


async def test_idle_connections_are_closed(server: HttpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    await reader.readuntil(b"/x q= xff=-")
    assert len(server.connections) == 1
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    assert not server.connections


async def test_stop_lets_a_running_answer_finish(server: HttpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.05)
    await server.stop(grace_s=2.0)
    out = await asyncio.wait_for(reader.read(), 3)
    writer.close()
    [(head, body)] = answers(out)
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"slow /slow"


def test_reason_phrases_follow_rfc_9110() -> None:
    assert (REASONS[413], REASONS[414], REASONS[416]) == (
        "Content Too Large", "URI Too Long", "Range Not Satisfiable")


async def test_the_date_header_follows_the_clock(server: HttpServer) -> None:
    seen = []
    for _ in range(2):
        out = await exchange(server.port, b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
        head = out.partition(b"\r\n\r\n")[0].decode()
        date = next(line[6:] for line in head.split("\r\n") if line.startswith("Date: "))
        when = parsedate_to_datetime(date).timestamp()
        assert abs(when - time.time()) < 2.0  # whole seconds, renewed every second
        seen.append(when)
        await asyncio.sleep(1.5)
    assert seen[1] > seen[0]


def _big(req: Request, conn: Connection) -> None:
    conn.respond(200, [("Content-Type", "application/octet-stream")], bytes(32 << 20))


async def _small_window_connection(port: int) -> tuple[asyncio.StreamReader,
                                                         asyncio.StreamWriter]:
    """A client whose kernel buffers little, so that what it does not read stays unsent."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock, limit=64 << 10)


async def _read_all(reader: asyncio.StreamReader) -> int:
    got = 0
    with contextlib.suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(1 << 20), 5):
            got += len(chunk)
    return got


@pytest.fixture
async def big_server() -> AsyncIterator[HttpServer]:
    """Answers 32 MiB to anything; cuts a client that reads nothing for a second."""
    srv = HttpServer(_big, keepalive_timeout_s=30.0, send_timeout_s=1.0)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop(grace_s=0.5)


async def test_a_client_that_stops_reading_is_cut_off(big_server: HttpServer) -> None:
    srv = big_server
    reader, writer = await _small_window_connection(srv.port)
    writer.write(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
    await reader.read(1000)  # the answer started; then this client reads nothing
    deadline = time.monotonic() + 6
    while srv.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not srv.connections and srv.send_timeouts == 1
    got = await _read_all(reader)  # what was in flight, then the cut
    assert got < 32 << 20
    writer.close()


async def test_a_slow_reader_that_keeps_reading_is_not_cut_off(big_server: HttpServer) -> None:
    srv = big_server
    reader, writer = await _small_window_connection(srv.port)
    writer.write(b"GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    got = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.5:  # ~2.5 MiB/s: the answer takes ~13 s
        got += len(await asyncio.wait_for(reader.read(256 << 10), 5))
        await asyncio.sleep(0.1)
    assert srv.send_timeouts == 0 and len(srv.connections) == 1
    got += await _read_all(reader)
    assert got > 32 << 20  # the whole body and its head
    writer.close()
