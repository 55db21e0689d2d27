"""The parent's whole journey in headless Chromium, through what `make serve` runs (`python -m web`
with no REDIS_URL: the embedded Redis and worker) with an SMTP server configured: order on the
landing page, exactly one e-mail arrives, its link plays the video in a fresh browser context,
the download is named after the child, and "delete this video now" deletes it (410 afterwards)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect, sync_playwright

from tests.smtp_server import Mailbox, smtp_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, MOBILE, console_errors
from tests.web_support import free_port
from tests.workers import ROOT, stop, wait_for


@pytest.fixture
def journey(worker_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Mailbox]]:
    with smtp_server() as (smtp_port, mailbox):
        port = free_port()
        base = f'http://127.0.0.1:{port}'
        env = {k: v for k, v in worker_env.items() if k != 'REDIS_URL'}
        env.update(PORT=str(port), WEB_HOST='127.0.0.1', SMTP_HOST='127.0.0.1', SMTP_PORT=str(smtp_port),
                   SMTP_TLS='off', MAIL_FROM='santa@example.test', PUBLIC_BASE_URL=base,
                   MAINTENANCE_INTERVAL_SECONDS='1', JOB_MONITORING_INTERVAL_SECONDS='1')  # fmt: skip
        log = (tmp_path / 'web.log').open('ab')
        web = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=log, stderr=log)

        def up() -> bool:
            try:
                return requests.get(f'{base}/health/live', timeout=1).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_for(up, 60, 0.1, 'the web server to answer')
            yield base, mailbox
        finally:
            stop(web, timeout=10)
            log.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_email_link_plays_the_video_in_a_fresh_browser(
    journey: tuple[str, Mailbox], browser: Browser, tmp_path: Path
) -> None:
    base, mailbox = journey
    ordering = browser.new_context(viewport=MOBILE, locale='es-ES').new_page()
    ordering.goto(base + '/')
    expect(ordering.locator('#footer-text')).to_contain_text('30 días después de entregarlo')
    ordering.get_by_label('Nombre del niño o la niña').fill('Sofía')
    ordering.get_by_label('Edad', exact=True).fill('6')
    ordering.get_by_label('Tu correo electrónico').fill('mama@example.com')
    ordering.get_by_label('Soy su madre', exact=False).check()
    ordering.get_by_role('button', name='Pedir mi vídeo').click()
    expect(ordering.locator('#page-link')).to_have_attribute('href', re.compile(r'^/v/[A-Za-z0-9_-]{22,}$'))

    with mailbox.received:
        assert mailbox.received.wait_for(lambda: mailbox.messages, timeout=180), 'no e-mail arrived'
    message = mailbox.messages[0]
    body = message.get_body(preferencelist=('plain',))
    assert body is not None
    link = re.search(rf'{re.escape(base)}/v/[A-Za-z0-9_-]+', body.get_content())
    assert link

    # A fresh browser: no cookie, no storage, another language preference.
    fresh = browser.new_context(viewport=MOBILE, locale='en-GB')
    page = fresh.new_page()
    errors = console_errors(page)
    page.goto(link.group(0))
    assert page.locator('html').get_attribute('lang') == 'en'  # Accept-Language, nothing stored
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return v.getAttribute('src') && v.readyState >= 1 }",
        timeout=60_000,
    )
    assert page.eval_on_selector('#player', 'v => v.duration') > 5
    expect(page.locator('#title')).to_have_text("Santa's video for Sofía")
    assert page.locator('#download').get_attribute('download') == 'papa-noel-sofia.mp4'
    expect(page.locator('#available')).to_contain_text('Available until')
    assert 'mama@example.com' not in page.content()
    page.screenshot(path=str(tmp_path / 'order-page.png'), full_page=True)

    page.get_by_role('button', name='Delete this video now').click()
    page.get_by_role('button', name='Yes, delete it now').click()
    expect(page.locator('#status')).to_contain_text('were deleted on')
    assert page.request.get(link.group(0)).status == 410
    assert page.request.get(link.group(0) + '/video').status == 410
    page.reload()
    expect(page.locator('#status')).to_contain_text('were deleted on')
    assert len(mailbox.messages) == 1
    assert [e for e in errors if 'status of 410' not in e] == []
