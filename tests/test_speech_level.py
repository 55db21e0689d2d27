"""The speech's level in the soundtrack (compose.loudness), measured in the rendered video by FFmpeg's ebur128."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from chain import SantaSegment
from compose import RenderSpec, compose_video, load_assets, loudness
from compose.loudness import SpeechLevel
from providers.base import Speech
from providers.espeak_tts import EspeakTTS
from utils.probe import probe

SPEC = RenderSpec(width=180, height=320, preset='veryfast')
SCRIPT = '¡Jo, jo, jo! Hola Sofía, feliz Navidad desde el Polo Norte. Este año te has portado muy bien.'


def r128(path: Path, start: float, seconds: float) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of `seconds` of `path` from `start`, as two
    speakers play it: a mono track goes to both at full level, as players do."""
    meter = 'ebur128=peak=true' if probe(path).audio_channels == 2 else 'pan=stereo|c0=c0|c1=c0,ebur128=peak=true'
    proc = subprocess.run(
        ['ffmpeg', '-hide_banner', '-nostats', '-ss', f'{start:.3f}', '-t', f'{seconds:.3f}', '-i', str(path), '-vn',
         '-af', meter, '-f', 'null', '-'],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    loudness = float(re.findall(r'I:\s+(-?[\d.]+) LUFS', proc.stderr)[-1])
    peak = float(re.findall(r'Peak:\s+(-?[\d.]+) dBFS', proc.stderr)[-1])
    return loudness, peak


def quieter(speech: Speech, db: float, out: Path) -> Speech:
    subprocess.run(['ffmpeg', '-v', 'error', '-i', str(speech.path), '-af', f'volume={db}dB', '-y', str(out)],
                   check=True, timeout=60)  # fmt: skip
    return Speech(path=out, duration=speech.duration, provider=speech.provider)


@pytest.mark.parametrize('mode', ['template', 'single-pass'])
def test_speech_reaches_one_loudness_whatever_its_level_with_peaks_under_the_ceiling(
    tmp_path: Path, small_assets: Path, template_cache: Path, mode: str
) -> None:
    assets = load_assets(small_assets)
    loud = EspeakTTS().synthesize(SCRIPT, 'es', tmp_path)  # about -20 LUFS, peaks near full scale
    soft = quieter(loud, -12, tmp_path / 'soft.wav')
    measured = []
    for name, speech in (('loud', loud), ('soft', soft)):
        segment = SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={})
        out = compose_video(assets, segment, tmp_path / f'{name}.mp4', SPEC, timeout=300, mode=mode,  # type: ignore[arg-type]
                            template_cache_dir=template_cache)  # fmt: skip
        # The speech alone: after the intro's music has faded, before the outro's begins.
        santa_start = assets.intro.duration - SPEC.intro_overlap
        measured.append(r128(out, santa_start + SPEC.intro_overlap + 0.1, speech.duration - SPEC.intro_overlap - 0.3))
    (loud_lufs, loud_peak), (soft_lufs, soft_peak) = measured
    assert abs(loud_lufs - soft_lufs) <= 0.7, measured  # 12 dB apart on the way in
    assert -19.0 <= loud_lufs <= -15.0, measured  # the target, as the stereo mix measures a centred voice
    assert max(loud_peak, soft_peak) <= SPEC.true_peak_db, measured


def test_silence_and_an_unmeasured_level_get_no_gain_and_a_gain_is_bounded() -> None:
    assert SpeechLevel(integrated_lufs=-70.0, sample_peak=0.0).gain_db(SPEC) == 0.0
    assert SpeechLevel(integrated_lufs=float('-inf'), sample_peak=0.0).gain_db(SPEC) == 0.0
    assert SpeechLevel(integrated_lufs=-60.0, sample_peak=0.01).gain_db(SPEC) == 24.0
    assert SpeechLevel(integrated_lufs=-20.0, sample_peak=0.9).gain_db(SPEC) == pytest.approx(4.0)


def test_a_pcm_wav_is_measured_in_this_process_as_ebur128_measures_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    speech = EspeakTTS().synthesize(SCRIPT, 'es', tmp_path).path  # 16-bit mono PCM
    stereo = tmp_path / 'stereo.wav'
    subprocess.run(['ffmpeg', '-v', 'error', '-i', str(speech), '-af', 'volume=-9dB', '-ac', '2', '-ar', '48000',
                    str(stereo)], check=True, timeout=60)  # fmt: skip
    for path in (speech, stereo):
        by_ffmpeg = loudness.measured_by_ffmpeg(path, timeout=60)
        with monkeypatch.context() as patched:
            patched.setattr(loudness, 'run', _no_ffmpeg)
            here = loudness.measure(path, timeout=60)
        assert abs(here.integrated_lufs - by_ffmpeg.integrated_lufs) <= 0.2, (path.name, here, by_ffmpeg)
        assert here.sample_peak == pytest.approx(by_ffmpeg.sample_peak, abs=0.002), (path.name, here, by_ffmpeg)


def test_anything_but_16_bit_pcm_and_a_clip_too_short_to_gate_go_to_ffmpeg(tmp_path: Path) -> None:
    speech = EspeakTTS().synthesize(SCRIPT, 'es', tmp_path).path
    others = {'speech.mp3': ['-c:a', 'libmp3lame'], '8-bit.wav': ['-c:a', 'pcm_u8'], 'short.wav': ['-t', '0.3']}
    for name, args in others.items():
        subprocess.run(['ffmpeg', '-v', 'error', '-i', str(speech), *args, str(tmp_path / name)], check=True,
                       timeout=60)  # fmt: skip
        assert loudness.pcm_level(tmp_path / name) is None, name
        assert loudness.measure(tmp_path / name, timeout=60) == loudness.measured_by_ffmpeg(tmp_path / name, timeout=60)


def _no_ffmpeg(*args: object, **kwargs: object) -> bytes:
    raise AssertionError('FFmpeg was run to measure a PCM WAV')
