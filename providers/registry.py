"""Which providers are configured, in the order the chain should try them.

A provider is enabled by its settings; one that is not configured is simply absent,
and the strategy that needs it reports "no provider configured". Providers that need
media by URL get it through `storage.publish`.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.base import LipSyncProvider, TalkingVideoProvider, TTSProvider
from providers.espeak_tts import EspeakTTS
from settings import Settings
from storage.base import Storage


@dataclass(frozen=True)
class ProviderSet:
    tts: tuple[TTSProvider, ...] = ()
    lipsync: tuple[LipSyncProvider, ...] = ()
    video: tuple[TalkingVideoProvider, ...] = ()

    def close(self) -> None:
        for provider in (*self.tts, *self.lipsync, *self.video):
            provider.close()


def configured_providers(settings: Settings, storage: Storage) -> ProviderSet:
    return ProviderSet(
        tts=configured_tts(settings),
        lipsync=configured_lipsync(settings, storage),
        video=configured_video(settings, storage),
    )


def configured_tts(settings: Settings) -> tuple[TTSProvider, ...]:
    # espeak-ng is always last, so speech can always be made.
    return (EspeakTTS(timeout=settings.tts_timeout_seconds),)


def configured_lipsync(settings: Settings, storage: Storage) -> tuple[LipSyncProvider, ...]:
    return ()


def configured_video(settings: Settings, storage: Storage) -> tuple[TalkingVideoProvider, ...]:
    return ()
