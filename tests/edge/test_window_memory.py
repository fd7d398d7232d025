"""Window slices wait in memory (`--window-memory`, edge.staging): real edge and origin
processes. A new slice is served from memory and reaches the disk only when the policy
promotes it; one that leaves the window evicted is never written; a restart forgets what
was only in memory and keeps what was promoted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.edge.conftest import Origin, blob, hit_soon
from tests.support.procs import free_port, http_get

SLICE = 256 * 1024
ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


def metric(edge: Any, name: str) -> float:
    text = http_get(f"{edge.url}/metrics")[2].decode()
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith(name + " "))


def wait_metric(edge: Any, name: str, value: float, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (got := metric(edge, name)) != value:
        assert time.monotonic() < deadline, f"{name} is {got}, never {value}"
        time.sleep(0.05)


def small_edge(start_edge: Any, cache: Path | None, *flags: str) -> Any:
    """256 KiB slices, a 64 MiB cache, no prefetch (every fill is a client's)."""
    return start_edge("--slice-size", "256KiB", "--cache-size", "64MiB",
                      "--prefetch-slices", "0", *flags, cache_dir=cache)


def slice_files(cache: Path) -> list[Path]:
    return [p for p in (cache / "v1" / "objects").rglob("*.*") if p.name != "meta.json"]


def test_a_new_slice_is_served_from_memory_without_a_write(
        origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    data = blob(2 * SLICE + 1000, seed=700)  # three slices, the last one short
    origin.put("win/a.mp4", data)
    cache = tmp_path / "cache"
    edge = small_edge(start_edge, cache)
    url = f"{edge.url}/win/a.mp4"
    assert http_get(url)[2] == data
    wait_metric(edge, "ocdn_edge_window_memory_slices", 3)
    assert metric(edge, "ocdn_edge_window_memory_bytes") == len(data)
    assert metric(edge, "ocdn_edge_window_held_total") == 3
    assert slice_files(cache) == []
    assert metric(edge, "ocdn_edge_disk_write_bytes_total") == 0
    gets = origin.gets("/media/win/a.mp4")
    # every hit path serves from the memory copy: whole object, one slice, across slices
    status, headers, body = http_get(url)
    assert (status, headers["x-cache"], body) == (200, "HIT", data)
    for lo, hi in ((10, 1000), (SLICE - 10, SLICE + 9), (0, len(data) - 1),
                   (2 * SLICE, len(data) - 1)):
        status, headers, body = http_get(url, {"Range": f"bytes={lo}-{hi}"})
        assert (status, headers["x-cache"], body) == (206, "HIT", data[lo:hi + 1]), (lo, hi)
    status, headers, body = http_get(url, {"Range": "bytes=0-10,20-30"})  # multipart
    assert status == 206 and headers["x-cache"] == "HIT" and data[20:31] in body
    assert origin.gets("/media/win/a.mp4") == gets
    assert slice_files(cache) == []


def test_window_memory_zero_writes_every_admitted_slice(
        origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    data = blob(2 * SLICE, seed=701)
    origin.put("win/b.mp4", data)
    cache = tmp_path / "cache"
    edge = small_edge(start_edge, cache, "--window-memory", "0")
    assert hit_soon(f"{edge.url}/win/b.mp4") == data
    assert len(slice_files(cache)) == 2
    assert metric(edge, "ocdn_edge_disk_write_bytes_total") == len(data)
    assert metric(edge, "ocdn_edge_window_memory_slices") == 0


def test_promoted_slices_are_written_and_survive_a_restart_the_rest_never_touch_disk(
        origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    """Cache of 8 slices, window of 4 (half the cache). A hot object read six times wins
    its place in main when it leaves the window and is written; the one-read objects that
    follow lose their duel and leave without a write. After kill -9 the hot object is a
    hit from disk; what was only in memory is fetched again, byte for byte. (A one-read
    object read whole would not even be admitted once the cache is full: `vod` bypasses a
    cold read to the slice's end.)"""
    hot = blob(SLICE, seed=702)
    origin.put("win/hot.mp4", hot)
    scans = {f"win/scan{i}.mp4": blob(SLICE - 100 * (i + 1), seed=703 + i) for i in range(12)}
    for key, data in scans.items():
        origin.put(key, data)
    cache, port = tmp_path / "cache", free_port()
    args = ("--slice-size", "256KiB", "--cache-size", "2MiB", "--prefetch-slices", "0")
    edge = start_edge(*args, cache_dir=cache, port=port)
    for _ in range(6):
        assert http_get(f"{edge.url}/win/hot.mp4")[2] == hot
    for key, data in scans.items():  # read as a player does: in two requests
        assert http_get(f"{edge.url}/{key}", {"Range": "bytes=0-999"})[2] == data[:1000]
        assert http_get(f"{edge.url}/{key}", {"Range": "bytes=1000-"})[2] == data[1000:]
        time.sleep(0.05)
    time.sleep(0.3)
    promoted = metric(edge, "ocdn_edge_window_promoted_total")
    assert promoted >= 1
    written = metric(edge, "ocdn_edge_disk_write_bytes_total")
    files = slice_files(cache)
    # every byte written is a promoted slice; the scans beyond main's room never were
    # every byte written is a promoted slice (main had room for the hot one and the first
    # scans); the scans after them lost their duel and were never written
    assert len(files) == promoted < 1 + len(scans)
    assert written == sum(p.stat().st_size for p in files)
    assert any(p.stat().st_size == SLICE and p.name.startswith("0.") for p in files)
    status, headers, body = http_get(f"{edge.url}/win/hot.mp4")
    assert (status, headers["x-cache"], body) == (200, "HIT", hot)
    held = metric(edge, "ocdn_edge_window_memory_slices")
    assert held >= 1  # the last scans are still in the window
    last = list(scans)[-1]
    assert http_get(f"{edge.url}/{last}")[1]["x-cache"] == "HIT"

    edge.kill9()
    edge = start_edge(*args, cache_dir=cache, port=port)
    status, headers, body = http_get(f"{edge.url}/win/hot.mp4")
    assert (status, headers["x-cache"], body) == (200, "HIT", hot)
    status, headers, body = http_get(f"{edge.url}/{last}")  # it was only in memory
    assert (status, headers["x-cache"], body) == (200, "MISS", scans[last])


def test_purge_frees_the_memory_of_held_slices(
        origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    data = blob(3 * SLICE, seed=720)
    origin.put("win/purged.mp4", data)
    admin = tmp_path / "admin-token"
    admin.write_text("test-admin-token-0123456789\n")
    edge = small_edge(start_edge, None, "--admin-token-file", str(admin))
    assert http_get(f"{edge.url}/win/purged.mp4")[2] == data
    wait_metric(edge, "ocdn_edge_window_memory_slices", 3)
    status, _, body = http_get(f"{edge.url}/admin/purge", ADMIN, method="POST",
                               data=json.dumps({"key": "win/purged.mp4"}).encode())
    assert status == 200 and json.loads(body) == {"purged": 1}
    assert metric(edge, "ocdn_edge_window_memory_slices") == 0
    assert metric(edge, "ocdn_edge_window_memory_bytes") == 0
    assert metric(edge, "ocdn_edge_cache_bytes") == 0
    status, headers, body = http_get(f"{edge.url}/win/purged.mp4")
    assert (status, headers["x-cache"], body) == (200, "MISS", data)


def test_a_full_window_memory_writes_new_slices_at_once(
        origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    data = blob(3 * SLICE, seed=730)
    origin.put("win/spill.mp4", data)
    cache = tmp_path / "cache"
    edge = small_edge(start_edge, cache, "--window-memory", "300KiB")
    url = f"{edge.url}/win/spill.mp4"
    assert http_get(url)[2] == data
    wait_metric(edge, "ocdn_edge_disk_write_bytes_total", 2 * SLICE)  # room for one slice
    assert metric(edge, "ocdn_edge_window_memory_slices") == 1
    assert metric(edge, "ocdn_edge_window_spilled_total") == 2
    assert len(slice_files(cache)) == 2
    status, headers, body = http_get(url)
    assert (status, headers["x-cache"], body) == (200, "HIT", data)
