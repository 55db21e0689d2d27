"""The event ledger (one capped stream of every timeline event) and what reads it: the admin
API, `cli.py events --follow`; and /metrics reading counters, never the job records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

import ledger
from records import JobRecords
from tests.ops_support import queue_orders
from tests.web_support import ADMIN_TOKEN, TestClient, web_settings
from tests.workers import ROOT
from web.app import create_app

ADMIN = {'Authorization': f'Bearer {ADMIN_TOKEN}'}


def test_every_timeline_event_goes_to_the_ledger(worker_env: dict[str, str], redis_conn: Redis) -> None:
    settings = web_settings(worker_env)
    first, second = queue_orders(redis_conn, settings, 2)
    records = JobRecords(redis_conn)
    records.start_attempt(first)
    records.start_stage(first, 'audio')
    records.fail_attempt(second, {'stage': 'script', 'message': 'x'}, final=False)
    records.complete(first, output='x.mp4', strategy='tts_over_base', providers={}, attempts=[])
    expected = sorted((e['at'], vid, e['event']) for vid in (first, second) for e in records.timeline(vid))
    got = [(e.at, e.video_id, e.event) for e in ledger.read(redis_conn)]
    assert sorted(got) == expected and len(got) == 6
    assert ledger.event_counts(redis_conn) == {'queued': 2, 'attempt': 1, 'stage': 1, 'retry_scheduled': 1,
                                               'completed': 1}  # fmt: skip


def test_the_ledger_stays_capped(redis_conn: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, 'STREAM_MAXLEN', 50)
    for n in range(2000):
        ledger.append(redis_conn, f'v{n}', 'queued', float(n))
    # `MAXLEN ~` trims whole stream nodes (100 entries each by default): about the cap, never the lot.
    assert 50 <= redis_conn.xlen(ledger.STREAM_KEY) < 300
    assert ledger.latest(redis_conn, 1)[0].video_id == 'v1999'


def test_admin_events_api_reads_after_an_id(worker_env: dict[str, str], redis_conn: Redis) -> None:
    for n in range(5):
        ledger.append(redis_conn, f'v{n}', f'stage:s{n}', float(n))
    with TestClient(create_app(web_settings(worker_env))) as client:
        assert client.get('/api/admin/events').status_code == 401
        newest = client.get('/api/admin/events?limit=2', headers=ADMIN).json()
        assert [e['video_id'] for e in newest['events']] == ['v3', 'v4']
        all_ids = [e['id'] for e in client.get('/api/admin/events?limit=10', headers=ADMIN).json()['events']]
        after = client.get(f'/api/admin/events?since={all_ids[1]}&limit=2', headers=ADMIN).json()
        assert [e['video_id'] for e in after['events']] == ['v2', 'v3'] and after['next'] == all_ids[3]
        assert client.get('/api/admin/events?since=nonsense', headers=ADMIN).status_code == 422


def test_cli_events_follow_prints_new_events_as_they_happen(worker_env: dict[str, str], redis_conn: Redis) -> None:
    ledger.append(redis_conn, 'before', 'queued', 1.0)
    proc = subprocess.Popen([sys.executable, 'cli.py', 'events', '--follow', '--json'], cwd=ROOT, env=worker_env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())['video_id'] == 'before'
        ledger.append(redis_conn, 'after', 'completed', 2.0)  # it follows from the last id it printed: no race
        line = json.loads(proc.stdout.readline())
        assert (line['video_id'], line['event']) == ('after', 'completed')
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def _commands(conn: Redis) -> dict[str, int]:
    stats = conn.info('commandstats')
    return {name: int(v['calls']) for name, v in stats.items()}


def test_a_scrape_costs_the_same_whatever_the_number_of_records(
    worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path
) -> None:
    """/metrics reads counters and registries: the commands it sends do not grow with the records."""
    settings = web_settings(worker_env)
    queue_orders(redis_conn, settings, 3)
    with TestClient(create_app(settings)) as client:

        def scrape_commands() -> dict[str, int]:
            client.get('/metrics')  # warm: the app's first requests set things up
            redis_conn.config_resetstat()
            assert client.get('/metrics').status_code == 200
            calls = _commands(redis_conn)
            calls.pop('cmdstat_config|resetstat', None)
            calls.pop('cmdstat_config', None)
            return calls

        few = scrape_commands()
        ids = queue_orders(redis_conn, settings, 200)
        redis_conn.ltrim(f'rq:queue:{settings.queue_name}', 0, 2)  # records grow; the queue stays as it was
        many = scrape_commands()
    assert len(ids) == 200
    assert few == many, (few, many)
    assert not any(name.startswith(('cmdstat_scan', 'cmdstat_keys')) for name in many)


def test_metrics_token_protects_metrics(worker_env: dict[str, str], redis_conn: Redis) -> None:
    with TestClient(create_app(web_settings(worker_env, metrics_token='scrape-me'))) as client:
        assert client.get('/metrics').status_code == 401
        assert client.get('/metrics', headers={'Authorization': 'Bearer wrong'}).status_code == 401
        answer = client.get('/metrics', headers={'Authorization': 'Bearer scrape-me'})
        assert answer.status_code == 200 and 'papanoel_queue_depth' in answer.text
    with TestClient(create_app(web_settings(worker_env))) as client:
        assert client.get('/metrics').status_code == 200
