"""A client for self-hosted lip-sync models served with Cog's HTTP contract (MuseTalk, Wav2Lip).

    POST {url}/predictions  {"input": {"video": <url>, "audio": <url>, ...}}
      -> 200 {"status": "succeeded", "output": <url or data: URI>} | {"status": "failed", "error": "..."}
      -> 409 while the server is running another prediction (Cog runs one at a time)
    GET  {url}/health-check -> {"status": "READY" | "BUSY" | "STARTING" | "SETUP_FAILED" | ...}

The prediction is synchronous: Cog's async mode reports only by webhook and cannot be polled,
so the call's read timeout is the whole lip-sync deadline. docs/self-hosted-lipsync.md tells
how to run a server that answers this way.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from providers.base import LipSyncProvider, Speech
from providers.errors import ContentRejected, PermanentProviderError, ProviderError, TransientProviderError
from providers.http import HttpTimeouts, download_media, json_body, mapped_errors
from providers.lipsync_inputs import inputs_digest, publish_inputs
from storage.base import Storage
from utils.probe import MediaError, probe

DEFAULT_TIMEOUTS = HttpTimeouts()
_DATA_URI = re.compile(r'^data:(?P<mime>[^;,]*)(?P<b64>;base64)?,(?P<data>.*)$', re.DOTALL)
# How the predictors of docs/self-hosted-lipsync.md report failures, by the models' own messages:
# - no face in the footage (Wav2Lip's ValueError('Face not detected! ...'), LatentSync's
#   RuntimeError("Face not detected"), our MuseTalk sketch's "no face detected in any frame"):
#   this footage is refused as it is, like a vendor's moderation: ContentRejected;
# - a GPU shared with other work running out of memory (torch.OutOfMemoryError / "CUDA out of
#   memory" / "CUDA error: out of memory") can succeed later: transient; other failures repeat.
_NO_FACE = ('face not detected', 'no face detected', 'face not found')
_TRANSIENT_FAILURES = ('out of memory', 'outofmemoryerror', 'cuda error', 'timed out')


class CogLipSync(LipSyncProvider):
    name = 'cog'

    def __init__(
        self,
        url: str,
        storage: Storage,
        *,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        deadline: float = 900.0,
        extra_input: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url.rstrip('/')
        self.storage = storage
        self.timeouts = timeouts
        self.deadline = deadline
        self.extra_input = dict(extra_input or {})
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def health(self) -> str:
        """The server's status (READY when it can take a prediction); raises a provider error if unreachable."""
        with mapped_errors(self.name):
            response = self._session.get(f'{self.url}/health-check', timeout=self.timeouts.pair())
            body = json_body(self.name, response)
        status = body.get('status') if isinstance(body, dict) else None
        if not isinstance(status, str):
            raise TransientProviderError(self.name, f'unexpected health-check answer: {str(body)[:200]}')
        return status

    def check_reachable(self) -> str:
        """`GET /health-check` (our own server: no key to prove, but the URL and the model's state)."""
        status = self.health()
        # BUSY is a healthy server running another prediction; STARTING, SETUP_FAILED, ... are not ready.
        if status not in ('READY', 'BUSY'):
            raise TransientProviderError(self.name, f'health-check status {status}')
        return f'GET /health-check: {status}'

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        key = inputs_digest(video, speech, self.name, repr(sorted(self.extra_input.items())))
        inputs = publish_inputs(
            self.name, self.storage, video, speech, workdir, key=key, expires_seconds=int(self.deadline) + 3600
        )
        payload = {'input': {'video': inputs.video_url, 'audio': inputs.audio_url, **self.extra_input}}
        with mapped_errors(self.name):
            # The answer comes only when inference is done: the read timeout is the whole deadline.
            response = self._session.post(
                f'{self.url}/predictions', json=payload, timeout=(self.timeouts.connect, self.deadline)
            )
            prediction = json_body(self.name, response)
        if not isinstance(prediction, dict):
            raise TransientProviderError(self.name, f'unexpected prediction: {str(prediction)[:200]}')
        dest = workdir / f'lipsync-{self.name}-{uuid.uuid4().hex[:8]}.mp4'
        return self._output(prediction, dest)

    def _output(self, prediction: dict[str, Any], dest: Path) -> Path:
        status = prediction.get('status')
        if status != 'succeeded':
            raise self._failure(status, str(prediction.get('error') or f'status {status!r}'))
        output = prediction.get('output')
        if isinstance(output, list) and len(output) == 1:
            output = output[0]  # predictors declared to return list[Path]
        if not isinstance(output, str) or not output:
            raise TransientProviderError(self.name, f'prediction succeeded without an output: {str(output)[:200]}')
        if output.startswith('data:'):
            return self._save_data_uri(output, dest)
        return download_media(
            self.name, self._session, urljoin(self.url + '/', output), dest, self.timeouts, want_video=True
        )

    def _failure(self, status: object, error: str) -> ProviderError:
        lowered = error.lower()
        if status == 'failed' and any(hint in lowered for hint in _NO_FACE):
            return ContentRejected(self.name, f'prediction failed, no face in the footage: {error[:300]}')
        if status != 'failed' or any(hint in lowered for hint in _TRANSIENT_FAILURES):
            return TransientProviderError(self.name, f'prediction did not succeed: {error[:300]}')
        return PermanentProviderError(self.name, f'prediction failed: {error[:300]}')

    def _save_data_uri(self, uri: str, dest: Path) -> Path:
        """Cog inlines output files as data URIs when it has no upload URL configured."""
        match = _DATA_URI.match(uri)
        if match is None or not match['b64']:
            raise TransientProviderError(self.name, 'output data URI is not base64')
        try:
            dest.write_bytes(base64.b64decode(match['data'], validate=True))
        except binascii.Error as exc:
            raise TransientProviderError(self.name, f'output data URI does not decode: {exc}') from exc
        try:
            info = probe(dest)
        except MediaError as exc:
            dest.unlink(missing_ok=True)
            raise TransientProviderError(self.name, f'output is not readable media: {exc}') from exc
        if not info.has_video or info.duration <= 0:
            dest.unlink(missing_ok=True)
            raise TransientProviderError(self.name, 'output has no video')
        return dest
