from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import pytest

from steering import httpserver
from steering.httpserver import HttpServer, Request, Response


def handler(req: Request) -> Response:
    if req.path == "/boom":
        raise RuntimeError("boom")
    body = f"{req.method} {req.path} q={dict(req.query)} xff={req.headers.get('x-forwarded-for')}"
    return Response(200, body.encode(), "text/plain", (("X-Peer", req.peer),))


@pytest.fixture
async def server() -> AsyncIterator[tuple[HttpServer, int]]:
    srv = HttpServer(handler, idle_timeout_s=0.5)
    port = await srv.start("127.0.0.1", 0)
    yield srv, port
    await srv.close()


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


async def test_get_with_query_and_headers(server: tuple[HttpServer, int]) -> None:
    _, port = server
    out = await exchange(port, b"GET /a/b?x=1&y=%2F&x=2 HTTP/1.1\r\nHost: h\r\n"
                               b"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n"
                               b"Connection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close" in head
    assert b"\r\nX-Peer: 127.0.0.1" in head
    assert b"\r\nDate: " in head and b"\r\nServer: ocdn-steering" in head
    assert body == b"GET /a/b q={'x': '1', 'y': '/'} xff=10.0.0.1, 10.0.0.2"


async def test_keep_alive_and_pipelining_answer_in_order(server: tuple[HttpServer, int]) -> None:
    _, port = server
    req = b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n"
    out = await exchange(port, b"".join(req % i for i in range(5))
                         + b"GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 OK") == 6
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in out.split(b"HTTP/1.1 ")[1:]]
    assert [b.split(b" ")[1] for b in bodies] == [b"/0", b"/1", b"/2", b"/3", b"/4", b"/last"]


async def test_http_10_closes_by_default(server: tuple[HttpServer, int]) -> None:
    _, port = server
    out = await exchange(port, b"GET /x HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in out


async def test_head_has_length_but_no_body(server: tuple[HttpServer, int]) -> None:
    _, port = server
    out = await exchange(port, b"HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(b"HEAD /x q={} xff=None") in head
    assert body == b""


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", b"405"),
    (b"GET x HTTP/1.1\r\nHost: h\r\n\r\n", b"400"),
    (b"GET /x HTTP/1.1\r\nHost h\r\n\r\n", b"400"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET /x HTTP/1.1\r\n" + b"X-A: " + b"b" * 17000 + b"\r\n\r\n", b"431"),
    (b"GET /x HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + b"z" * 70000, b"413"),
    (b"GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", b"200"),
    (b"GET /boom HTTP/1.1\r\nConnection: close\r\n\r\n", b"500"),
])
async def test_refusals(server: tuple[HttpServer, int], request_bytes: bytes,
                        status: bytes) -> None:
    _, port = server
    out = await exchange(port, request_bytes, until_close=status != b"405")
    assert out.startswith(b"HTTP/1.1 " + status), out[:200]


async def test_absent_or_extended_reason_phrases() -> None:
    raw = httpserver.render(Response(599, b"x"), head_only=False, close=False)
    assert raw.startswith(b"HTTP/1.1 599 Unknown\r\n")


async def test_idle_connections_are_closed(server: tuple[HttpServer, int]) -> None:
    srv, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    await reader.readuntil(b"/x q={} xff=None")
    assert len(srv.connections) == 1
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    assert not srv.connections


@pytest.mark.parametrize("qs", ["", "path=/a/b", "path=%2Fa%2Fb", "a=1&a=2&b=x+y", "flag",
                                "a=&b", "p=a=b", "x=%zz"])
def test_query_decoding_matches_parse_qsl(qs: str) -> None:
    expected: dict[str, str] = {}
    for k, v in parse_qsl(qs, keep_blank_values=True):
        expected.setdefault(k, v)
    assert dict(Request("GET", "/", qs, {}, "").query) == expected
