"""What a job no longer pays: probes read from headers, assets probed once per worker process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compose.assets import AssetError, load_assets_cached
from providers.espeak_tts import EspeakTTS
from utils import mp4
from utils.probe import probe, wav_duration
from utils.proc import run


def test_mp4_index_gives_what_ffprobe_gives(tmp_path: Path) -> None:
    out = tmp_path / 'clip.mp4'
    run(['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=30:d=1.3', '-f', 'lavfi', '-i',
         'sine=d=1.3', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-movflags', '+faststart',
         str(out)], timeout=60)  # fmt: skip
    ours, theirs = mp4.summary(out), probe(out)
    assert abs(ours.duration - theirs.duration) < 0.001
    assert ours.video_frames == theirs.video_frames == 39
    assert ours.has_audio
    (tmp_path / 'junk.mp4').write_bytes(b'\0\0\0\x08free' + b'x' * 100)
    with pytest.raises(mp4.MP4Error):
        mp4.summary(tmp_path / 'junk.mp4')


def test_speech_length_from_the_wav_header_is_ffprobes(tmp_path: Path) -> None:
    speech = EspeakTTS().synthesize('Hola Sofía, Papá Noel te saluda.', 'es', tmp_path)
    assert speech.duration == pytest.approx(probe(speech.path).duration, abs=1e-6)
    assert wav_duration(speech.path) == speech.duration
    (tmp_path / 'not.wav').write_bytes(b'RIFF....nope')
    assert wav_duration(tmp_path / 'not.wav') is None


def test_assets_are_probed_again_only_when_a_file_changes(small_assets: Path, tmp_path: Path) -> None:
    assets = tmp_path / 'assets'
    shutil.copytree(small_assets, assets)
    first = load_assets_cached(assets)
    assert load_assets_cached(assets) is first  # no probe: the same object
    base = assets / 'frame3_santa_base.mp4'
    os.utime(base, ns=(base.stat().st_atime_ns, base.stat().st_mtime_ns + 1_000_000))
    assert load_assets_cached(assets) is not first
    base.unlink()
    with pytest.raises(AssetError, match='frame3_santa_base.mp4'):
        load_assets_cached(assets)
