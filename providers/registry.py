"""Which providers are configured, in the order the chain should try them.

A provider is enabled by its settings; one that is not configured is simply absent,
and the strategy that needs it reports "no provider configured". Providers that need
media by URL get it through `storage.publish`.
"""

from __future__ import annotations

import logging

import events
import papa_noel_config as persona
from providers import wav2lip_lipsync
from providers.base import LipSyncProvider, ProviderSet, TalkingVideoProvider, TTSProvider
from providers.espeak_tts import EspeakTTS
from providers.heygen_lipsync import HeyGenLipSync
from providers.heygen_video import HeyGenVideo, fit_resolution
from providers.higgsfield_video import HiggsfieldVideo
from providers.http import HttpTimeouts
from providers.musetalk_lipsync import MuseTalkLipSync
from providers.polling import PollPolicy
from providers.synclabs_lipsync import SyncLabsLipSync
from settings import Settings
from storage.base import Storage

log = logging.getLogger(__name__)


def configured_providers(settings: Settings, storage: Storage) -> ProviderSet:
    return ProviderSet(
        tts=configured_tts(settings),
        lipsync=configured_lipsync(settings, storage),
        video=configured_video(settings, storage),
    )


def _timeouts(settings: Settings) -> HttpTimeouts:
    return HttpTimeouts(connect=settings.provider_connect_timeout_seconds, read=settings.provider_read_timeout_seconds)


def _poll(settings: Settings, deadline: float) -> PollPolicy:
    # Renders take minutes: poll gently, all under one deadline per call.
    return PollPolicy(
        first_delay=settings.provider_poll_first_delay_seconds,
        max_delay=settings.provider_poll_max_delay_seconds,
        deadline=deadline,
    )


def configured_tts(settings: Settings) -> tuple[TTSProvider, ...]:
    providers: list[TTSProvider] = []
    api_key = settings.elevenlabs_api_key.get_secret_value() if settings.elevenlabs_api_key else ''
    if api_key and settings.papa_noel_voice_id:
        # Imported here: the SDK takes most of a second to load, and most commands never need it.
        from providers.elevenlabs_tts import ElevenLabsTTS

        providers.append(
            ElevenLabsTTS(
                api_key,
                settings.papa_noel_voice_id,
                base_url=settings.elevenlabs_base_url,
                timeouts=_timeouts(settings),
            )
        )
    # espeak-ng is always last, so speech can always be made.
    providers.append(EspeakTTS(timeout=settings.tts_timeout_seconds))
    return tuple(providers)


def configured_lipsync(settings: Settings, storage: Storage) -> tuple[LipSyncProvider, ...]:
    timeouts = _timeouts(settings)
    deadline = settings.lipsync_deadline_seconds
    providers: list[LipSyncProvider] = []
    api_key = settings.synclabs_api_key.get_secret_value() if settings.synclabs_api_key else ''
    if api_key:
        providers.append(
            SyncLabsLipSync(
                api_key,
                storage,
                base_url=settings.synclabs_base_url,
                model=settings.synclabs_model,
                timeouts=timeouts,
                poll=_poll(settings, deadline),
            )
        )
    heygen_key = settings.heygen_api_key.get_secret_value() if settings.heygen_api_key else ''
    if heygen_key and settings.heygen_lipsync:
        providers.append(
            HeyGenLipSync(
                heygen_key,
                storage,
                mode=settings.heygen_lipsync_mode,
                base_url=settings.heygen_base_url,
                timeouts=timeouts,
                poll=_poll(settings, deadline),
            )
        )
    if settings.musetalk_url:
        providers.append(
            MuseTalkLipSync(
                settings.musetalk_url,
                storage,
                timeouts=timeouts,
                deadline=deadline,
            )
        )
    if settings.wav2lip_url and settings.wav2lip_allow_noncommercial:
        providers.append(
            wav2lip_lipsync.Wav2LipLipSync(settings.wav2lip_url, storage, timeouts=timeouts, deadline=deadline)
        )
    elif settings.wav2lip_url:
        # Configured but not allowed: say why it is absent rather than ignore it silently.
        log.warning(
            events.PROVIDER_NONCOMMERCIAL_REFUSED,
            extra={'provider': wav2lip_lipsync.Wav2LipLipSync.name, 'licence': wav2lip_lipsync.LICENCE,
                   'remedy': 'set WAV2LIP_ALLOW_NONCOMMERCIAL=true only for non-commercial use'},
        )  # fmt: skip
    return tuple(providers)


def configured_video(settings: Settings, storage: Storage) -> tuple[TalkingVideoProvider, ...]:
    """HeyGen, then Higgsfield: each only when its credentials (and HeyGen's character) are set."""
    timeouts = _timeouts(settings)
    poll = _poll(settings, settings.video_deadline_seconds)
    providers: list[TalkingVideoProvider] = []
    heygen_key = settings.heygen_api_key.get_secret_value() if settings.heygen_api_key else ''
    avatar_id = settings.heygen_avatar_id or settings.heygen_talking_photo_id
    if heygen_key and avatar_id:
        resolution, aspect_ratio = fit_resolution(settings.output_size, settings.heygen_max_resolution)
        providers.append(
            HeyGenVideo(
                heygen_key,
                avatar_id=avatar_id,
                resolution=resolution,
                aspect_ratio=aspect_ratio,
                base_url=settings.heygen_base_url,
                timeouts=timeouts,
                poll=poll,
            )
        )
    key_id = settings.higgsfield_api_key_id.get_secret_value() if settings.higgsfield_api_key_id else ''
    key_secret = settings.higgsfield_api_key_secret.get_secret_value() if settings.higgsfield_api_key_secret else ''
    if key_id and key_secret:
        providers.append(
            HiggsfieldVideo(
                key_id,
                key_secret,
                storage=storage,
                santa_video=settings.assets_dir / persona.SANTA_BASE.file_name,
                santa_image=settings.higgsfield_santa_image,
                base_url=settings.higgsfield_base_url,
                quality=settings.higgsfield_quality,
                prompt=settings.higgsfield_prompt,
                max_chunks=settings.higgsfield_max_chunks,
                timeouts=timeouts,
                poll=poll,
            )
        )
    return tuple(providers)
