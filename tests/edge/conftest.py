"""Shared real services for the edge's integration tests: one embedded origin (moto) per
module, a counting proxy in front of it, and a helper to start edges."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from origin.s3 import make_client
from tests.support.procs import Proc, edge_proc, http_get, origin_proc, proxy_proc


class Origin:
    def __init__(self, proc: Proc, proxy: Proc, bucket: str) -> None:
        self.proc = proc
        self.proxy = proxy
        self.bucket = bucket
        self.client = make_client(proc.url)

    def put(self, key: str, data: bytes, content_type: str = "video/mp4",
            cache_control: str | None = None) -> str:
        extra: dict[str, Any] = {"CacheControl": cache_control} if cache_control else {}
        resp = self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                      ContentType=content_type, **extra)
        return str(resp["ETag"])

    def gets(self, path: str) -> int:
        status, _, body = http_get(self.proxy.url + "/__count")
        assert status == 200
        return int(json.loads(body)["gets"].get(path, 0))

    def fault(self, mode: str) -> None:
        status, _, _ = http_get(self.proxy.url + "/__fault", method="POST",
                                data=json.dumps({"mode": mode}).encode(),
                                headers={"Content-Type": "application/json"})
        assert status == 200

    @contextmanager
    def faulty(self, mode: str) -> Iterator[None]:
        """The proxy misbehaves (`mode`) inside the block, and is back to normal after it."""
        self.fault(mode)
        try:
            yield
        finally:
            self.fault("ok")


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    tmp = tmp_path_factory.mktemp("origin")
    proc = origin_proc(tmp).start()
    proxy = proxy_proc(tmp, proc.url).start()
    try:
        yield Origin(proc, proxy, "media")
    finally:
        proxy.stop()
        proc.stop()


@pytest.fixture
def start_edge(origin: Origin, tmp_path: Path) -> Iterator[Any]:
    """Start an edge filling from the proxied origin; stopped at the end of the test."""
    started: list[Proc] = []

    def start(*extra: str, cache_dir: Path | None = None, port: int | None = None,
              origin_url: str | None = None) -> Proc:
        if origin_url is None:
            p = edge_proc(tmp_path, f"s3://{origin.bucket}", *extra,
                          s3_endpoint=origin.proxy.url, cache_dir=cache_dir, port=port)
        else:
            p = edge_proc(tmp_path, origin_url, *extra, cache_dir=cache_dir, port=port)
        started.append(p)
        return p.start()

    yield start
    for p in started:
        p.stop()


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes, different per seed, cheap for sizes of a few MiB."""
    return hashlib.shake_256(f"ocdn-{seed}".encode()).digest(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hit_soon(url: str, headers: dict[str, str] | None = None, timeout_s: float = 5.0) -> bytes:
    """GET until X-Cache says HIT (a fill is renamed into place just after its last byte
    went out, so the very next request may still be a miss); returns the body."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, got, body = http_get(url, headers)
        assert status in (200, 206), status
        if got.get("x-cache") == "HIT":
            return body
        assert time.monotonic() < deadline, f"{url} never became a hit"
        time.sleep(0.05)
