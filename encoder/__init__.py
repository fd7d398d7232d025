"""The encoder: a source video to a published, steerable bitrate ladder.

`ocdn encode` (pipeline) probes the source, picks the ladder (fixed, or per-title from
trial encodes: pertitle, hull), encodes every rendition in one ffmpeg (encode), packages
them by stream copy into CMAF segments and single byte-range files (package, mp4),
writes HLS and DASH manifests (manifests) and title.json (title). `ocdn publish`
uploads the directory in an order players can trust (publish) and can ask the edges to
pre-position the title (prefill). Pure logic lives in ladder, hull, manifests, mp4 and
track; ffmpeg is only touched through ffmpeg.FFmpeg. Imports origin and common, never
edge or steering.
"""
