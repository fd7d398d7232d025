"""Wiring: config -> origin, policy, store, fills, app, HTTP server; start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import time

from common import build
from common.config import ConfigError
from common.http import HttpServer
from common.tokens import KeyRing, read_key_file
from edge.accesslog import AccessLog
from edge.app import EdgeApp
from edge.config import EdgeConfig
from edge.fill import FillManager
from edge.metrics import EdgeMetrics
from edge.policy import make_policy
from edge.store import SliceStore
from origin.base import Origin
from origin.retry import RetryPolicy

log = logging.getLogger("ocdn.edge")


def make_origin(cfg: EdgeConfig) -> Origin:
    retry = RetryPolicy(attempts=cfg.origin_attempts)
    if cfg.origin.startswith("s3://"):
        from origin.s3 import S3Origin, parse_s3_url  # boto3 loads only when used


        return S3Origin(parse_s3_url(cfg.origin), cfg.s3_endpoint, cfg.origin_pool,
                        cfg.origin_connect_timeout_s, cfg.origin_read_timeout_s, retry)
    from origin.http import HttpOrigin

    return HttpOrigin(cfg.origin, cfg.origin_pool, cfg.origin_connect_timeout_s,
                      cfg.origin_read_timeout_s, retry)


def _secrets(cfg: EdgeConfig) -> tuple[KeyRing | None, str | None]:
    tokens = None
    if cfg.token_secret_file:
        try:
            tokens = read_key_file(cfg.token_secret_file)
        except ValueError as exc:
            raise ConfigError("token_secret_file", str(exc)) from None
    admin = None
    if cfg.admin_token_file:
        try:
            with open(cfg.admin_token_file) as fh:
                admin = fh.read().strip()
        except OSError as exc:
            raise ConfigError("admin_token_file", exc.strerror or str(exc)) from None
        if len(admin) < 16:
            raise ConfigError("admin_token_file", "the admin token must be 16+ characters")
    return tokens, admin


def _raise_fd_limit() -> None:
    """Lift the soft open-file limit to the hard one: each connection and each cached slice
    fd (store.MAX_OPEN_FDS) needs one, and a 1024 default runs out under load."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Edge:
    """A running edge; `start()` then `serve_forever()` or `stop()`."""

    def __init__(self, cfg: EdgeConfig) -> None:
        _raise_fd_limit()
        self.cfg = cfg
        tokens, admin = _secrets(cfg)
        self.origin = make_origin(cfg)
        self.store = SliceStore(cfg.cache_dir, cfg.slice_size,
                                make_policy(cfg.policy, cfg.cache_size), cfg.window_memory,
                                cfg.revalidate_after_s)
        self.metrics = EdgeMetrics()
        self.fills = FillManager(self.origin, self.store, self.metrics.origin)
        self.access_log = AccessLog(cfg.access_log)
        self.app = EdgeApp(
            self.store, self.fills, self.metrics, self.access_log,
            edge_id=cfg.id, site=cfg.site, max_ranges=cfg.max_ranges,
            negative_ttl_s=cfg.negative_ttl_s, prefetch_slices=cfg.prefetch_slices,
            send_mode=cfg.send_mode, sendfile_min_bytes=cfg.sendfile_min_bytes,
            tokens=tokens, admin_token=admin,
        )
        self.http = HttpServer(self.app, cfg.keepalive_timeout_s,
                               send_timeout_s=cfg.send_timeout_s)
        self.app.admin.http = self.http
        self._ticker: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        try:
            self.store.open()
        except OSError as exc:
            raise ConfigError("cache_dir", f"cannot use {self.cfg.cache_dir}: {exc}") from None
        self.store.start_indexing()
        host, port = self.cfg.listen
        try:
            await self.http.start(host, port)
        except OSError as exc:
            raise ConfigError("listen", f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        compiled = self.app.admin.compiled_modules
        log.info("edge %s serving on http://%s:%d from %s (cache %s, %d bytes, policy %s, "
                 "window memory %d bytes, hot path %s)", self.cfg.id, host, self.http.port,
                 self.origin.describe(), self.cfg.cache_dir, self.cfg.cache_size,
                 self.store.policy.name, self.cfg.window_memory,
                 f"compiled: {compiled} of {len(build.HOT_PATH)} modules" if compiled
                 else "interpreted")

    async def _tick(self) -> None:
        """Once a second: egress rate for /status (EWMA over ~5 s), access-log flush."""
        served = self.metrics.served_bytes
        last_bytes = served["hit"] + served["miss"]
        last_t = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            total = served["hit"] + served["miss"]
            rate = (total - last_bytes) / max(now - last_t, 1e-6)
            self.app.egress_bytes_per_s += 0.2 * (rate - self.app.egress_bytes_per_s)
            last_bytes, last_t = total, now
            self.access_log.flush()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        await self.http.stop()
        await self.fills.close()
        await self.origin.close()
        self.access_log.close()
        self._stopped.set()

    def _reopen_logs(self) -> None:
        """SIGHUP: reopen the access log (logrotate moved it; deploy/logrotate/ocdn)."""
        self.access_log.reopen()
        log.info("edge %s reopened its access log", self.cfg.id)

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, self._reopen_logs)
        await stop.wait()
        log.info("edge %s stopping", self.cfg.id)
        await self.stop()


async def run_edge(cfg: EdgeConfig) -> None:
    edge = Edge(cfg)
    await edge.start()
    await edge.serve_forever()
