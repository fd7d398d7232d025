"""The origin clients against real servers: moto for S3, an aiohttp app for HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from origin.base import check_partial, unsatisfied_size
from origin.errors import OriginMismatch, OriginNotFound, OriginRangeNotSatisfiable
from origin.http import HttpOrigin
from origin.retry import RetryPolicy
from origin.s3 import S3Location, S3Origin, make_client, parse_s3_url
from tests.support.procs import Proc, origin_proc

DATA = bytes(range(256)) * 40  # 10240 bytes


def test_check_partial() -> None:
    assert check_partial("bytes 0-9/100", 0, 10) == (0, 10, 100)
    assert check_partial("bytes 90-99/100", 90, 200) == (90, 100, 100)  # clipped at the end
    for bad in (None, "bytes 1-9/100", "bytes 0-8/100", "bytes 0-9/*", "bytes=0-9/100",
                "bytes ٠-9/100"):
        with pytest.raises(OriginMismatch):
            check_partial(bad, 0, 10)
    assert unsatisfied_size("bytes */0").size == 0
    with pytest.raises(OriginMismatch):
        unsatisfied_size("bytes 0-1/2")


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://media") == S3Location("media", "")
    assert parse_s3_url("s3://media/a/b/") == S3Location("media", "a/b")
    assert S3Location("media", "a").key("x.mp4") == "a/x.mp4"
    for bad in ("http://x", "s3://", "s3://b?x=1"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = origin_proc(tmp_path_factory.mktemp("moto")).start()
    client = make_client(proc.url)
    client.put_object(Bucket="media", Key="p/obj.bin", Body=DATA, ContentType="video/mp4")
    client.put_object(Bucket="media", Key="p/empty.bin", Body=b"")
    yield proc
    proc.stop()


async def _read(origin: S3Origin | HttpOrigin, key: str, start: int, stop: int) -> bytes:
    body = await origin.fetch(key, start, stop)
    try:
        return b"".join([chunk async for chunk in body])
    finally:
        await body.aclose()


async def test_s3_origin_ranges_and_errors(moto: Proc) -> None:
    origin = S3Origin(S3Location("media", "p"), moto.url, pool_size=4,
                      retry=RetryPolicy(attempts=1), chunk_bytes=1000)
    try:
        body = await origin.fetch("obj.bin", 100, 5000)
        assert (body.start, body.stop, body.info.size) == (100, 5000, len(DATA))
        assert body.info.content_type == "video/mp4" and body.info.etag.startswith('"')
        chunks = [c async for c in body]
        await body.aclose()
        assert b"".join(chunks) == DATA[100:5000] and max(map(len, chunks)) <= 1000
        assert await _read(origin, "obj.bin", 10000, 20000) == DATA[10000:]
        with pytest.raises(OriginRangeNotSatisfiable) as err:
            await origin.fetch("obj.bin", 20000, 30000)
        assert err.value.size == len(DATA)
        with pytest.raises(OriginRangeNotSatisfiable) as err:
            await origin.fetch("empty.bin", 0, 10)
        assert err.value.size == 0
        with pytest.raises(OriginNotFound):
            await origin.fetch("missing.bin", 0, 10)
    finally:
        await origin.close()


@pytest.fixture
async def http_server(tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "f.bin").write_bytes(DATA)
    app = web.Application()

    async def lying(_: web.Request) -> web.Response:
        return web.Response(status=206, body=b"x" * 10,
                            headers={"Content-Range": "bytes 5-14/100"})

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=503)

    app.router.add_get("/lying.bin", lying)
    app.router.add_get("/broken.bin", broken)
    app.router.add_static("/", tmp_path)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_http_origin(http_server: str) -> None:
    origin = HttpOrigin(http_server, retry=RetryPolicy(attempts=2, base_s=0.001))
    try:
        assert await _read(origin, "f.bin", 0, 100) == DATA[:100]
        assert await _read(origin, "f.bin", 10000, 20000) == DATA[10000:]
        with pytest.raises(OriginNotFound):
            await origin.fetch("nope.bin", 0, 10)
        with pytest.raises(OriginMismatch):
            await origin.fetch("lying.bin", 0, 10)
        with pytest.raises(OriginRangeNotSatisfiable):
            await origin.fetch("f.bin", 20000, 30000)
        with pytest.raises(Exception) as err:
            await origin.fetch("broken.bin", 0, 10)
        assert getattr(err.value, "status", None) == 502 and origin.retries == 1
    finally:
        await origin.close()
