"""HTTP plumbing shared by the vendor clients: one requests session, vendor errors mapped into
`providers.errors` at the boundary, and media downloads checked with ffprobe before use."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from utils.probe import MediaError, probe

MAX_ERROR_BODY = 300
# Faults of our settings, not of the network: the same URL, scheme or certificate fails every time.
CONFIGURATION_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidHeader,
    requests.exceptions.SSLError,
)


@dataclass(frozen=True)
class HttpTimeouts:
    connect: float = 10.0
    read: float = 60.0

    def pair(self) -> tuple[float, float]:
        return self.connect, self.read


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def error_for_status(provider: str, response: requests.Response) -> ProviderError | None:
    """The error class a failed HTTP answer maps to; None for a success."""
    status = response.status_code
    if status < 400:
        return None
    detail = f'HTTP {status}: {response.text[:MAX_ERROR_BODY]}'
    if status == 429:
        return ProviderRateLimited(provider, detail, retry_after_seconds(response.headers.get('Retry-After')))
    if status == 402:
        return QuotaExhausted(provider, detail)
    if status in (401, 403):
        # A wrong or revoked key: every retry gets the same answer until someone fixes the settings.
        return ProviderMisconfigured(provider, detail)
    if status in (408, 409, 423, 425) or status >= 500:
        return TransientProviderError(provider, detail)
    if status == 451:
        return ContentRejected(provider, detail)
    return PermanentProviderError(provider, detail)


@contextmanager
def mapped_errors(provider: str) -> Iterator[None]:
    """Re-raise transport and decoding failures of `requests` as provider errors."""
    try:
        yield
    except ProviderError:
        raise
    except CONFIGURATION_ERRORS as exc:
        # Checked before ConnectionError: SSLError is one, and a certificate does not fix itself.
        raise ProviderMisconfigured(provider, f'{type(exc).__name__}: {exc}') from exc
    except requests.Timeout as exc:
        raise ProviderTimeout(provider, f'timed out: {exc}') from exc
    except requests.ConnectionError as exc:
        raise TransientProviderError(provider, f'connection failed: {exc}') from exc
    except requests.RequestException as exc:
        raise TransientProviderError(provider, f'request failed: {exc}') from exc


def json_body(provider: str, response: requests.Response) -> Any:
    """The JSON body of a successful answer; a malformed one is a transient fault of the provider."""
    error = error_for_status(provider, response)
    if error is not None:
        raise error
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError) as exc:
        raise TransientProviderError(provider, f'malformed JSON from {response.url}: {response.text[:80]!r}') from exc


def download_media(
    provider: str, session: requests.Session, url: str, dest: Path, timeouts: HttpTimeouts, *, want_video: bool
) -> Path:
    """Stream `url` into `dest` and check it decodes as media; truncated or bogus media is transient."""
    partial = dest.with_name(dest.name + '.partial')
    with mapped_errors(provider):
        with session.get(url, stream=True, timeout=timeouts.pair()) as response:
            error = error_for_status(provider, response)
            if error is not None:
                raise error
            with partial.open('wb') as out:
                for chunk in response.iter_content(chunk_size=256 * 1024):
                    out.write(chunk)
    try:
        info = probe(partial)
    except MediaError as exc:
        partial.unlink(missing_ok=True)
        raise TransientProviderError(provider, f'downloaded media is not readable: {exc}') from exc
    if (want_video and not info.has_video) or (not want_video and not info.has_audio) or info.duration <= 0:
        partial.unlink(missing_ok=True)
        raise TransientProviderError(
            provider, f'downloaded media from {url} has no {"video" if want_video else "audio"}'
        )
    partial.replace(dest)
    return dest
