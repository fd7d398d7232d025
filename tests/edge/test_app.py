"""EdgeApp in-process, on a real store in a temp dir, with a transport that records
writes: the synchronous hit path and its bookkeeping, where a real socket adds nothing."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.http import Connection, HttpServer, Request
from edge.accesslog import AccessLog
from edge.app import EdgeApp, simple_range
from edge.fill import Fill, FillManager
from edge.metrics import EdgeMetrics
from edge.policy import SliceKey, make_policy
from edge.policy.base import BYPASS, HIT, Access
from edge.policy.lru import LRU
from edge.store import ObjectMeta, SliceStore

SLICE = 64 * 1024


class Recorder:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def writelines(self, parts: list[bytes]) -> None:
        for part in parts:
            self.data += part

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, _: str) -> Any:
        return None


@pytest.fixture
async def app(tmp_path: Path) -> Any:
    store = SliceStore(tmp_path, SLICE, make_policy("lru", 1 << 30))
    store.open()
    data = hashlib.shake_256(b"app").digest(10 * SLICE)
    meta = ObjectMeta("obj.mp4", len(data), '"e1"', 1_700_000_000, "video/mp4")
    store.learn(meta)
    for i in range(10):
        store.policy.access(SliceKey(meta.key, i), SLICE, 0.0)
        store.commit(meta, i, [data[i * SLICE : (i + 1) * SLICE]])
        assert store.committed(meta, i)
    edge = EdgeApp(store, FillManager(None, store), EdgeMetrics(),  # type: ignore[arg-type]
                   AccessLog("off"), edge_id="t", send_mode="pread")
    return edge, data


def _get(app: EdgeApp, headers: dict[str, str]) -> bytes:
    conn = Connection(HttpServer(app))
    conn.transport = Recorder()  # type: ignore[assignment]
    request = Request("GET", b"/obj.mp4", b"", headers, True, b"", "127.0.0.1", 0.0)
    assert app(request, conn) is None  # answered synchronously: a hit
    return bytes(conn.transport.data)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["pread", "sendfile"])
async def test_fd_cache_cap_never_closes_an_fd_in_use(app: Any, mode: str) -> None:
    edge, data = app
    edge.send_mode = mode
    edge.store.max_open_fds = 2  # far below the 10 slices one response touches
    ranges = ",".join(f"{i * SLICE + 10}-{i * SLICE + 99}" for i in (9, 0, 5, 1, 8, 2))
    for _ in range(3):
        reply = _get(edge, {"range": f"bytes={ranges}"})
        assert reply.startswith(b"HTTP/1.1 206")
        for i in (9, 0, 5, 1, 8, 2):
            assert data[i * SLICE + 10 : i * SLICE + 100] in reply
        whole = _get(edge, {})
        assert whole.endswith(data)
        assert len(edge.store._open_fds) <= 2
    opened = sorted(os.listdir("/proc/self/fd"))
    edge.store.max_open_fds = 0
    edge.store.trim_fds()
    assert len(os.listdir("/proc/self/fd")) < len(opened)


async def test_evicted_slice_closes_its_cached_fd(app: Any) -> None:
    edge, data = app
    assert _get(edge, {"range": "bytes=0-9"}).endswith(data[:10])
    entry = edge.store.lookup("obj.mp4")
    assert 0 in entry.fds
    edge.store.evict([SliceKey("obj.mp4", 0)])
    assert 0 not in entry.fds and 0 not in entry.present


class Asked(LRU):
    """LRU that records every access's `reaches_end` and answers BYPASS to misses."""

    def __init__(self, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        self.asked: list[tuple[SliceKey, bool]] = []

    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        self.asked.append((key, reaches_end))
        return HIT if key in self else BYPASS


async def test_hits_tell_the_policy_whether_they_reach_the_slice_end(app: Any) -> None:
    edge, _ = app
    policy = Asked(1 << 30)
    for i in range(10):
        policy.add(SliceKey("obj.mp4", i), SLICE)
    edge.policy = edge.store.policy = policy
    _get(edge, {"range": f"bytes=10-{SLICE - 1}"})  # to the end of slice 0
    _get(edge, {"range": f"bytes={SLICE}-{SLICE + 99}"})  # the start of slice 1
    _get(edge, {"range": f"bytes={3 * SLICE - 10}-{4 * SLICE + 5}"})  # 2 and 3 whole, 4 not
    assert policy.asked == [(SliceKey("obj.mp4", i), end) for i, end in
                            ((0, True), (1, False), (2, True), (3, True), (4, False))]


async def test_a_prefetch_is_asked_as_a_read_to_the_end_and_skipped_when_bypassed(
        app: Any) -> None:
    edge, _ = app
    policy = Asked(1 << 30)
    edge.policy = edge.store.policy = policy
    edge.prefetch_slices = 2
    meta = edge.store.lookup("obj.mp4").meta
    edge.store.drop("obj.mp4")  # nothing on disk: both slices would be fetched
    edge.store.learn(meta)
    fills: dict[int, Any] = {}
    edge._prefetch("obj.mp4", meta, 4, meta.size, fills)
    assert policy.asked == [(SliceKey("obj.mp4", 4), True), (SliceKey("obj.mp4", 5), True)]
    assert fills == {} and not edge.fills.inflight  # declined: no origin GET, no write


async def test_a_slice_still_landing_is_served_from_its_fill_as_a_hit(app: Any) -> None:
    """Between a fill's last byte and its rename, a request reads the fill's memory: no
    origin GET, so the answer says HIT and the metrics count hit bytes."""
    edge, data = app
    meta = edge.store.lookup("obj.mp4").meta
    edge.store.evict([SliceKey("obj.mp4", 3)])
    edge.policy.remove(SliceKey("obj.mp4", 3))
    fill = Fill(SliceKey("obj.mp4", 3), meta)
    fill.meta.set_result(meta)
    fill._append(data[3 * SLICE : 4 * SLICE])
    fill._finish(None)
    edge.fills.inflight[fill.key] = fill
    conn = Connection(HttpServer(edge))
    conn.transport = Recorder()  # type: ignore[assignment]
    request = Request("GET", b"/obj.mp4", b"", {"range": f"bytes={3 * SLICE + 5}-{3 * SLICE + 99}"},
                      True, b"", "127.0.0.1", 0.0)
    pending = edge(request, conn)
    assert pending is not None  # not on disk: the streaming path
    await pending
    reply = bytes(conn.transport.data)  # type: ignore[attr-defined]
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"X-Cache: HIT" in head and body == data[3 * SLICE + 5 : 3 * SLICE + 100]
    assert edge.metrics.served_bytes == {"hit": 95, "miss": 0}
    assert edge.metrics.request_counts() == {(206, "hit"): 1}
    # A fill still receiving is a miss.
    running = Fill(SliceKey("obj.mp4", 3), meta)
    running.meta.set_result(meta)
    running._append(data[3 * SLICE : 3 * SLICE + 200])
    edge.fills.inflight[running.key] = running
    conn = Connection(HttpServer(edge))
    conn.transport = Recorder()  # type: ignore[assignment]
    pending = edge(request, conn)
    assert pending is not None
    await pending
    assert b"X-Cache: MISS" in bytes(conn.transport.data)  # type: ignore[attr-defined]
    assert edge.metrics.request_counts() == {(206, "hit"): 1, (206, "miss"): 1}


@pytest.mark.parametrize("mode", ["pread", "sendfile"])
async def test_a_range_across_slices_is_answered_whole_on_the_hit_path(app: Any,
                                                                        mode: str) -> None:
    edge, data = app
    edge.send_mode = mode
    start, last = 2 * SLICE - 100, 4 * SLICE + 99  # three slices, partly
    reply = _get(edge, {"range": f"bytes={start}-{last}"})
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 206 ")
    assert f"Content-Range: bytes {start}-{last}/{len(data)}".encode() in head
    assert f"Content-Length: {last + 1 - start}".encode() in head and b"X-Cache: HIT" in head
    assert body == data[start : last + 1]
    whole = _get(edge, {})  # ten slices, no range
    assert whole.startswith(b"HTTP/1.1 200 ") and whole.endswith(b"\r\n\r\n" + data)


# ---- the hit path's own Range reader ------------------------------------------------

_REFERENCE = re.compile(r"bytes=([0-9]{1,15})-([0-9]{1,15})", re.ASCII)


def _reference(spec: str) -> tuple[int, int]:
    m = _REFERENCE.fullmatch(spec)
    return (int(m[1]), int(m[2]) + 1) if m else (-1, -1)


@pytest.mark.parametrize("spec", [
    "bytes=0-0", "bytes=10-20", "bytes=123456789012345-123456789012345", "bytes=0-",
    "bytes=-5", "bytes=1234567890123456-1", "bytes=1-1234567890123456", "bytes=1-2,3-4",
    "bytes= 1-2", "bytes=1-2 ", "Bytes=1-2", "bytes=+1-2", "bytes=1_0-20", "bytes=\u0663-4",
    "bytes=1--2", "bytes=-", "bytes=", "", "bytes1-2", "xbytes=1-2", "bytes=1-\uff12",
])
def test_simple_range_reads_exactly_what_the_reference_regex_reads(spec: str) -> None:
    assert simple_range(spec) == _reference(spec)


@given(st.text(alphabet="bytes=0123456789-, +_\u0663\uff12", max_size=40)
       | st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(0, 10**16), st.integers(0, 10**16)))
def test_simple_range_agrees_with_the_reference_regex(spec: str) -> None:
    assert simple_range(spec) == _reference(spec)
