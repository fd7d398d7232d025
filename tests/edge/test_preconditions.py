"""edge/preconditions.py: RFC 9110 §13 evaluation order, entity-tag lists, HTTP-dates."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.errors import BadRequest, EdgeError, PreconditionFailed
from edge.preconditions import (
    Precondition,
    Validators,
    _parse_etag_list,
    evaluate,
    http_date,
    if_range_allows,
    parse_http_date,
)

LM = 1_700_000_000
LM_DATE = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Tue, 14 Nov 2023 22:13:21 GMT"
LM_RFC850 = "Tuesday, 14-Nov-23 22:13:20 GMT"
LM_ASCTIME = "Tue Nov 14 22:13:20 2023"

V = Validators('"abc"', LM)
WEAK = Validators('W/"abc"', LM)
NO_ETAG = Validators(None, LM)
NO_LM = Validators('"abc"', None)
NOTHING = Validators(None, None)
COMMA = Validators('"a,b"', LM)
BARE = Validators("abc", LM)

PROCEED = Precondition.PROCEED
NOT_MODIFIED = Precondition.NOT_MODIFIED
FAILED = Precondition.FAILED

# (id, method, headers, validators, expected)
EVALUATE: list[tuple[str, str, dict[str, str], Validators, Precondition]] = [
    ("unconditional", "GET", {}, V, PROCEED),
    ("unconditional-no-validators", "GET", {}, NOTHING, PROCEED),
    # If-Match: strong comparison (§13.1.1).
    ("im-match", "GET", {"if-match": '"abc"'}, V, PROCEED),
    ("im-mismatch", "GET", {"if-match": '"xyz"'}, V, FAILED),
    ("im-in-list", "GET", {"if-match": '"x", "abc"'}, V, PROCEED),
    ("im-list-no-ows", "GET", {"if-match": '"x","abc"'}, V, PROCEED),
    ("im-list-empty-elements", "GET", {"if-match": ', "x",, "abc" ,'}, V, PROCEED),
    ("im-star", "GET", {"if-match": "*"}, V, PROCEED),
    ("im-star-no-etag", "GET", {"if-match": "*"}, NOTHING, PROCEED),
    ("im-weak-request-tag", "GET", {"if-match": 'W/"abc"'}, V, FAILED),
    ("im-weak-validator", "GET", {"if-match": '"abc"'}, WEAK, FAILED),
    ("im-both-weak", "GET", {"if-match": 'W/"abc"'}, WEAK, FAILED),
    ("im-no-etag", "GET", {"if-match": '"abc"'}, NO_ETAG, FAILED),
    ("im-unquoted", "GET", {"if-match": "abc"}, V, FAILED),
    ("im-lowercase-weak", "GET", {"if-match": 'w/"abc"'}, V, FAILED),
    ("im-star-in-list", "GET", {"if-match": '"abc", *'}, V, FAILED),
    ("im-comma-in-tag", "GET", {"if-match": '"a,b"'}, COMMA, PROCEED),
    ("im-comma-split-no-match", "GET", {"if-match": '"a", "b"'}, COMMA, FAILED),
    ("im-bare-validator", "GET", {"if-match": '"abc"'}, BARE, FAILED),
    ("im-empty-tag", "GET", {"if-match": '""'}, Validators('""', LM), PROCEED),
    # If-Unmodified-Since, only without If-Match (§13.1.4, §13.2.2 step 2).
    ("ius-earlier", "GET", {"if-unmodified-since": EARLIER}, V, FAILED),
    ("ius-equal", "GET", {"if-unmodified-since": LM_DATE}, V, PROCEED),
    ("ius-later", "GET", {"if-unmodified-since": LATER}, V, PROCEED),
    ("ius-garbage", "GET", {"if-unmodified-since": "yesterday"}, V, PROCEED),
    ("ius-list", "GET", {"if-unmodified-since": f"{EARLIER}, {EARLIER}"}, V, PROCEED),
    ("ius-no-last-modified", "GET", {"if-unmodified-since": EARLIER}, NO_LM, PROCEED),
    ("ius-ignored-with-im", "GET", {"if-match": '"abc"', "if-unmodified-since": EARLIER},
     V, PROCEED),
    ("ius-rfc850", "GET", {"if-unmodified-since": "Tuesday, 14-Nov-23 22:13:19 GMT"},
     V, FAILED),
    # If-None-Match: weak comparison (§13.1.2); 304 for GET/HEAD, else 412.
    ("inm-match-get", "GET", {"if-none-match": '"abc"'}, V, NOT_MODIFIED),
    ("inm-match-head", "HEAD", {"if-none-match": '"abc"'}, V, NOT_MODIFIED),
    ("inm-match-post", "POST", {"if-none-match": '"abc"'}, V, FAILED),
    ("inm-match-lowercase-method", "get", {"if-none-match": '"abc"'}, V, FAILED),
    ("inm-weak-request-tag", "GET", {"if-none-match": 'W/"abc"'}, V, NOT_MODIFIED),
    ("inm-weak-validator", "GET", {"if-none-match": '"abc"'}, WEAK, NOT_MODIFIED),
    ("inm-star", "GET", {"if-none-match": "*"}, V, NOT_MODIFIED),
    ("inm-star-no-etag", "GET", {"if-none-match": " * "}, NOTHING, NOT_MODIFIED),
    ("inm-mismatch", "GET", {"if-none-match": '"xyz"'}, V, PROCEED),
    ("inm-in-list", "GET", {"if-none-match": 'W/"x", W/"abc"'}, V, NOT_MODIFIED),
    ("inm-no-etag", "GET", {"if-none-match": '"abc"'}, NO_ETAG, PROCEED),
    ("inm-malformed", "GET", {"if-none-match": '"abc'}, V, PROCEED),
    ("inm-comma-in-tag", "GET", {"if-none-match": 'W/"a,b"'}, COMMA, NOT_MODIFIED),
    ("inm-comma-split-no-match", "GET", {"if-none-match": '"a", "b"'}, COMMA, PROCEED),
    # If-Modified-Since, only for GET/HEAD without If-None-Match (§13.1.3).
    ("ims-later", "GET", {"if-modified-since": LATER}, V, NOT_MODIFIED),
    ("ims-equal", "GET", {"if-modified-since": LM_DATE}, V, NOT_MODIFIED),
    ("ims-earlier", "GET", {"if-modified-since": EARLIER}, V, PROCEED),
    ("ims-head", "HEAD", {"if-modified-since": LM_DATE}, V, NOT_MODIFIED),
    ("ims-post-ignored", "POST", {"if-modified-since": LM_DATE}, V, PROCEED),
    ("ims-garbage", "GET", {"if-modified-since": "Tue, 14 Nov 2023"}, V, PROCEED),
    ("ims-list", "GET", {"if-modified-since": f"{LATER}, {LATER}"}, V, PROCEED),
    ("ims-no-last-modified", "GET", {"if-modified-since": LATER}, NO_LM, PROCEED),
    ("ims-rfc850", "GET", {"if-modified-since": LM_RFC850}, V, NOT_MODIFIED),
    ("ims-asctime", "GET", {"if-modified-since": LM_ASCTIME}, V, NOT_MODIFIED),
    # The order of §13.2.2.
    ("inm-mismatch-beats-ims", "GET", {"if-none-match": '"x"', "if-modified-since": LATER},
     V, PROCEED),
    ("inm-match-beats-ims", "GET", {"if-none-match": '"abc"', "if-modified-since": EARLIER},
     V, NOT_MODIFIED),
    ("inm-malformed-beats-ims", "GET", {"if-none-match": "abc", "if-modified-since": LATER},
     V, PROCEED),
    ("im-fail-beats-inm", "GET", {"if-match": '"x"', "if-none-match": '"abc"'}, V, FAILED),
    ("im-pass-then-inm", "GET", {"if-match": '"abc"', "if-none-match": '"abc"'},
     V, NOT_MODIFIED),
    ("ius-fail-beats-inm", "GET", {"if-unmodified-since": EARLIER, "if-none-match": '"abc"'},
     V, FAILED),
    ("ius-pass-then-ims", "GET", {"if-unmodified-since": LATER, "if-modified-since": LATER},
     V, NOT_MODIFIED),
    ("im-fail-beats-ims", "GET", {"if-match": '"x"', "if-modified-since": LATER}, V, FAILED),
]  # fmt: skip


@pytest.mark.parametrize(("method", "headers", "validators", "expected"),
                         [c[1:] for c in EVALUATE], ids=[c[0] for c in EVALUATE])  # fmt: skip
def test_evaluate(
    method: str, headers: dict[str, str], validators: Validators, expected: Precondition
) -> None:
    assert evaluate(method, headers, validators) is expected


# (id, If-Range, validators, honour Range?)
IF_RANGE: list[tuple[str, str | None, Validators, bool]] = [
    ("absent", None, V, True),
    ("absent-no-validators", None, NOTHING, True),
    ("etag-match", '"abc"', V, True),
    ("etag-match-ows", ' "abc"\t', V, True),
    ("etag-mismatch", '"xyz"', V, False),
    ("weak-request-tag", 'W/"abc"', V, False),
    ("weak-validator", '"abc"', WEAK, False),
    ("both-weak", 'W/"abc"', WEAK, False),
    ("no-etag", '"abc"', NO_ETAG, False),
    ("etag-list", '"abc", "xyz"', V, False),
    ("unterminated-tag", '"abc', V, False),
    ("star", "*", V, False),
    ("comma-in-tag", '"a,b"', COMMA, True),
    ("date-exact", LM_DATE, V, True),
    ("date-exact-rfc850", LM_RFC850, V, True),
    ("date-exact-asctime", LM_ASCTIME, V, True),
    ("date-earlier", EARLIER, V, False),
    ("date-later", LATER, V, False),
    ("date-no-last-modified", LM_DATE, NO_LM, False),
    ("garbage", "yesterday", V, False),
    ("empty", "", V, False),
]


@pytest.mark.parametrize(("header", "validators", "expected"), [c[1:] for c in IF_RANGE],
                         ids=[c[0] for c in IF_RANGE])  # fmt: skip
def test_if_range_allows(header: str | None, validators: Validators, expected: bool) -> None:
    assert if_range_allows(header, validators) is expected


# --- HTTP-date (§5.6.7) ---------------------------------------------------------------

RFC_EXAMPLE = 784_111_777  # Sun, 06 Nov 1994 08:49:37 GMT
NOW_2025 = 1_750_000_000.0

DATES: list[tuple[str, str, int | None]] = [
    ("imf-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
    ("rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE),
    ("asctime", "Sun Nov  6 08:49:37 1994", RFC_EXAMPLE),
    ("asctime-two-digit-day", "Sun Nov 06 08:49:37 1994", RFC_EXAMPLE),
    ("epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0),
    ("before-epoch", "Wed, 31 Dec 1969 23:59:59 GMT", -1),
    ("leap-day", "Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000),
    ("leap-second", "Sat, 31 Dec 2016 23:59:60 GMT", 1_483_228_800),
    ("ows-trimmed", " Sun, 06 Nov 1994 08:49:37 GMT\t", RFC_EXAMPLE),
    ("day-name-not-checked", "Mon, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
    ("rfc850-past-century", "Friday, 31-Dec-99 23:59:59 GMT", 946_684_799),
    ("rfc850-near-future", "Monday, 01-Jan-74 00:00:00 GMT", 3_281_990_400),
    ("empty", "", None),
    ("garbage", "yesterday", None),
    ("lowercase", "sun, 06 nov 1994 08:49:37 gmt", None),
    ("utc-not-gmt", "Sun, 06 Nov 1994 08:49:37 UTC", None),
    ("numeric-zone", "Sun, 06 Nov 1994 08:49:37 +0000", None),
    ("one-digit-day", "Sun, 6 Nov 1994 08:49:37 GMT", None),
    ("two-digit-year-imf", "Sun, 06 Nov 94 08:49:37 GMT", None),
    ("no-day-name", "06 Nov 1994 08:49:37 GMT", None),
    ("long-day-name-imf", "Sunday, 06 Nov 1994 08:49:37 GMT", None),
    ("short-day-name-rfc850", "Sun, 06-Nov-94 08:49:37 GMT", None),
    ("feb-30", "Wed, 30 Feb 1994 08:49:37 GMT", None),
    ("day-zero", "Sun, 00 Nov 1994 08:49:37 GMT", None),
    ("hour-24", "Sun, 06 Nov 1994 24:00:00 GMT", None),
    ("minute-60", "Sun, 06 Nov 1994 08:60:00 GMT", None),
    ("second-61", "Sun, 06 Nov 1994 08:49:61 GMT", None),
    ("year-zero", "Sat, 01 Jan 0000 00:00:00 GMT", None),
    ("unicode-digits", "Sun, ٠٦ Nov 1994 08:49:37 GMT", None),
    ("trailing-junk", "Sun, 06 Nov 1994 08:49:37 GMTx", None),
    ("two-dates", "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", None),
    ("inner-newline", "Sun, 06 Nov 1994\n08:49:37 GMT", None),
    ("asctime-one-digit-no-pad", "Sun Nov 6 08:49:37 1994", None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in DATES],
                         ids=[c[0] for c in DATES])  # fmt: skip
def test_parse_http_date(text: str, expected: int | None) -> None:
    assert parse_http_date(text, now_s=NOW_2025) == expected


@pytest.mark.parametrize(
    ("yy", "now_year", "year"),
    [("94", 2025, 1994), ("75", 2025, 2075), ("76", 2025, 1976), ("25", 2025, 2025),
     ("00", 2099, 2100), ("49", 2099, 2149), ("50", 2099, 2050)],
)  # fmt: skip
def test_rfc850_two_digit_year(yy: str, now_year: int, year: int) -> None:
    now_s = float(parse_http_date(f"Mon, 01 Jan {now_year} 00:00:00 GMT") or 0)
    got = parse_http_date(f"Friday, 01-Jan-{yy} 00:00:00 GMT", now_s=now_s)
    assert got == parse_http_date(f"Fri, 01 Jan {year} 00:00:00 GMT")


def test_rfc850_defaults_to_the_clock() -> None:
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == RFC_EXAMPLE


def test_http_date() -> None:
    assert http_date(RFC_EXAMPLE) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(LM) == LM_DATE


timestamps = st.integers(-62_135_596_800, 253_402_300_799)  # 0001-01-01 .. 9999-12-31


@settings(max_examples=300)
@given(timestamps)
def test_http_date_round_trip(ts: int) -> None:
    assert parse_http_date(http_date(ts)) == ts


@settings(max_examples=300)
@given(st.integers(0, 4_102_444_799))  # 1970 .. 2099
def test_other_formats_agree(ts: int) -> None:
    t = time.gmtime(ts)
    assert parse_http_date(time.strftime("%a %b %e %H:%M:%S %Y", t)) == ts
    assert parse_http_date(time.strftime("%A, %d-%b-%y %H:%M:%S GMT", t), now_s=ts) == ts


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_parse_http_date_any_text(text: str) -> None:
    got = parse_http_date(text, now_s=NOW_2025)
    assert got is None or parse_http_date(http_date(got)) == got


# --- entity-tag lists -----------------------------------------------------------------

etagc = st.characters(codec="latin-1", categories=None).filter(
    lambda c: c == "!" or "\x23" <= c <= "\x7e" or c >= "\x80"
)
entity_tags = st.tuples(st.booleans(), st.text(etagc, max_size=8).map(lambda s: f'"{s}"'))
ows = st.sampled_from(["", "", " ", "\t", " \t "])


@settings(max_examples=300)
@given(st.lists(st.tuples(entity_tags, ows, ows, st.booleans()), max_size=6))
def test_etag_list_round_trip(items: list[tuple[tuple[bool, str], str, str, bool]]) -> None:
    elements: list[str] = []
    for (weak, opaque), before, after, empty_first in items:
        if empty_first:
            elements.append(before)
        elements.append(before + ("W/" if weak else "") + opaque + after)
    assert _parse_etag_list(",".join(elements)) == [tag for tag, *_ in items]


@pytest.mark.parametrize(
    "value",
    ['"a" "b"', '"a', 'a', 'W/ "a"', '"a"x', '"a b"', '"a\\"b"', 'W/', '"a";"b"'],
)  # fmt: skip
def test_etag_list_malformed(value: str) -> None:
    assert _parse_etag_list(value) is None


@settings(max_examples=300)
@given(
    st.sampled_from(["GET", "HEAD", "POST"]),
    st.dictionaries(
        st.sampled_from(["if-match", "if-none-match", "if-modified-since",
                         "if-unmodified-since"]),
        st.one_of(st.text(max_size=30), st.sampled_from(['"abc"', 'W/"abc"', "*", LM_DATE])),
    ),
    st.sampled_from([V, WEAK, NO_ETAG, NO_LM, NOTHING, COMMA, BARE]),
    st.one_of(st.none(), st.text(max_size=30)),
)  # fmt: skip
def test_never_raises(
    method: str, headers: dict[str, str], validators: Validators, if_range: str | None
) -> None:
    assert isinstance(evaluate(method, headers, validators), Precondition)
    assert isinstance(if_range_allows(if_range, validators), bool)


def test_errors() -> None:
    assert issubclass(PreconditionFailed, EdgeError) and PreconditionFailed().status == 412
    bad = BadRequest("no such key")
    assert isinstance(bad, EdgeError)
    assert (bad.status, bad.message, str(bad)) == (400, "no such key", "no such key")
