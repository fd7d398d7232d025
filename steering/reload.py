"""Reloading the topology and token keys on SIGHUP and when their files change.

Changes are noticed by polling each file's (inode, mtime, size) every `check_s`: no
inotify dependency, and an editor's write-to-temp-then-rename shows as a new inode.
The load runs in a thread (a million prefixes take seconds) while the event loop keeps
answering from the old topology; the new one replaces it in one assignment, so no
request sees half of each and none is dropped. A file that fails to load leaves the old
topology in place and the reason in the log, the metrics and `/v1/edges`. The
signature is taken before reading, so a write that lands during a load is picked up
by the next check instead of being missed. Reloads never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger("ocdn.steering.reload")

T = TypeVar("T")
Signature = tuple[int, int, int] | None


def signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class Reloader(Generic[T]):
    """Calls `load()` (in a thread) and hands a result to `apply`, or an error to `fail`."""

    def __init__(
        self,
        paths: Sequence[str],
        load: Callable[[], T],
        apply: Callable[[T], None],
        fail: Callable[[str], None],
        check_s: float,
    ) -> None:
        self.paths = [p for p in paths if p]
        self._load = load
        self._apply = apply
        self._fail = fail
        self.check_s = check_s
        self._lock = asyncio.Lock()
        self._seen = self._signatures()

    def _signatures(self) -> list[Signature]:
        return [signature(p) for p in self.paths]

    async def reload(self, why: str) -> bool:
        async with self._lock:
            before = self._signatures()
            try:
                result = await asyncio.get_running_loop().run_in_executor(None, self._load)
            except Exception as exc:
                self._seen = before
                log.error("reload (%s) failed, keeping the current topology: %s", why, exc)
                self._fail(str(exc))
                return False
            self._seen = before
            self._apply(result)
            log.info("reloaded (%s)", why)
            return True

    async def watch(self) -> None:
        if self.check_s <= 0:
            return
        while True:
            await asyncio.sleep(self.check_s)
            if self._lock.locked():
                continue
            if self._signatures() != self._seen:
                await self.reload("file changed")
