"""Edge health: a pure hysteresis state machine fed by probe results.

What it owns: turning a stream of probes of one edge into a state (`unknown`, `up`,
`draining`, `down`), a load flag, and a tier that ranking uses. It does not probe
(`poller` does) and it has no clock: callers pass `now`.

Hysteresis: an edge that is up goes down after `down_after` consecutive failed probes
and a down edge comes back after `up_after` consecutive good ones, so one lost probe
does not move traffic and an edge failing every other probe stays where it is instead
of flipping on every poll. The defaults (2 down, 3 up, 1 s polls, 0.5 s timeout) put
a killed edge out of every answer within 2 polls, inside the 3 s the issue allows.

Two shortcuts, both because nothing is being protected: an edge never seen healthy
(`unknown`) goes down on its first failure, and an edge whose own `/status` says
`down` is believed at once. `draining` (reported by the edge) takes no new clients but
is not down; an operator's `drain: true` in the topology does the same. Load is egress
against `capacity_gbps`; above `load_threshold` the edge is `overloaded` and ranks after
its healthy peers, and it stays so until load falls under 90% of the threshold, so an
edge hovering at the threshold does not flap either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum

from common.status import EdgeState, EdgeStatus

LOAD_CLEAR_FRACTION = 0.9
_RECOVERING = "recovering from: "


class State(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DRAINING = "draining"
    DOWN = "down"


class Tier(IntEnum):
    """Where an edge may rank: preferred before degraded; unusable never."""

    PREFERRED = 0
    DEGRADED = 1
    UNUSABLE = 2


@dataclass(frozen=True, slots=True)
class Hysteresis:
    down_after: int = 2
    up_after: int = 3
    load_threshold: float = 0.8  # egress / capacity


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe's outcome: the edge's status document, or why there is none."""

    status: EdgeStatus | None
    error: str = ""
    latency_s: float = 0.0


@dataclass(frozen=True, slots=True)
class EdgeHealth:
    state: State = State.UNKNOWN
    reason: str = "not probed yet"
    failures: int = 0  # consecutive failed probes
    successes: int = 0  # consecutive good probes
    overloaded: bool = False
    load: float = 0.0  # egress / capacity, from the last good probe
    status: EdgeStatus | None = None
    changed_at: float = 0.0  # when `state` last changed
    probed_at: float = 0.0


def check_status(edge_id: str, status: EdgeStatus) -> str:
    """Why a status document cannot be trusted for `edge_id` ("" when it can)."""
    if status.id != edge_id:
        return f"status reports id {status.id!r}, topology says {edge_id!r}"
    return ""


def _reported(state: EdgeState) -> State:
    return {EdgeState.UP: State.UP, EdgeState.DRAINING: State.DRAINING}.get(state, State.DOWN)


def _load(status: EdgeStatus, capacity_gbps: float) -> float:
    return status.egress_bytes_per_s * 8 / (capacity_gbps * 1e9)


def observe(
    h: EdgeHealth, probe: Probe, capacity_gbps: float, policy: Hysteresis, now: float
) -> EdgeHealth:
    """The edge's health after one more probe."""
    if probe.status is None:
        return _failed(h, probe.error or "probe failed", policy, now)
    status = probe.status
    load = _load(status, capacity_gbps)
    limit = policy.load_threshold * (LOAD_CLEAR_FRACTION if h.overloaded else 1.0)
    h = replace(h, status=status, load=load, overloaded=load > limit, probed_at=now)
    reported = _reported(status.state)
    if reported is State.DOWN:
        return _to(h, State.DOWN, "edge reports down", now, failures=h.failures + 1, successes=0)
    successes = h.successes + 1
    if h.state is State.DOWN and successes < policy.up_after:
        reason = h.reason if h.reason.startswith(_RECOVERING) else f"{_RECOVERING}{h.reason}"
        return replace(h, failures=0, successes=successes, reason=reason)
    if h.state is State.DOWN:
        reason = f"edge reports {reported.value}; back after {successes} good probes"
    else:
        reason = f"edge reports {reported.value}"
    return _to(h, reported, reason, now, failures=0, successes=successes)


def _failed(h: EdgeHealth, error: str, policy: Hysteresis, now: float) -> EdgeHealth:
    failures = h.failures + 1
    if h.state is State.UNKNOWN:
        return _to(h, State.DOWN, f"first probe failed: {error}", now,
                   failures=failures, successes=0, probed_at=now)
    if h.state is State.DOWN:
        keep = h.reason.endswith(error) and not h.reason.startswith(_RECOVERING)
        reason = h.reason if keep else f"probe failed: {error}"
        return replace(h, failures=failures, successes=0, reason=reason, probed_at=now)
    if failures >= policy.down_after:
        return _to(h, State.DOWN, f"{failures} consecutive probe failures: {error}", now,
                   failures=failures, successes=0, probed_at=now)
    return replace(h, failures=failures, successes=0, probed_at=now,
                   reason=f"edge reports {h.state.value}; "
                          f"{failures}/{policy.down_after} probe failures tolerated: {error}")


def _to(h: EdgeHealth, state: State, reason: str, now: float, **fields: object) -> EdgeHealth:
    changed_at = now if state is not h.state else h.changed_at
    return replace(h, state=state, reason=reason, changed_at=changed_at, **fields)  # type: ignore[arg-type]


def tier(h: EdgeHealth, operator_drain: bool = False) -> tuple[Tier, str]:
    """Where the edge ranks for new clients, and the short reason why. The reason changes
    only with the state, not with every probe (routes are rebuilt when it changes)."""
    if operator_drain:
        return Tier.UNUSABLE, "draining: set by operator in the topology"
    if h.state is State.DOWN:
        return Tier.UNUSABLE, f"down: {h.reason}"
    if h.state is State.DRAINING:
        return Tier.UNUSABLE, "draining: reported by the edge"
    if h.state is State.UNKNOWN:
        return Tier.DEGRADED, "not probed yet"
    if h.overloaded:
        return Tier.DEGRADED, "overloaded: egress over the load threshold"
    return Tier.PREFERRED, "up"


def effective_state(h: EdgeHealth, operator_drain: bool = False) -> State:
    """The state to show and count: an operator's drain shows as draining unless down."""
    if operator_drain and h.state is not State.DOWN:
        return State.DRAINING
    return h.state
