"""Sync Labs (sync.so) API v2 lip-sync, raw over `requests`.

Not through `syncsdk`: its retry counter starts at 2, so it silently does not retry unless
max_retries >= 3, and our chain owns the retry policy anyway. One call: publish the inputs,
`POST /v2/generate`, poll `GET /v2/generate/{id}` until a terminal status, download the output.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import requests

import events
from providers.base import LipSyncProvider, Speech
from providers.errors import (
    ContentRejected,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from providers.http import HttpTimeouts, download_media, error_for_status, json_body, mapped_errors
from providers.lipsync_inputs import inputs_digest, publish_inputs
from providers.polling import PollPolicy, poll_until
from storage.base import Storage

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'https://api.sync.so'
DEFAULT_MODEL = 'lipsync-2'
# The footage is fitted to the speech beforehand, so cutting at the shorter input loses nothing.
OPTIONS = {'sync_mode': 'cut_off'}
TERMINAL = frozenset({'COMPLETED', 'FAILED', 'REJECTED'})
# error_code values are not documented; these words suggest a fault on their side that may pass.
_TRANSIENT_HINTS = ('internal', 'timeout', 'timed_out', 'unavailable', 'capacity', 'overload', 'retry')
_SAFE_ID = re.compile(r'[^A-Za-z0-9_-]')
_NO_SUCH_ID = '00000000-0000-0000-0000-000000000000'
DEFAULT_POLL = PollPolicy(first_delay=5.0, max_delay=20.0, deadline=900.0)
DEFAULT_TIMEOUTS = HttpTimeouts()
# Log event (the vocabulary of events.py): the vendor's id, to find a generation in their dashboard.


class SyncLabsLipSync(LipSyncProvider):
    name = 'synclabs'

    def __init__(
        self,
        api_key: str,
        storage: Storage,
        *,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        poll: PollPolicy = DEFAULT_POLL,
    ) -> None:
        self.storage = storage
        self.base_url = base_url.rstrip('/')
        self.model = model
        self.timeouts = timeouts
        self.poll = poll
        self._api = requests.Session()
        self._api.headers['x-api-key'] = api_key
        # Output URLs point at a CDN: fetched without our API key.
        self._downloads = requests.Session()

    def close(self) -> None:
        self._api.close()
        self._downloads.close()

    def check_reachable(self) -> str | None:
        """Ask for a generation that does not exist: 404 proves the host answers and the key is accepted."""
        try:
            with mapped_errors(self.name):
                response = self._api.get(f'{self.base_url}/v2/generate/{_NO_SUCH_ID}', timeout=self.timeouts.pair())
        except ProviderError as exc:
            return exc.message
        if response.status_code in (200, 404):
            return None
        error = error_for_status(self.name, response)
        return error.message if error else f'unexpected HTTP {response.status_code}'

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        key = self.idempotency_key(video, speech)
        # Published media must outlive the whole job, retries of the poll included.
        expires = int(self.poll.deadline) + 3600
        inputs = publish_inputs(self.name, self.storage, video, speech, workdir, key=key, expires_seconds=expires)
        generation_id = self._create(inputs.video_url, inputs.audio_url, key)
        log.info(
            events.PROVIDER_JOB_SUBMITTED,
            extra={'provider': self.name, 'job_id': generation_id, 'idempotency_key': key},
        )
        done = poll_until(self.name, lambda: self._terminal(generation_id), self.poll)
        return self._result(generation_id, done, workdir)

    def idempotency_key(self, video: Path, speech: Speech) -> str:
        """Same footage, speech, model and options: same key, so a retried job is not charged twice.

        A sha256 hex prefix fits the documented 1-128 characters of [A-Za-z0-9._~-].
        """
        return inputs_digest(video, speech, self.name, self.model, repr(sorted(OPTIONS.items())))[:64]

    def _create(self, video_url: str, audio_url: str, key: str) -> str:
        body = {
            'model': self.model,
            'input': [{'type': 'video', 'url': video_url}, {'type': 'audio', 'url': audio_url}],
            'options': OPTIONS,
        }
        with mapped_errors(self.name):
            response = self._api.post(
                f'{self.base_url}/v2/generate',
                json=body,
                headers={'Idempotency-Key': key},
                timeout=self.timeouts.pair(),
            )
            generation = json_body(self.name, response)
        generation_id = generation.get('id') if isinstance(generation, dict) else None
        if not isinstance(generation_id, str) or not generation_id:
            raise TransientProviderError(self.name, f'generation without an id: {str(generation)[:200]}')
        return generation_id

    def _terminal(self, generation_id: str) -> dict[str, Any] | None:
        """One poll: the generation once it is terminal, None while it is pending or processing."""
        with mapped_errors(self.name):
            response = self._api.get(f'{self.base_url}/v2/generate/{generation_id}', timeout=self.timeouts.pair())
            generation = json_body(self.name, response)
        if not isinstance(generation, dict):
            raise TransientProviderError(self.name, f'unexpected generation: {str(generation)[:200]}')
        return generation if generation.get('status') in TERMINAL else None

    def _result(self, generation_id: str, generation: dict[str, Any], workdir: Path) -> Path:
        status = generation['status']
        if status == 'COMPLETED':
            url = generation.get('outputUrl')
            if not isinstance(url, str) or not url:
                raise TransientProviderError(self.name, f'generation {generation_id} completed without an outputUrl')
            dest = workdir / f'lipsync-{self.name}-{_SAFE_ID.sub("_", generation_id)[:64]}.mp4'
            return download_media(self.name, self._downloads, url, dest, self.timeouts, want_video=True)
        raise self._failure(generation_id, generation)

    def _failure(self, generation_id: str, generation: dict[str, Any]) -> ProviderError:
        code = str(generation.get('error_code') or '')
        message = f'generation {generation_id} {generation["status"]}: {generation.get("error") or "no reason given"}'
        if code:
            message += f' ({code})'
        if generation['status'] == 'REJECTED':
            return ContentRejected(self.name, message)
        if any(hint in code.lower() for hint in _TRANSIENT_HINTS):
            return TransientProviderError(self.name, message)
        return PermanentProviderError(self.name, message)
