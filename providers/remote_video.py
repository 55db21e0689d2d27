"""What the HTTP talking-video clients share: one session, timeouts on every call, vendor errors
mapped at the boundary, polling under one deadline for the whole `generate`. Which remote job a
retried call resumes is kept per job in providers/job_state.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

from providers.base import TalkingVideoProvider
from providers.errors import ProviderError, ProviderTimeout
from providers.http import HttpTimeouts, download_media, error_for_status, json_body, mapped_errors
from providers.polling import PollPolicy, poll_until

log = logging.getLogger(__name__)
T = TypeVar('T')

DEFAULT_TIMEOUTS = HttpTimeouts()
# Renders take minutes: no point asking every second; the registry passes VIDEO_DEADLINE_SECONDS.
DEFAULT_POLL = PollPolicy(first_delay=5, max_delay=30, deadline=1200)


# Words with which vendors explain a render refused for its content rather than broken.
_REJECTION_WORDS = ('moderat', 'nsfw', 'inappropriate', 'content polic', 'violat', 'prohibited', 'unsafe')


def dig(body: Any, *keys: str | int) -> Any:
    """`body[k1][k2]...`, or None as soon as a level is missing or of the wrong shape."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(body, list) or not -len(body) <= key < len(body):
                return None
        elif not isinstance(body, dict):
            return None
        body = body[key] if isinstance(key, int) else body.get(key)
    return body


def looks_rejected(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _REJECTION_WORDS)


def digest(*parts: str) -> str:
    return hashlib.sha256('\0'.join(parts).encode()).hexdigest()


class RemoteVideoProvider(TalkingVideoProvider):
    def __init__(self, *, timeouts: HttpTimeouts, poll: PollPolicy, session: requests.Session | None = None) -> None:
        self.timeouts = timeouts
        self.poll = poll
        # No credentials on the session: they go on each API call, so media downloads from a
        # vendor's CDN or presigned bucket URL never carry our API key to a third party.
        self.session = session or requests.Session()

    def close(self) -> None:
        self.session.close()

    def vendor_error(self, response: requests.Response) -> ProviderError | None:
        """The error a failed answer maps to. Vendors override this for their own signals."""
        return error_for_status(self.name, response)

    def call_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """One API call, never retried here: the chain's retry policy decides that."""
        with mapped_errors(self.name):
            response = self.session.request(method, url, timeout=self.timeouts.pair(), **kwargs)
            error = self.vendor_error(response)
            if error is not None:
                raise error
            return json_body(self.name, response)

    def download(self, url: str, dest: Path) -> Path:
        return download_media(self.name, self.session, url, dest, self.timeouts, want_video=True)

    def wait_for(self, check: Callable[[], T | None], deadline_at: float) -> T:
        """Poll `check` with backoff until it returns, within what is left of the call's deadline."""
        left = deadline_at - time.monotonic()
        if left <= 0:
            raise ProviderTimeout(self.name, f'not finished within {self.poll.deadline:g} s')
        return poll_until(self.name, check, dataclasses.replace(self.poll, deadline=left))
