"""Steering's HTTP surface (DESIGN.md): handlers only translate.

    GET /v1/steer?path=/KEY          JSON: ranked signed URLs, ttl, and what they are
    GET /r/KEY                       302 to the best URL (so `curl -L` works)
    GET /v1/content-steering?...     HLS/DASH steering manifest: sites as pathways, each
                                     a clone of the encoder's pathway on its best edge
    GET /v1/edges                    every edge's state and why, and the topology's
    GET /healthz, /metrics

Each handler reads the request, calls `Steering`, and returns the answer; a
`SteeringError` becomes its response in `error_response`, the one place that does so.
No handler ever answers 429 (see `errors.NoUsableEdge`). Answers depend on the client
and on health, so they are `private` (steer) or `no-store` (the rest). The transport is
`common.http`, called synchronously: every answer here is pure CPU (decide, sign,
serialise), so `SteeringApp.serve` answers inline with one write, no task and no await,
and pipelined requests are answered in order for free. Only GET and HEAD exist (others
get 405) and the request target must be a path (else 400).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common import http
from steering.clientaddr import ClientAddress
from steering.errors import NotFound, SteeringError
from steering.service import CONTENT_STEERING_PATH, Answer, Steering
from steering.urls import parse_key, title_scope

log = logging.getLogger("ocdn.steering.server")
_json_str = json.encoder.encode_basestring_ascii  # json.dumps of one str, without the rest

JSON = "application/json"
_NO_STORE = (("Cache-Control", "no-store"),)
MAX_URL_BYTES = 8 * 1024  # steering URLs are short; a longer one is an error or an attack
MAX_BODY_BYTES = 64 * 1024  # GET and HEAD only: a body is read, bounded and ignored
SERVER_NAME = "ocdn-steering"
HEAD_MEMO_ENTRIES = 1 << 16


@dataclass(slots=True)
class Request:
    method: str
    path: str  # as sent: percent-escapes kept, no query, no fragment
    query_string: str
    headers: Mapping[str, str]  # lower-case names; repeats joined with ", "
    peer: str
    _query: dict[str, str] | None = None

    @property
    def query(self) -> Mapping[str, str]:
        """Decoded query parameters; the first of repeated names wins."""
        if self._query is None:
            qs = self.query_string
            q: dict[str, str] = {}
            if "&" not in qs and "%" not in qs and "+" not in qs:
                if qs:
                    name, _, value = qs.partition("=")
                    q[name] = value
            else:
                for k, v in parse_qsl(qs, keep_blank_values=True):
                    q.setdefault(k, v)
            self._query = q
        return self._query


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _plain(status: int, message: str, *headers: tuple[str, str]) -> Response:
    return Response(status, (message + "\n").encode(), "text/plain; charset=utf-8", headers)


def http_server(app: SteeringApp, idle_timeout_s: float = 75.0) -> http.HttpServer:
    """The HTTP server that answers with `app`."""
    return http.HttpServer(app.serve, idle_timeout_s, max_body_bytes=MAX_BODY_BYTES,
                           max_url_bytes=MAX_URL_BYTES, server_name=SERVER_NAME)


def error_response(exc: SteeringError) -> Response:
    body = json.dumps({"error": exc.reason, "message": exc.message}).encode()
    return Response(exc.status, body, JSON, tuple(exc.headers().items()))


def title_of(query: Mapping[str, str]) -> tuple[str, str]:
    """(the content key, the title's directory) of a content-steering request:
    `path=/t1/hls.m3u8` (the playlist) gives ("/t1/hls.m3u8", "/t1/"), `title=t1` (the
    encoder's `--steering-url ...?title={title}`) gives ("/t1", "/t1/"), neither ("/", "")."""
    raw = query.get("path")
    if raw:
        key = parse_key(raw)
        return key, title_scope(key)
    title = query.get("title")
    if title:
        key = parse_key("/" + title)
        return key, key + "/"
    return "/", ""


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
        # id(urls) -> (urls, key, JSON up to the client's part); see `_steer_body`
        self._heads: dict[int, tuple[tuple[str, ...], str, str]] = {}
        self._exact: dict[str, Callable[[Request], Response]] = {
            "/v1/steer": self.steer,
            CONTENT_STEERING_PATH: self.content_steering,
            "/v1/edges": self.edges,
            "/healthz": self.healthz,
            "/metrics": self.metrics,
        }

    def serve(self, raw: http.Request, conn: http.Connection) -> None:
        """The `common.http` handler: translate, answer, one write."""
        method = raw.method
        if method != "GET" and method != "HEAD":
            resp = _plain(405, "method not allowed", ("Allow", "GET, HEAD"))
        else:
            path = raw.path.decode("latin-1").partition("#")[0]
            if not path.startswith("/"):
                resp = _plain(400, "request target must be a path")
            else:
                req = Request(method, path, raw.query.decode("latin-1"), raw.headers, raw.peer)
                try:
                    resp = self(req)
                except Exception:
                    log.exception("handler failed for %s %s", method, path[:200])
                    resp = _plain(500, "internal error")
        headers = list(resp.headers)
        if resp.body or resp.status >= 300:
            headers.insert(0, ("Content-Type", resp.content_type))
        conn.respond(resp.status, headers, resp.body, head_only=method == "HEAD")

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
        return Response(200, self._steer_body(key, answer), JSON,
                        (("Cache-Control", f"private, max-age={answer.ttl_s}"),))

    def _steer_body(self, key: str, answer: Answer) -> bytes:
        """`json.dumps(answer_doc(key, answer))`, byte for byte, from a cached head: all
        but the client part is the same for every answer that shares its URL tuple (the
        service hands out one tuple per plan and token window). Saves ~8 µs of ~35."""
        urls = answer.urls
        hit = self._heads.get(id(urls))
        if hit is None or hit[0] is not urls or hit[1] != key:
            doc = answer_doc(key, answer)
            del doc["client"]
            text = json.dumps(doc)
            hit = (urls, key, f'{text[:-1]}, "client": ')
            if len(self._heads) >= HEAD_MEMO_ENTRIES:
                self._heads.clear()
            self._heads[id(urls)] = hit
        d = answer.decision
        prefix = _json_str(d.prefix) if d.prefix else "null"
        return (f'{hit[2]}{{"address": {_json_str(d.client)}, "prefix": {prefix}, '
                f'"localisation": "{d.localisation.value}"}}}}').encode()

    def redirect(self, req: Request) -> Response:
        key = parse_key(req.path[len("/r"):])
        answer = self.steering.steer(self._client(req), key)
        return Response(302, b"", JSON, (("Location", answer.urls[0]), *_NO_STORE))

    def content_steering(self, req: Request) -> Response:
        key, scope = title_of(req.query)
        doc = self.steering.content_steering(self._client(req), key, req.query, scope)
        return Response(200, json.dumps(doc).encode(), JSON, _NO_STORE)

    def edges(self, req: Request) -> Response:
        body = json.dumps(self.steering.edges_report(), indent=1).encode()
        return Response(200, body, JSON, _NO_STORE)

    def healthz(self, req: Request) -> Response:
        return Response(200, b"ok\n", "text/plain; charset=utf-8", _NO_STORE)

    def metrics(self, req: Request) -> Response:
        return Response(200, generate_latest(self.steering.metrics.registry),
                        CONTENT_TYPE_LATEST, _NO_STORE)
