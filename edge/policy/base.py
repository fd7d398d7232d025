"""The policy interface: what the slice store asks of an admission/eviction policy.

A policy is pure bookkeeping over slice keys and sizes; it never touches the disk. The
store (or the trace replayer) calls it on every slice a client reads:

    outcome = policy.access(key, size, now, reaches_end)
      HIT    - the policy holds the key resident.
      ADMIT  - a miss; the slice should be written to disk once filled. The policy now
               counts it resident, and `outcome.evicted` lists the keys to delete from
               disk to stay within capacity (the caller deletes them).
      BYPASS - a miss; serve it from the origin without writing it.

`reaches_end` says this read reaches the slice's last byte. Players read forward, so the
session that made such a read will not come back to the slice: a miss it makes can be
bypassed without the origin refetch a later read of the same session would cost (a
session reads a 2 MiB slice in 2-8 requests). False when unknown; the edge asks about a
prefetch as a read to the end (declined, it is skipped). A policy may ignore it, and every
policy here now does (`vod` bypassed cold misses read to the end until its window could
wait in memory: `edge/policy/vod.py`).

A policy with an admission *window* (`vod`) can let the caller hold a new slice in
memory until it earns its disk write: `staged(key)` is True while an admitted key is in
the window, and `outcome.promoted` lists the window keys that moved to the main region
during this call (the caller writes them to disk if it held them in memory; a window key
that is evicted instead appears in `evicted` and never needs a write). A policy without
a window never stages and never promotes.

`add(key, size)` makes a key resident without counting an access (rebuilding the index
after a restart, prefill); `remove(key)` forgets one that left the disk for another
reason (purge, changed ETag, failed fill). After any call, `used_bytes <= capacity_bytes`
holds: a key larger than the capacity is bypassed.

Keys are `SliceKey(obj, index)`: the object key and the slice's number within the object,
so a policy can share popularity between the slices of one file and tell early slices
from late ones. `now` is seconds (wall clock in the edge, the trace timestamp in a
replay), for policies that age or follow the daily cycle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, NamedTuple

from mypy_extensions import mypyc_attr


class SliceKey(NamedTuple):
    obj: str
    index: int  # type: ignore[assignment]  # shadows tuple.index, which no caller needs


class Outcome(Enum):
    HIT = "hit"
    ADMIT = "admit"
    BYPASS = "bypass"


@dataclass(frozen=True, slots=True)
class Access:
    outcome: Outcome
    evicted: tuple[SliceKey, ...] = ()
    promoted: tuple[SliceKey, ...] = ()


HIT: Final = Access(Outcome.HIT)
BYPASS: Final = Access(Outcome.BYPASS)


@mypyc_attr(allow_interpreted_subclasses=True)  # a policy is a plugin
class Policy(ABC):
    """Base class: tracks `capacity_bytes` and `used_bytes`; subclasses decide."""

    name: str = "policy"

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes < 0:
            raise ValueError("capacity_bytes must not be negative")
        self.capacity_bytes = capacity_bytes
        self.used_bytes = 0

    @abstractmethod
    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        """Record a client read of `key` and decide hit / admit / bypass."""

    @abstractmethod
    def add(self, key: SliceKey, size: int) -> tuple[SliceKey, ...]:
        """Make `key` resident without an access; returns keys evicted to make room."""

    @abstractmethod
    def remove(self, key: SliceKey) -> bool:
        """Forget a resident key; False if it was not resident."""

    def staged(self, key: SliceKey) -> bool:
        """True while `key` is admitted but still in the policy's window (see above)."""
        return False

    @abstractmethod
    def __contains__(self, key: object) -> bool: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def stats(self) -> dict[str, Any]:
        return {
            "policy": self.name,
            "capacity_bytes": self.capacity_bytes,
            "used_bytes": self.used_bytes,
            "entries": len(self),
        }
