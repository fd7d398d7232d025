"""Service configuration from flags, environment and a TOML file.

A service declares its settings once, as a frozen dataclass whose fields carry an
`option(...)` metadata entry (help text and a parser). From that one declaration this
module builds the argparse flags and resolves every value with the precedence of
DESIGN.md: flag > environment > file > default. The environment variable for field
`cache_size` of service `edge` is `OCDN_EDGE_CACHE_SIZE`. The TOML file may hold the
keys at top level or in a table named for the service (`[edge]`), so one file can serve
every service of a box.

Every value goes through the field's parser whatever its source, and any failure stops
start-up with a `ConfigError` that names the field and the source it came from.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_META = "ocdn"


class ConfigError(Exception):
    """A setting is invalid; the message names the field and where the value came from."""

    def __init__(self, field: str, message: str, source: str = "") -> None:
        self.field = field
        self.source = source
        where = f" (from {source})" if source else ""
        super().__init__(f"config error: {field}{where}: {message}")


def option(
    help: str,
    parse: Callable[[Any], Any] | None = None,
    flag: str | None = None,
    cli: bool = True,
) -> dict[str, Any]:
    """Metadata for a config dataclass field.

    `parse` turns a raw value (a string from a flag or the environment, or a TOML value)
    into the field's value and raises ValueError with a readable reason when it cannot.
    `flag` overrides the flag name (default: `--field-name`); `cli=False` keeps a
    setting out of the command line (file and environment only).
    """
    return {_META: {"help": help, "parse": parse, "flag": flag, "cli": cli}}


def _meta(f: dataclasses.Field[Any]) -> dict[str, Any]:
    return dict(f.metadata.get(_META) or {"help": "", "parse": None, "flag": None, "cli": True})


def flag_name(f: dataclasses.Field[Any]) -> str:
    return _meta(f)["flag"] or "--" + f.name.replace("_", "-")


def env_name(service: str, field: str) -> str:
    return f"OCDN_{service}_{field}".upper().replace("-", "_")


def precedence_epilog(service: str, example: str = "") -> str:
    """The `--help` epilog every service shows: where else a flag can come from."""
    env = f"OCDN_{service.upper()}_<FIELD>" + (f", e.g. {example}" if example else "")
    return (f"Every flag can also be set in the TOML file (--config, keys at top level or "
            f"under [{service}]) or the environment ({env}); precedence: flag > environment "
            "> file > default.")


def add_arguments(parser: argparse.ArgumentParser, cls: type, service: str) -> None:
    """Add `--config` and one flag per field of `cls`; every default is None (unset)."""
    parser.add_argument(
        "--config", metavar="FILE", default=None,
        help=f"TOML config file (keys at top level or under [{service}]); "
        f"also {env_name(service, 'config')}",
    )
    for f in dataclasses.fields(cls):
        meta = _meta(f)
        if not meta["cli"]:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        kwargs: dict[str, Any] = {"dest": f.name, "default": None}
        help_text = f"{meta['help']} [env {env_name(service, f.name)}; default {default!r}]"
        if f.type in (bool, "bool"):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = f.name.upper()
        parser.add_argument(flag_name(f), help=help_text, **kwargs)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _convert(f: dataclasses.Field[Any], raw: Any) -> Any:
    parse = _meta(f)["parse"]
    if parse is not None:
        return parse(raw)
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if kind == "bool":
        return _parse_bool(raw)
    if kind == "int":
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {raw!r}")
        if isinstance(raw, int):
            return raw
        text = str(raw).strip()
        if not text.isascii() or not text.lstrip("-").isdigit():
            raise ValueError(f"expected an integer, got {raw!r}")
        return int(text)
    if kind == "float":
        if isinstance(raw, bool):
            raise ValueError(f"expected a number, got {raw!r}")
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {raw!r}") from None
    if kind == "str":
        if not isinstance(raw, str):
            raise ValueError(f"expected a string, got {raw!r}")
        return raw
    return raw


def read_toml(path: str | Path, service: str) -> dict[str, Any]:
    """The settings for `service` in a TOML file: its `[service]` table merged over the
    top-level keys (other services' tables are ignored)."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"invalid TOML in {path}: {exc}", str(path)) from None
    values = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    section = doc.get(service)
    if isinstance(section, dict):
        values.update(section)
    return values


_SERVICE_TABLES = {"edge", "steering", "origin", "encoder", "publish", "demo"}


def load(
    cls: type[T],
    service: str,
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Build `cls` from flags, environment and the config file, in that precedence.

    Raises ConfigError naming the field on an unknown key, a bad value, or a failing
    `validate()` method of `cls` (which may raise ConfigError itself).
    """
    env = os.environ if environ is None else environ
    ns = vars(args) if args is not None else {}
    config_path = ns.get("config") or env.get(env_name(service, "config"))
    file_values: dict[str, Any] = read_toml(config_path, service) if config_path else {}
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in file_values:
        if key not in fields:
            raise ConfigError(key, "unknown setting", str(config_path))
    # Tables for other services are allowed in a shared file; an unknown table is a typo.
    values: dict[str, Any] = {}
    for name, f in fields.items():
        raw: Any = None
        source = ""
        if ns.get(name) is not None:
            raw, source = ns[name], flag_name(f)
        elif env_name(service, name) in env:
            raw, source = env[env_name(service, name)], env_name(service, name)
        elif name in file_values:
            raw, source = file_values[name], str(config_path)
        if source:
            try:
                values[name] = _convert(f, raw)
            except (ValueError, TypeError) as exc:
                raise ConfigError(name, str(exc), source) from None
    try:
        obj = cls(**values)
    except TypeError as exc:
        raise ConfigError("config", str(exc)) from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj
