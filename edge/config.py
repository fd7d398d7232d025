"""The edge's settings: one declaration gives flags, environment and TOML keys."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from common.config import ConfigError, option
from common.logs import parse_level
from common.sizes import parse_size
from edge.policy import parse_policy
from edge.staging import DEFAULT_WINDOW_MEMORY


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` -> (host, port)."""
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return host, int(port)


def _origin(value: str) -> str:
    text = str(value).strip()
    if not text.startswith(("s3://", "http://", "https://")):
        raise ValueError(
            f"expected s3://BUCKET[/PREFIX] or http://HOST:PORT[/PREFIX], got {value!r}")
    return text


def _positive_float(value: str | float) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"must be greater than 0, got {value!r}")
    return number


def _send_mode(value: str) -> str:
    mode = str(value).strip().lower()
    if mode not in ("auto", "sendfile", "pread"):
        raise ValueError(f"expected auto, sendfile or pread, got {value!r}")
    return mode


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    origin: str = field(default="", metadata=option(
        "where to fill from: s3://BUCKET[/PREFIX] or http://PARENT[:PORT][/PREFIX]",
        parse=_origin))
    listen: tuple[str, int] = field(default=("127.0.0.1", 8080), metadata=option(
        "address to serve on, HOST:PORT", parse=parse_listen))
    s3_endpoint: str | None = field(default=None, metadata=option(
        "S3 endpoint URL (the embedded origin, MinIO); default: AWS"))
    cache_dir: str = field(default="var/edge-cache", metadata=option(
        "directory holding the slice store"))
    cache_size: int = field(default=10 << 30, metadata=option(
        "bytes of slices kept on disk (KiB/MiB/GiB/TiB suffixes)", parse=parse_size))
    slice_size: int = field(default=2 << 20, metadata=option(
        "fill granularity: aligned slices of this size", parse=parse_size))
    policy: str = field(default="default", metadata=option(
        "admission/eviction policy (see `ocdn bench replay`)", parse=parse_policy))
    window_memory: int = field(default=DEFAULT_WINDOW_MEMORY, metadata=option(
        "memory holding the policy's new (window) slices until it promotes them to disk;"
        " 0 writes every admitted slice at once", parse=parse_size))
    workers: int = field(default=1, metadata=option("worker processes (1 for now)"))
    id: str = field(default="edge-1", metadata=option("this edge's id in the topology"))
    site: str = field(default="", metadata=option("this edge's site id in the topology"))
    token_secret_file: str | None = field(default=None, metadata=option(
        "URL-token key file (KID=SECRET lines); when set, object requests need a valid token"))
    admin_token_file: str | None = field(default=None, metadata=option(
        "file holding the bearer token for /admin/ (admin API disabled without it)"))
    access_log: str = field(default="-", metadata=option(
        "JSON-lines access log: a file path, '-' for stdout, 'off'"))
    log_level: str = field(default="info", metadata=option("log level", parse=parse_level))
    prefetch_slices: int = field(default=1, metadata=option(
        "slices filled ahead of a sequential reader"))
    max_ranges: int = field(default=16, metadata=option(
        "most ranges honoured in one request; more are ignored (200)"))
    negative_ttl_s: float = field(default=10.0, metadata=option(
        "seconds an origin 404 is remembered", parse=_positive_float))
    revalidate_after_s: float = field(default=3600.0, metadata=option(
        "seconds an object's version is trusted when the origin's Cache-Control sets no"
        " max-age; then the next hit asks the origin again, in the background",
        parse=_positive_float))
    origin_connect_timeout_s: float = field(default=3.0, metadata=option(
        "origin connect timeout", parse=_positive_float))
    origin_read_timeout_s: float = field(default=10.0, metadata=option(
        "origin read timeout", parse=_positive_float))
    origin_attempts: int = field(default=3, metadata=option(
        "origin tries per slice (retries on 5xx, throttling, resets; never on 4xx)"))
    origin_pool: int = field(default=16, metadata=option(
        "origin connections (and boto3 threads)"))
    send_mode: str = field(default="auto", metadata=option(
        "how hits leave: sendfile, pread (+write), or auto (by size)", parse=_send_mode))
    sendfile_min_bytes: int = field(default=64 << 10, metadata=option(
        "in auto mode, ranges at least this big go by sendfile", parse=parse_size))
    keepalive_timeout_s: float = field(default=75.0, metadata=option(
        "idle keep-alive connections are closed after this", parse=_positive_float))
    send_timeout_s: float = field(default=60.0, metadata=option(
        "a client that reads none of its answer for this long is cut off",
        parse=_positive_float))

    def validate(self) -> None:
        if not self.origin:
            raise ConfigError("origin", "required: s3://BUCKET[/PREFIX] or http://HOST:PORT")
        if self.origin.startswith("s3://"):
            from origin.s3 import parse_s3_url

            try:
                parse_s3_url(self.origin)
            except ValueError as exc:
                raise ConfigError("origin", str(exc)) from None
        if not 64 << 10 <= self.slice_size <= 64 << 20:
            raise ConfigError("slice_size", "must be between 64KiB and 64MiB")
        if self.slice_size % 4096:
            raise ConfigError("slice_size", "must be a multiple of 4KiB")
        if self.cache_size < self.slice_size:
            raise ConfigError("cache_size", "must hold at least one slice")
        if self.workers != 1:
            raise ConfigError("workers", "only 1 worker process is supported so far")
        if not 0 <= self.prefetch_slices <= 8:
            raise ConfigError("prefetch_slices", "must be between 0 and 8")
        if not 1 <= self.max_ranges <= 1000:
            raise ConfigError("max_ranges", "must be between 1 and 1000")
        if not 1 <= self.origin_attempts <= 10:
            raise ConfigError("origin_attempts", "must be between 1 and 10")
        if not 1 <= self.origin_pool <= 1024:
            raise ConfigError("origin_pool", "must be between 1 and 1024")
        for name in ("token_secret_file", "admin_token_file"):
            path = getattr(self, name)
            if path is not None and not os.path.isfile(path):
                raise ConfigError(name, f"no such file: {path}")
