from __future__ import annotations

import json

import pytest

from common.status import EdgeState, EdgeStatus
from steering.config import SteeringConfig
from steering.health import Probe
from steering.httpserver import Request, Response
from steering.server import SteeringApp
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


def test_content_steering(app: SteeringApp) -> None:
    resp = get(app, '/v1/content-steering?path=/t1/m.m3u8&_HLS_pathway="ams-ix"'
                    "&_HLS_throughput=1000", x_forwarded_for="10.1.0.1")
    assert json.loads(resp.body) == {
        "VERSION": 1, "TTL": 300, "RELOAD-URI": "/v1/content-steering?path=%2Ft1%2Fm.m3u8",
        "PATHWAY-PRIORITY": ["ams-ix", "fra-ix"]}
    dash = json.loads(get(app, "/v1/content-steering?_DASH_pathway=x").body)
    assert dash["SERVICE-LOCATION-PRIORITY"] == ["fra-ix", "ams-ix"]


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
