from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.tokens import (
    PARAM,
    KeyRing,
    TokenError,
    parse_key_file,
    read_key_file,
    sign,
    verify,
)

RING = parse_key_file("# rotation: new key first\nk2 = new-secret-0123456789\n\n"
                      "k1=old-secret-0123456789\n")
OLD_RING = parse_key_file("k1=old-secret-0123456789\n")
PATH = "/t1/r750.mp4"
EXPIRES = 2_000_000_000


def test_the_first_key_signs_and_every_key_verifies() -> None:
    assert RING.signing_kid == "k2"
    assert set(RING.keys) == {"k1", "k2"}
    token = sign(PATH, EXPIRES, RING)
    assert token.startswith("k2~2000000000~~")
    verify(token, PATH, RING, now=EXPIRES - 1)
    old_token = sign(PATH, EXPIRES, OLD_RING)
    verify(old_token, PATH, RING, now=EXPIRES - 1)
    with pytest.raises(TokenError, match="unknown-key"):
        verify(token, PATH, OLD_RING, now=EXPIRES - 1)
    assert PARAM == "token"


def test_expiry_is_inclusive_of_its_second() -> None:
    token = sign(PATH, EXPIRES, RING)
    verify(token, PATH, RING, now=EXPIRES)
    with pytest.raises(TokenError, match="expired"):
        verify(token, PATH, RING, now=EXPIRES + 0.001)


@pytest.mark.parametrize(("token", "reason"), [
    (None, "missing"),
    ("", "missing"),
    ("k2~2000000000~", "malformed"),
    ("k2~2000000000~~sig~1~x", "malformed"),
    ("k2~2000000000~~sig~x", "wrong-path"),
    ("k2~20000000001234~~sig", "malformed"),
    ("k2~-1~~sig", "malformed"),
    ("k2~２０００~~sig", "malformed"),
    ("k9~2000000000~~sig", "unknown-key"),
])
def test_malformed_tokens(token: str | None, reason: str) -> None:
    with pytest.raises(TokenError) as info:
        verify(token, PATH, RING, now=0)
    assert info.value.reason == reason


def _tamper(token: str, part: int, value: str) -> str:
    parts = token.split("~")
    parts[part] = value
    return "~".join(parts)


def test_tampering_with_any_part_breaks_the_signature() -> None:
    token = sign(PATH, EXPIRES, RING, "10.1.0.0/16")
    sig = token.split("~")[3]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (
        _tamper(token, 1, str(EXPIRES + 3600)),  # later expiry
        _tamper(token, 2, "0.0.0.0/0"),  # wider network
        _tamper(token, 2, ""),  # unbound
        _tamper(token, 3, flipped),
        _tamper(token, 0, "k1"),  # another known key
    ):
        with pytest.raises(TokenError, match="bad-signature"):
            verify(bad, PATH, RING, now=0, client_ip="10.1.2.3")


def test_a_token_is_for_one_path() -> None:
    token = sign(PATH, EXPIRES, RING)
    for other in ("/t1/r1500.mp4", "/t1/r750.mp4/", "/T1/r750.mp4", "/t1/r750.mp"):
        with pytest.raises(TokenError, match="bad-signature"):
            verify(token, other, RING, now=0)


def test_a_directory_token_grants_every_path_under_it_and_nothing_else() -> None:
    token = sign("/t1/", EXPIRES, RING)
    assert token.endswith("~1")
    for inside in ("/t1/hls.m3u8", "/t1/v720/1.m4s", "/t1/a/b/c/d.mp4"):
        verify(token, inside, RING, now=0)
    for outside in ("/t2/hls.m3u8", "/t1", "/t1/", "/T1/x.mp4", "/t10/x.mp4", "/x/t1/a"):
        with pytest.raises(TokenError, match=r"bad-signature|wrong-path"):
            verify(token, outside, RING, now=0)
    deep = sign("/t1/v720/", EXPIRES, RING)
    verify(deep, "/t1/v720/1.m4s", RING, now=0)
    with pytest.raises(TokenError, match="bad-signature"):
        verify(deep, "/t1/v1080/1.m4s", RING, now=0)


def test_a_directory_token_cannot_be_widened_or_made_from_a_path_token() -> None:
    token = sign("/t1/v720/", EXPIRES, RING)
    kid, expires, prefix, sig, _ = token.split("~")
    widened = f"{kid}~{expires}~{prefix}~{sig}~1"  # claims all of /t1/
    with pytest.raises(TokenError, match="bad-signature"):
        verify(widened, "/t1/v1080/1.m4s", RING, now=0)
    path_token = sign("/t1/", EXPIRES, RING)
    exact = sign("/t1/index", EXPIRES, RING)  # a path token's signature...
    forged = exact + "~1"  # ...with a depth added is not a directory token
    with pytest.raises(TokenError, match="bad-signature"):
        verify(forged, "/t1/other.mp4", RING, now=0)
    for depth in ("0", "x", "99", "-1", ""):
        with pytest.raises(TokenError, match="wrong-path"):
            verify(path_token.rsplit("~", 1)[0] + "~" + depth, "/t1/a.mp4", RING, now=0)
    for bad in ("t1/", "/", "//", "/a//b/"):
        with pytest.raises(ValueError, match="directory"):
            sign(bad, EXPIRES, RING)


def test_client_binding() -> None:
    token = sign(PATH, EXPIRES, RING, "10.1.2.3/16")
    assert token.split("~")[2] == "10.1.0.0/16"
    verify(token, PATH, RING, now=0, client_ip="10.1.200.1")
    for client in ("10.2.0.1", None, "not-an-ip", "2001:db8::1"):
        with pytest.raises(TokenError, match="wrong-client"):
            verify(token, PATH, RING, now=0, client_ip=client)
    v6 = sign(PATH, EXPIRES, RING, "2001:db8::/32")
    verify(v6, PATH, RING, now=0, client_ip="2001:db8::1")


def test_a_forged_token_learns_nothing_from_expiry() -> None:
    forged = f"k2~1~~{'A' * 43}"
    with pytest.raises(TokenError, match="bad-signature"):
        verify(forged, PATH, RING, now=EXPIRES)


@given(path=st.text(min_size=1, max_size=80).filter(lambda p: not p.endswith("/")),
       expires=st.integers(0, 10**11), now=st.integers(0, 10**11))
def test_sign_then_verify(path: str, expires: int, now: int) -> None:
    token = sign(path, expires, RING)
    if now <= expires:
        verify(token, path, RING, now=now)
    else:
        with pytest.raises(TokenError, match="expired"):
            verify(token, path, RING, now=now)


@pytest.mark.parametrize(("text", "message"), [
    ("", "no keys"),
    ("# only a comment\n", "no keys"),
    ("k1\n", "line 1: expected KID=SECRET"),
    ("k1=short\n", "line 1: secret must be at least 16"),
    ("k 1=0123456789abcdef\n", "line 1: key id must be"),
    ("k1=0123456789abcdef\nk1=fedcba9876543210\n", "line 2: duplicate key id"),
])
def test_key_file_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_key_file(text)


def test_read_key_file(tmp_path: Path) -> None:
    f = tmp_path / "keys"
    f.write_text("a=0123456789abcdef\n")
    assert read_key_file(f) == KeyRing({"a": b"0123456789abcdef"}, "a")
    with pytest.raises(ValueError, match="cannot read"):
        read_key_file(tmp_path / "missing")
