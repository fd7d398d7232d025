"""Polling every edge's `/status`: the I/O half of health (the state machine is `health`).

One task per edge probes at a fixed rate (`interval_s`, not interval plus probe time,
so a slow edge is not polled less often), each probe bounded by `timeout_s`. The
first probe goes out at once, with up to 50 ms of jitter so a large topology does not
probe in lockstep. Connections are kept alive; a killed edge breaks its connection and
refuses the next, so it fails its probes immediately rather than after a timeout.

The outcome of each probe goes to `on_probe(edge_id, Probe)`; the poller decides
nothing. `sync` reconciles the tasks with a new topology: an edge whose URL is unchanged
keeps its task (and its health, which the service keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping

import aiohttp

from common.status import EdgeStatus
from steering.health import Probe, check_status

log = logging.getLogger("ocdn.steering.poller")

MAX_STATUS_BYTES = 64 * 1024
_JITTER_S = 0.05


async def probe(
    session: aiohttp.ClientSession, edge_id: str, url: str, timeout_s: float
) -> Probe:
    """GET `url`/status once and judge the answer."""
    start = time.monotonic()
    try:
        async with session.get(
            url + "/status", timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as resp:
            body = await resp.content.read(MAX_STATUS_BYTES)
            status_code = resp.status
    except TimeoutError:
        return Probe(None, f"timeout after {timeout_s:g}s", time.monotonic() - start)
    except aiohttp.ClientConnectorError as exc:
        err = exc.os_error
        reason = os.strerror(err.errno) if err is not None and err.errno else str(exc)
        return Probe(None, f"cannot connect: {reason.lower()}", time.monotonic() - start)
    except (aiohttp.ClientError, OSError) as exc:
        return Probe(None, f"{type(exc).__name__}: {exc}".rstrip(": "), time.monotonic() - start)
    latency = time.monotonic() - start
    if status_code != 200:
        return Probe(None, f"/status answered HTTP {status_code}", latency)
    try:
        status = EdgeStatus.from_json(body)
    except ValueError as exc:
        return Probe(None, str(exc), latency)
    mismatch = check_status(edge_id, status)
    if mismatch:
        return Probe(None, mismatch, latency)
    return Probe(status, "", latency)


class Poller:
    def __init__(
        self, interval_s: float, timeout_s: float, on_probe: Callable[[str, Probe], None]
    ) -> None:
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._on_probe = on_probe
        self._tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._session: aiohttp.ClientSession | None = None

    def sync(self, edges: Mapping[str, str]) -> None:
        """Probe exactly `edges` (id -> base URL) from now on."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=2, ttl_dns_cache=60),
                headers={"User-Agent": "ocdn-steering"},
            )
        for edge_id, (url, task) in list(self._tasks.items()):
            if edges.get(edge_id) != url:
                task.cancel()
                del self._tasks[edge_id]
        for edge_id, url in edges.items():
            if edge_id not in self._tasks:
                task = asyncio.get_running_loop().create_task(
                    self._run(edge_id, url), name=f"probe {edge_id}")
                self._tasks[edge_id] = (url, task)

    async def _run(self, edge_id: str, url: str) -> None:
        assert self._session is not None
        loop = asyncio.get_running_loop()
        await asyncio.sleep(random.uniform(0, _JITTER_S))
        next_at = loop.time()
        while True:
            result = await probe(self._session, edge_id, url, self.timeout_s)
            try:
                self._on_probe(edge_id, result)
            except Exception:
                log.exception("recording a probe of %s failed", edge_id)
            next_at += self.interval_s
            now = loop.time()
            if next_at < now:
                next_at = now
            await asyncio.sleep(next_at - now)

    async def close(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
