from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench.tracegen import (
    PRESETS,
    TraceModel,
    fit_zipf_mandelbrot,
    generate,
    register,
    write_csv,
    zipf_mandelbrot_shares,
)

SMALL = TraceModel(days=1.0, titles=100, sessions_per_day=150)


def test_same_seed_same_trace(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_csv(generate(SMALL, 7), a)
    write_csv(generate(SMALL, 7), b)
    write_csv(generate(SMALL, 8), c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_rows_are_valid_ranges_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    lines = write_csv(generate(SMALL, 1), path)
    with path.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ts", "key", "size", "start", "end"]
    assert len(rows) == lines + 1 > 1000
    last_ts = 0.0
    for ts, key, size, start, end in rows[1:]:
        assert key.startswith("/t") and key.endswith(".mp4")
        assert 0 <= int(start) <= int(end) < int(size)
        assert float(ts) >= last_ts
        last_ts = float(ts)


@pytest.mark.parametrize("n", [300, 1000, 18_000])
def test_zipf_mandelbrot_fit_matches_netflix_shares(n: int) -> None:
    s, q = fit_zipf_mandelbrot(n, 0.24, 0.68)
    top1, top10 = zipf_mandelbrot_shares(n, s, q)
    assert top1 == pytest.approx(0.24, abs=0.005)
    assert top10 == pytest.approx(0.68, abs=0.005)
    assert s == pytest.approx(1.32, abs=0.03)
    assert q / n == pytest.approx(0.011, abs=0.002)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_viewing_hours_are_roughly_netflix_shaped(preset: str) -> None:
    model = PRESETS[preset]
    trace = generate(model, 1)
    hours = np.bincount(trace.session_title, weights=trace.session_watch_s,
                        minlength=model.titles)
    ranked = np.sort(hours)[::-1] / hours.sum()
    top1 = ranked[: model.titles // 100].sum()
    top10 = ranked[: model.titles // 10].sum()
    assert 0.15 < top1 < 0.35
    assert 0.60 < top10 < 0.85


def test_evening_peak_and_sessions_mostly_start_at_zero() -> None:
    trace = generate(PRESETS["vod"], 3)
    first = np.unique(trace.session, return_index=True)[1]
    hour = ((trace.ts[first] % 86_400) // 3600).astype(int)
    by_hour = np.bincount(hour, minlength=24)
    assert by_hour[20:23].sum() > 3 * by_hour[8:11].sum()
    from_zero = np.mean(trace.start[first] == 0)
    assert 0.7 < from_zero < 0.9


def test_churn_turns_the_popular_set_over() -> None:
    def turnover(preset: str) -> float:
        trace = generate(PRESETS[preset], 5)
        day = (trace.ts // 86_400).astype(int)
        tops = []
        for d in range(3):
            titles = trace.obj[day == d] // len(PRESETS[preset].renditions_kbps)
            counts = np.bincount(titles, minlength=PRESETS[preset].titles)
            tops.append(set(np.argsort(counts)[::-1][:20].tolist()))
        return 1 - len(tops[0] & tops[2]) / 20

    assert turnover("churn") > turnover("vod")


def test_cli_writes_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "cli.csv"
    args = parser.parse_args(["tracegen", "--out", str(out), "--seed", "4", "--days", "0.5",
                              "--titles", "50", "--sessions-per-day", "100"])
    assert args.func(args) == 0
    assert out.read_text().startswith("ts,key,size,start,end\n")
    assert "wrote" in capsys.readouterr().out
    model = dataclasses.replace(PRESETS["vod"], days=0.5, titles=50, sessions_per_day=100)
    assert out.read_bytes() == _csv_bytes(tmp_path / "again.csv", model, 4)


def _csv_bytes(path: Path, model: TraceModel, seed: int) -> bytes:
    write_csv(generate(model, seed), path)
    return path.read_bytes()
