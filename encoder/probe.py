"""What a source holds, read from ffmpeg's own description of its input.

The ffmpeg that imageio-ffmpeg ships has no ffprobe, so `probe` runs `ffmpeg -i SOURCE`
(which describes the input and stops for want of an output) and `parse_probe` reads
that text: duration, the first video stream's size, display aspect and frame rate, the
first audio stream's rate and channels. Rounded rates ffmpeg prints ("29.97 fps") are
mapped back to the NTSC fractions they stand for (30000/1001), since segment lengths
are counted in frames. A stream marked `(attached pic)` (cover art) is not video.

Input that ffmpeg cannot open, an empty file and a source without a video stream each
raise SourceError with a message that says which; a duration ffmpeg cannot tell from
the container is measured by decoding the video once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from encoder.errors import SourceError
from encoder.ffmpeg import FFmpeg


@dataclass(frozen=True, slots=True)
class SourceInfo:
    duration_s: float
    width: int
    height: int
    display_aspect: float
    frame_rate: Fraction
    video_codec: str
    audio_channels: int = 0
    audio_sample_rate: int = 0

    @property
    def has_audio(self) -> bool:
        return self.audio_channels > 0


_DURATION = re.compile(r"Duration: ([0-9]+):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_SIZE = re.compile(r"(?<![0-9A-Za-z])([1-9][0-9]{0,4})x([1-9][0-9]{0,4})(?![0-9])")
_DAR = re.compile(r"DAR ([0-9]+):([0-9]+)")
_FPS = re.compile(r"([0-9]+(?:\.[0-9]+)?)(k?) (fps|tbr)")
_HZ = re.compile(r"([0-9]+) Hz")
_CHANNELS = re.compile(r"([0-9]+) channels")
_ROTATION = re.compile(r"rotation of (-?[0-9]+(?:\.[0-9]+)?) degrees")
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def frame_rate_from(text: str) -> Fraction:
    """"25" -> 25, "29.97" -> 30000/1001, "23.98" -> 24000/1001."""
    value = float(text)
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(value - float(ntsc)) < 0.006:
            return ntsc
    return Fraction(value).limit_denominator(1001)


def _frame_rate(desc: str) -> Fraction | None:
    rates = {kind: num * (1000 if k else 1) for num, k, kind in
             ((float(m.group(1)), m.group(2), m.group(3)) for m in _FPS.finditer(desc))}
    value = rates.get("fps") or rates.get("tbr")
    if not value or value <= 0 or value > 1000:
        return None
    return frame_rate_from(f"{value:.3f}".rstrip("0").rstrip("."))


def parse_probe(text: str, name: str = "source") -> SourceInfo:
    """SourceInfo from the text of `ffmpeg -i`; SourceError when there is no video."""
    video: tuple[str, str] | None = None
    audio: str | None = None
    streams = list(_STREAM.finditer(text))
    for i, m in enumerate(streams):
        kind, desc = m.group(1), m.group(2)
        if kind == "Video" and video is None and "(attached pic)" not in desc:
            end = streams[i + 1].start() if i + 1 < len(streams) else len(text)
            video = (desc, text[m.end():end])
        elif kind == "Audio" and audio is None:
            audio = desc
    if video is None:
        raise SourceError(f"{name}: no video stream (ffmpeg found "
                          f"{'only audio' if audio else 'no audio or video'} in it)")
    desc, after = video
    size = _SIZE.search(desc)
    if size is None:
        raise SourceError(f"{name}: cannot tell the video's frame size")
    width, height = int(size.group(1)), int(size.group(2))
    rotation = _ROTATION.search(after)
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
        width, height = height, width
    dar = _DAR.search(desc)
    aspect = width / height
    if dar and int(dar.group(2)) > 0 and int(dar.group(1)) > 0:
        aspect = int(dar.group(1)) / int(dar.group(2))
        if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
            aspect = 1 / aspect
    rate = _frame_rate(desc)
    if rate is None:
        raise SourceError(f"{name}: cannot tell the video's frame rate")
    duration = _DURATION.search(text)
    duration_s = 0.0
    if duration:
        h, m_, s = duration.groups()
        duration_s = int(h) * 3600 + int(m_) * 60 + float(s)
    channels = rate_hz = 0
    if audio is not None:
        hz = _HZ.search(audio)
        rate_hz = int(hz.group(1)) if hz else 48000
        count = _CHANNELS.search(audio)
        if count:
            channels = int(count.group(1))
        else:
            fields = [f.strip().split("(")[0] for f in audio.split(",")]
            channels = next((_LAYOUTS[f] for f in fields if f in _LAYOUTS), 2)
    return SourceInfo(
        duration_s=duration_s, width=width, height=height, display_aspect=aspect,
        frame_rate=rate, video_codec=desc.split()[0].rstrip(","),
        audio_channels=channels, audio_sample_rate=rate_hz,
    )


_TIME = re.compile(r"time=([0-9]+):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)")


def probe(ffmpeg: FFmpeg, source: Path) -> SourceInfo:
    """Describe `source`; SourceError when it is missing, empty, unreadable or not video."""
    name = str(source)
    if not source.exists():
        raise SourceError(f"{name}: no such file")
    if not source.is_file():
        raise SourceError(f"{name}: not a regular file")
    if source.stat().st_size == 0:
        raise SourceError(f"{name}: the file is empty")
    _, text = ffmpeg.capture(["-i", str(source)])
    if "Input #0" not in text:
        lines = [line for line in text.splitlines() if line.strip()]
        reason = lines[-1] if lines else "ffmpeg could not open it"
        if "Invalid data" in text:
            reason = "not a video file ffmpeg can read (invalid data)"
        raise SourceError(f"{name}: {reason}")
    info = parse_probe(text, name)
    if info.duration_s <= 0:
        code, log = ffmpeg.capture(["-i", str(source), "-map", "0:v:0", "-f", "null", "-"])
        times = _TIME.findall(log)
        if code != 0 or not times:
            raise SourceError(f"{name}: cannot decode the video stream")
        h, m, s = times[-1]
        info = replace(info, duration_s=int(h) * 3600 + int(m) * 60 + float(s))
    if info.duration_s < float(1 / info.frame_rate) * 2:
        raise SourceError(f"{name}: too short to encode ({info.duration_s:.3f} s)")
    return info

