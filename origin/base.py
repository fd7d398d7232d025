"""The origin interface the edge fills from.

`Origin.fetch(key, start, stop)` asks for bytes [start, stop) of an object and returns a
`RangeBody` once the origin's response headers arrived and were checked: its `info`
describes the whole object (size, ETag, type), `start`/`stop` are the bytes the body
carries (stop clipped to the object's size), and iterating it yields the body in chunks
as they arrive. Whoever fetches must `aclose()` the body. Every implementation checks
that a 206 carries exactly the asked range (or a 200 the whole object, when the whole
object was asked for), so the edge never stores bytes from the wrong place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from origin.errors import OriginMismatch, OriginRangeNotSatisfiable

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    etag: str
    last_modified: int | None  # Unix seconds
    content_type: str = DEFAULT_CONTENT_TYPE
    cache_control: str | None = None


class RangeBody(Protocol):
    info: ObjectInfo
    start: int
    stop: int

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Origin(Protocol):
    async def fetch(self, key: str, start: int, stop: int) -> RangeBody: ...

    async def close(self) -> None: ...

    def describe(self) -> str: ...


_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18})", re.ASCII)
_UNSATISFIED = re.compile(r"bytes \*/([0-9]{1,18})", re.ASCII)


def check_partial(content_range: str | None, start: int, stop: int) -> tuple[int, int, int]:
    """Verify a 206's Content-Range against the asked [start, stop); returns
    (start, stop, size) of what it carries, stop clipped to the size."""
    m = _CONTENT_RANGE.fullmatch((content_range or "").strip())
    if m is None:
        raise OriginMismatch(f"bad Content-Range {content_range!r}")
    first, last, size = (int(g) for g in m.groups())
    expected_stop = min(stop, size)
    if first != start or last + 1 != expected_stop:
        raise OriginMismatch(
            f"Content-Range {content_range!r} does not match asked bytes {start}-{stop - 1}"
        )
    return first, last + 1, size


def unsatisfied_size(content_range: str | None) -> OriginRangeNotSatisfiable:
    """The error for an origin 416, carrying the size from `bytes */SIZE`."""
    m = _UNSATISFIED.fullmatch((content_range or "").strip())
    if m is None:
        raise OriginMismatch(f"416 without a usable Content-Range: {content_range!r}")
    return OriginRangeNotSatisfiable(int(m.group(1)))
