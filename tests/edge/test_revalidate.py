"""Freshness and revalidation on real edge and origin processes: past its freshness (the
origin's Cache-Control max-age, else --revalidate-after-s) an object is checked with the
origin in the background while hits go on; a replaced object is then refilled, a deleted
one answers 404, an unchanged one costs a one-byte origin GET and no refill."""

from __future__ import annotations

import time
from typing import Any

from tests.edge.conftest import Origin, blob, hit_soon
from tests.support.procs import http_get

SLICE = 256 * 1024


def revalidations(edge: Any, result: str) -> float:
    text = http_get(f"{edge.url}/metrics")[2].decode()
    prefix = f'ocdn_edge_revalidations_total{{result="{result}"}} '
    return next((float(line.split()[-1]) for line in text.splitlines()
                 if line.startswith(prefix)), 0.0)


def wait_revalidation(edge: Any, result: str) -> None:
    deadline = time.monotonic() + 5
    while revalidations(edge, result) < 1:
        assert time.monotonic() < deadline, f"no revalidation ended {result}"
        time.sleep(0.05)


def cached(origin: Origin, start_edge: Any, key: str, data: bytes, *flags: str,
           cache_control: str | None = None) -> tuple[Any, str]:
    """An edge (256 KiB slices, `flags`) that has `key` cached; the edge and its URL."""
    origin.put(key, data, cache_control=cache_control)
    edge = start_edge("--slice-size", "256KiB", *flags)
    url = f"{edge.url}/{key}"
    assert hit_soon(url) == data
    return edge, url


def body_becomes(url: str, want: bytes, allowed: tuple[bytes, ...], timeout_s: float = 5.0
                 ) -> int:
    """GET until the body is `want`; every body on the way must be one of `allowed` (never
    a mix of versions). Returns how many GETs it took."""
    deadline = time.monotonic() + timeout_s
    n = 0
    while True:
        status, _, body = http_get(url)
        n += 1
        assert status == 200 and body in allowed, "a body that is no version of the object"
        if body == want:
            return n
        assert time.monotonic() < deadline, "the new version never arrived"
        time.sleep(0.1)


def test_a_replaced_object_is_refilled_once_its_freshness_runs_out(
        origin: Origin, start_edge: Any) -> None:
    old, new = blob(2 * SLICE + 10, seed=800), blob(3 * SLICE, seed=801)
    edge, url = cached(origin, start_edge, "fresh/replaced.mp4", old, "--revalidate-after-s", "1")
    origin.put("fresh/replaced.mp4", new)
    status, headers, body = http_get(url)  # still fresh: the cached version, no question
    assert (status, headers["x-cache"], body) == (200, "HIT", old)
    time.sleep(1.2)
    body_becomes(url, new, (old, new))
    assert revalidations(edge, "changed") == 1
    assert hit_soon(url) == new


def test_an_unchanged_object_costs_one_byte_of_origin_and_no_refill(
        origin: Origin, start_edge: Any) -> None:
    data = blob(3 * SLICE, seed=802)
    edge, url = cached(origin, start_edge, "fresh/same.mp4", data, "--revalidate-after-s", "1",
                       "--prefetch-slices", "0")
    gets = origin.gets("/media/fresh/same.mp4")
    time.sleep(1.2)
    status, headers, body = http_get(url)  # stale: served from the cache, checked behind
    assert (status, headers["x-cache"], body) == (200, "HIT", data)
    wait_revalidation(edge, "unchanged")
    for _ in range(5):  # fresh again: hits, no more questions
        status, headers, body = http_get(url)
        assert (status, headers["x-cache"], body) == (200, "HIT", data)
    assert origin.gets("/media/fresh/same.mp4") == gets + 1  # the check, no slice
    assert revalidations(edge, "unchanged") == 1


def test_the_origin_max_age_sets_the_freshness(origin: Origin, start_edge: Any) -> None:
    old, new = blob(SLICE, seed=803), blob(SLICE, seed=804)
    # --revalidate-after-s left at an hour
    _, url = cached(origin, start_edge, "fresh/maxage.mp4", old,
                    cache_control="public, max-age=1")
    assert http_get(url)[1]["cache-control"] == "public, max-age=1"
    origin.put("fresh/maxage.mp4", new, cache_control="public, max-age=1")
    time.sleep(1.2)
    body_becomes(url, new, (old, new))


def test_an_object_deleted_at_the_origin_becomes_404(origin: Origin, start_edge: Any) -> None:
    data = blob(2 * SLICE, seed=805)
    edge, url = cached(origin, start_edge, "fresh/deleted.mp4", data, "--revalidate-after-s", "1")
    origin.client.delete_object(Bucket=origin.bucket, Key="fresh/deleted.mp4")
    time.sleep(1.2)
    deadline = time.monotonic() + 5
    while (status := http_get(url)[0]) != 404:
        assert status == 200 and time.monotonic() < deadline
        time.sleep(0.1)
    assert revalidations(edge, "gone") == 1


def test_an_origin_fault_during_the_check_keeps_serving_the_cache(
        origin: Origin, start_edge: Any) -> None:
    data = blob(2 * SLICE, seed=806)
    edge, url = cached(origin, start_edge, "fresh/fault.mp4", data, "--revalidate-after-s", "1",
                       "--origin-attempts", "1")
    time.sleep(1.2)
    with origin.faulty("500"):
        status, headers, body = http_get(url)
        assert (status, headers["x-cache"], body) == (200, "HIT", data)
        wait_revalidation(edge, "error")
        for _ in range(3):  # retried later (CHECK_RETRY_S), not on every hit
            status, headers, body = http_get(url)
            assert (status, headers["x-cache"], body) == (200, "HIT", data)
        assert revalidations(edge, "error") == 1
