"""What an order gets besides its first video: the other formats, the subtitles, the poster.

Each format is composed by the same renderer as the first (its own template: the size is
part of the template's key, so a template is prepared once per asset set and format). The
subtitles are the written script timed by the speech (subtitles.cues); with BURN_SUBTITLES
they are also drawn into every format's frames, which re-encodes the video. The poster is a
JPEG still of Papá Noel taken from the first format.

All of it is made before the first video is stored: a stored video means a finished order
(pipeline.produce), so its extras are stored by then too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import ffmpeg
from redis import Redis

import events
import papa_noel_config as persona
from chain import SantaSegment
from compose import AssetSet, CompositionError, RenderOptions, RenderSpec, compose_video
from compose.posters import kept_poster
from orders import build_script
from orders.model import Order
from records import record_key
from storage import Storage
from subtitles.cues import SubtitleError, subtitles_for
from utils.files import copy_into_place
from utils.probe import MediaError, MediaInfo, probe
from utils.proc import CommandError, run

log = logging.getLogger(__name__)

SUBTITLES = 'subtitles.vtt'
POSTER = 'poster.jpg'
FFMPEG_TIMEOUT_SECONDS = 600
DURATION_TOLERANCE_SECONDS = 0.2


def format_spec(spec: RenderSpec, video_format: str) -> RenderSpec:
    """`spec` (the configured output, 9:16) at another format's size, scaled like it."""
    base_width, _ = persona.FORMAT_SIZES['9:16']
    width, height = persona.FORMAT_SIZES[video_format]
    scale = spec.width / base_width
    return dataclasses.replace(spec, width=_even(width * scale), height=_even(height * scale),
                               cropped_roles=persona.FORMAT_CROPPED_ROLES[video_format])  # fmt: skip


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def video_name(video_format: str) -> str:
    """The extra's name of a format's MP4: '16:9' -> '16x9.mp4'."""
    return video_format.replace(':', 'x') + '.mp4'


@dataclasses.dataclass(frozen=True)
class ExtrasOptions:
    burn_subtitles: bool = False


def produce_extras(
    order: Order,
    assets: AssetSet,
    segment: SantaSegment,
    first_video: Path,
    *,
    spec: RenderSpec,
    render: RenderOptions,
    compose_timeout: float,
    options: ExtrasOptions,
    workdir: Path,
    subtitles: Path | None,
) -> tuple[Path, dict[str, Path]]:
    """The first video (subtitled when burned in) and the extras' files by extra name.

    `subtitles` is what make_subtitles gave (run beside the first video's composition: it needs
    only the speech).
    """
    files: dict[str, Path] = {}
    santa_start = assets.intro.duration - spec.intro_overlap
    if subtitles is not None:
        files[SUBTITLES] = subtitles
    for video_format in order.formats[1:]:
        name = video_name(video_format)
        files[name] = compose_video(assets, segment, workdir / f'final-{name}', format_spec(spec, video_format),
                                    timeout=compose_timeout, mode=render.mode,
                                    template_cache_dir=render.template_cache_dir,
                                    name_card=order.child_name if render.name_card else None)  # fmt: skip
    if options.burn_subtitles and subtitles is not None:
        first_video = burn_subtitles(first_video, subtitles, format_spec(spec, order.formats[0]))
        for video_format in order.formats[1:]:
            name = video_name(video_format)
            files[name] = burn_subtitles(files[name], subtitles, format_spec(spec, video_format))
    # The video lasts at least until the speech ends: a poster time within the speech needs no probe.
    into_santa = min(persona.POSTER_SECONDS_INTO_SANTA, max(0.0, segment.speech.duration - 0.1))
    at = santa_start + into_santa
    kept = None
    if render.mode == 'template' and not options.burn_subtitles:
        kept = kept_poster(assets, segment, format_spec(spec, order.formats[0]), render.template_cache_dir, at,
                           width=persona.POSTER_WIDTH, timeout=compose_timeout)  # fmt: skip
    files[POSTER] = make_poster(first_video, at, workdir / POSTER, kept=kept)
    log.info(events.EXTRAS_MADE, extra={'extras': sorted(files)})
    return first_video, files


def make_subtitles(
    order: Order, assets: AssetSet, segment: SantaSegment, spec: RenderSpec, workdir: Path
) -> Path | None:
    """The WebVTT file of the order's speech, timed in the video; None (logged) when it can't be made."""
    try:
        return subtitles_for(build_script(order), segment.speech, order.language, workdir / SUBTITLES,
                             offset=assets.intro.duration - spec.intro_overlap)  # fmt: skip
    except SubtitleError as exc:
        # A video without subtitles is still the video the parent paid for.
        log.warning(events.EXTRAS_FAILED, extra={'extra': SUBTITLES, 'error': str(exc)})
        return None


def make_poster(video: Path, at_seconds: float, out: Path, *, kept: Path | None = None) -> Path:
    """A JPEG of the frame at `at_seconds` (within the video), POSTER_WIDTH wide.

    `kept`: where the same poster is kept for other orders (compose.posters): copied from there
    when it is, kept there once made when it is not.
    """
    if kept is not None and kept.is_file() and kept.stat().st_size:
        shutil.copyfile(kept, out)
        return out
    at = max(0.0, at_seconds)
    stream = ffmpeg.input(str(video), ss=f'{at:.3f}').video.filter('scale', persona.POSTER_WIDTH, -2, flags='lanczos')
    output = ffmpeg.output(stream, str(out), vframes=1, **{'q:v': persona.POSTER_JPEG_QUALITY}, f='image2')
    _run(output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True))
    if not out.is_file() or out.stat().st_size == 0:
        raise CompositionError(f'{video.name}: no poster frame at {at:.2f} s')
    if kept is not None:
        try:
            copy_into_place(out, kept)
        except OSError as exc:
            log.warning(events.EXTRAS_POSTER_NOT_KEPT, extra={'path': str(kept), 'error': str(exc)})
    return out


def burn_subtitles(video: Path, subtitles: Path, spec: RenderSpec) -> Path:
    """`video` re-encoded with `subtitles` drawn in (the audio copied); same spec, same length."""
    out = video.with_name(f'{video.stem}-subtitled.mp4')
    source = ffmpeg.input(str(video))
    frames = source.video.filter('subtitles', str(subtitles), force_style=persona.BURNED_SUBTITLE_STYLE)
    output = ffmpeg.output(frames, source.audio, str(out), movflags='+faststart', f='mp4', **{'c:a': 'copy'},
                           **spec.video_codec_args())  # fmt: skip
    _run(output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True))
    before, after = _probe(video).duration, _probe(out).duration
    if abs(before - after) > DURATION_TOLERANCE_SECONDS:
        raise CompositionError(f'{out.name}: lasts {after:.2f} s, the video {before:.2f} s')
    return out


def store_extras(storage: Storage, conn: Redis, video_id: str, files: dict[str, Path]) -> dict[str, str]:
    """Store each extra beside the video and note in the job record which there are."""
    stored = {name: storage.save_extra(video_id, name, path) for name, path in files.items()}
    conn.hset(record_key(video_id), 'extras', json.dumps(stored, sort_keys=True))
    return stored


def _probe(path: Path) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise CompositionError(str(exc)) from exc


def _run(args: list[str]) -> None:
    try:
        run(args, timeout=FFMPEG_TIMEOUT_SECONDS)
    except CommandError as exc:
        raise CompositionError(str(exc)) from exc
