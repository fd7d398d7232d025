"""Errors the edge turns into HTTP responses.

Each exception carries what its response needs (`status`, and for a 416 the object size
for `Content-Range: bytes */SIZE`); the server translates them to HTTP in one place.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base class: `status` is the HTTP status code the request ends with."""

    status: int = 500


class RangeNotSatisfiable(EdgeError):
    """No range in the request overlaps the object (RFC 9110 §15.5.17)."""

    status = 416

    def __init__(self, size: int) -> None:
        super().__init__(f"no satisfiable range in an object of {size} bytes")
        self.size = size


class PreconditionFailed(EdgeError):
    """If-Match or If-Unmodified-Since evaluated false (RFC 9110 §15.5.13)."""

    status = 412

    def __init__(self, message: str = "precondition failed") -> None:
        super().__init__(message)
        self.message = message


class BadRequest(EdgeError):
    """The request cannot be served as sent (RFC 9110 §15.5.1)."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(EdgeError):
    """The URL token is missing, expired, tampered with or for another path (403)."""

    status = 403

    def __init__(self, message: str = "forbidden") -> None:
        super().__init__(message)
        self.message = message
