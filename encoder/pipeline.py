"""`ocdn encode`: a source file to a title directory, all or nothing.

The steps: probe the source (bad input stops here, before anything is written); choose
the ladder (fixed, or per-title from trial encodes); encode every rendition in one
ffmpeg; package both layouts by stream copy; write the playlists and MPDs; list every
file with its size and SHA-256 in `title.json`.

All of it happens in a sibling directory `.<out>.partial-<pid>` on the same file
system, which replaces `out` by a rename only once complete, so a failed or interrupted
encode leaves no half-made title behind (and an existing title is replaced only with
`force`). The encoder's intermediate files live in its `.work` subdirectory, removed
before the rename.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from encoder import manifests, title
from encoder.config import EncodeSettings
from encoder.encode import encode_ladder
from encoder.errors import OutputError
from encoder.ffmpeg import FFmpeg, locate
from encoder.ladder import DEFAULT_LADDER, Rendition, Rung, fit_ladder
from encoder.package import package
from encoder.pertitle import per_title_ladder
from encoder.probe import SourceInfo, probe

log = logging.getLogger("ocdn.encoder")

_TITLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)


@dataclass(frozen=True, slots=True)
class EncodeResult:
    out: Path
    source: SourceInfo
    renditions: list[Rendition]
    title_json: Path
    timings_s: dict[str, float]


def check_title_id(title_id: str) -> str:
    if not _TITLE_ID.fullmatch(title_id):
        raise OutputError(f"invalid title ID {title_id!r}: 1-128 characters of A-Z a-z 0-9 . _ -, "
                          "starting with a letter or digit")
    return title_id


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(f"{out}: exists and is not empty (pass --force to replace it)")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{parent}: no such directory")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: not writable")


def _swap_in(partial: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(out)


def make_ffmpeg(settings: EncodeSettings) -> FFmpeg:
    return FFmpeg(locate(settings.ffmpeg),
                  show_progress=settings.progress and sys.stderr.isatty())


def choose_rungs(ffmpeg: FFmpeg, source: Path, info: SourceInfo, settings: EncodeSettings,
                 work: Path) -> tuple[list[Rung], dict[str, object] | None]:
    """The rungs to encode, and for a per-title ladder the trial analysis behind them."""
    base = list(settings.rungs or DEFAULT_LADDER)
    if settings.ladder != "per-title":
        return base, None
    result = per_title_ladder(ffmpeg, source, info, settings, work / "trials", base)
    return result.rungs, result.summary()


def encode_title(source: Path, title_id: str, out: Path, settings: EncodeSettings,
                 ffmpeg: FFmpeg | None = None) -> EncodeResult:
    """Encode `source` into the title directory `out` (see the module docstring)."""
    check_title_id(title_id)
    ffmpeg = ffmpeg or make_ffmpeg(settings)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    info = probe(ffmpeg, source)
    _check_out(out, settings.force)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        work = partial / ".work"
        lap("probe")
        rungs, analysis = choose_rungs(ffmpeg, source, info, settings, work)
        lap("ladder")
        renditions = fit_ladder(rungs, info.height, info.display_aspect)
        log.info("%s: %dx%d %.2f s at %s fps, %s; ladder %s", source, info.width, info.height,
                 info.duration_s, info.frame_rate, "with audio" if info.has_audio else "no audio",
                 ", ".join(f"{r.width}x{r.height}@{r.bitrate_bps // 1000}k" for r in renditions))
        encoded = encode_ladder(ffmpeg, source, info, renditions, settings, work)
        lap("encode")
        tracks = package(ffmpeg, encoded, partial, settings.segment_s, info.frame_rate)
        lap("package")
        shutil.rmtree(work)
        steering_uri = settings.steering_url.replace("{title}", title_id) or None
        steering = manifests.Steering(steering_uri, settings.pathway) if steering_uri else None
        token_param = settings.token_param or None
        for rel, text in manifests.write_all(tracks, steering, token_param).items():
            (partial / rel).write_text(text)
        source_facts = {
            "name": source.name, "width": info.width, "height": info.height,
            "frame_rate": str(info.frame_rate), "duration_s": info.duration_s,
            "video_codec": info.video_codec, "audio_channels": info.audio_channels,
        }
        doc = title.build(title_id, tracks, title.list_files(partial), settings.segment_s,
                          settings.ladder, source_facts, steering_uri, analysis)
        title.write(partial, doc)
        _swap_in(partial, out)
        lap("manifests")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return EncodeResult(out, info, renditions, out / title.TITLE_JSON, timings)
