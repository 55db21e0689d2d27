"""Higgsfield Speak: a still of Papá Noel and our speech, by URL, become a talking clip.

Speak renders at most 15 s and only from WAV. Longer speech is cut (at pauses where it can)
into pieces of at most 15 s; all pieces are submitted at once, so the render takes about as long
as one, then downloaded and joined in order. Each piece carries an Idempotency-Key derived from
exactly what it asks for, so a retried submit never pays for the same render twice (and never
reuses a key with different parameters, which Higgsfield refuses with a 422).
"""

from __future__ import annotations

import json
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
    PermanentProviderError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.http import MAX_ERROR_BODY, HttpTimeouts, retry_after_seconds
from providers.media import cut_audio, file_digest, join_clips, silences, split_points, still_frame, to_wav
from providers.polling import PollPolicy
from providers.remote_video import DEFAULT_POLL, DEFAULT_TIMEOUTS, RemoteVideoProvider, dig, digest
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
        self.auth = {'Authorization': f'Key {key_id}:{key_secret}'}
        self.storage = storage
        self.santa_video = santa_video
        self.santa_image = santa_image
        self.base_url = base_url.rstrip('/')
        self.quality = quality
        self.prompt = prompt
        self.max_chunks = max_chunks
        # Bumped when a piece's job was canceled, so its next submit gets a fresh Idempotency-Key
        # (the old one would hand back the canceled job).
        self._generation: dict[str, int] = {}
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
        return super().vendor_error(response)

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        deadline_at = time.monotonic() + self.poll.deadline
        pieces = self._pieces(speech, workdir)
        image = self._image(workdir)
        image_url = self._publish(image)
        submitted = [self._submit(piece, image, image_url) for piece in pieces]  # all render at once
        clips = [
            (self._finish(key, job, deadline_at, workdir), piece.seconds)
            for piece, (key, job) in zip(pieces, submitted, strict=True)
        ]
        if len(clips) == 1:
            return clips[0][0]
        first = probe(clips[0][0])
        size = (first.width or 720, first.height or 1280)
        return join_clips(self.name, clips, workdir / f'higgsfield-{submitted[0][1]}-joined.mp4', size)

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

    def _publish(self, path: Path) -> str:
        # Named by content: a retry republishes under the same name instead of piling up copies.
        name = f'higgsfield-{file_digest(path)[:32]}{path.suffix.lower()}'
        # Valid for the whole job plus margin: Higgsfield may fetch the media only once the job leaves its queue.
        expires = int(self.poll.deadline) + 3600
        try:
            return self.storage.publish(path, name=name, expires_seconds=expires)
        except StorageError as exc:
            # Without URLs Speak cannot run, and retrying will not configure the storage.
            raise PermanentProviderError(self.name, f'cannot publish media for Higgsfield: {exc}') from exc

    def _submit(self, piece: Piece, image: Path, image_url: str) -> tuple[str, str]:
        """Submit one piece (or resume its earlier job); returns (input key, job-set id)."""
        duration = next(d for d in DURATIONS if piece.seconds <= d + 0.05)
        # What the render depends on, by content: presigned URLs change on every publish, so a
        # retry must recognise its job by this, not by the URLs it sent.
        key = digest(file_digest(piece.audio), file_digest(image), self.prompt, self.quality, str(duration))

        def submit() -> str:
            body = {
                'params': {
                    'input_image': {'type': 'image_url', 'image_url': image_url},
                    'input_audio': {'type': 'audio_url', 'audio_url': self._publish(piece.audio)},
                    'prompt': self.prompt,
                    'quality': self.quality,
                    'duration': duration,
                }
            }
            # From the exact body: the same request repeats its key, a different one never reuses it.
            sent = digest(json.dumps(body, sort_keys=True), str(self._generation.get(key, 0)))
            answer = self.call_json(
                'POST', f'{self.base_url}/v1/speak/higgsfield', json=body,
                headers={**self.auth, 'Idempotency-Key': f'papa-noel-{sent[:48]}'},
            )  # fmt: skip
            job_set = dig(answer, 'id')
            if not isinstance(job_set, str) or not job_set:
                raise TransientProviderError(self.name, f'submit answered without a job-set id: {str(answer)[:120]}')
            return job_set

        return key, self.job_for(key, submit)

    def _finish(self, key: str, job_set: str, deadline_at: float, workdir: Path) -> Path:
        try:
            outcome = self.wait_for(self._check(job_set), deadline_at)
            if outcome.error is not None:
                raise outcome.error
            clip = self.download(outcome.url, workdir / f'higgsfield-{job_set}.mp4')
        except ProviderTimeout:
            self.forget(key)  # a job past its deadline is not worth resuming
            raise
        except JobCanceled:
            self.forget(key)
            self._generation[key] = self._generation.get(key, 0) + 1
            raise
        except TransientProviderError:
            raise  # keep the job: a retry only downloads it again
        except ProviderError:
            self.forget(key)
            raise
        self.forget(key)
        log.info(events.PROVIDER_JOB_COMPLETED, extra={'provider': self.name, 'job_id': job_set})
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
