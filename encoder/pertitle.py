"""Per-title ladders: trial encodes of sampled parts of the source, scored by VMAF.

`sample_windows` picks `sample_count` parts of `sample_s` seconds spread evenly over the
source (a title's complexity changes along it: credits are cheap, action is not). Each
part is cut once into a lossless reference (x264 at QP 0, 4:2:0), so every trial and its
VMAF see the very same frames. For every candidate resolution (the heights of the fixed
ladder that fit the source) one ffmpeg decodes the reference once and encodes it at
every CRF of the grid; each trial's bitrate is its bits over its seconds, and its VMAF
is measured against the reference at source size. Summed over the parts, each
(resolution, CRF) becomes one point; `encoder.hull` takes the convex hull and picks the
rungs. Trials use the same preset and keyframe rule as the final encode, so the hull
describes the encoder that will actually run.

Cost: resolutions x CRFs x parts encodes of a few seconds, plus as many VMAF runs at
source resolution; the bench reports what it takes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from encoder.config import EncodeSettings
from encoder.encode import keyframe_args
from encoder.ffmpeg import FFmpeg
from encoder.hull import TrialPoint, convex_hull, pick_rungs
from encoder.ladder import Rung, fit_ladder, width_for
from encoder.probe import SourceInfo
from encoder.quality import measure_vmaf

log = logging.getLogger("ocdn.encoder")


@dataclass(frozen=True, slots=True)
class PerTitleResult:
    rungs: list[Rung]
    points: list[TrialPoint]
    hull: list[TrialPoint]

    def summary(self) -> dict[str, object]:
        def point(p: TrialPoint) -> dict[str, object]:
            return {"height": p.height, "crf": p.crf, "bitrate_bps": round(p.bitrate_bps),
                    "vmaf": round(p.vmaf, 2)}
        return {"points": [point(p) for p in self.points], "hull": [point(p) for p in self.hull],
                "rungs": [str(r) for r in self.rungs]}


def sample_windows(duration_s: float, count: int, length_s: float) -> list[tuple[float, float]]:
    """(start, length) of up to `count` non-overlapping parts spread over the source."""
    length = min(length_s, duration_s)
    count = max(1, min(count, int(duration_s // length) if length > 0 else 1))
    if count == 1:
        return [(round((duration_s - length) / 2, 3), length)]
    step = (duration_s - length) / (count - 1)
    return [(round(i * step, 3), length) for i in range(count)]


def _cut_reference(ffmpeg: FFmpeg, source: Path, info: SourceInfo, start: float,
                   length: float, dst: Path) -> None:
    ffmpeg.run(["-ss", f"{start:.3f}", "-t", f"{length:.3f}", "-i", str(source),
                "-map", "0:v:0", "-an", "-vf", f"fps={info.frame_rate},format=yuv420p",
                "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(dst)],
               f"cutting trial sample at {start:.1f}s")


def _trial_encodes(ffmpeg: FFmpeg, reference: Path, info: SourceInfo, height: int,
                   crfs: tuple[int, ...], settings: EncodeSettings, out_dir: Path) -> list[Path]:
    width = width_for(height, info.display_aspect)
    labels = "".join(f"[c{crf}]" for crf in crfs)
    args = ["-i", str(reference), "-filter_complex",
            f"[0:v:0]scale={width}:{height}:flags=bicubic,split={len(crfs)}{labels}"]
    paths = []
    for crf in crfs:
        path = out_dir / f"{reference.stem}-{height}p-crf{crf}.mp4"
        args += ["-map", f"[c{crf}]", "-c:v", "libx264", "-preset", settings.preset,
                 "-crf", str(crf), "-pix_fmt", "yuv420p",
                 *keyframe_args(settings.segment_s, info.frame_rate), str(path)]
        paths.append(path)
    ffmpeg.run(args, f"trial encodes at {height}p")
    return paths


def per_title_ladder(ffmpeg: FFmpeg, source: Path, info: SourceInfo, settings: EncodeSettings,
                     work: Path, base_rungs: list[Rung]) -> PerTitleResult:
    """Rungs for this source from trial encodes (see the module docstring)."""
    work.mkdir(parents=True, exist_ok=True)
    fitted = fit_ladder(base_rungs, info.height, info.display_aspect)
    heights = sorted({r.height for r in fitted}, reverse=True)
    max_bitrate = max(r.bitrate_bps for r in fitted)
    windows = sample_windows(info.duration_s, settings.sample_count, settings.sample_s)
    bits: dict[tuple[int, int], float] = {}
    seconds: dict[tuple[int, int], float] = {}
    quality: dict[tuple[int, int], float] = {}
    frames: dict[tuple[int, int], int] = {}
    total = len(windows) * len(heights) * len(settings.trial_crfs)
    bar = tqdm(total=total, desc="per-title trials", unit="trial", leave=False,
               disable=not ffmpeg.show_progress)
    try:
        for i, (start, length) in enumerate(windows):
            reference = work / f"sample{i}.mp4"
            _cut_reference(ffmpeg, source, info, start, length, reference)
            for height in heights:
                trials = _trial_encodes(ffmpeg, reference, info, height, settings.trial_crfs,
                                        settings, work)
                for crf, path in zip(settings.trial_crfs, trials, strict=True):
                    score = measure_vmaf(ffmpeg, path, reference, info.width, info.height,
                                         info.frame_rate)
                    key = (height, crf)
                    bits[key] = bits.get(key, 0.0) + path.stat().st_size * 8
                    seconds[key] = seconds.get(key, 0.0) + length
                    quality[key] = quality.get(key, 0.0) + score.mean * max(1, score.frames)
                    frames[key] = frames.get(key, 0) + max(1, score.frames)
                    path.unlink()
                    bar.update()
            reference.unlink()
    finally:
        bar.close()
    points = [TrialPoint(h, crf, bits[(h, crf)] / seconds[(h, crf)],
                         quality[(h, crf)] / frames[(h, crf)]) for (h, crf) in bits]
    hull = convex_hull(points)
    rungs = pick_rungs(hull, max_bitrate, max_rungs=settings.max_rungs, top_vmaf=settings.top_vmaf)
    log.info("per-title: %d trials, hull %s; rungs %s", len(points),
             " ".join(f"{p.height}p/crf{p.crf}:{p.bitrate_bps / 1000:.0f}k={p.vmaf:.1f}"
                      for p in hull), ", ".join(str(r) for r in rungs))
    return PerTitleResult(rungs, points, hull)
