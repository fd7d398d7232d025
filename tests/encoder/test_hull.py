from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from encoder.hull import TrialPoint, bd_rate, convex_hull, pick_rungs, rate_for_quality


def P(height: int, kbps: float, vmaf: float, crf: int = 0) -> TrialPoint:
    return TrialPoint(height, crf, kbps * 1000, vmaf)


GRID = [
    P(240, 150, 50), P(240, 300, 62), P(240, 600, 68), P(240, 1200, 70),
    P(540, 300, 55), P(540, 600, 72), P(540, 1200, 82), P(540, 2400, 86),
    P(1080, 600, 60), P(1080, 1200, 80), P(1080, 2400, 91), P(1080, 4800, 96),
]


def test_hull_prefers_low_resolutions_at_low_rates() -> None:
    hull = convex_hull(GRID)
    assert [p.height for p in hull] == [240, 240, 540, 540, 1080, 1080]
    assert hull[0].bitrate_bps == 150_000 and hull[-1].vmaf == 96


def test_hull_is_concave_and_rising() -> None:
    hull = convex_hull(GRID)
    slopes = [(b.vmaf - a.vmaf) / (b.bitrate_bps - a.bitrate_bps)
              for a, b in itertools.pairwise(hull)]
    assert all(s > 0 for s in slopes)
    assert slopes == sorted(slopes, reverse=True)


def test_hull_drops_dominated_points() -> None:
    hull = convex_hull([P(240, 100, 50), P(540, 200, 49), P(1080, 300, 70)])
    assert [p.height for p in hull] == [240, 1080]


@given(st.lists(st.tuples(st.integers(50, 10_000), st.floats(0, 100)), min_size=1, max_size=30))
def test_no_trial_lies_above_the_hull(raw: list[tuple[int, float]]) -> None:
    points = [P(240, kbps, q) for kbps, q in raw]
    hull = convex_hull(points)
    for p in points:
        if p.bitrate_bps < hull[0].bitrate_bps:
            continue
        q = rate_for_quality(hull, min(p.vmaf, hull[-1].vmaf))
        assert q is not None
        if p.vmaf <= hull[-1].vmaf:
            assert q <= p.bitrate_bps + 1e-6


def test_rate_for_quality_interpolates() -> None:
    hull = [P(240, 100, 50), P(540, 300, 70)]
    assert rate_for_quality(hull, 60) == pytest.approx(200_000)
    assert rate_for_quality(hull, 40) == 100_000
    assert rate_for_quality(hull, 71) is None


def test_pick_rungs_top_rung_is_the_cheapest_reaching_the_target() -> None:
    rungs = pick_rungs(convex_hull(GRID), max_bitrate_bps=5_800_000, top_vmaf=95)
    assert rungs[0].height == 1080
    assert 2_400_000 < rungs[0].bitrate_bps < 4_800_000
    rates = [r.bitrate_bps for r in rungs]
    assert rates == sorted(rates, reverse=True)
    assert all(a >= 1.3 * b for a, b in itertools.pairwise(rates))
    assert rungs[-1].height == 240


def test_pick_rungs_caps_at_the_fixed_ladder_top() -> None:
    rungs = pick_rungs(convex_hull(GRID), max_bitrate_bps=1_000_000, top_vmaf=95)
    assert rungs[0].bitrate_bps <= 1_000_000


def test_pick_rungs_for_a_calm_title_stays_cheap() -> None:
    calm = [P(1080, 200, 90), P(1080, 400, 96), P(1080, 800, 98), P(540, 100, 80), P(540, 200, 88)]
    rungs = pick_rungs(convex_hull(calm), max_bitrate_bps=5_800_000)
    assert rungs[0].bitrate_bps <= 400_000


def test_bd_rate_of_identical_curves_is_zero() -> None:
    curve = [(100, 50), (200, 60), (400, 70), (800, 80)]
    assert bd_rate(curve, curve) == pytest.approx(0.0)


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.25, 2.0])
def test_bd_rate_of_a_scaled_curve_is_the_scale(factor: float) -> None:
    curve = [(100, 50), (200, 60), (400, 70), (800, 80)]
    scaled = [(r * factor, q) for r, q in curve]
    assert bd_rate(curve, scaled) == pytest.approx((factor - 1) * 100)


def test_bd_rate_only_counts_the_shared_quality_range() -> None:
    ref = [(100, 50), (200, 60), (400, 70), (800, 80)]
    test = [(50, 60), (100, 70), (5000, 99)]
    value = bd_rate(ref, test)
    assert value < 0


def test_bd_rate_refuses_disjoint_curves() -> None:
    with pytest.raises(ValueError, match="share no quality range"):
        bd_rate([(100, 10), (200, 20)], [(100, 50), (200, 60)])
    with pytest.raises(ValueError, match="two points"):
        bd_rate([(100, 10)], [(100, 50), (200, 60)])


@given(st.floats(0.2, 5.0), st.lists(st.floats(10, 90), min_size=2, max_size=8, unique=True))
def test_bd_rate_property_uniform_scale(factor: float, qualities: list[float]) -> None:
    qs = sorted(qualities)
    if qs[-1] - qs[0] < 1e-3:
        return
    curve = [(math.exp(q / 10), q) for q in qs]
    scaled = [(r * factor, q) for r, q in curve]
    assert bd_rate(curve, scaled) == pytest.approx((factor - 1) * 100, rel=1e-6, abs=1e-6)


def test_pick_rungs_fills_wide_gaps_of_a_flat_hull() -> None:
    flat = [P(720, 150, 41), P(720, 600, 54), P(720, 6000, 60)]
    rungs = pick_rungs(convex_hull(flat), max_bitrate_bps=5_800_000, top_vmaf=95)
    rates = [r.bitrate_bps for r in rungs]
    assert rates[0] == 5_800_000
    assert all(a <= 2.5 * b * 1.05 for a, b in itertools.pairwise(rates)), rates
    assert all(a >= 1.3 * b for a, b in itertools.pairwise(rates)), rates
