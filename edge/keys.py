"""Request path -> object key, refusing anything that could leave the key space.

The key is the percent-decoded path without its leading slash; it names an object under
the origin prefix and never a file (the store hashes keys to file names), but a key that
could mean something else to a filesystem or to S3 is refused anyway: `.`/`..` segments,
empty segments, encoded slashes (`%2F` would make one key look like two), NUL and other
control characters, backslashes, malformed escapes and over-long paths.
"""

from __future__ import annotations

from edge.errors import BadRequest

MAX_PATH_BYTES = 1024  # S3 keys are at most 1024 bytes
_HEX = "0123456789abcdefABCDEF"


def _unquote(raw: bytes) -> bytes:
    if b"%" not in raw:
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # '%'
            hexdigits = raw[i + 1 : i + 3]
            if len(hexdigits) != 2 or not all(chr(h) in _HEX for h in hexdigits):
                raise BadRequest("malformed percent-escape in path")
            out.append(int(hexdigits, 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def object_key(raw_path: bytes) -> str:
    """The object key for a request target's path (query already removed); BadRequest else."""
    if not raw_path.startswith(b"/") or len(raw_path) > 3 * MAX_PATH_BYTES:
        raise BadRequest("bad request path")
    if b"%2f" in raw_path.lower() or b"%5c" in raw_path.lower():
        raise BadRequest("encoded slash in path")
    decoded = _unquote(raw_path[1:])
    if not decoded or len(decoded) > MAX_PATH_BYTES:
        raise BadRequest("empty or over-long key")
    try:
        key = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("path is not UTF-8") from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key) or "\\" in key:
        raise BadRequest("control character or backslash in path")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise BadRequest("empty, '.' or '..' path segment")
    return key
