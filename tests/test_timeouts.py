"""A hung stage is killed at its timeout and counted as a transient failure."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chain import SantaSegment
from compose import RenderSpec, compose_video, load_assets
from compose.render import CompositionTimeout
from providers.errors import ProviderTimeout, TransientProviderError
from providers.espeak_tts import EspeakTTS
from providers.fake import FakeTTS
from tests.workers import children


def test_a_hung_tts_process_is_killed_and_reported_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    (fake_bin / 'espeak-ng').write_text('#!/bin/sh\nsleep 30\n')
    (fake_bin / 'espeak-ng').chmod(0o755)
    monkeypatch.setenv('PATH', f'{fake_bin}:{os.environ["PATH"]}')
    before = set(children(os.getpid()))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        EspeakTTS(timeout=0.5).synthesize('Hola', 'es', tmp_path)
    assert isinstance(info.value, TransientProviderError)
    assert time.monotonic() - started < 5
    assert set(children(os.getpid())) == before  # no sleeping child left behind


def test_a_composition_past_its_timeout_is_killed(tmp_path: Path, small_assets: Path) -> None:
    assets = load_assets(small_assets)
    speech = FakeTTS(seconds=20).synthesize('x', 'es', tmp_path)
    segment = SantaSegment(assets.santa_base.path, speech, True, {})
    before = set(children(os.getpid()))
    started = time.monotonic()
    with pytest.raises(CompositionTimeout):
        compose_video(assets, segment, tmp_path / 'o.mp4', RenderSpec(width=180, height=320, preset='veryslow'),
                      timeout=0.3)  # fmt: skip
    assert time.monotonic() - started < 5
    assert set(children(os.getpid())) == before
