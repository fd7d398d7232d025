"""The S3 origin: ranged GETs through boto3, run off the event loop.

boto3 is blocking, so every call runs in a ThreadPoolExecutor whose size equals the
client's connection pool (`max_pool_connections`): more threads would only queue on the
pool, fewer would leave connections idle. The body is read in `chunk_bytes` pieces, one
executor hop each, so a 2 MiB slice costs 8 hops at 256 KiB and memory stays at one
chunk per fill. botocore's own retries are switched off: `origin.retry` retries the
request (not a half-read body) with full jitter on 5xx, throttling and connection errors,
and never on a 4xx.

S3 credentials come from the standard AWS environment variables and files, as boto3
reads them.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions

from origin.base import DEFAULT_CONTENT_TYPE, ObjectInfo, check_partial, unsatisfied_size
from origin.errors import (
    OriginDenied,
    OriginError,
    OriginNotFound,
    OriginTimeout,
)
from origin.retry import RetryPolicy, with_retries

_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
               "TooManyRequests", "RequestTimeout"}


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "a/b" without leading/trailing slash

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name


def parse_s3_url(url: str) -> S3Location:
    """`s3://BUCKET[/PREFIX]` -> S3Location; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"expected s3://BUCKET[/PREFIX], got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"an s3 URL takes no query or fragment: {url!r}")
    return S3Location(parts.netloc, parts.path.strip("/"))


def make_client(
    endpoint_url: str | None = None,
    pool_size: int = 16,
    connect_timeout_s: float = 3.0,
    read_timeout_s: float = 10.0,
) -> Any:
    """A boto3 S3 client with our pool and timeouts, and botocore retries off.

    With a custom endpoint (the embedded origin, MinIO) path-style addressing is used,
    since such endpoints rarely have per-bucket DNS names.
    """
    config = botocore.config.Config(
        max_pool_connections=pool_size,
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},  # ours retry, not botocore's
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    return session.client("s3", endpoint_url=endpoint_url, config=config, region_name=region)


def _translate(exc: Exception) -> OriginError:
    if isinstance(exc, OriginError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in ("NoSuchKey", "NoSuchBucket", "404") or status == 404:
            not_found = OriginNotFound(f"origin: {code or 'not found'}")
            return not_found
        if code == "InvalidRange" or status == 416:
            size = exc.response.get("Error", {}).get("ActualObjectSize")
            cr = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
                "content-range"
            )
            if size is not None:
                return unsatisfied_size(f"bytes */{size}")
            return unsatisfied_size(cr)
        if code in _THROTTLING or status == 429 or status >= 500:
            return OriginError(f"origin {status} {code}")
        denied = OriginDenied(f"origin refused: {status} {code}")
        return denied
    timeouts = botocore.exceptions.ReadTimeoutError | botocore.exceptions.ConnectTimeoutError
    if isinstance(exc, timeouts):
        return OriginTimeout(f"origin timeout: {exc}")
    if isinstance(exc, botocore.exceptions.BotoCoreError | OSError):
        return OriginError(f"origin connection failed: {exc}")
    return OriginError(f"origin failed: {exc!r}")


class _S3Body:
    def __init__(
        self, origin: S3Origin, stream: Any, info: ObjectInfo, start: int, stop: int
    ) -> None:
        self._origin = origin
        self._stream = stream
        self.info = info
        self.start = start
        self.stop = stop

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        remaining = self.stop - self.start
        chunk = self._origin.chunk_bytes
        # read1 returns what one socket read brings (urllib3 2), so waiters see bytes as
        # they arrive; read(n) would block until n bytes are in.
        raw = getattr(self._stream, "_raw_stream", None)
        read = getattr(raw, "read1", None) or self._stream.read
        while remaining > 0:
            try:
                data = await loop.run_in_executor(
                    self._origin.executor, read, min(chunk, remaining)
                )
            except Exception as exc:
                raise _translate(exc) from exc
            if not data:
                raise OriginError(f"origin body ended {remaining} bytes early")
            remaining -= len(data)
            yield data

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.get_running_loop().run_in_executor(self._origin.executor, stream.close)


class S3Origin:
    """Ranged reads of `s3://bucket/prefix/<key>` through boto3 in a bounded pool."""

    def __init__(
        self,
        location: S3Location,
        endpoint_url: str | None = None,
        pool_size: int = 16,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        chunk_bytes: int = 256 * 1024,
    ) -> None:
        self.location = location
        self.endpoint_url = endpoint_url
        self.client = make_client(endpoint_url, pool_size, connect_timeout_s, read_timeout_s)
        self.executor = ThreadPoolExecutor(pool_size, thread_name_prefix="s3-origin")
        self.retry = retry or RetryPolicy()
        self.chunk_bytes = chunk_bytes
        self.retries = 0

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.location.bucket}/{self.location.prefix}{where}"

    def _get(self, key: str, start: int, stop: int) -> Any:
        try:
            return self.client.get_object(
                Bucket=self.location.bucket,
                Key=self.location.key(key),
                Range=f"bytes={start}-{stop - 1}",
            )
        except Exception as exc:
            raise _translate(exc) from exc

    async def _fetch_once(self, key: str, start: int, stop: int) -> _S3Body:
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(self.executor, self._get, key, start, stop)
        stream = resp["Body"]
        try:
            headers = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
            if status == 206:
                first, last_stop, size = check_partial(resp.get("ContentRange"), start, stop)
            else:
                # A 200 to a ranged GET: the object is smaller than the range start?
                # S3 sends 200 for a whole object only when the range covers it.
                size = int(resp.get("ContentLength", 0))
                if start != 0 or size > stop:
                    raise OriginError(f"origin ignored Range (status {status})")
                first, last_stop = 0, size
            modified = resp.get("LastModified")
            info = ObjectInfo(
                size=size,
                etag=str(resp.get("ETag") or headers.get("etag") or ""),
                last_modified=calendar.timegm(modified.utctimetuple()) if modified else None,
                content_type=str(resp.get("ContentType") or DEFAULT_CONTENT_TYPE),
                cache_control=resp.get("CacheControl"),
            )
        except BaseException:
            await loop.run_in_executor(self.executor, stream.close)
            raise
        return _S3Body(self, stream, info, first, last_stop)

    async def fetch(self, key: str, start: int, stop: int) -> _S3Body:
        def count(_: BaseException) -> None:
            self.retries += 1

        return await with_retries(lambda: self._fetch_once(key, start, stop), self.retry, count)

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
