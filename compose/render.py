"""Compose one video: plan the timeline, run the renderer, check what came out."""

from __future__ import annotations

from pathlib import Path

from chain.strategies import SantaSegment
from compose import single_pass
from compose.assets import AssetSet
from compose.spec import RenderSpec
from compose.timeline import Timeline
from utils.probe import MediaError, MediaInfo, probe
from utils.proc import CommandError, CommandTimeout, run

DURATION_TOLERANCE_SECONDS = 0.2


class CompositionError(Exception):
    """FFmpeg could not compose the video, or what it produced is not the video we asked for."""


class CompositionTimeout(CompositionError):
    pass


def compose_video(assets: AssetSet, segment: SantaSegment, out: Path, spec: RenderSpec, *, timeout: float) -> Path:
    timeline = Timeline(
        intro=assets.intro.duration,
        speech=segment.speech.duration,
        outro=assets.outro.duration,
        intro_overlap=spec.intro_overlap,
        outro_overlap=spec.outro_overlap,
    )
    santa_video = assets.santa_base if segment.loop_video else _probe(segment.video)
    args = single_pass.build_command(
        intro=assets.intro,
        santa_video=santa_video,
        loop_santa=segment.loop_video,
        speech=segment.speech.path,
        outro=assets.outro,
        timeline=timeline,
        spec=spec,
        out=out,
    )
    try:
        run(args, timeout=timeout)
    except CommandTimeout as exc:
        raise CompositionTimeout(str(exc)) from exc
    except CommandError as exc:
        raise CompositionError(str(exc)) from exc
    result = _probe(out)
    if abs(result.duration - timeline.total) > DURATION_TOLERANCE_SECONDS:
        raise CompositionError(f'{out.name}: lasts {result.duration:.2f} s, expected {timeline.total:.2f} s')
    return out


def _probe(path: Path) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise CompositionError(str(exc)) from exc
