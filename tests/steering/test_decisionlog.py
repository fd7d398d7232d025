from __future__ import annotations

import asyncio
import io
import logging
import re

import pytest

from steering.decisionlog import NAME, DecisionLog


def test_lines_look_like_the_services_other_log_lines() -> None:
    out = io.StringIO()
    log = DecisionLog(out)
    log.write("client=10.1.2.3 loc=prefix")
    assert out.getvalue() == ""
    log.flush()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO ocdn\.steering\.decision: "
                        r"client=10\.1\.2\.3 loc=prefix\n", out.getvalue())


def test_a_full_batch_is_written_at_once() -> None:
    out = io.StringIO()
    log = DecisionLog(out, max_lines=3)
    for i in range(7):
        log.write(f"n={i}")
    assert out.getvalue().count("\n") == 6
    log.flush()
    assert out.getvalue().count("\n") == 7


async def test_run_flushes_periodically_and_on_stop() -> None:
    out = io.StringIO()
    log = DecisionLog(out, flush_s=0.05)
    task = asyncio.get_running_loop().create_task(log.run())
    log.write("a")
    await asyncio.sleep(0.15)
    assert out.getvalue().endswith("a\n")
    log.write("b")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert out.getvalue().endswith("b\n")


def test_follows_the_logger_level() -> None:
    logger = logging.getLogger(NAME)
    old = logger.level
    try:
        logger.setLevel(logging.WARNING)
        assert not DecisionLog(io.StringIO()).enabled
        logger.setLevel(logging.INFO)
        assert DecisionLog(io.StringIO()).enabled
    finally:
        logger.setLevel(old)
