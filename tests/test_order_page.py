"""The lasting order page /v/<token>: reachable from any client with the token alone, progress that
never goes backwards, a download named after the child, deletion on request (then 410 Gone), the
page's language from Accept-Language, and promises that match what the code does."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from privacy.forget import TOMBSTONE_PREFIX
from records import JobRecords
from settings import Settings
from tests.test_privacy import everything_in_redis
from tests.web_support import TestClient, web_settings
from web.app import create_app
from web.order_page import download_filename

ORDER = {'child_name': 'Sofía', 'age': 6, 'message': 'Gracias por ayudar', 'parent_email': 'mama.sofia@example.com',
         'language': 'es', 'consent': True}  # fmt: skip
STATIC = Path(__file__).resolve().parent.parent / 'web' / 'static'


@pytest.fixture
def settings(worker_env: dict[str, str], redis_conn: Redis) -> Settings:
    return web_settings(worker_env, retention_days=21)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def ordered(client: TestClient) -> tuple[str, str]:
    body = client.post('/api/videos', json=ORDER).json()
    match = re.fullmatch(r'/v/([A-Za-z0-9_-]+)', body['page_url'])
    assert match
    return body['id'], match.group(1)


def delivered(client: TestClient, redis_conn: Redis, settings: Settings) -> tuple[str, str]:
    video_id, token = ordered(client)
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    (settings.output_dir / f'{video_id}.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'\x00' * 100)
    JobRecords(redis_conn).complete(video_id, output='x', strategy='voiceover', providers={}, attempts=[])
    return video_id, token


def test_the_token_is_random_and_not_the_id(client: TestClient) -> None:
    tokens = {ordered(client)[1] for _ in range(5)}
    assert len(tokens) == 5 and all(len(t) >= 22 for t in tokens)  # >= 132 bits of base64url
    video_id, token = ordered(client)
    assert video_id not in token and token not in video_id


def test_progress_never_goes_backwards_on_a_retry(client: TestClient, redis_conn: Redis) -> None:
    video_id, token = ordered(client)
    records = JobRecords(redis_conn)
    records.start_attempt(video_id)
    for stage in ('script', 'audio', 'compose', 'store'):
        records.start_stage(video_id, stage)
    assert client.get(f'/api/orders/{token}').json()['progress'] == 95
    records.fail_attempt(video_id, {'stage': 'store', 'message': 'disk full'}, final=False)
    records.start_attempt(video_id)
    records.start_stage(video_id, 'script')  # the retry starts over
    for url in (f'/api/orders/{token}', f'/api/videos/{video_id}', f'/api/videos/{token}'):
        body = client.get(url).json()
        assert body['progress'] == 95 and body['retrying'] is True, url


def test_any_client_with_the_link_gets_the_video_named_after_the_child(
    client: TestClient, redis_conn: Redis, settings: Settings
) -> None:
    video_id, token = delivered(client, redis_conn, settings)
    with TestClient(create_app(settings)) as fresh:  # another browser: no cookie, no storage, only the link
        page = fresh.get(f'/v/{token}')
        assert page.status_code == 200 and 'mama.sofia' not in page.text and 'example.com' not in page.text
        status = fresh.get(f'/api/orders/{token}').json()
        assert status['state'] == 'completed' and status['child_first_name'] == 'Sofía'
        assert 'mama' not in str(status)
        assert status['available_until'] == pytest.approx(time.time() + 21 * 86400, abs=60)
        video = fresh.get(status['video_url'])
        assert video.status_code == 200 and video.headers['content-type'] == 'video/mp4'
        saved = fresh.get(status['download_url'])
        assert saved.headers['content-disposition'] == 'attachment; filename="papa-noel-sofia.mp4"'
        assert status['download_filename'] == 'papa-noel-sofia.mp4'
        assert fresh.get(f'/v/{token[:-1]}x').status_code == 404


def test_download_names_are_ascii_folded() -> None:
    assert download_filename('Sofía') == 'papa-noel-sofia.mp4'
    assert download_filename("José Ñúñez-O'Brien") == 'papa-noel-jose-nunez-o-brien.mp4'
    assert download_filename('Зоя') == 'papa-noel.mp4'


def test_delete_now_answers_410_and_leaves_only_tombstones(
    client: TestClient, redis_conn: Redis, settings: Settings
) -> None:
    video_id, token = delivered(client, redis_conn, settings)
    deleted = client.post(f'/api/orders/{token}/delete')
    assert deleted.status_code == 200
    when = deleted.json()['deleted_at']
    assert not (settings.output_dir / f'{video_id}.mp4').exists()
    page = client.get(f'/v/{token}')
    assert page.status_code == 410 and f'data-deleted-at="{when}"' in page.text
    gone = client.get(f'/api/orders/{token}')
    assert gone.status_code == 410 and gone.json()['state'] == 'deleted' and gone.json()['deleted_at'] == when
    assert client.get(f'/v/{token}/video').status_code == 410
    assert client.get(f'/api/videos/{video_id}').status_code == 410
    assert client.post(f'/api/orders/{token}/delete').json()['deleted_at'] == when  # idempotent
    # The worker-side repeat of the deletion is queued; apart from it, only tombstones hold the id.
    dump = everything_in_redis(redis_conn)
    holding = sorted(k for k, v in dump.items() if video_id in k or video_id in v or token in k or token in v)
    assert [k for k in holding if 'forget-' not in k and 'forget-' not in dump[k]] == [f'{TOMBSTONE_PREFIX}{video_id}']


@pytest.mark.parametrize(
    ('accept', 'lang'), [('en-US,en;q=0.9', 'en'), ('es-ES', 'es'), ('fr-FR,en;q=0.5', 'en'), ('fr', 'es'), ('', 'es')]
)
def test_the_page_language_follows_accept_language(client: TestClient, accept: str, lang: str) -> None:
    _, token = ordered(client)
    for url in ('/', f'/v/{token}'):
        page = client.get(url, headers={'Accept-Language': accept} if accept else {})
        assert f'<html lang="{lang}">' in page.text, url


def test_the_promises_are_the_settings(client: TestClient, settings: Settings) -> None:
    landing = client.get('/').text
    assert 'data-retention-days="21"' in landing and '21 días después de entregarlo' in landing
    assert 'Te enviaremos el enlace al vídeo cuando esté listo' in landing
    app_js = (STATIC / 'app.js').read_text()
    assert 'Solo para avisarte si algo sale mal' not in app_js  # the e-mail is now how the video arrives
    assert '{days} días después de entregarlo' in app_js and '{days} days after delivering it' in app_js
    _, token = ordered(client)
    assert 'data-retention-days="21"' in client.get(f'/v/{token}').text
    # The failure sentence promises what the dead-letter queue and a retry do: another e-mail with the link.
    from web.i18n import message

    assert 'te enviaremos un correo con el enlace' in message('production_failed')['es']
