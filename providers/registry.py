"""Which providers are configured, in the order the chain should try them.

A provider is enabled by its settings; one that is not configured is simply absent,
and the strategy that needs it reports "no provider configured".
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.base import LipSyncProvider, TalkingVideoProvider, TTSProvider
from providers.espeak_tts import EspeakTTS
from settings import Settings


@dataclass(frozen=True)
class ProviderSet:
    tts: tuple[TTSProvider, ...] = ()
    lipsync: tuple[LipSyncProvider, ...] = ()
    video: tuple[TalkingVideoProvider, ...] = ()

    def close(self) -> None:
        for provider in (*self.tts, *self.lipsync, *self.video):
            provider.close()


def configured_providers(settings: Settings) -> ProviderSet:
    # Remote vendors (ElevenLabs, Sync Labs, MuseTalk, HeyGen, Higgsfield) join here as
    # their clients land; espeak-ng is always last so speech can always be made.
    return ProviderSet(tts=(EspeakTTS(timeout=settings.tts_timeout_seconds),))
