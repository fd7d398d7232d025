from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.status import EdgeState, EdgeStatus
from steering.health import (
    EdgeHealth,
    Hysteresis,
    Probe,
    State,
    Tier,
    check_status,
    effective_state,
    observe,
    tier,
)

POLICY = Hysteresis(down_after=2, up_after=3, load_threshold=0.8)
CAPACITY_GBPS = 10.0


def status(state: EdgeState = EdgeState.UP, gbps: float = 1.0, edge: str = "e1") -> EdgeStatus:
    return EdgeStatus(edge, "s", state, 5, gbps * 1e9 / 8, 0, 1 << 30, 0.5)


OK = Probe(status())
FAIL = Probe(None, "cannot connect: connection refused")


def run(probes: Iterable[Probe], h: EdgeHealth | None = None,
        policy: Hysteresis = POLICY) -> list[EdgeHealth]:
    h = h or EdgeHealth()
    out = []
    for t, p in enumerate(probes):
        h = observe(h, p, CAPACITY_GBPS, policy, float(t))
        out.append(h)
    return out


def states(history: list[EdgeHealth]) -> str:
    return "".join(h.state.value[0] for h in history)


def test_first_probe_decides_an_unknown_edge() -> None:
    assert states(run([OK])) == "u"
    assert states(run([FAIL])) == "d"
    assert run([FAIL])[0].reason == "first probe failed: cannot connect: connection refused"


def test_one_lost_probe_moves_nothing() -> None:
    history = run([OK, FAIL, OK, FAIL, OK, FAIL, OK])
    assert states(history) == "uuuuuuu"
    assert "1/2 probe failures tolerated" in history[1].reason


def test_down_after_k_consecutive_failures() -> None:
    history = run([OK, FAIL, FAIL, FAIL])
    assert states(history) == "uudd"
    assert history[2].reason == "2 consecutive probe failures: cannot connect: connection refused"
    assert history[2].changed_at == 2.0
    assert history[3].changed_at == 2.0


def test_up_after_m_consecutive_successes() -> None:
    history = run([OK, FAIL, FAIL, OK, OK, FAIL, OK, OK, OK])
    assert states(history) == "uudddddd" + "u"
    assert history[3].reason.startswith("recovering from: 2 consecutive")
    assert history[8].reason == "edge reports up; back after 3 good probes"


def test_a_flapping_edge_does_not_oscillate() -> None:
    flapping = [OK, FAIL] * 20
    assert set(states(run(flapping))) == {"u"}
    down_then_flapping = [FAIL] + [OK, FAIL] * 20
    assert set(states(run(down_then_flapping))) == {"d"}


@given(st.lists(st.booleans(), max_size=60))
def test_state_changes_only_after_k_or_m_agreeing_probes(outcomes: list[bool]) -> None:
    history = run([OK if ok else FAIL for ok in outcomes], EdgeHealth(State.UP))
    prev = State.UP
    for i, h in enumerate(history):
        if h.state is not prev:
            need = POLICY.down_after if h.state is State.DOWN else POLICY.up_after
            window = outcomes[max(0, i - need + 1):i + 1]
            assert len(window) == need and len(set(window)) == 1
        prev = h.state


def test_the_edge_reporting_draining_is_draining_not_down() -> None:
    history = run([OK, Probe(status(EdgeState.DRAINING)), FAIL, Probe(status(EdgeState.UP))])
    assert [h.state for h in history] == [State.UP, State.DRAINING, State.DRAINING, State.UP]
    assert tier(history[1]) == (Tier.UNUSABLE, "draining: reported by the edge")


def test_the_edge_reporting_down_is_believed_at_once() -> None:
    history = run([OK, Probe(status(EdgeState.DOWN)), OK, OK, OK])
    assert states(history) == "udddu"
    assert history[1].reason == "edge reports down"


def test_overload_has_a_band() -> None:
    gbps = [1, 8.5, 7.5, 7.0, 8.1, 1]
    history = run([Probe(status(gbps=g)) for g in gbps])
    assert [h.overloaded for h in history] == [False, True, True, False, True, False]
    assert history[1].load == pytest.approx(0.85)
    assert tier(history[1]) == (Tier.DEGRADED, "overloaded: egress over the load threshold")
    assert tier(history[2]) == tier(history[1])


@pytest.mark.parametrize(("h", "drain", "expected"), [
    (EdgeHealth(), False, (Tier.DEGRADED, "not probed yet")),
    (EdgeHealth(State.UP), False, (Tier.PREFERRED, "up")),
    (EdgeHealth(State.UP), True, (Tier.UNUSABLE, "draining: set by operator in the topology")),
    (EdgeHealth(State.DOWN, "x"), False, (Tier.UNUSABLE, "down: x")),
    (EdgeHealth(State.DOWN, "x"), True, (Tier.UNUSABLE, "draining: set by operator in the "
                                                       "topology")),
])
def test_tiers(h: EdgeHealth, drain: bool, expected: tuple[Tier, str]) -> None:
    assert tier(h, drain) == expected


def test_effective_state_shows_operator_drain_unless_down() -> None:
    assert effective_state(EdgeHealth(State.UP), True) is State.DRAINING
    assert effective_state(EdgeHealth(State.DOWN), True) is State.DOWN
    assert effective_state(EdgeHealth(State.UP), False) is State.UP


def test_a_status_for_another_edge_is_not_trusted() -> None:
    assert check_status("e1", status(edge="e1")) == ""
    assert check_status("e1", status(edge="e2")) == "status reports id 'e2', topology says 'e1'"


def test_failures_while_down_keep_a_stable_reason() -> None:
    history = run([OK, FAIL, FAIL, FAIL, FAIL])
    assert history[3].reason == history[4].reason == history[2].reason
    other = observe(history[4], Probe(None, "timeout after 0.5s"), CAPACITY_GBPS, POLICY, 9)
    assert other.reason == "probe failed: timeout after 0.5s"
