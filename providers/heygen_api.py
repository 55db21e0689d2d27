"""HeyGen API v3, what its video and lip-sync clients share (raw HTTP: there is no official Python SDK).

Contract read 2026-12-01 from the official CLI `heygen-com/heygen-cli` (gen/video.go,
gen/lipsync.go, gen/asset.go, gen/user.go, internal/client/retry.go and executor.go at commit
7699a8ee) and developers.heygen.com `endpoint-version-comparison` (v1/v2 ended 1 Nov 2026):

- `POST /v3/assets`: multipart field `file` (<= 32 MB; wav, mp3, mp4 ... accepted) -> data.asset_id
- errors: `{"error": {"code", "message", "param", "doc_url"}}`; codes include
  rate_limit_exceeded (429, with Retry-After), insufficient_credit, validation_error,
  payload_too_large, not_found, unauthorized
- `GET /v3/users/me`: the account and its remaining credits; the cheap authenticated call
- writes take no Idempotency-Key ("CLI writes carry no idempotency key, so a blind retry can
  produce a duplicate ... Check with the corresponding get/list command before retrying"): a
  retried create first looks its job up by the title it was sent with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from providers.errors import (
    ContentRejected,
    PermanentProviderError,
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    QuotaExhausted,
    TransientProviderError,
)
from providers.http import MAX_ERROR_BODY, HttpTimeouts, error_for_status, mapped_errors, retry_after_seconds
from providers.job_state import JobState
from providers.media import file_digest
from providers.remote_video import dig, looks_rejected

DEFAULT_BASE_URL = 'https://api.heygen.com'
PENDING = frozenset({'pending', 'waiting', 'queued', 'processing'})
# How long an uploaded asset is trusted to stay usable for the same job [INF: no expiry is documented].
ASSET_TTL_SECONDS = 24 * 3600
_UPLOAD_TYPES = {'.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.mp4': 'video/mp4'}
# The first page is enough: a title lookup looks for a job this same job made minutes ago.
LIST_LIMIT = 100


@dataclass(frozen=True)
class Outcome:
    """How a job ended: its output URL, or the error it failed with."""

    url: str = ''
    error: ProviderError | None = None


def envelope_error(provider: str, response: requests.Response) -> ProviderError | None:
    """A v3 error answer in our tree, by the envelope's code first and the HTTP status after."""
    status = response.status_code
    if status < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    code = str(dig(body, 'error', 'code') or '')
    message = str(dig(body, 'error', 'message') or response.text[:MAX_ERROR_BODY])
    detail = f'HTTP {status} {code}: {message}'[: MAX_ERROR_BODY + 40]
    if status == 429 or code == 'rate_limit_exceeded':
        return ProviderRateLimited(provider, detail, _retry_after(response.headers))
    if code in ('insufficient_credit', 'insufficient_credits', 'quota_exceeded') or status == 402:
        return QuotaExhausted(provider, detail)
    if code in ('unauthorized', 'forbidden') or status in (401, 403):
        return ProviderMisconfigured(provider, detail)
    if looks_rejected(message) or code in ('content_moderation', 'moderation_rejected'):
        return ContentRejected(provider, detail)
    if code in ('validation_error', 'payload_too_large', 'not_found', 'invalid_parameter'):
        return PermanentProviderError(provider, detail)
    return error_for_status(provider, response)


def _retry_after(headers: Any) -> float | None:
    """Retry-After (seconds or a date), else the standard RateLimit-Reset / X-RateLimit-Reset seconds."""
    seconds = retry_after_seconds(headers.get('Retry-After'))
    if seconds is not None:
        return seconds
    for name in ('RateLimit-Reset', 'X-RateLimit-Reset'):
        value = headers.get(name)
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            continue
    return None


def failure(provider: str, what: str, data: Any) -> ProviderError:
    """A job that ended `failed`: its failure_code and failure_message in our tree."""
    code = str(dig(data, 'failure_code') or '')
    message = str(dig(data, 'failure_message') or 'failed without a reason')[:MAX_ERROR_BODY]
    text = f'{what} failed: {message}' + (f' ({code})' if code else '')
    lowered = f'{code} {message}'.lower()
    if looks_rejected(lowered):
        return ContentRejected(provider, text)
    if 'credit' in lowered or 'quota' in lowered:
        return QuotaExhausted(provider, text)
    if any(hint in lowered for hint in ('internal', 'timeout', 'timed out', 'unavailable', 'retry')):
        return TransientProviderError(provider, text)
    return PermanentProviderError(provider, text)


class HeyGenApi:
    """One account: the key goes on each API call, never on the session (downloads stay key-free)."""

    def __init__(self, provider: str, api_key: str, base_url: str, timeouts: HttpTimeouts, session: requests.Session):
        self.provider = provider
        self.auth = {'X-Api-Key': api_key}
        self.base_url = base_url.rstrip('/')
        self.timeouts = timeouts
        self.session = session

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with mapped_errors(self.provider):
            response = self.session.request(
                method, f'{self.base_url}{path}', headers=self.auth, timeout=self.timeouts.pair(), **kwargs
            )
            error = envelope_error(self.provider, response)
            if error is not None:
                raise error
            try:
                return response.json()
            except ValueError as exc:
                raise TransientProviderError(self.provider, f'malformed JSON: {response.text[:80]!r}') from exc

    def me(self) -> str:
        answer = self.call('GET', '/v3/users/me')
        if not isinstance(dig(answer, 'data'), dict):
            raise TransientProviderError(self.provider, f'users/me answered without data: {str(answer)[:120]}')
        return 'GET /v3/users/me: 200 (key accepted)'

    def asset(self, state: JobState, path: Path) -> str:
        """The asset id of `path`, uploaded once per job (a retry reuses it, so its request body repeats)."""
        upload = lambda: self._upload(path)  # noqa: E731
        return state.publish_once(f'asset:{path.name}', file_digest(path), ASSET_TTL_SECONDS, upload)

    def _upload(self, path: Path) -> str:
        content_type = _UPLOAD_TYPES.get(path.suffix.lower(), 'application/octet-stream')
        with path.open('rb') as f:
            answer = self.call('POST', '/v3/assets', files={'file': (path.name, f, content_type)})
        asset_id = dig(answer, 'data', 'asset_id') or dig(answer, 'data', 'id')
        if not isinstance(asset_id, str) or not asset_id:
            raise TransientProviderError(self.provider, f'asset upload without an asset_id: {str(answer)[:120]}')
        return asset_id

    def find_by_title(self, path: str, title: str, id_field: str) -> str | None:
        """The id of the job listed under `title`: the one a create whose answer was lost made."""
        answer = self.call('GET', path, params={'limit': LIST_LIMIT})
        for item in dig(answer, 'data') or []:
            if isinstance(item, dict) and item.get('title') == title:
                found = item.get(id_field) or item.get('id')
                if isinstance(found, str) and found:
                    return found
        return None
