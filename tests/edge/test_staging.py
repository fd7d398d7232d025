from __future__ import annotations

import pytest

from edge.policy.base import SliceKey
from edge.staging import Staging


def k(i: int) -> SliceKey:
    return SliceKey("/t/a.mp4", i)


def test_holds_within_the_budget_and_spills_the_newcomer_beyond_it() -> None:
    staging = Staging(100)
    assert staging.hold(k(0), 40) and staging.hold(k(1), 40)
    assert not staging.hold(k(2), 40)  # would make 120: written at once, the held stay
    assert k(2) not in staging and k(0) in staging and k(1) in staging
    assert (staging.held_bytes, len(staging), staging.spilled) == (80, 2, 1)
    assert staging.hold(k(3), 20)  # exactly the budget
    assert staging.held_bytes == 100


def test_release_returns_the_size_once() -> None:
    staging = Staging(100)
    staging.hold(k(0), 30)
    assert staging.release(k(0)) == 30
    assert staging.release(k(0)) == 0 and staging.held_bytes == 0
    assert staging.release(k(9)) == 0


def test_holding_a_key_again_replaces_it() -> None:
    staging = Staging(100)
    staging.hold(k(0), 60)
    assert staging.hold(k(0), 70)  # not 130: the old copy is released first
    assert staging.held_bytes == 70 and len(staging) == 1


def test_a_zero_budget_holds_nothing_and_a_negative_one_is_refused() -> None:
    staging = Staging(0)
    assert not staging.hold(k(0), 1)
    assert len(staging) == 0
    with pytest.raises(ValueError, match="budget_bytes"):
        Staging(-1)


def test_at_most_max_slices_are_held_whatever_their_size() -> None:
    staging = Staging(1 << 30, max_slices=2)
    assert staging.hold(k(0), 10) and staging.hold(k(1), 10)
    assert not staging.hold(k(2), 10) and staging.spilled == 1
    staging.release(k(0))
    assert staging.hold(k(2), 10)
