"""Per-key request rate, for spreading hot content over more edges.

Each key keeps an exponentially decayed count: on every request
`rate = rate * 2**(-dt / half_life) + ln 2 / half_life`, which for a steady λ requests a
second settles at λ (within 1% once λ·half_life > 35) and forgets a burst with the
given half-life. Two floats per key, one `exp2` per request.

Memory is bounded: past `max_keys` entries the keys whose decayed rate has fallen under
`floor_per_s` are dropped (a sweep costs O(n) and happens at most once per `max_keys / 2`
new keys); if the table is still more than half full, only the hottest half stays. A
dropped key starts again from zero, which only delays its spreading.
Pure: the caller passes `now`. A clock that steps back (a wall clock being corrected)
counts as no time passing, never as negative time: 2**(+hours / half-life) would overflow.
"""

from __future__ import annotations

import heapq
import math


class RateEstimator:
    def __init__(self, half_life_s: float = 10.0, max_keys: int = 100_000,
                 floor_per_s: float = 0.05) -> None:
        if half_life_s <= 0:
            raise ValueError("half_life_s must be > 0")
        self.half_life_s = half_life_s
        self.max_keys = max_keys
        self.floor_per_s = floor_per_s
        self._bump = math.log(2) / half_life_s
        self._inv_half_life = 1.0 / half_life_s
        self._rates: dict[str, tuple[float, float]] = {}

    def hit(self, key: str, now: float) -> float:
        """Record one request for `key` at `now`; its rate in requests per second."""
        old = self._rates.get(key)
        if old is None:
            rate = self._bump
            if len(self._rates) >= self.max_keys:
                self._sweep(now)
        else:
            rate = old[0] * 2.0 ** (min(old[1] - now, 0.0) * self._inv_half_life) + self._bump
        self._rates[key] = (rate, max(now, old[1]) if old is not None else now)
        return rate

    def rate(self, key: str, now: float) -> float:
        old = self._rates.get(key)
        if old is None:
            return 0.0
        return old[0] * 2.0 ** (min(old[1] - now, 0.0) * self._inv_half_life)

    def __len__(self) -> int:
        return len(self._rates)

    def _sweep(self, now: float) -> None:
        decayed = {k: (r * 2.0 ** (min(t - now, 0.0) * self._inv_half_life), t)
                   for k, (r, t) in self._rates.items()}
        kept = {k: v for k, v in decayed.items() if v[0] >= self.floor_per_s}
        if len(kept) > self.max_keys // 2:
            hottest = heapq.nlargest(self.max_keys // 2, kept.items(), key=lambda kv: kv[1][0])
            kept = dict(hottest)
        self._rates = {k: (r, now) for k, (r, _) in kept.items()}
