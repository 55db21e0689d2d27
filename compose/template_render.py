"""Per-order rendering on top of a template: encode only the frames this order changes.

The name card (compose.name_card), when the order has one, is the intro's last second: that
span is encoded per order from the template's stored frames, with the name drawn, and the
intro before it is the template's. For strategy 3 the span includes the intro→Santa
crossfade, which the template otherwise holds; for strategies 1/2 that crossfade is encoded
per order anyway, and its intro frames take the name there.

Strategy 3 (base footage looped under the speech): the intro, the intro→Santa crossfade
and the loop come from the template; the loop is taken in whole GOP files up to the last
keyframe before this order's Santa→outro crossfade, and only the rest (under half a second
of loop, the crossfade, the outro's first unblended frame) is encoded, from the template's
stored frames. When the footage loops exactly, that ending depends only on where in the loop
it falls: it is kept in the template, and a later order ending at the same point copies it.

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

import events
from compose import loudness, single_pass
from compose.assets import AssetSet
from compose.frame_plan import FramePlan, plan_frames, seconds_text
from compose.name_card import NameCard, drawn
from compose.parts import (
    Deadline,
    Footage,
    crossfade,
    encode,
    loops_for,
    numbered,
    quick_x264_params,
    shaped,
    stored_frames,
    unblended,
)
from compose.spec import RenderSpec
from compose.templates import Template, TemplateError, avc_config, prepare_template
from compose.templates import frame_count as count_frames
from compose.timeline import Timeline
from utils.files import copy_into_place
from utils.probe import MediaInfo
from utils.proc import run

log = logging.getLogger(__name__)

# Strategies 1/2 encode in this many spans at once: each FFmpeg filters on one thread.
PARALLEL_SPANS = 2
# Inside a template's directory: strategy-3 endings encoded by earlier orders.
ENDINGS_DIR = 'endings'


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
    name_card: NameCard | None = None


def render(order: Order, out: Path, *, cache_dir: Path, deadline: Deadline) -> None:
    template = prepare_template(order.assets, order.spec, cache_dir, deadline=deadline)
    plan = plan_frames(order.timeline, order.spec.fps)
    _check_cuts(template, plan)
    expected = bytes.fromhex(template.avc_config)
    work = Path(tempfile.mkdtemp(prefix='.parts-', dir=out.parent))
    try:
        card = order.name_card is not None
        head, spans = _layout(template, plan, order.loop_santa, card=card)
        counts = [span.frame_count(plan, template.outro_body_start) for span in spans]
        audio = work / 'audio.m4a'
        jobs: list[Callable[[], object]] = [lambda: _encode_audio(order, audio, deadline)]
        files: list[Path] = []
        encoded: list[tuple[Path, Path | None]] = []  # (file, where to keep it for later orders)
        if order.name_card is not None:
            blend = _intro_blend_in_head(template, plan, order.loop_santa)
            card_frames = template.santa_start - template.card_start + (template.intro_blend_frames if blend else 0)
            if card_frames:
                card_part = work / 'card.mp4'
                head.insert(1 if template.intro_body else 0, (card_part, card_frames))
                encoded.append((card_part, None))
                jobs.append(_card_job(order, order.name_card, template, blend, card_part, card_frames, deadline))
        for i, (span, count) in enumerate(zip(spans, counts, strict=True)):
            kept = _kept_ending(template, plan, span) if order.loop_santa else None
            if kept is not None and _is_part(kept, count, expected):
                files.append(kept)
                continue
            path = work / f'span_{i}.mp4'
            files.append(path)
            encoded.append((path, kept))
            jobs.append(_span_job(order, template, plan, span, path, deadline))
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()  # re-raises the first failure, after every run has ended
        for path, kept in encoded:
            if avc_config(path) != expected:
                raise TemplateUnusable(f'{path.name}: encoded with other stream parameters than template')
            if kept is not None:
                _keep(path, kept)
        parts = head + list(zip(files, counts, strict=True))
        if template.outro_body:
            parts.append((template.path(template.outro_body), plan.outro_frames - template.outro_body_start))
        _mux(parts, audio, out, plan.fps, work / 'parts.ffconcat', deadline)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kept_ending(template: Template, plan: FramePlan, span: Span) -> Path | None:
    """Where a strategy-3 order's ending (last loop GOP remainder, crossfade, outro head) is kept.

    With footage that loops exactly, that span's frames depend only on where in the loop it
    starts, its length and where the crossfade starts in it: there are at most two endings per
    loop frame, so each is encoded once, by the first order that needs it, and stream-copied
    by every later one.
    """
    period = template.loop_period
    if not period or not span.outro or span.intro_tail:
        return None
    outro_at = plan.outro_start - plan.santa_start
    name = f'{span.first % period}-{span.end - span.first}-{outro_at - span.first}.mp4'
    return template.path(ENDINGS_DIR) / name


def _is_part(path: Path, frame_count: int, avc: bytes) -> bool:
    try:
        return path.is_file() and count_frames(path) == frame_count and avc_config(path) == avc
    except (OSError, TemplateError):
        return False  # unreadable or damaged: encoded again, and replaced


def _keep(encoded: Path, kept: Path) -> None:
    # Racing workers write the same frames: whichever lands last is kept.
    try:
        copy_into_place(encoded, kept)
    except OSError as exc:
        log.warning(events.TEMPLATE_ENDING_NOT_KEPT, extra={'path': str(kept), 'error': str(exc)})


def _check_cuts(template: Template, plan: FramePlan) -> None:
    """The template was cut where this timeline's crossfades fall (the key makes this so; this proves it)."""
    ours = (plan.santa_start, plan.intro_frames, plan.outro_frames, plan.outro_body_start)
    theirs = (template.santa_start, template.intro_frames, template.outro_frames, template.outro_body_start)
    if ours != theirs:
        raise TemplateUnusable(f'template cut at {theirs}, this timeline needs {ours}')
    if plan.outro_blend < 1 or plan.outro_blend > template.outro_body_start:
        raise TemplateUnusable(f'Santa→outro crossfade of {plan.outro_blend} frames')


def _layout(
    template: Template, plan: FramePlan, loop_santa: bool, *, card: bool = False
) -> tuple[list[tuple[Path, int]], list[Span]]:
    """Template parts that open the video (with their frame counts), and the spans to encode after them.

    With a `card`, the card's span (from card_start up to the crossfade, and the crossfade when
    the head would hold it) is left out of the head: the caller encodes it, after intro_body.
    """
    head = [(template.path(template.intro_body), template.card_start)] if template.intro_body else []
    if template.intro_card and not card:
        head.append((template.path(template.intro_card), template.santa_start - template.card_start))
    santa_end = plan.santa_frames
    outro_at = plan.outro_start - plan.santa_start  # Santa frame where the Santa→outro crossfade starts
    if _intro_blend_in_head(template, plan, loop_santa):
        if not card:
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


def _intro_blend_in_head(template: Template, plan: FramePlan, loop_santa: bool) -> bool:
    """The intro→Santa crossfade is the template's (strategy 3 reaching the loop), not a span's."""
    return loop_santa and plan.outro_start - plan.santa_start >= template.intro_blend_frames


def _card_job(
    order: Order, card: NameCard, template: Template, blend: bool, out: Path, frame_count: int, deadline: Deadline
) -> Callable[[], object]:
    """Encode the name card's span: the intro's card frames before the crossfade, named, and with
    `blend` the intro→Santa crossfade too (strategy 3), from the template's stored frames of both
    as the video shows them."""

    def job() -> object:
        spec = order.spec
        color = order.assets.intro.color
        segments = []
        plain = template.santa_start - template.card_start
        if template.intro_card_frames and plain:
            segments.append(stored_frames(template.path(template.intro_card_frames), spec, color, count=plain))
        if blend:
            blended = stored_frames(template.path(template.intro_blend_frames_file), spec, color,
                                    count=template.intro_blend_frames)  # fmt: skip
            segments.append(blended)
        frames = segments[0] if len(segments) == 1 else ffmpeg.concat(*segments, v=1, a=0)
        stream = drawn(frames, card, spec, fade_from=plain if blend else None)
        quick = {'x264-params': quick_x264_params(spec)}
        encode(stream, out, spec, frame_count=frame_count, deadline=deadline, **quick)
        if avc_config(out) == bytes.fromhex(template.avc_config):
            return out
        # An x264 whose PPS the quick settings change (another build, a new preset): the
        # preset's own analysis always matches.
        log.warning(events.TEMPLATE_QUICK_ENCODE_MISMATCH, extra={'preset': spec.preset})
        return encode(stream, out, spec, frame_count=frame_count, deadline=deadline)

    return job


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
    the looped footage takes it, to match its template parts exactly. The intro's and outro's
    frames, and the looped footage's when the template stored them, are read from the
    template's stored frames rather than decoded from the assets.
    """
    spec, timeline, fps = order.spec, order.timeline, plan.fps
    frames = _santa_frames(order, template, span)
    outro_at = plan.outro_start - plan.santa_start
    intro_tail = stored_frames(template.path(template.intro_tail), spec, order.assets.intro.color)
    if order.name_card is not None:
        intro_tail = drawn(intro_tail, order.name_card, spec)
    outro = stored_frames(template.path(template.outro_head), spec, order.assets.outro.color)
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


def _santa_frames(order: Order, template: Template, span: Span) -> Callable[[int, int], Any]:
    """Santa frames [first, end) of this order's segment, as a function of (first, end)."""
    spec, timeline = order.spec, order.timeline
    period = template.loop_period if order.loop_santa else None
    # The looped footage repeats every `period` frames: read from within its first period.
    shift = span.first - span.first % period if period else 0
    if period and template.santa_frames and span.end - shift <= template.santa_frames_count:
        stored, color = template.path(template.santa_frames), order.santa_video.color
        return lambda first, end: stored_frames(stored, spec, color, first=first - shift, count=end - first)
    loops = loops_for(timeline.speech, order.santa_video.duration) if order.loop_santa else 0
    # One decode of the Santa clip feeds every segment that shows it.
    santa = numbered(Footage(order.santa_video.path, loops).input().video, spec, timeline.speech).split()
    uses = itertools.count()
    return lambda first, end: shaped(santa[next(uses)], spec, first=first - shift, end=end - shift, role='santa_base')


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
        speech_level=loudness.measure(order.speech, timeout=deadline.remaining()),
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
