from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from common import tokens
from steering.errors import BadRequest
from steering.topology import Edge
from steering.urls import Signer, client_network, parse_key, signed_path, title_scope

RING = tokens.parse_key_file("k2=second-secret-0123456789\nk1=first-secret-0123456789\n")
EDGE = Edge("ams-1", "ams-ix", "http://127.0.0.1:8101", 10.0)
EDGE_WITH_PATH = Edge("fra-1", "fra-ix", "https://fra.example/cdn", 10.0, path_prefix="/cdn")


@pytest.mark.parametrize("key", [
    "/t1/r750.mp4", "/a", "/t1/init-v1.m4s", "/x/y_z~1/a.b-c", "/a:b@c/$&'()*+,;=!",
])
def test_good_keys(key: str) -> None:
    assert parse_key(key) == key


@pytest.mark.parametrize(("key", "reason"), [
    (None, "missing content path"),
    ("", "missing content path"),
    ("t1/r750.mp4", "must be /-separated"),
    ("/t1//r750.mp4", "must be /-separated"),
    ("/t1/r750.mp4/", "must be /-separated"),
    ("/t1/r%20750.mp4", "must be /-separated"),
    ("/t1/r 750.mp4", "must be /-separated"),
    ("/t1/r750.mp4?x=1", "must be /-separated"),
    ("/t1/é.mp4", "must be /-separated"),
    ("/t1/../etc/passwd", ". or .. segments"),
    ("/t1/./a", ". or .. segments"),
    ("/..", ". or .. segments"),
    ("/" + "a" * 1024, "longer than 1024"),
])
def test_bad_keys(key: str | None, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_key(key)


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)[tokens.PARAM][0]


def test_signed_urls_verify_at_the_edge_for_their_path_only() -> None:
    signer = Signer(RING, ttl_s=60, granularity_s=1)
    (url,), _ = signer.urls((EDGE_WITH_PATH,), "/t1/r750.mp4", now=2_000_000_000 - 60)
    assert url.startswith("https://fra.example/cdn/t1/r750.mp4?token=k2~2000000000~~")
    tokens.verify(_token(url), "/cdn/t1/r750.mp4", RING, now=1_999_999_999)
    with pytest.raises(tokens.TokenError, match="bad-signature"):
        tokens.verify(_token(url), "/cdn/t1/r1500.mp4", RING, now=1_999_999_999)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(_token(url), "/cdn/t1/r750.mp4", RING, now=2_000_000_001)
    assert Signer(None, ttl_s=60).urls((EDGE,), "/a", now=0)[0] == ("http://127.0.0.1:8101/a",)


def test_signer_rounds_expiry_up_and_reuses_tokens() -> None:
    signer = Signer(RING, ttl_s=3600, granularity_s=60)
    urls, expires = signer.urls((EDGE, EDGE_WITH_PATH), "/t1/a.mp4", now=1000.5)
    assert expires == 4620
    assert _token(urls[0]) != _token(urls[1])
    tokens.verify(_token(urls[0]), "/t1/a.mp4", RING, now=4620)
    tokens.verify(_token(urls[1]), "/cdn/t1/a.mp4", RING, now=4620)
    again, expires2 = signer.urls((EDGE,), "/t1/a.mp4", now=1019.0)
    assert (again[0], expires2) == (urls[0], 4620)
    later, expires3 = signer.urls((EDGE,), "/t1/a.mp4", now=1021.0)
    assert expires3 == 4680 and later[0] != urls[0]


def test_signer_binds_to_a_network_when_asked() -> None:
    signer = Signer(RING, ttl_s=60)
    urls, _ = signer.urls((EDGE,), "/k", now=0, network="10.1.0.0/16")
    tokens.verify(_token(urls[0]), "/k", RING, now=1, client_ip="10.1.2.3")
    with pytest.raises(tokens.TokenError, match="wrong-client"):
        tokens.verify(_token(urls[0]), "/k", RING, now=1, client_ip="10.2.0.1")


def test_unsigned_when_there_is_no_ring() -> None:
    urls, _ = Signer(None, ttl_s=60).urls((EDGE, EDGE_WITH_PATH), "/k", now=0)
    assert urls == ("http://127.0.0.1:8101/k", "https://fra.example/cdn/k")


@pytest.mark.parametrize(("client", "matched", "network"), [
    ("10.1.2.3", "10.1.0.0/16", "10.1.0.0/16"),
    ("192.0.2.77", "", "192.0.2.0/24"),
    ("2001:db8:1:2::5", "", "2001:db8:1::/48"),
    ("::ffff:192.0.2.77", "", "192.0.2.0/24"),
])
def test_client_network(client: str, matched: str, network: str) -> None:
    assert client_network(client, matched) == network


@pytest.mark.parametrize(("key", "scope"), [
    ("/t1/hls.m3u8", "/t1/"),
    ("/t1/seg/v1/index.m3u8", "/t1/seg/v1/"),
    ("/hls.m3u8", ""),  # a token for "/" would open every title
    ("/", ""),
])
def test_title_scope(key: str, scope: str) -> None:
    assert title_scope(key) == scope


@pytest.mark.parametrize(("key", "covered"), [
    ("/t1/hls.m3u8", "/t1/"),
    ("/t1/dash.mpd", "/t1/"),
    ("/t1/v1/index.m3u8", "/t1/v1/"),
    ("/t1/r750.mp4", "/t1/r750.mp4"),
    ("/hls.m3u8", "/hls.m3u8"),  # never a token for "/"
])
def test_a_manifest_url_is_signed_for_its_title(key: str, covered: str) -> None:
    assert signed_path(key) == covered
    url, _ = Signer(RING, ttl_s=60).urls((EDGE_WITH_PATH,), key, now=0)
    assert url[0].startswith(f"https://fra.example/cdn{key}?token=")
    inside = "/cdn" + (covered + "v1/1.m4s" if covered.endswith("/") else covered)
    tokens.verify(_token(url[0]), inside, RING, now=1)
