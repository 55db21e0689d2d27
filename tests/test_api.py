"""The web API in process (Starlette's test client) on the real test Redis; real `worker.py`
processes where a video has to be produced or has to fail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue

import web.api
from compose.assets import DECODED_ASSETS, load_assets
from metrics import Metrics
from records import JobRecords, State
from settings import Settings
from tests.web_support import ADMIN_TOKEN, SECRET_FAILURE, TestClient, free_port, web_settings
from tests.workers import ROOT, start_worker, stop, wait_for
from web.app import create_app
from web.idempotency import Claim, IdempotencyStore, Outcome

ORDER = {
    'child_name': 'Lucía',
    'age': 6,
    'message': '¡Sigue leyendo tanto!',
    'parent_email': 'mama@example.com',
    'language': 'es',
    'consent': True,
}
ADMIN = {'Authorization': f'Bearer {ADMIN_TOKEN}'}
LEAKS = ('Traceback', 'File "', '/srv/', '/tmp/', '/work/', 'sk-live', '.py', 'RuntimeError', 'ConnectionError')


@pytest.fixture
def settings(worker_env: dict[str, str], redis_conn: Redis) -> Settings:
    return web_settings(worker_env)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Clients of apps made for one test, run through their lifespan (which closes the app's Redis connections)."""
    with ExitStack() as stack:

        def make(app: Settings | FastAPI, **kwargs: Any) -> TestClient:
            app = create_app(app) if isinstance(app, Settings) else app
            return stack.enter_context(TestClient(app, raise_server_exceptions=False, **kwargs))

        yield make


def order(**changes: Any) -> dict[str, Any]:
    return {**ORDER, **changes}


def queue_count(conn: Redis, settings: Settings) -> int:
    return Queue(settings.queue_name, connection=conn).count


def assert_no_leak(text: str) -> None:
    for needle in LEAKS:
        assert needle not in text, f'{needle!r} leaked in {text[:300]!r}'


def run_worker_until_done(env: dict[str, str], conn: Redis, video_id: str, log: Path, timeout: float = 90) -> State:
    def finished() -> State | None:
        record = JobRecords(conn).get(video_id)
        return record.state if record and record.state in (State.COMPLETED, State.FAILED) else None

    worker = start_worker(env, '--burst', log=log)
    try:
        state = wait_for(finished, timeout, 0.2, f'video {video_id} to finish')
    finally:
        stop(worker)
    assert state is not None
    return state


# --- ordering ---


def test_a_json_order_is_accepted_and_queued_once(client: TestClient, redis_conn: Redis, settings: Settings) -> None:
    response = client.post('/api/videos', json=ORDER)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body['state'] == 'queued'
    assert body['status_url'] == f'/api/videos/{body["id"]}' == response.headers['location']
    record = JobRecords(redis_conn).get(body['id'])
    assert record is not None and record.order.child_name == 'Lucía' and record.order.age == 6
    assert queue_count(redis_conn, settings) == 1

    status = client.get(body['status_url'])
    assert status.status_code == 200
    assert status.json() | {'created_at': 0, 'updated_at': 0} == {
        'id': body['id'], 'state': 'queued', 'stage': '', 'progress': 0, 'strategy': '', 'retrying': False,
        'created_at': 0, 'updated_at': 0, 'error': None, 'download_url': None, 'download_expires_at': None,
        'downloads': None, 'subtitles_url': None, 'poster_url': None,
    }  # fmt: skip


def test_form_encoded_and_multipart_orders_are_accepted(client: TestClient, redis_conn: Redis) -> None:
    form = {'child_name': 'Mateo', 'age': '9', 'message': '', 'parent_email': 'papa@example.com',
            'language': 'en', 'consent': 'on'}  # fmt: skip
    urlencoded = client.post('/api/videos', data=form)
    assert urlencoded.status_code == 202, urlencoded.text
    multipart = client.post('/api/videos', files={k: (None, v) for k, v in {**form, 'child_name': 'Eva'}.items()})
    assert multipart.status_code == 202, multipart.text
    records = JobRecords(redis_conn)
    first, second = records.get(urlencoded.json()['id']), records.get(multipart.json()['id'])
    assert first is not None and (first.order.child_name, first.order.age, first.order.language) == ('Mateo', 9, 'en')
    assert second is not None and second.order.child_name == 'Eva'


def test_field_errors_come_in_both_languages_and_nothing_is_queued(
    client: TestClient, redis_conn: Redis, settings: Settings
) -> None:
    bad = {'child_name': '1Lucía', 'age': 30, 'parent_email': 'not-an-email', 'consent': False, 'order_id': 'x'}
    response = client.post('/api/videos', json=bad)
    assert response.status_code == 422
    body = response.json()
    errors = {e['field']: e for e in body['errors']}
    assert set(errors) == {'child_name', 'age', 'parent_email', 'consent', 'order_id'}
    assert errors['age']['code'] == 'less_than_equal'
    assert errors['age']['message'] == {
        'es': 'La edad debe estar entre 1 y 17 años.',
        'en': 'Age must be between 1 and 17.',
    }
    assert errors['child_name']['message']['es'] == 'El nombre debe empezar por una letra.'
    assert errors['parent_email']['message']['en'] == 'Please enter a valid email address.'
    assert errors['order_id']['code'] == 'extra_forbidden'
    # No language in the order: Spanish first.
    assert body['language'] == 'es' and errors['age']['localized'] == errors['age']['message']['es']

    english = client.post('/api/videos', json={**bad, 'language': 'en'}).json()
    assert english['language'] == 'en'
    assert {e['field']: e['localized'] for e in english['errors']}['age'] == 'Age must be between 1 and 17.'
    by_header = client.post('/api/videos', json=bad, headers={'Accept-Language': 'fr;q=1, en-GB;q=0.8, es;q=0.5'})
    assert by_header.json()['language'] == 'en'

    assert queue_count(redis_conn, settings) == 0
    assert not redis_conn.keys('papanoel:video:*')


def test_malformed_bodies_are_refused_cleanly(client: TestClient) -> None:
    broken = client.post('/api/videos', content=b'{"child_name": ', headers={'Content-Type': 'application/json'})
    assert broken.status_code == 400 and broken.json()['errors'][0]['code'] == 'invalid_json'
    array = client.post('/api/videos', json=[ORDER])
    assert array.status_code == 422 and array.json()['errors'][0]['code'] == 'invalid_body'
    text = client.post('/api/videos', content=b'hello', headers={'Content-Type': 'text/plain'})
    assert text.status_code == 415


@pytest.mark.parametrize(
    ('changes', 'field'),
    [
        ({'message': 'Eres una PUTA'}, 'message'),
        ({'message': 'you little sh1t', 'language': 'en'}, 'message'),
        ({'message': 'qué cabron eres'}, 'message'),
        ({'message': 'YOU ARE A DICK', 'language': 'en'}, 'message'),
        ({'child_name': 'Puta'}, 'child_name'),
        ({'child_name': 'Mierda Pérez'}, 'child_name'),
    ],
)
def test_moderation_blocks_bad_words(
    client: TestClient, redis_conn: Redis, changes: dict[str, Any], field: str
) -> None:
    response = client.post('/api/videos', json=order(**changes))
    assert response.status_code == 422, response.text
    (error,) = response.json()['errors']
    assert (error['field'], error['code']) == (field, 'moderation')
    assert error['message']['es'] and error['message']['en']
    assert not redis_conn.keys('papanoel:video:*')


@pytest.mark.parametrize(
    'changes',
    [
        {'child_name': 'Dick', 'message': 'Merry Christmas, Dick!', 'language': 'en'},
        {'child_name': 'Fanny', 'message': ''},
        {'child_name': 'Concha', 'message': 'Saluda a la tía Concha y a Dick de mi parte'},
        {'child_name': 'Dickens', 'message': 'Scunthorpe is lovely, says my assistant', 'language': 'en'},
        {'child_name': 'Ana', 'message': 'Feliz año y un cono de helado'},
    ],
)
def test_moderation_lets_real_names_and_innocent_words_through(client: TestClient, changes: dict[str, Any]) -> None:
    response = client.post('/api/videos', json=order(**changes))
    assert response.status_code == 202, response.text


def test_rate_limit_per_client_ip(
    worker_env: dict[str, str], redis_conn: Redis, settings: Settings, make_client: MakeClient
) -> None:
    app = create_app(web_settings(worker_env, rate_limit_orders=3, rate_limit_window_seconds=60))
    one = make_client(app, client=('203.0.113.7', 50000))
    other = make_client(app, client=('203.0.113.8', 50000))
    answers = [one.post('/api/videos', json=order(child_name=name)).status_code for name in ('Ana', 'Bea', 'Cris')]
    assert answers == [202, 202, 202]
    refused = one.post('/api/videos', json=order(child_name='Dani'))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers['retry-after']) <= 60
    assert refused.json()['retry_after'] == int(refused.headers['retry-after'])
    assert refused.json()['errors'][0]['code'] == 'rate_limited'
    assert other.post('/api/videos', json=order(child_name='Dani')).status_code == 202
    assert queue_count(redis_conn, settings) == 4
    assert Metrics(redis_conn).counters()['web:orders:rate_limited'] == 1


def test_idempotency_key(client: TestClient, redis_conn: Redis, settings: Settings) -> None:
    key = {'Idempotency-Key': 'c0ffee-1'}
    first = client.post('/api/videos', json=ORDER, headers=key)
    again = client.post('/api/videos', json=dict(reversed(ORDER.items())), headers=key)  # same body, other key order
    assert first.status_code == again.status_code == 202
    assert first.json()['id'] == again.json()['id']
    assert again.headers['idempotent-replayed'] == 'true' and 'idempotent-replayed' not in first.headers
    assert queue_count(redis_conn, settings) == 1

    other_body = client.post('/api/videos', json=order(child_name='Otro'), headers=key)
    assert other_body.status_code == 422
    assert other_body.json()['errors'][0]['code'] == 'idempotency_key_reused'

    # A refused order does not use up its key: the corrected one goes through.
    retry_key = {'Idempotency-Key': 'c0ffee-2'}
    assert client.post('/api/videos', json=order(age=99), headers=retry_key).status_code == 422
    corrected = client.post('/api/videos', json=order(age=9), headers=retry_key)
    assert corrected.status_code == 202
    assert queue_count(redis_conn, settings) == 2

    # Without a key, the same body twice is two orders.
    client.post('/api/videos', json=ORDER)
    client.post('/api/videos', json=ORDER)
    assert queue_count(redis_conn, settings) == 4


def test_concurrent_requests_with_one_key_make_one_job(
    client: TestClient, redis_conn: Redis, settings: Settings
) -> None:
    def send(_: int) -> tuple[int, str]:
        response = client.post('/api/videos', json=ORDER, headers={'Idempotency-Key': 'same-key-racing'})
        return response.status_code, response.json().get('id', '')

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(16)))
    assert {status for status, _ in results} <= {202, 409}
    assert len({video_id for status, video_id in results if status == 202}) == 1
    assert queue_count(redis_conn, settings) == 1


def test_idempotency_claims_between_processes(redis_conn: Redis) -> None:
    # What two web processes racing on one key see (in one process the event loop serializes them).
    first, second = IdempotencyStore(redis_conn, 3600), IdempotencyStore(redis_conn, 3600)
    assert first.claim('k', 'body-a').outcome is Outcome.NEW
    assert second.claim('k', 'body-a').outcome is Outcome.IN_PROGRESS
    assert second.claim('k', 'body-b').outcome is Outcome.MISMATCH
    first.finish('k', 'body-a', 'video-1')
    assert second.claim('k', 'body-a') == Claim(Outcome.REPLAY, 'video-1')
    assert second.claim('k', 'body-b').outcome is Outcome.MISMATCH
    assert 0 < redis_conn.ttl(next(iter(redis_conn.scan_iter('papanoel:web:idempotency:*')))) <= 3600


# --- status and downloads ---


def test_progress_follows_the_stages(client: TestClient, redis_conn: Redis) -> None:
    video_id = client.post('/api/videos', json=ORDER).json()['id']
    records = JobRecords(redis_conn)
    seen = []
    records.start_attempt(video_id)
    for stage in ('script', 'audio', 'lipsync', 'compose', 'store'):
        records.start_stage(video_id, stage)
        body = client.get(f'/api/videos/{video_id}').json()
        seen.append((body['state'], body['stage'], body['progress']))
        records.finish_stage(video_id, stage)
    assert seen == [('processing', 'script', 5), ('processing', 'audio', 15), ('processing', 'lipsync', 35),
                    ('processing', 'compose', 70), ('processing', 'store', 95)]  # fmt: skip
    records.complete(video_id, output='/somewhere/x.mp4', strategy='lipsync', providers={}, attempts=[])
    done = client.get(f'/api/videos/{video_id}').json()
    assert (done['state'], done['progress'], done['strategy']) == ('completed', 100, 'lipsync')
    assert done['download_url'].startswith(f'/api/videos/{video_id}/download?expires=')
    assert done['download_expires_at'] > time.time() + 3600


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    missing = client.get('/api/videos/0123456789abcdef', headers={'Accept-Language': 'en'})
    assert missing.status_code == 404 and missing.json()['errors'][0]['localized'] == "We couldn't find that video."
    assert client.get('/api/videos/not%20valid!').status_code == 422


def test_a_real_video_downloads_with_a_signed_link_only(
    client: TestClient, redis_conn: Redis, worker_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    video_id = client.post('/api/videos', json=ORDER).json()['id']
    assert run_worker_until_done(worker_env, redis_conn, video_id, tmp_path / 'worker.log') is State.COMPLETED
    status = client.get(f'/api/videos/{video_id}').json()
    assert status['state'] == 'completed' and status['progress'] == 100 and status['strategy'] == 'voiceover'
    url = status['download_url']
    stored = (Path(settings.output_dir) / f'{video_id}.mp4').read_bytes()

    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers['content-type'] == 'video/mp4'
    assert whole.content == stored
    assert whole.headers['content-disposition'].startswith('inline')
    part = client.get(url, headers={'Range': 'bytes=0-99'})
    assert part.status_code == 206 and part.content == stored[:100]
    assert part.headers['content-range'] == f'bytes 0-99/{len(stored)}'
    assert client.get(url + '&download=true').headers['content-disposition'].startswith('attachment')

    expires, token = url.split('expires=')[1].split('&token=')
    tampered = token[:-1] + ('A' if token[-1] != 'A' else 'B')
    base = f'/api/videos/{video_id}/download'
    for bad in (
        f'{base}?expires={expires}&token={tampered}',  # tampered signature
        f'{base}?expires={int(expires) + 600}&token={token}',  # longer life than signed
        f'/api/videos/{"0" * 32}/download?expires={expires}&token={token}',  # another video's link
        base,  # no token at all
    ):
        refused = client.get(bad)
        assert refused.status_code == 403, bad
        assert refused.json()['errors'][0]['code'] == 'download_forbidden'

    ctx = client.app.state.web  # type: ignore[attr-defined]
    old_token, old_expiry = ctx.download_tokens().issue(video_id, now=time.time() - 2 * 86400)
    assert old_expiry < time.time()
    assert client.get(f'{base}?expires={old_expiry}&token={old_token}').status_code == 403


def failing_setup(worker_env: dict[str, str], make_client: MakeClient) -> tuple[dict[str, str], TestClient]:
    """A worker environment whose only voice always fails, and a client whose orders get one attempt
    (the attempt budget is fixed when the order is enqueued)."""
    env = {**worker_env, 'PROVIDER_FACTORY': 'tests.web_support:broken_providers', 'MAX_JOB_ATTEMPTS': '1'}
    return env, make_client(web_settings(worker_env, max_job_attempts=1))


def test_a_failed_video_says_so_without_internals(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path, make_client: MakeClient
) -> None:
    env, client = failing_setup(worker_env, make_client)
    video_id = client.post('/api/videos', json=ORDER).json()['id']
    assert run_worker_until_done(env, redis_conn, video_id, tmp_path / 'worker.log') is State.FAILED
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and SECRET_FAILURE in json.dumps(record.errors)  # the record does have it
    response = client.get(f'/api/videos/{video_id}')
    body = response.json()
    assert body['state'] == 'failed' and body['download_url'] is None
    assert body['error']['code'] == 'production_failed' and body['error']['message']['en']
    assert_no_leak(response.text)


# --- ops ---


def test_health_is_200_when_ready_and_503_when_not(
    worker_env: dict[str, str], redis_conn: Redis, make_client: MakeClient
) -> None:
    settings = web_settings(worker_env, health_min_workers=0)
    # As a worker's warm start leaves them: decoded once and remembered. A first full decode of
    # all three assets could take longer than the 3 s health deadline on a loaded CI machine.
    load_assets(settings.assets_dir, verified_dir=settings.template_cache_dir / DECODED_ASSETS)
    ready = make_client(settings)
    response = ready.get('/health')
    assert response.status_code == 200, ready.get('/health', headers=ADMIN).text
    body = response.json()
    assert (body['status'], body['live'], body['ready']) == ('ok', True, True)
    names = [c['name'] for c in body['checks']]
    assert names == ['redis', 'assets', 'ffmpeg', 'espeak-ng', 'storage', 'workers', 'queue', 'dead-letter queue',
                     'providers', 'warm start']  # fmt: skip
    assert all(set(c) == {'name', 'ok'} for c in body['checks'])  # details are for admins
    detailed = ready.get('/health', headers=ADMIN).json()
    assert all(c['detail'] for c in detailed['checks'])

    not_ready = make_client(web_settings(worker_env, health_min_workers=1))
    response = not_ready.get('/health')
    assert response.status_code == 503
    checks = {c['name']: c['ok'] for c in response.json()['checks']}
    assert response.json()['status'] == 'unhealthy' and checks['workers'] is False and checks['redis'] is True
    assert not_ready.get('/health/live').status_code == 200


def test_metrics_expose_the_fleet_figures(client: TestClient, redis_conn: Redis) -> None:
    store = Metrics(redis_conn)
    store.observe_stage('compose', 3.2)
    store.observe_stage('compose', 0.4)
    store.incr('provider:espeak:calls', 5)
    store.incr('provider:elevenlabs:failures', 2)
    store.incr('audio_cache_hits', 3)
    store.incr('strategy:voiceover')
    client.post('/api/videos', json=ORDER)
    redis_conn.zadd('papanoel:dlq', {'dead-1': 1.0, 'dead-2': 2.0})

    response = client.get('/metrics')
    assert response.status_code == 200 and response.headers['content-type'].startswith('text/plain')
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value('papanoel_up') == 1
    assert value('papanoel_queue_depth') == 1
    assert value('papanoel_dead_letter_queue_size') == 2
    assert value('papanoel_jobs', state='queued') == 1 and value('papanoel_jobs', state='completed') == 0
    assert value('papanoel_workers') == 0
    assert value('papanoel_stage_duration_seconds_bucket', stage='compose', le='0.5') == 1
    assert value('papanoel_stage_duration_seconds_bucket', stage='compose', le='2.5') == 1
    assert value('papanoel_stage_duration_seconds_bucket', stage='compose', le='5.0') == 2
    assert value('papanoel_stage_duration_seconds_bucket', stage='compose', le='+Inf') == 2
    assert value('papanoel_stage_duration_seconds_count', stage='compose') == 2
    assert value('papanoel_stage_duration_seconds_sum', stage='compose') == pytest.approx(3.6)
    assert value('papanoel_provider_calls_total', provider='espeak') == 5
    assert value('papanoel_provider_failures_total', provider='elevenlabs') == 2
    assert value('papanoel_audio_cache_hits_total') == 3
    assert value('papanoel_strategy_completed_total', strategy='voiceover') == 1
    assert value('papanoel_web_orders_total', outcome='accepted') == 1


def test_metrics_say_when_redis_is_down(worker_env: dict[str, str], make_client: MakeClient) -> None:
    dead = make_client(web_settings(worker_env, redis_url=f'redis://127.0.0.1:{free_port()}/0'))
    response = dead.get('/metrics')
    assert response.status_code == 200
    assert 'papanoel_up 0.0' in response.text and 'papanoel_queue_depth' not in response.text


def test_admin_needs_the_token(client: TestClient, worker_env: dict[str, str], make_client: MakeClient) -> None:
    anonymous = client.get('/api/admin/overview')
    assert anonymous.status_code == 401 and anonymous.headers['www-authenticate'] == 'Bearer'
    assert client.get('/api/admin/overview', headers={'Authorization': 'Bearer wrong'}).status_code == 403
    assert client.get('/api/admin/overview', headers={'Authorization': 'Basic ' + ADMIN_TOKEN}).status_code == 401
    assert client.get('/api/admin/overview', headers=ADMIN).status_code == 200
    assert client.post('/api/admin/dlq/abc/retry').status_code == 401

    disabled = make_client(web_settings(worker_env, admin_token=''))
    refused = disabled.get('/api/admin/overview', headers=ADMIN)
    assert refused.status_code == 503 and refused.json()['errors'][0]['code'] == 'admin_disabled'
    assert disabled.get('/admin').status_code == 503
    assert client.get('/admin').status_code == 200


def test_guessing_the_admin_token_is_slowed_down(client: TestClient) -> None:
    wrong = {'Authorization': 'Bearer guess'}
    statuses = [client.get('/api/admin/overview', headers=wrong).status_code for _ in range(21)]
    assert statuses[:20] == [403] * 20 and statuses[20] == 429
    assert client.get('/api/admin/overview', headers=ADMIN).status_code == 429  # even the right one, for a while


def test_dashboard_data_and_dead_letter_retry(
    redis_conn: Redis, worker_env: dict[str, str], settings: Settings, tmp_path: Path, make_client: MakeClient
) -> None:
    env, client = failing_setup(worker_env, make_client)
    video_id = client.post('/api/videos', json=ORDER).json()['id']
    assert run_worker_until_done(env, redis_conn, video_id, tmp_path / 'worker.log') is State.FAILED

    overview = client.get('/api/admin/overview', headers=ADMIN).json()
    assert overview['jobs_by_state']['failed'] == 1
    assert [d['video_id'] for d in overview['dead_letter']] == [video_id]
    assert overview['dead_letter'][0]['error_type'] == 'PermanentProviderError'
    assert overview['recent'][0]['video_id'] == video_id
    assert [e['event'] for e in overview['recent'][0]['timeline']][0] == 'queued'
    assert 'Lucía' not in json.dumps(overview) and 'mama@example.com' not in json.dumps(overview)

    retried = client.post(f'/api/admin/dlq/{video_id}/retry', headers=ADMIN)
    assert retried.status_code == 202 and retried.json()['state'] == 'queued'
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.state is State.QUEUED
    assert Queue(settings.queue_name, connection=redis_conn).job_ids == [video_id]
    after = client.get('/api/admin/overview', headers=ADMIN).json()
    assert after['dead_letter'] == [] and after['queue']['queued'] == 1
    assert client.post(f'/api/admin/dlq/{video_id}/retry', headers=ADMIN).status_code == 404


# --- security ---


def test_security_headers_on_pages_api_and_errors(client: TestClient) -> None:
    for response in (client.get('/'), client.get('/api/videos/unknown'), client.get('/static/app.js'),
                     client.post('/api/videos', json={})):  # fmt: skip
        headers = response.headers
        csp = headers['content-security-policy']
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers['x-content-type-options'] == 'nosniff'
        assert headers['x-frame-options'] == 'DENY'
        assert headers['referrer-policy'] == 'no-referrer'
        assert headers['x-request-id']


def test_pages_have_no_inline_script_or_style(client: TestClient) -> None:
    for path in ('/', '/admin'):
        page = client.get(path)
        assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
        html = page.text
        assert (
            '<script>' not in html and '<style' not in html and ' style=' not in html and ' on' + 'click=' not in html
        )
    landing = client.get('/').text
    for field in ('child_name', 'age', 'message', 'parent_email', 'language', 'consent'):
        assert f'<label for="{field}"' in landing
    assert 'aria-live="polite"' in landing


def test_cors_allows_only_configured_origins(
    worker_env: dict[str, str], redis_conn: Redis, make_client: MakeClient
) -> None:
    app_client = make_client(web_settings(worker_env, cors_origins='https://tienda.example, https://x.example'))
    preflight = {'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type'}
    allowed = app_client.options('/api/videos', headers={'Origin': 'https://tienda.example', **preflight})
    assert allowed.status_code == 200
    assert allowed.headers['access-control-allow-origin'] == 'https://tienda.example'
    refused = app_client.options('/api/videos', headers={'Origin': 'https://evil.example', **preflight})
    assert 'access-control-allow-origin' not in refused.headers
    simple = app_client.get('/health/live', headers={'Origin': 'https://evil.example'})
    assert 'access-control-allow-origin' not in simple.headers


def test_oversized_bodies_get_413(client: TestClient, redis_conn: Redis) -> None:
    big = order(message='x' * 20_000)
    declared = client.post('/api/videos', json=big)
    assert declared.status_code == 413 and declared.json()['errors'][0]['code'] == 'body_too_large'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it arrives
        yield json.dumps(big).encode()[:10_000]
        yield json.dumps(big).encode()[10_000:]

    streamed = client.post('/api/videos', content=chunks(), headers={'Content-Type': 'application/json'})
    assert streamed.status_code == 413
    assert not redis_conn.keys('papanoel:video:*')


def test_internal_errors_leak_nothing(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('could not write /srv/papanoel/secrets/keys.txt (sk-live-123) in enqueue.py')

    monkeypatch.setattr(web.api, 'enqueue_order', explode)
    response = client.post('/api/videos', json=ORDER)
    assert response.status_code == 500
    body = response.json()
    assert body['errors'][0]['code'] == 'internal_error' and body['request_id'] == response.headers['x-request-id']
    assert response.headers['content-security-policy']
    assert_no_leak(response.text)


def test_redis_down_is_a_clean_500(worker_env: dict[str, str], make_client: MakeClient) -> None:
    dead = make_client(web_settings(worker_env, redis_url=f'redis://127.0.0.1:{free_port()}/0'))
    response = dead.post('/api/videos', json=ORDER)
    assert response.status_code == 500
    assert_no_leak(response.text)
    assert dead.get('/api/videos/abc').status_code == 500


# --- make serve without REDIS_URL ---


def test_embedded_serve_makes_a_video_with_nothing_else_running(worker_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in worker_env.items() if k != 'REDIS_URL'}
    env.update(PORT=str(port), WEB_HOST='127.0.0.1', LOG_FORMAT='text')
    log = tmp_path / 'serve.log'
    with log.open('wb') as out:
        server = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f'http://127.0.0.1:{port}'
    try:
        found = wait_for(lambda: re.search(r'admin token: (\S+)', log.read_text()), 30, 0.1, 'the admin token')
        assert found is not None
        token = found.group(1)
        wait_for(lambda: _answers(f'{base}/health/live'), 30, 0.1, 'the server to answer')
        accepted = requests.post(f'{base}/api/videos', json=ORDER, timeout=10)
        assert accepted.status_code == 202
        status_url = base + accepted.json()['status_url']

        def completed() -> dict[str, Any] | None:
            status: dict[str, Any] = requests.get(status_url, timeout=10).json()
            return status if status['state'] == 'completed' else None

        done = wait_for(completed, 90, 0.5, 'the embedded worker to make the video')
        assert done is not None
        video = requests.get(base + done['download_url'], timeout=10)
        assert video.status_code == 200 and video.content[4:8] == b'ftyp'
        overview = requests.get(f'{base}/api/admin/overview', headers={'Authorization': f'Bearer {token}'}, timeout=10)
        assert overview.status_code == 200 and overview.json()['embedded'] is True
        assert overview.json()['jobs_by_state']['completed'] == 1 and len(overview.json()['workers']) == 1
    finally:
        stop(server, timeout=10)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_several_web_processes_share_one_port_and_a_second_server_is_refused(
    worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path
) -> None:
    port = free_port()
    env = {**worker_env, 'PORT': str(port), 'WEB_HOST': '127.0.0.1', 'WEB_WORKERS': '2', 'LOG_FORMAT': 'text'}
    with (tmp_path / 'web.log').open('wb') as out:
        server = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f'http://127.0.0.1:{port}'
    try:
        wait_for(lambda: _answers(f'{base}/health/live'), 30, 0.1, 'the server to answer')
        # Two processes, each with its own listening socket on the port (SO_REUSEPORT); the second may
        # still be starting when the first answers.
        wait_for(lambda: len(_listeners(port)) == 2, 30, 0.2, 'two processes listening')
        assert requests.post(f'{base}/api/videos', json=ORDER, timeout=10).status_code == 202
        second = subprocess.run([sys.executable, '-m', 'web'], cwd=ROOT, env=env, capture_output=True, timeout=60)
        assert second.returncode == 3 and b'port_unavailable' in second.stderr
    finally:
        assert stop(server, timeout=30) == 0


def _listeners(port: int) -> set[int]:
    """Pids of processes with a socket listening on `port` (from /proc/net/tcp and /proc/<pid>/fd)."""
    inodes = set()
    for line in Path('/proc/net/tcp').read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(':')[1], 16) == port and fields[3] == '0A':  # 0A: LISTEN
            inodes.add(fields[9])
    pids = set()
    for fd in Path('/proc').glob('[0-9]*/fd/*'):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith('socket:[') and target[8:-1] in inodes:
            pids.add(int(fd.parent.parent.name))
    return pids
