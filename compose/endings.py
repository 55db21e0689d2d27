"""Strategy-3 endings prepared ahead of need, so that every strategy-3 order copies its ending.

A strategy-3 order encodes only its *ending* (the last GOP remainder of the loop, the
Santa→outro crossfade, the outro up to its body; compose.template_render). With footage that
loops exactly, the ending depends only on where in the loop it starts, its length and where
its crossfade starts: a finite set, at most two per loop frame. `planned_endings` lists that
set by asking the order path itself (`template_render._layout` and `_kept_ending`) what it
would look up for every speech length over a loop period, so a prepared ending has exactly
the name and frames an order would give it. `prepare_endings` encodes the missing ones one
at a time, at the lowest CPU priority, and stops an encode as soon as `busy()` says an order
is waiting or running: an order is never delayed by more than the poll interval (and never
by more than one ending's encode). Several preparers (one per worker) share the work: each
ending is claimed with its own lock, so they encode different endings side by side.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import events
from compose import template_render
from compose.assets import AssetSet
from compose.frame_plan import plan_frames
from compose.parts import encode_command
from compose.spec import RenderSpec
from compose.templates import Template
from compose.timeline import Timeline, order_timeline
from utils.proc import _die_with_parent

log = logging.getLogger(__name__)

#: Speech lengths tried per output frame when listing endings: each ending is reached by a
#: range of speech lengths; a finer step finds the rare rounding cases too.
STEPS_PER_FRAME = 16
#: How often a running preparation encode checks whether an order arrived.
POLL_SECONDS = 0.05
#: How often a waiting preparer (no encode running) looks whether the queue went idle.
BUSY_RECHECK_SECONDS = 0.5
#: Ceiling for one ending's encode (tens of frames): a stuck FFmpeg is killed, not waited on.
ENCODE_TIMEOUT_SECONDS = 120
#: Prefix of an ending being prepared, inside the endings directory (renamed when whole).
PREPARING_PREFIX = '.prep-'


@dataclass(frozen=True)
class PlannedEnding:
    name: str  # file name under the template's endings directory
    timeline: Timeline  # one timeline whose order ends there
    orders_share: float  # fraction of speech lengths (per loop period) that end there


def planned_endings(template: Template, assets: AssetSet, spec: RenderSpec) -> list[PlannedEnding]:
    """Every ending a strategy-3 order can keep with this template, most frequent first.

    Empty when the footage does not loop exactly (its endings depend on the whole speech).
    """
    period = template.loop_period
    if not period:
        return []
    fps = spec.fps
    found: dict[str, Timeline] = {}
    hits: Counter[str] = Counter()
    # From the shortest speech that reaches the loop, over one period and a margin: every
    # loop point, every crossfade rounding.
    first_frame = max(template.intro_blend_frames, 1)
    steps = (period + 2 * fps) * STEPS_PER_FRAME
    for step in range(steps):
        speech = (first_frame + step / STEPS_PER_FRAME) / fps + spec.outro_overlap
        try:
            timeline = order_timeline(assets, round(speech, 6), spec)
            plan = plan_frames(timeline, fps)
            template_render._check_cuts(template, plan)
        except (ValueError, template_render.TemplateUnusable):
            continue
        _head, spans = template_render._layout(template, plan, True)
        kept = template_render._kept_ending(template, plan, spans[-1])
        if kept is None:
            continue
        hits[kept.name] += 1
        found.setdefault(kept.name, timeline)
    total = sum(hits.values()) or 1
    return [PlannedEnding(name, found[name], count / total) for name, count in hits.most_common()]


def missing_endings(template: Template, planned: list[PlannedEnding]) -> list[PlannedEnding]:
    directory = template.path(template_render.ENDINGS_DIR)
    return [p for p in planned if not (directory / p.name).is_file()]


def prepare_endings(
    template: Template,
    assets: AssetSet,
    spec: RenderSpec,
    *,
    busy: Callable[[], bool],
    stop: Callable[[], bool] = lambda: False,
    poll_seconds: float = POLL_SECONDS,
) -> int:
    """Encode every missing ending while nothing else needs the machine; return how many.

    Waits while `busy()`, interrupts (kills) an encode the moment it turns true, and takes
    that ending again once idle. Returns when all are kept, or when `stop()` turns true.
    """
    planned = planned_endings(template, assets, spec)
    directory = template.path(template_render.ENDINGS_DIR)
    directory.mkdir(exist_ok=True)
    expected = bytes.fromhex(template.avc_config)
    made = 0
    started = time.monotonic()
    failed: set[str] = set()  # not encodable here: an order encodes (and keeps) it if it ever needs it
    while pending := [e for e in missing_endings(template, planned) if e.name not in failed]:
        claimed_elsewhere = 0
        for ending in pending:
            while True:
                if stop():
                    return made
                if busy():
                    time.sleep(BUSY_RECHECK_SECONDS)  # only when to resume: no order waits on this
                    continue
                if (directory / ending.name).is_file():  # an order (or another preparer) kept it meanwhile
                    break
                with _claim(directory / f'.{ending.name}.lock') as mine:
                    outcome = 'claimed' if not mine else _encode_ending(
                        template, assets, spec, ending, expected, busy=busy, poll_seconds=poll_seconds)  # fmt: skip
                if outcome == 'interrupted':
                    log.info(events.TEMPLATE_ENDING_INTERRUPTED, extra={'ending': ending.name})
                    continue
                claimed_elsewhere += outcome == 'claimed'  # another worker's preparer is on it: next one
                made += outcome == 'kept'
                if outcome == 'failed':
                    failed.add(ending.name)
                break
        if claimed_elsewhere:
            time.sleep(poll_seconds)  # then look again: what the others claimed may be kept, or given up
    seconds = round(time.monotonic() - started, 2)
    log.info(events.TEMPLATE_ENDINGS_READY, extra={'template': template.directory.name, 'endings': len(planned),
                                                   'encoded': made, 'seconds': seconds})  # fmt: skip
    return made


@contextmanager
def _claim(lock_path: Path) -> Iterator[bool]:
    """True while this process holds the ending's lock (flock: released by the kernel if it dies)."""
    with lock_path.open('a') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _encode_ending(
    template: Template,
    assets: AssetSet,
    spec: RenderSpec,
    ending: PlannedEnding,
    expected: bytes,
    *,
    busy: Callable[[], bool],
    poll_seconds: float,
) -> str:
    """'kept', 'interrupted' or 'failed': one ending, encoded as its order would encode it."""
    order = template_render.Order(assets, assets.santa_base, True, Path(os.devnull), ending.timeline, spec)
    plan = plan_frames(ending.timeline, spec.fps)
    _head, spans = template_render._layout(template, plan, True)
    span = spans[-1]
    count = span.frame_count(plan, template.outro_body_start)
    directory = template.path(template_render.ENDINGS_DIR)
    partial = directory / f'{PREPARING_PREFIX}{ending.name[:-4]}-{uuid.uuid4().hex}.mp4'
    stream = template_render._span_stream(order, template, plan, span)
    args = encode_command(stream, partial, spec, frame_count=count)
    try:
        outcome = _run_interruptible(args, busy=busy, poll_seconds=poll_seconds)
        if outcome != 'done':
            return outcome
        if not template_render._is_part(partial, count, expected):
            log.warning(events.TEMPLATE_ENDING_NOT_KEPT, extra={'path': str(partial), 'error': 'not a valid part'})
            return 'failed'
        os.replace(partial, directory / ending.name)  # a reader sees a whole ending or none
        return 'kept'
    finally:
        partial.unlink(missing_ok=True)


def _run_interruptible(args: list[str], *, busy: Callable[[], bool], poll_seconds: float) -> str:
    """'done', 'interrupted' (busy() turned true: killed) or 'failed'. Runs at the lowest priority."""

    def lowest_priority() -> None:
        os.nice(19)
        _die_with_parent()

    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=lowest_priority)  # fmt: skip
    deadline = time.monotonic() + ENCODE_TIMEOUT_SECONDS
    try:
        while True:
            try:
                proc.wait(timeout=poll_seconds)
                break
            except subprocess.TimeoutExpired:
                if busy() or time.monotonic() > deadline:
                    _kill(proc)
                    return 'interrupted' if time.monotonic() <= deadline else 'failed'
    except BaseException:
        _kill(proc)
        raise
    stderr = proc.stderr.read().decode('utf-8', 'replace') if proc.stderr else ''
    if proc.returncode != 0:
        log.warning(events.TEMPLATE_ENDING_NOT_KEPT, extra={'error': stderr.strip()[-300:]})
        return 'failed'
    return 'done'


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
