"""Measuring quality: VMAF of an encode against its reference, with ffmpeg's libvmaf.

The distorted video is scaled back to the reference's size (bicubic, as a player's
display would) and both are brought to the same frame rate and 4:2:0 before libvmaf
compares them frame by frame; the score is the mean over frames (`pooled_metrics`),
read from libvmaf's JSON log. The model is VMAF v0.6.1, built into libvmaf and trained
for 1080p viewing on a TV at three picture heights.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from encoder.errors import EncoderError
from encoder.ffmpeg import FFmpeg

MODEL = "version=vmaf_v0.6.1"


@dataclass(frozen=True, slots=True)
class Vmaf:
    mean: float
    frames: int


def _filter_path(path: Path) -> str:
    """A path quoted for a filtergraph option value."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "'\\''") + "'"


def vmaf_args(distorted: Path, reference: Path, width: int, height: int,
              frame_rate: Fraction, log_path: Path, threads: int) -> list[str]:
    graph = (f"[0:v:0]scale={width}:{height}:flags=bicubic,fps={frame_rate},format=yuv420p,"
             f"setpts=PTS-STARTPTS[d];"
             f"[1:v:0]fps={frame_rate},format=yuv420p,setpts=PTS-STARTPTS[r];"
             f"[d][r]libvmaf=model={MODEL}:n_threads={threads}:log_fmt=json:"
             f"log_path={_filter_path(log_path)}")
    return ["-i", str(distorted), "-i", str(reference), "-filter_complex", graph,
            "-an", "-f", "null", "-"]


def parse_vmaf_log(text: str) -> Vmaf:
    doc = json.loads(text)
    return Vmaf(float(doc["pooled_metrics"]["vmaf"]["mean"]), len(doc.get("frames", [])))


def measure_vmaf(ffmpeg: FFmpeg, distorted: Path, reference: Path, width: int, height: int,
                 frame_rate: Fraction) -> Vmaf:
    """VMAF of `distorted` against `reference` (whose size is width x height)."""
    fd, name = tempfile.mkstemp(prefix="ocdn-vmaf-", suffix=".json")
    os.close(fd)
    log_path = Path(name)
    try:
        ffmpeg.run(vmaf_args(distorted, reference, width, height, frame_rate, log_path,
                             threads=max(1, os.cpu_count() or 1)),
                   f"measuring VMAF of {distorted.name}")
        try:
            return parse_vmaf_log(log_path.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise EncoderError(f"unreadable libvmaf log for {distorted}: {exc}") from None
    finally:
        log_path.unlink(missing_ok=True)
