"""The runbooks are true: every shell block marked `bash runnable` in them runs, today, against a
private Redis; every parent-facing error code is explained; every alert links to a real section."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from alerts import RULES
from tests.ops_support import queue_orders
from tests.web_support import TestClient, web_settings
from tests.workers import ROOT
from web import i18n
from web.app import create_app

RUNBOOKS = ('TROUBLESHOOTING.md', 'DEPLOYMENT.md', 'MONITORING.md', 'RUNBOOK.md')
BLOCK = re.compile(r'^```bash runnable\n(.*?)^```', re.S | re.M)


def runnable_blocks() -> list[tuple[str, int, str]]:
    found = []
    for name in RUNBOOKS:
        text = (ROOT / 'docs' / name).read_text()
        for n, match in enumerate(BLOCK.finditer(text), 1):
            found.append((name, n, match.group(1)))
    return found


def slug(heading: str) -> str:
    # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def test_every_runbook_has_runnable_blocks() -> None:
    per_file = {name for name, _, _ in runnable_blocks()}
    assert per_file == set(RUNBOOKS)


BLOCKS = runnable_blocks()


@pytest.mark.parametrize(('doc', 'number', 'script'), BLOCKS, ids=[f'{d}-{n}' for d, n, _ in BLOCKS])
def test_runnable_block_runs(
    doc: str, number: int, script: str, worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path
) -> None:
    queue_orders(redis_conn, web_settings(worker_env), 2)  # something to look at
    env = {**worker_env, 'PATH': f'{Path(sys.executable).parent}{os.pathsep}{worker_env["PATH"]}',
           'BACKUP_DIR': str(tmp_path)}  # fmt: skip
    done = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, (
        f'{doc} block {number} failed:\n{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}'
    )
    assert 'Traceback' not in done.stderr, done.stderr


def test_every_parent_facing_error_is_in_troubleshooting() -> None:
    text = (ROOT / 'docs' / 'TROUBLESHOOTING.md').read_text()
    missing = [code for code in i18n.MESSAGES if f'`{code}`' not in text]
    assert missing == []


def test_every_alert_is_documented_and_links_to_a_real_section() -> None:
    monitoring = (ROOT / 'docs' / 'MONITORING.md').read_text()
    for rule in RULES:
        assert rule.name in monitoring
        path, _, anchor = rule.runbook.partition('#')
        headings = re.findall(r'^#+ (.+)$', (ROOT / path).read_text(), re.M)
        assert anchor in {slug(h) for h in headings}, (rule.name, rule.runbook)


def test_the_grafana_dashboard_and_the_docs_use_exported_metrics(worker_env: dict[str, str], redis_conn: Redis) -> None:
    with TestClient(create_app(web_settings(worker_env))) as client:
        scrape = client.get('/metrics').text
    exported = set(re.findall(r'^# TYPE (papanoel_[a-z_]+) (\w+)', scrape, re.M))
    names = (
        {name for name, _ in exported}
        | {f'{n}_total' for n, kind in exported if kind == 'counter'}
        | {f'{n}_bucket' for n, kind in exported if kind == 'histogram'}
    )
    dashboard = json.loads((ROOT / 'monitoring' / 'grafana-dashboard.json').read_text())
    exprs = [t['expr'] for panel in dashboard['panels'] for t in panel['targets']]
    documented = (ROOT / 'docs' / 'MONITORING.md').read_text()
    for metric in {m for expr in exprs for m in re.findall(r'papanoel_[a-z_]+', expr)}:
        assert metric in names, f'grafana uses {metric}, which /metrics does not export'
        assert re.sub(r'_bucket$', '', metric) in documented, metric
    for metric in set(re.findall(r'`(papanoel_[a-z_]+)', documented)):
        assert metric in names, f'MONITORING.md documents {metric}, which /metrics does not export'
