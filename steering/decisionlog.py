"""The decision log: one line per steering answer, written in batches.

Through `logging`, a decision line cost as much as the decision itself (a LogRecord,
a Formatter, and a flushed write per line: ~30% of a request in the profile). This
writer keeps the same line format as `common.logs` (`<asctime> INFO
ocdn.steering.decision: client=… loc=… prefix=… key=… sites=… edges=… why='…'`), so
the lines sit among the service's other log lines as if logged, but appends them to a
list and writes each batch with one call: when `max_lines` are pending, and from
`run()` every `flush_s`. A crash loses at most `flush_s` of decision lines, never
other logs. It honours the level of the `ocdn.steering.decision` logger, so
`--log-level warning` silences it as it would a logged line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from typing import TextIO

NAME = "ocdn.steering.decision"


class DecisionLog:
    def __init__(self, stream: TextIO | None = None, flush_s: float = 0.2,
                 max_lines: int = 512) -> None:
        self._stream = stream
        self.flush_s = flush_s
        self.max_lines = max_lines
        self._pending: list[str] = []
        self._second = -1
        self._stamp = ""
        self._logger = logging.getLogger(NAME)

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def write(self, message: str) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        self._pending.append(
            f"{self._stamp},{int((now - second) * 1000):03d} INFO {NAME}: {message}\n")
        if len(self._pending) >= self.max_lines:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        stream = self._stream or sys.stderr
        with contextlib.suppress(OSError, ValueError):
            stream.write("".join(lines))
            stream.flush()

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.flush_s)
                self.flush()
        finally:
            self.flush()
