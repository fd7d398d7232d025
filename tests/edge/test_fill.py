"""Fills against real processes: coalescing, read-while-fill, verification, origin faults."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from typing import Any

import aiohttp
import pytest

from edge.slices import disk_bytes
from tests.edge.conftest import Origin, blob, hit_soon, sha
from tests.support.procs import http_get

SLICE = 256 * 1024
CUT = (http.client.IncompleteRead, ConnectionError)  # what a client sees of a cut response


@pytest.fixture
def edge(start_edge: Any) -> Any:
    return start_edge("--slice-size", "256KiB", "--cache-size", "64MiB",
                      "--origin-attempts", "2", "--origin-read-timeout-s", "2")


async def _get_all(url: str, n: int, headers: dict[str, str] | None = None) -> list[bytes]:
    async with aiohttp.ClientSession() as session:
        async def one() -> bytes:
            async with session.get(url, headers=headers) as resp:
                assert resp.status in (200, 206)
                return await resp.read()

        return await asyncio.gather(*(one() for _ in range(n)))


def test_concurrent_cold_requests_cause_one_get_per_slice(origin: Origin, edge: Any) -> None:
    data = blob(5 * SLICE - 100, seed=20)
    origin.put("fill/herd.mp4", data)
    bodies = asyncio.run(_get_all(f"{edge.url}/fill/herd.mp4", 100))
    assert all(body == data for body in bodies)
    assert origin.gets("/media/fill/herd.mp4") == 5  # counted by the proxy, outside the edge
    _, _, metrics = http_get(f"{edge.url}/metrics")
    coalesced = [line for line in metrics.decode().splitlines()
                 if line.startswith("ocdn_edge_coalesced_waiters_total")]
    assert coalesced and float(coalesced[0].split()[1]) > 0


def test_concurrent_cold_ranges_in_one_slice(origin: Origin, edge: Any) -> None:
    data = blob(3 * SLICE, seed=21)
    origin.put("fill/ranges.mp4", data)
    bodies = asyncio.run(_get_all(f"{edge.url}/fill/ranges.mp4", 50,
                                  {"Range": f"bytes={SLICE + 7}-{SLICE + 5000}"}))
    assert all(b == data[SLICE + 7 : SLICE + 5001] for b in bodies)
    assert origin.gets("/media/fill/ranges.mp4") == 1


async def _timed(url: str, delay_s: float) -> tuple[float, float, bytes]:
    """(time of first body byte, time of last, body), relative to the call."""
    await asyncio.sleep(delay_s)
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        first = await resp.content.readany()
        t_first = time.monotonic()
        rest = await resp.read()
        return t_first - t0 + delay_s, time.monotonic() - t0 + delay_s, first + rest


def test_waiters_stream_bytes_before_the_fill_ends(origin: Origin, edge: Any) -> None:
    data = blob(SLICE, seed=22)  # one slice; the proxy sends it in 4 slow chunks
    origin.put("fill/slow.mp4", data)
    async def both() -> list[tuple[float, float, bytes]]:
        url = f"{edge.url}/fill/slow.mp4"
        return await asyncio.gather(_timed(url, 0.0), _timed(url, 0.2))

    with origin.faulty("slow"):
        (a_first, a_last, a_body), (b_first, _, b_body) = asyncio.run(both())
    assert a_body == data and b_body == data
    assert origin.gets("/media/fill/slow.mp4") == 1  # the second client joined the fill
    # The fill takes >= 0.45 s (3 pauses of 0.15 s); both clients saw bytes well before.
    assert a_last - a_first > 0.3
    assert b_first < a_last - 0.15


def test_origin_down_is_502_and_nothing_is_cached(origin: Origin, edge: Any) -> None:
    data = blob(SLICE, seed=23)
    origin.put("fill/down.mp4", data)
    with origin.faulty("500"):
        status, _, _ = http_get(f"{edge.url}/fill/down.mp4")
        assert status == 502
        assert origin.gets("/media/fill/down.mp4") == 2  # retried once (--origin-attempts 2)
    status, headers, body = http_get(f"{edge.url}/fill/down.mp4")
    assert status == 200 and body == data and headers["x-cache"] == "MISS"


def test_origin_reset_is_502_and_truncation_cuts_the_response(origin: Origin,
                                                              edge: Any) -> None:
    data = blob(SLICE, seed=24)
    origin.put("fill/reset.mp4", data)
    with origin.faulty("reset"):
        status, _, _ = http_get(f"{edge.url}/fill/reset.mp4")
    assert status == 502
    # Truncated after the headers: the edge streams while it fills, so the client has
    # the headers already; the only honest answer left is to cut the connection.
    with origin.faulty("truncate"), pytest.raises(CUT):
        http_get(f"{edge.url}/fill/reset.mp4")
    status, headers, body = http_get(f"{edge.url}/fill/reset.mp4")
    assert status == 200 and body == data and headers["x-cache"] == "MISS"


def test_origin_timeout_is_504(origin: Origin, edge: Any) -> None:
    origin.put("fill/hang.mp4", blob(100, seed=25))
    with origin.faulty("hang"):
        status, _, _ = http_get(f"{edge.url}/fill/hang.mp4")
    assert status == 504


def test_a_truncated_slice_mid_response_is_never_cached(origin: Origin, edge: Any) -> None:
    data = blob(3 * SLICE, seed=26)
    origin.put("fill/cut.mp4", data)
    assert http_get(f"{edge.url}/fill/cut.mp4", {"Range": "bytes=0-99"})[0] == 206
    with origin.faulty("truncate"), pytest.raises(CUT):
        http_get(f"{edge.url}/fill/cut.mp4")
    status, _, body = http_get(f"{edge.url}/fill/cut.mp4")
    assert status == 200 and sha(body) == sha(data)


def test_etag_change_refetches_and_never_mixes_bytes(origin: Origin, edge: Any) -> None:
    old = blob(4 * SLICE, seed=27)
    new = blob(4 * SLICE, seed=28)
    origin.put("fill/changing.mp4", old)
    url = f"{edge.url}/fill/changing.mp4"
    assert http_get(url, {"Range": f"bytes=0-{SLICE - 1}"})[2] == old[:SLICE]
    origin.put("fill/changing.mp4", new)
    # Slice 0 is an old-version hit; slice 1 comes back with the new ETag. The response
    # already promised the old version, so it must be cut rather than mixed.
    with pytest.raises(CUT):
        http_get(url)
    status, _, body = http_get(url)
    assert status == 200 and body == new
    assert hit_soon(url) == new


def _disk_usage(cache: Any) -> int:
    """Bytes the cache's objects take on disk (st_blocks): slice files, meta.json files and
    object directories; not the 256 fan-out directories above them."""
    objects = cache / "v1" / "objects"
    return sum(p.stat().st_blocks * 512 for p in objects.rglob("*")
               if p.is_file() or p.parent != objects)


def test_cache_size_holds(origin: Origin, start_edge: Any, tmp_path: Any) -> None:
    cache = tmp_path / "small-cache"
    edge = start_edge("--slice-size", "256KiB", "--cache-size", "1MiB", cache_dir=cache)
    objects = {f"fill/cap{i}.mp4": blob(2 * SLICE, seed=300 + i) for i in range(8)}
    for key, data in objects.items():
        origin.put(key, data)
    for key, data in objects.items():
        assert http_get(f"{edge.url}/{key}")[2] == data
        time.sleep(0.1)
        assert _disk_usage(cache) <= (1 << 20) + 2 * SLICE  # + fills in flight
    time.sleep(0.3)
    assert _disk_usage(cache) <= 1 << 20
    doc = json.loads(http_get(f"{edge.url}/status")[2])
    # three slices fit: each is charged its blocks and its object's directory and meta.json
    assert doc["cache_bytes_used"] == 3 * disk_bytes(SLICE) <= 1 << 20


def test_cache_size_holds_for_many_small_objects(origin: Origin, start_edge: Any,
                                                 tmp_path: Any) -> None:
    """Objects far smaller than a slice: their metadata and directories are most of what
    they take on disk, and are counted (charged to each slice: edge.slices.disk_bytes)."""
    cache = tmp_path / "small-objects"
    edge = start_edge("--slice-size", "256KiB", "--cache-size", "256KiB",
                      "--window-memory", "0", "--prefetch-slices", "0", cache_dir=cache)
    objects = {f"fill/tiny{i}.ts": blob(3000, seed=400 + i) for i in range(60)}
    for key, data in objects.items():
        origin.put(key, data)
    for key, data in objects.items():
        assert http_get(f"{edge.url}/{key}")[2] == data
    time.sleep(0.3)
    assert _disk_usage(cache) <= 256 << 10
    doc = json.loads(http_get(f"{edge.url}/status")[2])
    assert doc["cache_bytes_used"] == (256 << 10) // disk_bytes(3000) * disk_bytes(3000)


@pytest.mark.parametrize("prefetch", [1, 0])
def test_sequential_readers_get_the_next_slice_prefetched(origin: Origin, start_edge: Any,
                                                         prefetch: int) -> None:
    data = blob(4 * SLICE, seed=310 + prefetch)
    key = f"fill/seq{prefetch}.mp4"
    origin.put(key, data)
    edge = start_edge("--slice-size", "256KiB", "--prefetch-slices", str(prefetch))
    url = f"{edge.url}/{key}"
    assert http_get(url, {"Range": "bytes=0-99999"})[2] == data[:100000]
    assert http_get(url, {"Range": "bytes=100000-199999"})[2] == data[100000:200000]
    time.sleep(0.5)
    assert origin.gets(f"/media/{key}") == 1 + prefetch
    if prefetch:
        _, headers, body = http_get(url, {"Range": f"bytes={SLICE}-{SLICE + 99}"})
        assert headers["x-cache"] == "HIT" and body == data[SLICE : SLICE + 100]
