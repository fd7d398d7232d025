from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from common.status import EdgeState, EdgeStatus
from steering.health import Probe
from steering.poller import Poller, probe

STATUS = EdgeStatus("e1", "s", EdgeState.UP, 1, 0.0, 0, 1, 0.0)


@pytest.fixture
async def edge() -> AsyncIterator[tuple[str, Callable[[web.Request], web.StreamResponse]]]:
    mode = {"value": "ok"}

    async def status(request: web.Request) -> web.StreamResponse:
        m = mode["value"]
        if m == "slow":
            await asyncio.sleep(1)
        if m == "500":
            return web.Response(status=500)
        if m == "junk":
            return web.Response(text="{not json")
        if m == "other":
            return web.Response(text=EdgeStatus("e2", "s", EdgeState.UP, 1, 0, 0, 1, 0).to_json())
        return web.Response(text=STATUS.to_json())

    app = web.Application()
    app.router.add_get("/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", mode  # type: ignore[misc]
    await runner.cleanup()


@pytest.mark.parametrize(("mode", "error"), [
    ("ok", ""),
    ("500", "/status answered HTTP 500"),
    ("junk", "invalid status document"),
    ("other", "status reports id 'e2', topology says 'e1'"),
    ("slow", "timeout after 0.2s"),
])
async def test_probe_outcomes(edge: tuple[str, dict[str, str]], mode: str, error: str) -> None:
    url, modes = edge
    modes["value"] = mode
    async with aiohttp.ClientSession() as session:
        result = await probe(session, "e1", url, 0.2)
    assert result.error.startswith(error) if error else result.error == ""
    assert (result.status == STATUS) is (not error)
    assert result.latency_s > 0


async def test_probe_of_a_closed_port() -> None:
    async with aiohttp.ClientSession() as session:
        result = await probe(session, "e1", "http://127.0.0.1:9", 0.5)
    assert result.status is None
    assert result.error == "cannot connect: connection refused"


async def test_poller_probes_at_its_interval_and_follows_the_topology(
    edge: tuple[str, dict[str, str]]
) -> None:
    url, _ = edge
    seen: list[tuple[str, Probe]] = []
    poller = Poller(0.05, 0.04, lambda e, p: seen.append((e, p)))
    poller.sync({"e1": url})
    await asyncio.sleep(0.5)
    poller.sync({"e1": url, "gone": "http://127.0.0.1:9"})
    await asyncio.sleep(0.2)
    poller.sync({"gone": "http://127.0.0.1:9"})
    count = sum(1 for e, _ in seen if e == "e1")
    await asyncio.sleep(0.2)
    await poller.close()
    assert 7 <= count <= 16
    assert sum(1 for e, _ in seen if e == "e1") == count
    assert all(p.status == STATUS for e, p in seen if e == "e1")
    assert any(e == "gone" and p.error for e, p in seen)
