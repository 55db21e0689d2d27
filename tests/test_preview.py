"""POST /api/preview: Santa's greeting by the order's TTS chain, cached, budgeted, checked like an order."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from metrics import Metrics
from providers.base import ProviderSet, Speech
from providers.espeak_tts import EspeakTTS
from settings import Settings
from storage.base import Storage
from tests.web_support import SECRET_FAILURE, TestClient, web_settings
from web.app import create_app

CALLS: list[str] = []


class CountingEspeak(EspeakTTS):
    """The real espeak-ng, with each synthesis counted (what a paid TTS would bill)."""

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        CALLS.append(text)
        return super().synthesize(text, language, workdir)


def counting_providers(settings: Settings, storage: Storage) -> ProviderSet:
    return ProviderSet(tts=(CountingEspeak(),))


def make(env: dict[str, str], tmp_path: Path, **overrides: Any) -> TestClient:
    values: dict[str, Any] = {'provider_factory': 'tests.test_preview:counting_providers',
                              'audio_cache_dir': tmp_path / 'audio-cache', **overrides}  # fmt: skip
    return TestClient(create_app(web_settings(env, **values)), raise_server_exceptions=False)


@pytest.fixture
def client(worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path) -> Iterator[TestClient]:
    CALLS.clear()
    with make(worker_env, tmp_path) as test_client:
        yield test_client


def seconds(body: bytes) -> float:
    with wave.open(BytesIO(body)) as audio:
        return float(audio.getnframes() / audio.getframerate())


def test_the_greeting_is_a_short_clip_spoken_with_the_respelling(client: TestClient) -> None:
    answer = client.post('/api/preview', json={'child_name': 'Xavi', 'name_pronunciation': 'Chabi', 'language': 'es'})
    assert answer.status_code == 200, answer.text
    assert answer.headers['content-type'] == 'audio/wav'
    assert 0.3 < seconds(answer.content) < 5
    assert CALLS == ['¡Hola, Chabi!']
    as_typed = client.post('/api/preview', json={'child_name': 'Xavi', 'language': 'es'})
    assert CALLS[-1] == '¡Hola, Xavi!' and as_typed.content != answer.content
    english = client.post('/api/preview', data={'child_name': 'Xavi', 'language': 'en'})
    assert english.status_code == 200 and CALLS[-1] == 'Hello, Xavi!'


def test_the_same_greeting_is_synthesized_once(client: TestClient) -> None:
    body = {'child_name': 'Sofía', 'language': 'es', 'gender': 'girl'}
    first = client.post('/api/preview', json=body)
    again = client.post('/api/preview', json=body)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert CALLS == ['¡Hola, Sofía!']
    counters = Metrics(client.app.state.web.conn).counters()  # type: ignore[attr-defined]
    assert counters['web:previews:cache_misses'] == 1 and counters['web:previews:cache_hits'] == 1
    assert counters['provider:espeak:characters'] == len('¡Hola, Sofía!')


@pytest.mark.parametrize(
    'changes',
    [{'child_name': '<b>Ana</b>'}, {'child_name': '123'}, {'name_pronunciation': 'Ana{x}'}, {'gender': 'other'},
     {'language': 'fr'}, {'child_name': 'mierda'}, {'name_pronunciation': 'mierda'}, {'shoe_size': 3}],
)  # fmt: skip
def test_refused_with_the_same_field_errors_as_an_order(client: TestClient, changes: dict[str, Any]) -> None:
    greeting = {'child_name': 'Ana', 'language': 'es', **changes}
    preview = client.post('/api/preview', json=greeting)
    order = client.post('/api/videos', json={'age': 6, 'parent_email': 'mama@example.com', 'consent': True,
                                             **greeting})  # fmt: skip
    assert preview.status_code == order.status_code == 422, preview.text
    assert preview.json()['errors'] == order.json()['errors']
    assert CALLS == []


def test_previews_have_their_own_budget(worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path) -> None:
    CALLS.clear()
    with make(worker_env, tmp_path, rate_limit_previews=2, rate_limit_orders=5) as client:
        for _ in range(2):
            assert client.post('/api/preview', json={'child_name': 'Ana'}).status_code == 200
        refused = client.post('/api/preview', json={'child_name': 'Ana'})
        assert refused.status_code == 429
        assert int(refused.headers['Retry-After']) >= 1
        assert refused.json()['errors'][0]['code'] == 'preview_rate_limited'
        order = {'child_name': 'Ana', 'age': 6, 'parent_email': 'mama@example.com', 'consent': True}
        assert client.post('/api/videos', json=order).status_code == 202  # orders still go through


def test_no_voice_answers_503_without_details(worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path) -> None:
    with make(worker_env, tmp_path, provider_factory='tests.web_support:broken_providers') as client:
        answer = client.post('/api/preview', json={'child_name': 'Ana'})
    assert answer.status_code == 503
    assert answer.json()['errors'][0]['code'] == 'preview_unavailable'
    assert SECRET_FAILURE not in answer.text and 'sk-live' not in answer.text
