"""Higgsfield Speak: a still of Papá Noel and our speech, by URL, become a talking clip.

Speak renders at most 15 s and only from WAV. Longer speech is cut (at pauses where it can)
into pieces of at most 15 s; all pieces are submitted at once, so the render takes about as long
as one, then downloaded and joined in order. Each piece carries an Idempotency-Key derived from
exactly the body it sends, and the body stays the same across the job's retries (the still and
the audio are published once per job, their URLs kept in the job's provider checkpoint,
providers/job_state.py), so a retry after a lost answer gets the render it paid for.
docs.higgsfield.ai/docs/concepts/idempotency (read 2026-12-01): a key is reused only with the
same endpoint, body and webhook ("different URLs do matter"); a mismatch is 422 and must not be
answered with a fresh key automatically; a completed, failed, nsfw or canceled request keeps
its identity, so only those (known terminal, failed) move the next attempt to a fresh key.
Auth: the v1 Speak reference documents the `hf-api-key` + `hf-secret` headers (the
`Authorization: Key id:secret` form is documented as also accepted); those are what we send.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

import events
from providers.base import Speech
from providers.errors import (
    ContentRejected,
    IdempotencyConflict,
    PermanentProviderError,
    ProviderError,
    ProviderRateLimited,
    QuotaExhausted,
    TransientProviderError,
)
from providers.http import MAX_ERROR_BODY, HttpTimeouts, mapped_errors, retry_after_seconds
from providers.job_state import JobState, body_digest, idempotency_key
from providers.media import cut_audio, file_digest, join_clips, silences, split_points, still_frame, to_wav
from providers.polling import PollPolicy
from providers.remote_video import DEFAULT_POLL, DEFAULT_TIMEOUTS, RemoteVideoProvider, dig
from storage.base import Storage, StorageError
from utils.probe import probe

log = logging.getLogger(__name__)

MAX_SECONDS = 15.0
DURATIONS = (5, 10, 15)  # the only lengths Speak accepts
PENDING = frozenset({'queued', 'in_progress'})
DEFAULT_PROMPT = 'Santa Claus speaking warmly and kindly to a child, looking at the camera'


class JobCanceled(TransientProviderError):
    """Someone canceled the job: worth another try, under a new Idempotency-Key."""


@dataclass(frozen=True)
class Outcome:
    """How a job set ended: a result URL, or the error that ended it."""

    url: str = ''
    error: ProviderError | None = None


@dataclass(frozen=True)
class Sent:
    """A piece's request (by body digest), the Idempotency-Key it went with, the job set it made."""

    request: str
    key: str
    job_set: str


@dataclass(frozen=True)
class Piece:
    audio: Path
    seconds: float


class HiggsfieldVideo(RemoteVideoProvider):
    name = 'higgsfield'

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        *,
        storage: Storage,
        santa_video: Path,
        santa_image: Path | None = None,
        base_url: str = 'https://platform.higgsfield.ai',
        quality: str = 'mid',
        prompt: str = DEFAULT_PROMPT,
        max_chunks: int = 4,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        poll: PollPolicy = DEFAULT_POLL,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(timeouts=timeouts, poll=poll, session=session)
        self.auth = {'hf-api-key': key_id, 'hf-secret': key_secret}
        self.storage = storage
        self.santa_video = santa_video
        self.santa_image = santa_image
        self.base_url = base_url.rstrip('/')
        self.quality = quality
        self.prompt = prompt
        self.max_chunks = max_chunks
        self._still: bytes | None = None

    def vendor_error(self, response: requests.Response) -> ProviderError | None:
        if response.status_code < 400:
            return None
        text = response.text[:MAX_ERROR_BODY]
        detail = f'HTTP {response.status_code}: {text}'
        lowered = text.lower()
        # Two documented answers to "too many jobs at once": the older 400 (no Retry-After) and the
        # newer 429 account_queue_full (with one). Both clear up by waiting, so neither is permanent.
        if response.status_code == 400 and 'concurrent requests' in lowered:
            return ProviderRateLimited(self.name, detail, retry_after_seconds(response.headers.get('Retry-After')))
        if 'credit' in lowered and response.status_code in (400, 402, 403):
            return QuotaExhausted(self.name, detail)
        if response.status_code == 422 and 'idempotency' in lowered:
            return IdempotencyConflict(self.name, detail)
        return super().vendor_error(response)

    def check_reachable(self) -> str:
        """Look up a job set that does not exist: 404 proves the host and the key (a bad key is 401).

        Higgsfield documents no account endpoint for the v1 family; this GET is authenticated and free.
        """
        with mapped_errors(self.name):
            response = self.session.get(
                f'{self.base_url}/v1/job-sets/00000000-0000-0000-0000-000000000000',
                headers=self.auth, timeout=self.timeouts.pair(),
            )  # fmt: skip
        if response.status_code in (200, 404):
            return f'GET /v1/job-sets/{{unknown id}}: {response.status_code} (key accepted)'
        raise self.vendor_error(response) or TransientProviderError(self.name, f'HTTP {response.status_code}')

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        deadline_at = time.monotonic() + self.poll.deadline
        state = JobState(workdir, self.name)
        pieces = self._pieces(speech, workdir)
        image = self._image(workdir)
        image_url = self._publish(state, image)
        submitted = [self._submit(state, piece, image_url) for piece in pieces]  # all render at once
        clips = [
            (self._finish(state, sent, deadline_at, workdir), piece.seconds)
            for piece, sent in zip(pieces, submitted, strict=True)
        ]
        if len(clips) == 1:
            return clips[0][0]
        first = probe(clips[0][0])
        size = (first.width or 720, first.height or 1280)
        return join_clips(self.name, clips, workdir / f'higgsfield-{submitted[0].job_set}-joined.mp4', size)

    def _pieces(self, speech: Speech, workdir: Path) -> list[Piece]:
        wav, duration = to_wav(self.name, speech.path, workdir / f'higgsfield-{speech.path.stem}.wav')
        if duration <= MAX_SECONDS:
            return [Piece(wav, duration)]
        cuts = split_points(duration, MAX_SECONDS, silences(self.name, wav))
        if len(cuts) + 1 > self.max_chunks:
            raise PermanentProviderError(
                self.name,
                f'speech too long for Higgsfield: {duration:.1f} s needs {len(cuts) + 1} pieces of at most '
                f'{MAX_SECONDS:g} s, and at most {self.max_chunks} are allowed (HIGGSFIELD_MAX_CHUNKS)',
            )
        bounds = [0.0, *cuts, duration]
        return [
            Piece(cut_audio(self.name, wav, start, end - start, workdir / f'{wav.stem}-{i}.wav'), end - start)
            for i, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False))
        ]

    def _image(self, workdir: Path) -> Path:
        if self.santa_image is not None:
            if not self.santa_image.is_file():
                raise PermanentProviderError(self.name, f'HIGGSFIELD_SANTA_IMAGE {self.santa_image} not found')
            return self.santa_image
        # The footage does not change under a running worker: extract the still once, keep its bytes.
        path = workdir / 'higgsfield-santa.jpg'
        if self._still is None:
            self._still = still_frame(self.name, self.santa_video, path).read_bytes()
        else:
            path.write_bytes(self._still)
        return path

    def _publish(self, state: JobState, path: Path) -> str:
        """`path` published once per job: a retry sends the same URL, so the same body and key."""
        content = file_digest(path)
        # Named by content: a republish (URL expired, other machine) overwrites instead of piling up.
        name = f'higgsfield-{content[:32]}{path.suffix.lower()}'
        # Valid for the whole job plus margin: Higgsfield may fetch the media only once the job leaves its queue.
        expires = int(self.poll.deadline) + 3600

        def publish() -> str:
            try:
                return self.storage.publish(path, name=name, expires_seconds=expires)
            except StorageError as exc:
                # Without URLs Speak cannot run, and retrying will not configure the storage.
                raise PermanentProviderError(self.name, f'cannot publish media for Higgsfield: {exc}') from exc

        return state.publish_once(name, content, expires, publish)

    def _submit(self, state: JobState, piece: Piece, image_url: str) -> Sent:
        """Submit one piece, or find the job set an earlier attempt of this job paid for."""
        duration = next(d for d in DURATIONS if piece.seconds <= d + 0.05)
        body = {
            'params': {
                'input_image': {'type': 'image_url', 'image_url': image_url},
                'input_audio': {'type': 'audio_url', 'audio_url': self._publish(state, piece.audio)},
                'prompt': self.prompt,
                'quality': self.quality,
                'duration': duration,
            }
        }
        request = body_digest(body)
        # From the exact body: the same request repeats its key, a different one never reuses it.
        key = idempotency_key('papa-noel', body, state.fresh_start(request))
        known = (state.generation(key) or {}).get('id')
        if known:
            log.info(events.PROVIDER_JOB_RESUMED, extra={'provider': self.name, 'job_id': known})
            return Sent(request, key, str(known))
        state.submitting(key)  # before sending: a lost answer is resumed by resending this body and key
        answer = self.call_json(
            'POST', f'{self.base_url}/v1/speak/higgsfield', json=body,
            headers={**self.auth, 'Idempotency-Key': key},
        )  # fmt: skip
        job_set = dig(answer, 'id')
        if not isinstance(job_set, str) or not job_set:
            raise TransientProviderError(self.name, f'submit answered without a job-set id: {str(answer)[:120]}')
        state.remember_generation(key, job_set)
        log.info(events.PROVIDER_JOB_SUBMITTED, extra={'provider': self.name, 'job_id': job_set})
        return Sent(request, key, job_set)

    def _finish(self, state: JobState, sent: Sent, deadline_at: float, workdir: Path) -> Path:
        # Past the deadline, or on a poll or download hiccup, the job set is kept: a retry resumes it.
        outcome = self.wait_for(self._check(sent.job_set), deadline_at)
        if outcome.error is not None:
            # failed, nsfw or canceled keep their identity under this key: a new attempt needs a fresh one.
            state.mark_terminal(sent.key, 'failed', failed=True)
            state.start_fresh(sent.request)
            raise outcome.error
        state.mark_terminal(sent.key, 'completed', failed=False)
        clip = self.download(outcome.url, workdir / f'higgsfield-{sent.job_set}.mp4')
        log.info(events.PROVIDER_JOB_COMPLETED, extra={'provider': self.name, 'job_id': sent.job_set})
        return clip

    def _check(self, job_set: str) -> Callable[[], Outcome | None]:
        """A poll of the job set: its URL when done, the error that ends it, or None while it runs."""

        def check() -> Outcome | None:
            answer = self.call_json('GET', f'{self.base_url}/v1/job-sets/{job_set}', headers=self.auth)
            job = dig(answer, 'jobs', 0)
            status = dig(job, 'status')
            if job is None or status in PENDING:
                return None
            if status == 'completed':
                url = dig(job, 'results', 'raw', 'url') or dig(job, 'results', 'min', 'url')
                if isinstance(url, str) and url:
                    return Outcome(url=url)
                return Outcome(error=TransientProviderError(self.name, f'job set {job_set} completed without a URL'))
            why = f'job set {job_set} {status}: {str(dig(job, "error") or dig(answer, "error") or "")[:200]}'
            if status == 'nsfw':
                return Outcome(error=ContentRejected(self.name, why))
            if status == 'failed':
                return Outcome(error=PermanentProviderError(self.name, why))
            if status == 'canceled':
                return Outcome(error=JobCanceled(self.name, why))
            # Unknown: keep polling; the deadline reports it if it never changes.
            raise TransientProviderError(self.name, f'job set {job_set}: unexpected status {status!r}')

        return check
