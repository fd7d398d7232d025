from __future__ import annotations

from edge.policy.base import Outcome, SliceKey
from edge.policy.wtinylfu import WTinyLFU

SLICE = 2 << 20


def k(name: str, index: int = 0) -> SliceKey:
    return SliceKey(f"/{name}.mp4", index)


def cache(slices: int = 10) -> WTinyLFU:
    policy = WTinyLFU(slices * SLICE)
    policy._sketch.ensure_capacity(1 << 14)  # wide enough that no collision decides a duel
    return policy


def filled(slices: int = 10, reads: int = 1) -> WTinyLFU:
    """A cache whose main region holds m0..m8, each read `reads` times."""
    policy = cache(slices)
    for i in range(slices - 1):
        for _ in range(reads):
            policy.access(k(f"m{i}"), SLICE, i)
    policy.access(k("push"), SLICE, 100)
    return policy


def test_regions() -> None:
    policy = cache(10)
    assert policy.window_bytes_max == SLICE
    assert policy.main_bytes_max == 9 * SLICE


def test_admit_is_a_strict_frequency_duel() -> None:
    policy = cache()
    hot, cold = k("hot"), k("cold")
    for _ in range(3):
        policy._sketch.increment(hot)
    policy._sketch.increment(cold)
    assert policy.admit(hot, cold)
    assert not policy.admit(cold, hot)
    assert not policy.admit(cold, cold)


def test_a_frequent_loser_is_sometimes_admitted_against_hash_flooding() -> None:
    policy = cache()
    candidate, victim = k("c"), k("v")
    for _ in range(6):
        policy._sketch.increment(candidate)
    for _ in range(10):
        policy._sketch.increment(victim)
    admitted = sum(policy.admit(candidate, victim) for _ in range(12_800))
    assert 50 < admitted < 160


def test_the_window_candidate_replaces_a_less_frequent_victim() -> None:
    policy = filled()
    for _ in range(3):
        policy.access(k("c"), SLICE, 200)
    access = policy.access(k("next"), SLICE, 201)
    assert access.outcome is Outcome.ADMIT
    assert access.evicted == (k("m0"),)
    assert k("c") in policy


def test_a_scan_loses_every_duel() -> None:
    policy = filled(reads=3)
    evicted: list[SliceKey] = []
    for i in range(50):
        access = policy.access(k(f"scan{i}"), SLICE, 300 + i)
        assert access.outcome is Outcome.ADMIT
        evicted += access.evicted
    assert all(key.obj.startswith("/scan") or key == k("push") for key in evicted)
    assert all(k(f"m{i}") in policy for i in range(9))
    assert policy.rejected >= 49


def test_a_probation_hit_is_protected() -> None:
    policy = filled()
    assert k("m3") in policy._probation
    assert policy.access(k("m3"), SLICE, 500).outcome is Outcome.HIT
    assert k("m3") in policy._protected


def test_protected_overflow_is_demoted_to_probation() -> None:
    policy = filled()
    for i in range(9):
        policy.access(k(f"m{i}"), SLICE, 600 + i)
    assert policy._protected_bytes <= policy.protected_bytes_max
    assert k("m0") in policy._probation
    assert policy.used_bytes <= policy.capacity_bytes


def test_add_and_remove() -> None:
    policy = cache()
    assert policy.add(k("a"), SLICE) == ()
    assert k("a") in policy._probation
    assert policy.remove(k("a")) and not policy.remove(k("a"))
    assert policy.used_bytes == 0 and len(policy) == 0
    evicted: list[SliceKey] = []
    for i in range(12):
        evicted += policy.add(k(f"r{i}"), SLICE)
    assert len(policy) == 9 and len(evicted) == 3
    assert policy.used_bytes == policy.main_bytes_max
