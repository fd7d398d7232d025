"""Steering with real processes on loopback: the embedded origin, five real `ocdn edge`
processes (token checks on), and `ocdn steering` itself, talking over real sockets.

Topology: ams-ix (ams-1, ams-2) and fra-ix (fra-1, fra-2) serve 10.1.0.0/16 in that
order, lon-ix (lon-1) serves 10.3.0.0/16. The main steering process runs with the
default poll interval and hysteresis, since "a killed edge is out of every answer within
3 s" is a claim about the defaults. The flapping test puts lon-1 behind a proxy that
fails every other `/status` probe, for a steering process of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from aiohttp import ClientSession, web

from common import tokens
from origin.s3 import make_client
from tests.support.procs import (
    OCDN,
    Proc,
    edge_proc,
    free_port,
    http_get,
    origin_proc,
    running,
)

SECRET = "it-secret-0123456789abcdef"
ADMIN = "it-admin-token-0123456789"
RING = tokens.parse_key_file(f"it1={SECRET}\n")
BODY = bytes(range(256)) * 800  # 200 KiB
KEY = "/t1/r750.mp4"
AMS = "10.1.2.3"
LON = "10.3.2.1"

# A title as the encoder lays it out (encoder/manifests.py): the multivariant playlist
# names one pathway, "cdn"; its variant is a media playlist beside the CMAF segments.
# The second media playlist is what passing a token to segments needs (RFC 8216bis
# §4.4.2.3: EXT-X-DEFINE QUERYPARAM imports the playlist URI's `token` for `{$token}`).
SEG_INIT = b"init-" + bytes(range(256)) * 4
SEG_1 = b"seg-1-" + bytes(range(255, -1, -1)) * 40
TITLE = {
    "t1/hls.m3u8": b"""#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-CONTENT-STEERING:SERVER-URI="/v1/content-steering?path=/t1/hls.m3u8",PATHWAY-ID="cdn"
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f",RESOLUTION=640x360,PATHWAY-ID="cdn"
seg/v1/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f",RESOLUTION=640x360,PATHWAY-ID="cdn"
seg/v1/tokens.m3u8
""",
    "t1/seg/v1/index.m3u8": b"""#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.00000,
1.m4s
#EXT-X-ENDLIST
""",
    "t1/seg/v1/tokens.m3u8": b"""#EXTM3U
#EXT-X-VERSION:11
#EXT-X-DEFINE:QUERYPARAM="token"
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4?token={$token}"
#EXTINF:4.00000,
1.m4s?token={$token}
#EXT-X-ENDLIST
""",
    "t1/seg/v1/init.mp4": SEG_INIT,
    "t1/seg/v1/1.m4s": SEG_1,
}


class FlakyProxy:
    """Forwards to an edge; after `healthy_first` good `/status` answers it fails every
    other one with a 503 (its own thread and event loop)."""

    def __init__(self, upstream: str, healthy_first: int = 4) -> None:
        self.upstream = upstream
        self.healthy_first = healthy_first
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.status_requests = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> FlakyProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        session = ClientSession()

        async def forward(request: web.Request) -> web.Response:
            if request.path == "/status":
                self.status_requests += 1
                n = self.status_requests
                if n > self.healthy_first and n % 2 == 0:
                    return web.Response(status=503, text="flaky")
            async with session.get(self.upstream + request.path_qs) as resp:
                return web.Response(status=resp.status, body=await resp.read(),
                                    content_type=resp.content_type)

        app = web.Application()
        app.router.add_get("/{tail:.*}", forward)
        app.on_cleanup.append(lambda _: session.close())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def topology_yaml(edges: dict[str, Proc], lon_url: str, extra_prefixes: str = "") -> str:
    def edge(name: str) -> str:
        return f'      - {{id: {name}, url: "{edges[name].url}", capacity_gbps: 10}}\n'
    return (
        "sites:\n"
        "  - id: ams-ix\n    location: {lat: 52.37, lon: 4.90}\n    edges:\n"
        + edge("ams-1") + edge("ams-2") +
        "  - id: fra-ix\n    location: {lat: 50.11, lon: 8.68}\n    edges:\n"
        + edge("fra-1") + edge("fra-2") +
        "  - id: lon-ix\n    location: {lat: 51.51, lon: -0.13}\n    edges:\n"
        f'      - {{id: lon-1, url: "{lon_url}", capacity_gbps: 10}}\n'
        "prefixes:\n"
        "  - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}\n"
        "  - {prefix: 10.3.0.0/16, sites: [lon-ix, ams-ix]}\n"
        + extra_prefixes +
        "default_sites: [fra-ix]\n")


@dataclass
class Cdn:
    tmp: Path
    edges: dict[str, Proc]
    steering: Proc
    topology: Path
    edge_args: dict[str, list[str]]
    origin: Proc

    def steer(self, client: str = AMS, key: str = KEY, steering: Proc | None = None
              ) -> dict[str, Any]:
        status, _, body = http_get(f"{(steering or self.steering).url}/v1/steer?path={key}",
                                   {"X-Forwarded-For": client})
        assert status == 200, body
        return dict(json.loads(body))

    def edges_report(self, steering: Proc | None = None) -> dict[str, dict[str, Any]]:
        _, _, body = http_get(f"{(steering or self.steering).url}/v1/edges")
        doc = json.loads(body)
        return {e["id"]: e for s in doc["sites"] for e in s["edges"]} | {"_": doc["topology"]}


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> float:
    """Seconds until `predicate()` held; AssertionError after `timeout_s`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        time.sleep(step_s)


def steering_proc(tmp: Path, topology: Path, *extra: str) -> Proc:
    port = free_port()
    return Proc([*OCDN, "steering", "--topology", str(topology), "--listen",
                 f"127.0.0.1:{port}", "--token-secret-file", str(tmp / "keys"), *extra],
                port, tmp / f"steering-{port}.log")


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdn]:
    tmp = tmp_path_factory.mktemp("steering-it")
    (tmp / "keys").write_text(f"it1={SECRET}\n")
    (tmp / "admin").write_text(ADMIN + "\n")
    origin = origin_proc(tmp).start()
    started: list[Proc] = [origin]
    try:
        s3 = make_client(origin.url)
        s3.put_object(Bucket="media", Key=KEY.lstrip("/"), Body=BODY)
        for name, body in TITLE.items():
            s3.put_object(Bucket="media", Key=name, Body=body)
        edge_args = {}
        edges = {}
        for site, name in (("ams-ix", "ams-1"), ("ams-ix", "ams-2"), ("fra-ix", "fra-1"),
                           ("fra-ix", "fra-2"), ("lon-ix", "lon-1")):
            args = ["--id", name, "--site", site, "--cache-size", "64MiB",
                    "--token-secret-file", str(tmp / "keys"), "--admin-token-file",
                    str(tmp / "admin")]
            edge_args[name] = args
            edges[name] = edge_proc(tmp, "s3://media", *args, s3_endpoint=origin.url,
                                    cache_dir=tmp / f"cache-{name}")
        with ThreadPoolExecutor(len(edges)) as pool:
            list(pool.map(lambda p: p.start(), edges.values()))
        started += edges.values()
        topology = tmp / "topology.yaml"
        topology.write_text(topology_yaml(edges, edges["lon-1"].url))
        steering = steering_proc(tmp, topology, "--topology-check-s", "0.2").start()
        started.append(steering)
        cdn = Cdn(tmp, edges, steering, topology, edge_args, origin)
        wait_for(lambda: all(e["state"] == "up" for k, e in cdn.edges_report().items()
                             if k != "_"), 10)
        yield cdn
    finally:
        for p in reversed(started):
            p.stop()


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)[tokens.PARAM][0]


def test_answers_span_sites_and_every_url_serves_the_bytes(cdn: Cdn) -> None:
    doc = cdn.steer()
    assert doc["client"] == {"address": AMS, "prefix": "10.1.0.0/16", "localisation": "prefix"}
    sites = [e["site"] for e in doc["edges"]]
    assert len({e["id"] for e in doc["edges"]}) >= 3
    assert sites[0] == "ams-ix" and len(set(sites)) >= 2
    for url in doc["urls"]:
        status, headers, body = http_get(url)
        assert (status, body) == (200, BODY), url
        assert headers["x-cache"] in ("HIT", "MISS")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_follows_the_redirect_to_the_bytes(cdn: Cdn) -> None:
    out = subprocess.run(["curl", "-sSfL", "-H", f"X-Forwarded-For: {AMS}",
                          f"{cdn.steering.url}/r{KEY}"], capture_output=True, check=True,
                         timeout=20)
    assert out.stdout == BODY


def test_the_real_edge_refuses_bad_tokens(cdn: Cdn) -> None:
    url = cdn.steer()["urls"][0]
    base, token = url.split("?")[0], _token(url)
    kid, expires, prefix, sig = token.split("~")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    expired = tokens.sign(KEY, int(time.time()) - 5, RING)
    other_path = tokens.sign("/t1/other.mp4", int(time.time()) + 600, RING)
    forged_ring = tokens.parse_key_file("it1=not-the-secret-0123456789\n")
    cases = {
        "tampered": f"{base}?token={kid}~{expires}~{prefix}~{flipped}",
        "later expiry": f"{base}?token={kid}~{int(expires) + 3600}~{prefix}~{sig}",
        "expired": f"{base}?token={expired}",
        "wrong path": f"{base}?token={other_path}",
        "wrong key": f"{base}?token={tokens.sign(KEY, int(expires), forged_ring)}",
        "missing": base,
    }
    for why, bad in cases.items():
        status, _, _ = http_get(bad)
        assert status == 403, why
    assert http_get(url)[0] == 200


def test_a_killed_edge_leaves_every_answer_within_3s_and_comes_back(cdn: Cdn) -> None:
    victim = cdn.steer()["edges"][0]["id"]
    assert victim in ("ams-1", "ams-2")
    clients = [AMS, "10.1.77.1", "10.1.200.9"]
    keys = [KEY, "/t2/r750.mp4", "/t3/r1500.mp4"]

    def absent() -> bool:
        return all(victim not in [e["id"] for e in cdn.steer(c, k)["edges"]]
                   for c in clients for k in keys)

    cdn.edges[victim].kill9()
    took = wait_for(absent, 6)
    assert took <= 3.0, f"{victim} still answered {took:.2f} s after being killed"
    report = cdn.edges_report()[victim]
    assert report["state"] == "down" and "probe failures" in report["reason"]
    cdn.edges[victim].start()
    back = wait_for(lambda: cdn.steer()["edges"][0]["id"] == victim, 10)
    assert back <= 5.0
    assert cdn.edges_report()[victim]["state"] == "up"


def test_an_edge_failing_half_its_probes_does_not_flip(cdn: Cdn) -> None:
    proxy = FlakyProxy(cdn.edges["lon-1"].url).start()
    topology = cdn.tmp / "flaky.yaml"
    topology.write_text(topology_yaml(cdn.edges, proxy.url))
    fast = steering_proc(cdn.tmp, topology, "--poll-interval-s", "0.1",
                         "--probe-timeout-s", "0.1").start()
    try:
        wait_for(lambda: cdn.edges_report(fast)["lon-1"]["state"] == "up", 5)
        seen_before = proxy.status_requests
        firsts = set()
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            firsts.add(cdn.steer(LON, steering=fast)["edges"][0]["id"])
            time.sleep(0.05)
        assert proxy.status_requests - seen_before >= 15
        assert firsts == {"lon-1"}
        _, _, metrics = http_get(f"{fast.url}/metrics")
        text = metrics.decode()
        failures = [line for line in text.splitlines()
                    if line.startswith('ocdn_steering_probe_failures_total{edge="lon-1"}')]
        assert failures and float(failures[0].split()[-1]) >= 5
        assert 'ocdn_steering_edge_transitions_total{edge="lon-1",to="down"}' not in text
    finally:
        fast.stop()
        proxy.stop()


def test_a_draining_edge_takes_no_new_clients_but_is_not_down(cdn: Cdn) -> None:
    fra1 = cdn.edges["fra-1"]
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert http_get(f"{fra1.url}/admin/drain", auth, method="POST", data=b"")[0] == 200
    try:
        def gone() -> bool:
            return all("fra-1" not in [e["id"] for e in cdn.steer(c)["edges"]]
                       for c in (AMS, "192.0.2.1"))
        wait_for(gone, 3)
        report = cdn.edges_report()["fra-1"]
        assert (report["state"], report["reason"]) == ("draining", "draining: reported by the edge")
    finally:
        assert http_get(f"{fra1.url}/admin/undrain", auth, method="POST", data=b"")[0] == 200
    wait_for(lambda: "fra-1" in [e["id"] for e in cdn.steer("192.0.2.1")["edges"]], 3)


class Hammer:
    """Asks steering for answers in a loop on its own thread; counts what came back."""

    def __init__(self, cdn: Cdn) -> None:
        self.cdn = cdn
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _, _ = http_get(f"{self.cdn.steering.url}/v1/steer?path={KEY}",
                                        {"X-Forwarded-For": AMS}, timeout_s=5)
                self.statuses[status] = self.statuses.get(status, 0) + 1
            except OSError as exc:
                self.errors.append(repr(exc))

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_topology_changes_are_picked_up_and_bad_files_keep_the_old_one(cdn: Cdn) -> None:
    original = cdn.topology.read_text()
    extra = "  - {prefix: 10.9.0.0/16, sites: [lon-ix, fra-ix]}\n"
    with Hammer(cdn) as hammer:
        _change_topology(cdn, original, extra)
    assert hammer.errors == []
    assert set(hammer.statuses) == {200} and hammer.statuses[200] > 20


def _write(path: Path, text: str) -> None:
    """Replace a file atomically, as an operator should (a half-written file is refused
    and retried at the next check, which a test would see as a spurious error)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _change_topology(cdn: Cdn, original: str, extra: str) -> None:
    def error() -> str:
        return str(cdn.edges_report()["_"]["reload_error"] or "")
    try:
        _write(cdn.topology, topology_yaml(cdn.edges, cdn.edges["lon-1"].url, extra))
        wait_for(lambda: cdn.steer("10.9.1.1")["client"]["prefix"] == "10.9.0.0/16", 3)
        _write(cdn.topology, original.replace("capacity_gbps: 10}", "capacity_gbps: 0}", 1))
        wait_for(lambda: "capacity_gbps must be > 0" in error(), 3)
        assert cdn.steer("10.9.1.1")["client"]["prefix"] == "10.9.0.0/16"
    finally:
        _write(cdn.topology, original)
    wait_for(lambda: error() == "", 3)
    assert cdn.steer("10.9.1.1")["client"]["localisation"] == "default"


def test_sighup_reloads(cdn: Cdn) -> None:
    topology = cdn.tmp / "hup.yaml"
    _write(topology, topology_yaml(cdn.edges, cdn.edges["lon-1"].url))
    hup = steering_proc(cdn.tmp, topology, "--topology-check-s", "0").start()
    try:
        assert cdn.steer("10.8.0.1", steering=hup)["client"]["localisation"] == "default"
        _write(topology, topology_yaml(cdn.edges, cdn.edges["lon-1"].url,
                                       "  - {prefix: 10.8.0.0/16, sites: [ams-ix]}\n"))
        time.sleep(0.3)
        assert cdn.steer("10.8.0.1", steering=hup)["client"]["localisation"] == "default"
        assert hup.proc is not None
        hup.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: cdn.steer("10.8.0.1", steering=hup)["client"]["prefix"]
                 == "10.8.0.0/16", 3)
    finally:
        hup.stop()


def test_content_steering_and_metrics_over_http(cdn: Cdn) -> None:
    status, headers, body = http_get(
        f'{cdn.steering.url}/v1/content-steering?path=/t1/master.m3u8&_HLS_pathway="fra-ix"'
        "&_HLS_throughput=4000000", {"X-Forwarded-For": AMS})
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["VERSION"] == 1 and doc["TTL"] == 300
    assert doc["RELOAD-URI"] == "/v1/content-steering?path=%2Ft1%2Fmaster.m3u8"
    assert doc["PATHWAY-PRIORITY"][:2] == ["ams-ix", "fra-ix"]
    _, _, metrics = http_get(f"{cdn.steering.url}/metrics")
    text = metrics.decode()
    assert 'ocdn_steering_decisions_total{localisation="prefix"}' in text
    assert 'ocdn_steering_edges{state="up"}' in text
    assert 'ocdn_steering_probe_seconds_bucket{edge="ams-1"' in text
    assert http_get(f"{cdn.steering.url}/healthz")[2] == b"ok\n"


# ---- content steering: pathway clones, applied as a player applies them ---------------

BASE_URI = "http://cdn.invalid/t1/hls.m3u8"  # where the player loaded the title: never reached


def variant_uris(multivariant: str, base: str) -> list[str]:
    lines = multivariant.splitlines()
    return [urljoin(base, lines[i + 1]) for i, line in enumerate(lines)
            if line.startswith("#EXT-X-STREAM-INF:")]


def apply_clone(uri: str, clone: dict[str, Any]) -> str:
    """What hls.js does with a variant URI of the base pathway (performUriReplacement):
    the host (with its port) becomes HOST, and each PARAMS entry is set in the query."""
    replacement = clone["URI-REPLACEMENT"]
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    query.update(replacement.get("PARAMS", {}))
    return urlunsplit((parts.scheme, replacement["HOST"], parts.path, urlencode(query), ""))


def media_uris(playlist: str, playlist_uri: str) -> list[str]:
    """Segment URIs as a player resolves them: relative to the media playlist's URI (the
    query goes), with `{$token}` from EXT-X-DEFINE QUERYPARAM substituted."""
    query = dict(parse_qsl(urlsplit(playlist_uri).query))
    names = re.findall(r'#EXT-X-DEFINE:QUERYPARAM="([^"]+)"', playlist)
    out = []
    for line in playlist.splitlines():
        uri = re.search(r'URI="([^"]+)"', line) if line.startswith("#EXT-X-MAP") else None
        ref = uri.group(1) if uri else (line if line and not line.startswith("#") else "")
        if ref:
            for name in names:
                ref = ref.replace("{$" + name + "}", query[name])
            out.append(urljoin(playlist_uri, ref))
    return out


def steering_manifest(steering: Proc, client: str = AMS) -> dict[str, Any]:
    status, _, body = http_get(f"{steering.url}/v1/content-steering?path=/t1/hls.m3u8"
                               '&_HLS_pathway="cdn"&_HLS_throughput=5000000',
                               {"X-Forwarded-For": client})
    assert status == 200, body
    return dict(json.loads(body))


def play_first_pathway(doc: dict[str, Any], variant: int) -> dict[str, bytes]:
    """Follow the steering manifest's first pathway as a player would: the variant's
    media playlist and its segments, from the edge the clone names. {uri: body}"""
    clones = {c["ID"]: c for c in doc["PATHWAY-CLONES"]}
    first = clones[doc["PATHWAY-PRIORITY"][0]]
    assert first["BASE-ID"] == "cdn"
    master = TITLE["t1/hls.m3u8"].decode()  # as the player loaded it from BASE_URI
    playlist_uri = apply_clone(variant_uris(master, BASE_URI)[variant], first)
    got = {}
    status, headers, body = http_get(playlist_uri)
    assert status == 200, (playlist_uri, status, body)
    assert headers["x-cache"] in ("HIT", "MISS")
    got[playlist_uri] = body
    for uri in media_uris(body.decode(), playlist_uri):
        status, _, seg = http_get(uri)
        assert status == 200, (uri, status, seg)
        got[uri] = seg
    return got


def test_a_clone_applied_to_the_playlist_fetches_the_title_from_the_chosen_edge(
    cdn: Cdn
) -> None:
    """Unsigned: a steering process without a key file, in front of two edges that check
    no tokens. The player swaps the base pathway's host for the clone's and gets every
    byte of the title from the edge steering chose for it."""
    args = {"ams-o": "ams-ix", "fra-o": "fra-ix"}
    edges = {name: edge_proc(cdn.tmp, "s3://media", "--id", name, "--site", site,
                             "--cache-size", "16MiB", s3_endpoint=cdn.origin.url,
                             cache_dir=cdn.tmp / f"cache-{name}") for name, site in args.items()}
    topology = cdn.tmp / "open.yaml"
    topology.write_text(
        "sites:\n"
        + "".join(f"  - id: {site}\n    edges:\n      - {{id: {name}, url: "
                  f'"{edges[name].url}", capacity_gbps: 10}}\n'
                  for name, site in args.items())
        + "prefixes:\n  - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}\n")
    port = free_port()
    steering = Proc([*OCDN, "steering", "--topology", str(topology), "--listen",
                     f"127.0.0.1:{port}"], port, cdn.tmp / f"steering-{port}.log")
    with running(*edges.values(), steering):
        def all_up() -> bool:
            report = cdn.edges_report(steering)
            return all(report[name]["state"] == "up" for name in edges)
        wait_for(all_up, 10)
        doc = steering_manifest(steering)
        assert doc["PATHWAY-PRIORITY"] == ["ams-ix", "fra-ix"]
        clones = {c["ID"]: c["URI-REPLACEMENT"] for c in doc["PATHWAY-CLONES"]}
        assert clones == {"ams-ix": {"HOST": urlsplit(edges["ams-o"].url).netloc},
                          "fra-ix": {"HOST": urlsplit(edges["fra-o"].url).netloc}}
        got = play_first_pathway(doc, variant=0)
        assert {urlsplit(u).netloc for u in got} == {clones["ams-ix"]["HOST"]}
        assert list(got.values()) == [TITLE["t1/seg/v1/index.m3u8"], SEG_INIT, SEG_1]


def test_clone_tokens_are_one_per_title_and_scoped_to_it(cdn: Cdn) -> None:
    """Signed: the clones' PARAMS carry one token per title, over its directory."""
    doc = steering_manifest(cdn.steering)
    clones = {c["ID"]: c["URI-REPLACEMENT"] for c in doc["PATHWAY-CLONES"]}
    assert list(clones) == doc["PATHWAY-PRIORITY"] and len(clones) == 3
    for replacement in clones.values():
        token = replacement["PARAMS"][tokens.PARAM]
        tokens.verify(token, "/t1/v1/seg-1.m4s", RING, time.time())  # anything in /t1/
        with pytest.raises(tokens.TokenError):
            tokens.verify(token, "/t2/v1/seg-1.m4s", RING, time.time())
    assert len({r["PARAMS"][tokens.PARAM] for r in clones.values()}) == 1
    hosts = {urlsplit(e.url).netloc: name for name, e in cdn.edges.items()}
    assert hosts[clones["ams-ix"]["HOST"]] == cdn.steer(key="/t1/hls.m3u8")["edges"][0]["id"]


def test_a_signed_clone_plays_the_title_through_token_checking_edges(cdn: Cdn) -> None:
    doc = steering_manifest(cdn.steering)
    got = play_first_pathway(doc, variant=1)
    assert list(got.values())[1:] == [SEG_INIT, SEG_1]
