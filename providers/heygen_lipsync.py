"""HeyGen API v3 lip-sync (`POST /v3/lipsyncs`): our base Santa footage re-animated to our speech.

A strategy-1 provider on the same HeyGen account as the talking-video one (providers/heygen_api.py
for the shared contract). The footage, fitted to the speech, and the speech are published by
URL once per job (providers/lipsync_inputs.py); `POST /v3/lipsyncs {video:{type:url,url},
audio:{type:url,url}, mode, fps_mode, title}` answers data.lipsync_id; `GET /v3/lipsyncs/{id}`
reports pending|processing|completed|failed with video_url or failure_code/failure_message.
Contract read 2026-12-01 in heygen-com/heygen-cli gen/lipsync.go @7699a8ee.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

import events
from providers.base import LipSyncProvider, Speech
from providers.errors import ProviderError, TransientProviderError
from providers.heygen_api import DEFAULT_BASE_URL, PENDING, HeyGenApi, Outcome, failure
from providers.http import HttpTimeouts, download_media
from providers.job_state import JobState, body_digest
from providers.lipsync_inputs import inputs_digest, publish_inputs
from providers.polling import PollPolicy, poll_until
from providers.remote_video import dig
from storage.base import Storage

log = logging.getLogger(__name__)

DEFAULT_POLL = PollPolicy(first_delay=5.0, max_delay=20.0, deadline=900.0)
DEFAULT_TIMEOUTS = HttpTimeouts()
MODES = ('speed', 'precision')
_SAFE_ID = re.compile(r'[^A-Za-z0-9_-]')


class HeyGenLipSync(LipSyncProvider):
    name = 'heygen-lipsync'

    def __init__(
        self,
        api_key: str,
        storage: Storage,
        *,
        mode: str = 'speed',
        base_url: str = DEFAULT_BASE_URL,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        poll: PollPolicy = DEFAULT_POLL,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f'HeyGen lip-sync mode must be one of {MODES}, not {mode!r}')
        self.storage = storage
        self.mode = mode
        self.timeouts = timeouts
        self.poll = poll
        self._session = requests.Session()
        self._downloads = requests.Session()  # output URLs are presigned: fetched without our key
        self.api = HeyGenApi(self.name, api_key, base_url, timeouts, self._session)

    def close(self) -> None:
        self._session.close()
        self._downloads.close()

    def check_reachable(self) -> str:
        return self.api.me()

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        deadline_at = time.monotonic() + self.poll.deadline
        state = JobState(workdir, self.name)
        inputs = inputs_digest(video, speech, self.name, self.mode)[:64]
        published = publish_inputs(
            self.name, self.storage, video, speech, workdir,
            key=inputs, expires_seconds=int(self.poll.deadline) + 3600, state=state,
        )  # fmt: skip
        body: dict[str, Any] = {
            'video': {'type': 'url', 'url': published.video_url},
            'audio': {'type': 'url', 'url': published.audio_url},
            'mode': self.mode,
            # The footage was made constant 25 fps for the model; keep it so for composition.
            'fps_mode': 'cfr',
        }
        request = body_digest(body)
        body['title'] = key = f'papa-noel-ls-{request[:32]}-g{state.fresh_start(request)}'
        lipsync_id = self._lipsync_for(state, key, body)
        left = max(0.01, deadline_at - time.monotonic())
        policy = PollPolicy(self.poll.first_delay, self.poll.max_delay, self.poll.factor, left)
        outcome = poll_until(self.name, self._check(lipsync_id), policy)
        if outcome.error is not None:
            state.mark_terminal(key, 'failed', failed=True)
            state.start_fresh(request)
            raise outcome.error
        state.mark_terminal(key, 'completed', failed=False)
        dest = workdir / f'lipsync-{self.name}-{_SAFE_ID.sub("_", lipsync_id)[:64]}.mp4'
        clip = download_media(self.name, self._downloads, outcome.url, dest, self.timeouts, want_video=True)
        log.info(events.PROVIDER_JOB_COMPLETED, extra={'provider': self.name, 'job_id': lipsync_id})
        return clip

    def _lipsync_for(self, state: JobState, key: str, body: dict[str, Any]) -> str:
        known = state.generation(key)
        if known is not None:
            found = known.get('id') or self.api.find_by_title('/v3/lipsyncs', key, 'id')
            if found:
                log.info(events.PROVIDER_JOB_RESUMED, extra={'provider': self.name, 'job_id': found})
                state.remember_generation(key, str(found))
                return str(found)
        state.submitting(key)
        answer = self.api.call('POST', '/v3/lipsyncs', json=body)
        lipsync_id = dig(answer, 'data', 'lipsync_id') or dig(answer, 'data', 'id')
        if not isinstance(lipsync_id, str) or not lipsync_id:
            raise TransientProviderError(self.name, f'create answered without data.lipsync_id: {str(answer)[:120]}')
        state.remember_generation(key, lipsync_id)
        log.info(events.PROVIDER_JOB_SUBMITTED, extra={'provider': self.name, 'job_id': lipsync_id})
        return lipsync_id

    def _check(self, lipsync_id: str) -> Callable[[], Outcome | None]:
        def check() -> Outcome | None:
            status = self._status(lipsync_id)
            if status is None:
                return None
            return Outcome(error=status) if isinstance(status, ProviderError) else Outcome(url=status)

        return check

    def _status(self, lipsync_id: str) -> str | ProviderError | None:
        data = dig(self.api.call('GET', f'/v3/lipsyncs/{lipsync_id}'), 'data')
        status = dig(data, 'status')
        if status in PENDING:
            return None
        if status == 'completed':
            url = dig(data, 'video_url')
            if not isinstance(url, str) or not url:
                raise TransientProviderError(self.name, f'lipsync {lipsync_id} completed without a video_url')
            return url
        if status == 'failed':
            return failure(self.name, f'lipsync {lipsync_id}', data)
        raise TransientProviderError(self.name, f'lipsync {lipsync_id}: unexpected status {status!r}')
