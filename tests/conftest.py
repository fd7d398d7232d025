"""Suite-wide set-up: the embedded origin's credentials for every boto3 client the tests
make (the same ones `ocdn origin` prints), unless the environment already has some; and no
run against a compiled hot path older than its source (`common.build`)."""

from __future__ import annotations

import os

import pytest

from common import build
from origin.server import CREDENTIALS


def pytest_configure(config: pytest.Config) -> None:
    if stale := build.stale():
        raise pytest.UsageError(build.stale_message(stale))


for _key, _value in CREDENTIALS.items():
    os.environ.setdefault(_key, _value)
