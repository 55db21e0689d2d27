"""Local fake servers speaking the talking-video vendors' documented contracts (HeyGen v2/v1 and
Higgsfield Speak; /work/shared/reference/provider-contracts.md sections 3 and 4).

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
    """`POST /upload/v1/asset` (the upload host), `POST /v2/video/generate`, `GET /v1/video_status.get`."""

    api_key = 'heygen-test-key'

    def __post_init__(self) -> None:
        super().__post_init__()
        self.assets: dict[str, Path] = {}
        self.server.expect_request('/upload/v1/asset', method='POST').respond_with_handler(self._upload)
        self.server.expect_request('/v2/video/generate', method='POST').respond_with_handler(self._generate)
        self.server.expect_request('/v1/video_status.get', method='GET').respond_with_handler(self._status)

    @property
    def upload_url(self) -> str:
        return self.url('/upload')

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get('X-Api-Key') != self.api_key:
            return _json({'error': {'code': 'unauthorized', 'message': 'Invalid API key'}}, 401)
        return None

    def _upload(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        suffix = {'audio/wav': '.wav', 'audio/mpeg': '.mp3'}.get(request.content_type or '')
        if suffix is None:
            return _json({'code': 400, 'message': f'unsupported content type {request.content_type}'}, 400)
        asset_id = self._new_id('asset')
        path = self.files / f'{asset_id}{suffix}'
        path.write_bytes(request.get_data())
        try:
            probe(path)
        except MediaError:
            return _json({'code': 400, 'message': 'corrupt file'}, 400)
        self.assets[asset_id] = path
        return _json({'code': 100, 'data': {'id': asset_id, 'url': self.url(f'/media/{path.name}'),
                                            'file_type': 'audio'}, 'msg': None, 'message': None})  # fmt: skip

    def _generate(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._transport_fault()) is not None:
            return fault
        if self.mode == 'request-limit':
            return _json({'error': {'code': 400, 'message': 'You have hit the request limit'}, 'data': None}, 400)
        if self.mode == 'insufficient-credit':
            return _json({'error': {'code': 'insufficient_credit', 'message': 'Insufficient credit'}}, 400)
        body = request.get_json(silent=True) or {}
        scene = (body.get('video_inputs') or [{}])[0]
        voice = scene.get('voice') or {}
        character = scene.get('character') or {}
        dimension = body.get('dimension') or {}
        if voice.get('type') != 'audio' or voice.get('audio_asset_id') not in self.assets:
            return _json({'error': {'message': 'Either `audio_url` or `audio_asset_id` needs to be provided.'}}, 400)
        if character.get('type') not in ('avatar', 'talking_photo'):
            return _json({'error': {'message': 'character.type is invalid'}}, 400)
        if not all(128 <= int(dimension.get(side, 0)) <= 4096 for side in ('width', 'height')):
            return _json({'error': {'message': 'dimension out of range'}}, 400)
        job = Job(self._new_id('video'), self.assets[voice['audio_asset_id']], body=body)
        self.jobs[job.id] = job
        return _json({'error': None, 'data': {'video_id': job.id}})

    def _status(self, request: Request) -> Response:
        self._seen(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if (fault := self._poll_fault()) is not None:
            return fault
        job = self.jobs.get(request.args.get('video_id', ''))
        if job is None:
            return _json({'code': 404, 'message': 'video not found', 'data': None}, 404)
        data: dict[str, Any] = {'id': job.id, 'video_url': None, 'error': None}
        if self._still_working(job):
            data['status'] = ('waiting', 'pending', 'processing')[min(job.polls, 3) - 1]
        elif self.mode == 'failed':
            data.update(status='failed', error={'code': 40009, 'message': 'Avatar render crashed'})
        elif self.mode == 'moderation':
            data.update(status='failed', error={'code': 40105, 'message': 'Content moderation: input rejected'})
        else:
            data.update(status='completed', video_url=self.url(f'/media/{self._clip(job).name}'), duration=None)
        return _json({'code': 100, 'data': data, 'message': 'Success'})


class FakeHiggsfield(_Fake):
    """`POST /v1/speak/higgsfield` and `GET /v1/job-sets/<id>`; it fetches the image and audio URLs."""

    key_id = 'hf-id'
    key_secret = 'hf-secret'

    def __post_init__(self) -> None:
        super().__post_init__()
        self.by_idempotency: dict[str, tuple[str, Any]] = {}
        self.fetched_audio: list[Path] = []
        self.server.expect_request('/v1/speak/higgsfield', method='POST').respond_with_handler(self._speak)
        self.server.expect_request(re.compile(r'^/v1/job-sets/[\w-]+$'), method='GET').respond_with_handler(
            self._job_set
        )

    def _unauthorized(self, request: Request) -> Response | None:
        if request.headers.get('Authorization') != f'Key {self.key_id}:{self.key_secret}':
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
                return _json(self._public(self.jobs[job_id]))
        problem, audio = self._validate(body.get('params') or {})
        if problem:
            return _json({'detail': problem}, 422)
        assert audio is not None
        job = Job(self._new_id('jobset-'), audio, body=body)
        self.jobs[job.id] = job
        if key is not None:
            self.by_idempotency[key] = (job.id, body)
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
        if self._still_working(job):
            return _json(self._public(job, 'queued' if job.polls == 1 else 'in_progress'))
        if self.mode in ('failed', 'nsfw', 'canceled'):
            return _json(self._public(job, self.mode))
        return _json(self._public(job, 'completed', self.url(f'/media/{self._clip(job).name}')))
