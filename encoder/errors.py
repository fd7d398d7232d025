"""Errors of the encoder and the publisher, each with the message a person needs.

Every failure the `encode` and `publish` commands can meet is an `EncoderError`: bad
input (`SourceError`), ffmpeg failing (`FFmpegError`, with the tail of its log), an
output that cannot be written (`OutputError`), the origin refusing or failing
(`PublishError`, with the files that did not make it), prefill failing (`PrefillError`).
`encoder.cli` turns them into one line on stderr and the exit code they carry; nothing
else prints errors or chooses exit codes.
"""

from __future__ import annotations


class EncoderError(Exception):
    """Base class; `exit_code` is what the command exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceError(EncoderError):
    """The source is missing, empty, not a video, or has no video stream."""

    exit_code = 3


class FFmpegError(EncoderError):
    """ffmpeg exited non-zero; the message ends with the last lines it logged."""

    exit_code = 4

    def __init__(self, what: str, returncode: int, log_tail: str) -> None:
        tail = log_tail.strip()
        detail = f":\n{tail}" if tail else ""
        super().__init__(f"ffmpeg failed while {what} (exit {returncode}){detail}")
        self.returncode = returncode
        self.log_tail = tail


class OutputError(EncoderError):
    """The output directory cannot be used or the title in it is inconsistent."""

    exit_code = 5


class PublishError(EncoderError):
    """Publishing stopped; `missing` lists the files not (yet) in the bucket."""

    exit_code = 6

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        self.missing = list(missing or [])
        if self.missing:
            shown = "\n".join(f"  {name}" for name in self.missing[:20])
            more = len(self.missing) - 20
            if more > 0:
                shown += f"\n  ... and {more} more"
            message = (f"{message}\nnot published ({len(self.missing)} files; "
                       f"rerun to finish, files already there are skipped):\n{shown}")
        super().__init__(message)


class PrefillError(EncoderError):
    """Steering or an edge refused or failed the prefill request."""

    exit_code = 7
