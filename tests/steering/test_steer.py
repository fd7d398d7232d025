from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steering.errors import BadRequest
from steering.health import Tier
from steering.steer import Localisation, Policy, Routes, build_routes, decide
from steering.topology import Topology, build_topology


def topo(default: list[str] | None = None) -> Topology:
    def edges(site: str, n: int) -> list[dict[str, object]]:
        return [{"id": f"{site}-{i}", "url": f"http://{site}-{i}.example", "capacity_gbps": 10}
                for i in range(1, n + 1)]
    doc: dict[str, object] = {
        "sites": [
            {"id": "ams", "location": {"lat": 52.4, "lon": 4.9}, "edges": edges("ams", 3)},
            {"id": "fra", "location": {"lat": 50.1, "lon": 8.7}, "edges": edges("fra", 2)},
            {"id": "lon", "location": {"lat": 51.5, "lon": -0.1}, "edges": edges("lon", 1)},
            {"id": "nyc", "location": {"lat": 40.7, "lon": -74.0}, "edges": []},
        ],
        "prefixes": [
            {"prefix": "10.1.0.0/16", "sites": ["ams", "fra"]},
            {"prefix": "10.2.0.0/16", "sites": ["nyc", "lon"]},
            {"prefix": "2001:db8::/32", "sites": ["fra"]},
        ],
    }
    if default is not None:
        doc["default_sites"] = default
    return build_topology(doc)


def routes(t: Topology, **tiers: Tier) -> Routes:
    states = {e: (Tier.PREFERRED, "up") for e in t.edge_by_id}
    states.update({k.replace("_", "-"): (v, v.name.lower()) for k, v in tiers.items()})
    return build_routes(t, states)


def ids(d: object) -> list[str]:
    return [e.id for e in d.edges]  # type: ignore[attr-defined]


def test_a_matched_prefix_gives_its_sites_first() -> None:
    d = decide(routes(topo()), "10.1.2.3", "/t1/r750.mp4")
    assert d.localisation is Localisation.PREFIX
    assert d.prefix == "10.1.0.0/16"
    assert d.sites == ("ams", "fra")
    assert len(ids(d)) == 4 and len(set(ids(d))) == 4
    assert [e.site for e in d.edges] == ["ams", "ams", "fra", "fra"]
    assert d.pathways == ("ams", "fra", "lon")
    assert d.why[0] == "prefix 10.1.0.0/16 -> ams,fra"


def test_ipv6_clients_match_too() -> None:
    d = decide(routes(topo()), "2001:db8::42", "/k")
    assert (d.localisation, d.prefix, d.sites[0]) == (Localisation.PREFIX, "2001:db8::/32", "fra")


def test_unmatched_clients_get_the_default_sites() -> None:
    d = decide(routes(topo(default=["lon"])), "192.0.2.1", "/k")
    assert d.localisation is Localisation.DEFAULT
    assert d.prefix == ""
    assert d.sites[0] == "lon"
    assert len(d.sites) >= 2 and len(d.edges) >= 3


def test_without_defaults_every_site_is_tried_in_file_order() -> None:
    d = decide(routes(topo()), "192.0.2.1", "/k")
    assert d.localisation is Localisation.NONE
    assert d.sites == ("ams", "fra")


def test_a_site_without_usable_edges_is_skipped_and_said_so() -> None:
    d = decide(routes(topo()), "10.2.0.9", "/k")
    assert d.sites[0] == "lon"
    assert any(w.startswith("skip nyc: no usable edge (no edges)") for w in d.why)
    assert len(d.edges) >= 3 and len(d.sites) >= 2


def test_down_and_draining_edges_are_never_answered() -> None:
    r = routes(topo(), ams_1=Tier.UNUSABLE, ams_2=Tier.UNUSABLE, ams_3=Tier.UNUSABLE)
    for i in range(50):
        d = decide(r, "10.1.2.3", f"/k{i}")
        assert not any(e.startswith("ams") for e in ids(d))
        assert d.sites[0] == "fra"
    assert any(w.startswith("skip ams: no usable edge (ams-1 unusable") for w in d.why)


def test_degraded_edges_rank_after_their_healthy_peers() -> None:
    r = routes(topo(), ams_1=Tier.DEGRADED, ams_2=Tier.DEGRADED)
    for i in range(50):
        d = decide(r, "10.1.2.3", f"/k{i}")
        assert ids(d)[0] == "ams-3"
    assert "ams: ams-1 degraded" in d.why


def test_at_least_three_edges_over_two_sites_even_when_the_first_site_is_big() -> None:
    policy = Policy(max_edges=3, edges_per_site=3, min_sites=2)
    d = decide(routes(topo()), "10.1.2.3", "/k", policy=policy)
    assert [e.site for e in d.edges] == ["ams", "ams", "fra"]


def test_remaining_edges_top_the_answer_up_when_sites_run_out() -> None:
    t = topo()
    r = routes(t, fra_1=Tier.UNUSABLE, fra_2=Tier.UNUSABLE, lon_1=Tier.UNUSABLE)
    d = decide(r, "10.1.2.3", "/k", policy=Policy(max_edges=4, edges_per_site=1, min_sites=2))
    assert sorted(ids(d)) == ["ams-1", "ams-2", "ams-3"]


def test_the_same_key_goes_to_the_same_edge_from_every_client() -> None:
    r = routes(topo())
    firsts = {ids(decide(r, f"10.1.{i}.{i}", "/t9/r750.mp4"))[0] for i in range(100)}
    assert len(firsts) == 1


def test_keys_spread_over_a_sites_edges() -> None:
    r = routes(topo())
    firsts = Counter(ids(decide(r, "10.1.2.3", f"/t{i}/r.mp4"))[0] for i in range(3000))
    assert set(firsts) == {"ams-1", "ams-2", "ams-3"}
    assert min(firsts.values()) > 800


def test_a_hot_key_spreads_over_width_edges_by_client() -> None:
    r = routes(topo())
    firsts = Counter(ids(decide(r, f"10.1.{i // 200}.{i % 200}", "/hot", width=2))[0]
                     for i in range(2000))
    assert len(firsts) == 2 and min(firsts.values()) > 700
    cold_first = ids(decide(r, "10.1.0.0", "/hot"))[0]
    assert cold_first in firsts
    same = {ids(decide(r, "10.1.7.7", "/hot", width=2))[0] for _ in range(5)}
    assert len(same) == 1


def test_bad_client_addresses_are_bad_requests() -> None:
    with pytest.raises(BadRequest, match="not an IP address"):
        decide(routes(topo()), "not-an-ip", "/k")


def test_nothing_usable_gives_an_empty_decision() -> None:
    t = topo()
    r = build_routes(t, {e: (Tier.UNUSABLE, "down") for e in t.edge_by_id})
    d = decide(r, "10.1.2.3", "/k")
    assert d.edges == () and d.pathways == ()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 255), st.integers(0, 40),
                          st.integers(1, 6)), min_size=1, max_size=60),
       st.dictionaries(st.sampled_from(["ams-1", "ams-2", "ams-3", "fra-1", "fra-2", "lon-1"]),
                       st.sampled_from([Tier.DEGRADED, Tier.UNUSABLE]), max_size=4))
def test_memoised_decisions_equal_fresh_ones(
    asks: list[tuple[int, int, int, int]], tiers: dict[str, Tier]
) -> None:
    """The plan memo (per sites, key, hot width and the client's pick) changes no answer:
    one long-lived snapshot answers exactly as a fresh snapshot per request would."""
    t = topo(default=["fra"])
    states = {e: (Tier.PREFERRED, "up") for e in t.edge_by_id}
    states.update({e: (tier, tier.name.lower()) for e, tier in tiers.items()})
    shared = build_routes(t, states)
    policy = Policy(max_edges=3, edges_per_site=2, min_sites=2)
    for net, host, key, width in asks:
        client = ("10.1.7.", "10.2.7.", "192.0.2.", "2001:db8::")[net] + str(host)
        got = decide(shared, client, f"/k{key}", width, policy)
        fresh = decide(build_routes(t, states), client, f"/k{key}", width, policy)
        assert got == fresh
        assert got.plan is not None and fresh.plan is not None
        assert got.plan.log == fresh.plan.log
