"""The steering service's state, between the pure decision and the HTTP handlers.

It holds the current topology, token keys and every edge's health, and keeps one
immutable `Routes` snapshot that decisions read. Probes (from `poller`) update health;
the snapshot is rebuilt only when some edge's tier or reason changes, which is rare,
so a decision never waits on health bookkeeping. A topology reload keeps the health of
every edge whose id and URL are unchanged, so a reload moves no traffic by itself.

Per answer it signs the URLs (one URL tuple per plan and token window, reused), counts
the decision by localisation and writes one decision log line: client, matched prefix,
sites, edges and the reasons behind them. A content-steering answer also names, per
site, the host of its best edge and a token for the title's directory, from which
`contentsteering` builds the pathway clones. No I/O here beyond logging; time comes from
an injected clock.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from common.tokens import PARAM, KeyRing
from steering import contentsteering as cs
from steering.config import SteeringConfig
from steering.decisionlog import DecisionLog
from steering.errors import NoUsableEdge
from steering.health import (
    EdgeHealth,
    Hysteresis,
    Probe,
    State,
    Tier,
    effective_state,
    observe,
    tier,
)
from steering.hotness import RateEstimator
from steering.metrics import Metrics
from steering.ranking import spread_width
from steering.steer import Decision, Plan, Policy, Routes, build_routes, decide, site_best
from steering.topology import Edge, Topology
from steering.urls import Signer, client_network

log = logging.getLogger("ocdn.steering")

CONTENT_STEERING_PATH = "/v1/content-steering"
SIGNED_MEMO_ENTRIES = 1 << 16


@dataclass(frozen=True, slots=True)
class Answer:
    decision: Decision
    urls: tuple[str, ...]
    expires: int  # Unix seconds, when the tokens run out
    ttl_s: int  # how long the answer may be reused


class Steering:
    def __init__(
        self,
        config: SteeringConfig,
        topology: Topology,
        ring: KeyRing | None,
        clock: Callable[[], float] = time.time,
        decisions: DecisionLog | None = None,
    ) -> None:
        self.config = config
        self.decision_log = decisions or DecisionLog()
        self.signer = Signer(ring, config.token_ttl_s)
        self.clock = clock
        self.policy = Policy(config.max_edges, config.edges_per_site, config.min_sites)
        self.hysteresis = Hysteresis(config.down_after, config.up_after, config.load_threshold)
        self.health: dict[str, EdgeHealth] = {}
        self.rates = RateEstimator(config.hot_half_life_s)
        self.metrics = Metrics(self.count_states)
        self.topology = topology
        self.loaded_at = clock()
        self.reload_error = ""
        self._tiers: dict[str, tuple[Tier, str]] = {}
        # id(plan) -> (plan, expires, network, urls); the plan is kept so its id stays its own
        self._signed: dict[int, tuple[Plan, int, str, tuple[str, ...]]] = {}
        self.routes: Routes = build_routes(topology, {})
        self.set_topology(topology)

    def set_topology(self, topology: Topology, ring: KeyRing | None = None) -> None:
        old = self.topology.edge_by_id
        fresh = {}
        for edge_id, edge in topology.edge_by_id.items():
            kept = self.health.get(edge_id)
            same = edge_id in old and old[edge_id].url == edge.url
            fresh[edge_id] = kept if kept is not None and same else EdgeHealth()
        self.health = fresh
        self.topology = topology
        if ring is not None:
            self.signer = Signer(ring, self.config.token_ttl_s)
        self._signed = {}
        self.loaded_at = self.clock()
        self.reload_error = ""
        self.metrics.prefixes.set(len(topology.prefixes))
        self.metrics.reloads.labels("ok").inc()
        self._rebuild()

    def reload_failed(self, reason: str) -> None:
        self.reload_error = reason
        self.metrics.reloads.labels("error").inc()

    def probe_targets(self) -> dict[str, str]:
        return {e.id: e.url for e in self.topology.edge_by_id.values()}

    def record_probe(self, edge_id: str, probe: Probe) -> None:
        edge = self.topology.edge_by_id.get(edge_id)
        before = self.health.get(edge_id)
        if edge is None or before is None:
            return
        self.metrics.probe_seconds.labels(edge_id).observe(probe.latency_s)
        if probe.status is None:
            self.metrics.probe_failures.labels(edge_id).inc()
        after = observe(before, probe, edge.capacity_gbps, self.hysteresis, self.clock())
        self.health[edge_id] = after
        if after.state is not before.state:
            self.metrics.transitions.labels(edge_id, after.state.value).inc()
            level = logging.WARNING if after.state is State.DOWN else logging.INFO
            log.log(level, "edge %s %s -> %s: %s", edge_id, before.state.value,
                    after.state.value, after.reason)
        if tier(after, edge.drain) != self._tiers.get(edge_id):
            self._rebuild()

    def _rebuild(self) -> None:
        edges = self.topology.edge_by_id
        self._tiers = {eid: tier(self.health[eid], e.drain) for eid, e in edges.items()}
        self.routes = build_routes(self.topology, self._tiers)

    def count_states(self) -> Mapping[State, int]:
        edges = self.topology.edge_by_id
        return Counter(effective_state(self.health[eid], e.drain) for eid, e in edges.items())

    def decide(self, client: str, key: str) -> Decision:
        """The decision for `client` and `key`, counted, logged, and 503 when empty."""
        now = self.clock()
        width = spread_width(self.rates.hit(key, now), self.config.hot_rps_per_edge)
        decision = decide(self.routes, client, key, width, self.policy)
        if not decision.edges:
            self.metrics.unanswered.inc()
            self._log(decision, key)
            raise NoUsableEdge("no usable edge in any site", self.config.answer_ttl_s)
        self.metrics.decisions[decision.localisation].inc()
        return decision

    def steer(self, client: str, key: str) -> Answer:
        start = time.perf_counter()
        decision = self.decide(client, key)
        network = (client_network(client, decision.prefix)
                   if self.config.token_bind_client and self.signer.ring is not None else "")
        urls, expires = self._urls(decision, key, network)
        self.metrics.decision_seconds.observe(time.perf_counter() - start)
        self._log(decision, key)
        return Answer(decision, urls, expires, self.config.answer_ttl_s)

    def _urls(self, decision: Decision, key: str, network: str) -> tuple[tuple[str, ...], int]:
        """The signed URLs of a decision; the same tuple for every answer from one plan
        in one token window (so `server` can reuse its JSON too)."""
        plan = decision.plan
        now = self.clock()
        expires = self.signer.expires(now)
        hit = self._signed.get(id(plan)) if plan is not None else None
        if hit is not None and hit[0] is plan and hit[1] == expires and hit[2] == network:
            return hit[3], expires
        urls, expires = self.signer.urls(decision.edges, key, now, network)
        if plan is not None:
            if len(self._signed) >= SIGNED_MEMO_ENTRIES:
                self._signed.clear()
            self._signed[id(plan)] = (plan, expires, network, urls)
        return urls, expires

    def content_steering(
        self, client: str, key: str, query: Mapping[str, str], scope: str = ""
    ) -> dict[str, object]:
        """The steering manifest for `client` playing the title at `key`; `scope` is the
        title's directory, which the clones' tokens cover ("" for no token)."""
        q = cs.parse_query(query)
        decision = self.decide(client, key)
        order, note = cs.prioritise(decision.pathways, q, self.config.low_throughput_bps)
        base, carry = cs.base_pathway(q, self.topology.site_by_id, self.config.base_pathway)
        if carry:
            q = cs.with_base(q, base)
        hosts, params = self._clone_targets(decision, key, order, scope)
        clones = cs.clones(order, base, hosts, params)
        notes = [n for n in (*q.notes, note) if n]
        if q.pathway or q.throughput_bps is not None:
            notes.insert(0, f"player on {q.pathway or '?'} at {q.throughput_bps} bit/s")
        self._log(decision, key, f"pathways={','.join(order)}",
                  f"clones of {base}: {len(clones)}", *notes)
        return cs.manifest(order, self.config.steering_ttl_s,
                           cs.reload_uri(CONTENT_STEERING_PATH, q), q.protocol, clones)

    def _clone_targets(
        self, d: Decision, key: str, order: list[str], scope: str
    ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Per pathway (site): the host of its best edge for this client and title, and
        the query parameters (a token for `scope`) its clone adds to every URI."""
        first: dict[str, Edge] = {}
        for e in d.edges:
            first.setdefault(e.site, e)
        signing = bool(scope) and self.signer.ring is not None
        network = (client_network(d.client, d.prefix)
                   if signing and self.config.token_bind_client else "")
        now = self.clock()
        hosts: dict[str, str] = {}
        params: dict[str, dict[str, str]] = {}
        for site in order:
            edge = first.get(site) or site_best(self.routes, site, key, d.spread, d.client)
            if edge is None:
                continue
            hosts[site] = cs.edge_host(edge.url)
            if signing:
                params[site] = {PARAM: self.signer.token(edge.path_prefix + scope, now, network)}
        return hosts, params

    def _log(self, d: Decision, key: str, *extra: str) -> None:
        if not self.config.decision_log or not self.decision_log.enabled:
            return
        why = "; ".join((*d.why, *extra))
        where = d.plan.log if d.plan is not None else (f"sites={','.join(d.sites) or '-'} "
                          f"edges={','.join(e.id for e in d.edges) or '-'}")
        self.decision_log.write(
            f"client={d.client} loc={d.localisation.value} prefix={d.prefix or '-'} key={key} "
            f"{where} why={why!r}")

    def edges_report(self) -> dict[str, object]:
        now = self.clock()
        sites = []
        for site in self.topology.sites:
            edges = []
            for e in site.edges:
                h = self.health[e.id]
                t, reason = self._tiers[e.id]
                st = h.status
                edges.append({
                    "id": e.id, "url": e.url, "capacity_gbps": e.capacity_gbps,
                    "state": effective_state(h, e.drain).value, "tier": t.name.lower(),
                    "reason": reason, "detail": h.reason,
                    "consecutive_failures": h.failures, "consecutive_successes": h.successes,
                    "load": round(h.load, 4), "overloaded": h.overloaded,
                    "since_s": round(now - h.changed_at, 1) if h.changed_at else None,
                    "last_probe_s": round(now - h.probed_at, 1) if h.probed_at else None,
                    "status": None if st is None else {
                        "state": st.state.value, "connections": st.connections,
                        "egress_bytes_per_s": st.egress_bytes_per_s,
                        "cache_bytes_used": st.cache_bytes_used,
                        "cache_bytes_capacity": st.cache_bytes_capacity,
                        "hit_ratio": st.hit_ratio,
                    },
                })
            sites.append({"id": site.id, "edges": edges})
        return {
            "topology": {
                "source": self.topology.source, "loaded_at": int(self.loaded_at),
                "prefixes": len(self.topology.prefixes),
                "default_sites": list(self.topology.default_sites),
                "reload_error": self.reload_error or None,
            },
            "sites": sites,
        }
