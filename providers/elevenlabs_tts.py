"""ElevenLabs text-to-speech through the official SDK, with per-character timings.

`convert_with_timestamps` answers JSON: the audio in base64 and, per character of the text,
when it starts and ends; those timings are kept in `Speech.alignment` for lip-sync. The SDK's
own retries are off (`max_retries: 0`): the chain applies one retry policy to every provider,
and hidden retries would multiply it and hold a job in `time.sleep`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
from elevenlabs import VoiceSettings
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.core.parse_error import ParsingError
from elevenlabs.core.request_options import RequestOptions

import events
import papa_noel_config as persona
from providers.base import CharacterTiming, Speech, TTSProvider
from providers.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.http import HttpTimeouts, retry_after_seconds
from providers.speakable import plain_words
from utils.probe import MediaError, MediaInfo, probe
from utils.proc import CommandError, run

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'https://api.elevenlabs.io'
DEFAULT_TIMEOUTS = HttpTimeouts()
CONVERT_TIMEOUT_SECONDS = 60
NO_SDK_RETRIES: RequestOptions = {'max_retries': 0}
# Log event (the vocabulary of events.py): the answer's timings did not line up and were dropped.

# How FFmpeg reads each `output_format` codec: (file suffix, input options). pcm/ulaw/alaw are headerless.
_CODECS: dict[str, tuple[str, tuple[str, ...]]] = {
    'mp3': ('.mp3', ()),
    'opus': ('.opus', ()),
    'wav': ('.wav', ()),
    'pcm': ('.pcm', ('-f', 's16le', '-ac', '1')),
    'ulaw': ('.ulaw', ('-f', 'mulaw', '-ac', '1')),
    'alaw': ('.alaw', ('-f', 'alaw', '-ac', '1')),
}


class ElevenLabsTTS(TTSProvider):
    name = 'elevenlabs'

    def __init__(
        self,
        api_key: str,
        voice_id: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        voice: persona.ElevenLabsVoice = persona.ELEVENLABS,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        codec, _, rate = voice.output_format.partition('_')
        if codec not in _CODECS:
            raise ValueError(f'unsupported ElevenLabs output_format {voice.output_format!r}')
        self.voice_id = voice_id
        self.voice = voice
        self._suffix, codec_options = _CODECS[codec]
        self._input_options = (*codec_options, '-ar', rate.partition('_')[0]) if codec_options else ()
        timeout = httpx.Timeout(timeouts.read, connect=timeouts.connect)
        self._http = httpx.Client(timeout=timeout, follow_redirects=True)
        # The SDK passes its `timeout` to every request, replacing the client's; its annotation says
        # float, but httpx takes a Timeout there too, and only a Timeout keeps connect and read apart.
        self._client = ElevenLabs(
            api_key=api_key, base_url=base_url, httpx_client=self._http, timeout=cast(float, timeout)
        )

    def close(self) -> None:
        self._http.close()

    def cache_identity(self) -> dict[str, Any]:
        # Another voice id or voice setting makes other audio: it must not come back from the cache.
        return {'provider': self.name, 'voice_id': self.voice_id, 'voice': dataclasses.asdict(self.voice)}

    def check_reachable(self) -> str:
        """Fetch Papá Noel's voice: proves the key, the voice id and the route in one cheap GET."""
        try:
            self._client.voices.get(self.voice_id, request_options=NO_SDK_RETRIES)
        except ApiError as exc:
            raise self._mapped(exc) from exc
        except ParsingError as exc:
            raise TransientProviderError(self.name, f'unexpected answer: {str(exc)[:200]}') from exc
        except httpx.HTTPError as exc:
            raise self._transport(exc) from exc
        return 'GET /v1/voices/{voice_id}: 200 (key and voice accepted)'

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        text = plain_words(text)  # read as words only: no phonemes, tags or SSML (issue #10)
        if language not in persona.LANGUAGES:
            raise PermanentProviderError(self.name, f'no voice for language {language!r}')
        response = self._request(text, language)
        audio_b64 = getattr(response, 'audio_base_64', None)
        if not isinstance(audio_b64, str) or not audio_b64:
            raise TransientProviderError(self.name, 'answer without audio_base64')
        try:
            audio = base64.b64decode(audio_b64, validate=True)
        except binascii.Error as exc:
            raise TransientProviderError(self.name, f'audio_base64 does not decode: {exc}') from exc
        stem = f'speech-{self.name}-{uuid.uuid4().hex[:8]}'
        raw = workdir / f'{stem}-raw{self._suffix}'
        raw.write_bytes(audio)
        info = self._to_wav(raw, workdir / f'{stem}.wav')
        return Speech(path=info.path, duration=info.duration, provider=self.name, alignment=self._alignment(response))

    def _request(self, text: str, language: str) -> Any:
        voice = self.voice
        # multilingual_v2 does not take language_code (SDK docstring) and detects the language from the text;
        # an explicit None would be sent as null, so the field is left out instead.
        language_code: dict[str, Any] = {}
        if not voice.model_id.startswith('eleven_multilingual'):
            language_code['language_code'] = language
        try:
            return self._client.text_to_speech.convert_with_timestamps(
                self.voice_id,
                text=text,
                model_id=voice.model_id,
                output_format=cast(Any, voice.output_format),
                voice_settings=VoiceSettings(
                    stability=voice.stability,
                    similarity_boost=voice.similarity_boost,
                    style=voice.style,
                    use_speaker_boost=voice.use_speaker_boost,
                    speed=voice.speed,
                ),
                **language_code,
                request_options=NO_SDK_RETRIES,
            )
        except ApiError as exc:
            raise self._mapped(exc) from exc
        except ParsingError as exc:
            raise TransientProviderError(self.name, f'unexpected answer: {str(exc)[:200]}') from exc
        except httpx.HTTPError as exc:
            raise self._transport(exc) from exc

    def _transport(self, exc: httpx.HTTPError) -> ProviderError:
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeout(self.name, f'timed out: {exc!r}')
        # A bad ELEVENLABS_BASE_URL (no or unknown scheme, malformed) or a certificate that does not
        # verify fails the same way every time: configuration, not weather.
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL) or 'CERTIFICATE_VERIFY_FAILED' in str(exc):
            return ProviderMisconfigured(self.name, f'{exc!r}')
        return TransientProviderError(self.name, f'request failed: {exc!r}')

    def _mapped(self, exc: ApiError) -> ProviderError:
        """An SDK error into our tree. Both documented bodies are read (errors page, 2026-12-01):
        the current `{"detail": {"type", "code", "message", "request_id", "param"}}` and the older
        `{"detail": {"status", "message"}}`; FastAPI's 422 has `detail` as a list."""
        http = exc.status_code or 0
        detail = exc.body.get('detail') if isinstance(exc.body, dict) else None
        fields = detail if isinstance(detail, dict) else {}
        code = str(fields.get('code') or fields.get('status') or '')
        kind = str(fields.get('type') or '')
        text = f'HTTP {http} {code}: {str(detail if detail is not None else exc.body)[:300]}'
        if 200 <= http < 300:
            return TransientProviderError(self.name, f'malformed answer: {str(exc.body)[:200]!r}')
        # quota_exceeded comes as a 401: checked before the status says "auth".
        if code in _QUOTA_CODES or http == 402:
            return QuotaExhausted(self.name, text)
        if http == 429 or code in _RATE_LIMIT_CODES:
            # Over the plan's concurrency (concurrent_limit_exceeded / too_many_concurrent_requests),
            # over the rate (rate_limit_exceeded) or system_busy alike: wait, retry.
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            return ProviderRateLimited(self.name, text, _retry_after(headers))
        if http in (401, 403) or code in _AUTH_CODES or kind in ('authentication_error', 'authorization_error'):
            return ProviderMisconfigured(self.name, text)
        if http in (408, 409) or http >= 500:
            return TransientProviderError(self.name, text)
        # 400 voice_not_found / max_character_limit_exceeded, 422 validation_error.
        return PermanentProviderError(self.name, text)

    def _to_wav(self, raw: Path, out: Path) -> MediaInfo:
        """Decode once to PCM WAV: an exact duration for the timeline, a format every lip-sync server takes."""
        try:
            run(
                ['ffmpeg', '-v', 'error', '-y', *self._input_options, '-i', str(raw), '-c:a', 'pcm_s16le', str(out)],
                timeout=CONVERT_TIMEOUT_SECONDS,
            )
            info = probe(out)
        except (CommandError, MediaError) as exc:
            # Undecodable bytes from the vendor: a bad answer, which the next attempt may not repeat.
            raise TransientProviderError(self.name, f'audio does not decode: {exc}') from exc
        finally:
            raw.unlink(missing_ok=True)
        if not info.has_audio or info.duration <= 0:
            raise TransientProviderError(self.name, 'answer holds no audio')
        return info

    def _alignment(self, response: Any) -> tuple[CharacterTiming, ...]:
        # Timings of the text as sent (not the normalized text), so they index the script itself.
        alignment = getattr(response, 'alignment', None)
        if alignment is None:
            return ()
        chars = alignment.characters
        starts = alignment.character_start_times_seconds
        ends = alignment.character_end_times_seconds
        if not len(chars) == len(starts) == len(ends):
            log.warning(events.PROVIDER_ALIGNMENT_DROPPED, extra={'provider': self.name, 'characters': len(chars)})
            return ()
        return tuple(CharacterTiming(c, float(s), float(e)) for c, s, e in zip(chars, starts, ends, strict=True))


_QUOTA_CODES = frozenset({'quota_exceeded', 'insufficient_credits'})
_RATE_LIMIT_CODES = frozenset(
    {'rate_limit_exceeded', 'concurrent_limit_exceeded', 'too_many_concurrent_requests', 'system_busy'}
)
_AUTH_CODES = frozenset({'invalid_api_key', 'missing_api_key', 'unauthorized'})


def _retry_after(headers: dict[str, str]) -> float | None:
    seconds = retry_after_seconds(headers.get('retry-after'))
    if seconds is None and headers.get('retry-after-ms'):
        try:
            seconds = max(0.0, float(headers['retry-after-ms']) / 1000)
        except ValueError:
            return None
    return seconds
