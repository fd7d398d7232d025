from __future__ import annotations

import pytest

from steering.clientaddr import ClientAddress
from steering.config import DEFAULT_TRUSTED_PROXIES

CLIENTS = ClientAddress(DEFAULT_TRUSTED_PROXIES)


@pytest.mark.parametrize(("peer", "xff", "client"), [
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "10.1.2.3", "10.1.2.3"),
    ("127.0.0.1", "10.1.2.3, 192.0.2.1, 127.0.0.1", "10.1.2.3"),
    ("127.0.0.1", " 10.1.2.3:4711 ,x", "10.1.2.3"),
    ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
    ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ("::1", "10.1.2.3", "10.1.2.3"),
    ("::ffff:127.0.0.1", "10.1.2.3", "10.1.2.3"),
    ("192.0.2.9", "10.1.2.3", "192.0.2.9"),
    ("2001:db8::9", "10.1.2.3", "2001:db8::9"),
    ("", "10.1.2.3", ""),
])
def test_forwarded_for_is_believed_only_from_trusted_peers(
    peer: str, xff: str | None, client: str
) -> None:
    assert CLIENTS(peer, xff) == client


def test_configured_proxies() -> None:
    clients = ClientAddress(["192.0.2.0/24"])
    assert clients("192.0.2.9", "10.1.2.3") == "10.1.2.3"
    assert clients("127.0.0.1", "10.1.2.3") == "127.0.0.1"
