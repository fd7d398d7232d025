"""Conditional requests: does a request proceed, get 304 Not Modified, or fail with 412?

Pure: a method, the request's (lower-cased) header fields and the cached object's
validators in, a `Precondition` out; `if_range_allows` says whether a Range may be honoured.
The edge holds its copy's validators (the origin's ETag and Last-Modified) and answers
conditional requests from them without asking the origin, so If-Match and
If-Unmodified-Since are evaluated against what the edge has (DESIGN.md, "RFC 9110
choices"). Call `evaluate` only for an object that exists: `*` is taken to match.

Evaluation follows RFC 9110 §13.2.2 step by step, so If-None-Match wins over
If-Modified-Since and If-Match over If-Unmodified-Since. A malformed entity-tag list
matches nothing: If-Match then fails (412) and If-None-Match lets the request through,
which are the safe outcomes. A date that is not an HTTP-date is ignored (§13.1.3,
§13.1.4). An ETag is kept as sent (`"abc"`, `W/"abc"`); one that is not a valid
entity-tag never matches.

`http_date` and `parse_http_date` convert between Unix seconds and HTTP-date (§5.6.7):
IMF-fixdate out, all three historical formats in.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum

_OWS = " \t"
_SAFE_METHODS = ("GET", "HEAD")
_ETAGC = r"[\x21\x23-\x7e\x80-\xff]"
_ETAG = re.compile(rf'(W/)?("{_ETAGC}*")')
_ETAG_ITEM = re.compile(rf'[ \t]*(?:(W/)?("{_ETAGC}*"))?[ \t]*(,|\Z)')

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = f"({'|'.join(_MONTH_NAMES)})"
_TIME = "([0-9]{2}):([0-9]{2}):([0-9]{2})"
_IMF_FIXDATE = re.compile(rf"{_DAY}, ([0-9]{{2}}) {_MONTH} ([0-9]{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(rf"{_LONG_DAY}, ([0-9]{{2}})-{_MONTH}-([0-9]{{2}}) {_TIME} GMT")
_ASCTIME_DATE = re.compile(rf"{_DAY} {_MONTH} ([0-9]{{2}}| [0-9]) {_TIME} ([0-9]{{4}})")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Precondition(Enum):
    PROCEED = "proceed"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Validators:
    """What the edge knows about its copy: the ETag as sent, Last-Modified in Unix seconds."""

    etag: str | None
    last_modified: int | None


def evaluate(method: str, headers: Mapping[str, str], v: Validators) -> Precondition:
    """The outcome of a request's preconditions, in the order of RFC 9110 §13.2.2."""
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _list_matches(if_match, v.etag, strong=True):
            return Precondition.FAILED  # §13.2.2 step 1, §13.1.1
    else:
        since = _parse_date_field(headers.get("if-unmodified-since"))
        if since is not None and v.last_modified is not None and v.last_modified > since:
            return Precondition.FAILED  # §13.2.2 step 2, §13.1.4
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if _list_matches(if_none_match, v.etag, strong=False):
            # §13.2.2 step 3, §13.1.2: 304 for GET and HEAD, 412 for any other method
            if method in _SAFE_METHODS:
                return Precondition.NOT_MODIFIED
            return Precondition.FAILED
    elif method in _SAFE_METHODS:
        since = _parse_date_field(headers.get("if-modified-since"))
        if since is not None and v.last_modified is not None and v.last_modified <= since:
            return Precondition.NOT_MODIFIED  # §13.2.2 step 4, §13.1.3
    return Precondition.PROCEED


def if_range_allows(header: str | None, v: Validators) -> bool:
    """Whether a Range may be honoured given the If-Range field `header` (RFC 9110 §13.1.5).

    False means: ignore Range and send the whole object with 200.
    """
    if header is None:
        return True
    value = header.strip(_OWS)
    if value.startswith(('"', "W/")):
        # §13.1.5: an entity-tag matches only by strong comparison, so a weak one never does.
        tag = _parse_etag(value)
        own = _parse_etag(v.etag)
        return tag is not None and own is not None and _strong_match(tag, own)
    # §13.1.5: a date matches only if it equals the Last-Modified exactly.
    modified = parse_http_date(value)
    return modified is not None and modified == v.last_modified


def http_date(ts: int) -> str:
    """Unix seconds as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (§5.6.7)."""
    t = time.gmtime(ts)
    return (
        f"{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(s: str, *, now_s: float | None = None) -> int | None:
    """An HTTP-date in any of the three formats of §5.6.7 as Unix seconds; None if it is not one.

    HTTP-date is case-sensitive and the day name is not checked against the date. `now_s`
    (default: the clock) places RFC 850's two-digit years.
    """
    s = s.strip(_OWS)
    m = _IMF_FIXDATE.fullmatch(s)
    if m is not None:
        day, month, year, hour, minute, second = m.groups()
        return _timestamp(int(year), month, int(day), hour, minute, second)
    m = _RFC850_DATE.fullmatch(s)
    if m is not None:
        day, month, yy, hour, minute, second = m.groups()
        # §5.6.7: a two-digit year more than 50 years in the future is in the past.
        latest = time.gmtime(time.time() if now_s is None else now_s).tm_year + 50
        year = latest - (latest - int(yy)) % 100
        return _timestamp(year, month, int(day), hour, minute, second)
    m = _ASCTIME_DATE.fullmatch(s)
    if m is not None:
        month, day, hour, minute, second, year = m.groups()
        return _timestamp(int(year), month, int(day), hour, minute, second)
    return None


def _timestamp(year: int, month: str, day: int, hour: str, minute: str, second: str) -> int | None:
    h, m, s = int(hour), int(minute), int(second)
    if h > 23 or m > 59 or s > 60:  # §5.6.7: second 60 is a leap second
        return None
    try:
        days = date(year, _MONTH_NUMBERS[month], day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    return days * 86400 + h * 3600 + m * 60 + s


def _parse_date_field(value: str | None) -> int | None:
    return None if value is None else parse_http_date(value)


def _parse_etag(value: str | None) -> tuple[bool, str] | None:
    """`(weak, opaque-tag)` of one entity-tag (§8.8.3), or None if `value` is not one."""
    if value is None:
        return None
    m = _ETAG.fullmatch(value)
    if m is None:
        return None
    return m.group(1) is not None, m.group(2)


def _parse_etag_list(value: str) -> list[tuple[bool, str]] | None:
    """The entity-tags of a `#entity-tag` field value, or None if it is malformed.

    §5.6.1.2: empty list elements and OWS around commas are accepted. A comma inside a
    quoted opaque-tag is part of the tag.
    """
    tags: list[tuple[bool, str]] = []
    pos = 0
    while True:
        m = _ETAG_ITEM.match(value, pos)
        if m is None:
            return None
        weak, opaque, comma = m.groups()
        if opaque is not None:
            tags.append((weak is not None, opaque))
        if not comma:
            return tags
        pos = m.end()


def _list_matches(field: str, etag: str | None, *, strong: bool) -> bool:
    """Whether an If-Match / If-None-Match value matches the representation (§13.1.1-2)."""
    field = field.strip(_OWS)
    if field == "*":
        return True
    own = _parse_etag(etag)
    tags = _parse_etag_list(field)
    if own is None or tags is None:
        return False
    if strong:
        return any(_strong_match(tag, own) for tag in tags)
    return any(tag[1] == own[1] for tag in tags)  # §8.8.3.2: weak comparison


def _strong_match(a: tuple[bool, str], b: tuple[bool, str]) -> bool:
    """§8.8.3.2: strong comparison: neither tag is weak and the opaque-tags are equal."""
    return not a[0] and not b[0] and a[1] == b[1]
