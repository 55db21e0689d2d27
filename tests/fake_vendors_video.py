"""Local fake servers speaking the talking-video vendors' documented contracts (HeyGen v3 and
Higgsfield Speak; /work/shared/reference/provider-contracts.md sections 3 and 4, each fake's
own docstring cites the vendor source and the date its contract was read).

Each fake runs on its own threaded loopback pytest-httpserver and has a `mode` that switches
one failure on: 429 with and without Retry-After, 5xx, answers slower than the client's read
timeout, failed / moderated / nsfw / canceled jobs, malformed JSON, truncated media, and both
of Higgsfield's concurrency answers. They check what they are sent the way the vendors do
(auth, body shape, WAV and <= 15 s for Speak) and answer with real clips rendered by FFmpeg at
180x320, as long as the audio they were given: HeyGen's from the uploaded asset, Higgsfield's
from the audio it fetched from the published URL (which proves publishing works).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fake_vendor_charges import ChargeLedger, lost_answer
from tests.fake_vendors_tts_lipsync import lipsynced_clip
from utils.probe import MediaError, probe
from utils.proc import run

FFMPEG_TIMEOUT = 60
SLOW_SECONDS = 1.0  # longer than the short read timeout the tests give the client
HIGGSFIELD_MAX_SECONDS = 15.0


def render_clip(audio: Path, out: Path) -> Path:
    """A small real talking-head stand-in: a colour card as long as `audio`, with it as sound.

    Written without +faststart, like many render farms: half of this file has no index, so a
    truncated download cannot pass for a whole one.
    """
    run(
        ['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x9e1b1b:s=180x320:r=25', '-i', str(audio),
         '-shortest', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', str(out)],
        timeout=FFMPEG_TIMEOUT,
    )  # fmt: skip
    return out


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type='application/json')


@dataclass
class Job:
    id: str
    audio: Path
    polls: int = 0
    clip: Path | None = None
    body: Any = None
    #: Its terminal answer once reached: a finished job stays as it ended, whatever the mode says later.
    final: dict[str, Any] | None = None


@dataclass
class _Fake:
    server: HTTPServer
    files: Path
    #: One failure mode at a time; '' is the happy path.
    mode: str = ''
    #: Status polls a job answers "still working" before its terminal status; -1: forever.
    pending_polls: int = 2
    jobs: dict[str, Job] = field(default_factory=dict)
    #: Status polls to answer 502 before answering properly (polling must ride through them).
    poll_faults: int = 0
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.files.mkdir(parents=True, exist_ok=True)
        self.server.expect_request(re.compile(r'^/media/[\w.-]+$'), method='GET').respond_with_handler(self._media)

    def url(self, path: str = '') -> str:
        return self.server.url_for(path).rstrip('/')

    def calls(self, path: str) -> list[tuple[str, str, dict[str, str]]]:
        return [call for call in self.seen if call[1] == path]

    def _seen(self, request: Request) -> None:
        with self._lock:
            self.seen.append((request.method, request.path, {k.lower(): v for k, v in request.headers.items()}))

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            return f'{prefix}{next(self._ids)}'

    def _transport_fault(self) -> Response | None:
        """The failures any endpoint can show before doing its work."""
        if self.mode == 'slow':
            time.sleep(SLOW_SECONDS)
        if self.mode == '500':
            return Response('upstream exploded', status=502)
        if self.mode == 'malformed':
            return Response('{"data": {"id": ', status=200, content_type='application/json')
        if self.mode == '429':
            return _json({'error': 'too many requests'}, 429, {'Retry-After': '7'})
        if self.mode == '429-no-retry-after':
            return _json({'error': 'too many requests'}, 429)
        return None

    def _poll_fault(self) -> Response | None:
        with self._lock:
            if self.poll_faults <= 0:
                return None
            self.poll_faults -= 1
        return Response('bad gateway', status=502)

    def _still_working(self, job: Job) -> bool:
        """Count a poll; True while the job should still answer pending."""
        with self._lock:
            job.polls += 1
            return self.pending_polls < 0 or job.polls <= self.pending_polls

    def _clip(self, job: Job) -> Path:
        with self._lock:
            if job.clip is None:
                job.clip = render_clip(job.audio, self.files / f'{job.id}.mp4')
            return job.clip

    def _media(self, request: Request) -> Response:
        self._seen(request)
        path = self.files / Path(request.path).name
        if not path.is_file():
            return Response('no such object', status=404)
        data = path.read_bytes()
        if self.mode == 'truncated':
            data = data[: len(data) // 2]  # the connection "closed" half way, Content-Length and all
        return Response(data, status=200, content_type='video/mp4')


class FakeHeyGen(_Fake):
    """HeyGen API v3 only: `POST /v3/assets`, `POST|GET /v3/videos`, `GET /v3/videos/{id}`,
    `POST|GET /v3/lipsyncs`, `GET /v3/lipsyncs/{id}`, `GET /v3/users/me`.

    Contract read 2026-12-01: heygen-com/heygen-cli @7699a8ee gen/video.go, gen/lipsync.go,
    gen/asset.go, gen/user.go (request and response schemas), internal/client/retry.go (429 with
    Retry-After), executor.go (error envelope {"error": {code, message, param, doc_url}}; writes
    take no idempotency key); developers.heygen.com endpoint-version-comparison (v1/v2 retired
    1 Nov 2026: no v1/v2 route exists here, so a client calling one fails).
    A video or lip-sync job is charged when created; the list endpoints show each job's title,
    which is how a client finds a job whose create answer was lost.
    """

    api_key = 'heygen-test-key'
    RESOLUTIONS = ('4k', '1080p', '720p')
    ASPECTS = ('16:9', '9:16', '4:5', '5:4', '1:1', 'auto')

    def __post_init__(self) -> None:
        super().__post_init__()
        self.assets: dict[str, Path] = {}
        self.ledger = ChargeLedger()
        self.lipsyncs: dict[str, Job] = {}
        route = self.server.expect_request
        route('/v3/assets', method='POST').respond_with_handler(self._upload)
        route('/v3/videos', method='POST').respond_with_handler(self._create_video)
        route('/v3/videos', method='GET').respond_with_handler(lambda r: self._list(r, self.jobs))
        route(re.compile(r'^/v3/videos/[\w-]+$'), method='GET').respond_with_handler(
            lambda r: self._status(r, self.jobs)
        )
        route('/v3/lipsyncs', method='POST').respond_with_handler(self._create_lipsync)
        route('/v3/lipsyncs', method='GET').respond_with_handler(lambda r: self._list(r, self.lipsyncs))
        route(re.compile(r'^/v3/lipsyncs/[\w-]+$'), method='GET').respond_with_handler(
            lambda r: self._status(r, self.lipsyncs)
        )
        route('/v3/users/me', method='GET').respond_with_handler(self._me)

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        envelope = {'code': code, 'message': message, 'param': None, 'doc_url': f'https://docs.heygen.com/{code}'}
        return _json({'error': envelope}, status, headers)

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get('X-Api-Key') != self.api_key:
            return self._error(401, 'unauthorized', 'Invalid API key')
        return None

    def _transport_fault(self) -> Response | None:
        """v3 answers: the envelope, and 429 with the standard retry headers."""
        if self.mode == '429':
            return self._error(429, 'rate_limit_exceeded', 'Too many requests', {'Retry-After': '7'})
        if self.mode == '429-no-retry-after':
            return self._error(429, 'rate_limit_exceeded', 'Too many requests')
        if self.mode == '429-reset':
            return self._error(429, 'rate_limit_exceeded', 'Too many requests', {'RateLimit-Reset': '5'})
        if self.mode == 'insufficient-credit':
            # The code, not the status, says quota: the fake answers 400 (the status is not documented).
            return self._error(400, 'insufficient_credit', 'Insufficient credit')
        if self.mode == 'validation':
            return self._error(400, 'validation_error', 'avatar_id is not a valid avatar')
        return super()._transport_fault()

    def _me(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        wallet = {'currency': 'usd', 'remaining_balance': 12.5}
        user = {'username': 'santa', 'email': None, 'first_name': None, 'last_name': None}
        return _json({'data': {**user, 'billing_type': 'wallet', 'wallet': wallet}})

    def _upload(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        upload = request.files.get('file')
        if upload is None:
            return self._error(400, 'validation_error', 'multipart field file is required')
        suffix = Path(upload.filename or '').suffix.lower()
        if suffix not in ('.wav', '.mp3', '.mp4', '.webm', '.png', '.jpg', '.jpeg'):
            return self._error(400, 'validation_error', f'unsupported file type {suffix}')
        data = upload.read()
        if len(data) > 32 * 1024 * 1024:
            return self._error(413, 'payload_too_large', 'files are limited to 32 MB')
        asset_id = self._new_id('asset')
        path = self.files / f'{asset_id}{suffix}'
        path.write_bytes(data)
        try:
            probe(path)
        except MediaError:
            return self._error(400, 'validation_error', 'corrupt file')
        self.assets[asset_id] = path
        return _json({'data': {'asset_id': asset_id, 'url': self.url(f'/media/{path.name}')}})

    def _charge(self, job: Job, jobs: dict[str, Job], body: Any) -> bool:
        """Create and bill the job; True when the switch says its answer is lost."""
        with self._lock:
            jobs[job.id] = job
        self.ledger.charge(None, body, job.id)
        return self.ledger.lose_this_answer()

    def _create_video(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._transport_fault()) is not None:
            return fault
        body = request.get_json(silent=True) or {}
        if body.get('type') != 'avatar' or not body.get('avatar_id'):
            return self._error(400, 'validation_error', 'type must be avatar with an avatar_id')
        if body.get('audio_asset_id') not in self.assets:
            return self._error(400, 'validation_error', 'audio_asset_id: no such asset')
        resolution, aspect = body.get('resolution', '1080p'), body.get('aspect_ratio', '16:9')
        if resolution not in self.RESOLUTIONS or aspect not in self.ASPECTS:
            return self._error(400, 'validation_error', 'resolution or aspect_ratio not supported')
        job = Job(self._new_id('video'), self.assets[body['audio_asset_id']], body=body)
        if self._charge(job, self.jobs, body):
            return lost_answer()
        return _json({'data': {'video_id': job.id, 'status': 'waiting', 'output_format': 'mp4'}})

    def _create_lipsync(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._transport_fault()) is not None:
            return fault
        body = request.get_json(silent=True) or {}
        video, audio = body.get('video') or {}, body.get('audio') or {}
        if video.get('type') != 'url' or audio.get('type') != 'url':
            return self._error(400, 'validation_error', 'video and audio are required ({type: url, url})')
        if body.get('mode', 'speed') not in ('speed', 'precision'):
            return self._error(400, 'validation_error', 'mode must be speed or precision')
        job = Job(self._new_id('lipsync'), Path(), body=body)
        if self._charge(job, self.lipsyncs, body):
            return lost_answer()
        return _json({'data': {'lipsync_id': job.id}})

    def _list(self, request: Request, jobs: dict[str, Job]) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        items = [{'id': job.id, 'title': job.body.get('title'), 'status': 'processing'} for job in jobs.values()]
        return _json({'data': items[::-1], 'has_more': False, 'next_token': None})

    def _status(self, request: Request, jobs: dict[str, Job]) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._poll_fault()) is not None:
            return fault
        job = jobs.get(Path(request.path).name)
        if job is None:
            return self._error(404, 'not_found', 'video not found')
        data: dict[str, Any] = {'id': job.id, 'title': job.body.get('title'), 'video_url': None,
                                'failure_code': None, 'failure_message': None}  # fmt: skip
        if job.final is not None:
            data.update(job.final)
        elif self._still_working(job):
            data['status'] = 'pending' if job.polls == 1 else 'processing'
        elif self.mode == 'failed':
            data.update(status='failed', failure_code='avatar_render_error', failure_message='Avatar render crashed')
        elif self.mode == 'failed-transient':
            data.update(status='failed', failure_code='internal_error', failure_message='Internal error, retry')
        elif self.mode == 'moderation':
            data.update(status='failed', failure_code='content_moderation', failure_message='Input rejected')
        else:
            data.update(status='completed', video_url=self.url(f'/media/{self._render(job).name}'), duration=None)
        if data['status'] in ('completed', 'failed'):
            job.final = {k: data[k] for k in ('status', 'video_url', 'failure_code', 'failure_message')}
        return _json({'data': data})

    def _render(self, job: Job) -> Path:
        if job.id.startswith('video'):
            return self._clip(job)
        with self._lock:
            if job.clip is None:
                out = self.files / f'{job.id}.mp4'
                job.clip = lipsynced_clip(job.body['video']['url'], job.body['audio']['url'], out)
            return job.clip


class FakeHiggsfield(_Fake):
    """`POST /v1/speak/higgsfield` and `GET /v1/job-sets/<id>`; it fetches the image and audio URLs.

    Contract read 2026-12-01: official JS SDK higgsfield-ai/higgsfield-js src/v2/types.ts and
    README (Speak body, WAV only, 5/10/15 s), docs.higgsfield.ai authentication (hf-api-key +
    hf-secret, `Authorization: Key id:secret` also accepted; 401 {"detail":"Invalid credentials"}),
    docs.higgsfield.ai/docs/concepts/idempotency (same key + other body -> 422; a replay returns
    the original job, terminal ones included, and is not charged), rate-limits and capacity
    pages (400 concurrent-requests detail; 429 account_queue_full with Retry-After).
    """

    key_id = 'hf-id'
    key_secret = 'hf-secret'

    def __post_init__(self) -> None:
        super().__post_init__()
        self.by_idempotency: dict[str, tuple[str, Any]] = {}
        self.fetched_audio: list[Path] = []
        self.ledger = ChargeLedger()
        self.server.expect_request('/v1/speak/higgsfield', method='POST').respond_with_handler(self._speak)
        self.server.expect_request(re.compile(r'^/v1/job-sets/[\w-]+$'), method='GET').respond_with_handler(
            self._job_set
        )

    def _unauthorized(self, request: Request) -> Response | None:
        pair = (request.headers.get('hf-api-key'), request.headers.get('hf-secret'))
        if pair != (self.key_id, self.key_secret) and (
            request.headers.get('Authorization') != f'Key {self.key_id}:{self.key_secret}'
        ):
            return _json({'detail': 'Invalid credentials'}, 401)
        return None

    def _fetch(self, url: str, name: str) -> Path:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        path = self.files / name
        path.write_bytes(response.content)
        return path

    def _speak(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._transport_fault()) is not None:
            return fault
        if self.mode == '400-concurrency':
            return _json({'detail': 'Maximum number of concurrent requests (4) has been reached'}, 400)
        if self.mode == '429-queue-full':
            return _json({'code': 'account_queue_full', 'limit': 8}, 429, {'Retry-After': '9'})
        body = request.get_json(silent=True) or {}
        key = request.headers.get('Idempotency-Key')
        if key is not None:
            if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
                return _json({'detail': 'invalid Idempotency-Key'}, 422)
            if key in self.by_idempotency:
                job_id, first_body = self.by_idempotency[key]
                if first_body != body:
                    return _json({'detail': 'Idempotency-Key reused with different parameters'}, 422)
                return _json(self._public(self.jobs[job_id]))  # a replay: the original job, not charged
        problem, audio = self._validate(body.get('params') or {})
        if problem:
            return _json({'detail': problem}, 422)
        assert audio is not None
        job = Job(self._new_id('jobset-'), audio, body=body)
        self.jobs[job.id] = job
        if key is not None:
            self.by_idempotency[key] = (job.id, body)
        self.ledger.charge(key, body, job.id)
        if self.ledger.lose_this_answer():
            return lost_answer()
        return _json(self._public(job))

    def _validate(self, params: dict[str, Any]) -> tuple[str, Path | None]:
        image = params.get('input_image') or {}
        sound = params.get('input_audio') or {}
        if image.get('type') != 'image_url' or sound.get('type') != 'audio_url':
            return 'input_image must be image_url and input_audio audio_url', None
        if params.get('duration') not in (5, 10, 15) or params.get('quality') not in ('mid', 'high'):
            return 'duration must be 5, 10 or 15 and quality mid or high', None
        n = len(self.fetched_audio)
        try:
            picture = self._fetch(image['image_url'], f'in-image-{n}.jpg').read_bytes()
            audio = self._fetch(sound['audio_url'], f'in-audio-{n}.wav')
            info = probe(audio)
        except (requests.RequestException, MediaError) as exc:
            return f'cannot fetch inputs: {exc}', None
        if not picture.startswith((b'\xff\xd8\xff', b'\x89PNG')):
            return 'input_image must be a JPEG or PNG', None
        if info.format_name != 'wav':
            return 'Only WAV files are supported', None
        if info.duration > min(HIGGSFIELD_MAX_SECONDS, params['duration']) + 0.05:
            return f'audio is {info.duration:.2f} s, longer than duration {params["duration"]}', None
        self.fetched_audio.append(audio)
        return '', audio

    def _public(self, job: Job, status: str = 'queued', url: str | None = None) -> dict[str, Any]:
        results = {'raw': {'url': url, 'type': 'video'}, 'min': {'url': url, 'type': 'video'}} if url else None
        return {'id': job.id, 'jobs': [{'id': f'{job.id}-0', 'status': status, 'results': results}]}

    def _job_set(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._poll_fault()) is not None:
            return fault
        job = self.jobs.get(Path(request.path).name)
        if job is None:
            return _json({'detail': 'Not found'}, 404)
        if job.final is not None:  # a terminal job keeps its identity (and its answer)
            return _json(self._public(job, job.final['status'], job.final['url']))
        if self._still_working(job):
            return _json(self._public(job, 'queued' if job.polls == 1 else 'in_progress'))
        if self.mode in ('failed', 'nsfw', 'canceled'):
            job.final = {'status': self.mode, 'url': None}
            return _json(self._public(job, self.mode))
        job.final = {'status': 'completed', 'url': self.url(f'/media/{self._clip(job).name}')}
        return _json(self._public(job, 'completed', job.final['url']))
