"""End to end with real processes: `ocdn origin`, `ocdn publish`, `ocdn edge`, and ffmpeg
as the player, reading every kind of manifest through the edge and decoding every frame.

ffmpeg 9.0's HLS demuxer mishandles byte-range playlists over HTTP in two ways (nginx
serving the same files shows both, so they are the client's): reusing one response for
contiguous ranges it stops after the first segment, and prefetching the next segment on
a second connection it corrupts the last one. The byte-range playlist is therefore read
with `-http_seekable 0 -http_multiple 0`: one Range request from each segment's offset
(ffmpeg leaves the range open-ended and stops reading at the segment's end), which is
what the edge's access log should then show.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from encoder.pipeline import EncodeResult
from origin.server import CREDENTIALS

from .conftest import DURATION_S, FPS, free_port
from .playlists import parse_media

OCDN = [sys.executable, "-m", "ocdn.cli"]
ENV = {**os.environ, **CREDENTIALS}
FRAMES = DURATION_S * FPS


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError as exc:
            if getattr(exc, "code", None):
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Cdn:
    origin: str
    edge: str
    access_log: Path
    token_file: Path

    def log(self, path_part: str) -> list[dict[str, Any]]:
        time.sleep(1.5)  # the edge flushes its access log once a second
        lines = self.access_log.read_text().splitlines()
        return [e for e in map(json.loads, lines) if path_part in e["path"]]


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdn]:
    tmp = tmp_path_factory.mktemp("cdn")
    origin_port, edge_port = free_port(), free_port()
    token = tmp / "admin.token"
    token.write_text("test-admin-token\n")
    origin = subprocess.Popen([*OCDN, "origin", "--port", str(origin_port), "--bucket", "media"],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [origin]
    try:
        origin_url = f"http://127.0.0.1:{origin_port}"
        _wait_http(origin_url + "/media", origin)
        access_log = tmp / "access.jsonl"
        edge = subprocess.Popen(
            [*OCDN, "edge", "--listen", f"127.0.0.1:{edge_port}", "--origin", "s3://media",
             "--s3-endpoint", origin_url, "--cache-dir", str(tmp / "cache"),
             "--cache-size", "256MiB", "--access-log", str(access_log),
             "--admin-token-file", str(token)],
            env=ENV, stdout=subprocess.DEVNULL, stderr=open(tmp / "edge.log", "wb"))  # noqa: SIM115
        procs.append(edge)
        edge_url = f"http://127.0.0.1:{edge_port}"
        _wait_http(edge_url + "/healthz", edge)
        yield Cdn(origin_url, edge_url, access_log, token)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _publish(cdn: Cdn, title_dir: Path, prefix: str,
             *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OCDN, "publish", str(title_dir), "--to", f"s3://media/{prefix}",
                           "--s3-endpoint", cdn.origin, "--no-progress", *extra],
                          env=ENV, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def published(cdn: Cdn, encoded: EncodeResult) -> str:
    done = _publish(cdn, encoded.out, "titles/t1")
    assert done.returncode == 0, done.stderr
    return f"{cdn.edge}/titles/t1"


def _frames(ffmpeg_exe: str, url: str, stream: str, *extra: str) -> int:
    proc = subprocess.run([ffmpeg_exe, "-hide_banner", "-loglevel", "error", *extra, "-i", url,
                           "-map", stream, "-f", "null", "-", "-progress", "pipe:1", "-nostats"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(re.findall(r"^frame=([0-9]+)$", proc.stdout, re.MULTILINE)[-1])


def test_hls_segments_through_the_edge(published: str, ffmpeg_exe: str) -> None:
    for program in range(2):
        assert _frames(ffmpeg_exe, f"{published}/hls.m3u8", f"0:p:{program}:v") == FRAMES


def test_dash_segment_template_through_the_edge(published: str, ffmpeg_exe: str) -> None:
    for stream in range(2):
        assert _frames(ffmpeg_exe, f"{published}/dash.mpd", f"0:v:{stream}") == FRAMES


def test_dash_segment_base_through_the_edge(published: str, ffmpeg_exe: str) -> None:
    for stream in range(2):
        assert _frames(ffmpeg_exe, f"{published}/dash-segmentbase.mpd", f"0:v:{stream}") == FRAMES


def test_hls_byte_ranges_through_the_edge(cdn: Cdn, published: str, ffmpeg_exe: str,
                                          encoded: EncodeResult) -> None:
    for program in range(2):
        assert _frames(ffmpeg_exe, f"{published}/hls-byterange.m3u8", f"0:p:{program}:v",
                       "-http_seekable", "0", "-http_multiple", "0") == FRAMES
    playlist = parse_media((encoded.out / "file/v180-400k.m3u8").read_text())
    assert playlist.map_range is not None
    ranges = [s.byterange for s in playlist.segments if s.byterange]
    entries = cdn.log("/titles/t1/file/v180-400k.mp4")
    seen = {e["range"] for e in entries if e["status"] == 206}
    assert f"bytes=0-{playlist.map_range[0] - 1}" in seen
    starts = {int(r.removeprefix("bytes=").split("-")[0]) for r in seen}
    assert {offset for _, offset in ranges} <= starts, seen


class FakeSteering:
    """Stands in for `ocdn steering`: every path goes to the one edge."""

    def __init__(self, edge: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = parse_qs(urlsplit(self.path).query)["path"][0]
                body = json.dumps({"urls": [edge + path], "ttl": 30}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def _x_cache(url: str, range_header: str | None = None) -> str:
    req = urllib.request.Request(url, headers={"Range": range_header} if range_header else {})
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()
        return str(resp.headers.get("X-Cache"))


def test_publish_with_prefill_warms_the_edge(cdn: Cdn, encoded: EncodeResult) -> None:
    steering = FakeSteering(cdn.edge)
    try:
        done = _publish(cdn, encoded.out, "titles/warm", "--prefill", steering.url,
                        "--admin-token-file", str(cdn.token_file), "--prefill-s", "1")
    finally:
        steering.server.shutdown()
    assert done.returncode == 0, done.stderr
    assert f"prefill: {cdn.edge} accepted" in done.stdout
    base = f"{cdn.edge}/titles/warm"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _x_cache(f"{base}/seg/v180-400k/1.m4s") != "HIT":
        time.sleep(0.2)
    assert _x_cache(f"{base}/seg/v180-400k/1.m4s") == "HIT"
    assert _x_cache(f"{base}/hls.m3u8") == "HIT"
    assert _x_cache(f"{base}/file/v90-100k.mp4", "bytes=0-99") == "HIT"
