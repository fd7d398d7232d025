from __future__ import annotations

from edge.policy.base import Outcome, SliceKey
from edge.policy.s3fifo import S3FIFO

SLICE = 2 << 20


def k(name: str, index: int = 0) -> SliceKey:
    return SliceKey(f"/{name}.mp4", index)


def cache(slices: int = 20) -> S3FIFO:
    return S3FIFO(slices * SLICE)


def test_small_queue_is_a_tenth() -> None:
    policy = cache(20)
    assert policy.small_bytes_max == 2 * SLICE


def test_new_keys_enter_small_and_hits_do_not_reorder() -> None:
    policy = cache()
    assert policy.access(k("a"), SLICE, 0).outcome is Outcome.ADMIT
    assert policy.access(k("a"), SLICE, 1).outcome is Outcome.HIT
    assert k("a") in policy._small


def test_one_hit_wonders_leave_through_small_into_the_ghost() -> None:
    policy = cache()
    evicted: list[SliceKey] = []
    for i in range(30):
        evicted += policy.access(k(f"scan{i}"), SLICE, i).evicted
    assert evicted[:10] == [k(f"scan{i}") for i in range(10)]
    assert policy.stats()["ghost_entries"] == len(evicted)
    assert policy.used_bytes <= policy.capacity_bytes


def test_a_ghost_hit_goes_straight_to_main() -> None:
    policy = cache()
    for i in range(30):
        policy.access(k(f"scan{i}"), SLICE, i)
    assert k("scan0") not in policy
    assert policy.access(k("scan0"), SLICE, 100).outcome is Outcome.ADMIT
    assert k("scan0") in policy._main
    assert policy.ghost_hits == 1
    for i in range(30, 50):
        policy.access(k(f"scan{i}"), SLICE, 100 + i)
    assert k("scan0") in policy


def test_twice_hit_in_small_moves_to_main_on_eviction() -> None:
    policy = cache()
    policy.access(k("hot"), SLICE, 0)
    policy.access(k("hot"), SLICE, 1)
    policy.access(k("hot"), SLICE, 2)
    policy.access(k("once"), SLICE, 3)
    policy.access(k("once"), SLICE, 4)
    for i in range(25):
        policy.access(k(f"scan{i}"), SLICE, 10 + i)
    assert k("hot") in policy._main
    assert k("once") not in policy


def test_main_is_a_clock_with_two_bit_counters() -> None:
    policy = cache()
    for i in range(18):
        policy.add(k(f"m{i}"), SLICE)
    for _ in range(5):
        policy.access(k("m0"), SLICE, 0)
    assert policy._main[k("m0")] & 3 == 3
    evicted: list[SliceKey] = []
    for i in range(3):
        for _ in range(3):
            evicted += policy.access(k(f"warm{i}"), SLICE, i).evicted
    for i in range(4):
        evicted += policy.access(k(f"scan{i}"), SLICE, 10 + i).evicted
    assert evicted[:2] == [k("m1"), k("m2")]
    assert k("m0") in policy and policy._main[k("m0")] & 3 == 2


def test_remove_and_add() -> None:
    policy = cache()
    policy.access(k("a"), SLICE, 0)
    assert policy.remove(k("a"))
    assert not policy.remove(k("a"))
    assert policy.used_bytes == 0 and len(policy) == 0
    assert policy.add(k("b"), SLICE) == ()
    assert k("b") in policy and policy.used_bytes == SLICE
    for i in range(25):
        policy.access(k(f"scan{i}"), SLICE, i)
    assert policy.used_bytes <= policy.capacity_bytes


def test_too_big_for_small_is_bypassed() -> None:
    policy = cache()
    assert policy.access(k("big"), 3 * SLICE, 0).outcome is Outcome.BYPASS
    assert k("big") not in policy
