"""Tiered fill and the edge's two hit paths, end to end.

A child edge fills from a parent edge over HTTP (`--origin http://PARENT`), with the same
slice rules and verification as from S3; and every hit path (sendfile and pread+write)
must send the same bytes for single ranges, multi-ranges and whole objects.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.edge.conftest import Origin, blob, hit_soon
from tests.support.procs import http_get

SLICE = 256 * 1024


def test_child_fills_from_parent_edge(origin: Origin, start_edge: Any) -> None:
    data = blob(5 * SLICE + 99, seed=40)
    origin.put("tier/a.mp4", data)
    parent = start_edge("--slice-size", "256KiB")
    child = start_edge("--slice-size", "256KiB", origin_url=parent.url)
    status, headers, body = http_get(f"{child.url}/tier/a.mp4",
                                     {"Range": f"bytes={SLICE - 1}-{3 * SLICE}"})
    assert status == 206 and body == data[SLICE - 1 : 3 * SLICE + 1]
    parent_headers = http_get(f"{parent.url}/tier/a.mp4", {"Range": "bytes=0-0"})[1]
    assert headers["etag"] == parent_headers["etag"]
    assert hit_soon(f"{child.url}/tier/a.mp4") == data
    assert origin.gets("/media/tier/a.mp4") == 6  # the origin saw each slice once
    assert http_get(f"{child.url}/tier/none.mp4")[0] == 404


def test_parent_down_is_502_for_the_child(origin: Origin, start_edge: Any) -> None:
    parent = start_edge("--slice-size", "256KiB")
    child = start_edge("--slice-size", "256KiB", "--origin-attempts", "1",
                       origin_url=parent.url)
    parent.stop()
    assert http_get(f"{child.url}/tier/b.mp4")[0] == 502


def test_child_with_other_slice_size_than_parent(origin: Origin, start_edge: Any) -> None:
    data = blob(3 * SLICE, seed=41)
    origin.put("tier/c.mp4", data)
    parent = start_edge("--slice-size", "512KiB")
    child = start_edge("--slice-size", "256KiB", origin_url=parent.url)
    assert hit_soon(f"{child.url}/tier/c.mp4") == data


@pytest.mark.parametrize("mode", ["sendfile", "pread"])
def test_hit_paths_send_the_same_bytes(origin: Origin, start_edge: Any, mode: str) -> None:
    data = blob(9 * SLICE + 5, seed=42)
    origin.put(f"tier/{mode}.mp4", data)
    edge = start_edge("--slice-size", "256KiB", "--send-mode", mode)
    url = f"{edge.url}/tier/{mode}.mp4"
    assert hit_soon(url) == data  # whole object, then from disk
    for first, last in [(0, 0), (10, 70_000), (SLICE - 3, 2 * SLICE + 3), (0, 5 * SLICE),
                        (8 * SLICE, 9 * SLICE + 4)]:
        status, headers, body = http_get(url, {"Range": f"bytes={first}-{last}"})
        assert status == 206 and headers["x-cache"] == "HIT"
        assert body == data[first : last + 1], (first, last)
    status, headers, body = http_get(url, {"Range": f"bytes=0-3,{4 * SLICE}-{6 * SLICE}"})
    assert status == 206 and data[4 * SLICE : 6 * SLICE + 1] in body and body.count(b"--") >= 3
