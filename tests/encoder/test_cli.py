"""`ocdn encode` / `ocdn publish` through the real command line: exit codes, messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from encoder.pipeline import EncodeResult
from ocdn.cli import main
from origin.server import EmbeddedOrigin

from .conftest import RUNGS, make_clip

FAST = ["--rungs", RUNGS, "--segment-s", "1", "--preset", "ultrafast", "--no-progress"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_encode(capsys: pytest.CaptureFixture[str], tmp_path: Path, source: Path) -> None:
    code, out, _ = run(capsys, "encode", str(source), "--title", "t1", "--out",
                       str(tmp_path / "t1"), *FAST)
    assert code == 0
    assert "v180-400k  320x180" in out and "hls-byterange.m3u8" in out
    assert json.loads((tmp_path / "t1/title.json").read_text())["title"] == "t1"


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p, "no such file"),
    (lambda p: _written(p, b""), "the file is empty"),
    (lambda p: _written(p, b"just some text\n"), "not a video file"),
    (lambda p: make_clip(p.with_suffix(".m4a"), video=None), "no video stream"),
])
def test_encode_bad_source(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           make: Callable[[Path], Path], message: str) -> None:
    src = make(tmp_path / "input.mp4")
    code, _out, err = run(capsys, "encode", str(src), "--title", "t", "--out",
                         str(tmp_path / "out"), *FAST)
    assert code == 3
    assert err.startswith("ocdn encode: error: ") and message in err
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_encode_bad_settings(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             source: Path) -> None:
    code, _, err = run(capsys, "encode", str(source), "--title", "t", "--out",
                       str(tmp_path / "out"), "--ladder", "fancy")
    assert code == 2 and "ladder" in err
    code, _, err = run(capsys, "encode", str(source), "--title", "t", "--out",
                       str(tmp_path / "out"), "--rungs", "720p")
    assert code == 2 and "rungs" in err
    code, _, err = run(capsys, "encode", str(source), "--title", "t", "--out",
                       str(tmp_path / "out"), "--token-param", "to&ken")
    assert code == 2 and "config error: token_param" in err


def test_encode_settings_from_env_and_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ocdn.toml"
    config.write_text('[encoder]\nrungs = "90p@100k"\npreset = "ultrafast"\nsegment_s = 1.5\n')
    monkeypatch.setenv("OCDN_ENCODER_SEGMENT_S", "1")
    code, out, _ = run(capsys, "encode", str(source), "--title", "t", "--out",
                       str(tmp_path / "out"), "--config", str(config), "--no-progress")
    assert code == 0 and "v90-100k" in out and "v180" not in out
    assert json.loads((tmp_path / "out/title.json").read_text())["segment_s"] == 1.0


def test_encode_existing_output(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                source: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out/x").write_text("x")
    code, _, err = run(capsys, "encode", str(source), "--title", "t", "--out",
                       str(tmp_path / "out"), *FAST)
    assert code == 5 and "--force" in err


def test_publish(capsys: pytest.CaptureFixture[str], origin: EmbeddedOrigin,
                 encoded: EncodeResult) -> None:
    code, out, _ = run(capsys, "publish", str(encoded.out), "--to", "s3://media/cli/t1",
                       "--s3-endpoint", origin.endpoint, "--no-progress")
    assert code == 0
    assert "s3://media/cli/t1/hls.m3u8" in out and "0 already there" in out
    code, out, _ = run(capsys, "publish", str(encoded.out), "--to", "s3://media/cli/t1",
                       "--s3-endpoint", origin.endpoint, "--no-progress")
    assert code == 0 and "published 0 files" in out


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--to", "s3://nobucket/t"], 6, "bucket 'nobucket' does not exist"),
    (["--to", "s3://media"], 2, "give a prefix"),
    (["--to", "http://x/y"], 2, "s3://BUCKET"),
    ([], 2, "required: --to"),
    (["--to", "s3://media/t", "--prefill", "http://127.0.0.1:1"], 2, "--admin-token-file"),
])
def test_publish_errors(capsys: pytest.CaptureFixture[str], origin: EmbeddedOrigin,
                        encoded: EncodeResult, argv: list[str], code: int, message: str) -> None:
    got, _, err = run(capsys, "publish", str(encoded.out), "--s3-endpoint", origin.endpoint,
                      "--no-progress", *argv)
    assert got == code and message in err


def test_publish_not_a_title(capsys: pytest.CaptureFixture[str], origin: EmbeddedOrigin,
                             tmp_path: Path) -> None:
    code, _, err = run(capsys, "publish", str(tmp_path), "--to", "s3://media/x",
                       "--s3-endpoint", origin.endpoint)
    assert code == 5 and "no title.json" in err


def test_help_names_the_precedence(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("encode", "publish"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "flag > environment > file > default" in out
