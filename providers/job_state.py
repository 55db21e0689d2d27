"""What a paid provider remembers about one job, across that job's retries: its checkpoint.

A remote generation is bound to the exact request body it was created with (the vendors'
idempotency rule: one key, one body). So for a retried job to resume the generation it
already paid for, it must send the same body again: each input is published once per job and
its URL kept here until shortly before it expires, and the remote id is kept once known.

The state lives in a small JSON file in the job's working directory, which the pipeline
keeps across the attempts of a job (pipeline/produce.py) beside its Redis stage checkpoints.
On another machine, or once a URL expires, the input is published again: a new URL makes a
new body, hence a new key and a new paid call, which is counted (`paid_submits`) and logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import events

log = logging.getLogger(__name__)
# A URL is reused only while it stays valid this long again: the vendor may fetch it late.
URL_MARGIN_SECONDS = 600


def body_digest(body: Any) -> str:
    """sha256 of the canonical JSON of `body`: the same request, the same digest."""
    canonical = json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(prefix: str, body: Any, generation: int = 0) -> str:
    """A key derived from the exact body sent (and how many fresh starts this job made).

    Fits every vendor's key syntax: Sync Labs' 1-128 of [A-Za-z0-9._~-], Higgsfield's 1-255
    visible ASCII.
    """
    return f'{prefix}-{body_digest(body)[:48]}-g{generation}'


class JobState:
    """One provider's checkpoint for one job: published URLs, remote generations, fresh starts."""

    def __init__(self, workdir: Path, provider: str, *, clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        self.path = workdir / f'.provider-{provider}.json'
        self.clock = clock
        self._data: dict[str, Any] = {'published': {}, 'generations': {}, 'fresh_starts': {}, 'paid_submits': 0}
        if self.path.is_file():
            try:
                self._data.update(json.loads(self.path.read_text()))
            except ValueError:
                pass  # a torn file is an empty checkpoint: the worst case is one more paid call

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + '.partial')
        partial.write_text(json.dumps(self._data, sort_keys=True))
        os.replace(partial, self.path)

    # --- published inputs -----------------------------------------------------------------

    def published(self, name: str, fingerprint: str) -> str | None:
        """The URL `name` was published at for this content, while it stays valid long enough."""
        entry = self._data['published'].get(name)
        if not entry or entry.get('fingerprint') != fingerprint:
            return None
        if float(entry.get('expires_at', 0)) - URL_MARGIN_SECONDS <= self.clock():
            return None
        return str(entry['url'])

    def remember_published(self, name: str, fingerprint: str, url: str, expires_seconds: float) -> None:
        self._data['published'][name] = {
            'fingerprint': fingerprint,
            'url': url,
            'expires_at': self.clock() + expires_seconds,
        }
        self._save()

    def publish_once(self, name: str, fingerprint: str, expires_seconds: int, publish: Callable[[], str]) -> str:
        url = self.published(name, fingerprint)
        if url is None:
            url = publish()
            self.remember_published(name, fingerprint, url, expires_seconds)
        return url

    # --- remote generations ----------------------------------------------------------------

    def generation(self, key: str) -> dict[str, Any] | None:
        """What is known of the generation sent under `key`: {'id'?, 'status'?}."""
        entry = self._data['generations'].get(key)
        return None if entry is None else dict(entry)  # {}: sent, answer never seen

    def submitting(self, key: str) -> bool:
        """Record that a paid request under `key` is about to leave; True if it is a new key.

        Called before the request: if the answer is lost, the next attempt knows a generation
        may exist under this key although no id came back.
        """
        new = key not in self._data['generations']
        if new:
            self._data['generations'][key] = {}
            self._data['paid_submits'] = int(self._data['paid_submits']) + 1
            self._save()
            if self.paid_submits > 1:
                extra = {'provider': self.provider, 'paid_submits': self.paid_submits, 'idempotency_key': key}
                log.warning(events.PROVIDER_PAID_CALL_REPEATED, extra=extra)
        return new

    def remember_generation(self, key: str, generation_id: str) -> None:
        self._data['generations'].setdefault(key, {})['id'] = generation_id
        self._save()

    def mark_terminal(self, key: str, status: str, *, failed: bool) -> None:
        entry = self._data['generations'].setdefault(key, {})
        entry.update(status=status, failed=failed)
        self._save()

    def known_failed(self, key: str) -> bool:
        entry = self._data['generations'].get(key) or {}
        return bool(entry.get('failed'))

    def fresh_start(self, request: str) -> int:
        """How many times this job moved `request` to a fresh key after a failed generation."""
        return int(self._data['fresh_starts'].get(request, 0))

    def start_fresh(self, request: str) -> int:
        count = self.fresh_start(request) + 1
        self._data['fresh_starts'][request] = count
        self._save()
        return count

    @property
    def paid_submits(self) -> int:
        """Distinct keys (hence possibly paid generations) this job has sent to the vendor."""
        return int(self._data['paid_submits'])
