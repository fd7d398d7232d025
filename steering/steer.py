"""The steering decision: client address + content key + edge health -> ranked edges, why.

Pure: it reads an immutable `Routes` snapshot (topology plus each edge's tier, rebuilt
by the service whenever a tier changes) and returns a `Decision`; signing, logging and
HTTP are elsewhere.

The order of sites: the client's longest matching prefix gives its sites by preference
(localisation `prefix`); with no match, `default_sites` (`default`); with neither, every
site in file order (`none`). After those come every other site, nearest first, so that
a player always gets somewhere to fail over to. A site with no usable edge is skipped.

Inside a site, usable edges rank by rendezvous hash of the key (weighted by capacity),
preferred tier before degraded (overloaded or not yet probed), with a hot key's first
place spread over its top edges by client (see `ranking`).

How many: up to `edges_per_site` from each site in order, until the answer has
`max_edges` edges over at least `min_sites` sites; one slot is held back for each site
still needed, so a large first site cannot crowd out the failover. When the sites run
out first, the remaining usable edges top the answer up in site order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from steering.errors import BadRequest
from steering.health import Tier
from steering.prefixes import format_network, parse_address
from steering.ranking import client_hash, rank, spread, stable_hash
from steering.topology import Edge, Topology

RANKED_MEMO_ENTRIES = 1 << 17
PLAN_MEMO_ENTRIES = 1 << 17


class Localisation(StrEnum):
    PREFIX = "prefix"
    DEFAULT = "default"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Candidate:
    edge: Edge
    hash: int
    weight: float
    tier: Tier
    reason: str


@dataclass(frozen=True, slots=True)
class SiteRoutes:
    """One site's edges by tier, and the notes a decision repeats about it."""

    preferred: tuple[Candidate, ...]
    degraded: tuple[Candidate, ...]
    notes: tuple[str, ...]  # one per edge that is not preferred
    skip: str  # why the site is skipped, "" when it has a usable edge


class Routes:
    """A consistent view for decisions: the topology and every edge's tier.

    Three memos ride on a snapshot, all of what does not depend on time or on the client
    beyond its sites: the site order for each distinct preference list (a topology has a
    few dozen, shared by all its prefixes), each site's ranking for a key, and the whole
    `Plan` for (sites, key, hot width, the client's place in that width). A `Routes` is
    replaced, not changed, when a tier changes, which is what keeps the memos right.
    """

    __slots__ = ("_lcm", "_orders", "_plans", "_ranked", "sites", "topology")

    def __init__(self, topology: Topology, sites: Mapping[str, SiteRoutes]) -> None:
        self.topology = topology
        self.sites = sites
        self._orders: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._ranked: dict[tuple[str, int], tuple[list[Candidate], list[Candidate]]] = {}
        self._plans: dict[tuple[object, ...], Plan] = {}
        # a hot key's client picks edge `client % min(width, n)` of a site's n preferred
        # edges: `client % lcm(1..min(width, widest))` fixes that pick in every site
        widest = max((len(s.preferred) for s in sites.values()), default=1)
        self._lcm = [1]
        for n in range(1, widest + 1):
            self._lcm.append(math.lcm(self._lcm[-1], n))

    def pick(self, width: int, client: int) -> int:
        """What of the client hash a plan depends on, for a key spread `width` wide."""
        if width < 2:
            return 0
        return client % self._lcm[width]

    def plan(self, preferred: tuple[str, ...], key: str, width: int, client: int,
             policy: Policy) -> Plan:
        """The edges for clients of `preferred` sites asking for `key`. Memoised: popular
        keys are asked for many times a second, and this is most of a decision's cost.
        A spread wider than the widest site picks the same edges as the widest site, so
        the memo holds one plan per useful width, not per hot key's every rate step."""
        width = min(width, len(self._lcm) - 1)
        memo_key = (key, preferred, width, self.pick(width, client), policy)
        hit = self._plans.get(memo_key)
        if hit is None:
            hit = _plan(self, preferred, key, width, client, policy)
            if len(self._plans) >= PLAN_MEMO_ENTRIES:
                self._plans.clear()
            self._plans[memo_key] = hit
        return hit

    def ranked(self, site_id: str, key_hash: int) -> tuple[list[Candidate], list[Candidate]]:
        """A site's preferred and degraded edges, each best first for the key. Memoised
        with the snapshot."""
        hit = self._ranked.get((site_id, key_hash))
        if hit is None:
            site = self.sites[site_id]
            hit = (rank(key_hash, site.preferred), rank(key_hash, site.degraded))
            if len(self._ranked) >= RANKED_MEMO_ENTRIES:
                self._ranked.clear()
            self._ranked[site_id, key_hash] = hit
        return hit

    def order(self, preferred: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(every site in the order to try, the ones with a usable edge)."""
        hit = self._orders.get(preferred)
        if hit is None:
            order = tuple(self.topology.site_order(preferred))
            hit = (order, tuple(s for s in order if not self.sites[s].skip))
            if len(self._orders) < 4096:
                self._orders[preferred] = hit
        return hit


@dataclass(frozen=True, slots=True)
class Policy:
    max_edges: int = 4
    edges_per_site: int = 2
    min_sites: int = 2


@dataclass(frozen=True, slots=True)
class Decision:
    client: str
    localisation: Localisation
    prefix: str  # the matched client prefix, "" when none matched
    edges: tuple[Edge, ...]  # best first
    sites: tuple[str, ...]  # the sites of `edges`, in order
    pathways: tuple[str, ...]  # every site with a usable edge, in preference order
    why: tuple[str, ...]
    spread: int = 1
    plan: Plan | None = field(default=None, compare=False, repr=False)  # what it came from


@dataclass(frozen=True, slots=True)
class Plan:
    """A decision less the client: the same for every client of the same sites (and,
    for a hot key, the same pick among its top edges)."""

    edges: tuple[Edge, ...]  # best first
    sites: tuple[str, ...]
    pathways: tuple[str, ...]
    notes: tuple[str, ...]  # the why after the localisation line
    log: str  # "sites=… edges=…" of the decision log line


@functools.lru_cache(maxsize=1 << 16)
def _edge_hash(edge_id: str) -> int:
    return stable_hash(edge_id)


def build_routes(topology: Topology, tiers: Mapping[str, tuple[Tier, str]]) -> Routes:
    """`tiers` maps edge id to (tier, reason); an edge missing from it is not probed yet."""
    sites: dict[str, SiteRoutes] = {}
    for site in topology.sites:
        cands = []
        for edge in site.edges:
            t, reason = tiers.get(edge.id, (Tier.DEGRADED, "not probed yet"))
            cands.append(Candidate(edge, _edge_hash(edge.id), edge.capacity_gbps, t, reason))
        preferred = tuple(c for c in cands if c.tier is Tier.PREFERRED)
        degraded = tuple(c for c in cands if c.tier is Tier.DEGRADED)
        notes = tuple(f"{site.id}: {c.edge.id} {c.reason}" for c in cands
                      if c.tier is not Tier.PREFERRED)
        skip = ""
        if not preferred and not degraded:
            detail = "; ".join(f"{c.edge.id} {c.reason}" for c in cands) or "no edges"
            skip = f"skip {site.id}: no usable edge ({detail})"
        sites[site.id] = SiteRoutes(preferred, degraded, notes, skip)
    return Routes(topology, sites)


def localise(topology: Topology, client: str) -> tuple[Localisation, str, tuple[str, ...]]:
    """(how the client was placed, the matched prefix or "", its preferred sites)."""
    try:
        family, n = parse_address(client)
    except ValueError:
        raise BadRequest(f"client address {client!r} is not an IP address") from None
    match = topology.prefixes.lookup_int(family, n)
    if match is not None:
        return (Localisation.PREFIX, format_network(family, match.network, match.length),
                match.value)
    if topology.default_sites:
        return Localisation.DEFAULT, "", topology.default_sites
    return Localisation.NONE, "", ()


def site_edges(
    routes: Routes, site_id: str, key_hash: int, width: int, client: int
) -> list[Candidate]:
    """A site's usable edges best first for the key."""
    preferred, degraded = routes.ranked(site_id, key_hash)
    ranked = spread(preferred, width, client)
    return ranked + degraded if degraded else ranked


def site_best(routes: Routes, site_id: str, key: str, width: int, client: str) -> Edge | None:
    """The edge a decision for `client` and `key` would put first from `site_id` (None
    when the site has no usable edge)."""
    site = routes.sites.get(site_id)
    if site is None or site.skip:
        return None
    ranked = site_edges(routes, site_id, stable_hash(key), width, client_hash(client))
    return ranked[0].edge if ranked else None


def decide(
    routes: Routes, client: str, key: str, width: int = 1, policy: Policy = Policy()
) -> Decision:
    """Rank edges for `client` asking for `key`; `width` is the key's hot spread."""
    localisation, prefix, preferred = localise(routes.topology, client)
    if localisation is Localisation.PREFIX:
        head = f"prefix {prefix} -> {','.join(preferred)}"
    elif localisation is Localisation.DEFAULT:
        head = f"no prefix matched -> default {','.join(preferred)}"
    else:
        head = "no prefix matched, no default sites -> all sites"
    plan = routes.plan(preferred, key, width, client_hash(client) if width > 1 else 0, policy)
    return Decision(
        client=client,
        localisation=localisation,
        prefix=prefix,
        edges=plan.edges,
        sites=plan.sites,
        pathways=plan.pathways,
        why=(head, *plan.notes) if width < 2 else
            (head, f"hot key spread over {width} edges per site", *plan.notes),
        spread=width,
        plan=plan,
    )


def _plan(routes: Routes, preferred: tuple[str, ...], key: str, width: int, chash: int,
          policy: Policy) -> Plan:
    order, pathways = routes.order(preferred)
    why: list[str] = []
    key_hash = stable_hash(key)
    chosen: list[Candidate] = []
    used = 0
    leftovers: list[list[Candidate]] = []
    max_edges, per_site, min_sites = policy.max_edges, policy.edges_per_site, policy.min_sites
    for site_id in order:
        if len(chosen) >= max_edges and used >= min_sites:
            break
        site = routes.sites[site_id]
        if site.skip:
            why.append(site.skip)
            continue
        why.extend(site.notes)
        ranked = site_edges(routes, site_id, key_hash, width, chash)
        reserve = max(0, min_sites - used - 1)
        take = min(per_site, max_edges - len(chosen) - reserve)
        if take < 1:
            take = 1 if used < min_sites else 0
            if not take:
                continue
        chosen += ranked[:take]
        leftovers.append(ranked[take:])
        used += 1
    for rest in leftovers:
        room = max_edges - len(chosen)
        if room <= 0:
            break
        chosen += rest[:room]
    edges = tuple(c.edge for c in chosen)
    sites = tuple(dict.fromkeys(e.site for e in edges))
    log = f"sites={','.join(sites) or '-'} edges={','.join(e.id for e in edges) or '-'}"
    return Plan(edges, sites, pathways, tuple(why), log)
