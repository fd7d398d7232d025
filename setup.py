"""Build hook: compile the edge's hot path (`common.build.HOT_PATH`) with mypyc.

Everything else about the package is in pyproject.toml. `OCDN_COMPILE` chooses:

- `auto` (default): compile when building a wheel (`pip install .`); if mypyc or the C
  compiler fails, warn and install the modules interpreted. Editable installs
  (`pip install -e .`) stay interpreted: a source checkout builds its extensions in place
  with `make build`, which knows when to rebuild them.
- `1`: compile, and fail the build if that fails (`make build`, CI).
- `0`: never compile.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MODE = os.environ.get("OCDN_COMPILE", "auto").strip().lower()
if MODE not in ("auto", "0", "1"):
    sys.exit(f"OCDN_COMPILE must be auto, 0 or 1, not {MODE!r}")
# setuptools runs this file for metadata too (egg_info, dist_info); mypyc's type check and
# C generation (~20 s) is only worth doing when something is built.
BUILDING = bool({"bdist_wheel", "build", "build_ext", "install"} & set(sys.argv[1:]))
EDITABLE = "editable_wheel" in sys.argv[1:]


BUILD = runpy.run_path(str(ROOT / "common" / "build.py"))  # not installed yet: run the file


def hot_path_sources() -> list[str]:
    return [m.replace(".", "/") + ".py" for m in BUILD["HOT_PATH"]]


class OptionalBuildExt(build_ext):
    """In `auto` mode a failed compile leaves no extension behind (a partial set would
    not import) and the package installs interpreted."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # the compiler's errors have no common base class
            if MODE == "1":
                raise
            for path in self.get_outputs():
                Path(path).unlink(missing_ok=True)
            self.extensions = []
            print(f"warning: ocdn's hot path is not compiled ({exc}); it runs interpreted",
                  file=sys.stderr)
            return
        if self.extensions:  # what was compiled, for `common.build.stale`
            target = ROOT if self.inplace else Path(self.build_lib)
            BUILD["write_manifest"](str(ROOT), str(target / "common" / "hotpath.json"))


def ext_modules() -> list[Any]:
    if MODE == "0" or EDITABLE or not BUILDING:
        return []
    try:
        from mypyc.build import mypycify

        sources = hot_path_sources()
        # One shared library for the whole group (calls between its modules stay native),
        # named inside the `common` package: a top-level name would not be found where an
        # editable install maps only the packages (`ocdn` run from the venv's bin/).
        return list(mypycify(sources, opt_level="3", separate=[(sources, "common.hotpath")]))
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error
        if MODE == "1":
            raise
        print(f"warning: mypyc unavailable ({exc}); ocdn's hot path runs interpreted",
              file=sys.stderr)
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
