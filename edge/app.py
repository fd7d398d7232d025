"""The edge application: object requests from path to bytes out.

`EdgeApp.__call__` is the HTTP server's handler. A hit whose bytes are all on disk and
fit `FAST_PATH_BYTES` is answered synchronously: headers and body leave in one write (or
headers, then sendfile), with no task and no await, which is what keeps a hit's cost at a
bare protocol's (DESIGN.md: per-request cost decides). Everything else - misses, large
bodies, objects the store has not seen - runs as a coroutine that streams piece by
piece with back-pressure. Both share one plan: `_plan` decides status, headers and the
byte ranges to send from metadata alone (pure functions in ranges/preconditions).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

from common.http import END_CLOSE, Connection, Request, encode_headers
from common.status import EdgeState
from common.tokens import PARAM, KeyRing, TokenError, verify
from edge.accesslog import AccessLog
from edge.errors import EdgeError, Forbidden, RangeNotSatisfiable
from edge.fill import Fill, FillManager, meta_from
from edge.keys import object_key
from edge.metrics import EdgeMetrics
from edge.policy import Outcome, SliceKey
from edge.preconditions import Precondition, Validators, evaluate, http_date, if_range_allows
from edge.ranges import (
    ByteRange,
    multipart_content_type,
    multipart_layout,
    new_boundary,
    parse_range,
)
from edge.slices import bounds, disk_bytes, pieces
from edge.store import Entry, ObjectMeta, SliceStore
from origin.errors import OriginError, OriginNotFound, OriginRangeNotSatisfiable

log = logging.getLogger("ocdn.edge")

FAST_PATH_BYTES: Final = 4 << 20  # a synchronous answer may buffer this much per connection
MAX_TOKENS = 4  # `token` parameters looked at per request
CHUNK_BYTES = 256 << 10
_FIRST_POS = re.compile(r"\s*bytes\s*=\s*([0-9]{1,18})-", re.ASCII | re.IGNORECASE)


@dataclass(slots=True)
class Plan:
    """What to send for an object request, decided before any byte moves."""

    status: int
    headers: bytes  # encoded header lines, all but Date, Server, X-Cache, Content-Length
    length: int  # Content-Length
    parts: list[tuple[bytes, ByteRange]]  # (bytes before the part, object range)
    closing: bytes = b""

    def slices(self, slice_bytes: int) -> list[int]:
        """The slice numbers the parts touch, in order (a slice twice if two parts do)."""
        return [i for _, r in self.parts
                for i in range(r.start // slice_bytes, (r.stop - 1) // slice_bytes + 1)]

    @classmethod
    def single(cls, block: bytes, r: ByteRange | None, size: int) -> Plan:
        """A 206 of one range `r`, or with `r` None a 200 of the whole object; `block` is
        the object's header lines (`View.block`)."""
        if r is None:
            return cls(200, block, size, [(b"", ByteRange(0, size))] if size else [])
        return cls(206, block + b"Content-Range: bytes %d-%d/%d\r\n" % (r.start, r.stop - 1, size),
                   r.length, [(b"", r)])


@dataclass(slots=True)
class View:
    """What every response about one version of an object shares, computed once."""

    meta: ObjectMeta
    validators: Validators
    common: list[tuple[str, str]]  # Accept-Ranges, ETag, Last-Modified, Cache-Control
    block: bytes  # `common` and Content-Type, encoded

    @classmethod
    def of(cls, meta: ObjectMeta) -> View:
        common: list[tuple[str, str]] = [("Accept-Ranges", "bytes")]
        if meta.etag:
            common.append(("ETag", meta.etag))
        if meta.last_modified is not None:
            common.append(("Last-Modified", http_date(meta.last_modified)))
        if meta.cache_control:
            common.append(("Cache-Control", meta.cache_control))
        block = encode_headers([*common, ("Content-Type", meta.content_type)])
        return cls(meta, Validators(meta.etag or None, meta.last_modified), common, block)


def simple_range(spec: str) -> tuple[int, int]:
    """A Range of the form `bytes=A-B` (ASCII digits, at most 15 each) as (A, B + 1);
    (-1, -1) for anything else, which the general parser (`edge.ranges`) then handles.

    By hand rather than with a regex (`bytes=([0-9]{1,15})-([0-9]{1,15})`, which the tests
    hold it to): compiled, a third of the instructions, and the pair comes back unboxed."""
    dash = spec.find("-", 6)
    if dash < 7 or dash > 21 or not 1 < len(spec) - dash < 17 or not spec.startswith("bytes="):
        return -1, -1
    first = spec[6:dash]
    last = spec[dash + 1:]
    if not (first.isdigit() and last.isdigit() and first.isascii() and last.isascii()):
        return -1, -1
    return int(first), int(last) + 1


_CONDITIONAL = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
_CONDITIONAL_ALL: Final = frozenset((*_CONDITIONAL, "if-range"))
_RANGE_HIT_HEAD: Final = (b"HTTP/1.1 206 Partial Content\r\n%s%sContent-Range: bytes %d-%d/%d\r\n"
                   b"X-Cache: HIT\r\nContent-Length: %d\r\n%s")
# Final: mypyc keeps these in C statics; other module globals cost a dict lookup per use.
_new_tuple: Final = tuple.__new__
_time: Final = time.time
_perf_counter: Final = time.perf_counter
_pread: Final = os.pread
_SliceKey: Final = SliceKey
_CACHE_CAP = 100_000  # entries in the per-path and per-object memo dicts
CHECK_RETRY_S = 10.0  # after a failed revalidation, ask the origin again this much later


class EdgeApp:
    def __init__(
        self,
        store: SliceStore,
        fills: FillManager,
        metrics: EdgeMetrics,
        access_log: AccessLog,
        *,
        edge_id: str,
        site: str = "",
        max_ranges: int = 16,
        negative_ttl_s: float = 10.0,
        prefetch_slices: int = 1,
        send_mode: str = "auto",
        sendfile_min_bytes: int = 64 << 10,
        tokens: KeyRing | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.store = store
        self.fills = fills
        self.policy = store.policy
        self.metrics = metrics
        self.access_log = access_log
        self.edge_id = edge_id
        self.site = site
        self.max_ranges = max_ranges
        self.prefetch_slices = prefetch_slices
        self.sendfile_min_bytes = sendfile_min_bytes
        self.send_mode = send_mode  # sets sendfile_from
        self.tokens = tokens
        self.admin_token = admin_token
        self.state = EdgeState.UP
        self.slice_bytes = store.slice_bytes
        self.negative_ttl_s = negative_ttl_s
        self.negative: dict[str, float] = {}  # key -> monotonic expiry of an origin 404
        self.readers: dict[tuple[str, str], int] = {}  # (client, key) -> where its read ended
        self._keys: dict[bytes, str] = {}  # raw path -> validated key
        self._views: dict[str, View] = {}
        self._revalidating: set[str] = set()  # keys whose origin check is running
        self.egress_bytes_per_s = 0.0
        from edge.admin import Admin  # the admin surface is a separate module, same app

        self.admin = Admin(self)

    @property
    def send_mode(self) -> str:
        return self._send_mode

    @send_mode.setter
    def send_mode(self, mode: str) -> None:
        """`sendfile`, `pread` or `auto` (sendfile from `sendfile_min_bytes` up)."""
        self._send_mode = mode
        # Bodies of at least this many bytes go by sendfile(2), shorter ones by pread + write.
        self.sendfile_from = {"sendfile": 0, "pread": 1 << 62}.get(mode, self.sendfile_min_bytes)

    # ---- dispatch -------------------------------------------------------------

    def __call__(self, req: Request, conn: Connection) -> Awaitable[None] | None:
        path = req.path
        key = self._keys.get(path)  # only object paths are memoised: no admin check needed
        tried = False
        if key is None:
            if path.startswith(b"/admin/") or path in (b"/healthz", b"/status", b"/metrics"):
                return self.admin.handle(req, conn)
        elif req.method == "GET" and self.tokens is None and not self.negative:
            # A known path with nothing to check first: straight to the hit path.
            entry = self.store.index.get(key)
            if entry is not None:
                if self._fast_hit(req, conn, entry):
                    return None
                tried = True
        try:
            return self._object(req, conn, key, tried)
        except EdgeError as exc:
            self._error(req, conn, exc.status, str(exc))
            return None

    def _error(self, req: Request, conn: Connection, status: int, message: str,
               headers: list[tuple[str, str]] | None = None) -> None:
        body = f"{status} {message}\n".encode()
        conn.respond(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])],
                     body, head_only=req.method == "HEAD")
        self._done(req, status, "none", 0, "")

    def _done(self, req: Request, status: int, cache: str, nbytes: int, key: str,
              hit_bytes: int = 0) -> None:
        seconds = time.perf_counter() - req.started
        self.metrics.request(status, cache, seconds, nbytes, hit_bytes)
        if self.access_log.enabled:
            self.access_log.write(req, status, cache, nbytes, key, seconds)

    # ---- object requests ------------------------------------------------------

    def _object(self, req: Request, conn: Connection, key: str | None,
                fast_tried: bool = False) -> Awaitable[None] | None:
        """`key`: the path's memoised object key, if it has one; `fast_tried`: `_fast_hit`
        has already declined this request."""
        if req.method not in ("GET", "HEAD"):
            self._error(req, conn, 405, "method not allowed", [("Allow", "GET, HEAD")])
            return None
        if key is None:
            key = object_key(req.path)
            if len(self._keys) >= _CACHE_CAP:
                self._keys.clear()
            self._keys[req.path] = key
        if self.tokens is not None:
            self._check_token(req)
        if self.negative and self._negative(key):
            self._error(req, conn, 404, "not found")
            return None
        entry = self.store.index.get(key) or self.store.lookup(key)  # a known object: no call
        if entry is None:
            return self._unknown(req, conn, key)
        if req.method == "GET" and not fast_tried and self._fast_hit(req, conn, entry):
            return None
        if entry.fresh_until <= _perf_counter():
            self._revalidate(entry)
        plan = self._plan(req, conn, entry.meta)
        if plan is None:
            return None
        if req.method == "HEAD" or not plan.parts:
            self._send_head(req, conn, plan, entry.meta.key)
            return None
        if (plan.length <= FAST_PATH_BYTES and not conn.buffered()
                and self._all_present(entry, plan) and self._send_hit(req, conn, entry, plan)):
            return None
        return self._stream(req, conn, entry.meta, plan)

    def _negative(self, key: str) -> bool:
        expiry = self.negative.get(key)
        if expiry is None:
            return False
        if expiry > time.monotonic():
            return True
        del self.negative[key]
        return False

    def remember_missing(self, key: str) -> None:
        if len(self.negative) >= _CACHE_CAP:
            now = time.monotonic()
            self.negative = {k: v for k, v in self.negative.items() if v > now}
        self.negative[key] = time.monotonic() + self.negative_ttl_s

    def _view(self, meta: ObjectMeta) -> View:
        view = self._views.get(meta.key)
        if view is None or view.meta is not meta:
            if len(self._views) >= _CACHE_CAP:
                self._views.clear()
            view = self._views[meta.key] = View.of(meta)
        return view

    def _check_token(self, req: Request) -> None:
        assert self.tokens is not None
        query = parse_qs(req.query.decode("latin-1"), keep_blank_values=True)
        # A URL can carry more than one token: a playlist's imported one and the one a
        # content-steering clone adds. One that verifies is enough; the first refusal
        # is the one reported.
        candidates: list[str | None] = [*query.get(PARAM, ())] or [None]
        path = req.path.decode("latin-1")
        refusal: TokenError | None = None
        for token in candidates[:MAX_TOKENS]:
            try:
                verify(token, path, self.tokens, time.time(), req.peer)
                return
            except TokenError as exc:
                refusal = refusal or exc
        assert refusal is not None
        rejections = self.metrics.token_rejections
        rejections[refusal.reason] = rejections.get(refusal.reason, 0) + 1
        raise Forbidden(f"token rejected: {refusal.reason}") from None

    def _plan(self, req: Request, conn: Connection, meta: ObjectMeta) -> Plan | None:
        """Decide the response from metadata; answers 304/412/416 itself (returns None)."""
        headers = req.headers
        view = self._view(meta)
        validators, common = view.validators, view.common
        if any(name in headers for name in _CONDITIONAL):
            decision = evaluate(req.method, headers, validators)
            if decision is Precondition.NOT_MODIFIED:
                return self._short(req, conn, 304, [*common, ("X-Cache", "HIT")], meta.key)
            if decision is Precondition.FAILED:
                return self._short(req, conn, 412, [("Content-Type", "text/plain")], meta.key,
                                   b"412 precondition failed\n")
        size = meta.size
        ranges = None
        if req.method == "GET" and "range" in headers and if_range_allows(
            headers.get("if-range"), validators
        ):
            try:
                ranges = parse_range(headers["range"], size, self.max_ranges)
            except RangeNotSatisfiable:
                # RFC 9110 §15.5.17: 416 names the current length.
                return self._short(req, conn, 416, [*common, ("Content-Range", f"bytes */{size}"),
                                              ("Content-Type", "text/plain")], meta.key,
                                   b"416 range not satisfiable\n")
        if ranges is None or len(ranges) == 1:
            return Plan.single(view.block, None if ranges is None else ranges[0], size)
        boundary = new_boundary()
        parts, closing, length = multipart_layout(ranges, size, meta.content_type, boundary)
        block = encode_headers([*common, ("Content-Type", multipart_content_type(boundary))])
        return Plan(206, block, length, parts, closing)

    def _short(self, req: Request, conn: Connection, status: int,
               headers: list[tuple[str, str]], key: str, body: bytes = b"") -> None:
        conn.respond(status, headers, body, head_only=req.method == "HEAD")
        self._done(req, status, "hit", 0, key)
        return None

    def _send_head(self, req: Request, conn: Connection, plan: Plan, key: str) -> None:
        conn.write(conn.head(plan.status, plan.headers + b"X-Cache: HIT\r\n", plan.length))
        self._done(req, plan.status, "hit", 0, key)

    def _all_present(self, entry: Entry, plan: Plan) -> bool:
        present = entry.present
        return all(index in present for index in plan.slices(self.slice_bytes))

    def _fast_hit(self, req: Request, conn: Connection, entry: Entry) -> bool:
        """The common case in one pass: an unconditional GET of the whole object or of one
        `bytes=A-B` range, every slice it covers on disk (within one slice here, across
        slices in `_span_hit`). False leaves it to the general path (which handles every
        other case, including this one, identically); this one skips building a Plan and
        the calls the general path makes, which is most of a hit's Python time."""
        headers = req.headers
        if not _CONDITIONAL_ALL.isdisjoint(headers):
            return False
        meta = entry.meta
        size = meta.size
        spec = headers.get("range")
        if spec is None:
            start, stop = 0, size
        else:
            start, stop = simple_range(spec)
            if start < 0:
                return False
            if stop > size:
                stop = size
        if start >= stop:
            return False  # (an empty object has no slice: the general path answers it)
        slice_bytes = self.slice_bytes
        index = start // slice_bytes
        if index not in entry.present or conn.paused:
            return False  # (a paused writer: the general path streams with back-pressure)
        if (stop - 1) // slice_bytes != index:
            return self._span_hit(req, conn, entry, spec is not None, start, stop)
        fd = entry.fds.get(index)
        opened = fd is None
        if fd is None:
            try:
                fd = self.store.slice_fd(entry, index)
            except OSError:
                return False  # the general path notices the missing file and refills
        length = stop - start
        head = self._hit_head(conn, meta, spec is not None, start, stop)
        slice_start = index * slice_bytes
        if length >= self.sendfile_from:
            conn.send_file(fd, start - slice_start, length, head)
        else:
            conn.writelines([head, _pread(fd, length, start - slice_start)])
        if opened:
            self.store.trim_fds()  # only an open can take the cache past its cap
        slice_start, slice_stop = bounds(index, size, slice_bytes)
        # tuple.__new__ spares the NamedTuple's Python-level __new__ (a frame per hit).
        self.policy.access(_new_tuple(_SliceKey, (meta.key, index)),
                           disk_bytes(slice_stop - slice_start), _time(), stop >= slice_stop)
        self._hit_done(req, entry, spec is not None, start, stop)
        return True

    def _span_hit(self, req: Request, conn: Connection, entry: Entry, ranged: bool, start: int,
                  stop: int) -> bool:
        """`_fast_hit` for a range across slices (half of W3's 1 MiB ranges in 2 MiB slices
        cross one), up to FAST_PATH_BYTES: what `_send_hit` would send for its Plan, without
        building one."""
        length = stop - start
        if length > FAST_PATH_BYTES:
            return False
        slice_bytes = self.slice_bytes
        ps = pieces(start, stop, slice_bytes)
        present = entry.present
        fds = entry.fds
        opened = False
        for index, _, _ in ps:  # every slice on disk, with an open fd, before a byte goes out
            if index not in present:
                return False
            if index not in fds:
                try:
                    self.store.slice_fd(entry, index)
                except OSError:
                    return False  # the general path notices the missing file and refills
                opened = True
        meta = entry.meta
        head = self._hit_head(conn, meta, ranged, start, stop)
        if length >= self.sendfile_from:
            for index, offset, n in ps:  # the head leaves with the first piece
                conn.send_file(fds[index], offset, n, head)
                head = b""
        else:
            conn.writelines([head, *[_pread(fds[index], n, offset) for index, offset, n in ps]])
        if opened:
            self.store.trim_fds()  # only after the response: it may close an fd just used
        policy = self.policy
        now = _time()
        for index, _, _ in ps:
            slice_start, slice_stop = bounds(index, meta.size, slice_bytes)
            policy.access(_new_tuple(_SliceKey, (meta.key, index)),
                          disk_bytes(slice_stop - slice_start), now, stop >= slice_stop)
        self._hit_done(req, entry, ranged, start, stop)
        return True

    def _hit_head(self, conn: Connection, meta: ObjectMeta, ranged: bool, start: int,
                  stop: int) -> bytes:
        view = self._views.get(meta.key)
        if view is None or view.meta is not meta:
            view = self._view(meta)
        if not ranged:
            return conn.head(200, view.block + b"X-Cache: HIT\r\n", stop - start)
        # Connection.head's layout in one format rather than two
        return _RANGE_HIT_HEAD % (conn.server.date_server, view.block, start, stop - 1,
                                  meta.size, stop - start,
                                  b"\r\n" if conn.keep_alive else END_CLOSE)

    def _hit_done(self, req: Request, entry: Entry, ranged: bool, start: int,
                  stop: int) -> None:
        """A fast hit's accounting: metrics, the access log, and a reader's position when it
        heads for a missing slice (for prefetch)."""
        status = 206 if ranged else 200
        now = _perf_counter()
        seconds = now - req.started
        length = stop - start
        self.metrics.hit(status, seconds, length)
        meta = entry.meta
        if self.access_log.enabled:
            self.access_log.write(req, status, "hit", length, meta.key, seconds)
        if entry.fresh_until <= now:
            self._revalidate(entry)
        if self.prefetch_slices and ranged and stop < meta.size and (
                (stop - 1) // self.slice_bytes + 1 not in entry.present):
            # Only a reader heading for a missing slice needs its position known: one
            # reading through cached slices costs no bookkeeping (4% of a hit's instructions).
            self._note_range(req, meta, start, stop)

    def _send_hit(self, req: Request, conn: Connection, entry: Entry, plan: Plan) -> bool:
        """Answer a hit synchronously; False (nothing written) if a slice file vanished."""
        slice_bytes = self.slice_bytes
        store = self.store
        pieces_out: list[tuple[bytes, list[tuple[int, int, int]]]] = []
        try:
            for before, r in plan.parts:
                ps = pieces(r.start, r.stop, slice_bytes)
                pieces_out.append((before, [(store.slice_fd(entry, i), o, n) for i, o, n in ps]))
        except OSError:
            for index in list(entry.present):
                if not store.has_slice(entry, index):
                    entry.present.discard(index)
                    store.close_fd(entry, index)
                    self.policy.remove(SliceKey(entry.meta.key, index))
            return False
        head = conn.head(plan.status, plan.headers + b"X-Cache: HIT\r\n", plan.length)
        if plan.length >= self.sendfile_from:
            conn.write(head)
            for before, ps in pieces_out:
                if before:
                    conn.write(before)
                for fd, offset, length in ps:
                    conn.send_file(fd, offset, length)
            if plan.closing:
                conn.write(plan.closing)
        else:
            out = [head]
            for before, ps in pieces_out:
                if before:
                    out.append(before)
                out.extend(os.pread(fd, length, offset) for fd, offset, length in ps)
            if plan.closing:
                out.append(plan.closing)
            conn.writelines(out)
        store.trim_fds()  # only now: every fd this response used has done its work
        key = entry.meta.key
        size = entry.meta.size
        now = time.time()
        access = self.policy.access
        for _, r in plan.parts:
            for index in range(r.start // slice_bytes, (r.stop - 1) // slice_bytes + 1):
                start, stop = bounds(index, size, slice_bytes)
                access(SliceKey(key, index), disk_bytes(stop - start), now, r.stop >= stop)
        body = plan.length - len(plan.closing) - sum(len(before) for before, _ in plan.parts)
        self._done(req, plan.status, "hit", body, key, body)
        if self.prefetch_slices:
            self._note_reader(req, entry.meta, plan)
        return True

    # ---- revalidation ---------------------------------------------------------

    def _revalidate(self, entry: Entry) -> None:
        """The origin's word on `entry` is past its freshness: ask the origin again in the
        background, once at a time per object; requests are served from the cache
        meanwhile (stale-while-revalidate)."""
        key = entry.meta.key
        if key not in self._revalidating:
            self._revalidating.add(key)
            self.fills.spawn(self._check(entry.meta))

    async def _check(self, meta: ObjectMeta) -> None:
        """One byte of the object from the origin says whether `meta` is still its version:
        unchanged, it is fresh again; changed or gone, its slices are dropped (the next
        request fills the new version or answers 404); an origin fault keeps serving what
        is cached and asks again after CHECK_RETRY_S."""
        key, store = meta.key, self.store
        result = "error"
        try:
            try:
                body = await self.fills.origin.fetch(key, 0, 1)
                await body.aclose()
                current: ObjectMeta | None = meta_from(key, body.info)
            except OriginRangeNotSatisfiable:
                current = None  # empty now: not the version cached
            if current is not None and current.same_version(meta):
                result = "unchanged"
                store.confirm(store.learn(current))
            else:
                result = "changed"
                if current is None:
                    store.drop(key)
                else:  # drops the old version's slices (unless a fill already learned it)
                    store.learn(current)
            store.release(key)  # forgets the entry if nothing of it is cached (any more)
        except OriginNotFound:
            result = "gone"
            log.info("%s is gone from the origin: dropping its slices", key)
            store.drop(key)
            self.remember_missing(key)
        except OriginError as exc:
            log.warning("cannot revalidate %s: %s", key, exc)
            entry = store.index.get(key)
            if entry is not None:
                entry.fresh_until = _perf_counter() + CHECK_RETRY_S
        finally:
            self._revalidating.discard(key)
            counts = self.metrics.revalidations
            counts[result] = counts.get(result, 0) + 1

    # ---- misses and streaming -------------------------------------------------

    async def _unknown(self, req: Request, conn: Connection, key: str) -> None:
        """Learn an object's metadata from the origin's answer for its first needed slice."""
        hint = 0
        if req.method == "GET":
            m = _FIRST_POS.match(req.headers.get("range", ""))
            if m is not None:
                hint = int(m.group(1)) // self.slice_bytes
        try:
            fill = self.fills.get(SliceKey(key, hint), None)
            try:
                meta = await fill.meta
            except OriginRangeNotSatisfiable as exc:
                if exc.size == 0:
                    return self._empty(req, conn, key)
                fill = self.fills.get(SliceKey(key, 0), None)
                meta = await fill.meta
        except OriginNotFound:
            self.remember_missing(key)
            return self._error(req, conn, 404, "not found")
        except OriginRangeNotSatisfiable:
            return self._empty(req, conn, key)
        except OriginError as exc:
            return self._error(req, conn, exc.status, "origin failed")
        plan = self._plan(req, conn, meta)
        stop = bounds(fill.key.index, meta.size, self.slice_bytes)[1]
        self._admit(fill, meta, plan is not None and req.method == "GET" and any(
            r.start < stop <= r.stop for _, r in plan.parts))
        if plan is None:
            return None
        if req.method == "HEAD" or not plan.parts:
            conn.write(conn.head(plan.status, plan.headers + b"X-Cache: MISS\r\n", plan.length))
            self._done(req, plan.status, "miss", 0, key)
            return None
        await self._stream(req, conn, meta, plan, {fill.key.index: fill})

    def _empty(self, req: Request, conn: Connection, key: str) -> None:
        conn.respond(200, [("Accept-Ranges", "bytes"),
                           ("Content-Type", "application/octet-stream"), ("X-Cache", "MISS")])
        self._done(req, 200, "miss", 0, key)

    def _admit(self, fill: Fill, meta: ObjectMeta, reaches_end: bool) -> None:
        """Record a client's read of a slice being filled and let the policy admit it."""
        start, stop = bounds(fill.key.index, meta.size, self.slice_bytes)
        access = self.policy.access(fill.key, disk_bytes(stop - start), time.time(),
                                    reaches_end)
        if access.outcome is not Outcome.BYPASS:
            fill.admit = True
        if access.evicted or access.promoted:
            self.fills.apply(access)

    async def _stream(self, req: Request, conn: Connection, meta: ObjectMeta, plan: Plan,
                      joined: dict[int, Fill] | None = None) -> None:
        """Send `plan` piece by piece: hits from disk, misses from their fills."""
        joined = joined or {}
        key = meta.key
        slice_bytes = self.slice_bytes
        hit_bytes = sent = 0
        missed = False
        entry = self.store.lookup(key)
        fills: dict[int, Fill] = dict(joined)
        accessed: set[int] = set(joined)

        def fill_for(index: int, reaches_end: bool) -> Fill:
            fill = fills.get(index)
            if fill is None:
                fill = self.fills.get(SliceKey(key, index), meta)
                fills[index] = fill
            if index not in accessed:
                accessed.add(index)
                self._admit(fill, meta, reaches_end)
            return fill

        inflight = self.fills.inflight
        # A slice whose fill has ended but whose rename has not landed yet is served from
        # the fill's memory, without the origin: that is a hit too.
        needed = plan.slices(slice_bytes)
        landing = {i for i in needed if _complete(inflight.get(SliceKey(key, i)))}
        on_disk = entry.present if entry is not None and entry.meta.same_version(meta) else ()
        cached = all(i in on_disk or i in landing for i in needed)
        conn.write(conn.head(plan.status, plan.headers + (
            b"X-Cache: HIT\r\n" if cached else b"X-Cache: MISS\r\n"), plan.length))
        try:
            for before, r in plan.parts:
                if before:
                    conn.write(before)
                for index, offset, length in pieces(r.start, r.stop, slice_bytes):
                    entry = self.store.lookup(key)
                    fd = -1
                    if (entry is not None and index in entry.present
                            and entry.meta.same_version(meta) and index not in fills):
                        try:
                            fd = self.store.open_slice(entry, index)
                        except OSError:
                            entry.present.discard(index)
                            self.policy.remove(SliceKey(key, index))
                    if fd >= 0:
                        try:
                            await self._send_file(conn, fd, offset, length)
                        finally:
                            os.close(fd)
                        if index not in accessed:
                            accessed.add(index)
                            start, stop = bounds(index, meta.size, slice_bytes)
                            self.policy.access(SliceKey(key, index), disk_bytes(stop - start),
                                               time.time(), r.stop >= stop)
                        hit_bytes += length
                    else:
                        if index in landing:
                            hit_bytes += length
                        else:
                            missed = True
                        fill = fill_for(index, r.stop >= bounds(index, meta.size, slice_bytes)[1])
                        self._prefetch(key, meta, index + 1, r.stop, fills)
                        async for chunk in fill.read(offset, length, meta):
                            conn.write(chunk)
                            await conn.drain()
                    sent += length
            if plan.closing:
                conn.write(plan.closing)
        except OriginError as exc:
            log.warning("response for %s cut after %d bytes: %s", key, sent, exc)
            self._done(req, plan.status, "miss", sent, key, hit_bytes)
            conn.abort()
            return
        except ConnectionError:
            self._done(req, 499, "miss" if missed else "hit", sent, key, hit_bytes)
            return
        self._done(req, plan.status, "miss" if missed else "hit", sent, key, hit_bytes)
        self._note_reader(req, meta, plan)


    async def _send_file(self, conn: Connection, fd: int, offset: int, length: int) -> None:
        use_sendfile = length >= self.sendfile_from
        end = offset + length
        while offset < end:
            n = min(CHUNK_BYTES, end - offset)
            if use_sendfile:
                sent = conn.try_sendfile(fd, offset, n)
                offset += sent
                if sent == n:
                    await conn.drain()
                    continue
                n -= sent
            data = os.pread(fd, n, offset)
            if not data:
                raise OriginError("slice file shorter than expected")
            conn.write(data)
            offset += len(data)
            await conn.drain()

    # ---- prefetch -------------------------------------------------------------

    def _note_reader(self, req: Request, meta: ObjectMeta, plan: Plan) -> None:
        """Remember where a client's read of an object ended; a next read that starts
        there marks a sequential reader, whose next slices are then prefetched."""
        if not self.prefetch_slices or len(plan.parts) != 1:
            return
        r = plan.parts[0][1]
        self._note_range(req, meta, r.start, r.stop)

    def _note_range(self, req: Request, meta: ObjectMeta, start: int, stop: int) -> None:
        reader = (req.peer, meta.key)
        readers = self.readers
        previous = readers.get(reader)
        if previous is None and len(readers) >= _CACHE_CAP:
            readers.clear()
        readers[reader] = stop
        if previous is not None and abs(start - previous) <= 1 and stop < meta.size:
            last = (stop - 1) // self.slice_bytes
            self._prefetch(meta.key, meta, last + 1, meta.size, {})

    def _prefetch(self, key: str, meta: ObjectMeta, first: int, limit: int,
                  fills: dict[int, Fill]) -> None:
        """Start fills for up to `prefetch_slices` slices from `first` that begin before
        byte `limit`: the rest of a long range, or a sequential reader's next slices."""
        if not self.prefetch_slices:
            return
        entry = self.store.lookup(key)
        for index in range(first, first + self.prefetch_slices):
            start, stop = bounds(index, meta.size, self.slice_bytes)
            if start >= limit:
                return
            skey = SliceKey(key, index)
            if (entry is not None and index in entry.present) or skey in self.fills.inflight:
                continue
            # Asked as a read to the slice's end: a policy that would not keep a slice no
            # one comes back for may decline it, and a declined prefetch is skipped (the
            # reader's own read decides).
            access = self.policy.access(skey, disk_bytes(stop - start), time.time(), True)
            if access.evicted or access.promoted:
                self.fills.apply(access)
            if access.outcome is Outcome.BYPASS:
                continue  # not worth the origin bytes if it would not be kept
            fill = self.fills.get(skey, meta)
            fill.admit = True
            fills.setdefault(index, fill)

    # ---- status ---------------------------------------------------------------

    def hit_ratio(self) -> float:
        served = self.metrics.served_bytes
        total = served["hit"] + served["miss"]
        return served["hit"] / total if total else 0.0


def _complete(fill: Fill | None) -> bool:
    """A fill that has every byte of its slice in memory."""
    return fill is not None and fill.done and fill.error is None
