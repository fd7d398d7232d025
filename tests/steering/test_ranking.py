from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass

import pytest

from steering.ranking import client_hash, rank, score, spread, spread_width, stable_hash


@dataclass(frozen=True)
class E:
    id: str
    weight: float = 10.0

    @property
    def hash(self) -> int:
        return stable_hash(self.id)


KEYS = [stable_hash(f"/t{i}/r750.mp4") for i in range(20_000)]


def owners(edges: list[E]) -> list[str]:
    return [rank(k, edges)[0].id for k in KEYS]


def test_hash_is_stable_across_processes() -> None:
    code = "from steering.ranking import stable_hash; print(stable_hash('/t1/r750.mp4'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123"}).stdout
    assert int(out) == stable_hash("/t1/r750.mp4")


def test_rank_is_a_permutation_ordered_by_score() -> None:
    edges = [E(f"e{i}", 1 + i) for i in range(6)]
    for k in KEYS[:200]:
        ranked = rank(k, edges)
        assert sorted(e.id for e in ranked) == sorted(e.id for e in edges)
        scores = [score(k, e.hash, e.weight) for e in ranked]
        assert scores == sorted(scores, reverse=True)


def test_equal_weights_spread_evenly() -> None:
    counts = Counter(owners([E(f"e{i}") for i in range(5)]))
    for n in counts.values():
        assert n == pytest.approx(len(KEYS) / 5, rel=0.06)


def test_shares_follow_capacity() -> None:
    edges = [E("small", 10), E("big", 40), E("mid", 20)]
    counts = Counter(owners(edges))
    total = sum(e.weight for e in edges)
    for e in edges:
        assert counts[e.id] / len(KEYS) == pytest.approx(e.weight / total, rel=0.06)


def test_removing_one_of_n_moves_only_its_keys() -> None:
    edges = [E(f"e{i}") for i in range(5)]
    before = owners(edges)
    after = owners([e for e in edges if e.id != "e2"])
    moved = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert all(before[i] == "e2" for i in moved)
    assert len(moved) / len(KEYS) == pytest.approx(1 / 5, rel=0.06)


def test_adding_an_edge_takes_keys_only_for_itself() -> None:
    edges = [E(f"e{i}") for i in range(4)]
    before = owners(edges)
    after = owners([*edges, E("e4")])
    moved = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert all(after[i] == "e4" for i in moved)
    assert len(moved) / len(KEYS) == pytest.approx(1 / 5, rel=0.06)


def test_spread_puts_one_of_the_top_width_first_by_client() -> None:
    ranked = [E("a"), E("b"), E("c"), E("d")]
    assert spread(ranked, 1, 7) == ranked
    assert spread(ranked, 3, 0) == ranked
    assert [e.id for e in spread(ranked, 3, 1)] == ["b", "a", "c", "d"]
    assert [e.id for e in spread(ranked, 3, 5)] == ["c", "a", "b", "d"]
    assert [e.id for e in spread(ranked, 10, 3)] == ["d", "a", "b", "c"]
    firsts = Counter(spread(ranked, 3, client_hash(f"10.0.{i // 256}.{i % 256}"))[0].id
                     for i in range(3000))
    assert set(firsts) == {"a", "b", "c"}
    assert min(firsts.values()) > 800


@pytest.mark.parametrize(("rate", "per_edge", "width"), [
    (0, 50, 1), (49.9, 50, 1), (50, 50, 2), (260, 50, 6), (1e6, 0, 1),
])
def test_spread_width(rate: float, per_edge: float, width: int) -> None:
    assert spread_width(rate, per_edge) == width
