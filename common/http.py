"""The services' HTTP/1.1 server: httptools parses, one asyncio Protocol per connection.

Why not aiohttp.web: on 64 KiB range hits from the page cache, a bare uvloop protocol with
httptools and pread + one write served 45–53k req/s where aiohttp's low-level server did
30k and FileResponse 9k (DESIGN.md); a steering decision costs ~30 µs where aiohttp.web's
Task, StreamResponse and writer per request cost ~170. The per-request cost decides, so
this layer does the minimum: parse, hand a `Request` to the application, and give it a
`Connection` to write to. The application may answer synchronously (a hit or a steering
decision: headers and body in one write, no task, no await) or return a coroutine, which
runs as a task while further pipelined requests wait their turn. The edge and steering
both run on it; it knows nothing of either.

What it enforces for every application: request target at most `max_url_bytes` (414),
header fields at most 16 KiB (431), bodies only up to `max_body_bytes` (413), 400 on a
parse error, then close; an `Upgrade` request is answered as if the header were absent,
then the connection closes (RFC 9110 §7.8: the server may ignore it). Idle keep-alive
connections close after `keepalive_timeout_s` (a once-a-second sweep, not a timer per
request); a client that takes no bytes of its answer for `send_timeout_s` (nginx's
`send_timeout`) is cut, so a reader that stops does not hold its connection and the
unsent part of its answer forever; reading pauses while a pipelining client has more
than 32 answers pending; write back-pressure is `Connection.drain`; HTTP/1.0 and
`Connection: close` close after the answer, as does every answer once the server is
stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Final

import httptools

log = logging.getLogger("ocdn.http")

MAX_HEAD_BYTES: Final = 16 * 1024
MAX_PIPELINED: Final = 32  # requests queued behind a running one before reading pauses

# Python's phrases, with RFC 9110's names where Python keeps the older RFC 7231 ones.
REASONS = {s.value: s.phrase for s in HTTPStatus} | {
    413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable"}


def date_and_server(server_name: str, now: float | None = None) -> bytes:
    """The Date and Server header lines (after a status line, before the others)."""
    date = formatdate(time.time() if now is None else now, usegmt=True)
    return f"Date: {date}\r\nServer: {server_name}\r\n".encode("latin-1")


# Header names as sent -> lower-case str: clients send the same few names in the same
# spelling, so one dict lookup replaces a decode and a lower() per header line.
_NAMES: Final[dict[bytes, str]] = {}
MAX_NAMES: Final = 1024
_METHODS: Final = {m: m.decode()
                   for m in (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS")}
END_CLOSE: Final = b"Connection: close\r\n\r\n"  # a head's last line when the connection closes
_STATUS_LINES: Final = {code: f"HTTP/1.1 {code} {reason}\r\n".encode()
                         for code, reason in REASONS.items()}
_perf_counter: Final = time.perf_counter  # compiled: a C static, no lookup


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    """Header lines, each ending in CRLF, ready to go between the status line and the end."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")


@dataclass(slots=True)
class Request:
    method: str
    path: bytes  # raw, still percent-encoded, without the query
    query: bytes
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    keep_alive: bool
    body: bytes
    peer: str
    started: float  # time.perf_counter() when the request was complete


Handler = Callable[[Request, "Connection"], Awaitable[None] | None]


class Connection(asyncio.Protocol):
    """One client connection; also the response writer handed to the application."""

    __slots__ = (
        "_app",
        "_body",
        "_busy",
        "_closing",
        "_drain_waiter",
        "_head_bytes",
        "_headers",
        "_parser",
        "_queue",
        "_reading_paused",
        "_sock_fd",
        "_too_big",
        "_url",
        "keep_alive",
        "last_active",
        "paused",
        "peer",
        "requests",
        "resumes",
        "seen_buffered",
        "seen_requests",
        "seen_resumes",
        "server",
        "stalled_since",
        "transport",
    )

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self._app = server.handler
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._head_bytes = 0
        self._too_big = 0
        self._queue: deque[Request] = deque()
        self._busy = False
        self.paused = False  # the transport's buffer is over its high-water mark
        self._drain_waiter: asyncio.Future[None] | None = None
        self.peer = ""
        self.last_active = time.monotonic()
        self.keep_alive = True
        self._closing = False
        self._sock_fd = -1  # the socket's descriptor, for sendfile(2) beside the transport
        self.requests = 0
        self.seen_requests = 0  # `requests` at the idle sweep's last look
        self.resumes = 0  # times the client read enough for writing to resume
        # the send-timeout sweep's last look: resumes, unsent bytes, since when no progress
        self.seen_resumes = 0
        self.seen_buffered = 0
        self.stalled_since = 0.0
        self._reading_paused = False

    # ---- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        sock = transport.get_extra_info("socket")
        self._sock_fd = sock.fileno() if sock is not None else -1
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server.connections.discard(self)
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("client went away"))

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.resumes += 1
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request before the upgrade was answered (or is queued); nothing after it
            # is HTTP/1.1, so the connection ends with that answer.
            self.keep_alive = False
            if not self._busy and not self._queue:
                self.close()
        except httptools.HttpParserError:
            self._error_close(self._too_big or 400)

    def eof_received(self) -> bool | None:
        if not self._busy and not self._queue:
            return None  # close now
        self.keep_alive = False
        return True  # answer what was asked, then close

    # ---- httptools callbacks --------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.server.max_url_bytes:
            self._too_big = 414
            raise httptools.HttpParserError("uri too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._too_big = 431
            raise httptools.HttpParserError("headers too large")
        key = _NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_NAMES) < MAX_NAMES:
                _NAMES[name] = key
        text = value.decode("latin-1")
        headers = self._headers
        old = headers.get(key)
        headers[key] = text if old is None else f"{old}, {text}"

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        if sum(map(len, self._body)) > self.server.max_body_bytes:
            self._too_big = 413
            raise httptools.HttpParserError("body too large")

    def on_message_complete(self) -> None:
        if self._closing:
            return
        parser = self._parser
        path, _, query = self._url.partition(b"?")
        if query and b"#" in query:
            query = query.partition(b"#")[0]
        body = self._body
        method = parser.get_method()
        request = Request(
            _METHODS.get(method) or method.decode("ascii", "replace"), path, query, self._headers,
            parser.should_keep_alive() and not self.server.stopping,
            b"".join(body) if body else b"", self.peer, _perf_counter())
        # The next message's state, set here rather than in an on_message_begin callback
        # (a Python call per request saved; the parser calls nothing between messages).
        self._url = b""
        self._headers = {}
        if body:
            self._body = []
        self._head_bytes = 0
        self.requests += 1
        if not self._busy and not self._queue:
            self._run(request)  # the usual case: nothing ahead of it, no queue round trip
            return
        self._queue.append(request)
        if len(self._queue) > MAX_PIPELINED and self.transport is not None and (
                not self._reading_paused):
            self._reading_paused = True
            self.transport.pause_reading()  # a pipelining client must wait for answers

    # ---- dispatch -------------------------------------------------------------

    def _run(self, request: Request) -> bool:
        """Hand one request to the application. True when the next one may go now; False
        when it must wait (the answer runs as a task) or the connection is closing."""
        self.keep_alive = request.keep_alive and self.keep_alive
        try:
            pending = self._app(request, self)
        except Exception:
            log.exception("handler failed")
            self._error_close(500)
            return False
        if pending is not None:
            self._busy = True
            task = asyncio.ensure_future(pending)
            task.add_done_callback(self._done)
            return False
        if not self.keep_alive:
            self.close()
            return False
        return True

    def _next(self) -> None:
        while self._queue and not self._closing:
            if not self._run(self._queue.popleft()):
                return
        if self._reading_paused and self.transport is not None and not self._closing:
            self._reading_paused = False
            self.transport.resume_reading()

    def _done(self, task: asyncio.Future[None]) -> None:
        self._busy = False
        self.last_active = time.monotonic()
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, ConnectionError):
                log.error("handler failed", exc_info=exc)
            self.abort()
            return
        if not self.keep_alive:
            self.close()
            return
        self._next()

    # ---- writing --------------------------------------------------------------

    def head(self, status: int, headers: list[tuple[str, str]] | bytes, length: int) -> bytes:
        """The status line and header block, adding Date, Server, Content-Length and
        Connection. `headers` may come pre-encoded (`encode_headers`): the hit path keeps
        each object's header lines as bytes rather than formatting them per request."""
        block = headers if isinstance(headers, bytes) else encode_headers(headers)
        status_line = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n".encode()
        end = b"\r\n" if self.keep_alive else END_CLOSE
        if status == 304 or status == 204 or status < 200:
            return b"%s%s%s%s" % (status_line, self.server.date_server, block, end)
        return b"%s%s%sContent-Length: %d\r\n%s" % (
            status_line, self.server.date_server, block, length, end)

    def write(self, data: bytes | memoryview) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)

    def writelines(self, parts: list[bytes]) -> None:
        """Several buffers in one writev(2), without joining them into a copy first."""
        if self.transport is not None and not self._closing:
            self.transport.writelines(parts)

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes = b"",
                head_only: bool = False) -> None:
        """A whole small response in one write."""
        head = self.head(status, headers, len(body))
        self.write(head if head_only or not body else head + body)

    async def drain(self) -> None:
        if self._closing:
            raise ConnectionResetError("client went away")
        if self.paused:
            loop = asyncio.get_running_loop()
            if self._drain_waiter is None or self._drain_waiter.done():
                self._drain_waiter = loop.create_future()
            await self._drain_waiter

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport else 0

    def try_sendfile(self, fd: int, offset: int, count: int) -> int:
        """Send up to `count` bytes of `fd` with sendfile(2), without blocking.

        Only when the transport's own buffer is empty (else bytes would overtake it);
        returns how many bytes went out (0 when the socket was full or busy), and the
        caller writes the rest through the transport.
        """
        if self._sock_fd < 0 or self._closing or self.buffered():
            return 0
        return self._sendfile(fd, offset, count)

    def send_file(self, fd: int, offset: int, count: int, head: bytes = b"") -> None:
        """`head`, then bytes [offset, offset+count) of `fd`: by sendfile(2) as far as the
        socket takes them now, the rest read and left in the transport's buffer. One call
        for a whole hit, as the hit path wants it."""
        transport = self.transport
        if transport is None or self._closing:
            return
        if head:
            transport.write(head)
        sent = 0
        if self._sock_fd >= 0 and not transport.get_write_buffer_size():
            sent = self._sendfile(fd, offset, count)
        if sent < count and not self._closing:
            transport.write(os.pread(fd, count - sent, offset + sent))

    def _sendfile(self, fd: int, offset: int, count: int) -> int:
        sent = 0
        try:
            while sent < count:
                n = os.sendfile(self._sock_fd, fd, offset + sent, count - sent)
                if n == 0:
                    break
                sent += n
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.abort()
        return sent

    def _error_close(self, status: int) -> None:
        self.keep_alive = False
        body = f"{status} {REASONS.get(status, '')}\n".encode()
        self.respond(status, [("Content-Type", "text/plain; charset=utf-8")], body)
        self.close()

    def close(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Cut the connection: a response already started cannot be finished."""
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def idle(self) -> bool:
        """No request running or waiting."""
        return not self._busy and not self._queue


class HttpServer:
    """Serves `handler` on a socket: `start()` binds, `stop()` lets running answers finish
    (up to a grace period), then closes every connection."""

    def __init__(self, handler: Handler, keepalive_timeout_s: float = 75.0, *,
                 send_timeout_s: float = 60.0, max_body_bytes: int = 1 << 20,
                 max_url_bytes: int = MAX_HEAD_BYTES, server_name: str = "ocdn") -> None:
        self.handler = handler
        self.keepalive_timeout_s = keepalive_timeout_s
        self.send_timeout_s = send_timeout_s
        self.send_timeouts = 0  # connections cut for not reading
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = max_url_bytes
        self.server_name = server_name
        # Date and Server lines, renewed at every whole second by the sweeper, so that a
        # response reads an attribute rather than the clock.
        self.date_server = date_and_server(server_name)
        self.connections: set[Connection] = set()
        self.stopping = False
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int, sock: socket.socket | None = None) -> int:
        """Listen on `sock`, or on host:port; returns the bound port (useful for port 0)."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(lambda: Connection(self), sock=sock,
                                                    backlog=1024)
        else:
            self._server = await loop.create_server(lambda: Connection(self), host, port,
                                                    backlog=1024, reuse_address=True)
        self._sweeper = loop.create_task(self._sweep())
        return self.port

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _sweep(self) -> None:
        while True:
            wall = time.time()
            await asyncio.sleep(1.0 - wall % 1.0 + 0.001)  # just past the next whole second
            self.date_server = date_and_server(self.server_name)
            now = time.monotonic()
            limit = now - self.keepalive_timeout_s
            for conn in list(self.connections):
                if self._stalled(conn, now):
                    self.send_timeouts += 1
                    conn.abort()
                # A connection is active while its request count moves or an answer runs;
                # reading the count here spares a clock read per received packet.
                elif conn.requests != conn.seen_requests or not conn.idle:
                    conn.seen_requests = conn.requests
                    conn.last_active = now
                elif conn.last_active < limit:
                    conn.close()

    def _stalled(self, conn: Connection, now: float) -> bool:
        """True once bytes of an answer have waited `send_timeout_s` for a client that
        took none of them (its buffer never shrank, writing never resumed). Bytes wait in
        the transport's buffer for every answer, the hit path's too, which puts there
        what sendfile(2) could not send at once."""
        unsent = conn.buffered()
        if not unsent:
            conn.stalled_since = 0.0
            return False
        if (not conn.stalled_since or conn.resumes != conn.seen_resumes
                or unsent < conn.seen_buffered):
            conn.stalled_since = now
            conn.seen_resumes = conn.resumes
            conn.seen_buffered = unsent
            return False
        conn.seen_buffered = unsent
        return now - conn.stalled_since >= self.send_timeout_s

    async def stop(self, grace_s: float = 5.0) -> None:
        self.stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace_s
        while any(not c.idle for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.close()
