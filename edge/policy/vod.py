"""ocdn's default policy for video on demand: keep the slices with the most demand ahead.

What VOD traffic says, and what this policy does with it:

- A session re-reads the slice it is in: players fetch a few seconds at a time, so a
  2 MiB slice is read by 2-8 consecutive requests of one session within ~30 s. Every
  miss is therefore admitted into a small LRU *window* (1% of the bytes, at least one
  slice) that serves those re-reads; only when a slice leaves the window does it compete
  for the *main* region. Bypassing instead would refetch the slice for each re-read.
- Popularity is per slice and per file. A slice's demand is a decayed count of its own
  reads (half-life `SLICE_HALF_LIFE_S`, 6 h: long enough to carry the evening's demand
  through the evening, short enough that yesterday's release fades) plus
  `OBJECT_WEIGHT` times a decayed count of sessions that started its file (reads of
  slice 0, half-life `OBJECT_HALF_LIFE_S`, 1 h). The slice term carries position - a
  file's early slices are read by nearly every session and its late ones by few, so they
  have higher counts - and the file term carries the present: a title being started
  right now, a new release on its first evening, is about to be read again, including
  the slices its first sessions have not reached yet. Replayed against Belady's optimum
  on the generated traces (bench/policy_report.md), the file term is what lifts the
  gap closed from ~0.45 to ~0.5, and a 1 h file half-life beats 2 h and 6 h.
- Both counts live in bounded sketches (`edge.policy.sketch`, 8 fixed-point units per
  read, halved on a wall clock), never in a per-key table: 16 bytes per slice of
  capacity, plus a file sketch an eighth that size.
- Eviction takes the main slice with the least demand. Demands are compared as *levels*,
  `LEVELS_PER_DOUBLING * (log2(demand) + halvings so far)`: since every slice count halves
  at the same instants, a level computed hours ago still orders correctly against one
  computed now, so the main region is a heap of level buckets that needs no reordering
  as time passes. A hit only bumps the sketch; the stale (too low) level is corrected
  lazily when the slice surfaces as the eviction candidate - it is re-levelled and the
  search continues (at most `MAX_RECHECKS` times per eviction). So a hit costs one sketch
  update and an eviction a few bucket operations.
- Admission is TinyLFU's duel on these demands: the slice leaving the window replaces the
  coldest main slice only if its level is strictly higher, `admit(candidate, victim)`.
  A scan of one-hit slices therefore churns the window and never reaches main.

Every miss is written (to the window), so the disk writes saved over LRU are the misses
saved; see the report for what that does and does not reach.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict

from edge.policy.base import BYPASS, HIT, Access, Outcome, Policy, SliceKey
from edge.policy.sketch import TYPICAL_SLICE_BYTES, FrequencySketch, expected_entries

WINDOW_FRACTION = 0.01
SLICE_HALF_LIFE_S = 6 * 3600.0
OBJECT_HALF_LIFE_S = 3600.0
OBJECT_WEIGHT = 2
STEP = 8
LEVELS_PER_DOUBLING = 8
MAX_RECHECKS = 16
MAX_STARTS = 1023
AGE_EVERY = 0
_SIZE_BITS = 40
_SIZE_MASK = (1 << _SIZE_BITS) - 1
_MAX_DEMAND = 255 + OBJECT_WEIGHT * MAX_STARTS
_LEVEL_OF = [int(LEVELS_PER_DOUBLING * math.log2(d + 1)) for d in range(_MAX_DEMAND + 1)]


class VOD(Policy):
    name = "vod"

    def __init__(self, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        window = max(int(capacity_bytes * WINDOW_FRACTION), TYPICAL_SLICE_BYTES)
        self.window_bytes_max = min(window, capacity_bytes // 2)
        self.main_bytes_max = capacity_bytes - self.window_bytes_max
        self._window: OrderedDict[SliceKey, int] = OrderedDict()
        self._window_bytes = 0
        self._main: dict[SliceKey, int] = {}
        self._main_bytes = 0
        self._buckets: dict[int, set[SliceKey]] = {}
        self._bucket_heap: list[int] = []
        self._sketch_entries = expected_entries(capacity_bytes)
        self._slices = FrequencySketch(self._sketch_entries, max_count=255, sample_factor=None)
        self._starts: dict[str, int] = {}
        self._base_level = 0
        self._next_slice_age_s = math.inf
        self._next_object_age_s = math.inf
        self._next_age_s = -math.inf
        self.rejected = 0
        self.rechecks = 0
        self._incs = 0
        self._age_every = AGE_EVERY * self._sketch_entries

    def _vage(self):
        self._incs = 0
        self._slices.age()
        self._base_level += LEVELS_PER_DOUBLING

    def level(self, key: SliceKey) -> int:
        """The key's demand on the log scale shared by every level ever computed."""
        demand = self._slices.frequency(key) + OBJECT_WEIGHT * self._starts.get(key[0], 0)
        return _LEVEL_OF[demand] + self._base_level

    @staticmethod
    def admit(candidate_level: int, victim_level: int) -> bool:
        """TinyLFU's duel: the candidate replaces the victim only with strictly more demand."""
        return candidate_level > victim_level

    def access(self, key: SliceKey, size: int, now: float) -> Access:
        if now >= self._next_age_s:
            self._age(now)
        if key in self._main:
            self._slices.increment(key, STEP)
            if AGE_EVERY:
                self._incs += 1
                if self._incs >= self._age_every: self._vage()
            if key[1] == 0:
                self._count_start(key[0])
            return HIT
        window = self._window
        if key in window:
            window.move_to_end(key)
            return HIT
        if size > self.window_bytes_max or size > _SIZE_MASK:
            return BYPASS
        self._slices.increment(key, STEP)
        if AGE_EVERY:
            self._incs += 1
            if self._incs >= self._age_every: self._vage()
        if key[1] == 0:
            self._count_start(key[0])
        window[key] = size
        self._window_bytes += size
        self.used_bytes += size
        evicted: list[SliceKey] = []
        while self._window_bytes > self.window_bytes_max:
            candidate, candidate_size = window.popitem(last=False)
            self._window_bytes -= candidate_size
            self._promote(candidate, candidate_size, evicted)
        return Access(Outcome.ADMIT, tuple(evicted))

    def _count_start(self, obj: str) -> None:
        starts = self._starts.get(obj, 0) + STEP
        self._starts[obj] = starts if starts < MAX_STARTS else MAX_STARTS

    def _age(self, now: float) -> None:
        if self._next_age_s == -math.inf:
            self._next_slice_age_s = now + SLICE_HALF_LIFE_S
            self._next_object_age_s = now + OBJECT_HALF_LIFE_S
        if now >= self._next_object_age_s:
            periods = int((now - self._next_object_age_s) // OBJECT_HALF_LIFE_S) + 1
            shift = min(periods, 16)
            self._starts = {o: c >> shift for o, c in self._starts.items() if c >> shift}
            self._next_object_age_s += periods * OBJECT_HALF_LIFE_S
        if now >= self._next_slice_age_s and not AGE_EVERY:
            periods = int((now - self._next_slice_age_s) // SLICE_HALF_LIFE_S) + 1
            for _ in range(min(periods, 9)):
                self._slices.age()
            self._base_level += periods * LEVELS_PER_DOUBLING
            self._next_slice_age_s += periods * SLICE_HALF_LIFE_S
        self._next_age_s = min(self._next_slice_age_s, self._next_object_age_s)

    def _promote(self, candidate: SliceKey, size: int, evicted: list[SliceKey]) -> None:
        level = self.level(candidate)
        while self._main_bytes + size > self.main_bytes_max:
            victim = self._coldest()
            if victim is None or not self.admit(level, self._main[victim] >> _SIZE_BITS):
                self.rejected += 1
                self.used_bytes -= size
                evicted.append(candidate)
                return
            self._drop(victim)
            evicted.append(victim)
        self._insert(candidate, size, level)

    def _coldest(self) -> SliceKey | None:
        """The main slice with the lowest level, its level re-checked against the sketch."""
        heap, buckets, main = self._bucket_heap, self._buckets, self._main
        rechecks = 0
        while heap:
            low = heap[0]
            bucket = buckets.get(low)
            if not bucket:
                heapq.heappop(heap)
                buckets.pop(low, None)
                continue
            key = bucket.pop()
            level = self.level(key)
            if level > low and rechecks < MAX_RECHECKS:
                rechecks += 1
                self._place(key, level)
                main[key] = level << _SIZE_BITS | (main[key] & _SIZE_MASK)
                continue
            self.rechecks += rechecks
            if level < low:
                self._place(key, level)
                main[key] = level << _SIZE_BITS | (main[key] & _SIZE_MASK)
            else:
                bucket.add(key)
            return key
        return None

    def _place(self, key: SliceKey, level: int) -> None:
        bucket = self._buckets.get(level)
        if bucket is None:
            bucket = self._buckets[level] = set()
            heapq.heappush(self._bucket_heap, level)
        bucket.add(key)

    def _insert(self, key: SliceKey, size: int, level: int) -> None:
        self._main[key] = level << _SIZE_BITS | size
        self._main_bytes += size
        self._place(key, level)
        if len(self._main) > 2 * self._sketch_entries:
            self._sketch_entries *= 2
            self._slices.ensure_capacity(self._sketch_entries)

    def _drop(self, key: SliceKey) -> int:
        packed = self._main.pop(key)
        bucket = self._buckets.get(packed >> _SIZE_BITS)
        if bucket is not None:
            bucket.discard(key)
        size = packed & _SIZE_MASK
        self._main_bytes -= size
        self.used_bytes -= size
        return size

    def add(self, key: SliceKey, size: int) -> tuple[SliceKey, ...]:
        if size > self.main_bytes_max or size > _SIZE_MASK:
            return ()
        self.remove(key)
        evicted: list[SliceKey] = []
        while self._main_bytes + size > self.main_bytes_max:
            victim = self._coldest()
            if victim is None:
                break
            self._drop(victim)
            evicted.append(victim)
        self._insert(key, size, self.level(key))
        self.used_bytes += size
        return tuple(evicted)

    def remove(self, key: SliceKey) -> bool:
        size = self._window.pop(key, None)
        if size is not None:
            self._window_bytes -= size
            self.used_bytes -= size
            return True
        if key in self._main:
            self._drop(key)
            return True
        return False

    def __contains__(self, key: object) -> bool:
        return key in self._main or key in self._window

    def __len__(self) -> int:
        return len(self._main) + len(self._window)

    def stats(self) -> dict[str, object]:
        return {
            **super().stats(),
            "window_bytes": self._window_bytes,
            "main_bytes": self._main_bytes,
            "rejected": self.rejected,
            "rechecks": self.rechecks,
            "levels": len(self._buckets),
            "sketch_bytes": self._slices.table_bytes,
            "files_counted": len(self._starts),
        }
