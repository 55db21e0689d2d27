"""The ops dashboard in headless Chromium at phone width: "where is my video?" answered by one
search (the parent's e-mail), the job's order and failure shown, a confirmed action recorded in
the timeline. The real server (`python -m web`), a real `worker.py` whose provider always fails,
the real test Redis; Debian's Chromium through Playwright, as tests/test_browser.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright
from redis import Redis

from records import JobRecords
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, MOBILE, console_errors
from tests.web_support import ADMIN_TOKEN, free_port
from tests.workers import ROOT, start_worker, stop, wait_for

EMAIL = 'abuela.rosa@example.com'


@pytest.fixture
def failing_server(worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path) -> Iterator[str]:
    env = {**worker_env, 'PROVIDER_FACTORY': 'tests.web_support:broken_providers', 'MAX_JOB_ATTEMPTS': '1'}
    port = free_port()
    web_env = {**env, 'PORT': str(port), 'WEB_HOST': '127.0.0.1', 'ADMIN_TOKEN': ADMIN_TOKEN}
    log = (tmp_path / 'web.log').open('ab')
    web = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=web_env, stdout=log, stderr=log)
    worker = start_worker(env, log=tmp_path / 'worker.log')
    base = f'http://127.0.0.1:{port}'

    def up() -> bool:
        try:
            return requests.get(f'{base}/health/live', timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, 30, 0.1, 'the web server to answer')
        yield base
    finally:
        stop(worker)
        stop(web, timeout=10)
        log.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport=MOBILE, locale='en-GB').new_page()
        finally:
            browser.close()


def test_ops_find_an_order_by_email_see_why_it_failed_and_retry_it(
    failing_server: str, page: Page, redis_conn: Redis
) -> None:
    order = {'child_name': 'Martina', 'age': 5, 'message': 'Gracias por portarte tan bien', 'parent_email': EMAIL,
             'language': 'es', 'consent': True}  # fmt: skip
    video_id = requests.post(f'{failing_server}/api/videos', json=order, timeout=10).json()['id']
    wait_for(lambda: requests.get(f'{failing_server}/api/videos/{video_id}', timeout=5).json()['state'] == 'failed',
             120, 0.2, 'the video to fail')  # fmt: skip

    errors = console_errors(page)
    page.goto(failing_server + '/admin')
    page.get_by_label('Admin token').fill(ADMIN_TOKEN)
    page.get_by_role('button', name='Open dashboard').click()
    page.get_by_label('Video id, order link or token, or parent e-mail').fill(EMAIL.upper())  # any case
    page.get_by_role('button', name='Search').click()

    job = page.locator('#job-panel')
    expect(job).to_be_visible()
    expect(page.locator('#job-title')).to_have_text(f'Job {video_id}')
    facts = page.locator('#job-order')
    for shown in ('Martina', '5', 'es', 'Gracias por portarte tan bien', EMAIL, 'failed'):
        expect(facts).to_contain_text(shown)
    expect(page.locator('#job-attempts')).to_contain_text('injected')  # the provider's error, for ops only
    expect(page.locator('#job-attempts')).to_contain_text('dead-letter queue')
    # Nothing overflows the phone's width: tables scroll inside their own box.
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => !e.closest('.table-wrap') && e.scrollWidth > e.clientWidth + 1)
        .map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + e.scrollWidth + '/' + e.clientWidth)""")
    assert page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), wide

    page.once('dialog', lambda dialog: dialog.accept())
    page.locator('#job-actions [data-action="retry"]').click()
    expect(page.locator('#job-message')).to_contain_text('Retry: queued again')
    expect(page.locator('#job-timeline')).to_contain_text('admin:retry')
    assert any(e['event'] == 'admin:retry' for e in JobRecords(redis_conn).timeline(video_id))
    assert page.locator('#job-actions [data-action="forget"]').is_enabled()
    assert errors == []
