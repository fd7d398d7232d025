"""The slice store: crash safety and restart, on real processes and directly."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from edge.policy import Outcome, SliceKey
from edge.policy.lru import LRU
from edge.policy.vod import VOD
from edge.slices import disk_bytes
from edge.store import ObjectMeta, SliceStore
from tests.edge.conftest import Origin, blob, hit_soon, sha
from tests.support.procs import free_port, http_get

SLICE = 256 * 1024


def test_kill9_during_fills_then_restart_serves_only_good_bytes(
    origin: Origin, start_edge: Any, tmp_path: Path
) -> None:
    objects = {f"crash/{i}.mp4": blob(6 * SLICE + i * 1000, seed=100 + i) for i in range(6)}
    for key, data in objects.items():
        origin.put(key, data)
    cache = tmp_path / "cache"
    port = free_port()
    # Every slice written at once: this is about what a kill leaves on disk (window
    # slices held in memory are simply lost: tests/edge/test_window_memory.py).
    args = ("--slice-size", "256KiB", "--cache-size", "64MiB", "--window-memory", "0")
    edge = start_edge(*args, cache_dir=cache, port=port)
    origin.fault("slow")  # keep fills in flight when the kill lands

    async def load() -> None:
        async with aiohttp.ClientSession() as session:
            async def one(key: str) -> None:
                try:
                    async with session.get(f"{edge.url}/{key}") as resp:
                        await resp.read()
                except aiohttp.ClientError:
                    pass

            await asyncio.gather(*(one(k) for k in objects), return_exceptions=True)

    thread = threading.Thread(target=lambda: asyncio.run(load()))
    thread.start()
    time.sleep(1.0)
    edge.kill9()
    thread.join(30)
    origin.fault("ok")
    slices_before = sorted(p.name for p in cache.rglob("*.*") if p.name != "meta.json")
    assert slices_before, "some slices should have completed before the kill"
    edge = start_edge(*args, cache_dir=cache, port=port)
    assert not any((cache / "v1" / "tmp").iterdir()), "temporary files survive a restart"
    for key, data in objects.items():
        status, _, body = http_get(f"{edge.url}/{key}")
        assert status == 200 and sha(body) == sha(data), key
    # Whatever survived the kill was complete: served as hits, byte for byte.
    for key, data in objects.items():
        assert sha(hit_soon(f"{edge.url}/{key}")) == sha(data)


def test_restart_keeps_hits(origin: Origin, start_edge: Any, tmp_path: Path) -> None:
    data = blob(3 * SLICE, seed=120)
    origin.put("restart/a.mp4", data)
    cache, port = tmp_path / "cache", free_port()
    args = ("--slice-size", "256KiB", "--window-memory", "0")  # every slice on disk at once
    edge = start_edge(*args, cache_dir=cache, port=port)
    assert hit_soon(f"{edge.url}/restart/a.mp4") == data
    edge.stop()
    gets = origin.gets("/media/restart/a.mp4")
    edge = start_edge(*args, cache_dir=cache, port=port)
    status, headers, body = http_get(f"{edge.url}/restart/a.mp4")
    assert status == 200 and headers["x-cache"] == "HIT" and body == data
    assert origin.gets("/media/restart/a.mp4") == gets


def _fake_cache(root: Path, objects: int, slices_per_object: int, slice_bytes: int) -> None:
    """Lay out a cache of sparse slice files as the store writes them."""
    base = root / "v1" / "objects"
    for i in range(objects):
        key = f"big/{i}.mp4"
        meta = ObjectMeta(key, slices_per_object * slice_bytes, f'"etag{i}"', 1_700_000_000,
                          "video/mp4")
        digest = hashlib.sha256(key.encode()).hexdigest()
        directory = base / digest[:2] / digest
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "meta.json").write_text(json.dumps({
            "key": key, "size": meta.size, "etag": meta.etag,
            "last_modified": meta.last_modified, "content_type": meta.content_type,
            "cache_control": None}))
        for s in range(slices_per_object):
            fd = os.open(directory / f"{s}.{meta.tag}", os.O_WRONLY | os.O_CREAT, 0o644)
            os.ftruncate(fd, slice_bytes)
            os.close(fd)


def test_serves_within_2s_with_100k_slices_on_disk(
    origin: Origin, start_edge: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _fake_cache(cache, objects=2000, slices_per_object=50, slice_bytes=64 * 1024)
    data = blob(1000, seed=121)
    origin.put("big/fresh.mp4", data)
    t0 = time.monotonic()
    edge = start_edge("--slice-size", "64KiB", "--cache-size", "100GiB", cache_dir=cache)
    status, headers, body = http_get(f"{edge.url}/big/1999.mp4", {"Range": "bytes=0-9"})
    elapsed = time.monotonic() - t0
    assert status == 206 and headers["x-cache"] == "HIT" and body == b"\0" * 10
    assert elapsed < 2.0, f"first hit after {elapsed:.2f}s"
    assert http_get(f"{edge.url}/big/fresh.mp4")[2] == data
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        doc = json.loads(http_get(f"{edge.url}/status")[2])
        if doc["cache_bytes_used"] >= 100_000 * disk_bytes(64 * 1024):
            break
        time.sleep(0.2)
    assert doc["cache_bytes_used"] - 100_000 * disk_bytes(64 * 1024) in (0, disk_bytes(1000))


# ---- the store directly (real files in a temp dir, no server) ------------------------


def _meta(key: str = "k.mp4", size: int = 12 * 1024, etag: str = '"v1"') -> ObjectMeta:
    return ObjectMeta(key, size, etag, None, "video/mp4")


def test_commit_is_atomic_and_tagged_by_version(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    meta = _meta()
    store.learn(meta)
    store.policy.access(SliceKey(meta.key, 0), 4096, 0.0)
    path = store.commit(meta, 0, [b"a" * 1000, b"b" * 3096])
    assert path is not None and path.endswith(f"0.{meta.tag}")
    assert store.committed(meta, 0)
    assert not list((tmp_path / "v1" / "tmp").iterdir())
    changed = _meta(etag='"v2"')
    assert changed.tag != meta.tag
    store.learn(changed)  # a new version drops the old slices
    assert not os.path.exists(path)
    assert SliceKey(meta.key, 0) not in store.policy


def test_reopen_removes_temporaries_and_wrong_sized_or_stale_slices(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    meta = _meta()
    store.learn(meta)
    for i in range(3):
        store.policy.access(SliceKey(meta.key, i), 4096, 0.0)
        store.commit(meta, i, [bytes(4096)])
    directory = Path(store.lookup(meta.key).directory)  # type: ignore[union-attr]
    (directory / f"1.{meta.tag}").write_bytes(b"short")  # damaged
    (directory / "2.0123456789ab").write_bytes(bytes(4096))  # another version's slice
    (tmp_path / "v1" / "tmp" / "partial").write_bytes(b"x")
    fresh = SliceStore(tmp_path, 4096, LRU(1 << 20))
    fresh.open()
    entry = fresh.lookup(meta.key)  # before the index is built: probed on disk
    assert entry is not None and entry.present == {0, 2}
    assert not (directory / f"1.{meta.tag}").exists()
    assert not (directory / "2.0123456789ab").exists()
    assert not (tmp_path / "v1" / "tmp" / "partial").exists()


def test_index_respects_a_smaller_capacity(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    meta = _meta(size=40960)
    store.learn(meta)
    for i in range(10):
        store.policy.access(SliceKey(meta.key, i), 4096, 0.0)
        store.commit(meta, i, [bytes(4096)])
    small = SliceStore(tmp_path, 4096, LRU(4 * disk_bytes(4096)))

    async def build() -> None:
        small.open()
        await small.start_indexing()

    asyncio.run(build())
    assert small.used_bytes == 4 * disk_bytes(4096)
    files = [p for p in (tmp_path / "v1" / "objects").rglob("*.*") if p.name != "meta.json"]
    assert len(files) == 4


def _cache_one(store: SliceStore, meta: ObjectMeta, index: int) -> None:
    access = store.policy.access(SliceKey(meta.key, index), 4096, 0.0)
    store.evict(access.evicted)
    assert store.commit(meta, index, [bytes(4096)]) is not None
    assert store.committed(meta, index)


def test_an_object_whose_last_slice_is_evicted_is_forgotten(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(2 * 4096))
    store.open()
    old, new = _meta(key="a.mp4", size=8192), _meta(key="b.mp4", size=8192)
    store.learn(old)
    _cache_one(store, old, 0)
    _cache_one(store, old, 1)
    directory = Path(store.index["a.mp4"].directory)
    store.learn(new)
    _cache_one(store, new, 0)  # evicts a.mp4's slice 0: a.mp4 keeps slice 1
    assert store.index["a.mp4"].present == {1} and (directory / "meta.json").exists()
    _cache_one(store, new, 1)  # evicts a.mp4's last slice
    assert "a.mp4" not in store.index and not directory.exists()
    assert store.index["b.mp4"].present == {0, 1}


def test_release_keeps_an_object_while_a_fill_of_it_runs(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    meta = _meta(size=8192)
    store.learn(meta)
    store.release(meta.key)  # nothing on disk, no fill running: a bypassed miss
    assert meta.key not in store.index
    store.learn(meta)
    store.fill_started(meta.key)
    store.fill_started(meta.key)
    store.policy.access(SliceKey(meta.key, 1), 4096, 0.0)  # admitted, its fill running
    store.release(meta.key)
    assert meta.key in store.index
    store.fill_ended(meta.key)  # the other fill (a bypass) ends first
    assert meta.key in store.index
    assert store.commit(meta, 1, [bytes(4096)]) is not None and store.committed(meta, 1)
    store.fill_ended(meta.key)
    assert store.index[meta.key].present == {1}
    store.evict([SliceKey(meta.key, 1)])
    assert meta.key not in store.index


def test_a_write_that_lands_after_its_object_was_released_leaves_nothing(
        tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    meta = _meta(size=8192)
    store.learn(meta)
    store.policy.access(SliceKey(meta.key, 0), 4096, 0.0)
    store.policy.remove(SliceKey(meta.key, 0))  # evicted while its fill ran
    store.release(meta.key)
    path = store.commit(meta, 0, [bytes(4096)])  # the write was already under way
    assert path is not None
    assert not store.committed(meta, 0)
    assert not Path(path).parent.exists()


def test_indexing_removes_metadata_without_slices(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    kept, empty = _meta(key="kept.mp4"), _meta(key="empty.mp4")
    for meta in (kept, empty):
        store.learn(meta)
        _cache_one(store, meta, 0)
    directory = Path(store.index["empty.mp4"].directory)
    (directory / f"0.{empty.tag}").unlink()  # as a crash between two unlinks leaves it
    fresh = SliceStore(tmp_path, 4096, LRU(1 << 20))

    async def build() -> None:
        fresh.open()
        await fresh.start_indexing()

    asyncio.run(build())
    assert set(fresh.index) == {"kept.mp4"} and not directory.exists()


def test_a_slice_reaches_the_disk_before_its_name(tmp_path: Path, monkeypatch: Any) -> None:
    """fsync of the slice's file comes before the rename that makes it visible (a power
    loss must not leave a final name without its bytes). The calls are recorded around
    the real ones."""
    store = SliceStore(tmp_path, 4096, LRU(1 << 20))
    store.open()
    meta = _meta(size=4096)
    store.learn(meta)
    store.policy.access(SliceKey(meta.key, 0), 4096, 0.0)
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(f"replace {src} {dst}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    final = store.commit(meta, 0, [bytes(4096)])
    assert final is not None
    last = calls[-1].split()
    assert last[0] == "replace" and last[2] == final
    assert calls[-2] == f"fsync {last[1]}"


# ---- window slices held in memory (edge.staging) ----------------------------------------


def _held_store(tmp_path: Path, window_memory: int = 1 << 20) -> tuple[SliceStore, ObjectMeta]:
    store = SliceStore(tmp_path, 4096, VOD(64 * 4096), window_memory)
    store.open()
    meta = _meta(size=8192)
    store.learn(meta)
    return store, meta


def _hold_one(store: SliceStore, meta: ObjectMeta, index: int = 0) -> int:
    """Admit slice `index` into the policy's window and hold it in memory; its memfd."""
    store.policy.access(SliceKey(meta.key, index), 4096, 0.0)
    fd = store.to_memory([bytes(4096)])
    assert store.hold(meta, index, fd)
    return fd


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_a_held_slice_is_served_from_memory_and_written_when_promoted(tmp_path: Path) -> None:
    store, meta = _held_store(tmp_path)
    key = SliceKey(meta.key, 0)
    data = blob(4096, seed=900)
    assert store.policy.access(key, 4096, 0.0).outcome is Outcome.ADMIT
    assert store.policy.staged(key)
    assert store.hold(meta, 0, store.to_memory([data[:1000], data[1000:]]))
    entry = store.index[meta.key]
    assert 0 in entry.present and store.staging.held_bytes == 4096
    assert os.pread(store.slice_fd(entry, 0), 4096, 0) == data  # the hit paths' fd
    copy = store.open_slice(entry, 0)  # a response's own fd
    assert os.pread(copy, 4096, 0) == data and store.has_slice(entry, 0)
    os.close(copy)
    assert not list((tmp_path / "v1" / "objects").rglob("0.*"))  # nothing on disk
    held = store.held(key)
    assert held is not None and store.held(key) is None  # one write at a time
    _, fd, size = held
    path = store.write_held(meta, 0, fd, size)
    assert _closed(fd)  # write_held closes its dup
    assert path is not None and Path(path).read_bytes() == data
    assert store.landed(meta, 0, True)
    assert entry.memory == {} and store.staging.held_bytes == 0 and 0 in entry.present
    assert os.pread(store.slice_fd(entry, 0), 4096, 0) == data  # now from the file


def test_hold_is_refused_once_the_policy_no_longer_stages_the_slice(tmp_path: Path) -> None:
    store, meta = _held_store(tmp_path)
    key = SliceKey(meta.key, 0)
    store.policy.access(key, 4096, 0.0)
    store.policy.remove(key)
    store.policy.add(key, 4096)  # in main now, as a promotion during the copy leaves it
    fd = store.to_memory([bytes(4096)])
    assert not store.hold(meta, 0, fd) and _closed(fd)
    assert store.staging.held_bytes == 0 and 0 not in store.index[meta.key].present


def test_a_full_budget_refuses_to_hold(tmp_path: Path) -> None:
    store, meta = _held_store(tmp_path, window_memory=4096)
    _hold_one(store, meta, 0)
    store.policy.access(SliceKey(meta.key, 1), 4096, 0.0)
    fd = store.to_memory([bytes(4096)])
    assert not store.hold(meta, 1, fd) and _closed(fd)  # the caller writes it to disk
    assert store.staging.spilled == 1


def test_evicting_a_held_slice_frees_its_memory_and_writes_nothing(tmp_path: Path) -> None:
    store, meta = _held_store(tmp_path)
    key = SliceKey(meta.key, 0)
    fd = _hold_one(store, meta)
    store.policy.remove(key)
    store.evict([key])
    assert _closed(fd) and store.staging.held_bytes == 0 and meta.key not in store.index
    assert not list((tmp_path / "v1" / "objects").rglob("*"))


def test_a_held_slice_evicted_while_its_write_runs_leaves_nothing(tmp_path: Path) -> None:
    store, meta = _held_store(tmp_path)
    key = SliceKey(meta.key, 0)
    _hold_one(store, meta)
    held = store.held(key)
    assert held is not None
    store.policy.remove(key)
    store.evict([key])  # the write is already under way
    path = store.write_held(meta, 0, held[1], held[2])
    assert path is not None and not store.landed(meta, 0, True)
    assert not Path(path).exists() and meta.key not in store.index


def test_a_failed_write_of_a_held_slice_forgets_it(tmp_path: Path) -> None:
    store, meta = _held_store(tmp_path)
    key = SliceKey(meta.key, 0)
    fd = _hold_one(store, meta)
    held = store.held(key)
    assert held is not None
    os.close(held[1])
    assert not store.landed(meta, 0, False)  # e.g. the disk is full
    assert key not in store.policy and _closed(fd) and store.staging.held_bytes == 0
    assert meta.key not in store.index


def test_freshness_follows_the_origin_cache_control() -> None:
    cases = [
        (None, 3600.0),
        ("public", 3600.0),
        ("max-age=60", 60.0),
        ("public, max-age=60", 60.0),
        ("max-age=60, s-maxage=600", 600.0),  # a shared cache's own lifetime wins
        ("s-maxage=600, max-age=60", 600.0),
        ('max-age="30"', 30.0),
        ("MAX-AGE=30", 30.0),
        ("max-age=0", 1.0),  # at most one check a second
        ("no-cache", 1.0),
        ("no-store", 1.0),
        ("max-age=abc", 3600.0),  # not a number: the default
        ("max-age=-5", 3600.0),
    ]
    for header, want in cases:
        meta = ObjectMeta("k", 1, '"e"', None, "video/mp4", header)
        assert meta.fresh_for(3600.0) == want, header


def test_learning_a_version_makes_it_fresh(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20), revalidate_after_s=100.0)
    store.open()
    meta = _meta()
    before = time.perf_counter()
    entry = store.learn(meta)
    assert before + 100 <= entry.fresh_until <= time.perf_counter() + 100
    entry.fresh_until = 0.0  # stale, as after a restart
    assert store.learn(meta) is entry and entry.fresh_until >= before + 100
    newer = store.learn(_meta(etag='"v2"'))
    assert newer is not entry and newer.fresh_until >= before + 100


def test_a_restart_keeps_what_freshness_is_left(tmp_path: Path) -> None:
    store = SliceStore(tmp_path, 4096, LRU(1 << 20), revalidate_after_s=3600.0)
    store.open()
    recent, old = _meta(key="recent.mp4"), _meta(key="old.mp4")
    for meta in (recent, old):
        store.learn(meta)
        _cache_one(store, meta, 0)
    old_meta = Path(store.index["old.mp4"].directory) / "meta.json"
    os.utime(old_meta, (time.time() - 7200, time.time() - 7200))  # confirmed 2 h ago
    recent_meta = Path(store.index["recent.mp4"].directory) / "meta.json"
    os.utime(recent_meta, (time.time() - 600, time.time() - 600))  # 10 min ago
    fresh = SliceStore(tmp_path, 4096, LRU(1 << 20), revalidate_after_s=3600.0)

    async def build() -> None:
        fresh.open()
        await fresh.start_indexing()

    asyncio.run(build())
    now = time.perf_counter()
    assert fresh.index["old.mp4"].fresh_until == 0.0  # stale: checked at its next hit
    assert now + 2990 <= fresh.index["recent.mp4"].fresh_until <= now + 3000
    fresh.confirm(fresh.index["old.mp4"])  # a revalidation said: unchanged
    assert fresh.index["old.mp4"].fresh_until >= now + 3599
    assert time.time() - old_meta.stat().st_mtime < 5


def test_held_slices_leave_most_file_descriptors_free(tmp_path: Path) -> None:
    import resource

    store, _ = _held_store(tmp_path)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert store.staging.max_slices == max(soft // 4, 1)  # one memfd each
