from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import generate_latest

from common import tokens
from common.status import EdgeState, EdgeStatus
from steering.config import SteeringConfig
from steering.decisionlog import DecisionLog
from steering.errors import NoUsableEdge
from steering.health import Probe, State
from steering.service import Steering
from steering.topofile import parse_topology
from steering.topology import Topology

RING = tokens.parse_key_file("k1=0123456789abcdef0123\n")

TOPOLOGY = """\
sites:
  - id: ams-ix
    location: {lat: 52.37, lon: 4.90}
    edges:
      - {id: ams-1, url: "http://127.0.0.1:8101", capacity_gbps: 10}
      - {id: ams-2, url: "http://127.0.0.1:8102", capacity_gbps: 10}
  - id: fra-ix
    location: {lat: 50.11, lon: 8.68}
    edges:
      - {id: fra-1, url: "http://127.0.0.1:8201", capacity_gbps: 10}
      - {id: fra-2, url: "http://127.0.0.1:8202", capacity_gbps: 10, drain: %s}
prefixes:
  - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}
default_sites: [fra-ix]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def topology(drain: bool = False) -> Topology:
    return parse_topology(TOPOLOGY % ("true" if drain else "false"))


def up(edge: str, state: EdgeState = EdgeState.UP, gbps: float = 1.0) -> Probe:
    return Probe(EdgeStatus(edge, "", state, 1, gbps * 1e9 / 8, 0, 1, 0.5), "", 0.002)


DOWN = Probe(None, "cannot connect: connection refused", 0.001)


@pytest.fixture
def steering() -> Steering:
    config = SteeringConfig(topology="t.yaml", token_ttl_s=600, answer_ttl_s=30)
    s = Steering(config, topology(), RING, clock=Clock())
    for edge in s.topology.edge_by_id:
        s.record_probe(edge, up(edge))
    return s


def edge_ids(s: Steering, client: str = "10.1.2.3", key: str = "/t1/r750.mp4") -> list[str]:
    return [e.id for e in s.steer(client, key).decision.edges]


def test_answers_are_signed_and_ranked(steering: Steering) -> None:
    answer = steering.steer("10.1.2.3", "/t1/r750.mp4")
    assert [e.site for e in answer.decision.edges] == ["ams-ix", "ams-ix", "fra-ix", "fra-ix"]
    assert answer.ttl_s == 30
    assert answer.expires == 1_000_620
    for url in answer.urls:
        token = parse_qs(urlsplit(url).query)["token"][0]
        tokens.verify(token, "/t1/r750.mp4", RING, now=1_000_600)


def test_a_down_edge_leaves_the_answers_after_k_failures(steering: Steering) -> None:
    steering.record_probe("ams-1", DOWN)
    assert "ams-1" in edge_ids(steering)
    steering.record_probe("ams-1", DOWN)
    assert steering.health["ams-1"].state is State.DOWN
    for i in range(30):
        assert "ams-1" not in edge_ids(steering, key=f"/k{i}")
    for _ in range(3):
        steering.record_probe("ams-1", up("ams-1"))
    assert any("ams-1" in edge_ids(steering, key=f"/k{i}") for i in range(30))


def test_draining_edges_get_no_new_clients(steering: Steering) -> None:
    steering.record_probe("ams-2", up("ams-2", EdgeState.DRAINING))
    assert all("ams-2" not in edge_ids(steering, key=f"/k{i}") for i in range(30))
    report = steering.edges_report()
    ams2 = report["sites"][0]["edges"][1]  # type: ignore[index]
    assert (ams2["state"], ams2["reason"]) == ("draining", "draining: reported by the edge")


def test_an_overloaded_edge_ranks_after_its_peer(steering: Steering) -> None:
    steering.record_probe("ams-1", up("ams-1", gbps=9.5))
    for i in range(30):
        assert edge_ids(steering, key=f"/k{i}")[:2] == ["ams-2", "ams-1"]


def test_reload_keeps_health_of_unchanged_edges_and_applies_operator_drain(
    steering: Steering
) -> None:
    steering.record_probe("ams-1", DOWN)
    steering.record_probe("ams-1", DOWN)
    steering.set_topology(topology(drain=True))
    assert steering.health["ams-1"].state is State.DOWN
    assert steering.health["fra-1"].state is State.UP
    ids = {e for i in range(30) for e in edge_ids(steering, key=f"/k{i}")}
    assert ids == {"ams-2", "fra-1"}
    counts = steering.count_states()
    assert (counts[State.UP], counts[State.DOWN], counts[State.DRAINING]) == (2, 1, 1)


def test_a_failed_reload_is_reported(steering: Steering) -> None:
    steering.reload_failed("t.yaml: line 3: bad")
    assert steering.edges_report()["topology"]["reload_error"] == "t.yaml: line 3: bad"  # type: ignore[index]


def test_no_usable_edge_is_a_503_and_counted(steering: Steering) -> None:
    for edge in list(steering.health):
        steering.record_probe(edge, up(edge, EdgeState.DOWN))
    with pytest.raises(NoUsableEdge) as info:
        steering.steer("10.1.2.3", "/k")
    assert info.value.status == 503
    assert info.value.headers()["Retry-After"] == "30"
    text = generate_latest(steering.metrics.registry).decode()
    assert "ocdn_steering_unanswered_total 1.0" in text


def test_one_decision_log_line_per_answer(steering: Steering,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ocdn.steering.decision")
    out = io.StringIO()
    steering.decision_log = DecisionLog(out)
    steering.record_probe("ams-1", DOWN)
    steering.record_probe("ams-1", DOWN)
    steering.steer("10.1.2.3", "/t1/r750.mp4")
    steering.steer("192.0.2.1", "/t1/r750.mp4")
    steering.decision_log.flush()
    lines = [line.split(": ", 1)[1] for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    assert lines[0].startswith("client=10.1.2.3 loc=prefix prefix=10.1.0.0/16 key=/t1/r750.mp4 "
                               "sites=ams-ix,fra-ix edges=ams-2,fra-")
    assert "ams-ix: ams-1 down: 2 consecutive probe failures" in lines[0]
    assert lines[1].startswith("client=192.0.2.1 loc=default prefix=- ")


def test_metrics(steering: Steering) -> None:
    steering.steer("10.1.2.3", "/a")
    steering.steer("192.0.2.1", "/a")
    steering.record_probe("fra-1", DOWN)
    steering.record_probe("fra-1", DOWN)
    text = generate_latest(steering.metrics.registry).decode()
    assert 'ocdn_steering_decisions_total{localisation="prefix"} 1.0' in text
    assert 'ocdn_steering_decisions_total{localisation="default"} 1.0' in text
    assert 'ocdn_steering_decisions_total{localisation="none"} 0.0' in text
    assert 'ocdn_steering_edges{state="up"} 3.0' in text
    assert 'ocdn_steering_edges{state="down"} 1.0' in text
    assert 'ocdn_steering_probe_seconds_count{edge="fra-1"} 3.0' in text
    assert 'ocdn_steering_probe_failures_total{edge="fra-1"} 2.0' in text
    assert 'ocdn_steering_edge_transitions_total{edge="fra-1",to="down"} 1.0' in text
    assert "ocdn_steering_decision_seconds_count 2.0" in text
    assert "ocdn_steering_topology_prefixes 1.0" in text


def test_hot_keys_spread_over_more_edges(steering: Steering) -> None:
    clock = steering.clock
    assert isinstance(clock, Clock)
    cold = {edge_ids(steering, f"10.1.{i}.1", "/cold")[0] for i in range(40)}
    assert len(cold) == 1
    firsts = set()
    for i in range(2000):
        clock.now += 0.005  # 200 requests a second
        firsts.add(edge_ids(steering, f"10.1.{i % 250}.{i // 250}", "/hot")[0])
    assert firsts == {"ams-1", "ams-2"}


def test_content_steering_lists_pathways(steering: Steering) -> None:
    doc = steering.content_steering("10.1.2.3", "/t1/master.m3u8",
                                    {"path": "/t1/master.m3u8", "_HLS_pathway": '"fra-ix"'})
    del doc["PATHWAY-CLONES"]
    assert doc == {"VERSION": 1, "TTL": 300,
                   "RELOAD-URI": "/v1/content-steering?path=%2Ft1%2Fmaster.m3u8",
                   "PATHWAY-PRIORITY": ["ams-ix", "fra-ix"]}
    for edge in ("ams-1", "ams-2"):
        steering.record_probe(edge, up(edge, EdgeState.DRAINING))
    doc = steering.content_steering("10.1.2.3", "/", {"_DASH_pathway": "ams-ix"})
    assert doc["PATHWAY-PRIORITY"] == doc["SERVICE-LOCATION-PRIORITY"] == ["fra-ix"]


def _clones(doc: dict[str, object]) -> dict[str, dict[str, Any]]:
    return {c["ID"]: c for c in doc["PATHWAY-CLONES"]}  # type: ignore[attr-defined]


def test_each_site_is_a_clone_of_the_base_on_its_best_edge_with_a_title_token(
    steering: Steering
) -> None:
    doc = steering.content_steering("10.1.2.3", "/t1/hls.m3u8", {"path": "/t1/hls.m3u8"},
                                    scope="/t1/")
    decision = steering.steer("10.1.2.3", "/t1/hls.m3u8").decision
    best = {}
    for e in decision.edges:
        best.setdefault(e.site, e)
    clones = _clones(doc)
    assert list(clones) == doc["PATHWAY-PRIORITY"] == ["ams-ix", "fra-ix"]
    for site, clone in clones.items():
        assert clone["BASE-ID"] == "cdn"
        replacement = clone["URI-REPLACEMENT"]
        assert replacement["HOST"] == urlsplit(best[site].url).netloc
        token = replacement["PARAMS"]["token"]
        # one token for the whole title directory, for the token window of /v1/steer
        tokens.verify(token, "/t1/v720/seg-1.m4s", RING, now=1_000_600)
        assert token.split("~")[1] == "1000620"
        with pytest.raises(tokens.TokenError):
            tokens.verify(token, "/t2/v720/seg-1.m4s", RING, now=1_000_600)


def test_clones_follow_health_and_skip_unusable_sites(steering: Steering) -> None:
    for _ in range(2):
        steering.record_probe("fra-1", DOWN)
        steering.record_probe("fra-2", DOWN)
    doc = steering.content_steering("10.1.2.3", "/t1/hls.m3u8", {}, scope="/t1/")
    assert list(_clones(doc)) == doc["PATHWAY-PRIORITY"] == ["ams-ix"]
    for _ in range(3):
        steering.record_probe("fra-2", up("fra-2"))
        steering.record_probe("fra-1", up("fra-1"))
    doc = steering.content_steering("192.0.2.1", "/t1/hls.m3u8", {}, scope="/t1/")
    assert list(_clones(doc)) == ["fra-ix", "ams-ix"]


def test_no_params_without_a_scope_or_a_key_ring() -> None:
    s = Steering(SteeringConfig(topology="t.yaml"), topology(), None, clock=Clock())
    for edge in s.topology.edge_by_id:
        s.record_probe(edge, up(edge))
    doc = s.content_steering("10.1.2.3", "/t1/hls.m3u8", {}, scope="/t1/")
    assert all(set(c["URI-REPLACEMENT"]) == {"HOST"} for c in _clones(doc).values())
    config = SteeringConfig(topology="t.yaml")
    signed = Steering(config, topology(), RING, clock=Clock())
    doc = signed.content_steering("10.1.2.3", "/", {}, scope="")
    assert all(set(c["URI-REPLACEMENT"]) == {"HOST"} for c in _clones(doc).values())


def test_clone_tokens_bind_the_client_network_when_asked() -> None:
    config = SteeringConfig(topology="t.yaml", token_bind_client=True, base_pathway="origin")
    s = Steering(config, topology(), RING, clock=Clock())
    doc = s.content_steering("10.1.2.3", "/t1/hls.m3u8", {}, scope="/t1/")
    for clone in _clones(doc).values():
        assert clone["BASE-ID"] == "origin"
        token = clone["URI-REPLACEMENT"]["PARAMS"]["token"]
        assert token.split("~")[2] == "10.1.0.0/16"
        tokens.verify(token, "/t1/hls.m3u8", RING, now=1_000_000, client_ip="10.1.9.9")
        with pytest.raises(tokens.TokenError, match="wrong-client"):
            tokens.verify(token, "/t1/hls.m3u8", RING, now=1_000_000, client_ip="10.2.0.1")


def test_the_player_reported_base_is_cloned_and_carried(steering: Steering) -> None:
    first = steering.content_steering("10.1.2.3", "/t1/hls.m3u8",
                                      {"path": "/t1/hls.m3u8", "_HLS_pathway": "origin"})
    assert {c["BASE-ID"] for c in _clones(first).values()} == {"origin"}
    assert first["RELOAD-URI"] == "/v1/content-steering?path=%2Ft1%2Fhls.m3u8&base=origin"
    later = steering.content_steering(
        "10.1.2.3", "/t1/hls.m3u8",
        {"path": "/t1/hls.m3u8", "base": "origin", "_HLS_pathway": "ams-ix"})
    assert {c["BASE-ID"] for c in _clones(later).values()} == {"origin"}
    assert later["RELOAD-URI"] == first["RELOAD-URI"]
