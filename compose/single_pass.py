"""Single-pass FFmpeg render: intro → Santa segment → outro in one filter graph.

Every frame of the output is decoded, scaled (Lanczos) and encoded in one run. This is
the reference renderer: simple and exact.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ffmpeg

from compose.frame_plan import frames
from compose.framing import framed
from compose.loudness import SpeechLevel, leveled
from compose.name_card import NameCard, card_start, drawn
from compose.spec import RenderSpec
from compose.timeline import Timeline
from utils.probe import MediaInfo


def build_command(
    *,
    intro: MediaInfo,
    santa_video: MediaInfo,
    loop_santa: bool,
    speech: Path,
    outro: MediaInfo,
    timeline: Timeline,
    spec: RenderSpec,
    out: Path,
    speech_level: SpeechLevel,
    name_card: NameCard | None = None,
) -> list[str]:
    """The ffmpeg argument list that renders the whole timeline into `out`."""
    loops = math.ceil(timeline.speech / santa_video.duration) if loop_santa else 0
    santa_in = ffmpeg.input(str(santa_video.path), stream_loop=loops) if loops else ffmpeg.input(str(santa_video.path))
    intro_in = ffmpeg.input(str(intro.path))
    outro_in = ffmpeg.input(str(outro.path))

    intro_v = _fit(intro_in.video, spec, timeline.intro, 'intro')
    if name_card is not None:
        start = card_start(frames(timeline.intro, spec.fps), frames(timeline.santa_start, spec.fps), spec.fps)
        intro_v = drawn(intro_v, name_card, spec, from_frame=start)
    santa_v = _fit(santa_in.video, spec, timeline.speech, 'santa_base')
    outro_v = _fit(outro_in.video, spec, timeline.outro, 'outro')
    joined = ffmpeg.filter(
        [intro_v, santa_v], 'xfade', transition='fade', duration=timeline.intro_overlap, offset=timeline.santa_start
    )
    video = ffmpeg.filter(
        [joined, outro_v], 'xfade', transition='fade', duration=timeline.outro_overlap, offset=timeline.outro_start
    )

    audio = audio_mix(
        intro=intro,
        intro_in=intro_in,
        speech=speech,
        outro=outro,
        outro_in=outro_in,
        timeline=timeline,
        spec=spec,
        speech_level=speech_level,
    )
    output = ffmpeg.output(
        video,
        audio,
        str(out),
        t=timeline.total,
        movflags='+faststart',
        f='mp4',
        **spec.video_codec_args(),
        **spec.audio_codec_args(),
    )
    args: list[str] = output.global_args('-hide_banner', '-nostdin', '-v', 'error').compile(overwrite_output=True)
    return args


def audio_mix(
    *,
    intro: MediaInfo,
    intro_in: Any,
    speech: Path,
    outro: MediaInfo,
    outro_in: Any,
    timeline: Timeline,
    spec: RenderSpec,
    speech_level: SpeechLevel,
) -> Any:
    """The whole soundtrack: intro fading out, the speech from santa_start (at the target loudness,
    compose.loudness), outro fading in.

    Shared with the template renderer, which encodes the same soundtrack per order.
    """
    # ffmpeg-python merges identical nodes: two silent beds of one length would become one
    # stream feeding two filters, so each silent bed takes its own branch of one silence.
    # (An unused split is left out of the graph.)
    silence = _silence(spec).asplit()
    intro_a = _bed(intro, intro_in, silence[0], spec, timeline.intro).filter(
        'afade', t='out', st=timeline.intro - timeline.intro_overlap, d=timeline.intro_overlap
    )
    speech_a = _in_layout(leveled(ffmpeg.input(str(speech)).audio, speech_level, spec), spec, one_channel=True).filter(
        'adelay', delays=f'{round(timeline.santa_start * 1000)}', all=1
    )
    outro_a = (
        _bed(outro, outro_in, silence[1], spec, timeline.outro)
        .filter('afade', t='in', st=0, d=timeline.outro_overlap)
        .filter('adelay', delays=f'{round(timeline.outro_start * 1000)}', all=1)
    )
    return (
        ffmpeg.filter([intro_a, speech_a, outro_a], 'amix', inputs=3, duration='longest', normalize=0)
        .filter('apad', whole_dur=timeline.total)
        .filter('atrim', duration=timeline.total)
    )


def _fit(stream: Any, spec: RenderSpec, seconds: float, role: str = '') -> Any:
    """Scale and pad (or crop) into the output frame; hold the last frame if the clip is short, then cut to length."""
    return (
        framed(stream, spec, role)
        .filter('setsar', 1)
        .filter('fps', spec.fps)
        .filter('format', spec.pixel_format)
        .filter('tpad', stop_mode='clone', stop_duration=seconds)
        .filter('trim', duration=seconds)
        .filter('setpts', 'PTS-STARTPTS')
    )


def _in_layout(stream: Any, spec: RenderSpec, *, one_channel: bool) -> Any:
    """`stream` resampled into the output's layout. A mono output is what the stereo mix has in
    its left channel: a one-channel source, which a stereo mix spreads over two channels at
    -3 dB each, goes in at -3 dB (the speech is one channel whenever the output is mono)."""
    if spec.audio_channels == 1 and one_channel:
        stream = stream.filter('volume', f'{math.sqrt(0.5):.6f}')
    return stream.filter('aresample', spec.sample_rate).filter(
        'aformat', sample_fmts='fltp', sample_rates=spec.sample_rate, channel_layouts=spec.channel_layout
    )


def _silence(spec: RenderSpec) -> Any:
    return ffmpeg.input(f'anullsrc=r={spec.sample_rate}:cl={spec.channel_layout}', f='lavfi').audio.filter(
        'aformat', sample_fmts='fltp'
    )


def _bed(info: MediaInfo, source: Any, silence: Any, spec: RenderSpec, seconds: float) -> Any:
    """An intro/outro's own audio, or `silence` when it has none, exactly `seconds` long."""
    stream = _in_layout(source.audio, spec, one_channel=info.audio_channels == 1) if info.has_audio else silence
    return stream.filter('apad', whole_dur=seconds).filter('atrim', duration=seconds).filter('asetpts', 'PTS-STARTPTS')
