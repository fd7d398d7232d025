"""The edge runs its default policy: a popular object survives a scan of one-hit objects
that evicts it under LRU (real edge and origin processes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.edge.conftest import Origin, blob
from tests.support.procs import http_get

SLICE = 256 * 1024


@pytest.mark.parametrize(("policy", "survives"), [("lru", False), ("default", True)])
def test_popular_object_survives_a_scan(origin: Origin, start_edge: Any, policy: str,
                                        survives: bool, tmp_path: Path) -> None:
    popular = blob(SLICE, seed=500)
    origin.put(f"pop/{policy}/hot.mp4", popular)
    for i in range(24):
        origin.put(f"pop/{policy}/scan{i}.mp4", blob(SLICE, seed=501 + i))
    cache = tmp_path / f"cache-{policy}"
    edge = start_edge("--slice-size", "256KiB", "--cache-size", "2MiB", "--policy", policy,
                      "--prefetch-slices", "0", cache_dir=cache)
    hot = f"{edge.url}/pop/{policy}/hot.mp4"
    for _ in range(6):
        assert http_get(hot)[2] == popular
        time.sleep(0.05)
    for i in range(24):  # one-hit wonders, three times the cache
        assert http_get(f"{edge.url}/pop/{policy}/scan{i}.mp4")[0] == 200
        time.sleep(0.02)
    time.sleep(0.2)
    status, headers, body = http_get(hot)
    assert status == 200 and body == popular
    assert headers["x-cache"] == ("HIT" if survives else "MISS")
    # Objects whose slices all left (evicted, or never admitted) leave nothing behind: the
    # index and the metadata on disk hold only what the cache holds.
    time.sleep(0.2)
    text = http_get(f"{edge.url}/metrics")[2].decode()
    objects, in_memory = (next(float(line.split()[1]) for line in text.splitlines()
                               if line.startswith(name + " "))
                          for name in ("ocdn_edge_cache_objects",
                                       "ocdn_edge_window_memory_slices"))
    metas = list(cache.rglob("meta.json"))
    slices = [p for p in cache.rglob("*.*") if p.name != "meta.json"
              and "tmp" not in p.relative_to(cache).parts]
    # (a window slice waiting in memory has neither a file nor metadata on disk yet)
    assert 1 <= len(metas) == len(slices) == objects - in_memory <= 8
    assert policy == "default" or in_memory == 0
