from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from encoder.errors import SourceError
from encoder.ffmpeg import FFmpeg
from encoder.probe import frame_rate_from, parse_probe, probe

from .conftest import make_clip

H264_AAC = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'src.mp4':
  Duration: 00:01:03.50, start: 0.000000, bitrate: 689 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1920x1080 [SAR 1:1 DAR 16:9], 611 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, 5.1, fltp, 69 kb/s (default)
At least one output file must be specified
"""  # noqa: E501

ROTATED = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'phone.mov':
  Duration: 00:00:10.00, start: 0.000000, bitrate: 689 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main) (hvc1 / 0x31637668), yuv420p(tv), 1920x1080, 8000 kb/s, 30 fps, 30 tbr, 600 tbn (default)
      Side data:
        displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, mono, fltp, 96 kb/s
"""  # noqa: E501

AUDIO_WITH_COVER = """\
Input #0, mp3, from 'song.mp3':
  Duration: 00:03:00.00, start: 0.025057, bitrate: 320 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 320 kb/s
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 500x500 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
"""  # noqa: E501

ANAMORPHIC = """\
Input #0, mpeg, from 'dvd.vob':
  Duration: N/A, start: 0.280633, bitrate: N/A
  Stream #0:0[0x1e0]: Video: mpeg2video (Main), yuv420p(tv, top first), 720x576 [SAR 64:45 DAR 16:9], 25 fps, 25 tbr, 90k tbn
"""  # noqa: E501


def test_parse_h264_with_surround_audio() -> None:
    info = parse_probe(H264_AAC)
    assert (info.width, info.height) == (1920, 1080)
    assert info.frame_rate == Fraction(30000, 1001)
    assert info.duration_s == pytest.approx(63.5)
    assert info.display_aspect == pytest.approx(16 / 9)
    assert info.video_codec == "h264"
    assert (info.audio_channels, info.audio_sample_rate) == (6, 44100)


def test_rotation_swaps_the_frame_size() -> None:
    info = parse_probe(ROTATED)
    assert (info.width, info.height) == (1080, 1920)
    assert info.display_aspect == pytest.approx(1080 / 1920)
    assert info.audio_channels == 1


def test_cover_art_is_not_video() -> None:
    with pytest.raises(SourceError, match=r"no video stream.*only audio"):
        parse_probe(AUDIO_WITH_COVER, "song.mp3")


def test_anamorphic_uses_the_display_aspect() -> None:
    info = parse_probe(ANAMORPHIC)
    assert (info.width, info.height) == (720, 576)
    assert info.display_aspect == pytest.approx(16 / 9)
    assert info.duration_s == 0.0
    assert not info.has_audio


def test_nothing_at_all() -> None:
    with pytest.raises(SourceError, match="no audio or video"):
        parse_probe("Input #0, data, from 'x':\n  Duration: N/A\n")


@pytest.mark.parametrize(("text", "rate"), [
    ("25", Fraction(25)), ("29.97", Fraction(30000, 1001)), ("23.98", Fraction(24000, 1001)),
    ("59.94", Fraction(60000, 1001)), ("12.5", Fraction(25, 2)), ("30", Fraction(30)),
])
def test_frame_rate_from(text: str, rate: Fraction) -> None:
    assert frame_rate_from(text) == rate


def test_probe_a_real_clip(source: Path, ffmpeg: FFmpeg) -> None:
    info = probe(ffmpeg, source)
    assert (info.width, info.height, info.frame_rate) == (320, 180, Fraction(25))
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert info.audio_channels == 2


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"", "the file is empty"),
    (b"hello, this is not a video\n" * 10, "not a video file"),
    (bytes(range(256)) * 64, r"not a video file|could not|Invalid"),
])
def test_probe_bad_input(tmp_path: Path, ffmpeg: FFmpeg, content: bytes | None,
                         message: str) -> None:
    path = tmp_path / "input.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        probe(ffmpeg, path)


def test_probe_a_directory(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    with pytest.raises(SourceError, match="not a regular file"):
        probe(ffmpeg, tmp_path)


def test_probe_audio_only(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    path = make_clip(tmp_path / "tone.m4a", video=None)
    with pytest.raises(SourceError, match="no video stream"):
        probe(ffmpeg, path)
