from __future__ import annotations

import pytest

from steering.contentsteering import (
    Protocol,
    SteeringQuery,
    manifest,
    parse_query,
    prioritise,
    reload_uri,
)


@pytest.mark.parametrize(("query", "protocol", "pathway", "throughput"), [
    ({}, Protocol.HLS, "", None),
    ({"_HLS_pathway": "ams-ix", "_HLS_throughput": "5000000"}, Protocol.HLS, "ams-ix", 5000000),
    ({"_HLS_pathway": '"ams-ix"', "_HLS_throughput": '"5000000"'}, Protocol.HLS, "ams-ix",
     5000000),
    ({"_HLS_pathway": "'ams-ix'"}, Protocol.HLS, "ams-ix", None),
    ({"_DASH_pathway": '"fra-ix"', "_DASH_throughput": "123"}, Protocol.DASH, "fra-ix", 123),
    ({"protocol": "dash"}, Protocol.DASH, "", None),
    ({"_DASH_throughput": "7"}, Protocol.DASH, "", 7),
])
def test_player_parameters(query: dict[str, str], protocol: Protocol, pathway: str,
                           throughput: int | None) -> None:
    q = parse_query(query)
    assert (q.protocol, q.pathway, q.throughput_bps) == (protocol, pathway, throughput)
    assert q.notes == ()


@pytest.mark.parametrize("raw", ["-5", "1e6", "fast", "1" * 16, "٣"])
def test_malformed_throughput_is_ignored_not_refused(raw: str) -> None:
    q = parse_query({"_HLS_throughput": raw})
    assert q.throughput_bps is None
    assert q.notes and "ignored malformed _HLS_throughput" in q.notes[0]


def test_reload_uri_carries_our_parameters_not_the_players() -> None:
    q = parse_query({"path": "/t1/master.m3u8", "_HLS_pathway": "a", "_HLS_throughput": "1",
                     "session": "x y"})
    assert reload_uri("/v1/content-steering", q) == \
        "/v1/content-steering?path=%2Ft1%2Fmaster.m3u8&session=x+y"
    assert reload_uri("/v1/content-steering", parse_query({})) == "/v1/content-steering"


def _q(pathway: str, throughput: int | None) -> SteeringQuery:
    return SteeringQuery(Protocol.HLS, pathway, throughput, ())


@pytest.mark.parametrize(("pathway", "throughput", "floor", "order", "noted"), [
    ("a", 100, 1000, ["b", "a", "c"], True),
    ("b", 100, 1000, ["a", "c", "b"], True),
    ("c", 100, 1000, ["a", "b", "c"], False),
    ("a", 5000, 1000, ["a", "b", "c"], False),
    ("a", 100, 0, ["a", "b", "c"], False),
    ("a", None, 1000, ["a", "b", "c"], False),
    ("z", 100, 1000, ["a", "b", "c"], False),
])
def test_a_struggling_pathway_moves_down_one_place(
    pathway: str, throughput: int | None, floor: int, order: list[str], noted: bool
) -> None:
    got, note = prioritise(["a", "b", "c"], _q(pathway, throughput), floor)
    assert got == order
    assert bool(note) is noted


def test_manifests() -> None:
    hls = manifest(["ams-ix", "fra-ix"], 300, "/v1/content-steering?path=%2Fx", Protocol.HLS)
    assert hls == {"VERSION": 1, "TTL": 300, "RELOAD-URI": "/v1/content-steering?path=%2Fx",
                   "PATHWAY-PRIORITY": ["ams-ix", "fra-ix"]}
    dash = manifest(["fra-ix"], 60, "/r", Protocol.DASH)
    assert dash["PATHWAY-PRIORITY"] == dash["SERVICE-LOCATION-PRIORITY"] == ["fra-ix"]
