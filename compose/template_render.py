"""Per-order rendering on top of a template: encode only the frames this order changes.

Strategy 3 (base footage looped under the speech): the intro, the intro→Santa crossfade
and the loop come from the template; the loop is taken in whole GOP files up to the last
keyframe before this order's Santa→outro crossfade, and only the rest (under half a second
of loop, the crossfade, the outro's first unblended frame) is encoded.

Strategies 1/2 (a provider clip): everything from the intro→Santa crossfade to the end of
the Santa→outro crossfade shows the clip, so it is encoded, in two spans side by side (one
FFmpeg's filters are single-threaded; two keep both cores busy).

The soundtrack is mixed and encoded per order, with the single-pass renderer's own graph,
at the same time as the video. Then the parts are joined by the concat demuxer (stream
copy), muxed with the audio, moov first.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from compose import single_pass
from compose.assets import AssetSet
from compose.frame_plan import FramePlan, plan_frames, seconds_text
from compose.parts import Deadline, Footage, crossfade, encode, fitted, loops_for, numbered, shaped, unblended
from compose.spec import RenderSpec
from compose.templates import Template, avc_config, prepare_template
from compose.timeline import Timeline
from utils.probe import MediaInfo
from utils.proc import run

log = logging.getLogger(__name__)

# Strategies 1/2 encode in this many spans at once: each FFmpeg filters on one thread.
PARALLEL_SPANS = 2


class TemplateUnusable(Exception):
    """This order's timeline can't be built from the template (the caller renders single-pass)."""


@dataclass(frozen=True)
class Span:
    """Santa frames [first, end) encoded as one part, with the crossfades that fall inside it."""

    first: int
    end: int
    intro_tail: bool  # opens with the intro→Santa crossfade (first == 0)
    outro: bool  # closes with the Santa→outro crossfade and the outro up to its body

    def frame_count(self, plan: FramePlan, outro_body_start: int) -> int:
        if self.outro:
            return plan.outro_start - plan.santa_start - self.first + outro_body_start
        return self.end - self.first


@dataclass(frozen=True)
class Order:
    """What one render needs besides the template."""

    assets: AssetSet
    santa_video: MediaInfo
    loop_santa: bool
    speech: Path
    timeline: Timeline
    spec: RenderSpec


def render(order: Order, out: Path, *, cache_dir: Path, deadline: Deadline) -> None:
    template = prepare_template(order.assets, order.spec, cache_dir, deadline=deadline)
    plan = plan_frames(order.timeline, order.spec.fps)
    _check_cuts(template, plan)
    work = Path(tempfile.mkdtemp(prefix='.parts-', dir=out.parent))
    try:
        head, spans = _layout(template, plan, order.loop_santa)
        files = [work / f'span_{i}.mp4' for i in range(len(spans))]
        audio = work / 'audio.m4a'
        jobs: list[Callable[[], object]] = [lambda: _encode_audio(order, audio, deadline)]
        jobs += [
            _span_job(order, template, plan, span, path, deadline) for span, path in zip(spans, files, strict=True)
        ]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()  # re-raises the first failure, after every run has ended
        expected = bytes.fromhex(template.avc_config)
        for path in files:
            if avc_config(path) != expected:
                raise TemplateUnusable(f'{path.name}: encoded with other stream parameters than template')
        counts = [span.frame_count(plan, template.outro_body_start) for span in spans]
        parts = head + list(zip(files, counts, strict=True))
        if template.outro_body:
            parts.append((template.path(template.outro_body), plan.outro_frames - template.outro_body_start))
        _mux(parts, audio, out, plan.fps, work / 'parts.ffconcat', deadline)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_cuts(template: Template, plan: FramePlan) -> None:
    """The template was cut where this timeline's crossfades fall (the key makes this so; this proves it)."""
    ours = (plan.santa_start, plan.intro_frames, plan.outro_frames, plan.outro_body_start)
    theirs = (template.santa_start, template.intro_frames, template.outro_frames, template.outro_body_start)
    if ours != theirs:
        raise TemplateUnusable(f'template cut at {theirs}, this timeline needs {ours}')
    if plan.outro_blend < 1 or plan.outro_blend > template.outro_body_start:
        raise TemplateUnusable(f'Santa→outro crossfade of {plan.outro_blend} frames')


def _layout(template: Template, plan: FramePlan, loop_santa: bool) -> tuple[list[tuple[Path, int]], list[Span]]:
    """Template parts that open the video (with their frame counts), and the spans to encode after them."""
    head = [(template.path(template.intro_body), template.santa_start)] if template.intro_body else []
    santa_end = plan.santa_frames
    outro_at = plan.outro_start - plan.santa_start  # Santa frame where the Santa→outro crossfade starts
    if loop_santa and outro_at >= template.intro_blend_frames:
        head.append((template.path(template.intro_blend), template.intro_blend_frames))
        first = template.intro_blend_frames
        loop = _loop_prefix(template, outro_at - first)
        head += loop
        first += sum(count for _, count in loop)
        return head, [Span(first, santa_end, intro_tail=False, outro=True)]
    # A provider clip (or a speech too short to reach the loop): everything from the intro→Santa
    # crossfade on, in PARALLEL_SPANS spans of about the same length.
    if outro_at < plan.intro_blend:  # the crossfades overlap: one span holds both
        return head, [Span(0, santa_end, intro_tail=True, outro=True)]
    total = outro_at + template.outro_body_start
    cuts = [min(max(total * i // PARALLEL_SPANS, plan.intro_blend), outro_at) for i in range(1, PARALLEL_SPANS)]
    bounds = [0, *sorted(set(cuts)), santa_end]
    spans = [Span(a, b, intro_tail=a == 0, outro=b == santa_end) for a, b in itertools.pairwise(bounds)]
    return head, spans


def _loop_prefix(template: Template, room: int) -> list[tuple[Path, int]]:
    """Loop files, in play order, that fill at most `room` frames: whole loops, then whole GOPs.

    The loop repeats only when the footage does (loop_period); otherwise it plays once.
    """
    unit = sum(template.loop_frames)
    passes = room // unit if template.loop_period else min(room // unit, 1)
    files = [(template.path(template.loop_unit), unit)] * passes
    room -= passes * unit
    if passes and not template.loop_period:
        return files
    for name, count in zip(template.loop, template.loop_frames, strict=True):
        if count > room:
            break
        files.append((template.path(name), count))
        room -= count
    return files


def _span_job(
    order: Order, template: Template, plan: FramePlan, span: Span, out: Path, deadline: Deadline
) -> Callable[[], object]:
    def job() -> object:
        stream = _span_stream(order, template, plan, span)
        frames = span.frame_count(plan, template.outro_body_start)
        return encode(stream, out, order.spec, frame_count=frames, deadline=deadline)

    return job


def _span_stream(order: Order, template: Template, plan: FramePlan, span: Span) -> Any:
    """A span as consecutive segments: intro→Santa crossfade, Santa alone, Santa→outro crossfade.

    Only the crossfades go through xfade. Frames between them skip its pixel-format round
    trip (compose.parts) for a provider clip, where it would be most of the per-frame cost;
    the looped footage takes it, to match its template parts exactly.
    """
    spec, timeline, fps = order.spec, order.timeline, plan.fps
    loops = loops_for(timeline.speech, order.santa_video.duration) if order.loop_santa else 0
    # One decode of the Santa clip feeds every segment that shows it.
    santa = numbered(Footage(order.santa_video.path, loops).input().video, spec, timeline.speech).split()
    uses = itertools.count()
    # The looped footage repeats every loop_period frames: decode from within its first loop.
    shift = span.first - span.first % template.loop_period if order.loop_santa and template.loop_period else 0

    def frames(first: int, end: int) -> Any:
        return shaped(santa[next(uses)], spec, first=first - shift, end=end - shift)

    outro_at = plan.outro_start - plan.santa_start
    intro_tail = fitted(ffmpeg.input(str(order.assets.intro.path)).video, spec, timeline.intro, first=plan.santa_start)
    outro = fitted(ffmpeg.input(str(order.assets.outro.path)).video, spec, timeline.outro)
    if span.intro_tail and span.outro and outro_at < plan.intro_blend:
        # The crossfades overlap: chain them over the whole segment, as the single-pass graph does.
        stream = crossfade(intro_tail, frames(0, span.end), offset_frames=0, fade_seconds=timeline.intro_overlap,
                           fps=fps)  # fmt: skip
        return crossfade(stream, outro, offset_frames=outro_at, fade_seconds=timeline.outro_overlap, fps=fps)
    segments = []
    plain_first, plain_end = span.first, span.end
    if span.intro_tail:
        blend = crossfade(intro_tail, frames(0, plan.intro_blend), offset_frames=0,
                          fade_seconds=timeline.intro_overlap, fps=fps)  # fmt: skip
        segments.append(_cut(blend, spec, plan.intro_blend))
        plain_first = plan.intro_blend
    if span.outro:
        plain_end = outro_at
    if plain_end > plain_first:
        plain = frames(plain_first, plain_end)
        if order.loop_santa:
            plain = _cut(unblended(plain, spec, frame_count=plain_end - plain_first), spec, plain_end - plain_first)
        segments.append(plain)
    if span.outro:
        blend = crossfade(frames(outro_at, span.end), outro, offset_frames=0, fade_seconds=timeline.outro_overlap,
                          fps=fps)  # fmt: skip
        segments.append(_cut(blend, spec, template.outro_body_start))  # blended, then the outro alone
    if len(segments) == 1:
        return segments[0]
    return ffmpeg.concat(*segments, v=1, a=0)


def _cut(stream: Any, spec: RenderSpec, frame_count: int) -> Any:
    """The first `frame_count` frames, back in the output pixel format (xfade may work in another)."""
    return (
        stream.filter('trim', end_frame=frame_count)
        .filter('format', spec.pixel_format)
        .filter('setpts', 'PTS-STARTPTS')
    )


def _encode_audio(order: Order, out: Path, deadline: Deadline) -> None:
    assets, timeline, spec = order.assets, order.timeline, order.spec
    audio = single_pass.audio_mix(
        intro=assets.intro,
        intro_in=ffmpeg.input(str(assets.intro.path), vn=None),
        speech=order.speech,
        outro=assets.outro,
        outro_in=ffmpeg.input(str(assets.outro.path), vn=None),
        timeline=timeline,
        spec=spec,
    )
    output = ffmpeg.output(audio, str(out), f='mp4', t=timeline.total, **spec.audio_codec_args())
    run(output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True),
        timeout=deadline.remaining())  # fmt: skip


def _mux(parts: list[tuple[Path, int]], audio: Path, out: Path, fps: int, listing: Path, deadline: Deadline) -> None:
    # Each part's length is written out: the demuxer would otherwise trust each file's own
    # start time and duration, which a stream-copy split can shift by the B-frame delay.
    lines = ['ffconcat version 1.0']
    for path, count in parts:
        lines += [f'file {_quote(path.resolve())}', f'duration {seconds_text(count, fps)}']
    listing.write_text('\n'.join(lines) + '\n')
    video = ffmpeg.input(str(listing), f='concat', safe=0)
    output = ffmpeg.output(
        video.video, ffmpeg.input(str(audio)).audio, str(out), c='copy', movflags='+faststart', f='mp4'
    )
    run(output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True),
        timeout=deadline.remaining())  # fmt: skip


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"
