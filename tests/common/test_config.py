from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.config import ConfigError, add_arguments, load, option
from common.sizes import format_size, parse_size


@dataclass(frozen=True, slots=True)
class Demo:
    size: int = field(default=10, metadata=option("a size", parse=parse_size))
    name: str = field(default="x", metadata=option("a name"))
    on: bool = field(default=False, metadata=option("a switch"))
    ratio: float = field(default=0.5, metadata=option("a ratio"))

    def validate(self) -> None:
        if self.ratio > 1:
            raise ConfigError("ratio", "must be at most 1")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, Demo, "demo")
    return parser.parse_args(list(argv))


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('size = "1KiB"\nname = "file"\n[demo]\nratio = 0.25\n[other]\nname = "no"\n')
    env = {"OCDN_DEMO_NAME": "env", "OCDN_DEMO_SIZE": "2KiB"}
    got = load(Demo, "demo", _args("--config", str(conf), "--size", "3KiB"), env)
    assert got == Demo(size=3072, name="env", on=False, ratio=0.25)
    got = load(Demo, "demo", _args("--config", str(conf)), {})
    assert got == Demo(size=1024, name="file", ratio=0.25)
    assert load(Demo, "demo", _args(), {}) == Demo()
    assert load(Demo, "demo", _args("--on"), {}).on is True
    assert load(Demo, "demo", _args(), {"OCDN_DEMO_ON": "yes"}).on is True


@pytest.mark.parametrize(("argv", "env", "toml", "field_name"), [
    (["--size", "ten"], {}, "", "size"),
    ([], {"OCDN_DEMO_SIZE": "-1"}, "", "size"),
    ([], {"OCDN_DEMO_ON": "perhaps"}, "", "on"),
    ([], {}, "ratio = 2.0\n", "ratio"),
    ([], {}, "ratio = true\n", "ratio"),
    ([], {}, "nmae = 'typo'\n", "nmae"),
    ([], {}, "name = 5\n", "name"),
    ([], {}, "name = \n", "config"),
])
def test_errors_name_the_field(tmp_path: Path, argv: list[str], env: dict[str, str], toml: str,
                               field_name: str) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load(Demo, "demo", _args("--config", str(conf), *argv), env)
    assert err.value.field == field_name
    assert str(err.value).startswith(f"config error: {field_name}")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(Demo, "demo", _args("--config", str(tmp_path / "nope.toml")), {})


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("1048576", 1 << 20), ("2MiB", 2 << 20), ("2m", 2 << 20), ("1.5GiB", 3 << 29),
    ("4 KiB", 4096), ("1TiB", 1 << 40), ("7B", 7),
])
def test_sizes(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "-1", "1_000", "+5", "٣", "5 parsecs", "MiB", "1.5.5"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_size() -> None:
    assert [format_size(n) for n in (2 << 20, 1000, 3 << 30)] == ["2MiB", "1000", "3GiB"]
