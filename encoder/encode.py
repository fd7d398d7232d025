"""Encoding: one decode of the source into every rendition of the ladder, in one ffmpeg.

The source is decoded once, converted to constant frame rate (segments are counted in
frames) and 8-bit 4:2:0, split, and each branch scaled (bicubic) and encoded by its own
libx264 with a capped bitrate (maxrate 1.1x the target, a two-second-at-target VBV
buffer) so that no segment bursts far past what the playlist announces. Decoding and
scaling are shared; only the encodes run per rendition, so the whole ladder costs about
what its encodes cost (see bench/encode_report.md for the measured ratio against a single
plain encode of the top rendition).

Keyframes are aligned across renditions by construction: every encoder gets the same
frames and the same rule, a keyframe forced at each multiple of the segment duration
(`-force_key_frames expr:gte(t,n_forced*SEG)`), with scene-cut keyframes off and the
GOP limit at twice the segment, so the forced ones are the only ones. Packaging relies
on it (one fragment per keyframe) and checks it.

Audio, when the source has any, is encoded once to AAC-LC, at most stereo, at 44.1 or
48 kHz, into its own file: players pick it up as a separate rendition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from encoder.config import EncodeSettings
from encoder.ffmpeg import FFmpeg
from encoder.ladder import Rendition
from encoder.probe import SourceInfo

MAXRATE_FACTOR = 1.1
BUFFER_S = 2.0


@dataclass(frozen=True, slots=True)
class EncodedTrack:
    """An encoded (not yet packaged) rendition: a plain MP4 in the work directory."""

    id: str
    kind: str  # "video" or "audio"
    path: Path
    bitrate_bps: int
    width: int = 0
    height: int = 0


def segment_frames(segment_s: float, frame_rate: Fraction) -> int:
    """Frames per segment (at least one)."""
    return max(1, math.ceil(segment_s * frame_rate - Fraction(1, 1000)))


def keyframe_args(segment_s: float, frame_rate: Fraction) -> list[str]:
    """x264 options that put a keyframe at every segment boundary, and nowhere else."""
    gop = 2 * segment_frames(segment_s, frame_rate)
    return ["-force_key_frames", f"expr:gte(t,n_forced*{segment_s:g})",
            "-g", str(gop), "-keyint_min", str(gop // 2),
            "-x264-params", "scenecut=0:open-gop=0"]


def video_args(rendition: Rendition, preset: str, threads: int) -> list[str]:
    """libx264 at the rendition's target bitrate, capped."""
    rate = rendition.bitrate_bps
    args = ["-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-b:v", str(rate), "-maxrate", str(round(rate * MAXRATE_FACTOR)),
            "-bufsize", str(round(rate * BUFFER_S))]
    if threads:
        args += ["-threads", str(threads)]
    return args


def audio_args(info: SourceInfo, bitrate_bps: int) -> list[str]:
    rate = info.audio_sample_rate if info.audio_sample_rate in (44100, 48000) else 48000
    return ["-c:a", "aac", "-b:a", str(bitrate_bps), "-ac", str(min(2, info.audio_channels)),
            "-ar", str(rate)]


def ladder_command(source: Path, info: SourceInfo, renditions: list[Rendition],
                   settings: EncodeSettings, work: Path) -> tuple[list[str], list[EncodedTrack]]:
    """The ffmpeg arguments that encode every rendition (and the audio), and what they make."""
    labels = [f"s{i}" for i in range(len(renditions))]
    graph = [f"[0:v:0]fps={info.frame_rate},format=yuv420p,"
             f"split={len(renditions)}{''.join(f'[{x}]' for x in labels)}"]
    for i, r in enumerate(renditions):
        graph.append(f"[{labels[i]}]scale={r.width}:{r.height}:flags=bicubic,setsar=1[v{i}]")
    args = ["-i", str(source), "-filter_complex", ";".join(graph)]
    tracks: list[EncodedTrack] = []
    for i, r in enumerate(renditions):
        path = work / f"{r.id}.mp4"
        args += ["-map", f"[v{i}]", "-an", *video_args(r, settings.preset, settings.threads),
                 *keyframe_args(settings.segment_s, info.frame_rate), str(path)]
        tracks.append(EncodedTrack(r.id, "video", path, r.bitrate_bps, r.width, r.height))
    if info.has_audio:
        path = work / "audio.mp4"
        args += ["-map", "0:a:0", "-vn", *audio_args(info, settings.audio_bitrate), str(path)]
        tracks.append(EncodedTrack(audio_id(settings.audio_bitrate), "audio", path,
                                   settings.audio_bitrate))
    return args, tracks


def audio_id(bitrate_bps: int) -> str:
    return f"a-{round(bitrate_bps / 1000)}k"


def encode_ladder(ffmpeg: FFmpeg, source: Path, info: SourceInfo, renditions: list[Rendition],
                  settings: EncodeSettings, work: Path) -> list[EncodedTrack]:
    """Encode the ladder into `work`; returns the encoded tracks, video first."""
    work.mkdir(parents=True, exist_ok=True)
    args, tracks = ladder_command(source, info, renditions, settings, work)
    ffmpeg.run(args, f"encoding {len(renditions)} renditions", duration_s=info.duration_s)
    return tracks
