"""What ffprobe says about a media file, as a typed value."""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from utils.proc import CommandError, run

PROBE_TIMEOUT_SECONDS = 30


class MediaError(Exception):
    """A media file is missing, unreadable or not what it should be. The message names the file."""


@dataclass(frozen=True)
class ColorTags:
    """A video stream's colour signalling, with ffprobe's names ('unknown' where the stream has none)."""

    space: str = 'unknown'
    range: str = 'unknown'
    primaries: str = 'unknown'
    transfer: str = 'unknown'


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float
    format_name: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    video_profile: str | None = None
    video_level: int | None = None
    pixel_format: str | None = None
    video_frames: int | None = None
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_duration: float | None = None
    color: ColorTags = ColorTags()

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def probe(path: Path) -> MediaInfo:
    if not path.is_file():
        raise MediaError(f'{path}: file not found')
    try:
        raw = run(
            ['ffprobe', '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', str(path)],
            timeout=PROBE_TIMEOUT_SECONDS,
        )
        data = json.loads(raw)
    except (CommandError, ValueError) as exc:
        raise MediaError(f'{path}: not a readable media file ({exc})') from None
    return _media_info(path, data)


def _media_info(path: Path, data: dict[str, Any]) -> MediaInfo:
    fmt = data.get('format', {})
    streams = data.get('streams', [])
    video = next((s for s in streams if s.get('codec_type') == 'video' and not _is_cover_art(s)), None)
    audio = next((s for s in streams if s.get('codec_type') == 'audio'), None)
    fields: dict[str, Any] = {
        'path': path,
        'duration': _float(fmt.get('duration')) or 0.0,
        'format_name': fmt.get('format_name', ''),
    }
    if video:
        fields.update(
            width=video.get('width'),
            height=video.get('height'),
            fps=_rate(video.get('avg_frame_rate')) or _rate(video.get('r_frame_rate')),
            video_codec=video.get('codec_name'),
            video_profile=video.get('profile'),
            video_level=video.get('level'),
            pixel_format=video.get('pix_fmt'),
            video_frames=int(video['nb_frames']) if str(video.get('nb_frames', '')).isdigit() else None,
            color=ColorTags(
                space=video.get('color_space', 'unknown'),
                range=video.get('color_range', 'unknown'),
                primaries=video.get('color_primaries', 'unknown'),
                transfer=video.get('color_transfer', 'unknown'),
            ),
        )
    if audio:
        fields.update(
            audio_codec=audio.get('codec_name'),
            audio_sample_rate=int(audio.get('sample_rate') or 0) or None,
            audio_channels=int(audio.get('channels') or 0) or None,
            audio_duration=_float(audio.get('duration')),
        )
    return MediaInfo(**fields)


def _is_cover_art(stream: dict[str, Any]) -> bool:
    return bool(stream.get('disposition', {}).get('attached_pic'))


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rate(value: Any) -> float | None:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return float(rate) if rate > 0 else None


def wav_channels(path: Path) -> int | None:
    """Channels of a PCM WAV file from its header, or None when it isn't one."""
    try:
        with wave.open(str(path), 'rb') as wav:
            return wav.getnchannels()
    except (OSError, EOFError, wave.Error):
        return None


def wav_duration(path: Path) -> float | None:
    """Seconds of a PCM WAV file from its header (no ffprobe process), or None when it isn't one."""
    try:
        with wave.open(str(path), 'rb') as wav:
            rate, frames = wav.getframerate(), wav.getnframes()
    except (OSError, EOFError, wave.Error):
        return None
    # A streamed WAV may leave its size fields at the maximum: its header doesn't know its length.
    if rate <= 0 or frames <= 0 or frames * wav.getsampwidth() * wav.getnchannels() >= 0x7FFFFFF0:
        return None
    return round(frames / rate, 6)  # as ffprobe prints it, so nothing downstream sees a difference
