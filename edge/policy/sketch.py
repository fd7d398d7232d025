"""A bounded, aging frequency sketch: how often was a key seen lately (TinyLFU).

A count-min sketch of saturating counters, the layout of Caffeine's `FrequencySketch`:
each key hashes to one 64-counter block (a 64-byte cache line) and to one counter in each
of the block's four 16-counter rows, so an update touches one cache line, not four. The
estimate is the smallest of the four counters; updates are conservative (only counters
at that minimum are raised), which keeps one-hit wonders from inflating each other.

Counters are one byte each but saturate at 15, the 4-bit ceiling TinyLFU uses: beyond
that, "more than 15 times in the sample" is all an admission decision needs. With 16
counters per expected entry (as Caffeine) a key's estimate is off by a collision with
probability about (1/4)^4 per block sharing - negligible at this width - and the table
costs 16 bytes per entry. Python's `hash()` is the one hash: 16 low bits pick the four
counters, the bits above pick the block.

Aging: after `10 * expected_entries` increments every counter is halved (one
`bytes.translate` over the table, ~1 ms per MiB), so the sketch reflects a sliding
sample of recent history and a title that was hot last week fades. The sample length is
TinyLFU's 10x (Einziger, Friedman, Manes, 2017).
"""

from __future__ import annotations

from collections.abc import Hashable

MAX_COUNT = 15
TYPICAL_SLICE_BYTES = 2 << 20
_HALVE = bytes(v >> 1 for v in range(256))


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def expected_entries(capacity_bytes: int) -> int:
    """How many slices a cache of `capacity_bytes` holds, for sizing per-entry tables.

    Policies see bytes, not slice counts; the edge's slices are 2 MiB, and a sketch sized
    for too few entries is grown (`ensure_capacity`) once the cache holds more.
    """
    return max(16, capacity_bytes // TYPICAL_SLICE_BYTES)


class FrequencySketch:
    """Estimate recent access counts of keys in a fixed-size table (`table_bytes`)."""

    __slots__ = ("_block_mask", "_sample", "_table", "additions", "resets")

    def __init__(self, expected_entries: int) -> None:
        self._table = bytearray()
        self._block_mask = 0
        self._sample = 0
        self.additions = 0
        self.resets = 0
        self.ensure_capacity(expected_entries)

    def ensure_capacity(self, expected_entries: int) -> None:
        """Size the table for `expected_entries`; growing it forgets the counts."""
        blocks = max(1, _pow2_at_least(max(expected_entries, 16)) // 4)
        if blocks * 64 <= len(self._table):
            return
        self._table = bytearray(blocks * 64)
        self._block_mask = blocks - 1
        self._sample = 10 * max(expected_entries, 16)
        self.additions = 0

    @property
    def table_bytes(self) -> int:
        return len(self._table)

    def frequency(self, key: Hashable) -> int:
        h = hash(key)
        t = self._table
        base = ((h >> 16) & self._block_mask) << 6
        return min(
            t[base + (h & 15)],
            t[base + 16 + ((h >> 4) & 15)],
            t[base + 32 + ((h >> 8) & 15)],
            t[base + 48 + ((h >> 12) & 15)],
        )

    def increment(self, key: Hashable) -> int:
        """Count one occurrence of `key`; returns its new estimate."""
        h = hash(key)
        t = self._table
        base = ((h >> 16) & self._block_mask) << 6
        i0 = base + (h & 15)
        i1 = base + 16 + ((h >> 4) & 15)
        i2 = base + 32 + ((h >> 8) & 15)
        i3 = base + 48 + ((h >> 12) & 15)
        m = min(t[i0], t[i1], t[i2], t[i3])
        if m >= MAX_COUNT:
            return m
        if t[i0] == m:
            t[i0] = m + 1
        if t[i1] == m:
            t[i1] = m + 1
        if t[i2] == m:
            t[i2] = m + 1
        if t[i3] == m:
            t[i3] = m + 1
        self.additions += 1
        if self.additions >= self._sample:
            self.age()
        return m + 1

    def age(self) -> None:
        """Halve every counter: the sketch's memory of the past decays by half."""
        self._table = self._table.translate(_HALVE)
        self.additions //= 2
        self.resets += 1
