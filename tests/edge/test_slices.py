from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.slices import (
    DISK_BLOCK,
    OBJECT_DISK_BYTES,
    bounds,
    covering,
    disk_bytes,
    pieces,
    slice_count,
)


def test_examples() -> None:
    assert slice_count(0, 4) == 0 and slice_count(9, 4) == 3
    assert list(covering(3, 5, 4)) == [0, 1]
    assert list(covering(4, 8, 4)) == [1]
    assert list(covering(5, 5, 4)) == []
    assert bounds(2, 9, 4) == (8, 9)
    assert pieces(3, 10, 4) == [(0, 3, 1), (1, 0, 4), (2, 0, 2)]


@given(st.integers(1, 64), st.integers(0, 1000), st.integers(0, 1000))
def test_pieces_tile_the_range(slice_bytes: int, a: int, b: int) -> None:
    start, stop = min(a, b), max(a, b)
    ps = pieces(start, stop, slice_bytes)
    pos = start
    for index, offset, length in ps:
        assert index * slice_bytes + offset == pos
        assert 0 < length <= slice_bytes - offset
        pos += length
    assert pos == stop
    assert [p[0] for p in ps] == list(covering(start, stop, slice_bytes))


def test_disk_bytes_charges_blocks_and_the_object_metadata() -> None:
    assert OBJECT_DISK_BYTES == 2 * DISK_BLOCK
    assert disk_bytes(1) == DISK_BLOCK + OBJECT_DISK_BYTES
    assert disk_bytes(DISK_BLOCK) == DISK_BLOCK + OBJECT_DISK_BYTES
    assert disk_bytes(DISK_BLOCK + 1) == 2 * DISK_BLOCK + OBJECT_DISK_BYTES
    assert disk_bytes(2 << 20) == (2 << 20) + OBJECT_DISK_BYTES  # 0.4% above the bytes
