"""The smaller holes: cross-site form posts, cacheable download tokens, refused orders counted
against the limit, and client addresses taken from X-Forwarded-For without parsing them."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from redis import Redis
from rq import Queue

from records import JobRecords, State, record_key
from tests.web_support import TestClient, web_settings
from web.app import create_app
from web.clients import ClientAddressMiddleware, parse_ip, rate_key

ORDER = {
    'child_name': 'Mateo',
    'age': '9',
    'message': '',
    'parent_email': 'papa@example.com',
    'language': 'en',
    'consent': 'on',
}
MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(worker_env: dict[str, str], redis_conn: Redis) -> Iterator[MakeClient]:
    with ExitStack() as stack:

        def make(client: tuple[str, int] = ('203.0.113.7', 50000), **overrides: Any) -> TestClient:
            app = create_app(web_settings(worker_env, **overrides))
            return stack.enter_context(TestClient(app, raise_server_exceptions=False, client=client))

        yield make


def queued(conn: Redis, worker_env: dict[str, str]) -> int:
    return Queue(web_settings(worker_env).queue_name, connection=conn).count


@pytest.mark.parametrize(
    ('headers', 'status'),
    [
        ({'Origin': 'https://evil.example'}, 403),
        ({'Origin': 'null'}, 403),
        ({'Referer': 'https://evil.example/page'}, 403),
        ({'Origin': 'http://testserver'}, 202),
        ({'Referer': 'http://testserver/'}, 202),
        ({'Origin': 'https://shop.example'}, 202),  # a configured CORS origin
        ({}, 202),  # not a browser's cross-site form: nothing to forge
    ],
)
@pytest.mark.parametrize('encoding', ['urlencoded', 'multipart'])
def test_form_orders_come_only_from_our_own_pages(
    make_client: MakeClient, redis_conn: Redis, worker_env: dict[str, str], headers: dict[str, str], status: int,
    encoding: str,
) -> None:  # fmt: skip
    client = make_client(cors_origins='https://shop.example')
    if encoding == 'urlencoded':
        response = client.post('/api/videos', data=ORDER, headers=headers)
    else:
        response = client.post('/api/videos', files={k: (None, v) for k, v in ORDER.items()}, headers=headers)
    assert response.status_code == status, response.text
    assert queued(redis_conn, worker_env) == (1 if status == 202 else 0)
    if status == 403:
        assert response.json()['errors'][0]['code'] == 'cross_site_form'


def test_json_orders_are_left_to_cors(make_client: MakeClient) -> None:
    # A cross-site page cannot send application/json without a preflight, which CORS answers.
    response = make_client().post('/api/videos', json={**ORDER, 'age': 9, 'consent': True},
                                  headers={'Origin': 'https://evil.example'})  # fmt: skip
    assert response.status_code == 202, response.text


def test_a_status_with_a_download_token_is_never_stored(make_client: MakeClient, redis_conn: Redis) -> None:
    client = make_client()
    video_id = client.post('/api/videos', data=ORDER).json()['id']
    assert client.get(f'/api/videos/{video_id}').headers['cache-control'] == 'no-store'
    redis_conn.hset(record_key(video_id), mapping={'state': State.COMPLETED.value})
    status = client.get(f'/api/videos/{video_id}')
    assert status.json()['download_url']
    assert status.headers['cache-control'] == 'no-store'


def test_refused_orders_do_not_count_against_the_limit(make_client: MakeClient, redis_conn: Redis) -> None:
    client = make_client(rate_limit_orders=2, rate_limit_window_seconds=600)
    for typo in ('', 'x@', 'M4teo', '<b>'):
        assert client.post('/api/videos', data={**ORDER, 'child_name': typo}).status_code == 422
    assert [client.post('/api/videos', data={**ORDER, 'child_name': n}).status_code for n in ('Ana', 'Bea')] == [
        202,
        202,
    ]
    assert client.post('/api/videos', data={**ORDER, 'child_name': 'Cris'}).status_code == 429
    assert len(JobRecords(redis_conn).conn.keys('papanoel:video:*:timeline')) == 2


def test_forwarded_addresses_are_parsed_and_ipv6_is_counted_per_64(make_client: MakeClient) -> None:
    client = make_client(client=('127.0.0.1', 40000), rate_limit_orders=1, forwarded_allow_ips='127.0.0.1')

    def order_from(forwarded: str, name: str) -> int:
        response = client.post(
            '/api/videos', data={**ORDER, 'child_name': name}, headers={'X-Forwarded-For': forwarded}
        )
        return int(response.status_code)

    assert order_from('2001:db8:1:2::1', 'Ana') == 202
    assert order_from('2001:db8:1:2:ffff::9', 'Bea') == 429  # same /64
    assert order_from('2001:db8:1:3::1', 'Cris') == 202  # another /64
    assert order_from('198.51.100.4', 'Dani') == 202
    assert order_from('198.51.100.4', 'Eva') == 429
    # Not an address: counted as the proxy itself, not as a fresh client each time.
    assert order_from('not-an-ip', 'Fer') == 202
    assert order_from('still-not-an-ip', 'Gil') == 429
    assert order_from('', 'Hugo') == 429


def test_client_address_parsing() -> None:
    middleware = ClientAddressMiddleware(lambda *a: None, trusted='127.0.0.1, 10.0.0.0/8')  # type: ignore[arg-type]
    peer = ipaddress.ip_address('127.0.0.1')
    assert str(middleware.client_from(['198.51.100.4, 10.1.2.3'], peer)) == '198.51.100.4'
    assert middleware.client_from(['198.51.100.4, bogus'], peer) == peer
    assert middleware.client_from([''], peer) == peer
    assert str(parse_ip('[2001:db8::1]:443')) == '2001:db8::1'
    assert str(parse_ip('198.51.100.4:8080')) == '198.51.100.4'
    assert str(parse_ip('::ffff:198.51.100.4')) == '198.51.100.4'
    assert parse_ip('300.1.1.1') is None
    assert rate_key('2001:db8:1:2:3:4:5:6') == '2001:db8:1:2::/64'
    assert rate_key('198.51.100.4') == '198.51.100.4'
