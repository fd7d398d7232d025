"""The edge's HTTP surface, end to end: real `ocdn origin` and `ocdn edge` processes."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from edge.slices import disk_bytes
from tests.edge.conftest import Origin, blob, hit_soon, sha
from tests.support.procs import http_get

SLICE = 256 * 1024


@pytest.fixture
def edge(start_edge: Any, tmp_path: Path) -> Any:
    admin = tmp_path / "admin-token"
    admin.write_text("test-admin-token-0123456789\n")
    return start_edge("--slice-size", "256KiB", "--cache-size", "16MiB",
                      "--admin-token-file", str(admin), "--negative-ttl-s", "1")


ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


def test_ranges_across_slices_and_the_end(origin: Origin, edge: Any) -> None:
    data = blob(5 * SLICE + 1234, seed=1)
    origin.put("srv/ranges.mp4", data)
    url = f"{edge.url}/srv/ranges.mp4"
    cases = [
        ("bytes=0-0", 0, 1),
        (f"bytes={SLICE - 10}-{SLICE + 9}", SLICE - 10, SLICE + 10),  # crosses a boundary
        (f"bytes={2 * SLICE}-{4 * SLICE + 5}", 2 * SLICE, 4 * SLICE + 6),  # three slices
        (f"bytes={len(data) - 5}-", len(data) - 5, len(data)),  # into the short last slice
        (f"bytes={len(data) - 5}-{len(data) + 100}", len(data) - 5, len(data)),  # clipped
        ("bytes=-100", len(data) - 100, len(data)),  # suffix
    ]
    for header, start, stop in cases:
        for _ in range(2):  # a miss, then a hit
            status, headers, body = http_get(url, {"Range": header})
            assert status == 206, header
            assert body == data[start:stop], header
            assert headers["content-range"] == f"bytes {start}-{stop - 1}/{len(data)}"
            assert headers["content-length"] == str(stop - start)
            assert headers["x-cache"] in ("HIT", "MISS")
    status, headers, body = http_get(url)
    assert status == 200 and body == data and headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "video/mp4"
    assert hit_soon(url) == data  # every slice was filled by the ranges above


def test_a_ranged_miss_fetches_only_its_slices(origin: Origin, edge: Any) -> None:
    data = blob(20 * SLICE, seed=2)
    origin.put("srv/only.mp4", data)
    status, headers, body = http_get(f"{edge.url}/srv/only.mp4",
                                     {"Range": f"bytes={7 * SLICE + 5}-{7 * SLICE + 100}"})
    assert status == 206 and headers["x-cache"] == "MISS"
    assert body == data[7 * SLICE + 5 : 7 * SLICE + 101]
    time.sleep(0.3)  # let a prefetch (if any) show up in the counts
    assert origin.gets("/media/srv/only.mp4") == 1


def test_multirange_is_one_multipart_in_request_order(origin: Origin, edge: Any) -> None:
    data = blob(3 * SLICE, seed=3)
    origin.put("srv/multi.mp4", data)
    url = f"{edge.url}/srv/multi.mp4"
    ranges = f"bytes=500-599,0-9,{2 * SLICE}-{2 * SLICE + 3}"
    status, headers, body = http_get(url, {"Range": ranges})
    assert status == 206
    ctype = headers["content-type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=")[1].strip('"').encode()
    assert int(headers["content-length"]) == len(body)
    parts = [p for p in body.split(b"--" + boundary) if p.strip() not in (b"", b"--")]
    got = []
    for part in parts:
        head, _, payload = part.partition(b"\r\n\r\n")
        cr = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-range")]
        got.append((cr[0].decode().split(" ", 1)[1].strip(), payload[:-2]))
    assert got == [
        (f"bytes 500-599/{len(data)}", data[500:600]),
        (f"bytes 0-9/{len(data)}", data[0:10]),
        (f"bytes {2 * SLICE}-{2 * SLICE + 3}/{len(data)}", data[2 * SLICE : 2 * SLICE + 4]),
    ]


def test_unsatisfiable_and_ignored_ranges(origin: Origin, edge: Any) -> None:
    data = blob(1000, seed=4)
    origin.put("srv/small.mp4", data)
    url = f"{edge.url}/srv/small.mp4"
    status, headers, _ = http_get(url, {"Range": "bytes=5000-"})
    assert status == 416 and headers["content-range"] == "bytes */1000"
    status, _, _ = http_get(url, {"Range": "bytes=-0"})
    assert status == 416
    for ignored in ("items=0-5", "bytes=5-1", "bytes=abc", "bytes=0-1," * 17 + "0-1"):
        status, _, body = http_get(url, {"Range": ignored})
        assert status == 200 and body == data, ignored
    status, headers, body = http_get(url, {"Range": "bytes=0-10"}, method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "1000"


def test_empty_object(origin: Origin, edge: Any) -> None:
    origin.put("srv/empty.bin", b"")
    status, headers, body = http_get(f"{edge.url}/srv/empty.bin", {"Range": "bytes=0-10"})
    assert status == 200 and body == b"" and headers["content-length"] == "0"


def test_conditionals(origin: Origin, edge: Any) -> None:
    data = blob(2 * SLICE, seed=5)
    etag = origin.put("srv/cond.mp4", data)
    url = f"{edge.url}/srv/cond.mp4"
    status, headers, _ = http_get(url)
    assert status == 200 and headers["etag"] == etag
    last_modified = headers["last-modified"]
    assert http_get(url, {"If-None-Match": etag})[0] == 304
    assert http_get(url, {"If-None-Match": '"other"', "If-Modified-Since": last_modified})[0] == 200
    assert http_get(url, {"If-Modified-Since": last_modified})[0] == 304
    assert http_get(url, {"If-Match": '"other"'})[0] == 412
    assert http_get(url, {"If-Match": etag})[0] == 200
    assert http_get(url, {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})[0] == 412
    status, _, body = http_get(url, {"Range": "bytes=0-9", "If-Range": etag})
    assert status == 206 and body == data[:10]
    status, _, body = http_get(url, {"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert status == 200 and body == data
    status, _, body = http_get(url, {"Range": "bytes=0-9", "If-Range": f"W/{etag}"})
    assert status == 200  # a weak validator never matches If-Range
    status, _, body = http_get(url, {"Range": "bytes=0-9", "If-Range": last_modified})
    assert status == 206


def test_cache_control_from_origin(origin: Origin, edge: Any) -> None:
    origin.put("srv/cc.mp4", blob(100, seed=6), cache_control="public, max-age=31536000")
    status, headers, _ = http_get(f"{edge.url}/srv/cc.mp4")
    assert status == 200 and headers["cache-control"] == "public, max-age=31536000"


def test_not_found_is_remembered_briefly(origin: Origin, edge: Any) -> None:
    url = f"{edge.url}/srv/missing.mp4"
    assert http_get(url)[0] == 404
    assert http_get(url)[0] == 404
    assert origin.gets("/media/srv/missing.mp4") == 1  # the second answer came from memory
    origin.put("srv/missing.mp4", b"now here")
    time.sleep(1.2)  # --negative-ttl-s 1
    status, _, body = http_get(url)
    assert status == 200 and body == b"now here"


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/srv/../../x", "/srv/%2e%2e/x", "/srv%2fx", "/a/./b", "/a//b",
    "/a%00b", "/a%zzb", "/" + "x" * 1100, "/a\\b",
])
def test_paths_never_escape_the_key_space(origin: Origin, edge: Any, path: str) -> None:
    with socket.create_connection(("127.0.0.1", edge.port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert status in (400, 404), (path, reply[:200])
    assert origin.gets("/media/etc/passwd") == 0


def test_methods_and_malformed_requests(edge: Any) -> None:
    assert http_get(f"{edge.url}/x.mp4", method="DELETE")[0] == 405
    with socket.create_connection(("127.0.0.1", edge.port), timeout=5) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")


def test_keepalive_serves_many_requests_on_one_connection(origin: Origin, edge: Any) -> None:
    data = blob(5000, seed=7)
    origin.put("srv/ka.mp4", data)
    hit_soon(f"{edge.url}/srv/ka.mp4")
    with socket.create_connection(("127.0.0.1", edge.port), timeout=5) as s:
        req = b"GET /srv/ka.mp4 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n"
        s.sendall(req * 3)  # pipelined
        buf = b""
        while buf.count(b"HTTP/1.1 206") < 3 or not buf.endswith(data[:100]):
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                raise AssertionError(buf) from None
            assert chunk
            buf += chunk
        assert buf.count(data[:100]) == 3


def test_curl_as_a_client(origin: Origin, edge: Any, tmp_path: Path) -> None:
    data = blob(3 * SLICE + 17, seed=8)
    origin.put("srv/curl.mp4", data)
    out = tmp_path / "out"
    subprocess.run(["curl", "-sf", "-r", f"100-{2 * SLICE}", "-o", str(out),
                    f"{edge.url}/srv/curl.mp4"], check=True, timeout=30)
    assert out.read_bytes() == data[100 : 2 * SLICE + 1]
    subprocess.run(["curl", "-sf", "-o", str(out), f"{edge.url}/srv/curl.mp4"], check=True,
                   timeout=30)
    assert sha(out.read_bytes()) == sha(data)


def test_status_healthz_metrics(origin: Origin, edge: Any) -> None:
    origin.put("srv/m.mp4", blob(SLICE + 1, seed=9))
    http_get(f"{edge.url}/srv/m.mp4")
    time.sleep(0.3)  # the fill's rename lands just after its last byte went out
    http_get(f"{edge.url}/srv/m.mp4")
    assert http_get(f"{edge.url}/srv/m.mp4", {"Range": "bytes=0-9"})[0] == 206  # the fast hit
    assert http_get(f"{edge.url}/healthz")[0] == 200
    status, _, body = http_get(f"{edge.url}/status")
    doc = json.loads(body)
    assert status == 200 and doc["state"] == "up"
    # two slices (SLICE and 1 byte), each charged its blocks, directory and meta.json
    used = disk_bytes(SLICE) + disk_bytes(1)
    assert doc["cache_bytes_used"] == used and doc["cache_bytes_capacity"] == 16 << 20
    assert 0.4 < doc["hit_ratio"] < 0.6
    status, headers, body = http_get(f"{edge.url}/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'ocdn_edge_requests_total{cache="hit",status="200"}' in text
    assert 'ocdn_edge_requests_total{cache="hit",status="206"} 1.0' in text
    assert 'ocdn_edge_served_bytes_total{cache="hit"} 262155.0' in text
    assert "ocdn_edge_origin_request_duration_seconds_bucket" in text
    assert f"ocdn_edge_cache_bytes {used:.1f}" in text


def test_admin_purge_and_drain(origin: Origin, edge: Any) -> None:
    origin.put("srv/p/a.mp4", blob(100, seed=10))
    origin.put("srv/p/b.mp4", blob(100, seed=11))
    origin.put("srv/q.mp4", blob(100, seed=12))
    for key in ("srv/p/a.mp4", "srv/p/b.mp4", "srv/q.mp4"):
        hit_soon(f"{edge.url}/{key}")
    unauthorised = http_get(f"{edge.url}/admin/purge", method="POST", data=b'{"key": "x"}')
    assert unauthorised[0] == 401
    status, _, body = http_get(f"{edge.url}/admin/purge", ADMIN, method="POST",
                               data=b'{"prefix": "srv/p/"}')
    assert status == 200 and json.loads(body) == {"purged": 2}
    assert http_get(f"{edge.url}/srv/p/a.mp4")[1]["x-cache"] == "MISS"
    assert http_get(f"{edge.url}/srv/q.mp4")[1]["x-cache"] == "HIT"
    status, _, body = http_get(f"{edge.url}/admin/purge", ADMIN, method="POST",
                               data=b'{"key": "srv/q.mp4"}')
    assert json.loads(body) == {"purged": 1}
    assert http_get(f"{edge.url}/srv/q.mp4")[1]["x-cache"] == "MISS"
    assert http_get(f"{edge.url}/admin/drain", ADMIN, method="POST")[0] == 200
    assert json.loads(http_get(f"{edge.url}/status")[2])["state"] == "draining"
    assert http_get(f"{edge.url}/srv/q.mp4")[0] == 200  # draining still serves
    assert http_get(f"{edge.url}/admin/undrain", ADMIN, method="POST")[0] == 200
    assert json.loads(http_get(f"{edge.url}/status")[2])["state"] == "up"


def test_admin_prefill(origin: Origin, edge: Any) -> None:
    data = blob(4 * SLICE, seed=13)
    origin.put("srv/pre.mp4", data)
    status, _, _ = http_get(f"{edge.url}/admin/prefill", ADMIN, method="POST",
                            data=json.dumps({"items": [{"key": "srv/pre.mp4",
                                                        "bytes": SLICE + 1}]}).encode())
    assert status == 202
    deadline = time.monotonic() + 10
    while origin.gets("/media/srv/pre.mp4") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    status, headers, body = http_get(f"{edge.url}/srv/pre.mp4",
                                     {"Range": f"bytes=0-{2 * SLICE - 1}"})
    assert headers["x-cache"] == "HIT" and body == data[: 2 * SLICE]
    assert origin.gets("/media/srv/pre.mp4") == 2


def test_a_client_that_stops_reading_is_cut_off(origin: Origin, start_edge: Any) -> None:
    edge = start_edge("--slice-size", "256KiB", "--send-timeout-s", "1")
    data = blob(32 * SLICE, seed=12)
    origin.put("srv/stall.mp4", data)
    assert sha(hit_soon(f"{edge.url}/srv/stall.mp4")) == sha(data)  # every slice cached
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)  # little kernel buffer
        s.settimeout(10)
        s.connect(("127.0.0.1", edge.port))
        s.sendall(b"GET /srv/stall.mp4 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(1000).startswith(b"HTTP/1.1 200 OK")  # then this client stops reading
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            text = http_get(f"{edge.url}/metrics")[2].decode()
            if "ocdn_edge_send_timeouts_total 1.0" in text:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the stalled connection was not cut off")
        got = 0
        try:
            while chunk := s.recv(1 << 20):
                got += len(chunk)
        except ConnectionResetError:
            pass
        assert got < len(data)  # what was in flight, then the cut
    assert http_get(f"{edge.url}/srv/stall.mp4", {"Range": "bytes=0-9"})[2] == data[:10]
