"""Longest-prefix match of client addresses over IPv4 and IPv6 prefixes.

What it owns: turning prefix and address text into integers, and answering "which is the
longest prefix containing this address?" for a table of up to millions of prefixes. It
does not know what the values mean (steering stores tuples of site ids).

How: one table per family. Prefixes live in one dict per length, keyed by the network
as an int, so a probe is `dict.get(address & mask)`. Trying every length present, longest
first, costs one probe per length: 13 lengths gave 172k lookups/s on 1M IPv4 prefixes,
under the 200k target. So the table is also split in blocks of the top `BLOCK_BITS` bits
(/16 for IPv4, /32 for IPv6, where BGP tables put their shortest common prefixes):
`_long[block]` lists only the lengths longer than the block that occur inside it, and
the best match among the block-or-shorter lengths is the same for every address of a
block, so it is computed once per block and memoised. A lookup is then one dict probe for
the block, a probe per long length present there (typically one or two), and the memo.

Values are shared, not copied: callers intern them so a million prefixes mapping to a
few dozen site lists cost a million dict slots and ints, not a million tuples. IPv4-mapped
IPv6 addresses (`::ffff:10.1.2.3`, what a dual-stack socket reports) match as IPv4.
Pure: no I/O, no clock; the table is immutable once built.
"""

from __future__ import annotations

from collections.abc import Iterator
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import Generic, NamedTuple, TypeVar

V = TypeVar("V")

WIDTH = {4: 32, 6: 128}
BLOCK_BITS = {4: 16, 6: 32}
_MAPPED_V4 = 0xFFFF << 32
_MEMO_LIMIT = 1 << 17
_MISSING = object()


class Match(NamedTuple, Generic[V]):
    """The longest prefix containing an address, and its value (a NamedTuple: building a
    frozen dataclass costs 0.5 µs, a third of a lookup)."""

    family: int
    network: int
    length: int
    value: V

    @property
    def prefix(self) -> str:
        return format_network(self.family, self.network, self.length)


def parse_address(text: str) -> tuple[int, int]:
    """(family, address as int) of an IPv4 or IPv6 address; ValueError otherwise.

    IPv4-mapped IPv6 addresses come back as IPv4. A zone index (`fe80::1%eth0`) is dropped.
    """
    try:
        if ":" in text:
            n = int.from_bytes(inet_pton(AF_INET6, text.partition("%")[0]), "big")
            if n >> 32 == 0xFFFF:
                return 4, n & 0xFFFFFFFF
            return 6, n
        return 4, int.from_bytes(inet_pton(AF_INET, text), "big")
    except (OSError, UnicodeError):
        raise ValueError(f"not an IP address: {text!r}") from None


def parse_network(text: str) -> tuple[int, int, int]:
    """(family, network as int, length) of `ADDR/LEN`; ValueError says what is wrong.

    Strict: host bits must be zero (`10.1.2.0/16` is refused, not silently widened), and
    the length must be plain ASCII digits in range.
    """
    addr, slash, length_text = text.partition("/")
    if not slash:
        raise ValueError(f"{text!r} is not a prefix (expected ADDR/LEN)")
    if not (length_text.isascii() and length_text.isdigit()) or len(length_text) > 3:
        raise ValueError(f"{text!r}: bad prefix length")
    try:
        if ":" in addr:
            family, n = 6, int.from_bytes(inet_pton(AF_INET6, addr), "big")
        else:
            family, n = 4, int.from_bytes(inet_pton(AF_INET, addr), "big")
    except (OSError, UnicodeError):
        raise ValueError(f"{text!r}: not an IP address") from None
    length = int(length_text)
    host_masks = _HOST_MASKS[family]
    if length >= len(host_masks):
        raise ValueError(f"{text!r}: length over /{WIDTH[family]}")
    if n & host_masks[length]:
        raise ValueError(f"{text!r}: host bits set (did you mean "
                         f"{format_network(family, n & ~host_masks[length], length)}?)")
    return family, n, length


def format_network(family: int, network: int, length: int) -> str:
    if family == 4:
        return f"{inet_ntop(AF_INET, network.to_bytes(4, 'big'))}/{length}"
    return f"{inet_ntop(AF_INET6, network.to_bytes(16, 'big'))}/{length}"


def _mask(width: int, length: int) -> int:
    return ((1 << length) - 1) << (width - length)


_MASKS = {f: [_mask(w, n) for n in range(w + 1)] for f, w in WIDTH.items()}
_HOST_MASKS = {f: [((1 << w) - 1) ^ m for m in masks] for f, masks in _MASKS.items()
               for w in (WIDTH[f],)}


class _FamilyTable(Generic[V]):
    """The prefixes of one address family (see the module docstring for the layout)."""

    __slots__ = ("_by_length", "_cover", "_long", "_shift", "_short", "_width", "family")

    def __init__(self, family: int, by_length: dict[int, dict[int, V]]) -> None:
        self.family = family
        self._width = width = WIDTH[family]
        block = BLOCK_BITS[family]
        self._shift = width - block
        self._by_length = by_length
        masks = _MASKS[family]
        self._short = [(masks[n], n, by_length[n])
                       for n in sorted(by_length, reverse=True) if n <= block]
        lengths_in_block: dict[int, list[int]] = {}
        for n in sorted((n for n in by_length if n > block), reverse=True):
            for blk in {network >> self._shift for network in by_length[n]}:
                found = lengths_in_block.get(blk)
                if found is None:
                    lengths_in_block[blk] = [n]
                else:
                    found.append(n)
        shared: dict[tuple[int, ...], tuple[tuple[int, int, dict[int, V]], ...]] = {}
        self._long: dict[int, tuple[tuple[int, int, dict[int, V]], ...]] = {}
        for blk, found in lengths_in_block.items():
            key = tuple(found)
            levels = shared.get(key)
            if levels is None:
                levels = shared[key] = tuple((masks[n], n, by_length[n]) for n in key)
            self._long[blk] = levels
        self._cover: dict[int, tuple[int, int, V] | None] = {}

    def lookup(self, n: int) -> tuple[int, int, V] | None:
        blk = n >> self._shift
        levels = self._long.get(blk)
        if levels is not None:
            for mask, length, table in levels:
                value = table.get(n & mask, _MISSING)
                if value is not _MISSING:
                    return n & mask, length, value  # type: ignore[return-value]
        hit = self._cover.get(blk, _MISSING)
        if hit is _MISSING:
            hit = self._cover_block(blk)
        return hit  # type: ignore[return-value]

    def _cover_block(self, blk: int) -> tuple[int, int, V] | None:
        base = blk << self._shift
        found: tuple[int, int, V] | None = None
        for mask, length, table in self._short:
            value = table.get(base & mask, _MISSING)
            if value is not _MISSING:
                found = (base & mask, length, value)  # type: ignore[assignment]
                break
        if len(self._cover) >= _MEMO_LIMIT:
            self._cover.clear()
        self._cover[blk] = found
        return found

    def __len__(self) -> int:
        return sum(len(t) for t in self._by_length.values())

    def items(self) -> Iterator[tuple[int, int, V]]:
        for length, table in self._by_length.items():
            for network, value in table.items():
                yield network, length, value


class PrefixTable(Generic[V]):
    """An immutable longest-prefix-match table; build it with `PrefixTableBuilder`."""

    __slots__ = ("_v4", "_v6")

    def __init__(self, v4: _FamilyTable[V], v6: _FamilyTable[V]) -> None:
        self._v4 = v4
        self._v6 = v6

    def lookup(self, address: str) -> Match[V] | None:
        """The longest prefix containing `address`; ValueError if it is not an address."""
        family, n = parse_address(address)
        return self.lookup_int(family, n)

    def lookup_int(self, family: int, n: int) -> Match[V] | None:
        hit = (self._v4 if family == 4 else self._v6).lookup(n)
        if hit is None:
            return None
        return Match(family, hit[0], hit[1], hit[2])

    def __len__(self) -> int:
        return len(self._v4) + len(self._v6)

    def items(self) -> Iterator[tuple[str, V]]:
        """Every (prefix text, value), in no particular order."""
        for table in (self._v4, self._v6):
            for network, length, value in table.items():
                yield format_network(table.family, network, length), value


class PrefixTableBuilder(Generic[V]):
    """Collects prefixes; `add` refuses malformed and duplicate prefixes with ValueError."""

    __slots__ = ("_tables",)

    def __init__(self) -> None:
        self._tables: dict[int, dict[int, dict[int, V]]] = {4: {}, 6: {}}

    def add(self, prefix: str, value: V) -> None:
        family, network, length = parse_network(prefix)
        tables = self._tables[family]
        table = tables.get(length)
        if table is None:
            table = tables[length] = {}
        if network in table:
            raise ValueError(f"duplicate prefix {format_network(family, network, length)}")
        table[network] = value

    def build(self) -> PrefixTable[V]:
        return PrefixTable(_FamilyTable(4, self._tables[4]), _FamilyTable(6, self._tables[6]))
