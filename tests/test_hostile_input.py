"""No input ever makes the server answer 5xx: random and hostile bodies, headers and paths, in
process over the real app on the test Redis (hypothesis drives it; bounded so `make test` stays fast).
The only 5xx the API documents is /health's 503 (not ready), which says nothing about the input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis

from settings import Settings
from tests.web_support import ADMIN_TOKEN, TestClient
from web.app import create_app
from web.bodies import MAX_JSON_DEPTH, json_depth

ORDER: dict[str, Any] = {
    'child_name': 'Lucía',
    'age': 6,
    'message': '¡Sigue leyendo tanto!',
    'parent_email': 'mama@example.com',
    'language': 'es',
    'consent': True,
}

HOSTILE_TEXT = [
    '\ud800',
    'a\udfffb',
    '\udcff',
    '\x00',
    '\u202e',
    'Ｌｕｃíａ',
    'Маria',
    "[[p'ut@]]",
    '<speak><break time="9s"/></speak>',
    '&amp;',
    '美',
    'x' * 5000,
    '',
    ' ',
    '\r\n',
    'a@b.c <d@e.f>',
    '😀',
]
HOSTILE_VALUES: list[Any] = [*HOSTILE_TEXT, None, True, 0, -1, 10**30, 1e308, [], {}, [[[]]], {'a': {'b': 1}}]

PATHS = [
    '/api/videos',
    '/api/videos/abc',
    '/api/videos/' + 'a' * 40,
    '/api/videos/abc/download',
    '/api/videos/abc/download?token=x&expires=9999999999999',
    '/api/videos/%ED%A0%80',
    '/api/videos/%FF',
    '/admin',
    '/admin/api/overview',
    '/health',
    '/health/live',
    '/metrics',
    '/',
    '/static/app.js',
    '/static/..%2f..%2fsettings.py',
    '/openapi.json',
]
CONTENT_TYPES = [
    'application/json',
    'application/json; charset=utf-8',
    'application/merge-patch+json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'multipart/form-data',
    'text/plain',
    '',
    'application/json; charset=\udcff'.encode('utf-8', 'surrogateescape').decode('latin-1'),
]


def deep(depth: int) -> bytes:
    return b'[' * depth + b']' * depth


hostile_orders = st.fixed_dictionaries(
    {},
    optional={key: st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=30)) for key in ORDER},
).map(lambda changes: json.dumps({**ORDER, **changes}).encode('utf-8', 'surrogatepass'))

bodies = st.one_of(
    st.binary(max_size=200),
    hostile_orders,
    st.sampled_from(
        [
            deep(5000),
            b'{"a":' * 3000 + b'1' + b'}' * 3000,
            b'{"child_name": "\xed\xa0\x80"}',
            b'{"child_name": "\\ud800", "age": 6}',
            b'{"\\ud800": 1}',
            b'child_name=%ED%A0%80&age=6',
            b'child_name=%FF&age=6',
            b'\xef\xbb\xbf{}',
            b'{"age": ' + b'9' * 5000 + b'}',
            b'--xyz\r\nContent-Disposition: form-data; name="\xed\xa0\x80"\r\n\r\nx\r\n--xyz--\r\n',
            b'--xyz\r\nContent-Disposition: form-data; name="child_name"; filename="a"\r\n\r\nx\r\n--xyz--\r\n',
        ]
    ),
    st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)).map(
        lambda value: json.dumps(value).encode('utf-8', 'surrogatepass')
    ),
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
headers = st.fixed_dictionaries(
    {'content-type': st.sampled_from(CONTENT_TYPES)},
    optional={
        'idempotency-key': header_text,
        'accept-language': header_text,
        'origin': st.sampled_from(['http://testserver', 'https://evil.example', 'null', '']),
        'referer': header_text,
        'x-forwarded-for': st.sampled_from(['1.2.3.4', '::1', 'not-an-ip', '300.1.1.1', '', '2001:db8::1, 10.0.0.1']),
        'authorization': st.sampled_from([f'Bearer {ADMIN_TOKEN}', 'Bearer x', 'Basic \xff', '']),
        'range': st.sampled_from(['bytes=0-', 'bytes=-1', 'bytes=9-1', 'nonsense']),
    },
)
paths = st.one_of(
    st.sampled_from(PATHS),
    st.text(max_size=30).map(lambda text: '/api/videos/' + quote(text.encode('utf-8', 'surrogatepass'), safe='')),
)


@pytest.fixture(scope='module')
def client(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp('hostile')
    values: dict[str, Any] = {'redis_url': redis_url, 'output_dir': root / 'output', 'temp_dir': root / 'tmp',
                              'admin_token': ADMIN_TOKEN, 'rate_limit_orders': 0, 'health_min_workers': 0}  # fmt: skip
    app_settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        yield test_client
    Redis.from_url(redis_url).flushdb()


def allowed(path: str, status: int) -> bool:
    return status < 500 or (status == 503 and path.startswith('/health'))


@given(method=st.sampled_from(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']), path=paths,
       headers=headers, body=bodies)  # fmt: skip
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(
    client: TestClient, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    raw_headers = {name: value.encode('latin-1') for name, value in headers.items()}
    response = client.request(method, path, headers=raw_headers, content=body)
    assert allowed(path, response.status_code), (method, path, headers, body[:200], response.text[:300])


@pytest.mark.parametrize(
    ('body', 'status'),
    [
        (deep(MAX_JSON_DEPTH + 1), 400),
        (b'{"a":' * 2000 + b'1' + b'}' * 2000, 400),
        (b'[' * 10000, 400),
    ],
)
def test_deep_json_is_refused_before_decoding(client: TestClient, body: bytes, status: int) -> None:
    response = client.post('/api/videos', content=body, headers={'content-type': 'application/json'})
    assert response.status_code == status, response.text
    assert response.json()['errors'][0]['code'] in ('json_too_deep', 'invalid_json')


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]]"}]}') == 3


@pytest.mark.parametrize('field', ['child_name', 'message', 'parent_email'])
@pytest.mark.parametrize(
    'encoded',
    [b'"\\ud800"', b'"a\\udfffb"', b'"\xed\xa0\x80"', b'"x\xed\xbf\xbf"'],
    ids=['escape-high', 'escape-low', 'cesu8-high', 'cesu8-low'],
)
def test_lone_surrogates_are_a_422_naming_the_field(client: TestClient, field: str, encoded: bytes) -> None:
    raw = json.dumps({**ORDER, field: 'PLACEHOLDER'}).encode().replace(b'"PLACEHOLDER"', encoded)
    response = client.post('/api/videos', content=raw, headers={'content-type': 'application/json',
                                                                  'idempotency-key': 'k-' + field})  # fmt: skip
    assert response.status_code == 422, response.text
    assert [e['field'] for e in response.json()['errors']] == [field]


def test_a_surrogate_in_a_form_field_is_a_422(client: TestClient) -> None:
    form = b'child_name=%ED%A0%80&age=6&parent_email=a%40example.com&consent=true'
    response = client.post('/api/videos', content=form, headers={'content-type': 'application/x-www-form-urlencoded',
                                                                  'origin': 'http://testserver'})  # fmt: skip
    assert response.status_code == 422, response.text
    assert [e['field'] for e in response.json()['errors']] == ['child_name']


def test_an_unknown_field_named_with_a_surrogate_is_a_422(client: TestClient) -> None:
    raw = json.dumps(ORDER).encode()[:-1] + b', "\\ud800x": 1}'
    response = client.post('/api/videos', content=raw, headers={'content-type': 'application/json'})
    assert response.status_code == 422, response.text
    assert response.json()['errors'][0]['field'] == '\\ud800x'
