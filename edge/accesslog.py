"""The JSON-lines access log: one object per answered request, or nothing when off.

Lines are buffered and flushed once a second by the server (and at exit), not per
request: a write(2) per request would cost more than serving a small hit. SIGHUP makes the
edge reopen its log file (`reopen`), for logrotate (`deploy/logrotate/ocdn`).
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from common.http import Request


class AccessLog:
    def __init__(self, target: str) -> None:
        self.enabled = target != "off"
        self.target = target
        self._own = False
        self._out: IO[str] | None = None
        if target == "-":
            self._out = sys.stdout
        elif self.enabled:
            self._out = self._open()
            self._own = True

    def _open(self) -> IO[str]:
        return open(self.target, "a", buffering=1 << 16)  # lives with the server

    def reopen(self) -> None:
        """Flush and reopen the log file under its name (after logrotate moved it away);
        on failure, keep writing to the old file."""
        if not self._own or self._out is None:
            return
        self.flush()
        try:
            fresh = self._open()
        except OSError:
            return
        old, self._out = self._out, fresh
        old.close()

    def write(self, req: Request, status: int, cache: str, nbytes: int, key: str,
              seconds: float) -> None:
        assert self._out is not None
        self._out.write(json.dumps({
            "ts": round(time.time(), 3),
            "client": req.peer,
            "method": req.method,
            "path": req.path.decode("latin-1"),
            "range": req.headers.get("range"),
            "status": status,
            "cache": cache,
            "bytes": nbytes,
            "key": key,
            "ms": round(seconds * 1000, 3),
            "ua": req.headers.get("user-agent"),
        }, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        if self._out is not None:
            try:
                self._out.flush()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        self.flush()
        if self._own and self._out is not None:
            self._out.close()
