"""edge/ranges.py: the Range parser against RFC 9110 §14 and a brute-force model; framing."""

from __future__ import annotations

import re
from decimal import Decimal
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.errors import EdgeError, RangeNotSatisfiable
from edge.ranges import (
    ByteRange,
    multipart_content_type,
    multipart_layout,
    new_boundary,
    parse_range,
)

UNSATISFIABLE = "416"
HUGE = "9" * 5000

# (id, header, size, expected): expected is a list of (start, stop), None (ignore Range,
# 200) or UNSATISFIABLE.
CASES: list[tuple[str, str | None, int, list[tuple[int, int]] | str | None]] = [
    # RFC 9110 §14.1.2 examples, for a representation of 10000 bytes.
    ("rfc-first-500", "bytes=0-499", 10000, [(0, 500)]),
    ("rfc-second-500", "bytes=500-999", 10000, [(500, 1000)]),
    ("rfc-last-500-suffix", "bytes=-500", 10000, [(9500, 10000)]),
    ("rfc-last-500-open", "bytes=9500-", 10000, [(9500, 10000)]),
    ("rfc-first-and-last", "bytes=0-0,-1", 10000, [(0, 1), (9999, 10000)]),
    ("rfc-noncanonical-adjacent", "bytes=500-600,601-999", 10000, [(500, 601), (601, 1000)]),
    ("rfc-noncanonical-overlap", "bytes=500-700,601-999", 10000, [(500, 701), (601, 1000)]),
    ("rfc-three-with-ows", "bytes=0-999, 4500-5499, -1000", 10000,
     [(0, 1000), (4500, 5500), (9000, 10000)]),
    # No Range, or not a bytes range set: ignore, 200.
    ("no-header", None, 10, None),
    ("empty-header", "", 10, None),
    ("unit-only", "bytes", 10, None),
    ("empty-range-set", "bytes=", 10, None),
    ("only-commas", "bytes=, ,", 10, None),
    ("other-unit", "items=0-1", 10, None),
    ("no-unit", "=0-1", 10, None),
    ("non-ascii-unit", "bytеs=0-1", 10, None),
    ("space-before-equals", "bytes =0-1", 10, None),
    ("space-inside-spec", "bytes=0 -1", 10, None),
    ("range-unit-twice", "bytes=0-1, bytes=2-3", 10, None),
    ("other-range-syntax", "bytes=abc", 10, None),
    ("dash-only", "bytes=-", 10, None),
    ("double-dash", "bytes=--1", 10, None),
    ("negative-first", "bytes=-1-2", 10, None),
    ("three-numbers", "bytes=1-2-3", 10, None),
    ("trailing-semicolon", "bytes=0-1;", 10, None),
    ("first-after-last", "bytes=1-0", 10, None),
    ("one-invalid-spoils-all", "bytes=0-1,x", 10, None),
    ("one-backwards-spoils-all", "bytes=0-1,5-4", 10, None),
    # Numbers are ASCII [0-9]+ only.
    ("plus-sign", "bytes=+1-2", 10, None),
    ("underscore", "bytes=1_0-20", 10, None),
    ("hex", "bytes=0x1-2", 10, None),
    ("arabic-indic-digits", "bytes=٠-٥", 10, None),
    ("fullwidth-digits", "bytes=１-２", 10, None),
    ("superscript-digit", "bytes=0-²", 10, None),
    ("leading-zeros", "bytes=007-0009", 10, [(7, 10)]),
    # Unit case and whitespace.
    ("unit-upper", "BYTES=0-1", 10, [(0, 2)]),
    ("unit-mixed", "bYtEs=0-1", 10, [(0, 2)]),
    ("field-ows", " \tbytes=0-1\t ", 10, [(0, 2)]),
    ("ows-after-equals", "bytes= 0-1", 10, [(0, 2)]),
    ("ows-around-commas", "bytes=0-1 ,\t2-3", 10, [(0, 2), (2, 4)]),
    ("empty-elements", "bytes=0-1,,2-3", 10, [(0, 2), (2, 4)]),
    ("leading-and-trailing-commas", "bytes=, 0-1,", 10, [(0, 2)]),
    # Satisfiability, clipping, suffixes (§14.1.1, §14.1.2).
    ("single-byte", "bytes=5-5", 10, [(5, 6)]),
    ("open-from-start", "bytes=0-", 10, [(0, 10)]),
    ("last-byte", "bytes=9-9", 10, [(9, 10)]),
    ("last-pos-clipped", "bytes=9-20", 10, [(9, 10)]),
    ("first-at-size", "bytes=10-", 10, UNSATISFIABLE),
    ("first-past-size", "bytes=10-20", 10, UNSATISFIABLE),
    ("suffix-zero", "bytes=-0", 10, UNSATISFIABLE),
    ("suffix-zero-padded", "bytes=-000", 10, UNSATISFIABLE),
    ("suffix-exact", "bytes=-10", 10, [(0, 10)]),
    ("suffix-longer", "bytes=-20", 10, [(0, 10)]),
    ("unsatisfiable-dropped", "bytes=0-1,50-60", 10, [(0, 2)]),
    ("suffix-zero-dropped", "bytes=-0,0-1", 10, [(0, 2)]),
    ("all-unsatisfiable", "bytes=10-,-0,20-30", 10, UNSATISFIABLE),
    # Huge numbers: past int()'s 4300-digit limit.
    ("huge-first", f"bytes={HUGE}-", 10, UNSATISFIABLE),
    ("huge-first-and-last", f"bytes={'8' * 5000}-{HUGE}", 10, UNSATISFIABLE),
    ("huge-last", f"bytes=3-{HUGE}", 10, [(3, 10)]),
    ("huge-suffix", f"bytes=-{HUGE}", 10, [(0, 10)]),
    ("huge-backwards", f"bytes={HUGE}-{'8' * 5000}", 10, None),
    ("huge-zero-padding", f"bytes={'0' * 5000}3-{'0' * 5000}5", 10, [(3, 6)]),
    ("huge-size", "bytes=-1", 10**30, [(10**30 - 1, 10**30)]),
    ("18-digit-first", f"bytes={'9' * 18}-", 10, UNSATISFIABLE),
    ("19-digit-first", f"bytes={'9' * 19}-", 10, UNSATISFIABLE),
    ("18-digit-last", f"bytes=1-{'9' * 18}", 10, [(1, 10)]),
    ("19-digit-last", f"bytes=1-{'9' * 19}", 10, [(1, 10)]),
    ("18-digit-backwards", f"bytes={'9' * 18}-{'8' * 18}", 10, None),
    ("19-digit-in-huge-object", f"bytes={'1' * 19}-", 10**20, [(int('1' * 19), 10**20)]),
    # A zero-length object: 200.
    ("empty-object", "bytes=0-1", 0, None),
    ("empty-object-suffix-zero", "bytes=-0", 0, None),
    ("empty-object-suffix", "bytes=-5", 0, None),
    # Several ranges: request order, not merged; capped; total not above the size.
    ("request-order-kept", "bytes=5-6,0-1", 10, [(5, 7), (0, 2)]),
    ("overlap-kept", "bytes=0-2,1-3", 10, [(0, 3), (1, 4)]),
    ("total-equals-size", "bytes=0-4,5-9", 10, [(0, 5), (5, 10)]),
    ("total-above-size", "bytes=0-5,5-9", 10, None),
    ("whole-twice", "bytes=0-,0-", 10, None),
    ("suffix-twice", "bytes=-6,-6", 10, None),
    ("max-ranges", "bytes=" + ",".join(f"{i}-{i}" for i in range(16)), 100,
     [(i, i + 1) for i in range(16)]),
    ("above-max-ranges", "bytes=" + ",".join(f"{i}-{i}" for i in range(17)), 100, None),
    ("above-max-unsatisfiable", "bytes=" + ",".join(["200-"] * 17), 100, None),
    ("empty-elements-not-counted", "bytes=" + ",,".join(f"{i}-{i}" for i in range(16)), 100,
     [(i, i + 1) for i in range(16)]),
]  # fmt: skip


@pytest.mark.parametrize(("header", "size", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_parse_range(
    header: str | None, size: int, expected: list[tuple[int, int]] | str | None
) -> None:
    if isinstance(expected, str):
        with pytest.raises(RangeNotSatisfiable) as info:
            parse_range(header, size)
        assert info.value.size == size
        assert info.value.status == 416
    else:
        got = parse_range(header, size)
        assert got == (None if expected is None else [ByteRange(a, b) for a, b in expected])


def test_max_ranges_is_configurable() -> None:
    assert parse_range("bytes=0-1,2-3", 10, max_ranges=1) is None
    assert parse_range("bytes=0-1", 10, max_ranges=1) == [ByteRange(0, 2)]
    assert parse_range("bytes=0-1,2-3,4-5", 10, max_ranges=3) is not None
    assert parse_range("bytes=0-1", 10, max_ranges=0) is None


def test_byte_range() -> None:
    r = ByteRange(0, 500)
    assert r.length == 500
    assert r.content_range(10000) == "bytes 0-499/10000"
    assert ByteRange(9999, 10000).content_range(10000) == "bytes 9999-9999/10000"
    with pytest.raises(ValueError):
        ByteRange(5, 4)
    with pytest.raises(ValueError):
        ByteRange(-1, 4)


def test_range_not_satisfiable_is_an_edge_error() -> None:
    err = RangeNotSatisfiable(1234)
    assert isinstance(err, EdgeError)
    assert (err.status, err.size) == (416, 1234)


# --- the brute-force model ------------------------------------------------------------

Spec = tuple[str, str | None]  # (first, last) digit strings; first "" means a suffix-range

small_number = st.integers(0, 50).map(str)
padded_number = st.tuples(st.integers(1, 3), st.integers(0, 50)).map(
    lambda p: "0" * p[0] + str(p[1])
)
huge_number = st.builds(
    lambda head, repeat: head * repeat,
    st.text("0123456789", min_size=1, max_size=3),
    st.integers(4301, 4400),
)
ows = st.sampled_from(["", "", "", " ", "\t", "  "])
unit = st.sampled_from(["bytes", "bytes", "BYTES", "Bytes", "bYtEs"])


@st.composite
def range_requests(draw: st.DrawFn, max_size: int = 40) -> tuple[int, str, list[Spec]]:
    """An object size, a Range header for it, and the specs the header was rendered from."""
    size = draw(st.integers(0, max_size))
    near_size = st.sampled_from([0, 1, size - 1, size, size + 1]).filter(lambda n: n >= 0)
    number = st.one_of(small_number, near_size.map(str), padded_number, huge_number)
    spec = st.one_of(st.tuples(number, st.none() | number), st.tuples(st.just(""), number))
    specs = draw(st.lists(spec, min_size=1, max_size=1) | st.lists(spec, max_size=20))
    plain = draw(st.booleans())  # as players send it: no OWS, no empty elements
    elements: list[str] = []
    for first, last in specs:
        text = f"-{last}" if first == "" else f"{first}-{last or ''}"
        if plain:
            elements.append(text)
        else:
            elements.extend("" for _ in range(draw(st.integers(0, 1))))
            elements.append(draw(ows) + text + draw(ows))
    return size, f"{'bytes' if plain else draw(unit)}={','.join(elements)}", specs


def model(specs: list[Spec], size: int, max_ranges: int) -> list[tuple[int, int]] | str | None:
    """Materialise each range's byte indexes of a small object and read the answer off them."""
    if size == 0 or not specs or len(specs) > max_ranges:
        return None
    selections: list[list[int]] = []
    for first, last in specs:
        if first == "":
            n = int(Decimal(last or "0"))
            selections.append([i for i in range(size) if i >= size - n and n > 0])
            continue
        lo = int(Decimal(first))
        hi = None if last is None else int(Decimal(last))
        if hi is not None and hi < lo:
            return None
        selections.append([i for i in range(size) if lo <= i and (hi is None or i <= hi)])
    chosen = [s for s in selections if s]
    if not chosen:
        return UNSATISFIABLE
    if sum(len(s) for s in chosen) > size:
        return None
    return [(s[0], s[-1] + 1) for s in chosen]


@settings(max_examples=400, deadline=None)
@given(range_requests(), st.integers(1, 20))
def test_parse_range_matches_model(req: tuple[int, str, list[Spec]], max_ranges: int) -> None:
    size, header, specs = req
    expected = model(specs, size, max_ranges)
    if isinstance(expected, str):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size, max_ranges)
    else:
        got = parse_range(header, size, max_ranges)
        assert (None if got is None else [(r.start, r.stop) for r in got]) == expected


def check_ranges(header: str, size: int) -> None:
    try:
        ranges = parse_range(header, size)
    except RangeNotSatisfiable as e:
        assert e.size == size
        return
    if ranges is None:
        return
    assert 1 <= len(ranges) <= 16
    assert all(0 <= r.start < r.stop <= size for r in ranges)
    assert sum(r.length for r in ranges) <= size


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.integers(0, 10**12))
def test_parse_range_any_text(header: str, size: int) -> None:
    check_ranges(header, size)


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789-, \t=", max_size=60), st.integers(0, 100))
def test_parse_range_near_miss_syntax(range_set: str, size: int) -> None:
    check_ranges("bytes=" + range_set, size)


# --- multipart/byteranges -------------------------------------------------------------

PART_HEAD = re.compile(
    rb"--(?P<boundary>[^\r]+)\r\n(?:Content-Type: (?P<type>[^\r]*)\r\n)?"
    rb"Content-Range: bytes (?P<first>[0-9]+)-(?P<last>[0-9]+)/(?P<size>[0-9]+)\r\n\r\n"
)


def read_multipart(body: bytes, boundary: bytes) -> list[tuple[bytes | None, int, bytes]]:
    """Walk a multipart/byteranges body: per part (content type, first byte, bytes)."""
    parts: list[tuple[bytes | None, int, bytes]] = []
    pos = 0
    while True:
        m = PART_HEAD.match(body, pos)
        assert m is not None, body[pos : pos + 80]
        assert m["boundary"] == boundary
        first, last = int(m["first"]), int(m["last"])
        end = m.end() + last - first + 1
        parts.append((m["type"], first, body[m.end() : end]))
        assert body[end : end + 4 + len(boundary)] == b"\r\n--" + boundary
        pos = end + 2
        if body[pos + 2 + len(boundary) :] == b"--\r\n":
            return parts
        assert body[pos + 2 + len(boundary) : pos + 4 + len(boundary)] == b"\r\n"


def assemble(data: bytes, ranges: list[ByteRange], content_type: str, boundary: str) -> bytes:
    parts, closing, total = multipart_layout(ranges, len(data), content_type, boundary)
    assert [r for _, r in parts] == ranges
    body = b"".join(head + data[r.start : r.stop] for head, r in parts) + closing
    assert len(body) == total
    return body


def test_multipart_layout_example() -> None:
    data = bytes(range(10))
    ranges = [ByteRange(5, 7), ByteRange(0, 2)]
    body = assemble(data, ranges, "video/mp4", "B0UND")
    assert body == (
        b"--B0UND\r\nContent-Type: video/mp4\r\nContent-Range: bytes 5-6/10\r\n\r\n\x05\x06"
        b"\r\n--B0UND\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/10\r\n\r\n\x00\x01"
        b"\r\n--B0UND--\r\n"
    )


def test_multipart_layout_without_content_type() -> None:
    body = assemble(b"abc", [ByteRange(0, 1), ByteRange(2, 3)], "", "b")
    assert body == (
        b"--b\r\nContent-Range: bytes 0-0/3\r\n\r\na"
        b"\r\n--b\r\nContent-Range: bytes 2-2/3\r\n\r\nc\r\n--b--\r\n"
    )


@pytest.mark.parametrize(
    ("ranges", "content_type", "boundary"),
    [
        ([], "video/mp4", "b"),
        ([ByteRange(0, 11)], "video/mp4", "b"),
        ([ByteRange(3, 3)], "video/mp4", "b"),
        ([ByteRange(0, 1)], "video/mp4\r\nX-Evil: 1", "b"),
        ([ByteRange(0, 1)], "video/mp4", ""),
        ([ByteRange(0, 1)], "video/mp4", "x" * 71),
        ([ByteRange(0, 1)], "video/mp4", "has space"),
        ([ByteRange(0, 1)], "video/mp4", "crlf\r\n"),
    ],
    ids=["no-parts", "past-end", "empty-part", "crlf-in-type", "empty-boundary",
         "long-boundary", "space-in-boundary", "crlf-in-boundary"],
)  # fmt: skip
def test_multipart_layout_refuses(
    ranges: list[ByteRange], content_type: str, boundary: str
) -> None:
    with pytest.raises(ValueError):
        multipart_layout(ranges, 10, content_type, boundary)


def test_boundary_and_content_type() -> None:
    boundaries = {new_boundary() for _ in range(100)}
    assert len(boundaries) == 100
    for b in boundaries:
        assert re.fullmatch(r"[0-9a-f]{32}", b)
        assert multipart_content_type(b) == f"multipart/byteranges; boundary={b}"
    assert multipart_content_type("a:b") == 'multipart/byteranges; boundary="a:b"'
    with pytest.raises(ValueError):
        multipart_content_type("a b")


boundary_text = st.text("0123456789AZaz'()+_,-./:=?", min_size=1, max_size=70)


@st.composite
def objects_and_ranges(draw: st.DrawFn) -> tuple[bytes, list[ByteRange]]:
    size = draw(st.integers(1, 300))
    data = draw(st.binary(min_size=size, max_size=size))
    ranges: list[ByteRange] = []
    for _ in range(draw(st.integers(1, 8))):
        start = draw(st.integers(0, size - 1))
        ranges.append(ByteRange(start, draw(st.integers(start + 1, size))))
    return data, ranges


@settings(max_examples=200, deadline=None)
@given(
    objects_and_ranges(),
    st.sampled_from(["video/mp4", "application/octet-stream", "", "text/plain; charset=utf-8"]),
    st.one_of(boundary_text, st.builds(new_boundary)),
)
def test_multipart_round_trip(
    object_ranges: tuple[bytes, list[ByteRange]], content_type: str, boundary: str
) -> None:
    data, ranges = object_ranges
    body = assemble(data, ranges, content_type, boundary)
    parts = read_multipart(body, boundary.encode())
    assert len(parts) == len(ranges)
    for (part_type, first, part), r in zip(parts, ranges, strict=True):
        assert part_type == (content_type.encode() if content_type else None)
        assert first == r.start
        assert part == data[r.start : r.stop]


@settings(max_examples=200, deadline=None)
@given(range_requests(), st.randoms())
def test_parsed_ranges_frame_exactly(req: tuple[int, str, list[Spec]], rnd: Random) -> None:
    size, header, _ = req
    data = rnd.randbytes(size)
    try:
        ranges = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if ranges is None:
        return
    boundary = new_boundary()
    parts = read_multipart(assemble(data, ranges, "video/mp4", boundary), boundary.encode())
    assert [p for _, _, p in parts] == [data[r.start : r.stop] for r in ranges]
