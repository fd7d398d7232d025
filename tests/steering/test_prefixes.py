from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steering import prefixes
from steering.prefixes import (
    PrefixTable,
    PrefixTableBuilder,
    format_network,
    parse_address,
    parse_network,
)


def table(*entries: tuple[str, str]) -> PrefixTable[str]:
    b: PrefixTableBuilder[str] = PrefixTableBuilder()
    for prefix, value in entries:
        b.add(prefix, value)
    return b.build()


TABLE = table(
    ("10.0.0.0/8", "ten"),
    ("10.1.0.0/16", "ten-one"),
    ("10.1.2.0/24", "ten-one-two"),
    ("10.1.2.128/25", "upper-half"),
    ("10.1.2.7/32", "host"),
    ("192.168.0.0/16", "private"),
    ("2001:db8::/32", "doc"),
    ("2001:db8:1::/48", "doc-1"),
    ("2001:db8:1:2::/64", "doc-1-2"),
    ("2001:db8:1:2::1/128", "v6-host"),
)


@pytest.mark.parametrize(("address", "prefix", "value"), [
    ("10.9.9.9", "10.0.0.0/8", "ten"),
    ("10.1.9.9", "10.1.0.0/16", "ten-one"),
    ("10.1.2.3", "10.1.2.0/24", "ten-one-two"),
    ("10.1.2.200", "10.1.2.128/25", "upper-half"),
    ("10.1.2.7", "10.1.2.7/32", "host"),
    ("10.1.2.8", "10.1.2.0/24", "ten-one-two"),
    ("192.168.255.255", "192.168.0.0/16", "private"),
    ("2001:db8:ffff::1", "2001:db8::/32", "doc"),
    ("2001:db8:1:ffff::1", "2001:db8:1::/48", "doc-1"),
    ("2001:db8:1:2::2", "2001:db8:1:2::/64", "doc-1-2"),
    ("2001:db8:1:2::1", "2001:db8:1:2::1/128", "v6-host"),
    ("::ffff:10.1.2.3", "10.1.2.0/24", "ten-one-two"),
    ("fe80::1%eth0", None, None),
    ("11.0.0.1", None, None),
    ("2001:db9::1", None, None),
    ("0.0.0.0", None, None),
])
def test_longest_match(address: str, prefix: str | None, value: str | None) -> None:
    m = TABLE.lookup(address)
    if prefix is None:
        assert m is None
    else:
        assert m is not None
        assert (m.prefix, m.value) == (prefix, value)


def test_default_routes_match_everything_of_their_family() -> None:
    t = table(("0.0.0.0/0", "v4"), ("::/0", "v6"), ("10.0.0.0/8", "ten"))
    assert t.lookup("8.8.8.8").value == "v4"  # type: ignore[union-attr]
    assert t.lookup("10.0.0.1").value == "ten"  # type: ignore[union-attr]
    assert t.lookup("2a00::1").value == "v6"  # type: ignore[union-attr]
    assert len(t) == 3


@pytest.mark.parametrize(("text", "reason"), [
    ("10.1.2.0/16", "host bits set"),
    ("10.0.0.0", "not a prefix"),
    ("10.0.0.0/33", "length over /32"),
    ("2001:db8::/129", "length over /128"),
    ("10.0.0.0/+8", "bad prefix length"),
    ("10.0.0.0/٨", "bad prefix length"),
    ("10.0.0/8", "not an IP address"),
    ("2001:db8::1/32", "host bits set"),
    ("example.com/8", "not an IP address"),
])
def test_bad_prefixes_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_network(text)


def test_host_bits_error_suggests_the_network() -> None:
    with pytest.raises(ValueError, match=r"did you mean 10\.1\.0\.0/16"):
        parse_network("10.1.2.0/16")


def test_duplicates_are_refused_in_any_spelling() -> None:
    b: PrefixTableBuilder[str] = PrefixTableBuilder()
    b.add("2001:db8::/32", "a")
    with pytest.raises(ValueError, match="duplicate prefix 2001:db8::/32"):
        b.add("2001:0db8:0::/32", "b")


@pytest.mark.parametrize("text", ["", "10.1", "1.2.3.4.5", "::g", "10.0.0.1/8", " 10.0.0.1"])
def test_bad_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        parse_address(text)


def test_format_round_trips() -> None:
    for text in ("10.1.0.0/16", "2001:db8::/32", "::/0", "255.255.255.255/32"):
        assert format_network(*parse_network(text)) == text


def test_items_lists_every_prefix() -> None:
    assert sorted(TABLE.items()) == sorted([
        ("10.0.0.0/8", "ten"), ("10.1.0.0/16", "ten-one"), ("10.1.2.0/24", "ten-one-two"),
        ("10.1.2.128/25", "upper-half"), ("10.1.2.7/32", "host"),
        ("192.168.0.0/16", "private"), ("2001:db8::/32", "doc"),
        ("2001:db8:1::/48", "doc-1"), ("2001:db8:1:2::/64", "doc-1-2"),
        ("2001:db8:1:2::1/128", "v6-host"),
    ])


def test_cover_memo_stays_right_when_it_overflows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefixes, "_MEMO_LIMIT", 2)
    t = table(("10.0.0.0/8", "a"), ("11.0.0.0/8", "b"), ("12.0.0.0/8", "c"))
    for _ in range(3):
        for i, v in enumerate("abc"):
            assert t.lookup(f"{10 + i}.{i}.0.1").value == v  # type: ignore[union-attr]


# Property: the table agrees with a brute-force scan over ipaddress networks.

def _reference(nets: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int]],
               address: str) -> tuple[str, int] | None:
    addr = ipaddress.ip_address(address)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    best = None
    for net, value in nets:
        if addr.version == net.version and addr in net and (
                best is None or net.prefixlen > best[0].prefixlen):
            best = (net, value)
    return None if best is None else (str(best[0]), best[1])


def _v4_net() -> st.SearchStrategy[ipaddress.IPv4Network]:
    return st.tuples(st.integers(0, 3), st.integers(0, (1 << 30) - 1), st.integers(0, 32)).map(
        lambda t: ipaddress.IPv4Network(
            (((t[0] << 30) | t[1]) >> (32 - t[2]) << (32 - t[2]) if t[2] else 0, t[2])))


def _v6_net() -> st.SearchStrategy[ipaddress.IPv6Network]:
    return st.tuples(st.integers(0, 3), st.integers(0, (1 << 126) - 1), st.integers(0, 128)).map(
        lambda t: ipaddress.IPv6Network(
            ((((0x2001 << 112) | (t[0] << 110) | (t[1] >> 18)) >> (128 - t[2]) << (128 - t[2]))
             if t[2] else 0, t[2])))


def _addresses_near(nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
                    data: st.DataObject) -> list[str]:
    out = []
    for net in nets[:20]:
        span = net.num_addresses
        offset = data.draw(st.integers(0, span - 1))
        out.append(str(net.network_address + offset))
        if int(net.broadcast_address) + 1 < (1 << net.max_prefixlen):
            out.append(str(net.broadcast_address + 1))
    return out


@settings(max_examples=150, deadline=None)
@given(v4=st.lists(_v4_net(), max_size=40, unique=True),
       v6=st.lists(_v6_net(), max_size=40, unique=True),
       data=st.data())
def test_matches_brute_force_reference(
    v4: list[ipaddress.IPv4Network], v6: list[ipaddress.IPv6Network], data: st.DataObject
) -> None:
    nets = [(n, i) for i, n in enumerate([*v4, *v6])]
    b: PrefixTableBuilder[int] = PrefixTableBuilder()
    for net, value in nets:
        b.add(str(net), value)
    t = b.build()
    probes = _addresses_near([n for n, _ in nets], data)
    probes += data.draw(st.lists(st.ip_addresses().map(str), max_size=20))
    probes += [f"::ffff:{a}" for a in probes if "." in a and ":" not in a][:5]
    for address in probes:
        m = t.lookup(address)
        got = None if m is None else (m.prefix, m.value)
        assert got == _reference(nets, address), address
