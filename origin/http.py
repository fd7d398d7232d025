"""An HTTP origin: a parent edge (tiered fill) or any web server holding the files.

`http://HOST:PORT/PREFIX` + key is fetched with one `Range` GET per slice, under the same
rules as S3: the 206 must carry exactly the asked range, a 416 tells the size, a 404 is
a negative answer, 5xx and resets are retried with jitter and never a 4xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import aiohttp

from origin.base import DEFAULT_CONTENT_TYPE, ObjectInfo, check_partial, unsatisfied_size
from origin.errors import (
    OriginDenied,
    OriginError,
    OriginNotFound,
    OriginTimeout,
)
from origin.retry import RetryPolicy, with_retries


def parse_http_origin(url: str) -> str:
    """Validate `http://HOST[:PORT][/PREFIX]`; returns the base URL without a trailing /."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected http://HOST[:PORT][/PREFIX], got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"an origin URL takes no query or fragment: {url!r}")
    return url.rstrip("/")


def _date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


class _HttpBody:
    def __init__(self, resp: aiohttp.ClientResponse, info: ObjectInfo, start: int, stop: int,
                 chunk_bytes: int) -> None:
        self._resp = resp
        self.info = info
        self.start = start
        self.stop = stop
        self._chunk_bytes = chunk_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remaining = self.stop - self.start
        try:
            async for data in self._resp.content.iter_chunked(self._chunk_bytes):
                remaining -= len(data)
                if remaining < 0:
                    raise OriginError("origin body longer than its Content-Range")
                yield data
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise OriginError(f"origin body failed: {exc}") from exc
        except TimeoutError as exc:
            raise OriginTimeout("origin body timed out") from exc
        if remaining:
            raise OriginError(f"origin body ended {remaining} bytes early")

    async def aclose(self) -> None:
        self._resp.release()


class HttpOrigin:
    """Ranged GETs against `base_url/<key>` with aiohttp (already non-blocking)."""

    def __init__(
        self,
        base_url: str,
        pool_size: int = 64,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        chunk_bytes: int = 256 * 1024,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = parse_http_origin(base_url)
        self.retry = retry or RetryPolicy()
        self.chunk_bytes = chunk_bytes
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._pool_size = pool_size
        self._headers = headers or {}
        self._session: aiohttp.ClientSession | None = None
        self.retries = 0

    def describe(self) -> str:
        return self.base_url

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=self._timeout,
                auto_decompress=False,
            )
        return self._session

    async def _fetch_once(self, key: str, start: int, stop: int) -> _HttpBody:
        url = f"{self.base_url}/{quote(key, safe='/~-._')}"
        headers = {**self._headers, "Range": f"bytes={start}-{stop - 1}",
                   "Accept-Encoding": "identity"}
        try:
            resp = await self._client().get(url, headers=headers, allow_redirects=False)
        except TimeoutError as exc:
            raise OriginTimeout(f"origin timeout: {url}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise OriginError(f"origin connection failed: {exc}") from exc
        try:
            h = resp.headers
            if resp.status == 206:
                first, got_stop, size = check_partial(h.get("Content-Range"), start, stop)
            elif resp.status == 200:
                size = int(h.get("Content-Length", "-1"))
                if start != 0 or size < 0 or size > stop:
                    raise OriginError("origin ignored Range (200 for a partial request)")
                first, got_stop = 0, size
            elif resp.status == 416:
                raise unsatisfied_size(h.get("Content-Range"))
            elif resp.status == 404:
                raise OriginNotFound(f"origin 404: {url}")
            elif resp.status >= 500 or resp.status == 429:
                raise OriginError(f"origin {resp.status}: {url}")
            else:
                raise OriginDenied(f"origin {resp.status}: {url}")
            info = ObjectInfo(
                size=size,
                etag=h.get("ETag", ""),
                last_modified=_date(h.get("Last-Modified")),
                content_type=h.get("Content-Type", DEFAULT_CONTENT_TYPE),
                cache_control=h.get("Cache-Control"),
            )
        except BaseException:
            resp.release()
            raise
        return _HttpBody(resp, info, first, got_stop, self.chunk_bytes)

    async def fetch(self, key: str, start: int, stop: int) -> _HttpBody:
        def count(_: BaseException) -> None:
            self.retries += 1

        return await with_retries(lambda: self._fetch_once(key, start, stop), self.retry, count)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)
