"""Steering's errors. Request errors carry their HTTP response (status, message, headers);
`server.error_response` is the one place that turns them into one. `TopologyError` is a
load-time error and never reaches a client: a bad file at start-up stops the service, a
bad file on reload keeps the old topology.
"""

from __future__ import annotations


class TopologyError(ValueError):
    """The topology file is invalid; the message names the site, edge or prefix at fault."""


class SteeringError(Exception):
    """A request that gets an error response instead of an answer."""

    status = 500
    reason = "internal"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store"}


class BadRequest(SteeringError):
    status = 400
    reason = "bad-request"


class NotFound(SteeringError):
    status = 404
    reason = "not-found"


class NoUsableEdge(SteeringError):
    """No site has an edge that may take a new client. 503, never 429 or 410: hls.js stops
    content steering for the rest of the session on either (content-steering-controller's
    onError), whereas after any other error it asks again after the TTL."""

    status = 503
    reason = "no-usable-edge"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store", "Retry-After": str(self.retry_after_s)}
