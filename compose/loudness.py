"""The speech's level in the soundtrack: measured once (EBU R128), then one gain and a peak limiter.

Not FFmpeg's `loudnorm`: its dynamic mode resamples to 192 kHz to find true peaks, which cost
about 0.6 CPU-s for half a minute of speech on a 2-core machine, a third of an order's whole
soundtrack. A voice from a speech engine keeps a steady level (a loudness range of ~3 LU), so one
gain reaches the target loudness, and a lookahead limiter at the speech's own sample rate keeps
the peaks under the ceiling. The ceiling sits below the true-peak target by the margin that
resampling to the output rate can add between samples.

A 16-bit PCM WAV (espeak-ng's, and the audio cache's) is measured in this process by pyloudnorm,
the same BS.1770-4 meter: an FFmpeg start costs ~0.06-0.1 CPU-s here and sat on the order's
critical path, before the soundtrack could start. Anything else goes through FFmpeg's ebur128.
"""

from __future__ import annotations

import math
import re
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compose.spec import RenderSpec
from utils.proc import run

# Quieter than this (EBU R128's absolute gate is -70 LUFS) there is no speech to level: no gain.
UNMEASURABLE_LUFS = -69.0
# A gain beyond this would only raise noise: the speech is then left quieter than the target.
MAX_GAIN_DB = 24.0
# Resampling 22.05 kHz speech to 48 kHz raises peaks between samples by up to about this much.
INTERSAMPLE_MARGIN_DB = 0.5
_METADATA = re.compile(rb'lavfi\.r128\.(I|sample_peak)=(-?[0-9.]+|-?inf|nan)')


class LoudnessError(Exception):
    """The speech's loudness could not be measured."""


@dataclass(frozen=True)
class SpeechLevel:
    """What the measurement found: integrated loudness (LUFS) and the largest sample (linear, 1 = full scale)."""

    integrated_lufs: float
    sample_peak: float

    def gain_db(self, spec: RenderSpec) -> float:
        if not math.isfinite(self.integrated_lufs) or self.integrated_lufs < UNMEASURABLE_LUFS:
            return 0.0
        return max(-MAX_GAIN_DB, min(MAX_GAIN_DB, spec.loudness_lufs - self.integrated_lufs))


# BS.1770's gating block: a shorter file has no block to measure (ebur128 answers for it).
_BLOCK_SECONDS = 0.4


def measure(speech: Path, *, timeout: float) -> SpeechLevel:
    """The speech's integrated loudness and sample peak: in this process for a 16-bit PCM WAV,
    by FFmpeg's ebur128 filter otherwise."""
    level = pcm_level(speech)
    return level if level is not None else measured_by_ffmpeg(speech, timeout=timeout)


def pcm_level(speech: Path) -> SpeechLevel | None:
    """A 16-bit PCM WAV's level, measured here; None for any other file (or one too short to gate)."""
    try:
        with wave.open(str(speech), 'rb') as wav:
            if wav.getsampwidth() != 2:
                return None
            rate, channels = wav.getframerate(), wav.getnchannels()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error):
        return None
    samples = np.frombuffer(raw, dtype='<i2').reshape(-1, channels) / 32768.0
    if len(samples) < _BLOCK_SECONDS * rate:
        return None
    lufs = float(meter_library().Meter(rate).integrated_loudness(samples))
    return SpeechLevel(integrated_lufs=lufs, sample_peak=float(np.abs(samples).max(initial=0.0)))


def meter_library() -> Any:
    """pyloudnorm, imported on first use: with SciPy it costs ~1.2 s, which the web app, the CLI
    and health_check.py never need. A worker calls this before it forks its work horses."""
    import pyloudnorm

    return pyloudnorm


def measured_by_ffmpeg(speech: Path, *, timeout: float) -> SpeechLevel:
    """The speech's integrated loudness and sample peak, from FFmpeg's ebur128 filter."""
    out = run(['ffmpeg', '-v', 'error', '-nostdin', '-i', str(speech), '-af',
               'ebur128=metadata=1:peak=sample,ametadata=print:file=-', '-f', 'null', '-'],
              timeout=timeout)  # fmt: skip
    found: dict[bytes, float] = {}
    for key, value in _METADATA.findall(out):  # each frame prints the values so far: the last one counts
        found[key] = float(value)
    if b'I' not in found or b'sample_peak' not in found:
        raise LoudnessError(f'{speech.name}: no loudness measured')
    return SpeechLevel(integrated_lufs=found[b'I'], sample_peak=found[b'sample_peak'])


def leveled(stream: Any, level: SpeechLevel, spec: RenderSpec) -> Any:
    """`stream` (the speech) at the target loudness, its peaks under the true-peak target."""
    gain = level.gain_db(spec)
    ceiling = 10 ** ((spec.true_peak_db - INTERSAMPLE_MARGIN_DB) / 20)
    if gain:
        stream = stream.filter('volume', f'{gain:.2f}dB')
    if level.sample_peak * 10 ** (gain / 20) > ceiling:
        # level=0: no make-up gain of its own; latency=1: the lookahead does not shift the speech.
        stream = stream.filter('alimiter', limit=f'{ceiling:.4f}', attack=5, release=50, level=0, latency=1)
    return stream
