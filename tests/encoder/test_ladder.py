from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from encoder.ladder import (
    DEFAULT_LADDER,
    Rendition,
    Rung,
    fit_ladder,
    format_bitrate,
    parse_bitrate,
    parse_ladder,
)


@pytest.mark.parametrize(("text", "bps"), [
    ("5800k", 5_800_000), ("5.8M", 5_800_000), ("235000", 235_000), ("128K", 128_000),
    (" 1m ", 1_000_000),
])
def test_parse_bitrate(text: str, bps: int) -> None:
    assert parse_bitrate(text) == bps


@pytest.mark.parametrize("text", ["", "k", "-5k", "0", "5 k", "5G", "٣k", "1_000"])
def test_parse_bitrate_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bitrate(text)


def test_format_bitrate_round_trips() -> None:
    for bps in (5_800_000, 235_000, 1_000_000, 1234):
        assert parse_bitrate(format_bitrate(bps)) == bps


def test_parse_ladder_sorts_tallest_first() -> None:
    assert parse_ladder("90p@100k, 180p@400k") == (Rung(180, 400_000), Rung(90, 100_000))


@pytest.mark.parametrize("text", ["", "180@", "p@400k", "181p@400k", "8p@10k", "180p400k"])
def test_parse_ladder_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ladder(text)


def test_default_ladder_spans_1080p_to_240p() -> None:
    assert DEFAULT_LADDER[0] == Rung(1080, 5_800_000)
    assert DEFAULT_LADDER[-1] == Rung(240, 235_000)
    rates = [r.bitrate_bps for r in DEFAULT_LADDER]
    assert rates == sorted(rates, reverse=True)


def test_1080p_source_gets_the_whole_ladder() -> None:
    out = fit_ladder(DEFAULT_LADDER, 1080, 16 / 9)
    assert [(r.width, r.height) for r in out] == [
        (1920, 1080), (1280, 720), (960, 540), (768, 432), (640, 360), (426, 240)]


def test_720p_source_is_never_upscaled() -> None:
    out = fit_ladder(DEFAULT_LADDER, 720, 16 / 9)
    assert out[0] == Rendition(1280, 720, 3_000_000)
    assert max(r.height for r in out) == 720


def test_source_between_rungs_gets_its_own_top_rung() -> None:
    out = fit_ladder(DEFAULT_LADDER, 900, 16 / 9)
    assert (out[0].width, out[0].height) == (1600, 900)
    assert out[0].bitrate_bps == round(5_800_000 * (900 / 1080) ** 2 / 1000) * 1000
    assert out[1].height == 720


def test_source_below_every_rung() -> None:
    out = fit_ladder(DEFAULT_LADDER, 180, 16 / 9)
    assert len(out) == 1
    assert (out[0].width, out[0].height) == (320, 180)


def test_widths_follow_display_aspect_and_are_even() -> None:
    out = fit_ladder(DEFAULT_LADDER, 1080, 4 / 3)
    assert out[0].width == 1440
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in out)


def test_rendition_ids_are_unique() -> None:
    rungs = [Rung(720, 3_000_000), Rung(720, 2_000_000), Rung(720, 3_000_000)]
    out = fit_ladder(rungs, 720, 16 / 9)
    assert [r.id for r in out] == ["v720-3000k", "v720-2000k"]


@given(height=st.integers(16, 4320), aspect=st.floats(0.3, 4.0))
def test_fit_ladder_never_upscales(height: int, aspect: float) -> None:
    out = fit_ladder(DEFAULT_LADDER, height, aspect)
    assert out
    assert all(r.height <= max(height, 2) + 1 for r in out)
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in out)
    assert len({r.id for r in out}) == len(out)


def test_renditions_come_highest_bitrate_first() -> None:
    rungs = [Rung(540, 1_300_000), Rung(720, 620_000), Rung(720, 5_800_000)]
    out = fit_ladder(rungs, 1080, 16 / 9)
    assert [r.id for r in out] == ["v720-5800k", "v540-1300k", "v720-620k"]
