"""Alerts: the rules fire and resolve once, notify a webhook, agree with the Prometheus rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis import Redis

from alerts import RULES, current, evaluate_and_notify
from alerts.evaluate import LOCK_KEY, AlertStatus
from alerts.notify import SettingsNotifier
from breakers import BreakerBoard
from metrics import Metrics
from providers.errors import TransientProviderError
from settings import Settings
from tests.ops_support import queue_orders, samples, webhook_receiver
from tests.web_support import TestClient, web_settings
from tests.workers import ROOT
from web.app import create_app

RULES_FILE = ROOT / 'monitoring' / 'alerts.rules.yml'
RULES_TEST_FILE = ROOT / 'monitoring' / 'alerts.rules.test.yml'
#: Each rule's threshold in the Prometheus expression, and the setting that holds it for the workers.
THRESHOLD_OF = {
    'PapaNoelFailureRateHigh': (r'\) > ([\d.]+)', 'alert_failure_rate'),
    'PapaNoelQueueDeep': (r'> (\d+)', 'alert_queue_depth'),
    'PapaNoelOldestQueuedTooOld': (r'> (\d+)', 'alert_oldest_queued_seconds'),
    'PapaNoelNoWorkerHeartbeat': (r'> (\d+)', 'alert_heartbeat_max_age_seconds'),
    'PapaNoelDeadLetterGrowing': (r'>= (\d+)', 'alert_dlq_growth'),
    'PapaNoelBreakerOpen': (None, 'alert_breaker_open_seconds'),
    'PapaNoelReviewWaiting': (r'> (\d+)', 'alert_review_waiting_seconds'),
    'PapaNoelDeliveryFailures': (r'>= (\d+)', 'alert_delivery_failures'),
}


def promtool() -> str:
    path = shutil.which('promtool')
    if path is None:
        pytest.skip('promtool missing (Debian: apt-get install prometheus; scripts/bootstrap.sh test installs it)')
    return path


def prometheus_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES_FILE.read_text())['groups']
    return {rule['alert']: rule for group in groups for rule in group['rules']}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, alert: AlertStatus, kind: str) -> None:
        self.sent.append((alert.name, kind))


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    tool = promtool()
    checked = subprocess.run([tool, 'check', 'rules', str(RULES_FILE)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([tool, 'test', 'rules', str(RULES_TEST_FILE)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_prometheus_rules_are_the_same_rules_with_the_same_thresholds() -> None:
    rules = prometheus_rules()
    assert set(rules) == {rule.name for rule in RULES} == set(THRESHOLD_OF)
    defaults = Settings()
    for rule in RULES:
        pattern, setting = THRESHOLD_OF[rule.name]
        prom = rules[rule.name]
        assert prom['labels']['severity'] == rule.severity and prom['annotations']['runbook'] == rule.runbook
        if pattern is None:  # the breaker rule's threshold is its `for:`
            assert prom['for'] == f'{int(getattr(defaults, setting) // 60)}m'
            continue
        literal = float(re.findall(pattern, prom['expr'])[0])
        assert literal == getattr(defaults, setting), rule.name
    # The failure-rate window and minimum attempts too.
    expr = rules['PapaNoelFailureRateHigh']['expr']
    assert f'[{defaults.alert_window_seconds // 60}m]' in expr
    assert f'>= {defaults.alert_failure_rate_min_attempts}' in expr


@pytest.mark.parametrize('extra', [1, 0], ids=['over-threshold', 'at-threshold'])
def test_queue_depth_fires_cli_alerts_and_the_prometheus_rule_alike(
    worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path, extra: int
) -> None:
    """The same Redis, seen by `cli.py alerts --json` and by Prometheus over a /metrics scrape of it."""
    tool = promtool()
    settings = web_settings(worker_env)
    queue_orders(redis_conn, settings, settings.alert_queue_depth + extra)

    answer = subprocess.run([sys.executable, 'cli.py', 'alerts', '--json'], cwd=ROOT, env=worker_env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    report = json.loads(answer.stdout)
    cli_firing = set(report['firing'])
    assert ('PapaNoelQueueDeep' in cli_firing) == bool(extra)
    assert answer.returncode == (1 if cli_firing else 0)

    with TestClient(create_app(settings)) as client:
        scrape = client.get('/metrics').text
    series = [
        {'series': name + ('{' + ','.join(f'{k}="{v}"' for k, v in labels.items()) + '}' if labels else ''),
         'values': f'{"+Inf" if value == float("inf") else repr(value)}+0x20'}
        for name, labels, value in samples(scrape)
    ]  # fmt: skip
    rules = prometheus_rules()
    expected = [
        {'eval_time': '16m', 'alertname': name,
         'exp_alerts': [{'exp_labels': {'severity': rule['labels']['severity']},
                         'exp_annotations': rule['annotations']}] if name in cli_firing else []}
        for name, rule in rules.items()
    ]  # fmt: skip
    test_file = tmp_path / 'scenario.test.yml'
    test_file.write_text(yaml.safe_dump({'rule_files': [str(RULES_FILE)], 'evaluation_interval': '1m',
                                         'tests': [{'interval': '1m', 'input_series': series,
                                                    'alert_rule_test': expected}]}))  # fmt: skip
    verdict = subprocess.run([tool, 'test', 'rules', str(test_file)], capture_output=True, text=True)
    assert verdict.returncode == 0, f'cli fired {sorted(cli_firing)}; promtool says:\n{verdict.stdout}'


def test_an_alert_notifies_once_when_it_fires_and_once_when_it_resolves(
    worker_env: dict[str, str], redis_conn: Redis
) -> None:
    settings = web_settings(worker_env, alert_queue_depth=2)
    recorder = Recorder()
    ids = queue_orders(redis_conn, settings, 3)

    def evaluate() -> list[str]:
        redis_conn.delete(LOCK_KEY)  # the next maintenance interval
        return evaluate_and_notify(redis_conn, settings, recorder)

    assert 'PapaNoelQueueDeep:firing' in evaluate()
    assert evaluate() == [] and evaluate() == []
    assert recorder.sent.count(('PapaNoelQueueDeep', 'firing')) == 1
    redis_conn.lrem(f'rq:queue:{settings.queue_name}', 0, ids[0])
    assert 'PapaNoelQueueDeep:resolved' in evaluate()
    assert evaluate() == []
    assert recorder.sent.count(('PapaNoelQueueDeep', 'resolved')) == 1


def test_one_evaluator_per_interval(worker_env: dict[str, str], redis_conn: Redis) -> None:
    settings = web_settings(worker_env, alert_queue_depth=0)
    queue_orders(redis_conn, settings, 1)
    first, second = Recorder(), Recorder()
    evaluate_and_notify(redis_conn, settings, first)
    evaluate_and_notify(redis_conn, settings, second)  # another worker, same interval: the lock is taken
    assert ('PapaNoelQueueDeep', 'firing') in first.sent and second.sent == []


def test_firing_alerts_reach_a_slack_compatible_webhook(worker_env: dict[str, str], redis_conn: Redis) -> None:
    with webhook_receiver() as (url, received):
        settings = web_settings(worker_env, alert_queue_depth=0, alert_webhook_url=url)
        queue_orders(redis_conn, settings, 1)
        evaluate_and_notify(redis_conn, settings, SettingsNotifier(settings))
    texts = [body['text'] for body in received]
    assert any('[FIRING] PapaNoelQueueDeep' in text and 'docs/RUNBOOK.md' in text for text in texts), texts


def test_failure_rate_dead_letters_and_breakers_are_observed(worker_env: dict[str, str], redis_conn: Redis) -> None:
    settings = web_settings(worker_env)
    now = time.time()
    from records import JobRecords

    records = JobRecords(redis_conn)
    ids = queue_orders(redis_conn, settings, 4)
    for video_id in ids:
        records.start_attempt(video_id)
        records.fail_attempt(video_id, {'stage': 'audio', 'message': 'boom'}, final=False)
    Metrics(redis_conn).incr('provider:synclabs:calls')
    board = BreakerBoard(redis_conn, threshold=1, cooldown=settings.breaker_cooldown_seconds)
    board.failure('synclabs', TransientProviderError('synclabs', 'down'))
    firing = {a.name for a in current(redis_conn, settings, now) if a.firing}
    assert 'PapaNoelFailureRateHigh' in firing
    later = now + settings.alert_breaker_open_seconds + 1  # the breaker stays open past the threshold
    states = {a.name: a for a in current(redis_conn, settings, later)}
    assert states['PapaNoelBreakerOpen'].firing and states['PapaNoelBreakerOpen'].value > 600


def test_a_running_worker_evaluates_the_alerts_in_its_maintenance(
    worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path
) -> None:
    """No cli, no test code evaluating: a real `worker.py` notices and notifies on its own."""
    from ledger.search_index import REVIEW_INDEX_KEY
    from tests.workers import FAST_RECOVERY, start_worker, stop, wait_for

    redis_conn.zadd(REVIEW_INDEX_KEY, {'waiting-video': time.time() - 7200})  # held for review for 2 hours
    with webhook_receiver() as (url, received):
        env = {**worker_env, **FAST_RECOVERY, 'ALERT_WEBHOOK_URL': url}
        worker = start_worker(env, log=tmp_path / 'worker.log')
        try:
            wait_for(lambda: any('PapaNoelReviewWaiting' in b['text'] for b in received), 60, 0.1,
                     'the worker to notify the review alert')  # fmt: skip
            redis_conn.delete(REVIEW_INDEX_KEY)
            wait_for(lambda: any('[RESOLVED] PapaNoelReviewWaiting' in b['text'] for b in received), 60, 0.1,
                     'the worker to notify the resolution')  # fmt: skip
        finally:
            stop(worker)
    firing = [b for b in received if '[FIRING] PapaNoelReviewWaiting' in b['text']]
    assert len(firing) == 1, received  # notified once, however many maintenance passes ran


def test_an_email_that_fails_for_good_fires_the_delivery_alert_and_shows_on_the_dashboard(
    worker_env: dict[str, str], redis_conn: Redis
) -> None:
    from records import JobRecords
    from tests.web_support import ADMIN_TOKEN

    settings = web_settings(worker_env, alert_delivery_failures=1)
    with TestClient(create_app(settings)) as client:
        order = {'child_name': 'Lucía', 'age': 6, 'message': 'Sigue así', 'parent_email': 'mama@example.com',
                 'language': 'es', 'consent': True}  # fmt: skip
        video_id = client.post('/api/videos', json=order).json()['id']
        assert 'PapaNoelDeliveryFailures' not in {a.name for a in current(redis_conn, settings) if a.firing}
        # As delivery/jobs.py records a refused address (SMTP 5xx): a timeline event, nothing else.
        JobRecords(redis_conn).add_event(video_id, 'email:completed:failed', reason='550', permanent=True)
        assert 'PapaNoelDeliveryFailures' in {a.name for a in current(redis_conn, settings) if a.firing}
        job = client.get(f'/api/admin/jobs/{video_id}', headers={'Authorization': f'Bearer {ADMIN_TOKEN}'}).json()
        assert job['deliveries'] == 'email:completed:failed'
