"""Steering's HTTP surface (DESIGN.md): handlers only translate.

    GET /v1/steer?path=/KEY          JSON: ranked signed URLs, ttl, and what they are
    GET /r/KEY                       302 to the best URL (so `curl -L` works)
    GET /v1/content-steering?...     HLS/DASH steering manifest, pathways = sites
    GET /v1/edges                    every edge's state and why, and the topology's
    GET /healthz, /metrics

Each handler reads the request, calls `Steering`, and returns the answer; a
`SteeringError` becomes its response in `error_response`, the one place that does so.
No handler ever answers 429 (see `errors.NoUsableEdge`). Answers depend on the client
and on health, so they are `private` (steer) or `no-store` (the rest). The transport is
`httpserver`, whose handlers are synchronous: nothing here awaits.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from steering.clientaddr import ClientAddress
from steering.errors import NotFound, SteeringError
from steering.httpserver import Request, Response
from steering.service import CONTENT_STEERING_PATH, Answer, Steering
from steering.urls import parse_key

JSON = "application/json"
_NO_STORE = (("Cache-Control", "no-store"),)


def error_response(exc: SteeringError) -> Response:
    body = json.dumps({"error": exc.reason, "message": exc.message}).encode()
    return Response(exc.status, body, JSON, tuple(exc.headers().items()))


def answer_doc(key: str, answer: Answer) -> dict[str, object]:
    d = answer.decision
    return {
        "urls": list(answer.urls),
        "ttl": answer.ttl_s,
        "expires": answer.expires,
        "key": key,
        "edges": [{"id": e.id, "site": e.site} for e in d.edges],
        "pathways": list(d.pathways),
        "client": {"address": d.client, "prefix": d.prefix or None,
                   "localisation": d.localisation.value},
    }


class SteeringApp:
    """The request handler: routes by path, translates errors once."""

    def __init__(self, steering: Steering) -> None:
        self.steering = steering
        self.clients = ClientAddress(steering.config.trusted_proxies)
        self._exact: dict[str, Callable[[Request], Response]] = {
            "/v1/steer": self.steer,
            CONTENT_STEERING_PATH: self.content_steering,
            "/v1/edges": self.edges,
            "/healthz": self.healthz,
            "/metrics": self.metrics,
        }

    def __call__(self, req: Request) -> Response:
        try:
            handler = self._exact.get(req.path)
            if handler is not None:
                return handler(req)
            if req.path.startswith("/r/"):
                return self.redirect(req)
            raise NotFound(f"no resource at {req.path[:200]}")
        except SteeringError as exc:
            return error_response(exc)

    def _client(self, req: Request) -> str:
        return self.clients(req.peer, req.headers.get("x-forwarded-for"))

    def steer(self, req: Request) -> Response:
        key = parse_key(req.query.get("path"))
        answer = self.steering.steer(self._client(req), key)
        return Response(200, json.dumps(answer_doc(key, answer)).encode(), JSON,
                        (("Cache-Control", f"private, max-age={answer.ttl_s}"),))

    def redirect(self, req: Request) -> Response:
        key = parse_key(req.path[len("/r"):])
        answer = self.steering.steer(self._client(req), key)
        return Response(302, b"", JSON, (("Location", answer.urls[0]), *_NO_STORE))

    def content_steering(self, req: Request) -> Response:
        raw = req.query.get("path")
        key = parse_key(raw) if raw else "/"
        doc = self.steering.content_steering(self._client(req), key, req.query)
        return Response(200, json.dumps(doc).encode(), JSON, _NO_STORE)

    def edges(self, req: Request) -> Response:
        body = json.dumps(self.steering.edges_report(), indent=1).encode()
        return Response(200, body, JSON, _NO_STORE)

    def healthz(self, req: Request) -> Response:
        return Response(200, b"ok\n", "text/plain; charset=utf-8", _NO_STORE)

    def metrics(self, req: Request) -> Response:
        return Response(200, generate_latest(self.steering.metrics.registry),
                        CONTENT_TYPE_LATEST, _NO_STORE)
