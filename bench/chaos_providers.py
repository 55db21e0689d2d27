"""Providers for the chaos benchmark: real local media, with random faults injected.

Selected with PROVIDER_FACTORY=bench.chaos_providers:configured_providers; the fault rate
comes from CHAOS_FAULT_RATE (0..1). Each call fails at that rate with a transient fault
(503, timeout, 429 with Retry-After) and, at a fifth of it, with a permanent one.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from providers.base import LipSyncProvider, ProviderSet, Speech, TalkingVideoProvider, TTSProvider
from providers.errors import PermanentProviderError, ProviderRateLimited, ProviderTimeout, TransientProviderError
from providers.espeak_tts import EspeakTTS
from providers.fake import FakeLipSync, FakeTalkingVideo
from settings import Settings
from storage.base import Storage

_rng = random.Random()


def _maybe_fail(name: str) -> None:
    rate = float(os.environ.get('CHAOS_FAULT_RATE', '0.3'))
    roll = _rng.random()
    if roll < rate / 5:
        raise PermanentProviderError(name, 'injected: 401 invalid key')
    if roll < rate:
        raise _rng.choice(
            [
                TransientProviderError(name, 'injected: 503 upstream unavailable'),
                ProviderTimeout(name, 'injected: read timeout'),
                ProviderRateLimited(name, 'injected: 429', retry_after=0.2),
            ]
        )


class ChaosTTS(TTSProvider):
    def __init__(self, inner: TTSProvider) -> None:
        self.inner = inner
        self.name = f'chaos-{inner.name}'  # type: ignore[misc]

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        _maybe_fail(self.name)
        speech = self.inner.synthesize(text, language, workdir)
        return Speech(speech.path, speech.duration, self.name, speech.alignment)


class ChaosLipSync(LipSyncProvider):
    name = 'chaos-lipsync'

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        _maybe_fail(self.name)
        return FakeLipSync(self.name).sync(video, speech, workdir)


class ChaosVideo(TalkingVideoProvider):
    name = 'chaos-video'

    def __init__(self, source: Path) -> None:
        self.source = source

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        _maybe_fail(self.name)
        return FakeTalkingVideo(self.source, self.name).generate(speech, script, language, workdir)


def configured_providers(settings: Settings, storage: Storage) -> ProviderSet:
    return ProviderSet(
        tts=(ChaosTTS(EspeakTTS(timeout=settings.tts_timeout_seconds)),),
        lipsync=(ChaosLipSync(),),
        video=(ChaosVideo(settings.assets_dir / 'frame3_santa_base.mp4'),),
    )
