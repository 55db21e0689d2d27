"""Providers: text-to-speech, lip-sync and talking-video vendors behind three small bases."""

from providers.base import LipSyncProvider, Provider, Speech, TalkingVideoProvider, TTSProvider
from providers.registry import ProviderSet, configured_providers

__all__ = [
    'LipSyncProvider',
    'Provider',
    'ProviderSet',
    'Speech',
    'TTSProvider',
    'TalkingVideoProvider',
    'configured_providers',
]
