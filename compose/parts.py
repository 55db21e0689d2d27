"""Encode pieces of the timeline that join into one H.264 stream by stream copy.

Every part is encoded with the same x264 settings, so each one carries the same SPS/PPS
and the concat demuxer can put them back to back without re-encoding. Each part starts
with an IDR frame (a fresh encode always does) and ends on a closed GOP (x264's default),
so no frame refers across a join.

The frames are the single-pass graph's frames: the same scale/pad/fps chain and the same
xfade, only cut to a range. The range cut sits right after `fps` (which numbers the
frames), before scaling, so skipped frames are decoded but never scaled. Every frame of
the single-pass output goes through an xfade, and xfade may work in another pixel format
than the output's (FFmpeg 5.1's has no yuv420p, so FFmpeg converts to yuv444p and back):
parts without a crossfade of their own go through one that never starts (`unblended`),
so their pixels take the same round trip.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from compose.frame_plan import seconds_text
from compose.framing import framed
from compose.spec import RenderSpec
from utils.probe import ColorTags
from utils.proc import run

# x264 writes its SPS/PPS from the parameters alone, not from the content, when stitchable:
# parts encoded separately then concatenate into one valid stream.
X264_PARAMS = 'stitchable=1'
# Frames kept for later crossfades: lossless, so a render blends exactly the frames the
# single-pass graph blends, and intra-only, so it seeks straight to the frame it needs and
# decodes only what it uses (Ut Video decodes a 1080x1920 frame in a few ms).
STORED_FRAMES_CODEC = 'utvideo'
# The few frames every order with a name card reads (and re-encodes) are kept uncompressed
# instead: ~4x Ut Video's bytes (3 MB a 1080x1920 frame), but nothing to decode, which was
# a quarter of the card's cost. A `.nut` name asks for it (MOV has no raw yuv420p).
RAW_FRAMES_SUFFIX = '.nut'


@dataclass(frozen=True)
class Deadline:
    """One time budget shared by all the FFmpeg runs of a render."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        # Never 0: utils.proc.run would wait forever on a zero timeout; a tiny one fails fast.
        return max(self.at - time.monotonic(), 0.001)


@dataclass(frozen=True)
class Footage:
    """A video input, looped `loops` extra times like the single-pass graph loops the base footage."""

    path: Path
    loops: int = 0

    def input(self) -> Any:
        if self.loops:
            return ffmpeg.input(str(self.path), stream_loop=self.loops)
        return ffmpeg.input(str(self.path))


def loops_for(seconds: float, clip_seconds: float) -> int:
    """Extra plays of a clip the single-pass graph asks for to cover `seconds`."""
    return math.ceil(seconds / clip_seconds)


def fitted(
    stream: Any, spec: RenderSpec, seconds: float, *, first: int = 0, end: int | None = None, role: str = ''
) -> Any:
    """Frames [first, end) of single_pass._fit(stream, spec, seconds, role), timestamps from 0."""
    return shaped(numbered(stream, spec, seconds), spec, first=first, end=end, role=role)


def numbered(stream: Any, spec: RenderSpec, seconds: float) -> Any:
    """The output frames of a clip, padded or cut to `seconds`, before any scaling.

    Several `shaped` ranges of one numbered stream decode the clip once (FFmpeg splits it).
    """
    return (
        stream.filter('fps', spec.fps)
        .filter('tpad', stop_mode='clone', stop_duration=seconds)
        .filter('trim', duration=seconds)
    )


def shaped(numbered_stream: Any, spec: RenderSpec, *, first: int = 0, end: int | None = None, role: str = '') -> Any:
    """Frames [first, end) of a numbered stream, scaled and padded into the output frame."""
    cut: dict[str, int] = {}
    if first:
        cut['start_frame'] = first
    if end is not None:
        cut['end_frame'] = end
    stream = numbered_stream.filter('trim', **cut) if cut else numbered_stream
    return (
        framed(stream, spec, role)
        .filter('setsar', 1)
        .filter('format', spec.pixel_format)
        .filter('setpts', 'PTS-STARTPTS')
    )


def crossfade(first: Any, second: Any, *, offset_frames: int, fade_seconds: float, fps: int) -> Any:
    """The single-pass xfade, starting `offset_frames` into `first`.

    `fade_seconds` is passed as the single-pass graph passes it, so xfade derives the same
    per-frame blend weights from it.
    """
    return ffmpeg.filter(
        [first, second],
        'xfade',
        transition='fade',
        duration=fade_seconds,
        offset=seconds_text(offset_frames, fps),
    )


def unblended(stream: Any, spec: RenderSpec, *, frame_count: int) -> Any:
    """`stream` through an xfade that starts after its last frame: pixels as the single-pass graph makes them."""
    never = ffmpeg.input(f'color=c=black:s={spec.width}x{spec.height}:r={spec.fps}', f='lavfi').filter(
        'format', spec.pixel_format
    )
    return crossfade(stream, never, offset_frames=frame_count, fade_seconds=1 / spec.fps, fps=spec.fps)


def store_frames(stream: Any, out: Path, spec: RenderSpec, *, frame_count: int, deadline: Deadline) -> Path:
    """Keep the first `frame_count` frames of `stream`, exactly, in `out` (video only): Ut Video in
    MOV, or uncompressed in NUT when `out` is named `.nut`."""
    clip = stream.filter('trim', end_frame=frame_count).filter('setpts', 'PTS-STARTPTS')
    raw = out.suffix == RAW_FRAMES_SUFFIX
    output = ffmpeg.output(clip, str(out), f='nut' if raw else 'mov', an=None,
                           vcodec='rawvideo' if raw else STORED_FRAMES_CODEC, pix_fmt=spec.pixel_format)  # fmt: skip
    args: list[str] = output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True)
    run(args, timeout=deadline.remaining())
    return out


def stored_frames(path: Path, spec: RenderSpec, color: ColorTags, *, first: int = 0, count: int | None = None) -> Any:
    """Frames [first, first + count) of a `store_frames` file, as `shaped` gave them from the asset.

    Neither Ut Video nor the raw frames keep the colour tags, and x264 writes those into the SPS,
    which every part of a video must share: the frames take back their asset's tags.
    """
    # Every frame is a keyframe: seeking half a frame early lands exactly on frame `first`.
    source = ffmpeg.input(str(path), ss=f'{(first - 0.5) / spec.fps:.6f}') if first else ffmpeg.input(str(path))
    stream = source.video
    if count is not None:
        stream = stream.filter('trim', end_frame=count)
    return (
        stream.filter('settb', f'1/{spec.fps}')
        .filter('setpts', 'N')
        .filter('setsar', 1)
        .filter(
            'setparams',
            colorspace=color.space,
            range=color.range,
            color_primaries=color.primaries,
            color_trc=color.transfer,
        )
    )


def video_args(spec: RenderSpec) -> dict[str, str | int]:
    return {**spec.video_codec_args(), 'x264-params': X264_PARAMS}


# Presets whose subpixel refinement (subme >= 6) turns psy-RD on, and with it x264 lowers the
# chroma QP offset by 2, which the PPS carries (x264's encoder.c, validate_parameters).
_PSY_RD_PRESETS = frozenset({'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo'})


def quick_x264_params(spec: RenderSpec) -> str:
    """X264_PARAMS with a fraction of x264's analysis, for the one second every order encodes
    (the name card): fullpel dia motion search, no partitions below 16x16, fixed B-frames, no
    trellis, a 10-frame lookahead, one thread (30 frames are too few for x264's threads to pay
    for themselves: ~40% of its CPU went to them). The preset's reference frames, B-frame
    count and transforms stay, and the chroma offset psy-RD would have applied is set by hand,
    so the SPS/PPS are the preset's and the part still joins the others by stream copy (the
    renderer checks it, and tests/test_name_card.py checks it for every preset)."""
    params = f'{X264_PARAMS}:me=dia:subme=0:partitions=none:b-adapt=0:trellis=0:rc-lookahead=10:threads=1'
    if spec.preset in _PSY_RD_PRESETS:
        params += ':chroma-qp-offset=-2'
    return params


def encode(stream: Any, out: Path, spec: RenderSpec, *, frame_count: int, deadline: Deadline, **extra: str) -> Path:
    """Encode the first `frame_count` frames of `stream` into `out` (MP4, video only)."""
    run(encode_command(stream, out, spec, frame_count=frame_count, **extra), timeout=deadline.remaining())
    return out


def encode_command(stream: Any, out: Path, spec: RenderSpec, *, frame_count: int, **extra: str) -> list[str]:
    """The FFmpeg command line `encode` runs (for callers that run it their own way)."""
    clip = stream.filter('trim', end_frame=frame_count).filter('setpts', 'PTS-STARTPTS')
    output = ffmpeg.output(clip, str(out), f='mp4', an=None, **{**video_args(spec), **extra})
    args: list[str] = output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True)
    return args
