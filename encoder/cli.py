"""`ocdn encode` and `ocdn publish`: flags in, a title directory or a published title out.

The one place where the encoder's errors meet the user: every `EncoderError` becomes a
single `ocdn <command>: error: ...` on stderr and the exit code the error carries
(3 bad source, 4 ffmpeg failed, 5 output directory, 6 publish, 7 prefill; 2 for a
configuration error, from `ocdn.cli`). Results go to stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from common.config import add_arguments, load, precedence_epilog
from common.logs import setup_logging
from encoder.config import EncodeSettings, PublishSettings
from encoder.errors import EncoderError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    enc = sub.add_parser(
        "encode", help="encode a source video into a bitrate ladder (HLS and DASH)",
        description="Encode SOURCE into a title directory: H.264 renditions with aligned "
        "keyframes, AAC audio, CMAF segments and single-file byte-range renditions, HLS and "
        "DASH manifests, and title.json.",
        epilog=precedence_epilog("encoder"))
    enc.add_argument("source", metavar="SOURCE", help="the source video file")
    enc.add_argument("--title", required=True, metavar="ID", help="the title's ID")
    enc.add_argument("--out", required=True, metavar="DIR", help="the title directory to write")
    add_arguments(enc, EncodeSettings, "encoder")
    enc.set_defaults(func=lambda args: _guarded("encode", run_encode, args))

    pub = sub.add_parser(
        "publish", help="upload a title directory to an S3 bucket (media first, manifests last)",
        description="Upload the title in DIR to s3://BUCKET/PREFIX: media, then playlists, then "
        "the entry manifests and title.json; files already there with the same checksum are "
        "skipped, so a failed publish can be rerun.",
        epilog=precedence_epilog("publish"))
    pub.add_argument("dir", metavar="DIR", help="a title directory made by `ocdn encode`")
    add_arguments(pub, PublishSettings, "publish")
    pub.set_defaults(func=lambda args: _guarded("publish", run_publish, args))


def _guarded(command: str, func: Callable[[argparse.Namespace], int],
             args: argparse.Namespace) -> int:
    try:
        return func(args)
    except EncoderError as exc:
        print(f"ocdn {command}: error: {exc.message}", file=sys.stderr)
        return exc.exit_code


def _logging() -> None:
    setup_logging("info")
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_encode(args: argparse.Namespace) -> int:
    from encoder.pipeline import encode_title

    settings = load(EncodeSettings, "encoder", args)
    _logging()
    result = encode_title(Path(args.source), args.title, Path(args.out), settings)
    info = result.source
    print(f"encoded {args.source} ({info.width}x{info.height}, {info.duration_s:.2f} s, "
          f"{info.frame_rate} fps{', audio' if info.has_audio else ''}) into {result.out}")
    for r in result.renditions:
        print(f"  {r.id:>14}  {r.width}x{r.height}  {r.bitrate_bps / 1000:.0f} kb/s")
    for name in ("hls.m3u8", "hls-byterange.m3u8", "dash.mpd", "dash-segmentbase.mpd"):
        print(f"  {result.out / name}")
    steps = ", ".join(f"{step} {seconds:.1f}" for step, seconds in result.timings_s.items())
    print(f"took {sum(result.timings_s.values()):.1f} s ({steps})")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from encoder import prefill, title
    from encoder.publish import publish

    settings = load(PublishSettings, "publish", args)
    _logging()
    root = Path(args.dir)
    report = publish(root, settings)
    print(f"published {len(report.uploaded)} files ({report.bytes_uploaded / 1e6:.1f} MB) "
          f"to {settings.to}; {len(report.skipped)} already there")
    for name in ("hls.m3u8", "hls-byterange.m3u8", "dash.mpd", "dash-segmentbase.mpd"):
        print(f"  s3://{report.location.bucket}/{report.location.key(name)}")
    if settings.prefill:
        token = prefill.read_token(settings.admin_token_file)
        done = prefill.prefill(root, title.read(root), report.location, settings.prefill,
                               token, settings.prefill_s)
        for edge, count in done.edges.items():
            print(f"prefill: {edge} accepted {count} items")
    return 0
