"""The three strategies. Each turns the script into a Santa segment or says why it can't.

A strategy raises `StrategyUnavailable` when what it needs is not configured, and a
`providers.errors.ProviderError` when every provider it tried failed. Speech is made
once per job and shared by the strategies that need it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

import events
from audiocache import AudioCache, cache_key
from breakers import BreakerBoard
from providers.base import Provider, ProviderSet, Speech, TTSProvider
from providers.errors import PermanentProviderError, ProviderError
from retries.provider_calls import ProviderRetryPolicy, call_with_retries
from utils.probe import MediaError, probe

log = logging.getLogger(__name__)

P = TypeVar('P', bound=Provider)
T = TypeVar('T')


class StrategyUnavailable(Exception):
    """The strategy cannot run here (e.g. no provider configured); the chain skips it."""


@dataclass(frozen=True)
class Attempt:
    """One line of the chain's history, kept in the job record."""

    strategy: str
    outcome: Literal['skipped', 'failed', 'succeeded']
    reason: str = ''
    provider: str = ''
    error_type: str = ''


@dataclass(frozen=True)
class SantaSegment:
    """Papá Noel speaking: a video (looped or padded to fit) and the speech that sets its length."""

    video: Path
    speech: Speech
    loop_video: bool
    providers: dict[str, str]


class ChainHooks:
    """What the pipeline wants to hear about while the chain runs. Every hook defaults to nothing."""

    def stage(self, stage: str) -> None:
        """A new stage starts: 'audio', 'lipsync' or 'video'."""

    def speech_made(self, speech: Speech, *, cached: bool) -> None:
        """Speech is ready (from a provider, or from the audio cache)."""

    def provider_called(self, kind: str, provider: str, error: ProviderError | None, seconds: float) -> None:
        """One provider call ended, after its retries; `error` is None on success."""


@dataclass
class ChainContext:
    script: str
    language: str
    base_video: Path
    workdir: Path
    providers: ProviderSet
    hooks: ChainHooks = field(default_factory=ChainHooks)
    retry_policy: ProviderRetryPolicy = field(default_factory=lambda: ProviderRetryPolicy(attempts=1))
    audio_cache: AudioCache | None = None
    #: Shared circuit breakers; None means every provider is always tried.
    breakers: BreakerBoard | None = None
    attempts: list[Attempt] = field(default_factory=list)
    #: Speech from an earlier attempt's checkpoint: reused, never made (or paid for) again.
    resumed_speech: Speech | None = None
    _speech_error: ProviderError | None = None

    def speech(self, strategy: str) -> Speech:
        """The script spoken by the first TTS provider that succeeds, made at most once."""
        if self.resumed_speech is not None:
            return self.resumed_speech
        if self._speech_error is not None:
            err = self._speech_error
            self.attempts.append(
                Attempt(strategy, 'failed', f'no speech: {err.message}', err.provider, type(err).__name__)
            )
            raise err
        self.hooks.stage('audio')
        try:
            _, speech = self.first_success(
                strategy, 'tts', self.providers.tts, self._synthesize, cached=self._cached_speech
            )
        except ProviderError as exc:
            self._speech_error = exc
            raise
        self.resumed_speech = speech
        return speech

    def _cached_speech(self, provider: TTSProvider) -> Speech | None:
        if self.audio_cache is None:
            return None
        speech = self.audio_cache.get(cache_key(provider.cache_identity(), self.script, self.language), self.workdir)
        if speech is not None:
            self.hooks.speech_made(speech, cached=True)
        return speech

    def _synthesize(self, provider: TTSProvider) -> Speech:
        speech = provider.synthesize(self.script, self.language, self.workdir)
        if self.audio_cache is not None:
            self.audio_cache.put(cache_key(provider.cache_identity(), self.script, self.language), speech)
        self.hooks.speech_made(speech, cached=False)
        return speech

    def first_success(
        self,
        strategy: str,
        kind: str,
        candidates: Sequence[P],
        call: Callable[[P], T],
        cached: Callable[[P], T | None] | None = None,
    ) -> tuple[P, T]:
        """Try each provider in order (its cached result first, when given); record and log
        each failure; raise the last one."""
        last: ProviderError | None = None
        open_circuits: list[str] = []
        for index, provider in enumerate(candidates):
            if cached is not None and (hit := cached(provider)) is not None:
                return provider, hit
            # Breakers never stop the line: every strategy needs speech, so the last TTS (and any
            # provider marked last-resort) is always called; its breaker only reports its health.
            last_resort = getattr(provider, 'last_resort', False) or (kind == 'tts' and index == len(candidates) - 1)
            if self.breakers is not None and not last_resort and not self.breakers.allow(provider.name):
                open_circuits.append(provider.name)
                self.attempts.append(Attempt(strategy, 'skipped', 'circuit open', provider.name))
                log.info(events.PROVIDER_SKIPPED, extra={'strategy': strategy, 'provider': provider.name})
                continue
            started = time.monotonic()
            try:
                result = call_with_retries(provider.name, functools.partial(call, provider), self.retry_policy)
            except ProviderError as exc:
                last = exc
                if self.breakers is not None:
                    self.breakers.failure(provider.name, exc)
                self.hooks.provider_called(kind, provider.name, exc, time.monotonic() - started)
                self.attempts.append(Attempt(strategy, 'failed', exc.message, provider.name, type(exc).__name__))
                log.warning(
                    events.PROVIDER_FAILED,
                    extra={'strategy': strategy, 'provider': provider.name, 'error_type': type(exc).__name__,
                           'error': exc.message},
                )  # fmt: skip
                continue
            if self.breakers is not None:
                self.breakers.success(provider.name)
            self.hooks.provider_called(kind, provider.name, None, time.monotonic() - started)
            return provider, result
        if last is not None:
            raise last
        if open_circuits:
            raise StrategyUnavailable(f'circuit open for {", ".join(open_circuits)}')
        raise StrategyUnavailable('no provider configured')


def _valid_clip(provider: str, path: Path) -> Path:
    """A provider's clip must decode and have video before composition trusts it."""
    try:
        info = probe(path)
    except MediaError as exc:
        raise PermanentProviderError(provider, str(exc)) from exc
    if not info.has_video or info.duration <= 0:
        raise PermanentProviderError(provider, f'{path.name}: clip has no video')
    return path


class Strategy:
    name: ClassVar[str] = 'strategy'

    def produce(self, ctx: ChainContext) -> SantaSegment:
        raise NotImplementedError("The 'produce' method must be implemented.")


class LipSyncStrategy(Strategy):
    """1) Speech, then a lip-sync provider animates the base Santa footage to it."""

    name = 'lipsync'

    def produce(self, ctx: ChainContext) -> SantaSegment:
        if not ctx.providers.lipsync:
            raise StrategyUnavailable('no lip-sync provider configured')
        speech = ctx.speech(self.name)
        ctx.hooks.stage('lipsync')
        provider, clip = ctx.first_success(
            self.name,
            'lipsync',
            ctx.providers.lipsync,
            lambda p: _valid_clip(p.name, p.sync(ctx.base_video, speech, ctx.workdir)),
        )
        return SantaSegment(
            clip, speech, loop_video=False, providers={'tts': speech.provider, 'lipsync': provider.name}
        )


class TalkingVideoStrategy(Strategy):
    """2) A talking-video provider makes the whole Santa clip from the speech."""

    name = 'talking_video'

    def produce(self, ctx: ChainContext) -> SantaSegment:
        if not ctx.providers.video:
            raise StrategyUnavailable('no talking-video provider configured')
        speech = ctx.speech(self.name)
        ctx.hooks.stage('video')
        provider, clip = ctx.first_success(
            self.name,
            'video',
            ctx.providers.video,
            lambda p: _valid_clip(p.name, p.generate(speech, ctx.script, ctx.language, ctx.workdir)),
        )
        return SantaSegment(clip, speech, loop_video=False, providers={'tts': speech.provider, 'video': provider.name})


class VoiceOverStrategy(Strategy):
    """3) Speech over the base Santa footage, looped to its length, without lip-sync."""

    name = 'voiceover'

    def produce(self, ctx: ChainContext) -> SantaSegment:
        speech = ctx.speech(self.name)
        return SantaSegment(ctx.base_video, speech, loop_video=True, providers={'tts': speech.provider})
