"""The dashboard's job API: actions from the table, recorded in the timeline; the review hold
seen by the review-waiting alert (the index the review state keeps)."""

from __future__ import annotations

from redis import Redis

from alerts import current
from ledger.search_index import REVIEW_INDEX_KEY
from records import JobRecords
from tests.web_support import ADMIN_TOKEN, TestClient, web_settings
from web.app import create_app

ADMIN = {'Authorization': f'Bearer {ADMIN_TOKEN}'}
ORDER = {'child_name': 'Lucía', 'age': 6, 'message': 'Nadie te quiere', 'parent_email': 'mama@example.com',
         'language': 'es', 'consent': True}  # fmt: skip


def test_approve_from_the_dashboard_queues_the_held_order_and_is_recorded(
    worker_env: dict[str, str], redis_conn: Redis
) -> None:
    settings = web_settings(worker_env, alert_review_waiting_seconds=1)
    with TestClient(create_app(settings)) as client:
        video_id = client.post('/api/videos', json=ORDER).json()['id']
        assert redis_conn.zscore(REVIEW_INDEX_KEY, video_id) is not None
        later = redis_conn.zscore(REVIEW_INDEX_KEY, video_id) + 5  # type: ignore[operator]
        assert {a.name for a in current(redis_conn, settings, later) if a.firing} >= {'PapaNoelReviewWaiting'}

        job = client.get(f'/api/admin/jobs/{video_id}', headers=ADMIN).json()
        assert job['state'] == 'review' and job['actions']['approve'] and job['actions']['reject']
        assert job['review']['decision'] == 'waiting' and job['order']['message'] == 'Nadie te quiere'
        answer = client.post(f'/api/admin/jobs/{video_id}/actions/approve', headers=ADMIN)
        assert answer.status_code == 200, answer.text
        again = client.post(f'/api/admin/jobs/{video_id}/actions/approve', headers=ADMIN)
        assert again.status_code == 409
        assert client.post(f'/api/admin/jobs/{video_id}/actions/approve').status_code == 401
    events = [e['event'] for e in JobRecords(redis_conn).timeline(video_id)]
    assert events[-2:] == ['review_approved', 'admin:approve']
    assert redis_conn.zscore(REVIEW_INDEX_KEY, video_id) is None
    assert 'PapaNoelReviewWaiting' not in {a.name for a in current(redis_conn, settings) if a.firing}


def test_cancel_from_the_dashboard_takes_the_order_out_and_is_recorded(
    worker_env: dict[str, str], redis_conn: Redis
) -> None:
    with TestClient(create_app(web_settings(worker_env))) as client:
        video_id = client.post('/api/videos', json={**ORDER, 'message': 'Sigue así'}).json()['id']
        assert client.get(f'/api/admin/jobs/{video_id}', headers=ADMIN).json()['actions']['cancel']
        answer = client.post(f'/api/admin/jobs/{video_id}/actions/cancel', headers=ADMIN)
        assert answer.status_code == 200, answer.text
        assert client.post(f'/api/admin/jobs/{video_id}/actions/cancel', headers=ADMIN).status_code == 409
        assert client.get(f'/api/videos/{video_id}').json()['state'] == 'failed'
    events = [e['event'] for e in JobRecords(redis_conn).timeline(video_id)]
    assert events[-2:] == ['canceled', 'admin:cancel']


def test_search_finds_by_email_id_and_status_link(worker_env: dict[str, str], redis_conn: Redis) -> None:
    with TestClient(create_app(web_settings(worker_env))) as client:
        ids = [client.post('/api/videos', json={**ORDER, 'message': 'Sigue así', 'parent_email': email}).json()['id']
               for email in ('Papa@Example.com', 'otra@example.com')]  # fmt: skip

        def found(q: str) -> list[str]:
            return [j['video_id'] for j in client.get('/api/admin/jobs', params={'q': q}, headers=ADMIN).json()['jobs']]

        assert found('papa@example.COM') == [ids[0]]
        assert found(ids[1]) == [ids[1]]
        assert found(f'https://shop.example/api/videos/{ids[0]}?x=1') == [ids[0]]
        assert found('nadie@example.com') == [] and found('no-such-id') == []
        page = client.get('/api/admin/jobs?offset=1&limit=1', headers=ADMIN).json()
        assert page['total'] == 2 and [j['video_id'] for j in page['jobs']] == [ids[0]]  # newest first


def test_forget_from_the_dashboard_leaves_only_the_tombstone_and_search_finds_by_page_link(
    worker_env: dict[str, str], redis_conn: Redis
) -> None:
    with TestClient(create_app(web_settings(worker_env))) as client:
        accepted = client.post('/api/videos', json={**ORDER, 'message': 'Sigue así'}).json()
        video_id = accepted['id']
        page_link = f'https://shop.example{accepted["page_url"]}'
        found = client.get('/api/admin/jobs', params={'q': page_link}, headers=ADMIN)
        assert [j['video_id'] for j in found.json()['jobs']] == [video_id]
        assert client.get(f'/api/admin/jobs/{video_id}', headers=ADMIN).json()['actions']['forget']
        answer = client.post(f'/api/admin/jobs/{video_id}/actions/forget', headers=ADMIN)
        assert answer.status_code == 200, answer.text
        assert client.get(f'/api/videos/{video_id}').status_code == 410
    left = {key.decode() for key in redis_conn.scan_iter() if video_id.encode() in key}
    assert left and all('tombstone' in key for key in left), left
