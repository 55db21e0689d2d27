"""Signed webhooks against a real local HTTPS receiver that verifies each request with the Standard
Webhooks reference library; the video is made by a real forking worker."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Request, Response

from delivery.webhooks import CallbackRefused, check_callback_url
from records import JobRecords
from tests.web_support import TestClient, web_settings
from tests.workers import ROOT
from web.app import create_app

SECRET = 'whsec_' + base64.b64encode(b'0123456789abcdef0123456789abcdef').decode()
ORDER = {'child_name': 'Sofía', 'age': 6, 'parent_email': 'mama@example.com', 'consent': True}


@pytest.fixture(scope='session')
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp('tls')
    cert, key = where / 'cert.pem', where / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out',
                    str(cert), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


class Receiver:
    """Answers `statuses` in turn (then 200) and keeps every request it verified."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.verified: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.forged = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            payload = Webhook(SECRET).verify(request.get_data(), headers)
        except WebhookVerificationError:
            self.forged += 1
            return Response('bad signature', status=400)
        with self.lock:
            self.verified.append((headers, payload))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response('', status=status)


@pytest.fixture
def receiver(tls_cert: tuple[Path, Path]) -> Iterator[tuple[str, Receiver]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    server = HTTPServer(host='127.0.0.1', port=0, ssl_context=context)
    server.start()
    handler = Receiver()
    server.expect_request('/hooks').respond_with_handler(handler)
    try:
        yield f'https://127.0.0.1:{server.port}/hooks', handler
    finally:
        server.stop()


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, 'worker.py', '--burst'], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_completed_and_deleted_are_signed_retried_and_verified(
    redis_conn: Redis, worker_env: dict[str, str], receiver: tuple[str, Receiver], tls_cert: tuple[Path, Path]
) -> None:
    url, hooks = receiver
    hooks.statuses = [500]  # the first attempt fails: retried, with the same event id
    env = {**worker_env, 'WEBHOOK_SECRET': SECRET, 'WEBHOOK_ALLOW_PRIVATE': 'true',
           'REQUESTS_CA_BUNDLE': str(tls_cert[0]), 'WEBHOOK_RETRY_DELAYS_SECONDS': '[0, 0]',
           'PUBLIC_BASE_URL': 'https://v.example.test'}  # fmt: skip
    settings = web_settings(worker_env, webhook_secret=SECRET, webhook_allow_private=True)
    with TestClient(create_app(settings)) as client:
        answer = client.post('/api/videos', json={**ORDER, 'callback_url': url})
        assert answer.status_code == 202, answer.text
        video_id, page_url = answer.json()['id'], answer.json()['page_url']
        assert run_worker(env).returncode == 0

        assert hooks.forged == 0 and len(hooks.verified) == 2
        (first, body), (second, again) = hooks.verified
        assert first['webhook-id'] == second['webhook-id'] and first['webhook-id'].startswith('evt_')
        assert body == again and body['type'] == 'video.completed'
        assert body['data']['id'] == video_id and body['data']['state'] == 'completed'
        assert body['data']['page_url'] == 'https://v.example.test' + page_url
        assert 'mama@example.com' not in json.dumps(body)
        attempts = [
            e for e in JobRecords(redis_conn).timeline(video_id) if e['event'] == 'webhook:video.completed:attempt'
        ]
        assert [a['outcome'] for a in attempts] == ['http 500', 'delivered']

        assert client.post(f'/api/orders/{page_url.removeprefix("/v/")}/delete').status_code == 200
    assert run_worker(env).returncode == 0
    assert len(hooks.verified) == 3
    headers, deleted = hooks.verified[2]
    assert deleted['type'] == 'video.deleted' and deleted['data']['id'] == video_id
    assert headers['webhook-id'] != first['webhook-id']


def test_a_forged_signature_fails_the_reference_verification() -> None:
    from delivery.webhooks import signed_request

    body, headers = signed_request(SECRET, 'evt_1', {'type': 'video.completed'})
    Webhook(SECRET).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace('completed', 'failed'), headers)


@pytest.mark.parametrize('url', ['http://example.com/hook', 'https://127.0.0.1/hook', 'https://10.0.0.7/hook',
                                 'https://169.254.169.254/latest', 'https://[::1]/hook', 'https://user:pw@1.1.1.1/',
                                 'ftp://1.1.1.1/'])  # fmt: skip
def test_callback_urls_must_be_https_and_public(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_callback_url(url, allow_private=False)


def test_the_api_refuses_a_private_callback_naming_the_field(worker_env: dict[str, str], redis_conn: Redis) -> None:
    settings = web_settings(worker_env, webhook_secret=SECRET)
    with TestClient(create_app(settings)) as client:
        answer = client.post('/api/videos', json={**ORDER, 'callback_url': 'https://127.0.0.1:9/hook'})
        assert answer.status_code == 422
        assert [e['field'] for e in answer.json()['errors']] == ['callback_url']
        assert not redis_conn.keys('papanoel:video:*')
    check_callback_url('https://127.0.0.1:9/hook', allow_private=True)  # what the tests' setting allows
