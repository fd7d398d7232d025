"""The edge runs its default policy: a popular object survives a scan of one-hit objects
that evicts it under LRU (real edge and origin processes)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.edge.conftest import Origin, blob
from tests.support.procs import http_get

SLICE = 256 * 1024


@pytest.mark.parametrize(("policy", "survives"), [("lru", False), ("default", True)])
def test_popular_object_survives_a_scan(origin: Origin, start_edge: Any, policy: str,
                                        survives: bool) -> None:
    popular = blob(SLICE, seed=500)
    origin.put(f"pop/{policy}/hot.mp4", popular)
    for i in range(24):
        origin.put(f"pop/{policy}/scan{i}.mp4", blob(SLICE, seed=501 + i))
    edge = start_edge("--slice-size", "256KiB", "--cache-size", "2MiB", "--policy", policy,
                      "--prefetch-slices", "0")
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
