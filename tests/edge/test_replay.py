from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from edge.policy import POLICIES, Access, SliceKey
from edge.policy.lru import LRU
from edge.replay import Request, TraceError, parse_trace, replay

HEADER = "ts,key,size,start,end\n"


def requests(*rows: tuple[float, str, int, int, int]) -> list[Request]:
    return [Request(*row) for row in rows]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty trace"),
        ("ts,key,size,start\n1,/a,10,0\n", 1, "header"),
        (HEADER + "1,/a,10,0,9\n2,/a,10,0\n", 3, "expected 5 columns"),
        (HEADER + "1,/a,10,0,9,7\n", 2, "expected 5 columns"),
        (HEADER + "1,/a,10,5,4\n", 2, "end 4 is before start 5"),
        (HEADER + "1,/a,10,0,10\n", 2, "past the object's last byte (9)"),
        (HEADER + "x,/a,10,0,9\n", 2, "ts is not a number"),
        (HEADER + "nan,/a,10,0,9\n", 2, "not a finite number"),
        (HEADER + "1,/a,ten,0,9\n", 2, "size is not a non-negative integer"),
        (HEADER + "1,/a,10,+1,9\n", 2, "start is not"),
        (HEADER + "1,/a,10,0,1_0\n", 2, "end is not"),
        (HEADER + "1,/a,10,-1,9\n", 2, "start is not"),
        (HEADER + "1,/a,10,0,٩\n", 2, "end is not"),
        (HEADER + "1,,10,0,9\n", 2, "key is empty"),
        (HEADER + "1,/a,10,0,9\n\n3,/b,5,0,4\n4,/b,5,3,2\n", 5, "before start"),
    ],
)
def test_a_malformed_trace_names_its_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(TraceError) as err:
        parse_trace(text.splitlines(keepends=True))
    assert err.value.line == line
    assert str(err.value).startswith(f"line {line}: ")
    assert fragment in str(err.value)


def test_parses_a_trace() -> None:
    parsed = parse_trace([HEADER, "74795.7,/t002443/r750.mp4,141484962,0,374999\n"])
    assert parsed == [Request(74795.7, "/t002443/r750.mp4", 141484962, 0, 374999)]


HAND = requests(
    (0, "/a", 25, 0, 4),
    (1, "/a", 25, 5, 14),
    (2, "/a", 25, 20, 24),
    (3, "/a", 25, 0, 9),
)


def test_lru_by_hand() -> None:
    result = replay(HAND, "lru", 20, slice_bytes=10).result()
    assert {k: result[k] for k in (
        "requests", "accesses", "served_bytes", "hit_bytes", "origin_bytes", "disk_write_bytes"
    )} == {
        "requests": 4, "accesses": 5, "served_bytes": 30, "hit_bytes": 5,
        "origin_bytes": 35, "disk_write_bytes": 35,
    }


def test_infinite_by_hand() -> None:
    result = replay(HAND, "infinite", 0, slice_bytes=10)
    assert (result.hit_bytes, result.origin_bytes, result.disk_write_bytes) == (15, 25, 25)


def test_opt_by_hand_bypasses_what_is_never_read_again() -> None:
    result = replay(HAND, "opt", 20, slice_bytes=10)
    assert (result.hit_bytes, result.origin_bytes, result.disk_write_bytes) == (15, 25, 10)


def test_slices_a_request_like_the_edge() -> None:
    result = replay(requests((0, "/a", 25, 3, 24)), "infinite", 0, slice_bytes=10)
    assert result.accesses == 3
    assert result.served_bytes == 22
    assert result.origin_bytes == 25


class Recording(LRU):
    """LRU that notes every access's `reaches_end`."""

    seen: list[tuple[int, bool]]

    def access(self, key: SliceKey, size: int, now: float, reaches_end: bool = False) -> Access:
        self.seen.append((key.index, reaches_end))
        return super().access(key, size, now, reaches_end)


def test_a_slice_reaches_its_end_when_the_request_covers_its_last_byte(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, bool]] = []
    monkeypatch.setattr(Recording, "seen", seen, raising=False)
    monkeypatch.setitem(POLICIES, "recording", Recording)
    replay(requests(
        (0, "/a", 25, 0, 4),  # slices [0, 10) [10, 20) [20, 25)
        (1, "/a", 25, 5, 14),
        (2, "/a", 25, 15, 19),
        (3, "/a", 25, 20, 23),
        (4, "/a", 25, 22, 24),
        (5, "/a", 25, 0, 24),
    ), "recording", 100, slice_bytes=10)
    assert seen == [
        (0, False),
        (0, True), (1, False),
        (1, True),
        (2, False),
        (2, True),
        (0, True), (1, True), (2, True),
    ]


def scan_after_warm(split: bool) -> list[Request]:
    """Four objects of one slice read three times each, then forty read once: each read
    whole, or in two requests of which only the second reaches the slice's end."""
    out: list[Request] = []
    names = [f"/w{i}" for i in range(4)] * 3 + [f"/s{i}" for i in range(40)]
    for t, name in enumerate(names):
        if split:
            out += requests((2 * t, name, 10, 0, 4), (2 * t + 1, name, 10, 5, 9))
        else:
            out += requests((2 * t, name, 10, 0, 9))
    return out


def test_window_slices_held_in_memory_are_written_only_when_promoted() -> None:
    """The forty scan objects enter `vod`'s window, lose the duel on leaving it and, held
    in memory (edge.staging), are never written; the two warm slices promoted to main are
    (the other two are still in the window when the trace ends). Written at once, every
    admitted slice is written, as under LRU. Every hit and miss is the same, whether a
    read reaches the slice's end or not."""
    for split in (False, True):
        trace = scan_after_warm(split=split)
        on_disk = replay(trace, "vod", 40, slice_bytes=10, window_memory=0)
        held = replay(trace, "vod", 40, slice_bytes=10, window_memory=1 << 20)
        assert (held.origin_bytes, held.hit_bytes) == (on_disk.origin_bytes, on_disk.hit_bytes)
        assert on_disk.disk_write_bytes == 440 == replay(trace, "lru", 40, 10).disk_write_bytes
        assert held.disk_write_bytes == 20
        assert held.spilled == 0 and held.result()["window_memory_bytes"] == 1 << 20
        # room for one slice: the rest are written at once (spilled), the held one is not
        one = replay(trace, "vod", 40, slice_bytes=10, window_memory=10)
        assert one.origin_bytes == on_disk.origin_bytes
        assert held.disk_write_bytes < one.disk_write_bytes < on_disk.disk_write_bytes
        assert one.spilled > 0


def random_trace(rng: random.Random, slice_bytes: int) -> list[Request]:
    sizes = {f"/o{i}": slice_bytes * rng.randint(1, 6) for i in range(rng.randint(2, 8))}
    out = []
    for t in range(rng.randint(1, 120)):
        key = rng.choice(list(sizes))
        size = sizes[key]
        start = rng.randrange(size)
        end = rng.randrange(start, min(size, start + 3 * slice_bytes))
        out.append(Request(float(t), key, size, start, end))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_opt_bounds_every_policy(seed: int) -> None:
    rng = random.Random(seed)
    slice_bytes = 10
    trace = random_trace(rng, slice_bytes)
    capacity = slice_bytes * rng.randint(1, 8)
    opt = replay(trace, "opt", capacity, slice_bytes)
    infinite = replay(trace, "infinite", capacity, slice_bytes)
    assert infinite.origin_bytes <= opt.origin_bytes
    for name in POLICIES:
        assert opt.origin_bytes <= replay(trace, name, capacity, slice_bytes).origin_bytes, name


@pytest.mark.parametrize("seed", range(30))
def test_window_memory_changes_writes_only(seed: int) -> None:
    """Holding window slices in memory never changes a hit or a miss, never adds a write,
    and changes nothing for a policy without a window; a budget smaller than a slice
    holds nothing."""
    rng = random.Random(seed)
    slice_bytes = 10
    trace = random_trace(rng, slice_bytes)
    capacity = slice_bytes * rng.randint(1, 8)
    for name in POLICIES:
        base = replay(trace, name, capacity, slice_bytes, window_memory=0)
        held = replay(trace, name, capacity, slice_bytes, window_memory=1 << 20)
        tiny = replay(trace, name, capacity, slice_bytes, window_memory=slice_bytes - 1)
        assert (held.origin_bytes, held.hit_bytes) == (base.origin_bytes, base.hit_bytes), name
        assert held.disk_write_bytes <= base.disk_write_bytes, name
        assert tiny.disk_write_bytes == base.disk_write_bytes, name
        if name != "vod":
            assert held.disk_write_bytes == base.disk_write_bytes, name


def run_cli(argv: list[str]) -> int:
    from ocdn import bench_cli

    parser = argparse.ArgumentParser(prog="ocdn")
    bench_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_prints_json_on_its_last_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(HEADER + "0,/a,25,0,4\n1,/a,25,5,14\n")
    code = run_cli(["bench", "replay", "--trace", str(trace), "--policy", "default",
                    "--cache-bytes", "1KiB", "--slice-bytes", "10"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["policy"] == "vod"
    assert result["requests"] == 2 and result["served_bytes"] == 15
    for field in ("hit_bytes", "origin_bytes", "disk_write_bytes", "byte_hit_ratio",
                  "accesses", "accesses_per_s"):
        assert field in result


def test_cli_stops_on_a_malformed_trace(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text(HEADER + "0,/a,25,0,4\n1,/a,25,9,3\n")
    code = run_cli(["bench", "replay", "--trace", str(trace), "--policy", "lru",
                    "--cache-bytes", "1MiB"])
    assert code == 2
    captured = capsys.readouterr()
    assert "line 3: end 3 is before start 9" in captured.err
    assert captured.out == ""


def test_cli_rejects_an_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(["bench", "replay", "--trace", "x", "--policy", "mru", "--cache-bytes", "1"])
    assert "unknown policy 'mru'" in capsys.readouterr().err
