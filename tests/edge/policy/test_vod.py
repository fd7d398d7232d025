from __future__ import annotations

from edge.policy import DEFAULT_POLICY, make_policy
from edge.policy.base import Outcome, SliceKey
from edge.policy.vod import (
    _LEVEL_OF,
    ADMIT_MARGIN_LEVELS,
    FAST_LEVELS_PER_HALVING,
    LEVELS_PER_DOUBLING,
    SLICE_HALF_LIFE_S,
    START_HALF_LIFE_S,
    SURVIVAL_PRIOR,
    TITLE_SHARE,
    VOD,
    title_of,
)

SLICE = 2 << 20


def k(name: str, index: int = 0) -> SliceKey:
    return SliceKey(name if name.startswith("/") else f"/{name}.mp4", index)


def cache(slices: int = 20) -> VOD:
    policy = VOD(slices * SLICE)
    policy._slices.ensure_capacity(1 << 14)  # wide enough that no collision decides a duel
    return policy


def test_is_the_default() -> None:
    assert DEFAULT_POLICY == "vod"
    assert isinstance(make_policy("default", 100 * SLICE), VOD)


def test_window_share() -> None:
    policy = cache(2000)
    assert policy.window_bytes_max == 6 * SLICE  # 0.3%
    assert policy.window_active_bytes_max == 1000 * SLICE
    assert cache(4).window_bytes_max == SLICE


def test_a_miss_is_admitted_and_its_rereads_hit_the_window() -> None:
    policy = cache()
    assert policy.access(k("a"), SLICE, 0).outcome is Outcome.ADMIT
    for t in range(1, 6):
        assert policy.access(k("a"), SLICE, t).outcome is Outcome.HIT
    assert k("a") in policy._window


def full_of_warm_slices() -> VOD:
    """A full cache of 20 main slices, each read three times since it was added."""
    policy = cache(20)
    for i in range(1, 21):
        policy.add(k("warm", i), SLICE)
        for t in range(3):
            assert policy.access(k("warm", i), SLICE, t).outcome is Outcome.HIT
    assert policy.used_bytes == policy.capacity_bytes
    return policy


def test_a_miss_read_to_the_end_is_admitted_like_any_other() -> None:
    """`vod` ignores `reaches_end`: the window waits in the edge's memory, so a miss that
    will not be read again costs no disk write unless it wins its place in main."""
    for reaches_end in (False, True):
        policy = full_of_warm_slices()
        cold = k("cold", 7)
        access = policy.access(cold, SLICE, 10, reaches_end=reaches_end)
        assert access.outcome is Outcome.ADMIT and len(access.evicted) == 1
        assert cold in policy._window and policy.staged(cold)


def test_later_slices_rank_lower_by_one_level_per_quadrupling() -> None:
    policy = cache()
    levels = [policy.level(k("f", i)) for i in (0, 1, 2, 7, 8, 31, 32, 127, 128)]
    top = levels[0]
    assert [top - level for level in levels] == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    for t in range(3):  # the same read count: the later slice still ranks lower
        policy.access(k("g", 1), SLICE, t)
        policy.access(k("g", 40), SLICE, t)
    assert policy.level(k("g", 1)) - policy.level(k("g", 40)) == 3


def test_a_level_raised_by_starts_sinks_as_they_fade() -> None:
    policy = cache(20)
    plain, started = k("a", 1), k("b", 1)
    policy.access(k("b"), SLICE, 0)  # one session started b
    for key in (plain, started):
        policy.access(key, SLICE, 0)
        policy.add(key, SLICE)
    policy.access(plain, SLICE, 1)  # a second read: no start terms, slice scale
    assert started in policy._fast_buckets[policy.level(started)]
    assert policy.level(started) > policy.level(plain)
    assert policy._coldest() == plain
    hours = 3
    policy.access(plain, SLICE, hours * START_HALF_LIFE_S)  # the start counts halve 3 times
    assert policy.level(started) < policy.level(plain)
    assert policy._fast_offset == hours * FAST_LEVELS_PER_HALVING
    assert policy._coldest() == started  # surfaced; on one scale it would wait below plain


def test_the_coldest_slice_is_remembered_until_it_is_read() -> None:
    policy = cache(20)
    a, b = k("a", 1), k("b", 1)
    for key in (a, b):
        policy.add(key, SLICE)
    policy.access(b, SLICE, 0)
    assert policy._coldest() == a and policy._victim == a
    checked = policy.rechecks
    assert policy._coldest() == a and policy.rechecks == checked
    for t in (1, 2):
        assert policy.access(a, SLICE, t).outcome is Outcome.HIT
    assert policy._victim is None
    assert policy._coldest() == b


def test_admit_needs_a_margin() -> None:
    assert VOD.admit(4 + ADMIT_MARGIN_LEVELS + 1, 4)
    assert not VOD.admit(4 + ADMIT_MARGIN_LEVELS, 4)
    assert not VOD.admit(4, 4) and not VOD.admit(3, 4)


def test_reads_and_starts_raise_the_level() -> None:
    policy = cache()
    deep, start = k("f", 40), k("f", 0)
    before = policy.level(deep)
    policy.access(deep, SLICE, 0)
    after_read = policy.level(deep)
    policy.access(start, SLICE, 1)
    assert before < after_read < policy.level(deep)
    assert policy.level(k("f", 99)) > policy.level(k("other", 99))


def test_starts_are_shared_in_proportion_to_how_far_sessions_read() -> None:
    policy = cache()
    policy.add(k("f", 0), SLICE)
    policy.add(k("f", 1), SLICE)
    for t in range(12):
        for index in (0, 1):
            assert policy.access(k("f", index), SLICE, 100 * t).outcome is Outcome.HIT
    policy.access(k("f", 30), SLICE, 2000)
    policy.access(k("g", 30), SLICE, 2000)
    early, late, unread = (policy.level(k("f", i)) for i in (1, 30, 60))
    assert early > late > unread > policy.level(k("g", 30))
    starts = policy._file_starts["/f.mp4"] + policy._title_starts[title_of("/f.mp4")] // TITLE_SHARE
    first = policy._slices.frequency(k("f", 0))
    assert policy.level(k("f", 60)) == policy.level(k("h", 60)) + (
        _LEVEL_OF[starts * SURVIVAL_PRIOR // (first + SURVIVAL_PRIOR)] - _LEVEL_OF[0]
    )


def test_a_title_shares_its_starts_with_its_renditions() -> None:
    policy = cache()
    for t in range(8):
        policy.access(k(f"/t1/r{t}.mp4", 0), SLICE, t)
    assert policy.level(k("/t1/r99.mp4", 5)) > policy.level(k("/t2/r99.mp4", 5))
    assert title_of("/t1/r750.mp4") == "/t1"
    assert title_of("flat.mp4") == "flat.mp4"


def test_a_popular_file_survives_a_scan_of_one_hit_files() -> None:
    policy = cache(20)
    popular = [k("hot", i) for i in range(10)]
    now = 0.0
    for _ in range(4):
        for key in popular:
            policy.access(key, SLICE, now)
            now += 1
    evicted: list[SliceKey] = []
    for i in range(100):
        evicted += policy.access(k(f"scan{i}"), SLICE, now).evicted
        now += 1
    assert all(key in policy for key in popular)
    assert not any(key in evicted for key in popular)
    assert policy.used_bytes <= policy.capacity_bytes


def test_a_stale_level_is_rechecked_before_eviction() -> None:
    policy = cache(12)
    policy.access(k("m0", 1), SLICE, 0)
    for i in range(1, 11):
        policy.access(k(f"m{i}"), SLICE, 100 * i)
    assert len(policy._main) == 10 and policy.level(k("m0", 1)) < policy.level(k("m1"))
    for _ in range(3):
        assert policy.access(k("m0", 1), SLICE, 1100).outcome is Outcome.HIT
    policy.access(k("c"), SLICE, 1200)
    evicted = policy.access(k("next"), SLICE, 1300).evicted
    assert policy.rechecks == 1
    assert k("m0", 1) in policy
    assert evicted == (k("c"),)


def test_counts_age_on_the_clock_and_levels_stay_comparable() -> None:
    policy = cache()
    key = k("old", 3)
    policy.access(key, SLICE, 0)
    level = policy.level(key)
    policy.access(k("tick", 3), SLICE, SLICE_HALF_LIFE_S)
    assert policy.level(key) == level
    assert policy._base_level == LEVELS_PER_DOUBLING
    assert policy._slices.frequency(key) == 4


def test_start_counts_are_halved_hourly_and_forgotten() -> None:
    policy = cache()
    policy.access(k("f"), SLICE, 0)
    assert policy._file_starts == {"/f.mp4": 8}
    policy.access(k("g", 5), SLICE, START_HALF_LIFE_S)
    assert policy._file_starts == {"/f.mp4": 4}
    policy.access(k("g", 6), SLICE, 10 * START_HALF_LIFE_S)
    assert policy._file_starts == {} and policy._title_starts == {}


def test_a_clock_jump_of_days_is_one_step() -> None:
    policy = cache()
    policy.access(k("a"), SLICE, 0)
    policy.access(k("b"), SLICE, 1e9)
    assert policy._slices.frequency(k("a")) == 0
    assert policy._next_age_s > 1e9


def test_active_slices_stay_in_the_window_idle_ones_are_retired() -> None:
    policy = cache(20)
    hot = [k("hot", i) for i in range(14)]
    for key in hot:
        policy.add(key, SLICE)
        for _ in range(3):
            assert policy.access(key, SLICE, 0).outcome is Outcome.HIT
    sessions = [k(f"session{i}", 5) for i in range(6)]
    for key in sessions:
        assert policy.access(key, SLICE, 1000).outcome is Outcome.ADMIT
    for t in (1004, 1008, 1012):
        for key in sessions:
            assert policy.access(key, SLICE, t).outcome is Outcome.HIT
    assert policy._window_bytes == 6 * SLICE > policy.window_bytes_max
    evicted = list(policy.access(k("later"), SLICE, 1100).evicted)
    assert policy._window_bytes == policy.window_bytes_max
    for i in range(12):
        evicted += policy.access(k(f"later{i}"), SLICE, 1200 + 100 * i).evicted
    assert set(sessions) <= set(evicted)
    assert all(key in policy for key in hot)


def test_too_big_for_the_cache_is_bypassed() -> None:
    policy = cache(4)
    assert policy.access(k("big"), 5 * SLICE, 0).outcome is Outcome.BYPASS
    assert k("big") not in policy


def test_add_and_remove() -> None:
    policy = cache(10)
    evicted = [victim for i in range(12) for victim in policy.add(k(f"r{i}"), SLICE)]
    resident = [k(f"r{i}") for i in range(12) if k(f"r{i}") in policy]
    assert len(evicted) == 2 and len(resident) == len(policy) == 10
    assert policy.used_bytes == policy.capacity_bytes
    assert policy.remove(resident[0]) and not policy.remove(resident[0])
    assert policy.access(k("w"), SLICE, 0).evicted == ()
    assert policy.remove(k("w")) and not policy.remove(k("w"))
    assert policy.used_bytes == 9 * SLICE


def test_promotion_out_of_the_window_is_reported() -> None:
    """A slice admitted into the window is staged (the edge may hold it in memory) until a
    later admission moves it to main, which that access reports in `promoted`; one that
    loses the duel on leaving the window is reported evicted instead."""
    policy = cache(20)  # window: one slice, up to ten while they are being read
    first = policy.access(k("a"), SLICE, 0.0)
    assert first.outcome is Outcome.ADMIT and first.promoted == ()
    assert policy.staged(k("a"))
    second = policy.access(k("b"), SLICE, 100.0)  # a has been idle for 100 s: it moves on
    assert second.promoted == (k("a"),) and second.evicted == ()
    assert not policy.staged(k("a")) and k("a") in policy and policy.staged(k("b"))
    # fill main, then a one-read slice loses its duel against the coldest: evicted, not promoted
    for i in range(40):
        policy.access(k(f"hot{i % 18}"), SLICE, 200.0 + i * 30)
    scan = policy.access(k("scan1"), SLICE, 2000.0)
    scan = policy.access(k("scan2"), SLICE, 2100.0)
    assert k("scan1") in scan.evicted and k("scan1") not in scan.promoted
    assert not policy.staged(k("scan1")) and k("scan1") not in policy
