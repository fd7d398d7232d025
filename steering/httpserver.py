"""A lean HTTP/1.1 server for steering's small, synchronous answers.

Why not aiohttp.web: on this project's 2-core KVM box a hello-world aiohttp.web app
answers 4.8k requests/s on one core (a Task, a StreamResponse and a writer per request),
a bare uvloop protocol 30k. A steering decision costs ~30 µs, so the framework would
be 80% of the cost, and with wrk's 64 closed-loop connections p99 <= 5 ms needs more
than 64 / 5 ms = 12.8k answers/s. Every steering handler is pure CPU (decide, sign,
serialise) with no await, so the server calls it inline from `data_received`: no task,
no future, one `transport.write` per response, and pipelined requests are answered in
order for free.

What it does: GET and HEAD (others get 405), keep-alive by HTTP version and
`Connection` as httptools reports (an `Upgrade` is answered as if absent, then the
connection closes), a cap on the request head (8 KiB URL, 16 KiB
headers: 431) and on a request body (64 KiB, discarded: 413), 400 on a parse error,
then close. Reading pauses while the peer is not reading its answers (asyncio's
write-buffer high-water mark), and connections idle for `idle_timeout_s` are closed by a
sweep every second rather than a timer per request. It knows nothing of steering:
a handler takes a `Request` and returns a `Response`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qsl

import httptools

log = logging.getLogger("ocdn.steering.http")

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
SERVER = "ocdn-steering"


@dataclass(slots=True)
class Request:
    method: str
    path: str  # as sent: percent-escapes kept, no query
    query_string: str
    headers: Mapping[str, str]  # lower-case names; repeats joined with ", "
    peer: str
    _query: dict[str, str] | None = None

    @property
    def query(self) -> Mapping[str, str]:
        """Decoded query parameters; the first of repeated names wins."""
        if self._query is None:
            qs = self.query_string
            q: dict[str, str] = {}
            if "&" not in qs and "%" not in qs and "+" not in qs:
                if qs:
                    name, _, value = qs.partition("=")
                    q[name] = value
            else:
                for k, v in parse_qsl(qs, keep_blank_values=True):
                    q.setdefault(k, v)
            self._query = q
        return self._query


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


Handler = Callable[[Request], Response]
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class _Clock:
    """The Date header, formatted once per second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def date(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = email.utils.formatdate(now, usegmt=True)
        return self._value


_clock = _Clock()


def render(resp: Response, head_only: bool, close: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
        f"Date: {_clock.date()}",
        f"Server: {SERVER}",
        f"Content-Length: {len(resp.body)}",
    ]
    if resp.body or resp.status >= 300:
        lines.append(f"Content-Type: {resp.content_type}")
    lines.extend(f"{k}: {v}" for k, v in resp.headers)
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + resp.body


def _plain(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode(), "text/plain; charset=utf-8")


class _Connection(asyncio.Protocol):
    __slots__ = ("_body", "_closing", "_handler", "_header_bytes", "_headers", "_parser",
                 "_server", "_transport", "_url", "idle_since", "peer")

    def __init__(self, handler: Handler, server: HttpServer) -> None:
        self._handler = handler
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body = 0
        self._closing = False
        self.peer = ""
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.idle_since = time.monotonic()
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close()  # answered, upgrade ignored (RFC 9110 §7.8); the rest is not HTTP
        except httptools.HttpParserError as exc:
            refused = exc.__context__ if isinstance(exc.__context__, _Refused) else None
            resp = refused.response if refused else _plain(400, f"bad request: {exc}")
            self._finish(resp, head_only=False, close=True)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._header_bytes = 0
        self._body = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL_BYTES:
            raise _Refused(_plain(414, "URI too long"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            raise _Refused(_plain(431, "request header fields too large"))
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self._headers.get(key)
        self._headers[key] = text if old is None else f"{old}, {text}"

    def on_body(self, body: bytes) -> None:
        self._body += len(body)
        if self._body > MAX_BODY_BYTES:
            raise _Refused(_plain(413, "request body too large"))

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode("latin-1")
        keep_alive = self._parser.should_keep_alive() and not self._server.closing
        path, _, query = self._url.decode("latin-1").partition("?")
        if method not in ("GET", "HEAD"):
            resp = _plain(405, "method not allowed")
            resp.headers = (("Allow", "GET, HEAD"),)
        elif not path.startswith("/"):
            resp = _plain(400, "request target must be a path")
        else:
            request = Request(method, path.partition("#")[0], query, self._headers, self.peer)
            try:
                resp = self._handler(request)
            except Exception:
                log.exception("handler failed for %s %s", method, path)
                resp = _plain(500, "internal error")
        self._finish(resp, head_only=method == "HEAD", close=not keep_alive)

    def _finish(self, resp: Response, head_only: bool, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(render(resp, head_only, close))
        if close:
            self._close()

    def _close(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def close_if_idle(self, before: float) -> None:
        if self.idle_since < before and self._transport is not None:
            self._transport.close()


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class HttpServer:
    """Serves `handler` on a socket; `start()` binds, `close()` stops and drops connections."""

    def __init__(self, handler: Handler, idle_timeout_s: float = 75.0) -> None:
        self.handler = handler
        self.idle_timeout_s = idle_timeout_s
        self.connections: set[_Connection] = set()
        self.closing = False
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int, backlog: int = 1024) -> int:
        """Listen; returns the bound port (useful when `port` is 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self.handler, self), host, port, backlog=backlog,
            reuse_address=True)
        self._sweeper = loop.create_task(self._sweep())
        return int(self._server.sockets[0].getsockname()[1])

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            before = time.monotonic() - self.idle_timeout_s
            for conn in list(self.connections):
                conn.close_if_idle(before)

    async def close(self) -> None:
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close_if_idle(float("inf"))
        if self._server is not None:
            await self._server.wait_closed()
