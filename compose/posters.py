"""Where a poster that many orders share is kept, beside their template.

A poster is one frame of the video. With the base footage looped (strategy 3), a frame between
the two crossfades shows only the footage, at a point of its loop that depends on the frame's
time and nothing of the order's, so every order whose poster falls on that point of the loop
can copy one JPEG: the first order makes it, the rest copy it (about 0.3 CPU-s each: an FFmpeg
start, a seek and up to a GOP of 1080x1920 frames decoded, a Lanczos scale and a JPEG).
"""

from __future__ import annotations

from pathlib import Path

from chain.strategies import SantaSegment
from compose.assets import AssetSet
from compose.frame_plan import plan_frames
from compose.parts import Deadline
from compose.spec import RenderSpec
from compose.templates import TemplateError, prepare_template
from compose.timeline import order_timeline

# Inside a template's directory.
POSTERS_DIR = 'posters'


def kept_poster(
    assets: AssetSet, segment: SantaSegment, spec: RenderSpec, cache_dir: Path, at_seconds: float, *, width: int,
    timeout: float,
) -> Path | None:  # fmt: skip
    """Where the poster of the frame at `at_seconds` is kept for every order that shows the same
    frame, or None when this order's frame is its own (a provider clip, a crossfade, footage that
    does not loop exactly)."""
    if not segment.loop_video:
        return None
    plan = plan_frames(order_timeline(assets, segment.speech.duration, spec), spec.fps)
    frame = round(at_seconds * spec.fps) - plan.santa_start  # the Santa footage's frame
    if frame < plan.intro_blend or frame >= plan.outro_start - plan.santa_start:
        return None
    try:
        template = prepare_template(assets, spec, cache_dir, deadline=Deadline.after(timeout))
    except TemplateError:
        return None
    if not template.loop_period:
        return None
    return template.path(POSTERS_DIR) / f'{frame % template.loop_period}-{width}.jpg'
