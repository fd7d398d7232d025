"""Slice arithmetic: which aligned slices cover a byte range, and each slice's bounds.

Slice `i` of an object of `size` bytes holds bytes [i*S, min((i+1)*S, size)). Ranges are
half-open throughout.
"""

from __future__ import annotations

from typing import Final

DISK_BLOCK: Final = 4096
OBJECT_DISK_BYTES: Final = 2 * DISK_BLOCK  # an object's directory and its meta.json


def disk_bytes(size: int) -> int:
    """What a slice of `size` bytes is charged against `--cache-size`: its file's blocks
    plus its object's directory and meta.json. Charged to every cached slice, so the total
    holds however few of an object's slices are cached: 2 MiB slices are charged 0.4%
    above their bytes, an object smaller than a block three blocks."""
    return (size + DISK_BLOCK - 1) // DISK_BLOCK * DISK_BLOCK + OBJECT_DISK_BYTES


def slice_count(size: int, slice_bytes: int) -> int:
    return (size + slice_bytes - 1) // slice_bytes


def covering(start: int, stop: int, slice_bytes: int) -> range:
    """Indices of the slices that hold bytes [start, stop) (empty for an empty range)."""
    if stop <= start:
        return range(0)
    return range(start // slice_bytes, (stop - 1) // slice_bytes + 1)


def bounds(index: int, size: int, slice_bytes: int) -> tuple[int, int]:
    """Object byte range [start, stop) of slice `index`."""
    start = index * slice_bytes
    return start, min(start + slice_bytes, size)


def pieces(start: int, stop: int, slice_bytes: int) -> list[tuple[int, int, int]]:
    """Split [start, stop) at slice boundaries: (index, offset in slice, length) each."""
    out = []
    pos = start
    while pos < stop:
        index = pos // slice_bytes
        offset = pos - index * slice_bytes
        length = min(slice_bytes - offset, stop - pos)
        out.append((index, offset, length))
        pos += length
    return out
