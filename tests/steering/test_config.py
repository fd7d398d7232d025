from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from common.config import ConfigError, add_arguments, load
from steering.config import SteeringConfig, split_listen


def parse(argv: list[str], environ: dict[str, str] | None = None) -> SteeringConfig:
    p = argparse.ArgumentParser()
    add_arguments(p, SteeringConfig, "steering")
    return load(SteeringConfig, "steering", p.parse_args(argv), environ or {})


def test_defaults() -> None:
    c = parse(["--topology", "t.yaml"])
    assert (c.host, c.port) == ("127.0.0.1", 8300)
    assert (c.poll_interval_s, c.down_after, c.up_after) == (1.0, 2, 3)
    assert c.trusted_proxies == ("127.0.0.0/8", "::1/128")
    assert (c.max_edges, c.edges_per_site, c.min_sites) == (4, 2, 2)


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    f = tmp_path / "ocdn.toml"
    f.write_text('listen = "127.0.0.1:1"\n[steering]\ntopology = "file.yaml"\n'
                 'down_after = 5\ntrusted_proxies = ["10.0.0.0/8"]\n[edge]\nid = "x"\n')
    c = parse(["--config", str(f), "--down-after", "3"],
              {"OCDN_STEERING_LISTEN": "[::1]:9", "OCDN_STEERING_UP_AFTER": "4"})
    assert c.topology == "file.yaml"
    assert (c.down_after, c.up_after) == (3, 4)
    assert (c.host, c.port) == ("::1", 9)
    assert c.trusted_proxies == ("10.0.0.0/8",)


@pytest.mark.parametrize(("argv", "field"), [
    ([], "topology"),
    (["--topology", "t", "--listen", "nowhere"], "listen"),
    (["--topology", "t", "--listen", "::1:80"], "listen"),
    (["--topology", "t", "--poll-interval-s", "0"], "poll_interval_s"),
    (["--topology", "t", "--probe-timeout-s", "2"], "probe_timeout_s"),
    (["--topology", "t", "--down-after", "0"], "down_after"),
    (["--topology", "t", "--max-edges", "1"], "max_edges"),
    (["--topology", "t", "--hot-rps-per-edge", "-1"], "hot_rps_per_edge"),
    (["--topology", "t", "--trusted-proxies", "10.0.0.0/8,bogus"], "trusted_proxies"),
    (["--topology", "t", "--log-level", "loud"], "log_level"),
])
def test_bad_settings_name_the_field(argv: list[str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(argv)
    assert info.value.field == field


def test_split_listen() -> None:
    assert split_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    assert split_listen("[2001:db8::1]:8300") == ("2001:db8::1", 8300)
    with pytest.raises(ValueError):
        split_listen("127.0.0.1:70000")
