"""Sync Labs (sync.so) API v2 lip-sync, raw over `requests`.

Not through `syncsdk`: its retry counter starts at 2, so it silently does not retry unless
max_retries >= 3, and our chain owns the retry policy anyway. One call: publish the inputs,
`POST /v2/generate`, poll `GET /v2/generate/{id}` until a terminal status, download the output.

Idempotency (sync.so/docs/api-reference/guides/idempotency, read 2026-12-01): a key may be
reused only with the same payload. So the key is derived from the exact JSON body, and the
body is kept stable across the job's retries: inputs are published once per job and their
URLs kept in the job's provider checkpoint (providers/job_state.py) until they near expiry.
A retry after a lost answer sends the same body and key and gets the generation it paid for.
A generation that ended FAILED, CANCELED or TIMED_OUT is replayed under its key, so the next
attempt moves to a fresh key (a new paid call, counted in the checkpoint).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import requests

import events
from providers.base import LipSyncProvider, Speech
from providers.errors import (
    ContentRejected,
    IdempotencyConflict,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from providers.http import MAX_ERROR_BODY, HttpTimeouts, download_media, error_for_status, mapped_errors
from providers.job_state import JobState, idempotency_key
from providers.lipsync_inputs import inputs_digest, publish_inputs
from providers.polling import PollPolicy, poll_until
from storage.base import Storage

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'https://api.sync.so'
DEFAULT_MODEL = 'lipsync-2'
# The footage is fitted to the speech beforehand, so cutting at the shorter input loses nothing.
OPTIONS = {'sync_mode': 'cut_off'}
# docs.sync.so get-generate (read 2026-12-01): CANCELED is terminal; one copy also lists TIMED_OUT.
TERMINAL = frozenset({'COMPLETED', 'FAILED', 'REJECTED', 'CANCELED', 'TIMED_OUT'})
# Ended without a result for reasons that say nothing about our inputs: worth one more (paid) try.
_RETRYABLE_ENDINGS = frozenset({'CANCELED', 'TIMED_OUT'})
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

    def check_reachable(self) -> str:
        """Ask for a generation that does not exist: 404 proves the host answers and the key is accepted.

        Sync documents no account endpoint; `GET /v2/generate/{id}` is authenticated and free.
        """
        with mapped_errors(self.name):
            response = self._api.get(f'{self.base_url}/v2/generate/{_NO_SUCH_ID}', timeout=self.timeouts.pair())
        if response.status_code in (200, 404):
            return f'GET /v2/generate/{{unknown id}}: {response.status_code} (key accepted)'
        raise self._vendor_error(response) or TransientProviderError(
            self.name, f'unexpected HTTP {response.status_code}'
        )

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        state = JobState(workdir, self.name)
        inputs = self.inputs_key(video, speech)
        # Published media must outlive the whole job, retries of the poll included.
        expires = int(self.poll.deadline) + 3600
        published = publish_inputs(
            self.name, self.storage, video, speech, workdir, key=inputs, expires_seconds=expires, state=state
        )
        body = self.request_body(published.video_url, published.audio_url)
        key = idempotency_key('pn', body, state.fresh_start(inputs))
        generation_id = (state.generation(key) or {}).get('id') or self._create(state, inputs, body, key)
        log.info(
            events.PROVIDER_JOB_SUBMITTED,
            extra={'provider': self.name, 'job_id': generation_id, 'idempotency_key': key},
        )
        done = poll_until(self.name, lambda: self._terminal(generation_id), self.poll)
        return self._result(state, inputs, key, generation_id, done, workdir)

    def inputs_key(self, video: Path, speech: Speech) -> str:
        """What the job asks for, by content (names the published inputs; not the Idempotency-Key)."""
        return inputs_digest(video, speech, self.name, self.model, repr(sorted(OPTIONS.items())))[:64]

    def request_body(self, video_url: str, audio_url: str) -> dict[str, Any]:
        return {
            'model': self.model,
            'input': [{'type': 'video', 'url': video_url}, {'type': 'audio', 'url': audio_url}],
            'options': OPTIONS,
        }

    def _vendor_error(self, response: requests.Response) -> ProviderError | None:
        if response.status_code < 400:
            return None
        text = response.text[:MAX_ERROR_BODY]
        code = _error_code(response)
        # Same key, other body. The guide names the rule, not the answer's code: anything 409/422
        # that speaks of idempotency (but not the 400 for a malformed key) is the conflict.
        if response.status_code in (409, 422) and 'idempot' in f'{code} {text}'.lower():
            return IdempotencyConflict(self.name, f'HTTP {response.status_code}: {text}')
        return error_for_status(self.name, response)

    def _create(self, state: JobState, inputs: str, body: dict[str, Any], key: str) -> str:
        state.submitting(key)  # before sending: a lost answer still leaves this key on record
        try:
            generation = self._post(body, key)
        except IdempotencyConflict:
            if not state.known_failed(key):
                raise  # the generation under this key may be running or paid for: never start another
            # The earlier generation under this key is known to have failed: a fresh key is a new attempt.
            key = idempotency_key('pn', body, state.start_fresh(inputs))
            state.submitting(key)
            generation = self._post(body, key)
        generation_id = generation.get('id') if isinstance(generation, dict) else None
        if not isinstance(generation_id, str) or not generation_id:
            raise TransientProviderError(self.name, f'generation without an id: {str(generation)[:200]}')
        state.remember_generation(key, generation_id)
        return generation_id

    def _post(self, body: dict[str, Any], key: str) -> Any:
        with mapped_errors(self.name):
            response = self._api.post(
                f'{self.base_url}/v2/generate',
                data=json.dumps(body),
                headers={'Idempotency-Key': key, 'Content-Type': 'application/json'},
                timeout=self.timeouts.pair(),
            )
            return self._json(response)

    def _json(self, response: requests.Response) -> Any:
        error = self._vendor_error(response)
        if error is not None:
            raise error
        try:
            return response.json()
        except ValueError as exc:
            raise TransientProviderError(self.name, f'malformed JSON: {response.text[:80]!r}') from exc

    def _terminal(self, generation_id: str) -> dict[str, Any] | None:
        """One poll: the generation once it is terminal, None while it is pending or processing."""
        with mapped_errors(self.name):
            response = self._api.get(f'{self.base_url}/v2/generate/{generation_id}', timeout=self.timeouts.pair())
            generation = self._json(response)
        if not isinstance(generation, dict):
            raise TransientProviderError(self.name, f'unexpected generation: {str(generation)[:200]}')
        return generation if generation.get('status') in TERMINAL else None

    def _result(
        self, state: JobState, inputs: str, key: str, generation_id: str, generation: dict[str, Any], workdir: Path
    ) -> Path:
        status = generation['status']
        if status == 'COMPLETED':
            state.mark_terminal(key, status, failed=False)
            # outputMediaUrl is the current name; outputUrl its deprecated alias, still sent.
            url = generation.get('outputMediaUrl') or generation.get('outputUrl')
            if not isinstance(url, str) or not url:
                raise TransientProviderError(self.name, f'generation {generation_id} completed without an output URL')
            dest = workdir / f'lipsync-{self.name}-{_SAFE_ID.sub("_", generation_id)[:64]}.mp4'
            return download_media(self.name, self._downloads, url, dest, self.timeouts, want_video=True)
        # Terminal and failed: replayed as is under this key, so the next attempt needs a fresh one.
        state.mark_terminal(key, status, failed=True)
        state.start_fresh(inputs)
        raise self._failure(generation_id, generation)

    def _failure(self, generation_id: str, generation: dict[str, Any]) -> ProviderError:
        code = str(generation.get('errorCode') or generation.get('error_code') or '')
        status = generation['status']
        message = f'generation {generation_id} {status}: {generation.get("error") or "no reason given"}'
        if code:
            message += f' ({code})'
        if status == 'REJECTED':
            return ContentRejected(self.name, message)
        if status in _RETRYABLE_ENDINGS or any(hint in code.lower() for hint in _TRANSIENT_HINTS):
            return TransientProviderError(self.name, message)
        return PermanentProviderError(self.name, message)


def _error_code(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ''
    if not isinstance(body, dict):
        return ''
    return str(body.get('errorCode') or body.get('error_code') or body.get('code') or '')
