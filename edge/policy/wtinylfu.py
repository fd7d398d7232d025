"""W-TinyLFU, the Caffeine design: a small LRU window in front of a frequency-guarded SLRU.

Every miss enters the window (1% of the bytes, at least one slice), an LRU that lets a
burst of new keys build up frequency before they must compete. A key pushed out of the
window is the *candidate*; the main region's coldest key (probation's LRU end) is the
*victim*; the one the frequency sketch has seen less often lately is evicted -
`admit(candidate, victim)`. The main region is a segmented LRU: a key enters probation
and moves to the protected segment (80% of main) on its next hit; protected overflow is
demoted back to probation's MRU end. So a scan of one-hit keys churns only the window,
and the main region keeps what the sketch says is popular.

Every access, hit or miss, counts once in the sketch (`edge.policy.sketch`), so the
frequency state is bounded (16 bytes per slice the cache can hold) and ages.

Caffeine climbs the window size adaptively; this is the static 1% it starts from. Its
guard against hash flooding is kept: a candidate with a high count (>= 6) that loses is
still admitted 1 time in 128, so an attacker who inflates a victim's counters cannot pin
it. Every miss is written (to the window), so the disk writes this policy saves over LRU
come only from its lower miss count.
"""

from __future__ import annotations

import random
from collections import OrderedDict

from edge.policy.base import BYPASS, HIT, Access, Outcome, Policy, SliceKey
from edge.policy.sketch import TYPICAL_SLICE_BYTES, FrequencySketch, expected_entries

WINDOW_FRACTION = 0.01
PROTECTED_FRACTION = 0.8
HASHDOS_THRESHOLD = 6


class WTinyLFU(Policy):
    name = "wtinylfu"

    def __init__(self, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        window = max(int(capacity_bytes * WINDOW_FRACTION), TYPICAL_SLICE_BYTES)
        self.window_bytes_max = min(window, capacity_bytes // 2)
        self.main_bytes_max = capacity_bytes - self.window_bytes_max
        self.protected_bytes_max = int(self.main_bytes_max * PROTECTED_FRACTION)
        self._window: OrderedDict[SliceKey, int] = OrderedDict()
        self._probation: OrderedDict[SliceKey, int] = OrderedDict()
        self._protected: OrderedDict[SliceKey, int] = OrderedDict()
        self._window_bytes = 0
        self._protected_bytes = 0
        self._sketch_entries = expected_entries(capacity_bytes)
        self._sketch = FrequencySketch(self._sketch_entries)
        self._random = random.Random(0x5EED)
        self.rejected = 0

    def admit(self, candidate: SliceKey, victim: SliceKey) -> bool:
        """TinyLFU: the candidate replaces the victim if it was seen more often lately."""
        candidate_freq = self._sketch.frequency(candidate)
        if candidate_freq > self._sketch.frequency(victim):
            return True
        return candidate_freq >= HASHDOS_THRESHOLD and self._random.getrandbits(7) == 0

    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        self._sketch.increment(key)
        if key in self._window:
            self._window.move_to_end(key)
            return HIT
        if key in self._protected:
            self._protected.move_to_end(key)
            return HIT
        item_size = self._probation.pop(key, None)
        if item_size is not None:
            self._protected[key] = item_size
            self._protected_bytes += item_size
            self._demote_protected()
            return HIT
        if size > self.window_bytes_max:
            return BYPASS
        if len(self._probation) + len(self._protected) > self._sketch_entries:
            self._sketch_entries *= 2
            self._sketch.ensure_capacity(self._sketch_entries)
        self._window[key] = size
        self._window_bytes += size
        self.used_bytes += size
        evicted: list[SliceKey] = []
        while self._window_bytes > self.window_bytes_max:
            candidate, candidate_size = self._window.popitem(last=False)
            self._window_bytes -= candidate_size
            self._probation[candidate] = candidate_size
            self._make_room(candidate, evicted)
        return Access(Outcome.ADMIT, tuple(evicted))

    def _make_room(self, candidate: SliceKey, evicted: list[SliceKey]) -> None:
        """The candidate sits at probation's MRU end; duel until main fits."""
        while self.used_bytes - self._window_bytes > self.main_bytes_max:
            region = self._protected if len(self._probation) < 2 and self._protected else (
                self._probation
            )
            victim = next(iter(region))
            if victim == candidate or not self.admit(candidate, victim):
                victim = candidate
                region = self._probation
                self.rejected += 1
            victim_size = region.pop(victim)
            if region is self._protected:
                self._protected_bytes -= victim_size
            self.used_bytes -= victim_size
            evicted.append(victim)
            if victim == candidate:
                return

    def _demote_protected(self) -> None:
        while self._protected_bytes > self.protected_bytes_max:
            key, size = self._protected.popitem(last=False)
            self._protected_bytes -= size
            self._probation[key] = size

    def add(self, key: SliceKey, size: int) -> tuple[SliceKey, ...]:
        if size > self.main_bytes_max:
            return ()
        self.remove(key)
        evicted: list[SliceKey] = []
        while self.used_bytes - self._window_bytes + size > self.main_bytes_max:
            region = self._probation or self._protected
            victim, victim_size = region.popitem(last=False)
            if region is self._protected:
                self._protected_bytes -= victim_size
            self.used_bytes -= victim_size
            evicted.append(victim)
        self._probation[key] = size
        self.used_bytes += size
        return tuple(evicted)

    def remove(self, key: SliceKey) -> bool:
        for region in (self._window, self._probation, self._protected):
            size = region.pop(key, None)
            if size is not None:
                if region is self._window:
                    self._window_bytes -= size
                elif region is self._protected:
                    self._protected_bytes -= size
                self.used_bytes -= size
                return True
        return False

    def __contains__(self, key: object) -> bool:
        return key in self._window or key in self._probation or key in self._protected

    def __len__(self) -> int:
        return len(self._window) + len(self._probation) + len(self._protected)

    def stats(self) -> dict[str, object]:
        return {
            **super().stats(),
            "window_bytes": self._window_bytes,
            "protected_bytes": self._protected_bytes,
            "rejected": self.rejected,
            "sketch_bytes": self._sketch.table_bytes,
            "sketch_resets": self._sketch.resets,
        }
