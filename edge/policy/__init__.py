"""Admission and eviction policies for the slice store.

Every policy implements `edge.policy.base.Policy`; `make_policy(name, capacity)` is the
one place that maps a `--policy` name to a class, shared by the edge and by
`ocdn bench replay`, so a replay always drives the very code the edge runs.
"""

from __future__ import annotations

from edge.policy.base import Access, Outcome, Policy, SliceKey
from edge.policy.lru import LRU
from edge.policy.s3fifo import S3FIFO
from edge.policy.vod import VOD
from edge.policy.wtinylfu import WTinyLFU

POLICIES: dict[str, type[Policy]] = {
    "lru": LRU, "s3fifo": S3FIFO, "wtinylfu": WTinyLFU, "vod": VOD,
}
DEFAULT_POLICY = "vod"


def policy_names() -> list[str]:
    return [*sorted(POLICIES), "default"]


def make_policy(name: str, capacity_bytes: int) -> Policy:
    """Instantiate a policy by name (`default` is the edge's default); ValueError if unknown."""
    key = DEFAULT_POLICY if name == "default" else name
    try:
        cls = POLICIES[key]
    except KeyError:
        raise ValueError(
            f"unknown policy {name!r} (choose from {', '.join(policy_names())})"
        ) from None
    return cls(capacity_bytes)


def parse_policy(value: str) -> str:
    """Config parser for `--policy`."""
    name = str(value).strip().lower()
    if name != "default" and name not in POLICIES:
        raise ValueError(f"unknown policy {value!r} (choose from {', '.join(policy_names())})")
    return name


__all__ = ["POLICIES", "Access", "Outcome", "Policy", "SliceKey", "make_policy", "parse_policy"]
