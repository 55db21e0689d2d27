"""A soundtrack whose every sound is the same in both channels is encoded mono (compose.render),
and sounds as the stereo one does: the mono track is the stereo mix's left channel."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from chain import SantaSegment
from compose import RenderSpec, compose_video, load_assets
from compose.render import soundtrack_spec
from providers.espeak_tts import EspeakTTS
from utils.probe import probe

SPEC = RenderSpec(width=180, height=320, preset='veryfast')
SCRIPT = '¡Jo, jo, jo! Hola Sofía, feliz Navidad desde el Polo Norte.'


def samples(path: Path) -> np.ndarray:
    """The decoded soundtrack, one column per channel."""
    channels = probe(path).audio_channels or 0
    raw = subprocess.run(['ffmpeg', '-v', 'error', '-i', str(path), '-map', '0:a:0', '-f', 'f32le', '-'],
                         capture_output=True, timeout=60, check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype='<f4').reshape(-1, channels)


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    n = min(len(reference), len(other))
    error = reference[:n] - other[:n]
    return float(10 * np.log10(np.sum(reference[:n] ** 2) / np.sum(error**2)))


@pytest.mark.parametrize('mode', ['template', 'single-pass'])
def test_beds_alike_in_both_channels_give_a_mono_track_that_is_the_stereo_mix_left_channel(
    tmp_path: Path, small_assets: Path, template_cache: Path, mode: str
) -> None:
    assets = load_assets(small_assets)  # the placeholders' chime: one sound in both channels
    assert assets.mono_beds
    speech = EspeakTTS().synthesize(SCRIPT, 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={})
    tracks = {}
    for name, given in (('mono', assets), ('stereo', dataclasses.replace(assets, mono_beds=False))):
        out = compose_video(given, segment, tmp_path / f'{name}.mp4', SPEC, timeout=300, mode=mode,  # type: ignore[arg-type]
                            template_cache_dir=template_cache)  # fmt: skip
        tracks[name] = samples(out)
    mono, stereo = tracks['mono'], tracks['stereo']
    assert mono.shape[1] == 1 and stereo.shape[1] == 2
    assert abs(len(mono) - len(stereo)) <= 1024  # one AAC frame
    # Both encodes of one mix differ by the AAC's own noise (~30 dB under); the speech 3 dB
    # off would leave them ~11 dB apart.
    assert snr_db(stereo[:, 0], mono[:, 0]) >= 20, snr_db(stereo[:, 0], mono[:, 0])


def test_a_bed_whose_channels_differ_keeps_the_soundtrack_stereo(tmp_path: Path, small_assets: Path) -> None:
    wide = tmp_path / 'assets'
    shutil.copytree(small_assets, wide)
    outro = next(p for p in wide.iterdir() if 'Noche' in p.name)
    retuned = outro.with_name('retuned' + outro.suffix)
    # The same picture, with a chime a fifth higher on the right: a stereo sound.
    chime = 'aevalsrc=0.3*sin(2*PI*880*t)|0.3*sin(2*PI*1320*t):s=48000:d=2'
    subprocess.run(['ffmpeg', '-v', 'error', '-i', str(outro), '-f', 'lavfi', '-i', chime, '-map', '0:v', '-map',
                    '1:a', '-c:v', 'copy', '-c:a', 'aac', '-shortest', '-y', str(retuned)],
                   check=True, timeout=60)  # fmt: skip
    retuned.replace(outro)
    speech = EspeakTTS().synthesize(SCRIPT, 'es', tmp_path)
    assets = load_assets(wide)
    assert not assets.mono_beds
    assert soundtrack_spec(assets, speech.path, SPEC).audio_channels == 2
    assert soundtrack_spec(load_assets(small_assets), speech.path, SPEC).audio_channels == 1


def test_a_stereo_speech_keeps_the_soundtrack_stereo(tmp_path: Path, small_assets: Path) -> None:
    speech = EspeakTTS().synthesize(SCRIPT, 'es', tmp_path)
    stereo = tmp_path / 'stereo.wav'
    subprocess.run(['ffmpeg', '-v', 'error', '-i', str(speech.path), '-ac', '2', '-y', str(stereo)], check=True,
                   timeout=60)  # fmt: skip
    assets = load_assets(small_assets)
    assert soundtrack_spec(assets, stereo, SPEC).audio_channels == 2
    assert soundtrack_spec(assets, speech.path, SPEC).audio_channels == 1


def test_what_a_bed_sounds_like_is_remembered_by_content(tmp_path: Path, small_assets: Path) -> None:
    from compose import assets as assets_module

    verified = tmp_path / 'verified'
    assets_module._mono.clear()  # as in a new process
    load_assets(small_assets, verified_dir=verified)
    markers = sorted(verified.glob('*.mono'))
    assert len(markers) == 2 and {m.read_text() for m in markers} == {'yes'}
    markers[0].write_text('no')  # as another process found it
    assets_module._mono.clear()
    assert not load_assets(small_assets, verified_dir=verified).mono_beds


def test_a_bed_that_could_not_be_read_is_read_again_by_the_next_process(
    tmp_path: Path, small_assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compose import assets as assets_module
    from utils.proc import CommandTimeout

    verified = tmp_path / 'verified'
    assets_module._mono.clear()
    load_assets(small_assets, verified_dir=verified, read_channels=False)  # decoded, as at warm start

    def loaded_machine(args: list[str], **kwargs: object) -> bytes:
        raise CommandTimeout(args, 'timed out')

    with monkeypatch.context() as patch:
        patch.setattr(assets_module, 'run', loaded_machine)
        assert not load_assets(small_assets, verified_dir=verified).mono_beds  # stereo, safe
    assert sorted(verified.glob('*.mono')) == []  # nothing remembered on disk
    assets_module._mono.clear()  # the next process
    assert load_assets(small_assets, verified_dir=verified).mono_beds
