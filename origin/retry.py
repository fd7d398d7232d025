"""Retries with full-jitter exponential backoff.

Retry what may succeed a moment later (5xx, throttling, resets, timeouts: errors whose
`retryable` is true); never a 4xx. Full jitter (sleep uniform in [0, min(cap, base·2^n)])
spreads a herd of edges retrying the same origin (AWS Architecture Blog, "Exponential
Backoff and Jitter").
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    base_s: float = 0.05
    cap_s: float = 1.0

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """The sleep before retry number `attempt` (1-based)."""
        r = rng or random
        return r.uniform(0.0, min(self.cap_s, self.base_s * (2 ** (attempt - 1))))


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Await `call()`, retrying errors whose `retryable` attribute is true."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            attempt += 1
            if attempt >= policy.attempts or not getattr(exc, "retryable", False):
                raise
            if on_retry is not None:
                on_retry(exc)
            await asyncio.sleep(policy.delay_s(attempt))
