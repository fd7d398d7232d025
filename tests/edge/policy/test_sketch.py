from __future__ import annotations

import pytest

from edge.policy.base import SliceKey
from edge.policy.sketch import FrequencySketch, expected_entries


def test_counts_and_saturates_at_fifteen() -> None:
    sketch = FrequencySketch(1024)
    key = SliceKey("/t1/r750.mp4", 0)
    assert sketch.frequency(key) == 0
    assert [sketch.increment(key) for _ in range(3)] == [1, 2, 3]
    for _ in range(40):
        sketch.increment(key)
    assert sketch.frequency(key) == 15


def test_unseen_keys_mostly_estimate_zero() -> None:
    sketch = FrequencySketch(1000)
    for i in range(1000):
        sketch.increment(SliceKey("/seen.mp4", i))
    false_positives = sum(sketch.frequency(SliceKey("/unseen.mp4", i)) > 0 for i in range(1000))
    assert false_positives < 50


def test_conservative_update_does_not_inflate_a_known_count() -> None:
    sketch = FrequencySketch(64)
    hot = SliceKey("/hot.mp4", 0)
    for _ in range(3):
        sketch.increment(hot)
    for i in range(200):
        sketch.increment(SliceKey("/noise.mp4", i))
    assert 3 <= sketch.frequency(hot) <= 4


def test_age_halves_every_counter() -> None:
    sketch = FrequencySketch(256, sample_factor=None)
    a, b = SliceKey("/a.mp4", 0), SliceKey("/b.mp4", 0)
    for _ in range(9):
        sketch.increment(a)
    sketch.increment(b)
    sketch.age()
    assert (sketch.frequency(a), sketch.frequency(b)) == (4, 0)
    assert sketch.resets == 1


def test_ages_itself_after_ten_times_its_size_in_additions() -> None:
    sketch = FrequencySketch(16)
    key = SliceKey("/a.mp4", 0)
    for _ in range(15):
        sketch.increment(key)
    for i in range(10 * 16):
        sketch.increment(SliceKey("/other.mp4", i))
    assert sketch.resets >= 1
    assert sketch.frequency(key) <= 8


def test_decayed_fixed_point_counts() -> None:
    sketch = FrequencySketch(256, max_count=255, sample_factor=None)
    key = SliceKey("/a.mp4", 3)
    assert [sketch.increment(key, 8) for _ in range(3)] == [8, 16, 24]
    sketch.age()
    assert sketch.frequency(key) == 12
    for _ in range(40):
        sketch.increment(key, 8)
    assert sketch.frequency(key) == 255
    assert sketch.resets == 1


def test_table_is_bounded_by_the_expected_entries_not_the_keys_seen() -> None:
    sketch = FrequencySketch(1000)
    assert sketch.table_bytes == 16 * 1024
    for i in range(50_000):
        sketch.increment(SliceKey("/scan.mp4", i))
    assert sketch.table_bytes == 16 * 1024


def test_ensure_capacity_grows_and_forgets() -> None:
    sketch = FrequencySketch(16)
    key = SliceKey("/a.mp4", 0)
    sketch.increment(key)
    sketch.ensure_capacity(16)
    assert sketch.frequency(key) == 1
    sketch.ensure_capacity(4096)
    assert sketch.table_bytes == 16 * 4096
    assert sketch.frequency(key) == 0


def test_expected_entries_counts_two_mebibyte_slices() -> None:
    assert expected_entries(10 << 30) == 5120
    assert expected_entries(0) == 1024


def test_rejects_a_bad_ceiling() -> None:
    with pytest.raises(ValueError):
        FrequencySketch(16, max_count=256)
