"""The timeline in whole frames, counted the way FFmpeg's filters count them.

The single-pass graph gives FFmpeg durations in seconds; its filters turn each one into
frames by parsing the text to microseconds (digits past the sixth decimal are dropped) and
rescaling to the 1/fps time base, rounding to the nearest frame. A renderer that builds the
same video from parts must cut at exactly those frames, or the joins would drop or repeat one.

Output frames, with the single-pass graph's names for them:

    [0, santa_start)                      intro only
    [santa_start, santa_start + intro_blend)   intro fading into Santa (xfade #1)
    [.., outro_start)                     Santa only
    [outro_start, outro_start + outro_blend)   Santa fading into the outro (xfade #2)
    [.., total)                           outro only
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from compose.timeline import Timeline


def microseconds(seconds: float) -> int:
    """What av_parse_time makes of str(seconds), the text ffmpeg-python writes into the graph."""
    return int(Decimal(str(seconds)).scaleb(6).to_integral_value(rounding=ROUND_DOWN))


def frames(seconds: float, fps: int) -> int:
    """A duration option in 1/fps units: av_rescale_q rounds half away from zero."""
    us = microseconds(seconds)
    sign = -1 if us < 0 else 1
    return sign * ((abs(us) * fps + 500_000) // 1_000_000)


def seconds_text(frame_count: int, fps: int) -> str:
    """Seconds that FFmpeg reads back as exactly `frame_count` frames."""
    return f'{frame_count / fps:.6f}'


@dataclass(frozen=True)
class FramePlan:
    fps: int
    intro_frames: int  # the intro, padded or cut to its duration
    santa_start: int  # first frame of the intro→Santa crossfade
    santa_frames: int  # the Santa segment, as long as the speech
    outro_start: int  # first frame of the Santa→outro crossfade
    outro_frames: int
    intro_fade: int  # crossfade lengths as xfade counts them
    outro_fade: int

    @property
    def intro_blend(self) -> int:
        """Intro frames blended with Santa's first ones (xfade #1 ends when the intro does)."""
        return self.intro_frames - self.santa_start

    @property
    def outro_blend(self) -> int:
        """Santa frames blended with the outro's first ones (xfade #2 ends when Santa does)."""
        return self.santa_start + self.santa_frames - self.outro_start

    @property
    def outro_body_start(self) -> int:
        """The first outro frame that is never blended, whatever the speech length.

        The blend can be one frame longer than the fade when durations round unluckily, so
        the frames between the actual blend's end and this one are rendered per order.
        """
        return min(self.outro_fade + 1, self.outro_frames)

    @property
    def total_frames(self) -> int:
        return self.outro_start + self.outro_frames


def plan_frames(timeline: Timeline, fps: int) -> FramePlan:
    return FramePlan(
        fps=fps,
        intro_frames=frames(timeline.intro, fps),
        santa_start=frames(timeline.santa_start, fps),
        santa_frames=frames(timeline.speech, fps),
        outro_start=frames(timeline.outro_start, fps),
        outro_frames=frames(timeline.outro, fps),
        intro_fade=frames(timeline.intro_overlap, fps),
        outro_fade=frames(timeline.outro_overlap, fps),
    )
