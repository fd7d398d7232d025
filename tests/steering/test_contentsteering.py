from __future__ import annotations

import pytest

from steering.contentsteering import (
    Protocol,
    SteeringQuery,
    base_pathway,
    clones,
    edge_host,
    manifest,
    parse_query,
    prioritise,
    reload_uri,
    with_base,
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


SITES = ("ams-ix", "fra-ix")


@pytest.mark.parametrize(("query", "base", "carry"), [
    ({}, "cdn", False),  # nothing reported: the configured base
    ({"_HLS_pathway": "cdn"}, "cdn", False),  # on the base already
    ({"_HLS_pathway": '"origin"'}, "origin", True),  # another base: clone it, remember it
    ({"_HLS_pathway": "ams-ix"}, "cdn", False),  # on a clone of ours: not a base
    ({"_HLS_pathway": "ams-ix", "base": "origin"}, "origin", False),  # remembered
    ({"_DASH_pathway": "origin"}, "origin", True),
    ({"_HLS_pathway": "bad id!"}, "cdn", False),
])
def test_the_base_pathway(query: dict[str, str], base: str, carry: bool) -> None:
    assert base_pathway(parse_query(query), SITES, "cdn") == (base, carry)


def test_the_base_rides_in_reload_uri_once_learned() -> None:
    q = parse_query({"path": "/t1/hls.m3u8", "_HLS_pathway": "origin"})
    base, carry = base_pathway(q, SITES, "cdn")
    assert carry
    reload = reload_uri("/v1/content-steering", with_base(q, base))
    assert reload == "/v1/content-steering?path=%2Ft1%2Fhls.m3u8&base=origin"
    again = parse_query({"path": "/t1/hls.m3u8", "base": "origin", "_HLS_pathway": "ams-ix"})
    assert base_pathway(again, SITES, "cdn") == ("origin", False)
    assert reload_uri("/v1/content-steering", again) == reload


def test_a_malformed_base_is_dropped_and_noted() -> None:
    q = parse_query({"base": "a b", "path": "/t1/x"})
    assert q.base == "" and q.carried == (("path", "/t1/x"),)
    assert q.notes and "ignored malformed base" in q.notes[0]


@pytest.mark.parametrize(("url", "host"), [
    ("http://127.0.0.1:8101", "127.0.0.1:8101"),
    ("https://ams-1.cdn.example", "ams-1.cdn.example"),
    ("http://[2001:db8::1]:8080", "[2001:db8::1]:8080"),
])
def test_edge_host(url: str, host: str) -> None:
    assert edge_host(url) == host


def test_one_clone_per_site_with_its_host_and_token() -> None:
    got = clones(["ams-ix", "fra-ix", "lon-ix"], "cdn",
                 {"ams-ix": "10.0.0.1:8101", "fra-ix": "10.0.0.2"},
                 {"ams-ix": {"token": "k~1~~s"}})
    assert got == [
        {"BASE-ID": "cdn", "ID": "ams-ix",
         "URI-REPLACEMENT": {"HOST": "10.0.0.1:8101", "PARAMS": {"token": "k~1~~s"}}},
        {"BASE-ID": "cdn", "ID": "fra-ix", "URI-REPLACEMENT": {"HOST": "10.0.0.2"}},
    ]  # lon-ix has no host (no usable edge): no clone
    assert clones(["cdn", "ams-ix"], "cdn", {"cdn": "x", "ams-ix": "y"}, {})[0]["ID"] == "ams-ix"


def test_manifests_carry_the_clones_for_hls_and_dash() -> None:
    c = clones(["ams-ix"], "cdn", {"ams-ix": "h:1"}, {})
    for protocol in Protocol:
        doc = manifest(["ams-ix"], 300, "/r", protocol, c)
        assert doc["PATHWAY-CLONES"] == c
        assert doc["PATHWAY-PRIORITY"] == ["ams-ix"]
    assert "PATHWAY-CLONES" not in manifest(["ams-ix"], 300, "/r", Protocol.HLS)
