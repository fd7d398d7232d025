"""Per-title ladder math: the convex hull of trial encodes, rungs from it, BD-rate.

Per-title encoding (Netflix, 2015) starts from trial encodes of the title at several
resolutions and quality settings, each a point (bitrate, VMAF). For any bitrate the best
encode is the one of highest quality, and which resolution gives it changes along the
bitrate axis: low resolutions win at low bitrates (fewer pixels, each with enough bits),
high ones at high bitrates. The upper convex hull of all points is the best
rate-quality curve the title allows; rungs are picked on it.

Rungs are spaced in quality, not bitrate: the top rung is the cheapest point of the hull
reaching `top_vmaf` (95: past it extra bits buy little a viewer sees), and each lower
rung sits about `step_vmaf` (6, roughly one just-noticeable difference in VMAF) below the
one above, down to `floor_vmaf`; where that leaves two rungs more than 2.5x apart in
bitrate (a flat hull, as noise makes), rungs are added between them. A calm title
reaches each quality with few bits, so its whole ladder costs less than the fixed one;
a noisy one may need more than the fixed ladder's top bitrate, which stays the cap.
Each rung takes the resolution of the hull point nearest its bitrate (in log rate).

BD-rate (Bjøntegaard) compares two rate-quality curves: the mean difference of log rate
over the quality range both curves cover, as a percentage (negative: the second curve
needs fewer bits for the same quality). This implementation interpolates log rate
piecewise-linearly in quality (exact for the points it has, and monotone, where the
classic cubic fit can oscillate on four or five uneven rungs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from encoder.ladder import Rung, even


@dataclass(frozen=True, slots=True)
class TrialPoint:
    """One trial encode: resolution (height), quality setting (CRF) and what it gave."""

    height: int
    crf: int
    bitrate_bps: float
    vmaf: float


def _cross(o: TrialPoint, a: TrialPoint, b: TrialPoint) -> float:
    return ((a.bitrate_bps - o.bitrate_bps) * (b.vmaf - o.vmaf)
            - (a.vmaf - o.vmaf) * (b.bitrate_bps - o.bitrate_bps))


def convex_hull(points: Sequence[TrialPoint]) -> list[TrialPoint]:
    """The upper convex hull of the points in (bitrate, VMAF), by increasing bitrate.

    Only points that gain quality with rate are kept: a point whose quality a cheaper
    point already reaches is never on the hull.
    """
    ordered = sorted(points, key=lambda p: (p.bitrate_bps, -p.vmaf))
    frontier: list[TrialPoint] = []
    for p in ordered:
        if frontier and p.vmaf <= frontier[-1].vmaf:
            continue
        frontier.append(p)
    hull: list[TrialPoint] = []
    for p in frontier:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    return hull


def rate_for_quality(hull: Sequence[TrialPoint], vmaf: float) -> float | None:
    """The least bitrate at which the hull reaches `vmaf` (interpolated), or None."""
    if not hull or vmaf > hull[-1].vmaf:
        return None
    if vmaf <= hull[0].vmaf:
        return hull[0].bitrate_bps
    for lo, hi in pairwise(hull):
        if lo.vmaf <= vmaf <= hi.vmaf:
            frac = (vmaf - lo.vmaf) / (hi.vmaf - lo.vmaf)
            return lo.bitrate_bps + frac * (hi.bitrate_bps - lo.bitrate_bps)
    return None


def height_at(hull: Sequence[TrialPoint], bitrate_bps: float) -> int:
    """The resolution of the hull point nearest `bitrate_bps` in log rate."""
    return min(hull, key=lambda p: abs(math.log(p.bitrate_bps / bitrate_bps))).height


def pick_rungs(
    hull: Sequence[TrialPoint],
    max_bitrate_bps: int,
    max_rungs: int = 6,
    top_vmaf: float = 95.0,
    step_vmaf: float = 6.0,
    floor_vmaf: float = 40.0,
    min_ratio: float = 1.3,
    max_ratio: float = 2.5,
) -> list[Rung]:
    """Rungs on the hull, highest first (see the module docstring).

    Rungs closer than `min_ratio` in bitrate to the one above are dropped (a player
    could not tell them apart by throughput); where the hull is flat, quality steps can
    leave gaps wider than `max_ratio`, which are filled with rungs spaced evenly in log
    rate, so a player whose throughput falls between two rungs never has to drop far.
    """
    if not hull:
        raise ValueError("no trial points to pick rungs from")
    top_rate = rate_for_quality(hull, top_vmaf) or hull[-1].bitrate_bps
    top_rate = min(top_rate, max_bitrate_bps)
    top_quality = min(top_vmaf, _quality_at(hull, top_rate))
    rates = [top_rate]
    quality = top_quality - step_vmaf
    while len(rates) < max_rungs and quality >= floor_vmaf:
        rate = rate_for_quality(hull, quality)
        if rate is None or rate < hull[0].bitrate_bps:
            break
        rates.append(rate)
        quality -= step_vmaf
    filled: list[float] = []
    for rate in rates:
        if filled and filled[-1] < rate * min_ratio:
            continue
        if filled and filled[-1] > rate * max_ratio:
            gaps = math.ceil(math.log(filled[-1] / rate) / math.log(max_ratio))
            step = (filled[-1] / rate) ** (1 / gaps)
            filled += [filled[-1] / step ** i for i in range(1, gaps)]
        filled.append(rate)
    return [Rung(even(height_at(hull, rate)), _round_rate(rate)) for rate in filled]


def _quality_at(hull: Sequence[TrialPoint], bitrate_bps: float) -> float:
    if bitrate_bps <= hull[0].bitrate_bps:
        return hull[0].vmaf
    for lo, hi in pairwise(hull):
        if lo.bitrate_bps <= bitrate_bps <= hi.bitrate_bps:
            frac = (bitrate_bps - lo.bitrate_bps) / (hi.bitrate_bps - lo.bitrate_bps)
            return lo.vmaf + frac * (hi.vmaf - lo.vmaf)
    return hull[-1].vmaf


def _round_rate(bps: float) -> int:
    """Two significant figures in kb/s: 1_734_120 -> 1_700_000, 96_400 -> 96_000."""
    kbps = max(1.0, bps / 1000)
    scale = 10 ** max(0, math.floor(math.log10(kbps)) - 1)
    return round(kbps / scale) * scale * 1000


def _monotone(curve: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(log rate, quality) points with quality strictly rising, by quality."""
    points = sorted((math.log(rate), q) for rate, q in curve if rate > 0)
    out: list[tuple[float, float]] = []
    for log_rate, q in points:
        if out and q <= out[-1][1]:
            continue
        out.append((log_rate, q))
    return out


def _log_rate_at(curve: Sequence[tuple[float, float]], q: float) -> float:
    for (r0, q0), (r1, q1) in pairwise(curve):
        if q0 <= q <= q1:
            return r0 + (q - q0) / (q1 - q0) * (r1 - r0)
    raise ValueError(f"quality {q} outside the curve")


def bd_rate(reference: Sequence[tuple[float, float]], test: Sequence[tuple[float, float]]) -> float:
    """Bjøntegaard delta rate of `test` against `reference`, in percent.

    Each curve is a list of (bitrate, quality) points. ValueError when a curve has fewer
    than two usable points or the curves share no quality range.
    """
    ref, tst = _monotone(reference), _monotone(test)
    if len(ref) < 2 or len(tst) < 2:
        raise ValueError("BD-rate needs at least two points of rising quality on each curve")
    low = max(ref[0][1], tst[0][1])
    high = min(ref[-1][1], tst[-1][1])
    if high <= low:
        raise ValueError(
            f"the curves share no quality range (reference {ref[0][1]:.1f}-{ref[-1][1]:.1f}, "
            f"test {tst[0][1]:.1f}-{tst[-1][1]:.1f})")
    knots = sorted({low, high, *(q for _, q in ref + tst if low < q < high)})
    area = 0.0
    for q0, q1 in pairwise(knots):
        d0 = _log_rate_at(tst, q0) - _log_rate_at(ref, q0)
        d1 = _log_rate_at(tst, q1) - _log_rate_at(ref, q1)
        area += (d0 + d1) / 2 * (q1 - q0)
    return (math.exp(area / (high - low)) - 1) * 100
