"""A seeded generator of video-on-demand request traces for `ocdn bench replay`.

The model, and why its numbers are what they are:

- **Catalogue.** `titles` titles; 60% are episodes (lognormal duration, median 44 min),
  the rest films (median 105 min). Every title is encoded as each rendition of a fixed
  ladder (`renditions_kbps`); a rendition is one file, `/tNNNNNN/rKBPS.mp4`, of
  `duration_s * kbps * 125` bytes. A session picks one rendition (`rendition_weights`,
  skewed to HD as most viewing is), so a title's popularity splits across its files.
- **Popularity.** Title `k` (by base rank) has weight `(k + q)^-s`, Zipf–Mandelbrot. `s`
  and `q` are fitted (`fit_zipf_mandelbrot`) so that the top 1% of titles draws 24% of the
  sessions and the top 10% draws 68%, the shares of viewing hours in Netflix's published
  engagement report ("What We Watched", 2023: ~18,000 titles). The fit is scale-free:
  s = 1.32 and q = 0.011 * titles for any catalogue size.
- **New releases.** `releases_per_day` titles become available every day at 08:00 (a
  release slot); before that they draw nothing. They are drawn from the top
  `release_rank_fraction` of the base ranks (what a service launches is mostly what it
  expects people to watch), and their weight is multiplied by
  `1 + release_boost * exp(-age / release_decay_days)`: hot on day one, back to their base
  popularity within a few decay times. The rest of the catalogue is available at t = 0.
- **Daily cycle.** Session arrivals are a Poisson process with intensity proportional to
  `1 + diurnal_amplitude * cos(2π (hour - 21) / 24)`: an evening peak at 21:00 about
  5.7 times the 09:00 trough for the default amplitude 0.7.
- **Sessions.** A session starts at the beginning of the file with probability
  `p_start_zero`, otherwise it resumes at a uniform point of the first 90%. Watch time is
  a mixture: `p_sample` of sessions sample and abandon (exponential, mean
  `sample_mean_s`), the rest watch a lognormal time (median `watch_median_s`, shape
  `watch_sigma`), heavy-tailed and cut at the end of the file. So a file's early slices
  are read by nearly every session and its last ones by few.
- **Requests.** A player reads consecutive ranges of `segment_s` seconds of media
  (`kbps * 125 * segment_s` bytes; 4 s at 750 kb/s is the 375,000-byte range of the
  trace format's example), the first `burst_segments` back to back to fill its buffer,
  then one per `segment_s` of wall time.

The `vod` preset is a steady mix: 300 titles, 1,000 sessions a day, 3 releases a day.
`churn` has twice the catalogue and seven times the releases (10% of the catalogue is
new within the 3 days), a hot start three times higher that halves every ~8 hours, and
more sampling sessions, so the popular set turns over within the trace. A real edge sees
far more sessions per title than either; what is kept is the shape (skew, churn, the
daily cycle, how sessions read), scaled to ~1.2-1.5 million slice accesses so that the
whole policy report replays in a few minutes.

Output is the CSV `ocdn bench replay` reads: `ts,key,size,start,end` (end inclusive),
sorted by `ts`. This module must not import `edge`: it only writes the trace.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DAY_S = 86_400.0
RELEASE_HOUR = 8.0
PEAK_HOUR = 21.0


@dataclass(frozen=True, slots=True)
class TraceModel:
    days: float = 3.0
    titles: int = 300
    sessions_per_day: int = 1000
    renditions_kbps: tuple[int, ...] = (560, 1750, 3000, 5800)
    rendition_weights: tuple[float, ...] = (0.10, 0.25, 0.30, 0.35)
    top1_share: float = 0.24
    top10_share: float = 0.68
    releases_per_day: int = 3
    release_rank_fraction: float = 0.2
    release_boost: float = 20.0
    release_decay_days: float = 1.5
    diurnal_amplitude: float = 0.7
    p_start_zero: float = 0.8
    p_sample: float = 0.2
    sample_mean_s: float = 120.0
    watch_median_s: float = 1200.0
    watch_sigma: float = 0.9
    segment_s: float = 4.0
    burst_segments: int = 4


PRESETS: dict[str, TraceModel] = {
    "vod": TraceModel(),
    "churn": TraceModel(
        titles=600,
        sessions_per_day=1100,
        releases_per_day=20,
        release_rank_fraction=0.5,
        release_boost=60.0,
        release_decay_days=0.5,
        p_sample=0.35,
        watch_median_s=900.0,
    ),
}


@dataclass(frozen=True, slots=True)
class Trace:
    """Requests as columns sorted by time (`keys[obj[i]]` is request i's file, `session[i]`
    its session), and per session its title and watch time."""

    keys: list[str]
    sizes: np.ndarray
    ts: np.ndarray
    obj: np.ndarray
    start: np.ndarray
    end: np.ndarray
    session: np.ndarray
    session_title: np.ndarray
    session_watch_s: np.ndarray

    def rows(self) -> Iterator[str]:
        keys, sizes = self.keys, self.sizes.tolist()
        for t, o, a, b in zip(
            self.ts.tolist(), self.obj.tolist(), self.start.tolist(), self.end.tolist(),
            strict=True,
        ):
            yield f"{t:.1f},{keys[o]},{sizes[o]},{a},{b}\n"


def zipf_mandelbrot_shares(n: int, s: float, q: float) -> tuple[float, float]:
    """Shares of the top 1% and top 10% of `n` items under weights (k + q)^-s."""
    w = (np.arange(1, n + 1) + q) ** -s
    c = np.cumsum(w) / w.sum()
    return float(c[max(1, n // 100) - 1]), float(c[max(1, n // 10) - 1])


def fit_zipf_mandelbrot(n: int, top1: float, top10: float) -> tuple[float, float]:
    """(s, q) whose top-1% and top-10% shares best match, by a refined grid search."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    k1, k10 = max(1, n // 100), max(1, n // 10)
    s_lo, s_hi, lq_lo, lq_hi = 0.2, 3.0, math.log(1e-3 * n), math.log(n)
    best = (math.inf, 1.0, 0.0)
    for _ in range(4):
        s_grid = np.linspace(s_lo, s_hi, 24)
        q_grid = np.exp(np.linspace(lq_lo, lq_hi, 24))
        w = (ranks[None, None, :] + q_grid[None, :, None]) ** -s_grid[:, None, None]
        c = np.cumsum(w, axis=2)
        err = (c[:, :, k1 - 1] / c[:, :, -1] - top1) ** 2 + (
            c[:, :, k10 - 1] / c[:, :, -1] - top10
        ) ** 2
        i, j = np.unravel_index(int(np.argmin(err)), err.shape)
        best = (float(err[i, j]), float(s_grid[i]), float(q_grid[j]))
        ds, dq = (s_hi - s_lo) / 12, (lq_hi - lq_lo) / 12
        s_lo, s_hi = max(0.05, best[1] - ds), best[1] + ds
        lq_lo, lq_hi = math.log(best[2]) - dq, math.log(best[2]) + dq
    return best[1], best[2]


def _session_starts(model: TraceModel, rng: np.random.Generator) -> np.ndarray:
    minutes = np.arange(0.0, model.days * DAY_S, 60.0)
    hour = (minutes / 3600.0) % 24.0
    rate = 1.0 + model.diurnal_amplitude * np.cos(2 * np.pi * (hour - PEAK_HOUR) / 24.0)
    cdf = np.cumsum(rate)
    cdf /= cdf[-1]
    count = rng.poisson(model.sessions_per_day * model.days)
    u = rng.random(count)
    return np.sort(np.searchsorted(cdf, u) * 60.0 + rng.random(count) * 60.0)


def _title_choices(
    model: TraceModel, rng: np.random.Generator, starts: np.ndarray
) -> np.ndarray:
    s, q = fit_zipf_mandelbrot(model.titles, model.top1_share, model.top10_share)
    base = (np.arange(1, model.titles + 1) + q) ** -s
    release_s = np.full(model.titles, -np.inf)
    n_release = min(
        int(model.releases_per_day * math.ceil(model.days)),
        int(model.titles * model.release_rank_fraction),
    )
    pool = max(n_release, int(model.titles * model.release_rank_fraction))
    released = rng.choice(pool, size=n_release, replace=False)
    days = np.repeat(np.arange(math.ceil(model.days)), model.releases_per_day)[:n_release]
    release_s[released] = days * DAY_S + RELEASE_HOUR * 3600.0
    choices = np.empty(len(starts), dtype=np.int64)
    hour_of = (starts // 3600.0).astype(np.int64)
    for hour in np.unique(hour_of):
        now = (hour + 0.5) * 3600.0
        age_d = (now - release_s) / DAY_S
        w = np.where(age_d < 0, 0.0, base)
        fresh = np.isfinite(release_s) & (age_d >= 0)
        w[fresh] *= 1.0 + model.release_boost * np.exp(-age_d[fresh] / model.release_decay_days)
        idx = np.nonzero(hour_of == hour)[0]
        choices[idx] = rng.choice(model.titles, size=len(idx), p=w / w.sum())
    return choices


def generate(model: TraceModel, seed: int) -> Trace:
    """Build the trace for `model`; the same (model, seed) always gives the same trace."""
    rng = np.random.default_rng(seed)
    kbps = np.asarray(model.renditions_kbps, dtype=np.int64)
    n_r = len(kbps)
    film = rng.random(model.titles) >= 0.6
    duration_s = np.where(
        film,
        105 * 60 * rng.lognormal(0.0, 0.2, model.titles),
        44 * 60 * rng.lognormal(0.0, 0.25, model.titles),
    ).round()
    sizes = (duration_s[:, None] * kbps[None, :] * 125).astype(np.int64).ravel()
    keys = [f"/t{t:06d}/r{k}.mp4" for t in range(model.titles) for k in model.renditions_kbps]

    starts = _session_starts(model, rng)
    n = len(starts)
    title = _title_choices(model, rng, starts)
    rend = rng.choice(n_r, size=n, p=np.asarray(model.rendition_weights) / sum(
        model.rendition_weights))
    dur = duration_s[title]
    resume = rng.random(n) >= model.p_start_zero
    pos_s = np.where(resume, rng.random(n) * 0.9 * dur, 0.0)
    sampling = rng.random(n) < model.p_sample
    watch_s = np.where(
        sampling,
        rng.exponential(model.sample_mean_s, n),
        rng.lognormal(math.log(model.watch_median_s), model.watch_sigma, n),
    )
    watch_s = np.minimum(np.maximum(watch_s, model.segment_s), dur - pos_s)

    seg_bytes = kbps[rend] * 125 * model.segment_s
    obj = title * n_r + rend
    first = (pos_s / model.segment_s).astype(np.int64)
    count = np.maximum(1, np.ceil(watch_s / model.segment_s).astype(np.int64))
    total = int(count.sum())
    sess = np.repeat(np.arange(n), count)
    k = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    burst = model.burst_segments
    ts = starts[sess] + np.minimum(k, burst) * 0.25 + np.maximum(k - burst, 0) * model.segment_s
    size_r = sizes[obj[sess]]
    seg_r = seg_bytes[sess].astype(np.int64)
    a = (first[sess] + k) * seg_r
    keep = a < size_r
    b = np.minimum(a + seg_r, size_r) - 1
    order = np.argsort(ts[keep], kind="stable")
    return Trace(
        keys=keys,
        sizes=sizes,
        ts=ts[keep][order],
        obj=obj[sess][keep][order],
        start=a[keep][order],
        end=b[keep][order],
        session=sess[keep][order],
        session_title=title,
        session_watch_s=watch_s,
    )


def write_csv(trace: Trace, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with path.open("w", encoding="ascii") as f:
        f.write("ts,key,size,start,end\n")
        buf: list[str] = []
        for row in trace.rows():
            buf.append(row)
            if len(buf) >= 65536:
                f.writelines(buf)
                lines += len(buf)
                buf.clear()
        f.writelines(buf)
        lines += len(buf)
    return lines


def model_from_args(args: argparse.Namespace) -> TraceModel:
    model = PRESETS[args.preset]
    overrides: dict[str, Any] = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TraceModel)
        if getattr(args, f.name, None) is not None
    }
    return dataclasses.replace(model, **overrides)


def _run(args: argparse.Namespace) -> int:
    model = model_from_args(args)
    trace = generate(model, args.seed)
    lines = write_csv(trace, Path(args.out))
    unique = len(np.unique(trace.obj))
    print(f"wrote {lines} requests over {unique} files ({len(trace.session_title)} sessions)"
          f" to {args.out}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tracegen",
        help="generate a seeded VOD request trace (CSV) for `ocdn bench replay`",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--preset", choices=sorted(PRESETS), default="vod")
    p.add_argument("--days", type=float)
    p.add_argument("--titles", type=int)
    p.add_argument("--sessions-per-day", dest="sessions_per_day", type=int)
    p.add_argument("--releases-per-day", dest="releases_per_day", type=int)
    p.add_argument("--release-boost", dest="release_boost", type=float)
    p.add_argument("--release-decay-days", dest="release_decay_days", type=float)
    p.add_argument("--segment-s", dest="segment_s", type=float)
    p.set_defaults(func=_run)
