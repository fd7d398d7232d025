"""Shared fixtures: a tiny synthetic source and one encoded title, made once per session.

The source is ffmpeg's lavfi test pattern with a sine tone, 3 s at 320x180 and 25 fps;
the title is encoded with two rungs (180p, 90p), 1 s segments and x264 `ultrafast`, so
the whole encoder suite stays within seconds.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from encoder.config import EncodeSettings
from encoder.ffmpeg import FFmpeg, locate
from encoder.ladder import parse_ladder
from encoder.pipeline import EncodeResult, encode_title
from origin.server import EmbeddedOrigin

DURATION_S = 3
FPS = 25
SEGMENT_S = 1.0
RUNGS = "180p@400k,90p@100k"


def fast_settings(**overrides: object) -> EncodeSettings:
    values: dict[str, object] = {"rungs": parse_ladder(RUNGS), "segment_s": SEGMENT_S,
                                 "preset": "ultrafast", "progress": False}
    values.update(overrides)
    return EncodeSettings(**values)  # type: ignore[arg-type]


def make_clip(path: Path, video: str | None = "testsrc2=size=320x180:rate=25",
              audio: str | None = "sine=frequency=440:sample_rate=48000",
              duration_s: float = DURATION_S) -> Path:
    args = [locate(), "-hide_banner", "-loglevel", "error", "-y"]
    if video:
        args += ["-f", "lavfi", "-i", video]
    if audio:
        args += ["-f", "lavfi", "-i", audio]
    args += ["-t", str(duration_s)]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-ac", "2"]
    subprocess.run([*args, str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    return locate()


@pytest.fixture(scope="session")
def ffmpeg() -> FFmpeg:
    return FFmpeg(locate())


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("src") / "source.mp4")


@pytest.fixture(scope="session")
def encoded(tmp_path_factory: pytest.TempPathFactory, source: Path) -> EncodeResult:
    out = tmp_path_factory.mktemp("titles") / "t1"
    return encode_title(source, "t1", out, fast_settings())


@pytest.fixture(scope="session")
def origin() -> Iterator[EmbeddedOrigin]:
    """The embedded S3-compatible origin, in process, with a bucket `media`."""
    server = EmbeddedOrigin("127.0.0.1", free_port())
    server.start()
    server.create_buckets(["media"])
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
