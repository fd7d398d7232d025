"""Reading the topology file (YAML, or JSON, which is YAML too) into a `Topology`.

PyYAML, even with libyaml, builds every node in Python and runs the implicit-type
regexes on every scalar: measured here, ~120 µs per prefix line, two minutes for a
million prefixes against a 10 s budget. So the `prefixes:` block takes a fast path when
every entry in it is on one line in the flow form DESIGN.md shows,

    - {prefix: 10.1.0.0/16, sites: [ams-ix, fra-ix]}

(quoted or not; blank and comment lines allowed): PyYAML reads the rest of the file with
the block blanked out (so YAML line numbers in errors stay right), then one regex match
per line feeds the prefix table (~4 µs a line). A line in any other form sends the whole
file back to PyYAML, with the same result, only slower. A file that
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
_BLOCK_START = re.compile(r"prefixes:[ \t]*(?:#[^\n]*)?\r?\n")
_LINE = re.compile(
    r"(?:[ ]*-[ ]+\{[ \t]*prefix:[ \t]*(?P<q>[\"']?)(?P<prefix>[0-9A-Fa-f:./]+)(?P=q)[ \t]*,"
    r"[ \t]*sites:[ \t]*\[(?P<sites>[A-Za-z0-9._, \t\"'-]*)\][ \t]*\}[ \t]*"
    r"|[ \t]*)(?:#[^\n]*)?(?:\r?\n|\Z)"
)


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


class _NotFast(Exception):
    """A line of the prefix block is not in the one-line flow form."""


def _parse(text: str, source: str) -> Topology:
    if text.lstrip().startswith("{"):
        try:
            return build_topology(json.loads(text), source)
        except json.JSONDecodeError as exc:
            raise TopologyError(f"invalid JSON: {exc}") from None
    block = _prefix_block(text)
    if block is not None:
        start, end, first_line = block
        doc = _yaml(text[:start] + "\n" * text.count("\n", start, end) + text[end:])
        if isinstance(doc, dict) and doc.get("prefixes") is None:
            doc = {k: v for k, v in doc.items() if k != "prefixes"}
            try:
                return build_topology(doc, source, _fast_entries(text, start, end, first_line))
            except _NotFast:
                pass
    return build_topology(_yaml(text), source)


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise TopologyError(f"invalid YAML: {exc}") from None


def _prefix_block(text: str) -> tuple[int, int, int] | None:
    """(start, end, first line number) of the one `prefixes:` block, or None.

    str.find, not a MULTILINE regex: scanning 50 MB for line starts took a second. The
    block ends where another top-level key of the file starts; anything else at column 0
    inside it (a typo'd key, a document marker) fails the line match and falls back.
    """
    head = "prefixes:" if text.startswith("prefixes:") else "\nprefixes:"
    at = text.find(head)
    if at < 0 or text.find("\nprefixes:", at + 1) >= 0:
        return None
    opening = _BLOCK_START.match(text, at + len(head) - len("prefixes:"))
    if opening is None:
        return None
    start = opening.end()
    ends = [i + 1 for i in (text.find("\nsites:", start), text.find("\ndefault_sites:", start))
            if i >= 0]
    return start, min(ends, default=len(text)), text.count("\n", 0, start) + 1


def _fast_entries(text: str, start: int, end: int, first_line: int) -> Iterator[PrefixEntry]:
    """Entries of the block, one regex match per line; _NotFast at the first line in
    another form (one pass: the block is not scanned twice)."""
    sites_cache: dict[str, tuple[str, ...]] = {}
    match = _LINE.match
    pos, line = start, first_line
    while pos < end:
        m = match(text, pos, end)
        if m is None or m.end() == pos:
            raise _NotFast
        pos = m.end()
        prefix = m.group("prefix")
        if prefix is not None:
            raw = m.group("sites")
            sites = sites_cache.get(raw)
            if sites is None:
                sites = sites_cache[raw] = _split_sites(raw, line)
            yield line, prefix, sites
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
