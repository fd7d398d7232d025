"""Least recently used: the baseline every other policy is measured against.

Admits every miss and evicts from the cold end of one recency list (an OrderedDict:
move_to_end and popitem are O(1)).
"""

from __future__ import annotations

from collections import OrderedDict

from mypy_extensions import mypyc_attr

from edge.policy.base import BYPASS, HIT, Access, Outcome, Policy, SliceKey


@mypyc_attr(allow_interpreted_subclasses=True)  # the baseline others build on (tests do)
class LRU(Policy):
    name = "lru"

    def __init__(self, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        self._entries: OrderedDict[SliceKey, int] = OrderedDict()

    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        entries = self._entries
        if key in entries:
            entries.move_to_end(key)
            return HIT
        if size > self.capacity_bytes:
            return BYPASS
        return Access(Outcome.ADMIT, self.add(key, size))

    def add(self, key: SliceKey, size: int) -> tuple[SliceKey, ...]:
        if size > self.capacity_bytes:
            return ()
        self.remove(key)
        evicted: list[SliceKey] = []
        while self.used_bytes + size > self.capacity_bytes:
            victim, victim_size = self._entries.popitem(last=False)
            self.used_bytes -= victim_size
            evicted.append(victim)
        self._entries[key] = size
        self.used_bytes += size
        return tuple(evicted)

    def remove(self, key: SliceKey) -> bool:
        size = self._entries.pop(key, None)
        if size is None:
            return False
        self.used_bytes -= size
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
