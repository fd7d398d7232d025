"""Byte sizes as people write them: plain bytes or a KiB/MiB/GiB/TiB suffix."""

from __future__ import annotations

import re

_UNITS = {
    "": 1, "B": 1,
    "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
    "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
    "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30,
    "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40,
}
# ASCII digits only: int() would also take "1_000", "+5" and Unicode digits.
_SIZE = re.compile(r"([0-9]+)(?:\.([0-9]+))?\s*([A-Za-z]*)", re.ASCII)


def parse_size(text: str | int) -> int:
    """Return the byte count of "2MiB", "512k", "1.5GiB" or "1048576"; ValueError otherwise.

    Suffixes are binary (KB == KiB), as disk and cache sizes are counted in them.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"size must not be negative: {text}")
        return text
    m = _SIZE.fullmatch(text.strip())
    if m is None or m.group(3).upper() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (use bytes or a KiB/MiB/GiB/TiB suffix)")
    whole, frac, unit = m.groups()
    scale = _UNITS[unit.upper()]
    value = int(whole) * scale
    if frac:
        value += int(frac) * scale // 10 ** len(frac)
    return value


def format_size(n: int) -> str:
    """Render a byte count the shortest exact way: 2097152 -> "2MiB", 1000 -> "1000"."""
    for suffix, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{suffix}"
    return str(n)
