"""Encoder benchmarks: what the ladder costs, and what a per-title ladder saves.

1. Encode time. The default ladder (six renditions, 1080p at 5.8 Mb/s down to 240p at
   235 kb/s, plus AAC) through `ocdn encode`, against one plain ffmpeg encode of the top
   rendition alone (same preset, same capped bitrate, same audio): median of `--runs`.
   One decode feeds every encoder, so the ladder costs roughly its encodes, and the
   smaller rungs are cheap (the five below 1080p have about 0.9x its pixels together).
   The stream-copy packaging step is reported on its own.

2. BD-rate of the per-title ladder against the default ladder, on two synthetic sources
   of opposite complexity: `testsrc2` (calm: flat colours, slow motion) and `testsrc2`
   with strong temporal noise (`noise=alls=60:allf=t+u`: every frame new detail, the
   worst case for an encoder). Every rendition of both ladders is scored by VMAF
   against the source at 1080p; each ladder is a rate-quality curve of (average video
   bitrate, VMAF) points, and `encoder.hull.bd_rate` gives the bitrate difference at
   equal quality over the VMAF range both cover (negative: per-title saves).

Writes bench/encode_report.md (and keeps its files in bench/out/encode).
Run: .venv/bin/python -m bench.encode_bench [--duration 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from encoder.config import EncodeSettings
from encoder.encode import BUFFER_S, MAXRATE_FACTOR
from encoder.ffmpeg import FFmpeg, locate
from encoder.hull import bd_rate
from encoder.ladder import DEFAULT_LADDER
from encoder.pipeline import EncodeResult, encode_title
from encoder.quality import measure_vmaf

SOURCES = {
    "calm": "testsrc2=size={w}x{h}:rate={fps}",
    "noisy": "testsrc2=size={w}x{h}:rate={fps},noise=alls=60:allf=t+u",
}


def make_source(ff: FFmpeg, kind: str, path: Path, width: int, height: int, fps: int,
                duration_s: float) -> Path:
    if path.exists():
        return path
    video = SOURCES[kind].format(w=width, h=height, fps=fps)
    ff.run(["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", f"{duration_s}", "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "8", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-b:a", "192k", "-shortest", str(path)], f"making the {kind} source",
           duration_s=duration_s)
    return path


def plain_top_encode(ff: FFmpeg, source: Path, out: Path, preset: str, duration_s: float) -> float:
    top = DEFAULT_LADDER[0].bitrate_bps
    start = time.perf_counter()
    ff.run(["-i", str(source), "-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264",
            "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p", "-b:v", str(top),
            "-maxrate", str(round(top * MAXRATE_FACTOR)), "-bufsize", str(round(top * BUFFER_S)),
            "-c:a", "aac", "-b:a", "128k", str(out)], "plain top-rendition encode",
           duration_s=duration_s)
    return time.perf_counter() - start


def timed_ladder(source: Path, out: Path, settings: EncodeSettings) -> tuple[float, EncodeResult]:
    start = time.perf_counter()
    result = encode_title(source, "bench", out, settings)
    return time.perf_counter() - start, result


def ladder_curve(ff: FFmpeg, result: EncodeResult, source: Path) -> list[dict[str, object]]:
    doc = json.loads(result.title_json.read_text())
    info = result.source
    points = []
    for r in doc["renditions"]:
        if r["type"] != "video":
            continue
        score = measure_vmaf(ff, result.out / r["file"], source, info.width, info.height,
                             info.frame_rate)
        points.append({"id": r["id"], "resolution": r["resolution"],
                       "target_kbps": r["bitrate_bps"] / 1000,
                       "average_kbps": r["average_bitrate_bps"] / 1000,
                       "vmaf": score.mean})
    return points


def _curve(points: list[dict[str, object]]) -> list[tuple[float, float]]:
    return [(float(p["average_kbps"]), float(p["vmaf"])) for p in points]  # type: ignore[arg-type]


def bench_timing(ff: FFmpeg, source: Path, work: Path, runs: int, preset: str,
                 duration_s: float) -> dict[str, object]:
    settings = EncodeSettings(preset=preset, progress=False, force=True)
    ladder_s, encode_s, package_s, plain_s = [], [], [], []
    for i in range(runs):
        total, result = timed_ladder(source, work / "timing-ladder", settings)
        ladder_s.append(total)
        encode_s.append(result.timings_s["encode"])
        package_s.append(result.timings_s["package"])
        plain_s.append(plain_top_encode(ff, source, work / "timing-plain.mp4", preset, duration_s))
        print(f"  run {i + 1}: ladder {total:.1f} s (encode {encode_s[-1]:.1f}, "
              f"package {package_s[-1]:.2f}), plain top {plain_s[-1]:.1f} s", file=sys.stderr)
    return {
        "runs": runs, "preset": preset,
        "ladder_s": statistics.median(ladder_s), "encode_s": statistics.median(encode_s),
        "package_s": statistics.median(package_s), "plain_s": statistics.median(plain_s),
        "renditions": [f"{r.width}x{r.height}@{r.bitrate_bps // 1000}k"
                       for r in result.renditions],
        "all": {"ladder_s": ladder_s, "encode_s": encode_s, "package_s": package_s,
                "plain_s": plain_s},
    }


def bench_bdrate(ff: FFmpeg, kind: str, source: Path, work: Path,
                 settings: EncodeSettings) -> dict[str, object]:
    fixed_s, fixed = timed_ladder(source, work / f"{kind}-default",
                                  replace(settings, ladder="default"))
    per_s, per = timed_ladder(source, work / f"{kind}-per-title",
                              replace(settings, ladder="per-title"))
    fixed_points = ladder_curve(ff, fixed, source)
    per_points = ladder_curve(ff, per, source)
    try:
        saving: float | None = bd_rate(_curve(fixed_points), _curve(per_points))
        note = ""
    except ValueError as exc:
        saving, note = None, str(exc)
    analysis = json.loads(per.title_json.read_text()).get("per_title", {})
    return {"source": kind, "default": fixed_points, "per_title": per_points,
            "bd_rate_pct": saving, "note": note, "default_s": fixed_s, "per_title_s": per_s,
            "analysis_s": per.timings_s["ladder"], "hull": analysis.get("hull", [])}


def _table(points: list[dict[str, object]]) -> list[str]:
    rows = ["| rendition | resolution | target kb/s | average kb/s | VMAF |",
            "|---|---|---|---|---|"]
    for p in sorted(points, key=lambda p: -float(p["average_kbps"])):  # type: ignore[arg-type]
        rows.append(f"| {p['id']} | {p['resolution']} | {p['target_kbps']:.0f} | "
                    f"{p['average_kbps']:.0f} | {p['vmaf']:.2f} |")
    return rows


def report(timing: dict[str, Any] | None, bdrates: list[dict[str, object]],
           args: argparse.Namespace) -> str:
    lines = ["# Encoder benchmark", "",
             f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
             f"Python {platform.python_version()}; ffmpeg {Path(locate()).name} (imageio-ffmpeg). "
             f"Sources: lavfi, {args.size} at {args.fps} fps, {args.duration:g} s, with a "
             "sine tone. Produced by `.venv/bin/python -m bench.encode_bench`.", ""]
    if timing:
        ratio = float(timing["ladder_s"]) / float(timing["plain_s"])  # type: ignore[arg-type]
        encode_ratio = float(timing["encode_s"]) / float(timing["plain_s"])  # type: ignore[arg-type]
        lines += [
            "## Encode time: the default ladder against one plain encode of its top rendition",
            "",
            f"Calm source, x264 `{timing['preset']}`, median of {timing['runs']} runs. The ladder "
            f"({', '.join(timing['renditions'])}, AAC 128k) is `ocdn encode` end to end: probe, "
            "one decode into six encodes, stream-copy packaging into both layouts, manifests, "
            "checksums. The plain encode is a single ffmpeg of the 1080p rendition at the same "
            "capped bitrate with the same audio.", "",
            "| | seconds |", "|---|---|",
            f"| plain ffmpeg, top rendition only | {timing['plain_s']:.1f} |",
            f"| `ocdn encode`, default ladder, total | {timing['ladder_s']:.1f} |",
            f"| of which: the one ffmpeg encoding all six renditions | {timing['encode_s']:.1f} |",
            f"| of which: packaging by stream copy (all renditions, both layouts) | "
            f"{timing['package_s']:.2f} |", "",
            f"**Ratio: the whole ladder costs {ratio:.2f}x one plain top-rendition encode** "
            f"(the encode step alone {encode_ratio:.2f}x); packaging costs "
            f"{float(timing['encode_s']) / max(1e-9, float(timing['package_s'])):.0f}x less "  # type: ignore[arg-type]
            "than encoding.", "",
            f"All runs: `{json.dumps(timing['all'])}`", ""]
    if bdrates:
        lines += ["## Per-title ladder against the default ladder (BD-rate at equal VMAF)", "",
                  f"x264 `{args.bd_preset}` for every encode (trials and final renditions). "
                  f"Per-title trials: CRF {', '.join(map(str, args.crfs))} at each default-ladder "
                  f"resolution, on {args.samples} sampled parts of {args.sample_s:g} s; VMAF "
                  "v0.6.1 against the source at 1080p. BD-rate: mean log-rate difference over "
                  "the shared VMAF range, piecewise-linear (negative = per-title needs fewer "
                  "bits).", ""]
        summary = ["| source | BD-rate of per-title vs default | per-title analysis time |",
                   "|---|---|---|"]
        for b in bdrates:
            value = (f"{b['bd_rate_pct']:+.1f}%" if b["bd_rate_pct"] is not None
                     else f"n/a ({b['note']})")
            summary.append(f"| {b['source']} | {value} | {b['analysis_s']:.0f} s |")
        lines += [*summary, ""]
        for b in bdrates:
            lines += [f"### {b['source']}", "", "Default ladder:", "", *_table(b["default"]), "",  # type: ignore[arg-type]
                      "Per-title ladder:", "", *_table(b["per_title"]), "",  # type: ignore[arg-type]
                      "Convex hull of the trials: " + ", ".join(
                          f"{h['height']}p/CRF{h['crf']} {h['bitrate_bps'] / 1000:.0f}k "
                          f"VMAF {h['vmaf']:.1f}" for h in b["hull"]) + "", ""]  # type: ignore[attr-defined]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="bench/out/encode")
    parser.add_argument("--report", default="bench/encode_report.md")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="medium", help="x264 preset of the timing runs")
    parser.add_argument("--bd-preset", default="faster", help="x264 preset of the BD-rate runs")
    parser.add_argument("--crfs", default="22,27,32,37")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--sample-s", type=float, default=2.0)
    parser.add_argument("--skip-timing", action="store_true",
                        help="keep the timing results of the last run (results.json)")
    parser.add_argument("--skip-bdrate", action="store_true",
                        help="keep the BD-rate results of the last run (results.json)")
    args = parser.parse_args(argv)
    args.crfs = tuple(int(c) for c in args.crfs.split(","))
    width, height = (int(x) for x in args.size.split("x"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ff = FFmpeg(locate(), show_progress=sys.stderr.isatty())
    sources = {
        kind: make_source(ff, kind, work / f"source-{kind}-{args.size}-{args.duration:g}s.mp4",
                          width, height, args.fps, args.duration)
        for kind in SOURCES}
    saved_path = work / "results.json"
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else {}
    timing = saved.get("timing") if args.skip_timing else None
    if not args.skip_timing:
        print("timing: default ladder vs plain top encode", file=sys.stderr)
        timing = bench_timing(ff, sources["calm"], work, args.runs, args.preset, args.duration)
    bdrates = saved.get("bdrate", []) if args.skip_bdrate else []
    if not args.skip_bdrate:
        settings = EncodeSettings(preset=args.bd_preset, progress=False, force=True,
                                  trial_crfs=args.crfs, sample_count=args.samples,
                                  sample_s=args.sample_s)
        for kind, source in sources.items():
            print(f"BD-rate: {kind}", file=sys.stderr)
            bdrates.append(bench_bdrate(ff, kind, source, work, settings))
            print(f"  {kind}: {bdrates[-1]['bd_rate_pct']}", file=sys.stderr)
    text = report(timing, bdrates, args)
    Path(args.report).write_text(text + "\n")
    saved_path.write_text(json.dumps({"timing": timing, "bdrate": bdrates}, indent=2,
                                     default=str))
    print(text)
    for d in work.glob("*-default"):
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
