"""A counting, fault-injecting HTTP proxy to put in front of an origin in tests.

It forwards every request to `--upstream` and counts the GETs per path, so a test can
check what the edge asked the origin for from outside the edge. `POST /__fault` with
`{"mode": "ok" | "500" | "reset" | "hang" | "truncate" | "slow"}` makes later object requests
fail that way; `GET /__count` returns {"gets": {path: n}, "ranges": [[path, range]...]};
`POST /__reset` clears the counts.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

import aiohttp
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def build(upstream: str) -> web.Application:
    counts: Counter[str] = Counter()
    ranges: list[tuple[str, str]] = []
    state = {"mode": "ok"}
    app = web.Application()

    async def count(_: web.Request) -> web.Response:
        return web.json_response({"gets": dict(counts), "ranges": ranges})

    async def reset(_: web.Request) -> web.Response:
        counts.clear()
        ranges.clear()
        return web.json_response({"ok": True})

    async def fault(request: web.Request) -> web.Response:
        state["mode"] = (await request.json())["mode"]
        return web.json_response(state)

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            counts[request.path] += 1
            ranges.append((request.path, request.headers.get("Range", "")))
        mode = state["mode"]
        if mode == "500":
            return web.Response(status=500, text="injected")
        if mode == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if mode == "hang":
            await asyncio.sleep(3600)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        session: aiohttp.ClientSession = app["session"]
        body = await request.read()
        async with session.request(request.method, upstream + request.path_qs, headers=headers,
                                   data=body or None, allow_redirects=False) as up:
            resp = web.StreamResponse(status=up.status)
            for k, v in up.headers.items():
                if k.lower() not in HOP:
                    resp.headers[k] = v
            if up.content_length is not None:
                resp.content_length = up.content_length
            await resp.prepare(request)
            sent = 0
            async for chunk in up.content.iter_chunked(65536):
                if mode == "slow":
                    await asyncio.sleep(0.15)
                if mode == "truncate" and sent + len(chunk) > 1000:
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                await resp.write(chunk)
                sent += len(chunk)
            await resp.write_eof()
            return resp

    async def on_start(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession(auto_decompress=False)

    async def on_stop(app: web.Application) -> None:
        await app["session"].close()

    app.on_startup.append(on_start)
    app.on_cleanup.append(on_stop)
    app.router.add_get("/__count", count)
    app.router.add_post("/__reset", reset)
    app.router.add_post("/__fault", fault)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    # A "hang" fault leaves a handler asleep: do not wait for it at shutdown.
    web.run_app(build(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port,
                print=None, shutdown_timeout=0.5)


if __name__ == "__main__":
    main()
