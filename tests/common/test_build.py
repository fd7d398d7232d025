"""The compiled hot path: which build the suite runs, and stale builds found and refused."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common import build
from tests.support.procs import OCDN, ROOT, env

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def test_the_suite_runs_the_build_it_was_asked_for() -> None:
    """`make test` runs the suite once compiled, once interpreted, and says which."""
    compiled = build.compiled()
    expected = os.environ.get("OCDN_EXPECT_COMPILED")
    if expected == "1":
        assert compiled == list(build.HOT_PATH)
    elif expected == "0":
        assert compiled == []
    else:  # a plain `pytest`: whichever build is there, but never half of one
        assert compiled in ([], list(build.HOT_PATH))
    for module in build.HOT_PATH:  # what is imported is what was found
        __import__(module)
        assert build.is_compiled(module) == (module in compiled)


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, Path]:
    """A package (named per test: find_spec imports it and it stays imported) with a module
    `mod` and an empty extension file beside it."""
    name = f"hot_{tmp_path.name}"
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source, ext = pkg / "mod.py", pkg / f"mod{SUFFIX}"
    source.write_text("X = 1\n")
    ext.write_bytes(b"")  # found, never imported: find_spec only locates
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}.mod", source, ext


def test_a_source_other_than_the_one_compiled_is_stale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, source, ext = _package(tmp_path, monkeypatch)
    manifest = str(tmp_path / "hotpath.json")
    assert build.stale((module,), manifest) == [os.path.relpath(source)]  # no manifest
    build.write_manifest(str(tmp_path), manifest, (module,))
    os.utime(ext, (1_000, 1_000))  # timestamps do not matter, only the bytes
    os.utime(source, (2_000, 2_000))
    assert build.stale((module,), manifest) == []
    source.write_text("X = 2\n")
    found = build.stale((module,), manifest)
    assert found == [os.path.relpath(source)]
    assert "make build" in build.stale_message(found)


def test_a_plain_module_or_an_extension_without_source_is_not_stale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, source, ext = _package(tmp_path, monkeypatch)
    manifest = str(tmp_path / "missing.json")
    assert build.is_compiled(module)
    source.unlink()  # an install that ships only the extension
    assert build.stale((module, "no.such.module"), manifest) == []
    source.write_text("X = 1\n")
    ext.unlink()
    importlib.invalidate_caches()  # the path finder caches directory listings
    assert build.stale((module,), manifest) == []
    assert not build.is_compiled(module)


def test_the_edge_refuses_to_start_on_a_stale_build(tmp_path: Path) -> None:
    """A real `ocdn edge` process whose `edge.app` is an extension beside an edited source:
    it exits with a message naming the file instead of serving the old code."""
    shadow = tmp_path / "shadow"
    (shadow / "edge").mkdir(parents=True)
    # A copy of the `edge` package, first on the path.
    for path in (ROOT / "edge").rglob("*.py"):
        target = shadow / "edge" / path.relative_to(ROOT / "edge")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    app = shadow / "edge" / "app.py"
    app.write_text(app.read_text() + "# edited after the build\n")
    (shadow / "edge" / f"app{SUFFIX}").write_bytes(b"")
    proc = subprocess.run(
        [*OCDN, "edge", "--listen", "127.0.0.1:0", "--origin", "http://127.0.0.1:9/",
         "--cache-dir", str(tmp_path / "cache")],
        env={**env(), "PYTHONPATH": str(shadow)}, cwd=tmp_path, capture_output=True,
        text=True, timeout=60)
    assert proc.returncode != 0
    assert "edge/app.py changed after the hot path was compiled" in proc.stderr
    assert not (tmp_path / "cache").exists()  # it stopped before touching anything


def test_the_installed_command_imports_the_hot_path(tmp_path: Path) -> None:
    """The venv's `ocdn` script, run away from the checkout, finds every hot-path module
    (and, compiled, their shared library) through the install alone."""
    script = Path(sys.executable).with_name("ocdn")
    code = ("import sys; from common import build; "
            "[__import__(m) for m in build.HOT_PATH]; print(len(build.compiled()))")
    out = subprocess.run([sys.executable, "-c", code], env=env(), cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=True)
    assert int(out.stdout) == len(build.compiled())
    # The console script, as `make demo` runs it.
    help_ = subprocess.run([str(script), "edge", "--help"], env=env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0, help_.stderr
    assert "--cache-size" in help_.stdout
