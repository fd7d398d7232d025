from __future__ import annotations

import json
from pathlib import Path

import pytest

from encoder.ladder import parse_ladder
from encoder.pertitle import sample_windows
from encoder.pipeline import encode_title

from .conftest import fast_settings


@pytest.mark.parametrize(("duration", "count", "length", "expected"), [
    (60, 3, 4, [(0, 4), (28, 4), (56, 4)]),
    (10, 1, 4, [(3, 4)]),
    (3, 3, 4, [(0, 3)]),
    (5, 3, 2, [(0, 2), (3, 2)]),
])
def test_sample_windows(duration: float, count: int, length: float,
                        expected: list[tuple[float, float]]) -> None:
    assert sample_windows(duration, count, length) == expected


def test_per_title_ladder_end_to_end(tmp_path: Path, source: Path) -> None:
    settings = fast_settings(ladder="per-title", rungs=parse_ladder("180p@900k,90p@300k"),
                             trial_crfs=(24, 32, 40), sample_count=2, sample_s=1.0)
    result = encode_title(source, "pt", tmp_path / "pt", settings)
    doc = json.loads((result.out / "title.json").read_text())
    analysis = doc["per_title"]
    assert doc["ladder"] == "per-title"
    assert len(analysis["points"]) == 2 * 3
    assert all(0 <= p["vmaf"] <= 100 and p["bitrate_bps"] > 0 for p in analysis["points"])
    hull = analysis["hull"]
    assert [p["bitrate_bps"] for p in hull] == sorted(p["bitrate_bps"] for p in hull)
    assert [p["vmaf"] for p in hull] == sorted(p["vmaf"] for p in hull)
    rates = [r.bitrate_bps for r in result.renditions]
    assert rates == sorted(rates, reverse=True) and rates[0] <= 900_000
    assert {r.height for r in result.renditions} <= {180, 90}
    assert not (result.out / ".work").exists()
