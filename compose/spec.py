"""The encoder settings a render must meet."""

from __future__ import annotations

from dataclasses import dataclass

import papa_noel_config as persona


@dataclass(frozen=True)
class RenderSpec:
    width: int = persona.OUTPUT.width
    height: int = persona.OUTPUT.height
    fps: int = persona.OUTPUT.fps
    crf: int = persona.OUTPUT.crf
    preset: str = persona.OUTPUT.preset
    profile: str = persona.OUTPUT.profile
    level: str = persona.OUTPUT.level
    pixel_format: str = persona.OUTPUT.pixel_format
    audio_bitrate: str = persona.OUTPUT.audio_bitrate
    sample_rate: int = persona.OUTPUT.audio_sample_rate
    #: 2, or 1 for an order whose every sound is the same in both channels (compose.render):
    #: the parent hears the same, and the AAC encode costs about half.
    audio_channels: int = 2
    loudness_lufs: float = persona.OUTPUT.speech_loudness_lufs
    true_peak_db: float = persona.OUTPUT.speech_true_peak_db
    intro_overlap: float = persona.INTRO_OVERLAP_SECONDS
    outro_overlap: float = persona.OUTRO_OVERLAP_SECONDS
    #: Asset roles scaled to fill the frame and cropped, centred (compose.framing); the others are padded.
    cropped_roles: tuple[str, ...] = ()

    def video_codec_args(self) -> dict[str, str | int]:
        return {
            'c:v': persona.OUTPUT.video_codec,
            'preset': self.preset,
            'crf': self.crf,
            'profile:v': self.profile,
            'level:v': self.level,
            'pix_fmt': self.pixel_format,
            'r': self.fps,
        }

    def audio_codec_args(self) -> dict[str, str | int]:
        return {
            'c:a': persona.OUTPUT.audio_codec,
            'aac_coder': persona.OUTPUT.aac_coder,
            'aac_ms': int(persona.OUTPUT.aac_mid_side),
            'b:a': self.audio_bitrate,
            'ar': self.sample_rate,
            'ac': self.audio_channels,
        }

    @property
    def channel_layout(self) -> str:
        return 'mono' if self.audio_channels == 1 else 'stereo'
