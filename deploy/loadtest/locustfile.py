"""A locust load test of an ocdn deployment, shaped like video players.

Each simulated player asks steering for a title's rendition (`/v1/steer`), then reads the
file from the first edge URL in consecutive byte ranges, the way a Netflix-style player
reads one file per rendition, and fails over to the next URL on an error. Titles are
drawn with a Zipf-like skew, so some are hot and most are not.

    locust -f deploy/loadtest/locustfile.py --host http://STEERING:8300 \\
           --headless -u 200 -r 20 -t 5m --keys-file keys.txt

`--keys-file` lists object keys (one per line, e.g. `/t1/r750.mp4`); by default the demo's
sample object. Always bound a run: `-t` for time, `-u` for players; `--ranges-per-session`
bounds each session.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

RANGE_BYTES = 375_000  # ~2 s of a 1.5 Mb/s rendition


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--keys-file", default="", help="object keys, one per line")
    parser.add_argument("--ranges-per-session", type=int, default=8,
                        help="consecutive ranges a player reads before it stops")


def _keys(options: Any) -> list[str]:
    if options.keys_file:
        return [line.strip() for line in Path(options.keys_file).read_text().splitlines()
                if line.strip()]
    return ["/demo/sample.bin"]


class Player(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        self.keys = _keys(self.environment.parsed_options)
        self.weights = [1 / (rank + 1) for rank in range(len(self.keys))]

    @task
    def watch(self) -> None:
        key = random.choices(self.keys, weights=self.weights)[0]
        with self.client.get("/v1/steer", params={"path": key}, name="/v1/steer",
                             catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"steer answered {resp.status_code}")
                return
            urls = resp.json()["urls"]
        offset = 0
        for _ in range(self.environment.parsed_options.ranges_per_session):
            headers = {"Range": f"bytes={offset}-{offset + RANGE_BYTES - 1}"}
            for url in urls:  # fail over down the ranked list
                with self.client.get(url, headers=headers, name="edge range",
                                     catch_response=True) as got:
                    if got.status_code == 206:
                        break
                    if got.status_code == 416:
                        return  # read to the end of the file
                    got.failure(f"edge answered {got.status_code}")
            else:
                return
            offset += RANGE_BYTES
