"""Running ffmpeg: finding the binary, progress bars, errors with ffmpeg's own words.

The binary is the static build that the `imageio-ffmpeg` package ships (libx264, AAC,
the MP4/HLS/DASH muxers and libvmaf), unless the configuration names another. Each run
asks ffmpeg for machine-readable progress on stdout (`-progress pipe:1`, one
`key=value` block about twice a second) and turns `out_time_us` into a tqdm bar over
the source duration; the human log goes to a temporary file, not a pipe, so a chatty
ffmpeg can never block on a full pipe, and its last lines become the error message
when it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from encoder.errors import EncoderError, FFmpegError

LOG_TAIL_LINES = 12


def locate(configured: str = "") -> str:
    """The ffmpeg to run: `configured` (a path or a name on PATH), else imageio-ffmpeg's."""
    if configured:
        found = shutil.which(configured) if os.sep not in configured else configured
        if not found or not os.access(found, os.X_OK):
            raise EncoderError(f"ffmpeg not found or not executable: {configured!r}")
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise EncoderError(
            "no ffmpeg: install imageio-ffmpeg or set ffmpeg = \"/path/to/ffmpeg\"") from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


class FFmpeg:
    """One ffmpeg binary; `run` executes a command line after its global options."""

    def __init__(self, exe: str, show_progress: bool = False) -> None:
        self.exe = exe
        self.show_progress = show_progress

    def run(
        self,
        args: Sequence[str],
        what: str,
        duration_s: float | None = None,
        loglevel: str = "error",
    ) -> str:
        """Run `ffmpeg ARGS`, with a bar when a duration is known; returns ffmpeg's log.

        Raises FFmpegError(what, ...) with the end of the log when ffmpeg fails.
        """
        cmd = [self.exe, "-hide_banner", "-nostdin", "-y", "-loglevel", loglevel,
               "-progress", "pipe:1", "-nostats", *args]
        with tempfile.NamedTemporaryFile(prefix="ocdn-ffmpeg-", suffix=".log",
                                         delete=False) as log:
            log_path = Path(log.name)
        try:
            with open(log_path, "wb") as log_fh:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_fh,
                                        stdin=subprocess.DEVNULL, text=True)
                self._follow(proc, what, duration_s)
                returncode = proc.wait()
            if returncode != 0:
                raise FFmpegError(what, returncode, _tail(log_path))
            return log_path.read_text(errors="replace")
        finally:
            log_path.unlink(missing_ok=True)

    def _follow(self, proc: subprocess.Popen[str], what: str, duration_s: float | None) -> None:
        assert proc.stdout is not None
        total_us = int(duration_s * 1_000_000) if duration_s else None
        bar = None
        if self.show_progress and total_us:
            bar = tqdm(total=round(duration_s or 0, 1), desc=what, unit="s", file=sys.stderr,
                       leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                       "{n:.1f}/{total:.1f}s [{elapsed}<{remaining}]")
        try:
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and bar is not None and total_us:
                    try:
                        done_us = min(int(value), total_us)
                    except ValueError:
                        continue
                    bar.update(round(done_us / 1_000_000, 1) - bar.n)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if bar is not None:
                bar.close()

    def capture(self, args: Sequence[str]) -> tuple[int, str]:
        """Run `ffmpeg ARGS` without progress; returns (exit code, stderr)."""
        proc = subprocess.run([self.exe, "-hide_banner", "-nostdin", *args],
                              capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, check=False)
        return proc.returncode, proc.stderr
