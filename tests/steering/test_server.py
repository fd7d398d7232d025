from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from common.status import EdgeState, EdgeStatus
from steering.config import SteeringConfig
from steering.health import Probe
from steering.server import Request, Response, SteeringApp, answer_doc, http_server
from steering.service import Steering
from steering.topofile import parse_topology

TOPOLOGY = """\
sites:
  - id: ams-ix
    edges:
      - {id: ams-1, url: "http://127.0.0.1:8101", capacity_gbps: 10}
      - {id: ams-2, url: "http://127.0.0.1:8102", capacity_gbps: 10}
  - id: fra-ix
    edges:
      - {id: fra-1, url: "http://127.0.0.1:8201", capacity_gbps: 10}
prefixes:
  - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}
  - {prefix: 10.2.0.0/16, sites: [fra-ix, ams-ix]}
default_sites: [fra-ix]
"""


@pytest.fixture
def app() -> SteeringApp:
    s = Steering(SteeringConfig(topology="t.yaml", decision_log=False),
                 parse_topology(TOPOLOGY), None)
    for edge in s.topology.edge_by_id:
        s.record_probe(edge, Probe(EdgeStatus(edge, "", EdgeState.UP, 0, 0, 0, 1, 0)))
    return SteeringApp(s)


def get(app: SteeringApp, target: str, peer: str = "127.0.0.1",
        **headers: str) -> Response:
    path, _, query = target.partition("?")
    return app(Request("GET", path, query, {k.replace("_", "-"): v for k, v in headers.items()},
                       peer))


def header(resp: Response, name: str) -> str:
    return dict(resp.headers)[name]


def test_steer_json(app: SteeringApp) -> None:
    resp = get(app, "/v1/steer?path=%2Ft1%2Fr750.mp4", x_forwarded_for="10.2.3.4")
    assert resp.status == 200 and resp.content_type == "application/json"
    doc = json.loads(resp.body)
    assert doc["urls"][0].startswith("http://127.0.0.1:8201/t1/r750.mp4")
    assert [e["site"] for e in doc["edges"]] == ["fra-ix", "ams-ix", "ams-ix"]
    assert doc["client"] == {"address": "10.2.3.4", "prefix": "10.2.0.0/16",
                             "localisation": "prefix"}
    assert doc["ttl"] == 30 and doc["key"] == "/t1/r750.mp4"
    assert doc["pathways"] == ["fra-ix", "ams-ix"]
    assert header(resp, "Cache-Control") == "private, max-age=30"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(app: SteeringApp) -> None:
    doc = json.loads(get(app, "/v1/steer?path=/k", peer="192.0.2.7",
                         x_forwarded_for="10.2.3.4").body)
    assert doc["client"] == {"address": "192.0.2.7", "prefix": None, "localisation": "default"}


def test_redirect(app: SteeringApp) -> None:
    resp = get(app, "/r/t1/r750.mp4", x_forwarded_for="10.1.0.1")
    assert resp.status == 302
    assert header(resp, "Location").startswith("http://127.0.0.1:810")
    assert header(resp, "Location").endswith("/t1/r750.mp4")
    assert header(resp, "Cache-Control") == "no-store"


def _first_host_per_site(app: SteeringApp, key: str, client: str) -> dict[str, str]:
    doc = json.loads(get(app, f"/v1/steer?path={key}", x_forwarded_for=client).body)
    hosts: dict[str, str] = {}
    for url, edge in zip(doc["urls"], doc["edges"], strict=True):
        hosts.setdefault(edge["site"], urlsplit(url).netloc)
    return hosts


def test_content_steering(app: SteeringApp) -> None:
    resp = get(app, '/v1/content-steering?path=/t1/m.m3u8&_HLS_pathway="ams-ix"'
                    "&_HLS_throughput=1000", x_forwarded_for="10.1.0.1")
    hosts = _first_host_per_site(app, "/t1/m.m3u8", "10.1.0.1")
    assert json.loads(resp.body) == {
        "VERSION": 1, "TTL": 300, "RELOAD-URI": "/v1/content-steering?path=%2Ft1%2Fm.m3u8",
        "PATHWAY-PRIORITY": ["ams-ix", "fra-ix"],
        # unsigned here: the clones carry the host of each site's best edge, no PARAMS
        "PATHWAY-CLONES": [
            {"BASE-ID": "cdn", "ID": "ams-ix", "URI-REPLACEMENT": {"HOST": hosts["ams-ix"]}},
            {"BASE-ID": "cdn", "ID": "fra-ix", "URI-REPLACEMENT": {"HOST": "127.0.0.1:8201"}},
        ]}
    dash = json.loads(get(app, "/v1/content-steering?_DASH_pathway=x").body)
    assert dash["SERVICE-LOCATION-PRIORITY"] == ["fra-ix", "ams-ix"]
    assert [c["BASE-ID"] for c in dash["PATHWAY-CLONES"]] == ["x", "x"]
    assert dash["RELOAD-URI"] == "/v1/content-steering?base=x"


def test_content_steering_by_title(app: SteeringApp) -> None:
    by_title = json.loads(get(app, "/v1/content-steering?title=t1",
                              x_forwarded_for="10.1.0.1").body)
    assert by_title["RELOAD-URI"] == "/v1/content-steering?title=t1"
    hosts = _first_host_per_site(app, "/t1", "10.1.0.1")
    assert {c["ID"]: c["URI-REPLACEMENT"]["HOST"] for c in by_title["PATHWAY-CLONES"]} == hosts


def test_steer_body_is_json_dumps_of_the_answer(app: SteeringApp) -> None:
    """The cached JSON head changes nothing: every body equals json.dumps of the doc."""
    for i in range(300):
        client = f"10.{1 + i % 3}.{i % 7}.{i % 250}"
        key = f"/t{i % 11}/r{i % 4}.mp4"
        resp = get(app, f"/v1/steer?path={key}", x_forwarded_for=client)
        answer = app.steering.steer(client, key)
        assert resp.body == json.dumps(answer_doc(key, answer)).encode()


@pytest.mark.parametrize(("target", "status", "reason"), [
    ("/v1/steer", 400, "bad-request"),
    ("/v1/steer?path=/a/../b", 400, "bad-request"),
    ("/r/a%20b", 400, "bad-request"),
    ("/v1/content-steering?path=nope", 400, "bad-request"),
    ("/nothing", 404, "not-found"),
])
def test_errors_are_json_with_their_status(app: SteeringApp, target: str, status: int,
                                           reason: str) -> None:
    resp = get(app, target)
    assert resp.status == status
    assert json.loads(resp.body)["error"] == reason
    assert header(resp, "Cache-Control") == "no-store"


def test_no_usable_edge_is_503_never_429(app: SteeringApp) -> None:
    for edge in list(app.steering.health):
        for _ in range(2):
            app.steering.record_probe(edge, Probe(None, "refused"))
    for target in ("/v1/steer?path=/k", "/r/k", "/v1/content-steering"):
        resp = get(app, target)
        assert resp.status == 503
        assert header(resp, "Retry-After") == "30"


def test_edges_healthz_metrics(app: SteeringApp) -> None:
    edges = json.loads(get(app, "/v1/edges").body)
    assert [e["state"] for s in edges["sites"] for e in s["edges"]] == ["up", "up", "up"]
    assert edges["topology"]["prefixes"] == 2
    assert get(app, "/healthz").body == b"ok\n"
    metrics = get(app, "/metrics")
    assert metrics.content_type.startswith("text/plain")
    assert b'ocdn_steering_edges{state="up"} 3.0' in metrics.body


async def exchange(app: SteeringApp, data: bytes) -> bytes:
    """Send raw bytes to `app` behind its real HTTP server; everything until it closes."""
    server = http_server(app)
    port = await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        out = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return out
    finally:
        await server.stop(grace_s=0.5)


async def test_over_http_the_answer_names_steering_and_its_type(app: SteeringApp) -> None:
    out = await exchange(app, b"GET /r/t1/r750.mp4#frag HTTP/1.1\r\nHost: s\r\n"
                              b"Connection: close\r\n\r\n")
    head = out.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"\r\nServer: ocdn-steering\r\n" in head
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert b"\r\nLocation: http://127.0.0.1:8201/t1/r750.mp4\r\n" in head and b"frag" not in head


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"POST /v1/steer HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n"
     b"\r\nhi", b"405 Method Not Allowed"),
    (b"GET x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", b"400 Bad Request"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414 URI Too Long"),
    (b"GET /x HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + b"z" * 70000,
     b"413 Content Too Large"),
])
async def test_over_http_refusals(app: SteeringApp, request_bytes: bytes, status: bytes) -> None:
    out = await exchange(app, request_bytes)
    assert out.startswith(b"HTTP/1.1 " + status), out[:200]
    if status.startswith(b"405"):
        assert b"\r\nAllow: GET, HEAD\r\n" in out


async def test_over_http_head_has_the_length_of_get(app: SteeringApp) -> None:
    get_out = await exchange(app, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    head_out = await exchange(app, b"HEAD /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert head_out.endswith(b"\r\n\r\n") and b"Content-Length: 3\r\n" in head_out
    assert get_out.endswith(b"\r\n\r\nok\n")


@pytest.mark.parametrize("qs", ["", "path=/a/b", "path=%2Fa%2Fb", "a=1&a=2&b=x+y", "flag",
                                "a=&b", "p=a=b", "x=%zz"])
def test_query_decoding_matches_parse_qsl(qs: str) -> None:
    expected: dict[str, str] = {}
    for k, v in parse_qsl(qs, keep_blank_values=True):
        expected.setdefault(k, v)
    assert dict(Request("GET", "/", qs, {}, "").query) == expected
