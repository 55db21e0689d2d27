"""Compose one video: plan the timeline, run the renderer, check what came out.

Two renderers make the same video. 'template' (the default) reuses the parts of the video
that every order shares, encoded once per asset set (compose.templates), and encodes only
what this order changes (compose.template_render). 'single-pass' renders everything in one
FFmpeg run (compose.single_pass): the reference, and the fallback for a timeline the
template can't build.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import events
from chain.strategies import SantaSegment
from compose import loudness, single_pass, template_render
from compose.assets import AssetSet
from compose.name_card import NameCard, name_card_file
from compose.parts import Deadline
from compose.spec import RenderSpec
from compose.templates import TemplateError
from compose.timeline import Timeline, order_timeline
from utils import mp4
from utils.mp4 import MovieSummary
from utils.probe import MediaError, MediaInfo, probe, wav_channels
from utils.proc import CommandError, CommandTimeout, run

log = logging.getLogger(__name__)

DURATION_TOLERANCE_SECONDS = 0.2
FRAME_COUNT_TOLERANCE = 1

RenderMode = Literal['template', 'single-pass']
DEFAULT_TEMPLATE_CACHE_DIR = Path('cache/templates')


@dataclass(frozen=True)
class RenderOptions:
    """Which renderer composes, and where the template renderer keeps its templates."""

    mode: RenderMode = 'template'
    template_cache_dir: Path = DEFAULT_TEMPLATE_CACHE_DIR
    # NAME_CARD: the child's name, as typed, drawn over the intro's last second (compose.name_card).
    name_card: bool = True


class CompositionError(Exception):
    """FFmpeg could not compose the video, or what it produced is not the video we asked for."""


class CompositionTimeout(CompositionError):
    pass


def compose_video(
    assets: AssetSet,
    segment: SantaSegment,
    out: Path,
    spec: RenderSpec,
    *,
    timeout: float,
    mode: RenderMode = 'template',
    template_cache_dir: Path = DEFAULT_TEMPLATE_CACHE_DIR,
    name_card: str | None = None,
) -> Path:
    """Compose `out`; `name_card` is the text drawn over the intro's end (the name as typed), or None."""
    spec = soundtrack_spec(assets, segment.speech.path, spec)
    timeline = order_timeline(assets, segment.speech.duration, spec)
    santa_video = assets.santa_base if segment.loop_video else _probe(segment.video)
    deadline = Deadline.after(timeout)
    with ExitStack() as stack:
        card = stack.enter_context(name_card_file(name_card, out.parent)) if name_card is not None else None
        _render(assets, segment, santa_video, timeline, spec, out, deadline, mode, template_cache_dir, card)
    result = _result(out)
    if abs(result.duration - timeline.total) > DURATION_TOLERANCE_SECONDS:
        raise CompositionError(f'{out.name}: lasts {result.duration:.2f} s, expected {timeline.total:.2f} s')
    expected_frames = round(timeline.total * spec.fps)
    if result.video_frames is not None and abs(result.video_frames - expected_frames) > FRAME_COUNT_TOLERANCE:
        raise CompositionError(f'{out.name}: {result.video_frames} frames, expected {expected_frames}')
    return out


def soundtrack_spec(assets: AssetSet, speech: Path, spec: RenderSpec) -> RenderSpec:
    """`spec` with a mono soundtrack when the beds and the speech each carry one sound (a mono
    speech, beds the same in every channel): what the parent hears is the same, and the AAC
    encode, a third of an order's CPU, costs about half. The mono track is the stereo mix's
    left channel: a one-channel source goes in at the -3 dB a stereo mix gives it in each
    channel (compose.single_pass)."""
    if spec.audio_channels == 1 or not assets.mono_beds or wav_channels(speech) != 1:
        return spec
    return replace(spec, audio_channels=1)


def _render(
    assets: AssetSet,
    segment: SantaSegment,
    santa_video: MediaInfo,
    timeline: Timeline,
    spec: RenderSpec,
    out: Path,
    deadline: Deadline,
    mode: RenderMode,
    template_cache_dir: Path,
    card: NameCard | None,
) -> None:
    try:
        if mode == 'template':
            order = template_render.Order(assets, santa_video, segment.loop_video, segment.speech.path, timeline, spec,
                                          name_card=card)  # fmt: skip
            try:
                template_render.render(order, out, cache_dir=template_cache_dir, deadline=deadline)
            except template_render.TemplateUnusable as exc:
                log.warning(events.COMPOSE_SINGLE_PASS_FALLBACK, extra={'reason': str(exc)})
                mode = 'single-pass'
        if mode == 'single-pass':
            _render_single_pass(assets, segment, santa_video, timeline, spec, out, deadline, card)
    except (CommandTimeout, TimeoutError) as exc:
        raise CompositionTimeout(str(exc)) from exc
    except (CommandError, TemplateError, loudness.LoudnessError) as exc:
        raise CompositionError(str(exc)) from exc


def _render_single_pass(
    assets: AssetSet,
    segment: SantaSegment,
    santa_video: MediaInfo,
    timeline: Timeline,
    spec: RenderSpec,
    out: Path,
    deadline: Deadline,
    card: NameCard | None,
) -> None:
    args = single_pass.build_command(
        intro=assets.intro,
        santa_video=santa_video,
        loop_santa=segment.loop_video,
        speech=segment.speech.path,
        outro=assets.outro,
        timeline=timeline,
        spec=spec,
        out=out,
        speech_level=loudness.measure(segment.speech.path, timeout=deadline.remaining()),
        name_card=card,
    )
    run(args, timeout=deadline.remaining())


def _result(path: Path) -> MovieSummary | MediaInfo:
    # The MP4's own index, read in Python: an ffprobe per video costs ~0.1 s of CPU.
    try:
        return mp4.summary(path)
    except (OSError, mp4.MP4Error):
        return _probe(path)


def _probe(path: Path) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise CompositionError(str(exc)) from exc
