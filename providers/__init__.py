"""Providers: text-to-speech, lip-sync and talking-video vendors behind three small bases.

Vendor clients load only when `providers.registry` builds the configured ones, so
importing the bases stays cheap (health checks, the CLI).
"""

from providers.base import LipSyncProvider, Provider, Speech, TalkingVideoProvider, TTSProvider

__all__ = ['LipSyncProvider', 'Provider', 'Speech', 'TTSProvider', 'TalkingVideoProvider']
