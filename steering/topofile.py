"""Reading the topology file (YAML, or JSON, which is YAML too) into a `Topology`.

PyYAML, even with libyaml, builds every node in Python and runs the implicit-type
regexes on every scalar: measured here, ~120 µs per prefix line, two minutes for a
million prefixes against a 10 s budget. So the `prefixes:` block takes a fast path when
every entry in it is on one line in the flow form DESIGN.md shows,

    - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}

(quoted or not; blank and comment lines allowed): a regex reads the lines straight into
the prefix table (~4 µs a line), and PyYAML reads the rest of the file with the block
blanked out, so YAML line numbers in errors stay right. Any other form in the block falls
back to PyYAML for the whole file, with the same result, only slower. A file that
starts with `{` is read as JSON (~2 µs a prefix). Errors from the fast path name the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from steering.errors import TopologyError
from steering.topology import PrefixEntry, Topology, build_topology

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BLOCK_START = re.compile(r"^prefixes:[ \t]*(?:#[^\n]*)?\r?\n", re.MULTILINE)
_LINE = re.compile(
    r"(?:[ ]*-[ ]+\{[ \t]*prefix:[ \t]*(?P<q>[\"']?)(?P<prefix>[0-9A-Fa-f:./]+)(?P=q)[ \t]*,"
    r"[ \t]*sites:[ \t]*\[(?P<sites>[A-Za-z0-9._, \t\"'-]*)\][ \t]*\}[ \t]*"
    r"|[ \t]*)(?:#[^\n]*)?(?:\r?\n|\Z)"
)
_TOP_KEY = re.compile(r"[A-Za-z_]")


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file; TopologyError says what and where."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise TopologyError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return parse_topology(text, str(path))


def parse_topology(text: str, source: str = "<topology>") -> Topology:
    try:
        return _parse(text, source)
    except TopologyError as exc:
        raise TopologyError(f"{source}: {exc}") from None


def _parse(text: str, source: str) -> Topology:
    if text.lstrip().startswith("{"):
        try:
            return build_topology(json.loads(text), source)
        except json.JSONDecodeError as exc:
            raise TopologyError(f"invalid JSON: {exc}") from None
    fast = _split_prefix_block(text)
    if fast is not None:
        rest, start, end, first_line = fast
        doc = _yaml(rest)
        if isinstance(doc, dict) and doc.get("prefixes") is None:
            doc = {k: v for k, v in doc.items() if k != "prefixes"}
            return build_topology(doc, source, _fast_entries(text, start, end, first_line))
    return build_topology(_yaml(text), source)


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise TopologyError(f"invalid YAML: {exc}") from None


def _split_prefix_block(text: str) -> tuple[str, int, int, int] | None:
    """(text with the block blanked, block start, block end, first line number), or None
    when the block is absent, repeated, or has a line the fast path does not take."""
    starts = list(_BLOCK_START.finditer(text))
    if len(starts) != 1:
        return None
    start = pos = starts[0].end()
    end = len(text)
    while pos < end:
        m = _LINE.match(text, pos)
        if m is None or m.end() == pos:
            if _TOP_KEY.match(text, pos):
                end = pos
                break
            return None
        pos = m.end()
    first_line = text.count("\n", 0, start) + 1
    blank = "\n" * text.count("\n", start, end)
    return text[:start] + blank + text[end:], start, end, first_line


def _fast_entries(text: str, start: int, end: int, first_line: int) -> Iterator[PrefixEntry]:
    sites_cache: dict[str, tuple[str, ...]] = {}
    match = _LINE.match
    pos, line = start, first_line
    while pos < end:
        m = match(text, pos)
        assert m is not None
        pos = m.end()
        prefix = m.group("prefix")
        if prefix is not None:
            raw = m.group("sites")
            sites = sites_cache.get(raw)
            if sites is None:
                sites = sites_cache[raw] = _split_sites(raw, line)
            yield f"line {line}", prefix, sites
        line += 1


def _split_sites(raw: str, line: int) -> tuple[str, ...]:
    out = []
    for item in raw.split(","):
        item = item.strip()
        if item[:1] in ("'", '"'):
            if len(item) < 2 or item[-1] != item[0]:
                raise TopologyError(f"line {line}: unbalanced quote in sites [{raw}]")
            item = item[1:-1]
        if not item:
            raise TopologyError(f"line {line}: empty site id in sites [{raw}]")
        out.append(item)
    return tuple(out)
