"""Fills: one origin GET per missing slice, shared by every client that wants it.

A `Fill` fetches one aligned slice and keeps its chunks in memory as they arrive (a slice
is at most a few MiB, so memory is bounded by fills in flight × slice size). Any number
of readers stream from it while it runs (`Fill.read`): a reader gets each chunk as soon
as it lands, not after the slice ends, which is what Varnish and Traffic Server do and
nginx's cache lock does not. Coalescing is a dict from slice key to its running Fill: the
first miss starts it, later misses join it.

Verification happens here, before anything is stored: the origin's answer must carry
exactly the slice's bytes (`origin.base.check_partial`), the object's total size and
ETag must equal the version the store knows, and the body must be as long as promised.
A changed ETag or size means a new version: the store drops the old slices, and readers
bound to the old version fail (`VersionChanged`) rather than receive mixed bytes. Only a
complete, verified slice is written (to tmp/, then renamed) and only when the policy
admitted it; admission may arrive while the fill runs, since chunks stay in memory. A slice
the policy admitted into its window is held in memory instead (`SliceStore.hold`) and
written only when a later decision promotes it (`apply`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from edge.policy import Access, SliceKey
from edge.slices import bounds
from edge.store import ObjectMeta, SliceStore
from origin.base import ObjectInfo, Origin
from origin.errors import OriginError, OriginMismatch

log = logging.getLogger("ocdn.edge.fill")


class VersionChanged(OriginError):
    """The object changed at the origin while a response from the old version was out."""


@dataclass(slots=True)
class FillStats:
    started: int = 0
    coalesced: int = 0
    origin_bytes: int = 0
    origin_errors: int = 0
    committed: int = 0
    committed_bytes: int = 0
    bypassed: int = 0
    held: int = 0  # window slices kept in memory instead of written
    promoted: int = 0  # held slices written to disk on promotion


def meta_from(key: str, info: ObjectInfo) -> ObjectMeta:
    return ObjectMeta(key, info.size, info.etag, info.last_modified, info.content_type,
                      info.cache_control)


class Fill:
    """One slice on its way from the origin."""

    def __init__(self, key: SliceKey, expected: ObjectMeta | None) -> None:
        self.key = key
        self.expected = expected
        self.meta: asyncio.Future[ObjectMeta] = asyncio.get_running_loop().create_future()
        self.chunks: list[bytes] = []
        self.received = 0
        self.done = False
        self.error: BaseException | None = None
        self.admit = False
        self.readers = 0
        self._changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.get_running_loop().create_future()
        if not changed.done():
            changed.set_result(None)

    def _append(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.received += len(chunk)
        self._wake()

    def _finish(self, error: BaseException | None) -> None:
        self.done = True
        self.error = error
        if error is not None and not self.meta.done():
            self.meta.set_exception(error)
            self.meta.exception()  # mark retrieved: a fill nobody waits on must not warn
        self._wake()

    async def read(self, offset: int, length: int, version: ObjectMeta) -> AsyncIterator[bytes]:
        """Yield bytes [offset, offset+length) of the slice as they arrive.

        Raises the fill's error, or VersionChanged when the origin now holds another
        version than the one the reader's response headers described.
        """
        meta = await self.meta
        if not meta.same_version(version):
            raise VersionChanged(f"{version.key} changed at the origin during the response")
        end = offset + length
        pos = 0  # object bytes consumed so far, within the slice
        i = 0
        while offset < end:
            while i >= len(self.chunks):
                if self.done:
                    raise self.error or OriginError("fill ended early")
                await self._changed
            chunk = self.chunks[i]
            i += 1
            c_start, c_end = pos, pos + len(chunk)
            pos = c_end
            if c_end <= offset:
                continue
            lo, hi = offset - c_start, min(end, c_end) - c_start
            yield chunk if lo == 0 and hi == len(chunk) else chunk[lo:hi]
            offset = c_start + hi


class FillManager:
    """Starts fills, coalesces misses on them, and commits verified slices."""

    def __init__(self, origin: Origin, store: SliceStore,
                 on_origin: Callable[[str, float, int], None] | None = None) -> None:
        self.origin = origin
        self.store = store
        self.inflight: dict[SliceKey, Fill] = {}
        self.stats = FillStats()
        self._on_origin = on_origin
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, key: SliceKey, expected: ObjectMeta | None) -> Fill:
        """The running fill for `key`, or a new one (the caller may set `admit`)."""
        fill = self.inflight.get(key)
        if fill is not None:
            self.stats.coalesced += 1
            return fill
        fill = Fill(key, expected)
        self.inflight[key] = fill
        self.store.fill_started(key.obj)
        self.stats.started += 1
        self.spawn(self._run(fill))
        return fill

    async def _run(self, fill: Fill) -> None:
        key = fill.key
        expected = fill.expected
        slice_bytes = self.store.slice_bytes
        start = key.index * slice_bytes
        stop = start + slice_bytes
        if expected is not None:
            start, stop = bounds(key.index, expected.size, slice_bytes)
        t0 = time.perf_counter()
        outcome = "error"
        try:
            body = await self.origin.fetch(key.obj, start, stop)
            try:
                meta = meta_from(key.obj, body.info)
                want_start, want_stop = bounds(key.index, meta.size, slice_bytes)
                if (body.start, body.stop) != (want_start, want_stop):
                    raise OriginMismatch(
                        f"slice {key.index} of {key.obj}: got bytes {body.start}-{body.stop},"
                        f" want {want_start}-{want_stop}")
                if expected is not None and not expected.same_version(meta):
                    log.warning("etag mismatch in slice response for %s: %s/%d, stored %s/%d",
                                key.obj, meta.etag, meta.size, expected.etag, expected.size)
                self.store.learn(meta)
                fill.meta.set_result(meta)
                async for chunk in body:
                    fill._append(chunk)
                    self.stats.origin_bytes += len(chunk)
                if fill.received != want_stop - want_start:
                    raise OriginMismatch(
                        f"slice {key.index} of {key.obj}: {fill.received} bytes,"
                        f" want {want_stop - want_start}")
                outcome = "ok"
            finally:
                await body.aclose()
        except OriginError as exc:
            outcome = type(exc).__name__
            if exc.status >= 500:
                self.stats.origin_errors += 1
                log.warning("fill %s#%d failed: %s", key.obj, key.index, exc)
            self._forget(fill)
            fill._finish(exc)
            self._observe(outcome, t0, fill.received)
            return
        except BaseException as exc:
            self.stats.origin_errors += 1
            log.exception("fill %s#%d crashed", key.obj, key.index)
            self._forget(fill)
            fill._finish(OriginError(f"fill crashed: {exc!r}"))
            self._observe("crash", t0, fill.received)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._observe(outcome, t0, fill.received)
        # Readers have everything: release them before the disk write.
        fill._finish(None)
        await self._commit(fill, meta)

    def _observe(self, outcome: str, t0: float, nbytes: int) -> None:
        if self._on_origin is not None:
            self._on_origin(outcome, time.perf_counter() - t0, nbytes)

    def _forget(self, fill: Fill) -> None:
        if fill.admit:
            self.store.policy.remove(fill.key)
        self._landed(fill)

    def _landed(self, fill: Fill) -> None:
        """`fill` leaves flight; its object is forgotten if nothing of it is kept."""
        if self.inflight.get(fill.key) is fill:
            del self.inflight[fill.key]
            self.store.fill_ended(fill.key.obj)

    async def _commit(self, fill: Fill, meta: ObjectMeta) -> None:
        store = self.store
        policy = store.policy
        key = fill.key
        try:
            if not fill.admit or key not in policy:
                self.stats.bypassed += 1
                return
            loop = asyncio.get_running_loop()
            staging = store.staging
            if staging.budget_bytes and policy.staged(key):
                if not staging.has_room(fill.received):
                    staging.spilled += 1  # memory full: written at once, no copy made first
                elif await self._hold(fill, meta):
                    return
                if key not in policy:
                    return  # evicted while the copy ran
            path = await loop.run_in_executor(None, store.commit, meta, key.index, fill.chunks)
            if path is None:
                policy.remove(key)
            elif store.committed(meta, key.index):
                self.stats.committed += 1
                self.stats.committed_bytes += fill.received
        finally:
            self._landed(fill)  # nothing kept (bypass, failed write): the object is forgotten

    async def _hold(self, fill: Fill, meta: ObjectMeta) -> bool:
        """Copy a window slice into a memfd and serve it from there (SliceStore.hold);
        False if it is to be written after all (promoted meanwhile, no memory)."""
        try:
            fd = await asyncio.get_running_loop().run_in_executor(
                None, self.store.to_memory, fill.chunks)
        except OSError as exc:
            log.warning("cannot hold slice %d of %s in memory: %s", fill.key.index,
                        fill.key.obj, exc)
            return False
        if not self.store.hold(meta, fill.key.index, fd):
            return False
        self.stats.held += 1
        return True

    def apply(self, access: Access) -> None:
        """Carry out a policy decision's side effects: delete the evicted slices, write the
        promoted ones that are held in memory."""
        if access.evicted:
            self.store.evict(access.evicted)
        for key in access.promoted:
            held = self.store.held(key)
            if held is not None:
                self.spawn(self._write_held(key, *held))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task the manager keeps (and cancels on `close`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_held(self, key: SliceKey, meta: ObjectMeta, fd: int, size: int) -> None:
        store = self.store
        path = await asyncio.get_running_loop().run_in_executor(
            None, store.write_held, meta, key.index, fd, size)
        if store.landed(meta, key.index, path is not None):
            self.stats.promoted += 1
            self.stats.committed += 1
            self.stats.committed_bytes += size

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
