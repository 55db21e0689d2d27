"""Providers for the chaos benchmark: real local media, with random faults injected.

Selected with PROVIDER_FACTORY=bench.chaos_providers:configured_providers; the fault rate
comes from CHAOS_FAULT_RATE (0..1). Each call fails at that rate with a transient fault
(503, timeout, 429 with Retry-After) and, at a fifth of it, with a permanent one.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from providers.base import LipSyncProvider, ProviderSet, Speech, TalkingVideoProvider, TTSProvider
from providers.errors import PermanentProviderError, ProviderRateLimited, ProviderTimeout, TransientProviderError
from providers.espeak_tts import EspeakTTS
from providers.fake import FakeLipSync, FakeTalkingVideo
from settings import Settings
from storage.base import Storage


def _maybe_fail(name: str) -> None:
    rate = float(os.environ.get('CHAOS_FAULT_RATE', '0.3'))
    # Per process, as for the real providers below: an RNG made at import was copied into every
    # forked horse, so a worker whose first draw was the permanent fault failed every order it took.
    rng = _process_rng()
    roll = rng.random()
    if roll < rate / 5:
        raise PermanentProviderError(name, 'injected: 401 invalid key')
    if roll < rate:
        raise rng.choice(
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


# --- the honest bench: the real clients (ElevenLabs, Sync Labs, HeyGen against local fakes), faulted ---


def _process_rng() -> random.Random:
    """One fault RNG per process, made on first use in that process (never inherited by a fork).

    RQ forks a work horse per job: an RNG made at import (or in the worker before the fork)
    would be copied into every horse, which would then draw the very same faults.
    """
    global _process_rng_state
    pid = os.getpid()
    if _process_rng_state is None or _process_rng_state[0] != pid:
        seed = f'{os.environ.get("CHAOS_SEED", "")}:{pid}:{time.time_ns()}'
        _process_rng_state = (pid, random.Random(seed))
    return _process_rng_state[1]


_process_rng_state: tuple[int, random.Random] | None = None


def _maybe_fail_before(name: str, *, permanent: bool = True) -> None:
    rate = float(os.environ.get('CHAOS_FAULT_RATE', '0.3'))
    rng = _process_rng()
    roll = rng.random()
    if permanent and roll < rate / 5:
        raise PermanentProviderError(name, 'injected: 401 invalid key')
    if roll < rate:
        raise rng.choice(
            [
                TransientProviderError(name, 'injected: 503 upstream unavailable'),
                ProviderTimeout(name, 'injected: read timeout'),
                ProviderRateLimited(name, 'injected: 429', retry_after=0.2),
            ]
        )


class _Faulted:
    """Forwards everything but the one call to the real provider (name, last_resort, close...)."""

    inner: Any

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def close(self) -> None:
        self.inner.close()

    def check_reachable(self) -> str:
        return str(self.inner.check_reachable())


class FaultedTTS(_Faulted, TTSProvider):
    def __init__(self, inner: TTSProvider) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def cache_identity(self) -> dict[str, Any]:
        return self.inner.cache_identity()

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        # Speech gets transient faults only: a permanent one would move to espeak-ng, whose
        # speech the paid-call ledger cannot attribute to an order (see bench/chaos.py).
        _maybe_fail_before(self.name, permanent=False)
        return self.inner.synthesize(text, language, workdir)


class FaultedLipSync(_Faulted, LipSyncProvider):
    def __init__(self, inner: LipSyncProvider) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        _maybe_fail_before(self.name)
        return self.inner.sync(video, speech, workdir)


class FaultedVideo(_Faulted, TalkingVideoProvider):
    def __init__(self, inner: TalkingVideoProvider) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        _maybe_fail_before(self.name)
        return self.inner.generate(speech, script, language, workdir)


def faulted_real_providers(settings: Settings, storage: Storage) -> ProviderSet:
    """The providers the settings configure (real clients), each call faulted before it is made.

    Faults after a charged call (the answer lost) are the fake vendors' doing (bench/chaos.py).
    """
    from providers.registry import configured_providers as real

    providers = real(settings, storage)
    tts: list[TTSProvider] = [FaultedTTS(p) for p in providers.tts[:-1]]
    # espeak-ng, the last resort, keeps the old fault mix (permanent ones included).
    tts.append(ChaosTTS(providers.tts[-1]))
    return ProviderSet(
        tts=tuple(tts),
        lipsync=tuple(FaultedLipSync(p) for p in providers.lipsync),
        video=tuple(FaultedVideo(p) for p in providers.video),
    )
