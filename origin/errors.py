"""What can go wrong at the origin; each carries the status the edge answers with."""

from __future__ import annotations


class OriginError(Exception):
    """The origin failed (5xx, reset, a response that does not verify): the edge answers 502."""

    status = 502
    retryable = True


class OriginTimeout(OriginError):
    """The origin did not answer in time: 504."""

    status = 504


class OriginNotFound(OriginError):
    """The origin has no such object: 404 (cached briefly as a negative entry)."""

    status = 404
    retryable = False


class OriginDenied(OriginError):
    """The origin refused us (403 or another 4xx): 502, never retried."""

    retryable = False


class OriginMismatch(OriginError):
    """The origin answered, but not with the bytes asked for (Content-Range, length)."""

    retryable = False


class OriginRangeNotSatisfiable(OriginError):
    """The range starts past the object's end; `size` is the object's length."""

    status = 416
    retryable = False

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"range not satisfiable, object size {size}")
