"""S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023).

Three FIFO queues: a small queue S (10% of the bytes, at least one slice) that every new
key enters, a main queue M (the rest), and a ghost queue G that remembers (by hash,
without data) as many recently evicted keys as M holds. Hits only bump a 2-bit counter,
never reorder. When S is over its share its oldest key leaves: to M if it was hit at
least twice while in S (the threshold of the authors' libCacheSim), else out of the
cache and into G. A miss on a key still in G goes straight to M: it was evicted too
early. M is a CLOCK: its oldest key is reinserted with its counter decremented while the
counter is above zero, and evicted when it reaches zero. Most one-hit wonders therefore
spend only their short stay in S, which is what gives S3-FIFO its scan resistance at
FIFO cost.

Queues are deques of keys beside dicts of `size * 4 + counter`; the dicts are the truth,
so `remove()` is a dict delete and a deque entry whose key has gone is skipped when it
surfaces. Ghost entries are key hashes stamped with an insertion sequence number, valid
while fewer newer ghosts exist than M holds (or can hold, in 2 MiB slices, while it fills);
the table is swept when it doubles.
Every miss is written (to S), as in LRU.
"""

from __future__ import annotations

from collections import deque

from edge.policy.base import BYPASS, HIT, Access, Outcome, Policy, SliceKey
from edge.policy.sketch import TYPICAL_SLICE_BYTES, expected_entries

SMALL_FRACTION = 0.1
MOVE_TO_MAIN_THRESHOLD = 2
MAX_FREQ = 3


class S3FIFO(Policy):
    name = "s3fifo"

    def __init__(self, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        small = max(int(capacity_bytes * SMALL_FRACTION), TYPICAL_SLICE_BYTES)
        self.small_bytes_max = min(small, capacity_bytes // 2)
        self._small: dict[SliceKey, int] = {}
        self._main: dict[SliceKey, int] = {}
        self._small_queue: deque[SliceKey] = deque()
        self._main_queue: deque[SliceKey] = deque()
        self._small_bytes = 0
        self._ghost: dict[int, int] = {}
        self._main_entries = expected_entries(capacity_bytes - self.small_bytes_max)
        self._ghost_seq = 0
        self.ghost_hits = 0

    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        small, main = self._small, self._main
        value = small.get(key)
        if value is not None:
            if value & 3 < MAX_FREQ:
                small[key] = value + 1
            return HIT
        value = main.get(key)
        if value is not None:
            if value & 3 < MAX_FREQ:
                main[key] = value + 1
            return HIT
        if size > self.small_bytes_max:
            return BYPASS
        evicted: list[SliceKey] = []
        if self._ghost_hit(key):
            self._evict(size, evicted)
            main[key] = size << 2
            self._main_queue.append(key)
        else:
            self._evict(size, evicted)
            small[key] = size << 2
            self._small_queue.append(key)
            self._small_bytes += size
        self.used_bytes += size
        return Access(Outcome.ADMIT, tuple(evicted))

    def _ghost_limit(self) -> int:
        return max(len(self._main), self._main_entries)

    def _ghost_hit(self, key: SliceKey) -> bool:
        seq = self._ghost.pop(hash(key), None)
        if seq is None or seq <= self._ghost_seq - self._ghost_limit():
            return False
        self.ghost_hits += 1
        return True

    def _to_ghost(self, key: SliceKey) -> None:
        self._ghost_seq += 1
        self._ghost[hash(key)] = self._ghost_seq
        if len(self._ghost) > 2 * self._ghost_limit() + 1024:
            oldest = self._ghost_seq - self._ghost_limit()
            self._ghost = {h: s for h, s in self._ghost.items() if s > oldest}

    def _evict(self, size: int, evicted: list[SliceKey]) -> None:
        main_bytes_max = self.capacity_bytes - self.small_bytes_max
        while self.used_bytes + size > self.capacity_bytes:
            main_over = self.used_bytes - self._small_bytes > main_bytes_max
            if self._main and (main_over or not self._small):
                self._evict_main(evicted)
            else:
                self._evict_small(evicted)

    def _evict_small(self, evicted: list[SliceKey]) -> None:
        small, queue = self._small, self._small_queue
        while queue:
            key = queue.popleft()
            value = small.pop(key, None)
            if value is None:
                continue
            size = value >> 2
            self._small_bytes -= size
            if value & 3 >= MOVE_TO_MAIN_THRESHOLD:
                self._main[key] = size << 2
                self._main_queue.append(key)
                continue
            self.used_bytes -= size
            evicted.append(key)
            self._to_ghost(key)
            return

    def _evict_main(self, evicted: list[SliceKey]) -> None:
        main, queue = self._main, self._main_queue
        while queue:
            key = queue.popleft()
            value = main.get(key)
            if value is None:
                continue
            if value & 3:
                main[key] = value - 1
                queue.append(key)
                continue
            del main[key]
            self.used_bytes -= value >> 2
            evicted.append(key)
            return

    def add(self, key: SliceKey, size: int) -> tuple[SliceKey, ...]:
        if size > self.capacity_bytes:
            return ()
        self.remove(key)
        evicted: list[SliceKey] = []
        self._evict(size, evicted)
        self._main[key] = size << 2
        self._main_queue.append(key)
        self.used_bytes += size
        return tuple(evicted)

    def remove(self, key: SliceKey) -> bool:
        value = self._small.pop(key, None)
        if value is not None:
            self._small_bytes -= value >> 2
        else:
            value = self._main.pop(key, None)
            if value is None:
                return False
        self.used_bytes -= value >> 2
        self._compact()
        return True

    def _compact(self) -> None:
        """Drop queue entries of removed keys once they are half of a queue."""
        if len(self._small_queue) > 2 * len(self._small) + 1024:
            self._small_queue = deque([k for k in dict.fromkeys(self._small_queue)
                                       if k in self._small])
        if len(self._main_queue) > 2 * len(self._main) + 1024:
            self._main_queue = deque([k for k in dict.fromkeys(self._main_queue)
                                      if k in self._main])

    def __contains__(self, key: object) -> bool:
        return key in self._small or key in self._main

    def __len__(self) -> int:
        return len(self._small) + len(self._main)

    def stats(self) -> dict[str, object]:
        return {
            **super().stats(),
            "small_bytes": self._small_bytes,
            "ghost_entries": len(self._ghost),
            "ghost_hits": self.ghost_hits,
        }
