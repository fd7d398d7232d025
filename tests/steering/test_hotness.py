from __future__ import annotations

import pytest

from steering.hotness import RateEstimator


def test_a_steady_rate_is_measured() -> None:
    r = RateEstimator(half_life_s=10)
    rates = [r.hit("/hot", i / 100) for i in range(10_000)]  # 100 requests/s for 100 s
    assert rates[999] == pytest.approx(100 * (1 - 2 ** -1), rel=0.05)  # one half-life in
    assert rates[-1] == pytest.approx(100, rel=0.05)


def test_a_rate_decays_with_its_half_life() -> None:
    r = RateEstimator(half_life_s=10)
    for i in range(2000):
        r.hit("/k", i / 100)
    now = 19.99
    assert r.rate("/k", now + 10) == pytest.approx(r.rate("/k", now) / 2)
    assert r.rate("/other", now) == 0.0


def test_memory_is_bounded_and_keeps_the_hottest() -> None:
    r = RateEstimator(half_life_s=10, max_keys=100)
    for _ in range(50):
        r.hit("/hot", 0.0)
    for i in range(1000):
        r.hit(f"/cold{i}", 0.0)
        assert len(r) <= 100
    assert r.rate("/hot", 0.0) > 1


def test_cold_keys_are_dropped_first() -> None:
    r = RateEstimator(half_life_s=1, max_keys=10, floor_per_s=0.05)
    for i in range(10):
        r.hit(f"/old{i}", 0.0)
    r.hit("/new", 100.0)
    assert len(r) == 1


def test_half_life_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateEstimator(half_life_s=0)


def test_a_clock_stepping_back_is_no_time_passing() -> None:
    est = RateEstimator(half_life_s=10.0, max_keys=4)
    for i in range(20):
        est.hit("k", 1_000_000.0 + i * 0.1)
    before = est.rate("k", 1_000_002.0)
    back = 1_000_000.0 - 3 * 3600  # hours back: 2**(+1080) would overflow a float
    assert est.rate("k", back) == pytest.approx(before, rel=0.05)
    assert est.hit("k", back) > before
    for i in range(8):
        est.hit(f"other-{i}", back)  # a sweep with the clock behind
    assert len(est) <= 4
