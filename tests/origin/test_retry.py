from __future__ import annotations

import random

import pytest

from origin.errors import OriginDenied, OriginError
from origin.retry import RetryPolicy, with_retries


def test_delays_are_full_jitter_under_the_cap() -> None:
    policy = RetryPolicy(attempts=10, base_s=0.1, cap_s=0.5)
    rng = random.Random(1)
    for attempt in range(1, 10):
        delays = [policy.delay_s(attempt, rng) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= min(0.5, 0.1 * 2 ** (attempt - 1))


async def test_retries_5xx_but_never_4xx() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OriginError("503")
        return "ok"

    assert await with_retries(flaky, RetryPolicy(attempts=3, base_s=0.001)) == "ok"
    assert len(calls) == 3

    async def denied() -> str:
        calls.append(1)
        raise OriginDenied("403")

    calls.clear()
    with pytest.raises(OriginDenied):
        await with_retries(denied, RetryPolicy(attempts=5, base_s=0.001))
    assert len(calls) == 1


async def test_gives_up_after_the_attempts() -> None:
    calls = []

    async def down() -> None:
        calls.append(1)
        raise OriginError("reset")

    with pytest.raises(OriginError):
        await with_retries(down, RetryPolicy(attempts=4, base_s=0.001))
    assert len(calls) == 4
