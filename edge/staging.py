"""Which window slices stay in memory: the bookkeeping shared by the store and the replay.

A policy with an admission window (`Policy.staged`) admits every new slice into it, and
most of them never earn a place in the main region: on the generated VOD traces, 20-68%
of the slices `vod` wrote to disk were deleted when they left the window, having served
only their own session's re-reads (`bench/policy_report.md`). Holding window slices in
memory and writing a slice only when the policy promotes it (CacheLib's and Flashield's
DRAM in front of flash) saves those writes without changing a single hit or miss: the
policy decides exactly as before, only where the bytes wait differs.

Memory is bounded by `budget_bytes` (`--window-memory`): a new slice that would take the
held bytes past it is not held but written to disk at once (*spilled*), as if there were
no memory window; the slices already held stay. Spilling the oldest instead would write
every slice whenever the window outgrows the budget (each ages past the budget before it
leaves the window): on the `vod` trace at 10%, a 256 MiB budget then saved nothing. A
budget of 0 holds nothing. The edge also holds at most a quarter of its file-descriptor
limit of slices (`max_slices`: each is a memfd), which matters only for small slices.
`ocdn bench replay` runs this same class, so the replay's disk-write figures are the
edge's at the same budget.
"""

from __future__ import annotations

from edge.policy.base import SliceKey

DEFAULT_WINDOW_MEMORY = 1 << 30


class Staging:
    """Keys of window slices held in memory, and their sizes."""

    def __init__(self, budget_bytes: int, max_slices: int | None = None) -> None:
        """`max_slices` bounds how many are held whatever their size (the edge holds each
        in a memfd, an open file descriptor)."""
        if budget_bytes < 0:
            raise ValueError("budget_bytes must not be negative")
        self.budget_bytes = budget_bytes
        self.max_slices = max_slices
        self.held_bytes = 0
        self.spilled = 0
        self._held: dict[SliceKey, int] = {}

    def hold(self, key: SliceKey, size: int) -> bool:
        """Hold `key` in memory if the budget (bytes and slices) has room; False: write it to
        disk now."""
        self.release(key)
        if not self.has_room(size):
            self.spilled += 1
            return False
        self._held[key] = size
        self.held_bytes += size
        return True

    def has_room(self, size: int) -> bool:
        """One more slice of `size` bytes would fit the budget (bytes and slices)."""
        return self.held_bytes + size <= self.budget_bytes and (
            self.max_slices is None or len(self._held) < self.max_slices)

    def release(self, key: SliceKey) -> int:
        """Stop holding `key` (promoted, evicted, dropped); its size, or 0 if not held."""
        size = self._held.pop(key, 0)
        self.held_bytes -= size
        return size

    def __contains__(self, key: object) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)
