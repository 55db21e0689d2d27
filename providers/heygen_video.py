"""HeyGen (v2/v1 API, raw HTTP: there is no official Python SDK): Papá Noel's avatar speaking our audio.

Upload the speech as an asset, ask for a video whose voice is that asset, poll its status,
download the result. Only the audio goes to HeyGen; the script (a child's name and message)
is never sent, not even as the video title.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import requests

import events
from providers.base import Speech
from providers.errors import (
    ContentRejected,
    PermanentProviderError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.http import MAX_ERROR_BODY, HttpTimeouts, retry_after_seconds
from providers.media import file_digest, to_wav
from providers.polling import PollPolicy
from providers.remote_video import (
    DEFAULT_POLL,
    DEFAULT_TIMEOUTS,
    RemoteVideoProvider,
    dig,
    digest,
    looks_rejected,
)

log = logging.getLogger(__name__)

PENDING = frozenset({'pending', 'waiting', 'processing'})
# HeyGen's dimension bounds, per side.
MIN_SIDE, MAX_SIDE = 128, 4096


def fit_dimension(output: tuple[int, int], max_short_side: int) -> tuple[int, int]:
    """The output's aspect with its shorter side at most the plan's limit, in even pixels within bounds."""
    width, height = output
    scale = min(1.0, max_short_side / min(width, height))

    def side(value: int) -> int:
        return max(MIN_SIDE, min(MAX_SIDE, int(value * scale) // 2 * 2))

    return side(width), side(height)


class HeyGenVideo(RemoteVideoProvider):
    name = 'heygen'

    def __init__(
        self,
        api_key: str,
        *,
        avatar_id: str = '',
        talking_photo_id: str = '',
        dimension: tuple[int, int] = (720, 1280),
        base_url: str = 'https://api.heygen.com',
        upload_url: str = 'https://upload.heygen.com',
        test_mode: bool = False,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        poll: PollPolicy = DEFAULT_POLL,
        session: requests.Session | None = None,
    ) -> None:
        if not (avatar_id or talking_photo_id):
            raise ValueError('HeyGen needs an avatar id or a talking-photo id')
        super().__init__(timeouts=timeouts, poll=poll, session=session)
        self.auth = {'X-Api-Key': api_key}
        self.character: dict[str, Any] = (
            {'type': 'avatar', 'avatar_id': avatar_id, 'avatar_style': 'normal'}
            if avatar_id
            else {'type': 'talking_photo', 'talking_photo_id': talking_photo_id}
        )
        self.dimension = dimension
        self.base_url = base_url.rstrip('/')
        self.upload_url = upload_url.rstrip('/')
        self.test_mode = test_mode

    def vendor_error(self, response: requests.Response) -> ProviderError | None:
        if response.status_code < 400:
            return None
        text = response.text[:MAX_ERROR_BODY]
        detail = f'HTTP {response.status_code}: {text}'
        lowered = text.lower()
        if 'insufficient_credit' in lowered or 'insufficient credit' in lowered or 'quota' in lowered:
            return QuotaExhausted(self.name, detail)
        # The v1/v2 API answers a hit request limit with a 400, not a 429: it is worth waiting, not giving up.
        if response.status_code == 400 and ('request limit' in lowered or 'rate_limit' in lowered):
            return ProviderRateLimited(self.name, detail, retry_after_seconds(response.headers.get('Retry-After')))
        return super().vendor_error(response)

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        deadline_at = time.monotonic() + self.poll.deadline
        audio = self._audio(speech, workdir)
        key = digest(file_digest(audio), repr(self.character), repr(self.dimension), str(self.test_mode))
        video_id = self.job_for(key, lambda: self._submit(audio, key))
        try:
            url = self.wait_for(lambda: self._status(video_id), deadline_at)
            clip = self.download(url, workdir / f'heygen-{video_id}.mp4')
        except ProviderTimeout:
            self.forget(key)  # a job past its deadline is not worth resuming
            raise
        except TransientProviderError:
            raise  # keep the job: a retry downloads it again (status gives fresh links)
        except ProviderError:
            self.forget(key)
            raise
        self.forget(key)
        log.info(events.PROVIDER_JOB_COMPLETED, extra={'provider': self.name, 'job_id': video_id})
        return clip

    def _audio(self, speech: Speech, workdir: Path) -> Path:
        # HeyGen takes MP3 or WAV (our TTS providers name their files by format); anything else
        # (say, Ogg from a future TTS) becomes WAV first.
        if speech.path.suffix.lower() in ('.mp3', '.wav'):
            return speech.path
        return to_wav(self.name, speech.path, workdir / f'heygen-{speech.path.stem}.wav')[0]

    def _submit(self, audio: Path, key: str) -> str:
        content_type = 'audio/mpeg' if audio.suffix.lower() == '.mp3' else 'audio/wav'
        asset = self.call_json(
            'POST',
            f'{self.upload_url}/v1/asset',
            data=audio.read_bytes(),
            headers={**self.auth, 'Content-Type': content_type},
        )
        asset_id = dig(asset, 'data', 'id')
        if not isinstance(asset_id, str) or not asset_id:
            raise TransientProviderError(self.name, f'asset upload answered without data.id: {str(asset)[:120]}')
        body = {
            'video_inputs': [{'character': self.character, 'voice': {'type': 'audio', 'audio_asset_id': asset_id}}],
            'dimension': {'width': self.dimension[0], 'height': self.dimension[1]},
            'test': self.test_mode,
            'title': f'papa-noel-{key[:12]}',
        }
        answer = self.call_json('POST', f'{self.base_url}/v2/video/generate', json=body, headers=self.auth)
        video_id = dig(answer, 'data', 'video_id')
        if isinstance(video_id, str) and video_id:
            return video_id
        error = dig(answer, 'error')
        if error:
            raise self._failure(error)
        raise TransientProviderError(self.name, f'generate answered without data.video_id: {str(answer)[:120]}')

    def _status(self, video_id: str) -> str | None:
        """The video's URL once completed; None while HeyGen is still at it."""
        answer = self.call_json(
            'GET', f'{self.base_url}/v1/video_status.get', params={'video_id': video_id}, headers=self.auth
        )
        status = dig(answer, 'data', 'status')
        if status in PENDING:
            return None
        if status == 'completed':
            url = dig(answer, 'data', 'video_url')
            if not isinstance(url, str) or not url:
                raise TransientProviderError(self.name, f'video {video_id} completed without a video_url')
            return url
        if status == 'failed':
            raise self._failure(dig(answer, 'data', 'error') or 'failed without a reason')
        # An unknown status ends no job: keep polling until the deadline, which reports it.
        raise TransientProviderError(self.name, f'video {video_id}: unexpected status {status!r}')

    def _failure(self, error: Any) -> ProviderError:
        text = str(error)[:MAX_ERROR_BODY]
        if looks_rejected(text):
            return ContentRejected(self.name, text)
        if 'credit' in text.lower() or 'quota' in text.lower():
            return QuotaExhausted(self.name, text)
        return PermanentProviderError(self.name, text)
