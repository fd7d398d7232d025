"""Who the client is: the peer address, or the first X-Forwarded-For hop when the peer
is a trusted proxy (DESIGN.md; default: loopback only, so a player cannot choose its
own site by sending the header). Pure; the trust check is memoised per peer address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from steering.errors import BadRequest

_MEMO_LIMIT = 4096


class ClientAddress:
    def __init__(self, trusted: Sequence[str]) -> None:
        self._trusted = [ipaddress.ip_network(n) for n in trusted]
        self._memo: dict[str, bool] = {}

    def trusted(self, peer: str) -> bool:
        hit = self._memo.get(peer)
        if hit is None:
            try:
                addr = ipaddress.ip_address(peer)
            except ValueError:
                return False
            if addr.version == 6 and addr.ipv4_mapped is not None:  # type: ignore[union-attr]
                addr = addr.ipv4_mapped  # type: ignore[union-attr]
            hit = any(addr in net for net in self._trusted)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[peer] = hit
        return hit

    def __call__(self, peer: str, forwarded_for: str | None) -> str:
        """The client address; BadRequest when a trusted proxy sent a malformed header."""
        if not forwarded_for or not self.trusted(peer):
            return peer
        first = forwarded_for.split(",", 1)[0].strip()
        return _strip_port(first)


def _strip_port(hop: str) -> str:
    if hop.startswith("["):
        host, sep, _ = hop[1:].partition("]")
        if sep:
            return host
    elif hop.count(":") == 1:
        return hop.partition(":")[0]
    if not hop:
        raise BadRequest("empty X-Forwarded-For hop")
    return hop
