"""Steering's Prometheus metrics, in a registry of its own.

Edges by state are counted at scrape time from the live health table (a callback), so
there is no gauge to keep in step. Label children on the decision path are bound once:
`labels()` costs about 1 µs per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from steering.health import State
from steering.steer import Localisation

_PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025)


class _EdgeStates(Collector):
    def __init__(self, count: Callable[[], Mapping[State, int]]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ocdn_steering_edges", "Edges by health state (draining includes operator drains)",
            labels=["state"])
        counts = self._count()
        for state in State:
            family.add_metric([state.value], counts.get(state, 0))
        yield family


class Metrics:
    def __init__(self, edge_states: Callable[[], Mapping[State, int]]) -> None:
        r = self.registry = CollectorRegistry()
        decisions = Counter(
            "ocdn_steering_decisions", "Steering answers by how the client was localised",
            ["localisation"], registry=r)
        self.decisions = {loc: decisions.labels(loc.value) for loc in Localisation}
        self.unanswered = Counter(
            "ocdn_steering_unanswered", "Requests refused for want of a usable edge (503)",
            registry=r)
        self.decision_seconds = Histogram(
            "ocdn_steering_decision_seconds", "Time to decide and sign one answer",
            buckets=_DECISION_BUCKETS, registry=r)
        self.probe_seconds = Histogram(
            "ocdn_steering_probe_seconds", "Latency of /status probes, successful or not",
            ["edge"], buckets=_PROBE_BUCKETS, registry=r)
        self.probe_failures = Counter(
            "ocdn_steering_probe_failures", "Failed /status probes", ["edge"], registry=r)
        self.transitions = Counter(
            "ocdn_steering_edge_transitions", "Edge health state changes", ["edge", "to"],
            registry=r)
        self.reloads = Counter(
            "ocdn_steering_topology_reloads", "Topology loads by result", ["result"], registry=r)
        self.prefixes = Gauge(
            "ocdn_steering_topology_prefixes", "Client prefixes in the topology", registry=r)
        r.register(_EdgeStates(edge_states))
