"""Human review: flagged messages wait in state `review`, are listed for a reviewer, approved into
the queue or rejected with a reason the parent sees, and are never rendered while they wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job

from queueing.enqueue import enqueue_video_job
from records import JobRecords, State
from review.rules import flags, matching
from settings import Settings
from tests.web_support import ADMIN_TOKEN, TestClient, web_settings
from tests.workers import start_worker, stop, wait_for
from web.app import create_app

ORDER = {
    'child_name': 'Lucía',
    'age': 6,
    'message': '¡Sigue leyendo tanto!',
    'parent_email': 'mama@example.com',
    'language': 'es',
    'consent': True,
}
ADMIN = {'Authorization': f'Bearer {ADMIN_TOKEN}'}


@pytest.mark.parametrize(
    ('message', 'category'),
    [
        ('Te voy a pegar si no te portas bien', 'threat'),
        ('Si sigues así, vas a morir', 'threat'),
        ("I'm going to hurt you", 'threat'),
        ('Nadie te quiere, Lucía', 'rejection'),
        ('Ojalá no hubieras nacido', 'rejection'),
        ('Papá Noel no te traerá nada', 'rejection'),
        ('Nobody loves you', 'rejection'),
        ('We wish you were never born', 'rejection'),
        ('Eres un desastre y das asco', 'cruelty'),
        ("You're so useless", 'cruelty'),
        ('Estás muy gorda, come menos', 'body_shaming'),
        ('You are too fat, go on a diet', 'body_shaming'),
        ('Es nuestro secreto, no se lo digas a tus padres', 'adult'),
        ("Our little secret: don't tell mom", 'adult'),
    ],
)
def test_phrase_rules_flag_what_no_word_list_sees(message: str, category: str) -> None:
    assert category in matching(message)


@pytest.mark.parametrize(
    'message',
    [
        '¡Sigue leyendo tanto!',
        'Te queremos muchísimo y estamos orgullosos de ti',
        'No te quiero ver triste: ¡sonríe!',
        'Te vamos a comer a besos',
        'Keep being so kind to your sister',
        'You are a star',
        'Papá Noel te traerá una sorpresa',
    ],
)
def test_kind_messages_are_not_flagged(message: str) -> None:
    assert matching(message) == []


def test_review_modes() -> None:
    assert flags('Nadie te quiere', 'off') == []
    assert flags('Hola', 'flagged') == []
    assert flags('Hola', 'all') == ['all']
    assert flags('', 'all') == []


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(worker_env: dict[str, str], redis_conn: Redis) -> Iterator[MakeClient]:
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            app = create_app(web_settings(worker_env, **overrides))
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make


def queued(conn: Redis, settings: Settings) -> int:
    return Queue(settings.queue_name, connection=conn).count


def events_of(conn: Redis, video_id: str) -> list[str]:
    return [event['event'] for event in JobRecords(conn).timeline(video_id)]


def test_a_flagged_order_waits_in_review_and_approval_queues_it(
    make_client: MakeClient, redis_conn: Redis, worker_env: dict[str, str]
) -> None:
    client = make_client()
    settings = web_settings(worker_env)
    response = client.post('/api/videos', json={**ORDER, 'message': 'Nadie te quiere'})
    assert response.status_code == 202, response.text
    video_id = response.json()['id']
    assert response.json()['state'] == 'review'
    assert queued(redis_conn, settings) == 0
    assert client.get(f'/api/videos/{video_id}').json()['state'] == 'review'
    assert events_of(redis_conn, video_id) == ['held_for_review: rejection']

    [held] = client.get('/api/admin/review', headers=ADMIN).json()
    assert (held['id'], held['flags'], held['message']) == (video_id, ['rejection'], 'Nadie te quiere')
    assert client.get('/api/admin/review').status_code == 401

    approved = client.post(f'/api/admin/review/{video_id}/approve', headers=ADMIN)
    assert approved.status_code == 202, approved.text
    assert queued(redis_conn, settings) == 1
    assert client.get(f'/api/videos/{video_id}').json()['state'] == 'queued'
    assert events_of(redis_conn, video_id)[-1] == 'review_approved'
    assert client.get('/api/admin/review', headers=ADMIN).json() == []
    # A second click, or a second reviewer, changes nothing.
    assert client.post(f'/api/admin/review/{video_id}/approve', headers=ADMIN).status_code == 404
    assert client.post(f'/api/admin/review/{video_id}/reject', headers=ADMIN).status_code == 404
    assert queued(redis_conn, settings) == 1


def test_a_rejected_order_fails_with_the_reason_the_parent_sees(make_client: MakeClient, redis_conn: Redis) -> None:
    client = make_client()
    video_id = client.post('/api/videos', json={**ORDER, 'message': 'Estás muy gorda'}).json()['id']
    rejected = client.post(f'/api/admin/review/{video_id}/reject', headers=ADMIN,
                           json={'reason': 'Papá Noel no puede hablar del cuerpo del niño.'})  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    status = client.get(f'/api/videos/{video_id}').json()
    assert status['state'] == 'failed'
    assert status['error']['code'] == 'message_rejected'
    assert 'Papá Noel no puede hablar del cuerpo del niño.' in status['error']['message']['es']
    assert events_of(redis_conn, video_id)[-1] == 'review_rejected'


def test_review_all_holds_every_message_and_off_holds_none(make_client: MakeClient) -> None:
    every = make_client(message_review='all')
    assert every.post('/api/videos', json=ORDER).json()['state'] == 'review'
    assert every.post('/api/videos', json={**ORDER, 'message': ''}).json()['state'] == 'queued'
    off = make_client(message_review='off')
    assert off.post('/api/videos', json={**ORDER, 'message': 'Nadie te quiere'}).json()['state'] == 'queued'


def test_the_review_page_is_served(make_client: MakeClient) -> None:
    page = make_client().get('/admin/review')
    assert page.status_code == 200 and '/static/review.js' in page.text


def test_a_worker_never_renders_an_order_in_review_even_with_a_job(
    make_client: MakeClient, redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    client = make_client()
    settings = web_settings(worker_env)
    video_id = client.post('/api/videos', json={**ORDER, 'message': 'Nadie te quiere'}).json()['id']
    # A stray job for it (a requeue by hand, a bug elsewhere): a real worker takes it.
    with redis_conn.pipeline() as pipe:
        pipe.multi()
        enqueue_video_job(Queue(settings.queue_name, connection=redis_conn), video_id, pipe, job_timeout=60, retry=None)
        pipe.execute()
    worker = start_worker(worker_env, '--burst', log=tmp_path / 'worker.log')
    try:
        wait_for(lambda: Job.fetch(video_id, connection=redis_conn).is_finished or None, 90, 0.2, 'the stray job')
    finally:
        stop(worker)
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.state is State.REVIEW
    assert not any(event.startswith(('attempt', 'stage')) for event in events_of(redis_conn, video_id))
    assert not list(Path(worker_env['OUTPUT_DIR']).glob(f'*{video_id}*'))
