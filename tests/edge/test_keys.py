from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import BadRequest
from edge.keys import object_key


@pytest.mark.parametrize(("raw", "key"), [
    (b"/a.mp4", "a.mp4"),
    (b"/t1/r750.mp4", "t1/r750.mp4"),
    (b"/t1/seg%20one.m4s", "t1/seg one.m4s"),
    (b"/caf%C3%A9.mp4", "café.mp4"),
    (b"/a..b/c", "a..b/c"),
])
def test_valid_paths(raw: bytes, key: str) -> None:
    assert object_key(raw) == key


@pytest.mark.parametrize("raw", [
    b"", b"/", b"a.mp4", b"/../x", b"/a/../b", b"/a/./b", b"/a//b", b"/a/", b"/%2e%2e/x",
    b"/a%2fb", b"/a%2Fb", b"/a%5cb", b"/a\\b", b"/a%00b", b"/a%0ab", b"/a%zz", b"/a%2",
    b"/" + b"x" * 1025, b"/%ff", b"/a\x7fb",
])
def test_refused_paths(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        object_key(raw)


@given(st.binary(max_size=64))
def test_a_key_never_climbs_or_hides_a_separator(raw: bytes) -> None:
    try:
        key = object_key(b"/" + raw)
    except BadRequest:
        return
    parts = key.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert "\0" not in key and "\\" not in key
