"""HeyGen API v3 (providers/heygen_api.py): Papá Noel's avatar speaking our audio.

Upload the speech once per job (`POST /v3/assets`), ask for an avatar video voiced by that
asset (`POST /v3/videos`, type `avatar`), poll `GET /v3/videos/{id}` (pending, processing,
completed, failed with failure_code/failure_message), download the result. Only the audio goes
to HeyGen; the script (a child's name and message) is never sent, not even as the title: the
title is a digest of the request, which is how a retry finds the video it already paid for
when the create's answer was lost (v3 writes take no Idempotency-Key).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

import events
from providers.base import Speech
from providers.errors import ProviderError, TransientProviderError
from providers.heygen_api import DEFAULT_BASE_URL, PENDING, HeyGenApi, Outcome, envelope_error, failure
from providers.http import HttpTimeouts
from providers.job_state import JobState, body_digest
from providers.media import to_wav
from providers.polling import PollPolicy
from providers.remote_video import DEFAULT_POLL, DEFAULT_TIMEOUTS, RemoteVideoProvider, dig

log = logging.getLogger(__name__)

# v3 `resolution` values by their short side, and the `aspect_ratio` values it accepts.
RESOLUTIONS = ((2160, '4k'), (1080, '1080p'), (720, '720p'))
ASPECT_RATIOS = {(16, 9): '16:9', (9, 16): '9:16', (4, 5): '4:5', (5, 4): '5:4', (1, 1): '1:1'}


def fit_resolution(output: tuple[int, int], max_short_side: int) -> tuple[str, str]:
    """(resolution, aspect_ratio) for our output within the plan's limit: never above either."""
    short = min(min(output), max_short_side)
    resolution = next((name for side, name in RESOLUTIONS if side <= short), '720p')
    width, height = output
    ratio = width / height
    aspect = min(ASPECT_RATIOS, key=lambda wh: abs(wh[0] / wh[1] - ratio))
    return resolution, ASPECT_RATIOS[aspect]


class HeyGenVideo(RemoteVideoProvider):
    name = 'heygen'

    def __init__(
        self,
        api_key: str,
        *,
        avatar_id: str,
        resolution: str = '720p',
        aspect_ratio: str = '9:16',
        base_url: str = DEFAULT_BASE_URL,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        poll: PollPolicy = DEFAULT_POLL,
        session: requests.Session | None = None,
    ) -> None:
        if not avatar_id:
            raise ValueError('HeyGen needs an avatar id (a video avatar or a photo-avatar look)')
        super().__init__(timeouts=timeouts, poll=poll, session=session)
        self.avatar_id = avatar_id
        self.resolution = resolution
        self.aspect_ratio = aspect_ratio
        self.api = HeyGenApi(self.name, api_key, base_url, timeouts, self.session)

    @property
    def timeouts(self) -> HttpTimeouts:
        return self._timeouts

    @timeouts.setter
    def timeouts(self, value: HttpTimeouts) -> None:
        # One setting for every call, the API's included (tests and ops change it on a live provider).
        self._timeouts = value
        if 'api' in self.__dict__:
            self.api.timeouts = value

    def vendor_error(self, response: requests.Response) -> ProviderError | None:
        return envelope_error(self.name, response)

    def check_reachable(self) -> str:
        return self.api.me()

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        deadline_at = time.monotonic() + self.poll.deadline
        state = JobState(workdir, self.name)
        audio = self._audio(speech, workdir)
        body = {
            'type': 'avatar',
            'avatar_id': self.avatar_id,
            'audio_asset_id': self.api.asset(state, audio),
            'resolution': self.resolution,
            'aspect_ratio': self.aspect_ratio,
        }
        request = body_digest(body)
        body['title'] = key = f'papa-noel-{request[:32]}-g{state.fresh_start(request)}'
        video_id = self._video_for(state, key, body)
        # Past the deadline (ProviderTimeout) the video is still HeyGen's: the next attempt resumes it.
        outcome = self.wait_for(self._check(video_id), deadline_at)
        if outcome.error is not None:
            state.mark_terminal(key, 'failed', failed=True)
            state.start_fresh(request)  # a failed video stays failed: a new attempt is a new video
            raise outcome.error
        url = outcome.url
        state.mark_terminal(key, 'completed', failed=False)
        clip = self.download(url, workdir / f'heygen-{video_id}.mp4')  # status gives fresh links on a retry
        log.info(events.PROVIDER_JOB_COMPLETED, extra={'provider': self.name, 'job_id': video_id})
        return clip

    def _video_for(self, state: JobState, key: str, body: dict[str, Any]) -> str:
        known = state.generation(key)
        if known is not None:
            video_id = known.get('id') or self.api.find_by_title('/v3/videos', key, 'id')
            if video_id:
                log.info(events.PROVIDER_JOB_RESUMED, extra={'provider': self.name, 'job_id': video_id})
                state.remember_generation(key, video_id)
                return str(video_id)
        state.submitting(key)
        answer = self.api.call('POST', '/v3/videos', json=body)
        video_id = dig(answer, 'data', 'video_id')
        if not isinstance(video_id, str) or not video_id:
            raise TransientProviderError(self.name, f'create answered without data.video_id: {str(answer)[:120]}')
        state.remember_generation(key, video_id)
        log.info(events.PROVIDER_JOB_SUBMITTED, extra={'provider': self.name, 'job_id': video_id})
        return video_id

    def _audio(self, speech: Speech, workdir: Path) -> Path:
        # v3 assets take MP3 and WAV (our TTS providers name their files by format); anything else
        # (say, Ogg from a future TTS) becomes WAV first.
        if speech.path.suffix.lower() in ('.mp3', '.wav'):
            return speech.path
        return to_wav(self.name, speech.path, workdir / f'heygen-{speech.path.stem}.wav')[0]

    def _check(self, video_id: str) -> Callable[[], Outcome | None]:
        def check() -> Outcome | None:
            status = self._status(video_id)
            if status is None:
                return None
            return Outcome(error=status) if isinstance(status, ProviderError) else Outcome(url=status)

        return check

    def _status(self, video_id: str) -> str | ProviderError | None:
        """The video's URL once completed, the error it failed with, or None while HeyGen is at it."""
        data = dig(self.api.call('GET', f'/v3/videos/{video_id}'), 'data')
        status = dig(data, 'status')
        if status in PENDING:
            return None
        if status == 'completed':
            url = dig(data, 'video_url')
            if not isinstance(url, str) or not url:
                raise TransientProviderError(self.name, f'video {video_id} completed without a video_url')
            return url
        if status == 'failed':
            return failure(self.name, f'video {video_id}', data)
        # An unknown status ends no job: keep polling until the deadline, which reports it.
        raise TransientProviderError(self.name, f'video {video_id}: unexpected status {status!r}')
