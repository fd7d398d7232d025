"""ocdn's default policy for video on demand: keep the slices with the most demand ahead.

What VOD traffic says, and what this policy does with it:

- **A session re-reads the slice it is in.** Players fetch a few seconds at a time, so a
  2 MiB slice is read by 2-8 consecutive requests of one session, a few seconds apart.
  Every miss is admitted into an LRU *window* that serves those re-reads, and a slice
  competes for the *main* region only when it leaves the window. Bypassing instead would
  fetch the slice from the origin again for every re-read. The window's share is 0.3% of
  the bytes (`WINDOW_FRACTION`, at least one slice), but a slice read within the last
  `WINDOW_IDLE_S` (20 s, five request intervals) is not pushed out while the window is
  under half the cache: when many sessions play at once, their current slices displace
  the coldest main slices rather than each other. Without that rule, at 1% of the unique
  bytes, the window evicted slices mid-read and `vod` fetched 1.6 bytes from the origin
  per byte served, against LRU's 0.96. Re-reads are not counted as demand (they are one
  session, not more). The window is also where the disk writes go: most window slices
  lose the duel on their way out, having served only their own session's re-reads, so
  `staged(key)` says a key is still in the window and `Access.promoted` which window keys
  entered main, and the edge holds window slices in memory until then (`edge.staging`,
  `--window-memory`): a slice that never reaches main is never written.
- **Demand is per slice, per file and per title.** A slice's demand is its own decayed
  read count plus a share of the decayed counts of sessions that started its file and
  its title, each kept in 8 fixed-point units per event: its own reads (a sketch halved
  every `SLICE_HALF_LIFE_S`, 6 h: long enough to carry an evening's demand through the
  evening, short enough that yesterday's release fades), the sessions that started its
  file (reads of slice 0, halved every `START_HALF_LIFE_S`, 1 h) and, at half weight,
  those that started any rendition of its title (the files in the key's directory,
  `/title/rendition.mp4`). The start terms carry the present: a title being started
  now, a new release on its first evening, is about to be read again, including slices
  its first sessions have not reached yet. Sessions abandon, so a slice gets the start
  terms only in the proportion of sessions that read that far: scaled by its read count
  over slice 0's, each with a prior of `SURVIVAL_PRIOR` (8 reads) so that one session's
  reads do not decide it. Without the scaling a popular file's last slices ranked with
  its first; with it and the title's weight raised from 1/4 to 1/2, the share of LRU's
  gap to Belady closed on the generated traces (`bench/policy_report.md`, caches of 5%
  and 10%) rose from 0.49/0.51 (`vod`) and 0.45/0.40 (`churn`) to 0.51/0.53 and
  0.47/0.43. Aging on the clock beats TinyLFU's aging by volume:
  by volume, counts halve fastest at the evening peak, just when the evening's demand
  is the thing to remember.
- **Bounded state.** Slice counts live in a sketch (`edge.policy.sketch`, 16 bytes per
  slice of capacity); start counts in two small dicts keyed by file and title that are
  halved hourly and drop entries that reach zero, so they hold only what was started in
  the last ~8 hours. Beside a file's start count sits slice 0's sketch count as of the
  last start, so the survival scaling costs a dict read, not a second sketch estimate
  (which took 11% of the replay's speed).
- **Eviction takes the main slice with the least demand.** Demands are compared as
  *levels*, `LEVELS_PER_DOUBLING * (log2(demand) + halvings so far)`: every slice count
  halves at the same instants, so a level computed hours ago still orders correctly
  against one computed now, and the main region is a heap of level buckets that never
  needs reordering as time passes. A hit only bumps the sketch; a level gone stale is
  corrected when its slice surfaces as the eviction candidate (re-levelled, and the
  search goes on, at most `MAX_RECHECKS` times per eviction). A hit costs one sketch
  update; an eviction a few bucket operations. The slice found coldest is remembered
  (`_victim`) until something could change the answer - a hit on it, a session start,
  an aging step, an insert or a drop - so the next duel, usually against the same
  slice (two in three candidates lose), costs no re-check: 35% fewer level
  computations, which pays for the fast scale below. Sketch collisions can raise the
  remembered slice's count unseen; that is all it misses.
- **Levels raised by start terms sink faster.** Start counts halve six times as fast as
  slice counts, so a level that carried them goes stale *high* and does not surface
  until its start share would have faded anyway. A slice whose start terms raised its
  level by `FAST_BOOST_LEVELS` (a doubling) or more is kept on a second, *fast* scale
  (`_fast_buckets`): against the main one, its level sinks `FAST_LEVELS_PER_HALVING`
  (2) at each hourly halving of the start counts and rises a doubling at each 6-hourly
  halving of the slice counts, so such slices surface for their re-check sooner and
  fall back in line when the start share is gone. Measured on the generated traces
  (gap closed at 5% / 10%, `vod` then `churn`, in-process replays whose run-to-run
  noise is ~0.005, with the bypass rules of the time): none, 0.50 / 0.52 / 0.46 / 0.42;
  2 levels, 0.51 / 0.53 / 0.49 / 0.44 (the report: 0.51 / 0.53 / 0.48 / 0.43); 8 (the
  start terms' own rate), 0.52 / 0.53 / 0.48 / 0.41, with 3x the re-checks; a steady
  sink of 4 levels per 6 h instead, no better than none. A hand that re-levelled every
  main slice each 2 h (before this scale: `churn` at 5% 0.47 -> 0.50, nothing at 10%;
  on top of it: `churn` at 5% +0.01, the rest flat) was left out: it cost 17% of the
  replay's speed. So was re-levelling, hourly, only the slices the start terms raised:
  they are most of the main region, and it cost more than the hand.
- **Late slices rank a little lower.** Sessions start at 0 and abandon, so of two slices
  with the same counts the later one is less likely to be read again; the start terms'
  survival scaling sees that only while a file is being started. A slice's level is
  lowered by one for each quadrupling of its position in the file (`_POSITION_PENALTY`:
  slices 0-1 none, 2-7 one level, 8-31 two, 32-127 three: a level is 1/8 of a doubling).
- **Admission is TinyLFU's duel on these demands, with a margin**: the slice leaving the
  window replaces the coldest main slice only if its level is higher by more than
  `ADMIT_MARGIN_LEVELS` (3, 30% more demand), `admit(candidate, victim)`: slices of
  nearly equal demand do not swap places (each swap is a write and, later, a refetch).
  A scan of one-hit slices churns the window and never reaches main.

Measured (gap closed = share of LRU's origin bytes over Belady's that `vod` saves, on the
generated traces of `bench/policy_report.md` at caches of 5% / 10%, `vod` then `churn`;
in-process replays, run-to-run noise ~0.008): before this version's last four changes,
0.510 / 0.531 / 0.476 / 0.435. Then, cumulatively: no bypass (see below), 0.524 / 0.543 /
0.497 / 0.443; the admission margin, 0.519 / 0.547 / 0.493 / 0.459; a 0.3% window
instead of 1%, 0.522 / 0.550 / 0.500 / 0.459; the position penalty, 0.526 / 0.544 /
0.508 / 0.469 (other hash seeds: 0.530 / 0.552 / 0.505 / 0.470 and 0.526 / 0.551 /
0.507 / 0.468). Margins of 6 or 10 levels and other penalties measured no better.

Until the memory window, `vod` also bypassed a cold miss read to the slice's end (the
edge says when a read reaches the slice's last byte, `reaches_end`: that session will not
read it again) when its level was within 7 levels of the coldest main slice's (16 for a
first read): it cut disk writes from -19% / -21% / -15% / -13% against LRU's to -31% /
-31% / -27% / -23%, and cost 0.01-0.02 of the gap closed. With window slices held in
memory the writes are -60% / -61% / -55% / -43% without it (`bench/policy_report.md`),
so `vod` ignores `reaches_end`, and the edge's prefetch, which asks the policy first, is
admitted as any miss.

Where the rest of the gap is (`churn` at 10%, measured with oracles): 210,000 of `vod`'s
295,000 misses are first reads no policy avoids; of the ~54,000 avoidable ones, for
slices re-read 1-24 h later, an oracle deciding every admission against `vod`'s own
choice of victim reaches only 0.50-0.52, while one choosing the victim reaches 0.71: the
order of eviction is where the headroom is. 71% of main is slices raised by start terms,
and the oracle evicts mostly those, yet every weakening of the start terms tried (halved,
scaled by the cache's turnover, the session's own start subtracted, capped in share)
lost more hits within 6 h than it gained later. Also tried and left out: longer or
shorter half-lives, fixed or following the cache's turnover (`churn` at 10%: 9 h, 0.46;
15 h, 0.46), a second sketch with a 24 h half-life as a floor (`churn` 0.498 / 0.476,
and 16 B more per slice), title counts over 24 h, a ghost of recently
evicted slices, counting window re-reads. Later, on `churn` at 10% (0.469 at the time):
a title's trend (its share of starts in the last hour against 8 h, over the global start
rate) scaling the start terms, 0.33-0.44; survival by position learned over all files of
a rendition instead of per file, 0.41-0.45 (as the position penalty: 0.35-0.44); a boost
for the slices just ahead of a file's current readers, 0.470; slice aging sped or slowed
by the hour's activity against the day's, 0.44-0.46; start terms weighted by the global
activity, or by a title's age, 0.43-0.46; a rendition's share of its title's starts as
the title term's weight, 0.45; not counting re-reads of main slices, 0.40-0.43; a bonus
of 2-8 levels for slices read on two days or more, 0.445-0.467; the full title term for
renditions nobody started lately, 0.473, but `churn` at 5% fell to 0.498.
Of the ~52,000 misses Belady avoids there, 36,000 are slices of catalogue titles re-read
6-24 h after their previous read, 70% of them between 16:00 and 24:00: slices evicted
during the day that the next evening wants back. None of the signals above told those
apart from the slices `vod` keeps instead. Nor did learned victim orders in the manner of
LHD (Beckmann et al., NSDI 2018: hit density per class of slice and age, learned online,
the lowest of 16 sampled slices evicted): -0.06 to 0.20, and 0.44 with `vod`'s own level
picked from 16 samples instead of the heap, so sampling alone costs more than a learned
order could win; a learned per-class correction on top of the level, 0.438-0.471 (and
`churn` at 5% 0.500). The level is well calibrated: across main, the share of slices
read again within 24 h rises steadily with it.
Nor did splitting main ARC-style between slices start terms raised and the rest: a fixed
share for the former (0.4-0.8 of main), 0.41-0.47, best 0.471 at 0.6 (but `churn` at 5%
0.490); the share by time of day, or adapted from hits in ghosts of either kind,
0.23-0.47; and an oracle choosing between the two kinds' coldest slices did not beat the
level either (0.42), so the level already orders the two kinds right.
Learned predictors of the time to a slice's next read (gradient-boosted trees, LightGBM,
over what an edge could keep: the level, position in the file, the time since a slice's
last two reads, the hour now and of the last read, its title's age, file and title starts
over 24 h; trained on slices sampled at evictions; the victim the farthest predicted of
16 sampled main slices), `churn` at 10%: trained on the churn trace's own samples, its
future included, 0.57-0.59; trained on the `vod` trace, 0.435; trained online on its own
past only (retrained every 6 h, labels cut at 6, 12 or 24 h), 0.36-0.43; a linear
model instead, 0.46-0.475. The oracle over the same 16 samples (the one read again last)
reaches 0.66: the headroom is there, but what found it was knowing this trace's
statistics ahead, which no edge does (and trees in Python ran the replay at ~5,000 slice
accesses/s).
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from typing import Final

from edge.policy.base import BYPASS, HIT, Access, Outcome, Policy, SliceKey
from edge.policy.sketch import TYPICAL_SLICE_BYTES, FrequencySketch, expected_entries

WINDOW_FRACTION: Final = 0.003
WINDOW_IDLE_S: Final = 20.0
WINDOW_MAX_FRACTION: Final = 0.5
SLICE_HALF_LIFE_S: Final = 6 * 3600.0
START_HALF_LIFE_S: Final = 3600.0
STEP: Final = 8
MAX_STARTS: Final = 1023
TITLE_SHARE: Final = 2
SURVIVAL_PRIOR: Final = 8 * STEP
LEVELS_PER_DOUBLING: Final = 8
MAX_RECHECKS: Final = 16
ADMIT_MARGIN_LEVELS: Final = 3
FAST_BOOST_LEVELS: Final = 8
FAST_LEVELS_PER_HALVING: Final = 2
_SIZE_BITS: Final = 40
_SIZE_MASK: Final = (1 << _SIZE_BITS) - 1
_ADMIT: Final = Access(Outcome.ADMIT)
_MAX_DEMAND: Final = 255 + MAX_STARTS + MAX_STARTS // TITLE_SHARE
_LEVEL_OF: Final = [-LEVELS_PER_DOUBLING] + [
    int(LEVELS_PER_DOUBLING * math.log2(d)) for d in range(1, _MAX_DEMAND + 1)
]
_RANK_OF: Final = [level << 1 for level in _LEVEL_OF]
_BOOST_RANKS: Final = FAST_BOOST_LEVELS << 1
# rank units (levels << 1) off a slice's rank, by the bit length of its index
_POSITION_PENALTY: Final = [(bits >> 1) << 1 for bits in range(64)]


def title_of(obj: str) -> str:
    """The title a file belongs to: its directory (`/t1/r750.mp4` -> `/t1`), else itself."""
    return obj.rpartition("/")[0] or obj


class VOD(Policy):
    name = "vod"

    def __init__(self, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        window = max(int(capacity_bytes * WINDOW_FRACTION), TYPICAL_SLICE_BYTES)
        self.window_bytes_max = min(window, capacity_bytes // 2)
        self.window_active_bytes_max = int(capacity_bytes * WINDOW_MAX_FRACTION)
        self._window: OrderedDict[SliceKey, tuple[int, float]] = OrderedDict()
        self._window_bytes = 0
        self._main: dict[SliceKey, int] = {}
        self._main_bytes = 0
        self._buckets: dict[int, set[SliceKey]] = {}
        self._bucket_heap: list[int] = []
        self._sketch_entries = expected_entries(capacity_bytes)
        self._slices = FrequencySketch(self._sketch_entries, max_count=255, sample_factor=None)
        self._bump = self._slices.increment
        self._frequency = self._slices.frequency
        self._file_starts: dict[str, int] = {}
        self._file_first: dict[str, int] = {}
        self._title_starts: dict[str, int] = {}
        self._base_level = 0
        self._base_rank = 0
        self._fast_buckets: dict[int, set[SliceKey]] = {}
        self._fast_heap: list[int] = []
        self._fast_offset = 0
        self._next_slice_age_s = math.inf
        self._next_start_age_s = math.inf
        self._next_age_s = -math.inf
        self.rejected = 0
        self.rechecks = 0
        self._victim: SliceKey | None = None
        self._victim_level = 0

    def level(self, key: SliceKey) -> int:
        """The key's demand on the log scale shared by every level ever computed."""
        return self._rank(key) >> 1

    def _rank(self, key: SliceKey) -> int:
        """`level << 1`, plus 1 if start terms raised the level (it will fall as they fade)."""
        obj = key[0]
        count = self._frequency(key)
        starts = (
            self._file_starts.get(obj, 0)
            + self._title_starts.get(obj.rpartition("/")[0] or obj, 0) // TITLE_SHARE
        )
        position = _POSITION_PENALTY[key[1].bit_length()]
        if not starts:
            return _RANK_OF[count] + self._base_rank - position
        if key[1]:
            stored = self._file_first.get(obj)
            if stored is None:
                first = self._frequency((obj, 0))
            else:  # slice 0's count when last read, halved as the sketch has been since
                first = (stored & 255) >> (self._base_level - (stored >> 8)) // LEVELS_PER_DOUBLING
            if first > count:
                starts = starts * (count + SURVIVAL_PRIOR) // (first + SURVIVAL_PRIOR)
        rank = _RANK_OF[count + starts]
        return (rank | (rank >= _RANK_OF[count] + _BOOST_RANKS)) + self._base_rank - position

    @staticmethod
    def admit(candidate_level: int, victim_level: int) -> bool:
        """TinyLFU's duel with a margin: the candidate replaces the victim only with more
        than `ADMIT_MARGIN_LEVELS` levels more demand."""
        return candidate_level > victim_level + ADMIT_MARGIN_LEVELS

    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        if now >= self._next_age_s:
            self._age(now)
        if key in self._main:
            count = self._bump(key, STEP)
            if key[1] == 0:
                self._count_start(key[0], count)
            elif key == self._victim:
                self._victim = None
            return HIT
        window = self._window
        entry = window.get(key)
        if entry is not None:
            window.move_to_end(key)
            window[key] = (entry[0], now)
            return HIT
        if size > self.capacity_bytes or size > _SIZE_MASK:
            return BYPASS
        count = self._bump(key, STEP)
        if key[1] == 0:
            self._count_start(key[0], count)
        window[key] = (size, now)
        self._window_bytes += size
        self.used_bytes += size
        if self._window_bytes <= self.window_bytes_max and self.used_bytes <= self.capacity_bytes:
            return _ADMIT
        evicted: list[SliceKey] = []
        promoted: list[SliceKey] = []
        self._make_room(now, evicted, promoted)
        return Access(Outcome.ADMIT, tuple(evicted), tuple(promoted))

    def _make_room(self, now: float, evicted: list[SliceKey], promoted: list[SliceKey]) -> None:
        """Retire idle window slices into main (`promoted`) or out of the cache (`evicted`),
        then evict until the cache fits."""
        window = self._window
        idle_before = now - WINDOW_IDLE_S
        while self._window_bytes > self.window_bytes_max and len(window) > 1:
            key, (size, last_read) = window.popitem(last=False)
            if last_read > idle_before and self._window_bytes <= self.window_active_bytes_max:
                window[key] = (size, last_read)
                window.move_to_end(key, last=False)
                break
            self._window_bytes -= size
            if self._promote(key, size, evicted):
                promoted.append(key)
        while self.used_bytes > self.capacity_bytes:
            victim = self._coldest()
            if victim is not None:
                self._drop(victim)
            else:
                victim, (size, _) = window.popitem(last=False)
                self._window_bytes -= size
                self.used_bytes -= size
            evicted.append(victim)

    def _count_start(self, obj: str, first: int) -> None:
        """Count a session start; `first` is slice 0's read count, kept for `level`."""
        self._victim = None
        files, titles = self._file_starts, self._title_starts
        count = files.get(obj, 0) + STEP
        files[obj] = count if count < MAX_STARTS else MAX_STARTS
        self._file_first[obj] = first | self._base_level << 8
        title = title_of(obj)
        count = titles.get(title, 0) + STEP
        titles[title] = count if count < MAX_STARTS else MAX_STARTS

    def _age(self, now: float) -> None:
        self._victim = None
        if self._next_age_s == -math.inf:
            self._next_slice_age_s = now + SLICE_HALF_LIFE_S
            self._next_start_age_s = now + START_HALF_LIFE_S
        if now >= self._next_start_age_s:
            periods = int((now - self._next_start_age_s) // START_HALF_LIFE_S) + 1
            shift = min(periods, 16)
            self._file_starts = files = {
                k: c >> shift for k, c in self._file_starts.items() if c >> shift
            }
            self._file_first = {k: c for k, c in self._file_first.items() if k in files}
            self._title_starts = {
                k: c >> shift for k, c in self._title_starts.items() if c >> shift
            }
            self._next_start_age_s += periods * START_HALF_LIFE_S
            self._fast_offset += periods * FAST_LEVELS_PER_HALVING
        if now >= self._next_slice_age_s:
            periods = int((now - self._next_slice_age_s) // SLICE_HALF_LIFE_S) + 1
            for _ in range(min(periods, 9)):
                self._slices.age()
            self._base_level += periods * LEVELS_PER_DOUBLING
            self._base_rank = self._base_level << 1
            self._fast_offset -= periods * LEVELS_PER_DOUBLING
            self._next_slice_age_s += periods * SLICE_HALF_LIFE_S
        self._next_age_s = min(self._next_slice_age_s, self._next_start_age_s)

    def _promote(self, candidate: SliceKey, size: int, evicted: list[SliceKey]) -> bool:
        """The duel at the window's exit; True if `candidate` entered main."""
        rank = self._rank(candidate)
        level = rank >> 1
        while self._main_bytes + size > self.capacity_bytes - self._window_bytes:
            victim = self._coldest()
            if victim is None or not self.admit(level, self._victim_level):
                self.rejected += 1
                self.used_bytes -= size
                evicted.append(candidate)
                return False
            self._drop(victim)
            evicted.append(victim)
        self._insert(candidate, size, rank)
        return True

    def _coldest(self) -> SliceKey | None:
        """The main slice with the lowest level (`_victim_level`), re-checked against the
        counts; a slice on the fast scale whose counts now say more moves back up."""
        if self._victim is not None:
            return self._victim
        slow, slow_buckets = self._bucket_heap, self._buckets
        fast, fast_buckets = self._fast_heap, self._fast_buckets
        rechecks = 0
        while True:
            while slow and not slow_buckets.get(slow[0]):
                slow_buckets.pop(heapq.heappop(slow), None)
            while fast and not fast_buckets.get(fast[0]):
                fast_buckets.pop(heapq.heappop(fast), None)
            if fast and (not slow or fast[0] - self._fast_offset < slow[0]):
                on_fast = 1
                low = fast[0] - self._fast_offset
                bucket = fast_buckets[fast[0]]
            elif slow:
                on_fast = 0
                low = slow[0]
                bucket = slow_buckets[low]
            else:
                return None
            key = bucket.pop()
            rank = self._rank(key)
            level = rank >> 1
            if level == low and rank & 1 == on_fast:
                bucket.add(key)
            else:
                size = self._main[key] & _SIZE_MASK
                self._main[key] = self._place(key, level, rank & 1) << _SIZE_BITS | size
                if level > low and rechecks < MAX_RECHECKS:
                    rechecks += 1
                    continue
            self.rechecks += rechecks
            self._victim_level = level
            # remembered only if surely the coldest: not when the rechecks ran out
            self._victim = key if level <= low else None
            return key

    def _place(self, key: SliceKey, level: int, fast: int) -> int:
        """Put `key` in its bucket on the slice scale or, if `fast`, the fast one (stored
        as `level + _fast_offset`); returns the tag `_main` keeps for `_drop`."""
        if fast:
            stored = level + self._fast_offset
            buckets, heap = self._fast_buckets, self._fast_heap
        else:
            stored = level
            buckets, heap = self._buckets, self._bucket_heap
        bucket = buckets.get(stored)
        if bucket is None:
            bucket = buckets[stored] = set()
            heapq.heappush(heap, stored)
        bucket.add(key)
        return stored << 1 | fast

    def _insert(self, key: SliceKey, size: int, rank: int) -> None:
        self._victim = None
        self._main[key] = self._place(key, rank >> 1, rank & 1) << _SIZE_BITS | size
        self._main_bytes += size
        if len(self._main) > 2 * self._sketch_entries:
            self._sketch_entries *= 2
            self._slices.ensure_capacity(self._sketch_entries)

    def _drop(self, key: SliceKey) -> None:
        self._victim = None
        packed = self._main.pop(key)
        tag = packed >> _SIZE_BITS
        buckets = self._fast_buckets if tag & 1 else self._buckets
        bucket = buckets.get(tag >> 1)
        if bucket is not None:
            bucket.discard(key)
        size = packed & _SIZE_MASK
        self._main_bytes -= size
        self.used_bytes -= size

    def add(self, key: SliceKey, size: int) -> tuple[SliceKey, ...]:
        if size > self.capacity_bytes or size > _SIZE_MASK:
            return ()
        self.remove(key)
        evicted: list[SliceKey] = []
        while self.used_bytes + size > self.capacity_bytes and self._main:
            victim = self._coldest()
            if victim is None:
                break
            self._drop(victim)
            evicted.append(victim)
        while self.used_bytes + size > self.capacity_bytes:
            victim, (victim_size, _) = self._window.popitem(last=False)
            self._window_bytes -= victim_size
            self.used_bytes -= victim_size
            evicted.append(victim)
        self._insert(key, size, self._rank(key))
        self.used_bytes += size
        return tuple(evicted)

    def remove(self, key: SliceKey) -> bool:
        entry = self._window.pop(key, None)
        if entry is not None:
            size = entry[0]
            self._window_bytes -= size
            self.used_bytes -= size
            return True
        if key in self._main:
            self._drop(key)
            return True
        return False

    def staged(self, key: SliceKey) -> bool:
        return key in self._window

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
            "levels": len(self._buckets) + len(self._fast_buckets),
            "sketch_bytes": self._slices.table_bytes,
            "files_counted": len(self._file_starts),
            "titles_counted": len(self._title_starts),
        }
