"""Content keys in, signed edge URLs out.

A key is the URL path a player asks for (`/t1/r750.mp4`). It is held to RFC 3986 path
characters without percent-escapes and without `.`/`..` segments, so the path steering
signs is byte for byte the path the edge sees, whatever either side decodes or
normalises; anything else is a 400.

Every URL handed out carries a token (`common.tokens`) over the edge's path prefix plus
the key, valid for `token_ttl_s`, optionally bound to the client's network: the prefix
it matched in the topology, else its /24 (IPv4) or /48 (IPv6). A manifest's URL
(`.m3u8`, `.mpd`) gets a directory token for its title instead (`/t1/` for
`/t1/hls.m3u8`): a player goes on to fetch that title's playlists and segments with the
token the manifest's URL carried (`ocdn encode --token-param`), which a token for the
manifest's path alone would refuse.
"""

from __future__ import annotations

import re

from common import tokens
from steering.errors import BadRequest
from steering.prefixes import format_network, parse_address
from steering.topology import Edge

MAX_KEY_CHARS = 1024
MANIFEST_SUFFIXES = (".m3u8", ".mpd")
_KEY = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+", re.ASCII)
_UNBOUND_PREFIX = {4: 24, 6: 48}


def title_scope(key: str) -> str:
    """The directory a title's token covers: `/t1/hls.m3u8` -> `/t1/`; "" for a key at
    the root, which would make a token for every title."""
    scope = key[:key.rfind("/") + 1]
    return scope if scope != "/" else ""


def signed_path(key: str) -> str:
    """What the token of a URL for `key` covers: a manifest's title directory, else the
    key itself."""
    if key.endswith(MANIFEST_SUFFIXES):
        return title_scope(key) or key
    return key


def parse_key(raw: str | None) -> str:
    """The content key of a request, or BadRequest saying what is wrong with it."""
    if not raw:
        raise BadRequest("missing content path (e.g. path=/t1/r750.mp4)")
    if len(raw) > MAX_KEY_CHARS:
        raise BadRequest(f"content path longer than {MAX_KEY_CHARS} characters")
    if not _KEY.fullmatch(raw):
        raise BadRequest(
            "content path must be /-separated segments of A-Z a-z 0-9 and ._~!$&'()*+,;=:@- "
            "(no percent-escapes, no empty segments)")
    if "/./" in raw + "/" or "/../" in raw + "/":
        raise BadRequest("content path must not contain . or .. segments")
    return raw


def client_network(client: str, matched_prefix: str) -> str:
    """The network a token is bound to: the matched prefix, else the client's /24 or /48."""
    if matched_prefix:
        return matched_prefix
    family, n = parse_address(client)
    length = _UNBOUND_PREFIX[family]
    width = 32 if family == 4 else 128
    return format_network(family, n >> (width - length) << (width - length), length)


class Signer:
    """Signs the URLs of one answer, reusing tokens where it can.

    A token covers the path, not the host, so edges sharing a path prefix share a token;
    and expiry is rounded up to `granularity_s`, so within that window every answer for a
    key reuses one token (a signature costs ~2.6 µs; an answer has up to `max_edges` URLs,
    and popular keys are asked for many times a second). Tokens therefore live between
    `ttl_s` and `ttl_s + granularity_s`. The cache empties when the window moves, and
    when it reaches `max_entries`.
    """

    def __init__(self, ring: tokens.KeyRing | None, ttl_s: int, granularity_s: int = 60,
                 max_entries: int = 100_000) -> None:
        self.ring = ring
        self.ttl_s = ttl_s
        self.granularity_s = granularity_s
        self.max_entries = max_entries
        self._expires = 0
        self._cache: dict[tuple[str, str], str] = {}

    def expires(self, now: float) -> int:
        g = self.granularity_s
        return -(-int(now + self.ttl_s) // g) * g

    def token(self, path: str, now: float, network: str = "") -> str:
        """The token for `path` (a title's directory, for content steering's clones), ""
        when URLs are not signed."""
        if self.ring is None:
            return ""
        cache = self._window(self.expires(now))
        token = cache.get((path, network))
        if token is None:
            token = cache[path, network] = tokens.sign(path, self._expires, self.ring, network)
        return token

    def _window(self, expires: int) -> dict[tuple[str, str], str]:
        if expires != self._expires or len(self._cache) >= self.max_entries:
            self._cache = {}
            self._expires = expires
        return self._cache

    def urls(self, edges: tuple[Edge, ...], key: str, now: float,
             network: str = "") -> tuple[tuple[str, ...], int]:
        """(the signed URLs, their expiry in Unix seconds)."""
        expires = self.expires(now)
        ring = self.ring
        if ring is None:
            return tuple(e.url + key for e in edges), expires
        cache = self._window(expires)
        covered = signed_path(key)
        out = []
        for e in edges:
            path = e.path_prefix + covered
            token = cache.get((path, network))
            if token is None:
                token = cache[path, network] = tokens.sign(path, expires, ring, network)
            out.append(f"{e.url}{key}?{tokens.PARAM}={token}")
        return tuple(out), expires
