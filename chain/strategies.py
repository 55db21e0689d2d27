"""The three strategies. Each turns the script into a Santa segment or says why it can't.

A strategy raises `StrategyUnavailable` when what it needs is not configured, and a
`providers.errors.ProviderError` when every provider it tried failed. Speech is made
once per job and shared by the strategies that need it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

import events
from providers.base import Provider, Speech
from providers.errors import PermanentProviderError, ProviderError
from providers.registry import ProviderSet
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


@dataclass
class ChainContext:
    script: str
    language: str
    base_video: Path
    workdir: Path
    providers: ProviderSet
    on_stage: Callable[[str], None] = lambda stage: None
    attempts: list[Attempt] = field(default_factory=list)
    _speech: Speech | None = None
    _speech_error: ProviderError | None = None

    def speech(self, strategy: str) -> Speech:
        """The script spoken by the first TTS provider that succeeds, made at most once."""
        if self._speech is not None:
            return self._speech
        if self._speech_error is not None:
            err = self._speech_error
            self.attempts.append(
                Attempt(strategy, 'failed', f'no speech: {err.message}', err.provider, type(err).__name__)
            )
            raise err
        self.on_stage('audio')
        try:
            _, speech = self.first_success(
                strategy, self.providers.tts, lambda p: p.synthesize(self.script, self.language, self.workdir)
            )
        except ProviderError as exc:
            self._speech_error = exc
            raise
        self._speech = speech
        return speech

    def first_success(self, strategy: str, candidates: Sequence[P], call: Callable[[P], T]) -> tuple[P, T]:
        """Try each provider in order; record and log each failure; raise the last one."""
        last: ProviderError | None = None
        for provider in candidates:
            try:
                return provider, call(provider)
            except ProviderError as exc:
                last = exc
                self.attempts.append(Attempt(strategy, 'failed', exc.message, provider.name, type(exc).__name__))
                log.warning(
                    events.PROVIDER_FAILED,
                    extra={'strategy': strategy, 'provider': provider.name, 'error_type': type(exc).__name__,
                           'error': exc.message},
                )  # fmt: skip
        if last is None:
            raise StrategyUnavailable('no provider configured')
        raise last


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
        ctx.on_stage('lipsync')
        provider, clip = ctx.first_success(
            self.name,
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
        ctx.on_stage('video')
        provider, clip = ctx.first_success(
            self.name,
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
