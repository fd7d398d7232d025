"""Suite-wide set-up: the embedded origin's credentials for every boto3 client the tests
make (the same ones `ocdn origin` prints), unless the environment already has some."""

from __future__ import annotations

import os

from origin.server import CREDENTIALS

for _key, _value in CREDENTIALS.items():
    os.environ.setdefault(_key, _value)
