"""EdgeMetrics: the hit path's shortcut counts the same as the general `request`."""

from edge.metrics import LATENCY_BUCKETS_S, EdgeMetrics


def test_hit_counts_as_request_would() -> None:
    fast, general = EdgeMetrics(), EdgeMetrics()
    for metrics in (fast, general):
        metrics.request(206, "hit", 0.002, 100, 100)
        metrics.request(200, "miss", 0.02, 50, 0)
    fast.hit(206, 0.0001, 10)
    general.request(206, "hit", 0.0001, 10, 10)
    assert fast.request_counts() == general.request_counts() == {
        (206, "hit"): 2, (200, "miss"): 1}
    assert fast.served_bytes == general.served_bytes == {"hit": 110, "miss": 50}
    for metrics in (fast, general):
        latency = metrics.request_latency
        assert sum(latency.counts) == 3
        assert latency.counts[0] == 1  # 0.1 ms is under the first bucket's bound
        assert abs(latency.sum - 0.0221) < 1e-12
    assert LATENCY_BUCKETS_S[0] > 0.0001
