from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from encoder import title
from encoder.errors import PrefillError
from encoder.mp4 import Fragment, TrackLayout
from encoder.pipeline import EncodeResult
from encoder.prefill import edge_base, leading_bytes, plan_items, prefill
from origin.s3 import S3Location


def layout(seconds: list[float]) -> TrackLayout:
    frags, offset = [], 100
    for i, s in enumerate(seconds):
        frags.append(Fragment(offset, 1000, int(sum(seconds[:i]) * 1000), int(s * 1000), True))
        offset += 1000
    return TrackLayout("video", 1000, "avc1.64001f", 100, None, tuple(frags))


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.5, (1100, 1)), (2.0, (1100, 1)), (2.001, (2100, 2)), (5.0, (3100, 3)), (100, (3100, 3)),
])
def test_leading_bytes(seconds: float, expected: tuple[int, int]) -> None:
    assert leading_bytes(layout([2, 2, 2]), seconds) == expected


def test_plan_items() -> None:
    renditions = [{"id": "v1", "file": "file/v1.mp4", "segment_dir": "seg/v1"}]
    items = {(i.rel, i.bytes) for i in plan_items(renditions, {"v1": layout([2, 2, 2])}, 3)}
    assert ("file/v1.mp4", 2100) in items
    assert {("seg/v1/init.mp4", None), ("seg/v1/1.m4s", None), ("seg/v1/2.m4s", None)} <= items
    assert ("seg/v1/3.m4s", None) not in items
    assert {("hls.m3u8", None), ("dash-segmentbase.mpd", None), ("file/v1.m3u8", None),
            ("seg/v1/index.m3u8", None)} <= items


def test_edge_base() -> None:
    assert edge_base("http://10.0.0.1:8101/t/a.mp4?tok=x", "/t/a.mp4") == "http://10.0.0.1:8101"
    assert edge_base("https://e.example/box7/t/a.mp4", "/t/a.mp4") == "https://e.example/box7"


class Fake:
    """A steering service and two edges on loopback, recording what they are sent."""

    def __init__(self) -> None:
        self.posts: dict[str, list[dict[str, Any]]] = {}
        self.auth: set[str] = set()
        self.steer_status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path = parse_qs(parts.query)["path"][0]
                body = json.dumps({"urls": [f"{fake.edge_url(0)}{path}?tok=1",
                                            f"{fake.edge_url(1)}/pre{path}"], "ttl": 30})
                self._send(fake.steer_status, body)

            def do_POST(self) -> None:
                doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.auth.add(self.headers["Authorization"])
                fake.posts.setdefault(f"{self.server.server_port}{self.path}", []).extend(
                    doc["items"])
                self._send(202, json.dumps({"accepted": len(doc["items"])}))

            def _send(self, status: int, body: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(3)]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def edge_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.servers[i + 1].server_port}"

    @property
    def steering(self) -> str:
        return f"http://127.0.0.1:{self.servers[0].server_port}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def fake() -> Iterator[Fake]:
    f = Fake()
    yield f
    f.close()


def test_prefill_asks_steering_and_every_edge(fake: Fake, encoded: EncodeResult) -> None:
    doc = title.read(encoded.out)
    report = prefill(encoded.out, doc, S3Location("media", "titles/t1"), fake.steering,
                     "sekret", 1.0)
    first, second = fake.edge_url(0), fake.edge_url(1) + "/pre"
    assert set(report.edges) == {first, second}
    assert fake.auth == {"Bearer sekret"}
    items = fake.posts[f"{fake.servers[1].server_port}/admin/prefill"]
    assert fake.posts[f"{fake.servers[2].server_port}/pre/admin/prefill"] == items
    by_key = {i["key"]: i.get("bytes") for i in items}
    assert by_key["titles/t1/hls.m3u8"] is None
    assert by_key["titles/t1/seg/v180-400k/1.m4s"] is None
    assert "titles/t1/seg/v180-400k/2.m4s" not in by_key
    size = by_key["titles/t1/file/v180-400k.mp4"]
    assert size is not None and 0 < size < (encoded.out / "file/v180-400k.mp4").stat().st_size


def test_prefill_reports_a_failing_steering(fake: Fake, encoded: EncodeResult) -> None:
    fake.steer_status = 503
    with pytest.raises(PrefillError, match="HTTP 503"):
        prefill(encoded.out, title.read(encoded.out), S3Location("media", "t"), fake.steering,
                "x", 1.0)


def test_prefill_reports_an_unreachable_steering(encoded: EncodeResult, tmp_path: Path) -> None:
    with pytest.raises(PrefillError, match="steering"):
        prefill(encoded.out, title.read(encoded.out), S3Location("media", "t"),
                "http://127.0.0.1:1", "x", 1.0)
