"""The topology: IXP sites with their edges, client prefixes, and default sites.

What it owns: the validated, immutable model of the topology file of DESIGN.md, built
from an already-parsed document (`topofile` reads the file). Every check names what is
at fault (`site 'ams-ix' edge 'ams-1': capacity_gbps must be > 0`, `prefixes line 42:
10.1.2.0/16: host bits set`), and the first failure stops the build: a topology is
either wholly valid or not loaded.

Site and edge ids are restricted to `[A-Za-z0-9._-]`, the HLS PATHWAY-ID alphabet, since
sites are the content-steering pathways. Edge URLs are http(s) origins with an optional
path prefix and no query. Beyond the sites a prefix lists, every other site is a fallback,
nearest first by great-circle distance between site locations (sites without a
location come after, in file order), so an answer can always reach its minimum number
of sites when the topology has them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from steering.errors import TopologyError
from steering.prefixes import PrefixTable, PrefixTableBuilder

_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_TOP_KEYS = {"sites", "prefixes", "default_sites"}
_SITE_KEYS = {"id", "location", "edges"}
_EDGE_KEYS = {"id", "url", "capacity_gbps", "drain"}
_PREFIX_KEYS = {"prefix", "sites"}

PrefixEntry = tuple[str | int, str, Sequence[str]]
"""(where, prefix, sites): `where` locates the entry for errors: `prefixes[3]`, or a line
number (an int, formatted only on error: a million f-strings cost a second)."""


@dataclass(frozen=True, slots=True)
class Edge:
    id: str
    site: str
    url: str  # scheme://host[:port][/path], no trailing slash
    capacity_gbps: float
    drain: bool = False  # set by the operator: no new clients, not down
    path_prefix: str = ""  # the URL's path, which the signed path starts with


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    edges: tuple[Edge, ...]
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Topology:
    sites: tuple[Site, ...]
    prefixes: PrefixTable[tuple[str, ...]]
    default_sites: tuple[str, ...]
    site_by_id: Mapping[str, Site]
    edge_by_id: Mapping[str, Edge]
    fallbacks: Mapping[str, tuple[str, ...]]  # site -> every other site, nearest first
    source: str = ""

    def site_order(self, preferred: Sequence[str]) -> list[str]:
        """`preferred`, then every other site nearest to the first preferred one first."""
        if not preferred:
            return [s.id for s in self.sites]
        seen = set(preferred)
        return [*preferred, *(s for s in self.fallbacks[preferred[0]] if s not in seen)]


def _fail(where: str, message: str) -> TopologyError:
    return TopologyError(f"{where}: {message}" if where else message)


def _where(where: str | int) -> str:
    return f"line {where}" if isinstance(where, int) else where


def _mapping(value: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r} (expected {', '.join(sorted(allowed))})")
    return value


def _ident(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _fail(where, f"{what} must be 1-64 characters of A-Z a-z 0-9 . _ -, got {value!r}")
    return value


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"{what} must be a number, got {value!r}")
    return float(value)


def _edge_url(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"url must be a string, got {value!r}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise _fail(where, f"url {value!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(where, f"url {value!r} must be http:// or https:// with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise _fail(where, f"url {value!r} must not carry a query, fragment or credentials")
    del port
    return value.rstrip("/")


def _site_list(value: Any, where: str, known: Mapping[str, Site]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _fail(where, f"sites must be a non-empty list of site ids, got {value!r}")
    for site in value:
        if not isinstance(site, str) or site not in known:
            raise _fail(where, f"unknown site {site!r}")
    if len(set(value)) != len(value):
        raise _fail(where, f"site listed twice in {list(value)}")
    return tuple(value)


def _parse_edge(raw: Any, site_id: str, index: int) -> Edge:
    where = f"site {site_id!r} edges[{index}]"
    doc = _mapping(raw, where, _EDGE_KEYS)
    edge_id = _ident(doc.get("id"), where, "edge id")
    where = f"site {site_id!r} edge {edge_id!r}"
    if "url" not in doc:
        raise _fail(where, "url is required")
    if "capacity_gbps" not in doc:
        raise _fail(where, "capacity_gbps is required")
    capacity = _number(doc["capacity_gbps"], where, "capacity_gbps")
    if capacity <= 0:
        raise _fail(where, f"capacity_gbps must be > 0, got {capacity:g}")
    drain = doc.get("drain", False)
    if not isinstance(drain, bool):
        raise _fail(where, f"drain must be true or false, got {drain!r}")
    url = _edge_url(doc["url"], where)
    return Edge(edge_id, site_id, url, capacity, drain, urlsplit(url).path)


def _parse_site(raw: Any, index: int) -> Site:
    doc = _mapping(raw, f"sites[{index}]", _SITE_KEYS)
    site_id = _ident(doc.get("id"), f"sites[{index}]", "site id")
    where = f"site {site_id!r}"
    lat = lon = None
    if doc.get("location") is not None:
        loc = _mapping(doc["location"], f"{where} location", {"lat", "lon"})
        if "lat" not in loc or "lon" not in loc:
            raise _fail(f"{where} location", "needs both lat and lon")
        lat = _number(loc["lat"], f"{where} location", "lat")
        lon = _number(loc["lon"], f"{where} location", "lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _fail(f"{where} location", f"lat/lon out of range: {lat:g}, {lon:g}")
    edges_raw = doc.get("edges", [])
    if not isinstance(edges_raw, list):
        raise _fail(where, "edges must be a list")
    edges = tuple(_parse_edge(e, site_id, i) for i, e in enumerate(edges_raw))
    return Site(site_id, edges, lat, lon)


def _distance_km(a: Site, b: Site) -> float:
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return math.inf
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _fallbacks(sites: Sequence[Site]) -> dict[str, tuple[str, ...]]:
    order = {s.id: i for i, s in enumerate(sites)}
    return {
        a.id: tuple(b.id for b in sorted(
            (b for b in sites if b.id != a.id), key=lambda b: (_distance_km(a, b), order[b.id])
        ))
        for a in sites
    }


def _prefix_entries(raw: Any) -> Iterable[PrefixEntry]:
    if raw is None:
        return
    if not isinstance(raw, list):
        raise _fail("prefixes", "must be a list")
    for i, item in enumerate(raw):
        doc = _mapping(item, f"prefixes[{i}]", _PREFIX_KEYS)
        if "prefix" not in doc or "sites" not in doc:
            raise _fail(f"prefixes[{i}]", "needs prefix and sites")
        prefix = doc["prefix"]
        if not isinstance(prefix, str):
            raise _fail(f"prefixes[{i}]", f"prefix must be a string, got {prefix!r}")
        yield f"prefixes[{i}]", prefix, doc["sites"]


def build_topology(
    doc: Any, source: str = "", prefix_entries: Iterable[PrefixEntry] | None = None
) -> Topology:
    """Validate a parsed topology document; TopologyError names what is at fault.

    `prefix_entries` replaces `doc["prefixes"]` when the reader parsed them itself.
    """
    top = _mapping(doc if doc is not None else {}, "", _TOP_KEYS)
    raw_sites = top.get("sites")
    if not isinstance(raw_sites, list) or not raw_sites:
        raise _fail("sites", "at least one site is required")
    sites = tuple(_parse_site(s, i) for i, s in enumerate(raw_sites))
    site_by_id: dict[str, Site] = {}
    edge_by_id: dict[str, Edge] = {}
    urls: dict[str, str] = {}
    for site in sites:
        if site.id in site_by_id:
            raise _fail(f"site {site.id!r}", "duplicate site id")
        site_by_id[site.id] = site
        for edge in site.edges:
            if edge.id in edge_by_id:
                raise _fail(f"site {site.id!r} edge {edge.id!r}",
                            f"duplicate edge id (also in site {edge_by_id[edge.id].site!r})")
            if edge.url in urls:
                raise _fail(f"site {site.id!r} edge {edge.id!r}",
                            f"url {edge.url} is also edge {urls[edge.url]!r}")
            edge_by_id[edge.id] = edge
            urls[edge.url] = edge.id
    default_sites: tuple[str, ...] = ()
    if top.get("default_sites") is not None:
        default_sites = _site_list(top["default_sites"], "default_sites", site_by_id)

    entries = prefix_entries if prefix_entries is not None else _prefix_entries(
        top.get("prefixes"))
    builder: PrefixTableBuilder[tuple[str, ...]] = PrefixTableBuilder()
    checked: dict[tuple[str, ...], tuple[str, ...]] = {}
    add = builder.add
    last_ids: object = None
    value: tuple[str, ...] = ()
    for where, prefix, site_ids in entries:
        if site_ids is not last_ids:
            try:
                found = checked.get(tuple(site_ids)) if isinstance(site_ids, list | tuple) else None
            except TypeError:
                found = None
            if found is None:
                found = _site_list(site_ids, f"{_where(where)} ({prefix})", site_by_id)
                checked[found] = found
            value, last_ids = found, site_ids
        try:
            add(prefix, value)
        except ValueError as exc:
            raise _fail(_where(where), str(exc)) from None
    return Topology(
        sites=sites,
        prefixes=builder.build(),
        default_sites=default_sites,
        site_by_id=site_by_id,
        edge_by_id=edge_by_id,
        fallbacks=_fallbacks(sites),
        source=source,
    )
