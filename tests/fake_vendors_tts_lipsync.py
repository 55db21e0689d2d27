"""Local fake servers speaking the TTS and lip-sync vendors' documented contracts.

Each fake runs on a pytest-httpserver `HTTPServer` (threaded, loopback) and has a `mode` to
switch failures on: rate limits with and without Retry-After, 5xx, slow answers (longer than
the client's read timeout), FAILED/REJECTED jobs, malformed JSON and truncated media.
Media they return is real: audio and video rendered by FFmpeg; the lip-sync fakes fetch the
published input URLs (so a test proves they work) and answer with the input video re-encoded
with the speech muxed in. Contracts: /work/shared/reference/provider-contracts.md 1, 2 and 5.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fake_vendor_charges import ChargeLedger, lost_answer
from utils.proc import run

FFMPEG_TIMEOUT = 60
_IDEMPOTENCY_KEY = re.compile(r'^[A-Za-z0-9._~-]{1,128}$')


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def _record(request: Request) -> Recorded:
    try:
        body = json.loads(request.get_data(as_text=True) or 'null')
    except ValueError:
        body = request.get_data(as_text=True)
    return Recorded(
        request.method,
        request.path,
        dict(request.args),
        {k.lower(): v for k, v in request.headers.items()},
        body,
    )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type='application/json')


def render_tone(path: Path, seconds: float) -> Path:
    """A real audio file (format from the suffix) `seconds` long."""
    run(
        ['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', f'sine=f=180:r=44100:d={seconds}', str(path)],
        timeout=FFMPEG_TIMEOUT,
    )
    return path


@functools.cache
def _tone_mp3(seconds: float) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return render_tone(Path(tmp) / 'tone.mp3', seconds).read_bytes()


def lipsynced_clip(video_url: str, audio_url: str, out: Path) -> Path:
    """What a lip-sync vendor hands back: the input video re-encoded with the speech, fetched by URL."""
    inputs = []
    for url, name in ((video_url, 'in-video'), (audio_url, 'in-audio')):
        response = requests.get(url, timeout=10)
        response.raise_for_status()  # an unpublished URL fails the fake, hence the test
        local = out.with_name(f'{out.stem}-{name}{Path(url).suffix}')
        local.write_bytes(response.content)
        inputs.append(local)
    run(
        ['ffmpeg', '-v', 'error', '-y', '-i', str(inputs[0]), '-i', str(inputs[1]), '-map', '0:v', '-map', '1:a',
         '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', str(out)],
        timeout=FFMPEG_TIMEOUT,
    )  # fmt: skip
    return out


class _Fake:
    def __init__(self, server: HTTPServer, files: Path) -> None:
        self.server = server
        self.files = files
        files.mkdir(parents=True, exist_ok=True)
        self.mode = 'ok'
        self.delay = 1.0  # seconds a 'slow' answer takes
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        server.expect_request(re.compile(r'^/files/[^/]+$'), method='GET').respond_with_handler(self._file)

    @property
    def base_url(self) -> str:
        return self.server.url_for('').rstrip('/')

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def _keep(self, request: Request) -> Recorded:
        recorded = _record(request)
        with self._lock:
            self.requests.append(recorded)
        return recorded

    def _file(self, request: Request) -> Response:
        self._keep(request)
        path = self.files / Path(request.path).name
        if not path.is_file():
            return Response('not found', status=404)
        data = path.read_bytes()
        if self.mode == 'truncated':
            data = data[: len(data) // 2]  # the connection "dropped" halfway: headers fine, body cut
        return Response(data, content_type='video/mp4')


class FakeElevenLabs(_Fake):
    """`POST /v1/text-to-speech/{voice_id}/with-timestamps` and `GET /v1/voices/{voice_id}` (section 1).

    Contract read 2026-12-01: elevenlabs.io/docs/eleven-api/resources/errors (current body
    `{"detail": {type, code, message, request_id, param}}`: 429 rate_limit_exceeded and
    concurrent_limit_exceeded, quota as code quota_exceeded with HTTP 401), the help-centre
    pages for the older `{"detail": {status, message}}` (too_many_concurrent_requests,
    system_busy, invalid_api_key, quota_exceeded), SDK elevenlabs 2.x
    text_to_speech/raw_client.py for the endpoints and the 422 validation body.
    `shape` picks which error body the fake speaks: 'current' (default) or 'legacy'.

    Modes: ok, rate_limited (429 concurrency, Retry-After: 7), rate_limit (429 request rate,
    retry-after-ms: 1500), system_busy (429, no Retry-After), unauthorized (401 invalid_api_key),
    quota (401 quota_exceeded), validation (422 validation error), server_error (500), slow,
    malformed (200 that is not JSON), bad_audio (base64 of bytes that are not audio).
    """

    # code in the legacy shape -> (type, code) in the current one
    CURRENT = {
        'too_many_concurrent_requests': ('rate_limit_error', 'concurrent_limit_exceeded'),
        'rate_limit_exceeded': ('rate_limit_error', 'rate_limit_exceeded'),
        'system_busy': ('service_unavailable', 'system_busy'),
        'invalid_api_key': ('authentication_error', 'invalid_api_key'),
        'quota_exceeded': ('quota_error', 'quota_exceeded'),
        'internal_error': ('internal_server_error', 'internal_error'),
        'validation_error': ('validation_error', 'validation_error'),
    }

    def __init__(self, server: HTTPServer, files: Path, *, api_key: str = 'test-key', seconds: float = 1.2) -> None:
        super().__init__(server, files)
        self.api_key = api_key
        self.shape = 'current'
        self.audio = _tone_mp3(seconds)
        self.seconds = seconds
        server.expect_request(
            re.compile(r'^/v1/text-to-speech/[^/]+/with-timestamps$'), method='POST'
        ).respond_with_handler(self._tts)
        server.expect_request(re.compile(r'^/v1/voices/[^/]+$'), method='GET').respond_with_handler(self._voice)

    def _voice(self, request: Request) -> Response:
        recorded = self._keep(request)
        if recorded.headers.get('xi-api-key') != self.api_key or self.mode == 'unauthorized':
            return self._error(401, 'invalid_api_key')
        return _json({'voice_id': Path(request.path).name, 'name': 'Papá Noel', 'category': 'cloned'})

    def _error(self, status: int, code: str, headers: dict[str, str] | None = None) -> Response:
        if self.shape == 'legacy':
            if code == 'validation_error':
                return _json({'detail': [{'loc': ['body', 'text'], 'msg': 'field required'}]}, status)
            return _json({'detail': {'status': code, 'message': f'fake {code}'}}, status, headers)
        kind, current = self.CURRENT[code]
        detail = {'type': kind, 'code': current, 'message': f'fake {current}', 'request_id': 'req-1',
                  'param': 'text' if kind == 'validation_error' else None}  # fmt: skip
        return _json({'detail': detail}, status, headers)

    def _tts(self, request: Request) -> Response:
        recorded = self._keep(request)
        if recorded.headers.get('xi-api-key') != self.api_key or self.mode == 'unauthorized':
            return self._error(401, 'invalid_api_key')
        if not isinstance(recorded.body, dict) or not recorded.body.get('text') or self.mode == 'validation':
            return self._error(422, 'validation_error')
        match self.mode:
            case 'rate_limited':
                return self._error(429, 'too_many_concurrent_requests', {'Retry-After': '7'})
            case 'rate_limit':
                return self._error(429, 'rate_limit_exceeded', {'retry-after-ms': '1500'})
            case 'system_busy':
                return self._error(429, 'system_busy')
            case 'quota':
                return self._error(401, 'quota_exceeded')
            case 'server_error':
                return self._error(500, 'internal_error')
            case 'malformed':
                return Response('{"audio_base64": "AAAA', status=200, content_type='application/json')
            case 'slow':
                time.sleep(self.delay)
        audio = b'this is not audio at all' * 40 if self.mode == 'bad_audio' else self.audio
        text = recorded.body['text']
        step = self.seconds / max(len(text), 1)
        alignment = {
            'characters': list(text),
            'character_start_times_seconds': [round(i * step, 3) for i in range(len(text))],
            'character_end_times_seconds': [round((i + 1) * step, 3) for i in range(len(text))],
        }
        return _json(
            {
                'audio_base64': base64.b64encode(audio).decode(),
                'alignment': alignment,
                'normalized_alignment': alignment,
            }
        )


@dataclass
class _Generation:
    id: str
    body: dict[str, Any]
    key: str | None = None
    status: str = 'PENDING'
    polls: int = 0
    output: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FakeSyncLabs(_Fake):
    """`POST /v2/generate`, `GET /v2/generate/{id}`, output served under /files/ (section 2).

    Contract read 2026-12-01: sync.so/docs/api-reference/guides/idempotency (a key is reused
    "with the same payload on every retry"; 1-128 of [A-Za-z0-9._~-], else 400
    INVALID_IDEMPOTENCY_KEY), docs.sync.so get-generate (statuses incl. CANCELED, TIMED_OUT on
    one copy; outputMediaUrl with outputUrl a deprecated alias; errorCode beside error_code),
    rate-limits and error-handling pages (429 body {statusCode, errorCode, message, error}).
    The guide states the rule but no answer code for a conflict was found: the fake answers
    409 errorCode IDEMPOTENCY_KEY_REUSED [INF]. A replay of a key (same body) returns its
    generation as it stands, a FAILED one included, and is not charged again.

    Modes: ok, failed, failed_transient (FAILED with error_code internal_error), rejected,
    canceled, timed_out, rate_limited (429 rate_limit_exceeded with Retry-After: 3), concurrency
    (429, other errorCode, no Retry-After), server_error (500 on create), quota (402),
    malformed (create answers non-JSON), never_finishes (stays PROCESSING), poll_errors (the
    first two polls answer 503), truncated (the output file is served cut in half).
    `fields` picks the names a generation is described with: 'both' (default), 'new'
    (outputMediaUrl/errorCode only) or 'old' (outputUrl/error_code only).
    Chaos: `ledger` (tests/fake_vendor_charges.py) counts charges and can lose answers.
    """

    def __init__(self, server: HTTPServer, files: Path, *, api_key: str = 'sync-key') -> None:
        super().__init__(server, files)
        self.api_key = api_key
        self.fields = 'both'
        self.generations: dict[str, _Generation] = {}
        self.by_key: dict[str, str] = {}
        self.ledger = ChargeLedger()
        server.expect_request('/v2/generate', method='POST').respond_with_handler(self._create)
        server.expect_request(re.compile(r'^/v2/generate/[^/]+$'), method='GET').respond_with_handler(self._get)

    @staticmethod
    def _error(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
        return _json(
            {'statusCode': status, 'errorCode': code, 'message': f'fake {code}', 'error': code}, status, headers
        )

    def _create(self, request: Request) -> Response:
        recorded = self._keep(request)
        if recorded.headers.get('x-api-key') != self.api_key:
            return self._error(401, 'unauthorized')
        key = recorded.headers.get('idempotency-key')
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            return self._error(400, 'INVALID_IDEMPOTENCY_KEY')
        body = recorded.body
        kinds = [item.get('type') for item in body.get('input', [])] if isinstance(body, dict) else []
        if not isinstance(body, dict) or not body.get('model') or 'video' not in kinds or 'audio' not in kinds:
            return self._error(400, 'bad_request')
        match self.mode:
            case 'rate_limited':
                return self._error(429, 'rate_limit_exceeded', {'Retry-After': '3'})
            case 'concurrency':
                return self._error(429, 'concurrency_limit_exceeded')
            case 'server_error':
                return self._error(500, 'internal_error')
            case 'quota':
                return self._error(402, 'payment_required')
            case 'malformed':
                return Response('<html>bad gateway</html>', status=200, content_type='text/html')
        with self._lock:
            if key is not None and key in self.by_key:
                earlier = self.generations[self.by_key[key]]
                if earlier.body != body:
                    return self._error(409, 'IDEMPOTENCY_KEY_REUSED')
                return _json(self._public(earlier), 200)
            generation = _Generation(id=str(uuid.uuid4()), body=body, key=key)
            self.generations[generation.id] = generation
            if key is not None:
                self.by_key[key] = generation.id
        self.ledger.charge(key, body, generation.id)
        if self.ledger.lose_this_answer():
            return lost_answer()
        return _json(self._public(generation), 201)

    def _get(self, request: Request) -> Response:
        recorded = self._keep(request)
        if recorded.headers.get('x-api-key') != self.api_key:
            return self._error(401, 'unauthorized')
        generation = self.generations.get(Path(request.path).name)
        if generation is None:
            return self._error(404, 'not_found')
        generation.polls += 1
        if self.mode == 'poll_errors' and generation.polls <= 2:
            return self._error(503, 'service_unavailable')
        if generation.status == 'PENDING':
            generation.status = 'PROCESSING'
        elif generation.status == 'PROCESSING' and self.mode != 'never_finishes':
            self._finish(generation)
        return _json(self._public(generation))

    def _finish(self, generation: _Generation) -> None:
        endings = {
            'rejected': ('REJECTED', 'content moderation', 'content_rejected'),
            'failed': ('FAILED', 'no face detected in the video', 'face_not_detected'),
            'failed_transient': ('FAILED', 'worker crashed', 'internal_error'),
            'canceled': ('CANCELED', 'canceled by the user', None),
            'timed_out': ('TIMED_OUT', 'generation exceeded its time limit', None),
        }
        if self.mode in endings:
            generation.status, error, code = endings[self.mode]
            generation.extra = {'error': error, 'error_code': code}
        else:
            urls = {item['type']: item['url'] for item in generation.body['input']}
            lipsynced_clip(urls['video'], urls['audio'], self.files / f'{generation.id}.mp4')
            generation.status = 'COMPLETED'
            generation.output = f'{self.base_url}/files/{generation.id}.mp4'

    def _public(self, generation: _Generation) -> dict[str, Any]:
        public: dict[str, Any] = {
            'id': generation.id,
            'createdAt': '2026-11-22T00:00:00Z',
            'status': generation.status,
            'model': generation.body.get('model'),
            'input': generation.body.get('input'),
            'options': generation.body.get('options'),
            'outputDuration': None,
            'error': generation.extra.get('error'),
        }
        if self.fields in ('both', 'new'):
            public.update(outputMediaUrl=generation.output, errorCode=generation.extra.get('error_code'))
        if self.fields in ('both', 'old'):
            public.update(outputUrl=generation.output, error_code=generation.extra.get('error_code'))
        return public


class FakeCog(_Fake):
    """A Cog server for a lip-sync model: `POST /predictions` (synchronous), `GET /health-check` (section 5).

    The failure messages are those the predictors of docs/self-hosted-lipsync.md report (the
    models' own exceptions, read 2026-12-01 in Rudrabha/Wav2Lip @5c90fa9 inference.py and
    TMElyralab/MuseTalk @0a89dec scripts/inference.py; replicate/cog docs/http.md for the wire).

    Modes: ok (output is a URL), data_uri (output inlined as a data URI), failed (Wav2Lip's
    "Face not detected!"), failed_no_face (our MuseTalk sketch's message), failed_oom
    (torch.OutOfMemoryError), failed_cuda_oom ("CUDA error: out of memory"), failed_other (a
    RuntimeError that repeats), busy (409), server_error (500), slow, malformed, truncated (the
    output URL serves half the MP4).
    """

    def __init__(self, server: HTTPServer, files: Path) -> None:
        super().__init__(server, files)
        server.expect_request('/predictions', method='POST').respond_with_handler(self._predict)
        server.expect_request('/health-check', method='GET').respond_with_handler(
            lambda request: _json({'status': 'BUSY' if self.mode == 'busy' else 'READY', 'setup': {}})
        )

    def _predict(self, request: Request) -> Response:
        recorded = self._keep(request)
        body = recorded.body
        if not isinstance(body, dict) or not isinstance(body.get('input'), dict):
            return _json({'detail': [{'loc': ['body', 'input'], 'msg': 'field required'}]}, 422)
        match self.mode:
            case 'busy':
                return _json({'detail': 'Already running a prediction'}, 409)
            case 'server_error':
                return Response('Internal Server Error', status=500)
            case 'malformed':
                return Response('{"status": "succ', status=200, content_type='application/json')
            case 'failed':
                return _json({'status': 'failed', 'error': "ValueError('Face not detected! Ensure the video...')"})
            case 'failed_no_face':
                return _json({'status': 'failed', 'error': 'MuseTalk: no face detected in any frame of the video'})
            case 'failed_cuda_oom':
                return _json({'status': 'failed', 'error': 'RuntimeError: CUDA error: out of memory'})
            case 'failed_other':
                return _json({'status': 'failed', 'error': 'RuntimeError: audio features are empty'})
            case 'failed_oom':
                return _json({'status': 'failed', 'error': 'torch.OutOfMemoryError: CUDA out of memory.'})
            case 'slow':
                time.sleep(self.delay)
        name = f'{uuid.uuid4().hex[:8]}.mp4'
        clip = lipsynced_clip(body['input']['video'], body['input']['audio'], self.files / name)
        if self.mode == 'data_uri':
            output = 'data:video/mp4;base64,' + base64.b64encode(clip.read_bytes()).decode()
        else:
            output = f'{self.base_url}/files/{name}'
        return _json({'status': 'succeeded', 'output': output, 'logs': '', 'metrics': {'predict_time': 0.1}})
