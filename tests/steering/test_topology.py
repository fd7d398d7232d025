from __future__ import annotations

from typing import Any

import pytest

from steering.errors import TopologyError
from steering.topology import build_topology


def doc(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sites": [
            {"id": "ams-ix", "location": {"lat": 52.37, "lon": 4.90}, "edges": [
                {"id": "ams-1", "url": "http://127.0.0.1:8101", "capacity_gbps": 10},
                {"id": "ams-2", "url": "http://127.0.0.1:8102/", "capacity_gbps": 20},
            ]},
            {"id": "fra-ix", "location": {"lat": 50.11, "lon": 8.68}, "edges": [
                {"id": "fra-1", "url": "https://fra-1.example.net/cdn", "capacity_gbps": 10},
            ]},
            {"id": "lon-ix", "location": {"lat": 51.51, "lon": -0.13}, "edges": []},
            {"id": "nyc-ix", "location": {"lat": 40.71, "lon": -74.0}, "edges": []},
            {"id": "lab", "edges": []},
        ],
        "prefixes": [
            {"prefix": "10.1.0.0/16", "sites": ["ams-ix", "fra-ix"]},
            {"prefix": "2001:db8::/32", "sites": ["fra-ix"]},
        ],
        "default_sites": ["fra-ix"],
    }
    base.update(over)
    return base


def test_builds_the_design_example() -> None:
    t = build_topology(doc(), "topo.yaml")
    assert [s.id for s in t.sites] == ["ams-ix", "fra-ix", "lon-ix", "nyc-ix", "lab"]
    assert t.edge_by_id["ams-2"].url == "http://127.0.0.1:8102"
    assert t.edge_by_id["ams-2"].capacity_gbps == 20.0
    assert t.edge_by_id["fra-1"].path_prefix == "/cdn"
    assert t.edge_by_id["ams-1"].path_prefix == ""
    assert t.default_sites == ("fra-ix",)
    assert t.prefixes.lookup("10.1.2.3").value == ("ams-ix", "fra-ix")  # type: ignore[union-attr]
    assert t.source == "topo.yaml"


def test_fallbacks_are_nearest_first_and_unlocated_sites_last() -> None:
    t = build_topology(doc())
    assert t.fallbacks["ams-ix"] == ("lon-ix", "fra-ix", "nyc-ix", "lab")
    assert t.fallbacks["lab"] == ("ams-ix", "fra-ix", "lon-ix", "nyc-ix")
    assert t.site_order(("fra-ix",)) == ["fra-ix", "ams-ix", "lon-ix", "nyc-ix", "lab"]
    assert t.site_order(("nyc-ix", "ams-ix")) == ["nyc-ix", "ams-ix", "lon-ix", "fra-ix", "lab"]
    assert t.site_order(()) == ["ams-ix", "fra-ix", "lon-ix", "nyc-ix", "lab"]


def test_site_lists_share_one_tuple() -> None:
    prefixes = [{"prefix": f"10.{i}.0.0/16", "sites": ["ams-ix", "fra-ix"]} for i in range(50)]
    t = build_topology(doc(prefixes=prefixes))
    values = {id(v) for _, v in t.prefixes.items()}
    assert len(values) == 1


def _edge(**over: Any) -> dict[str, Any]:
    return {"id": "x-1", "url": "http://127.0.0.1:9", "capacity_gbps": 1, **over}


def _one_site(*edges: dict[str, Any], **site: Any) -> dict[str, Any]:
    return {"sites": [{"id": "x", "edges": list(edges), **site}]}


@pytest.mark.parametrize(("document", "message"), [
    ({}, "sites: at least one site is required"),
    ({"sites": []}, "sites: at least one site is required"),
    ({"sites": [{"id": "a"}], "extra": 1}, "unknown key 'extra'"),
    ({"sites": ["a"]}, r"sites\[0\]: expected a mapping"),
    ({"sites": [{"id": "a b"}]}, r"sites\[0\]: site id must be"),
    ({"sites": [{"id": "a"}, {"id": "a"}]}, "site 'a': duplicate site id"),
    (_one_site(_edge(), _edge(url="http://127.0.0.1:10")), "site 'x' edge 'x-1': duplicate edge"),
    (_one_site(_edge(), _edge(id="x-2")), "site 'x' edge 'x-2': url http://127.0.0.1:9 is also"),
    (_one_site(_edge(capacity_gbps=0)), "site 'x' edge 'x-1': capacity_gbps must be > 0"),
    (_one_site(_edge(capacity_gbps="10")), "capacity_gbps must be a number"),
    (_one_site(_edge(capacity_gbps=True)), "capacity_gbps must be a number"),
    (_one_site({"id": "x-1", "url": "http://a"}), "edge 'x-1': capacity_gbps is required"),
    (_one_site({"id": "x-1", "capacity_gbps": 1}), "edge 'x-1': url is required"),
    (_one_site(_edge(url="ftp://a")), "edge 'x-1': url 'ftp://a' must be http"),
    (_one_site(_edge(url="http://a/?q=1")), "must not carry a query"),
    (_one_site(_edge(url="http://a:99999")), "edge 'x-1': url 'http://a:99999'"),
    (_one_site(_edge(drain="yes")), "drain must be true or false"),
    (_one_site(_edge(weight=1)), r"site 'x' edges\[0\]: unknown key 'weight'"),
    (_one_site(location={"lat": 91, "lon": 0}), "site 'x' location: lat/lon out of range"),
    (_one_site(location={"lat": 1}), "site 'x' location: needs both lat and lon"),
    ({**_one_site(), "default_sites": ["y"]}, "default_sites: unknown site 'y'"),
    ({**_one_site(), "default_sites": []}, "default_sites: sites must be a non-empty list"),
    ({**_one_site(), "prefixes": {"10.0.0.0/8": "x"}}, "prefixes: must be a list"),
    ({**_one_site(), "prefixes": [{"prefix": "10.0.0.0/8", "sites": ["y"]}]},
     r"prefixes\[0\] \(10\.0\.0\.0/8\): unknown site 'y'"),
    ({**_one_site(), "prefixes": [{"prefix": "10.0.0.0/8", "sites": ["x", "x"]}]},
     r"prefixes\[0\] \(10\.0\.0\.0/8\): site listed twice"),
    ({**_one_site(), "prefixes": [{"prefix": "10.1.0.0/8", "sites": ["x"]}]},
     r"prefixes\[0\]: '10\.1\.0\.0/8': host bits set"),
    ({**_one_site(), "prefixes": [{"prefix": "10.0.0.0/8", "sites": ["x"]},
                                  {"prefix": "10.0.0.0/8", "sites": ["x"]}]},
     r"prefixes\[1\]: duplicate prefix 10\.0\.0\.0/8"),
    ({**_one_site(), "prefixes": [{"prefix": 10, "sites": ["x"]}]},
     r"prefixes\[0\]: prefix must be a string"),
    ({**_one_site(), "prefixes": [{"prefix": "10.0.0.0/8"}]}, r"prefixes\[0\]: needs prefix"),
    ({**_one_site(), "prefixes": [{"prefix": "10.0.0.0/8", "sites": [["x"]]}]},
     r"prefixes\[0\] \(10\.0\.0\.0/8\): unknown site \['x'\]"),
])
def test_errors_name_what_is_at_fault(document: dict[str, Any], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        build_topology(document)
