"""The edge's operational surface: /healthz, /status, /metrics and the admin API.

/admin/ needs `Authorization: Bearer <admin token>` (compared in constant time) and is
off (404) when no admin token file is configured:

    POST /admin/purge     {"key": K} or {"prefix": P}  (or ?key= / ?prefix=)
    POST /admin/prefill   {"items": [{"key": K, "bytes": N}, ...]}  first N bytes, or all
    POST /admin/drain     report `draining`: steering sends no new clients
    POST /admin/undrain   back to `up`
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from common import build
from common.http import Connection, HttpServer, Request
from common.status import EdgeState, EdgeStatus
from edge.errors import BadRequest
from edge.keys import object_key
from edge.metrics import EdgeCollector
from edge.policy import SliceKey
from edge.slices import bounds, covering, disk_bytes
from origin.errors import OriginError

if TYPE_CHECKING:
    from edge.app import EdgeApp

log = logging.getLogger("ocdn.edge.admin")

PREFILL_CONCURRENCY = 4


class Admin:
    def __init__(self, app: EdgeApp) -> None:
        self.app = app
        self.http: HttpServer | None = None  # set by the server once it listens
        self.compiled_modules = len(build.compiled())  # fixed for the process's life
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(EdgeCollector(app.metrics, self._gauges))
        self._prefill_tasks: set[asyncio.Task[None]] = set()
        self._prefill_gate = asyncio.Semaphore(PREFILL_CONCURRENCY)

    def _gauges(self) -> dict[str, Any]:
        app = self.app
        stats = app.fills.stats
        return {
            "origin_retries": getattr(app.fills.origin, "retries", 0),
            "coalesced": stats.coalesced,
            "fills_in_flight": len(app.fills.inflight),
            "cache_bytes": app.store.used_bytes,
            "cache_capacity_bytes": app.store.capacity_bytes,
            "cache_objects": len(app.store.index),
            "cache_slices": len(app.policy),
            "evictions": app.store.evictions,
            "disk_write_bytes": stats.committed_bytes,
            "window_memory_bytes": app.store.staging.held_bytes,
            "window_memory_slices": len(app.store.staging),
            "window_held": stats.held,
            "window_promoted": stats.promoted,
            "window_spilled": app.store.staging.spilled,
            "connections": self.connections(),
            "send_timeouts": self.http.send_timeouts if self.http else 0,
            "index_ready": int(app.store.indexed),
            "compiled_modules": self.compiled_modules,
        }

    def connections(self) -> int:
        return len(self.http.connections) if self.http else 0

    def status(self) -> EdgeStatus:
        app = self.app
        return EdgeStatus(
            id=app.edge_id, site=app.site, state=app.state,
            connections=self.connections(),
            egress_bytes_per_s=app.egress_bytes_per_s,
            cache_bytes_used=app.store.used_bytes,
            cache_bytes_capacity=app.store.capacity_bytes,
            hit_ratio=round(app.hit_ratio(), 4),
        )

    def handle(self, req: Request, conn: Connection) -> Awaitable[None] | None:
        path = req.path
        head_only = req.method == "HEAD"
        if path == b"/healthz":
            return self._reply(req, conn, 200, b"ok\n", "text/plain", head_only)
        if path == b"/status":
            body = self.status().to_json().encode()
            return self._reply(req, conn, 200, body, "application/json", head_only)
        if path == b"/metrics":
            return self._reply(req, conn, 200, generate_latest(self.registry),
                               CONTENT_TYPE_LATEST, head_only)
        return self._admin(req, conn)

    def _reply(self, req: Request, conn: Connection, status: int, body: bytes, ctype: str,
               head_only: bool = False, extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", ctype), ("Cache-Control", "no-store"), *(extra or [])]
        conn.respond(status, headers, body, head_only)
        self.app._done(req, status, "none", 0, "")

    def _json(self, req: Request, conn: Connection, status: int, doc: Any) -> None:
        self._reply(req, conn, status, json.dumps(doc).encode() + b"\n", "application/json")

    def _admin(self, req: Request, conn: Connection) -> Awaitable[None] | None:
        token = self.app.admin_token
        if token is None:
            return self._json(req, conn, 404, {"error": "admin API disabled"})
        auth = req.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 token.encode()):
            return self._reply(req, conn, 401, b'{"error": "bad or missing bearer token"}\n',
                               "application/json", extra=[("WWW-Authenticate", "Bearer")])
        if req.method != "POST":
            return self._reply(req, conn, 405, b'{"error": "use POST"}\n', "application/json",
                               extra=[("Allow", "POST")])
        action = req.path[len(b"/admin/"):].decode("latin-1")
        try:
            doc = self._body(req)
            if action == "drain":
                self.app.state = EdgeState.DRAINING
                return self._json(req, conn, 200, {"state": self.app.state.value})
            if action == "undrain":
                self.app.state = EdgeState.UP
                return self._json(req, conn, 200, {"state": self.app.state.value})
            if action == "purge":
                return self._purge(req, conn, doc)
            if action == "prefill":
                return self._json(req, conn, 202, {"accepted": self._prefill(doc)})
        except BadRequest as exc:
            return self._json(req, conn, 400, {"error": exc.message})
        return self._json(req, conn, 404, {"error": f"no admin action {action!r}"})

    def _body(self, req: Request) -> dict[str, Any]:
        doc: dict[str, Any] = {k: v[0] for k, v in parse_qs(req.query.decode("latin-1")).items()}
        if req.body:
            try:
                parsed = json.loads(req.body)
            except ValueError:
                raise BadRequest("body is not JSON") from None
            if not isinstance(parsed, dict):
                raise BadRequest("body must be a JSON object")
            doc.update(parsed)
        return doc

    def _purge(self, req: Request, conn: Connection, doc: dict[str, Any]) -> Awaitable[None]:
        async def run() -> None:
            store = self.app.store
            if "key" in doc:
                key = object_key(b"/" + str(doc["key"]).lstrip("/").encode())
                purged = int(store.drop(key))
                self.app.negative.pop(key, None)
            elif "prefix" in doc and isinstance(doc["prefix"], str):
                if store._index_task is not None:
                    await store._index_task  # purge what is on disk, not only what is indexed
                prefix = doc["prefix"].lstrip("/")
                purged = store.drop_prefix(prefix)
                for key in [k for k in self.app.negative if k.startswith(prefix)]:
                    self.app.negative.pop(key, None)
            else:
                raise BadRequest("purge needs a key or a prefix")
            log.info("purged %d objects (%s)", purged, doc)
            self._json(req, conn, 200, {"purged": purged})

        async def guarded() -> None:
            try:
                await run()
            except BadRequest as exc:
                self._json(req, conn, 400, {"error": exc.message})

        return guarded()

    def _prefill(self, doc: dict[str, Any]) -> int:
        items = doc.get("items")
        if not isinstance(items, list) or not items:
            raise BadRequest('prefill needs {"items": [{"key": K, "bytes": N}, ...]}')
        accepted = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise BadRequest("each prefill item needs a string key")
            nbytes = item.get("bytes")
            if nbytes is not None and (not isinstance(nbytes, int) or nbytes <= 0):
                raise BadRequest("prefill bytes must be a positive integer")
            accepted.append((object_key(b"/" + item["key"].lstrip("/").encode()), nbytes))
        for key, nbytes in accepted:
            task = asyncio.get_running_loop().create_task(self._prefill_one(key, nbytes))
            self._prefill_tasks.add(task)
            task.add_done_callback(self._prefill_tasks.discard)
        return len(accepted)

    async def _prefill_one(self, key: str, nbytes: int | None) -> None:
        """Fetch the first `nbytes` of `key` (all of it if None) into the cache; the
        operator's choice overrides admission (Policy.add)."""
        app = self.app
        async with self._prefill_gate:
            try:
                entry = app.store.lookup(key)
                if entry is None:
                    fill = app.fills.get(SliceKey(key, 0), None)
                    meta = await fill.meta
                    fill.admit = True
                    first = bounds(0, meta.size, app.slice_bytes)[1]
                    app.store.evict(app.policy.add(fill.key, disk_bytes(first)))
                else:
                    meta = entry.meta
                limit = meta.size if nbytes is None else min(nbytes, meta.size)
                for index in covering(0, limit, app.slice_bytes):
                    entry = app.store.lookup(key)
                    skey = SliceKey(key, index)
                    if entry is not None and index in entry.present:
                        continue
                    start, stop = bounds(index, meta.size, app.slice_bytes)
                    fill = app.fills.get(skey, meta)
                    if not fill.admit:
                        fill.admit = True
                        app.store.evict(app.policy.add(skey, disk_bytes(stop - start)))
                    async for _ in fill.read(0, stop - start, meta):
                        pass
            except OriginError as exc:
                log.warning("prefill of %s failed: %s", key, exc)
