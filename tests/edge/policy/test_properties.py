"""Properties every edge policy keeps, whatever the sequence of calls.

Checked against a model of what is resident (key -> size): the cache never holds more
than its capacity, a HIT is exactly an access to a resident key, evicted keys were
resident, an admitted key is resident and a bypassed one is not, and the policy's byte
count is the sum of what it holds. Reads are drawn both reaching a slice's end and not,
so `vod`'s bypass of cold reads to the end is held to the same properties. A staged key
(in the window, `Policy.staged`) is resident; a promoted key was staged and is now
resident and unstaged, unless the same call evicted it; `add` never stages.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.policy import POLICIES, Outcome, Policy, SliceKey, make_policy

KEYS = [SliceKey(f"/t{i % 3}/r{i % 2}.mp4", i % 4) for i in range(16)]

operation = st.one_of(
    st.tuples(st.just("access"), st.integers(0, 15), st.integers(1, 3000),
              st.floats(0, 7200), st.booleans()),
    st.tuples(st.just("add"), st.integers(0, 15), st.integers(1, 1000), st.just(0.0),
              st.just(False)),
    st.tuples(st.just("remove"), st.integers(0, 15), st.just(0), st.just(0.0),
              st.just(False)),
)


def check(policy: Policy, model: dict[SliceKey, int]) -> None:
    assert 0 <= policy.used_bytes <= policy.capacity_bytes
    assert policy.used_bytes == sum(model.values())
    assert len(policy) == len(model)
    for key in KEYS:
        assert (key in policy) == (key in model)
        assert not policy.staged(key) or key in policy


def apply(policy: Policy, model: dict[SliceKey, int], op: tuple[Any, ...], now: float) -> None:
    kind, index, size, _, reaches_end = op
    key = KEYS[index]
    if kind == "access":
        resident = key in model
        staged_before = {k for k in KEYS if policy.staged(k)}
        access = policy.access(key, size, now, reaches_end)
        assert (access.outcome is Outcome.HIT) == resident
        for moved in access.promoted:
            assert moved in staged_before | {key}
            assert moved in access.evicted or (moved in policy and not policy.staged(moved))
        assert access.outcome is Outcome.ADMIT or not access.promoted
        assert all(victim in model and victim != key for victim in access.evicted)
        for victim in access.evicted:
            del model[victim]
        if access.outcome is Outcome.ADMIT:
            model[key] = size
        if access.outcome is Outcome.BYPASS:
            assert not access.evicted and key not in policy
    elif kind == "add":
        evicted = policy.add(key, size)
        model.pop(key, None)
        assert all(victim in model for victim in evicted)
        for victim in evicted:
            del model[victim]
        assert key in policy and not policy.staged(key)
        model[key] = size
    else:
        assert policy.remove(key) == (key in model)
        model.pop(key, None)


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(0, 6000), ops=st.lists(operation, max_size=80))
def test_policy_invariants(name: str, capacity: int, ops: list[tuple[Any, ...]]) -> None:
    policy = make_policy(name, capacity)
    model: dict[SliceKey, int] = {}
    now = 0.0
    for op in ops:
        now += op[3]
        if op[0] == "add" and op[2] > capacity // 2:
            continue
        apply(policy, model, op, now)
        check(policy, model)
