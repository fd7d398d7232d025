"""The embedded S3-compatible origin: moto's server on loopback, for demos and tests.

moto reads the whole object for every ranged GET (DESIGN.md measures ~130 ms for 1 MiB
out of 256 MiB), so it suits small objects and functional tests; benchmarks of the
edge's miss path put nginx or a parent edge in front instead.
"""

from __future__ import annotations

import os
import socket
import time

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ocdn-local",
    "AWS_SECRET_ACCESS_KEY": "ocdn-local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class EmbeddedOrigin:
    """A running moto server; `endpoint` is its URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9000) -> None:
        from moto.server import ThreadedMotoServer  # heavy (Flask, every AWS model): lazily

        self.host = host
        self.port = port
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        for key, value in CREDENTIALS.items():
            os.environ.setdefault(key, value)
        self._server.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"embedded origin did not start on {self.endpoint}")

    def create_buckets(self, names: list[str]) -> None:
        from origin.s3 import make_client

        client = make_client(self.endpoint)
        for name in names:
            client.create_bucket(Bucket=name)

    def stop(self) -> None:
        self._server.stop()
