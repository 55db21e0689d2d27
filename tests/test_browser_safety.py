"""In a real browser: a held message says so on the page, and the rate limit is said in minutes
where the parent is looking (the button they just pressed), not at the top of a scrolled form."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright
from redis import Redis

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, MOBILE, console_errors
from tests.web_support import ADMIN_TOKEN, free_port
from tests.workers import ROOT, stop, wait_for


@pytest.fixture
def limited_server(worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path) -> Iterator[str]:
    """`python -m web` allowing one order per 10 minutes, reviewing flagged messages; no video worker."""
    port = free_port()
    env = {**worker_env, 'PORT': str(port), 'WEB_HOST': '127.0.0.1', 'ADMIN_TOKEN': ADMIN_TOKEN,
           'RATE_LIMIT_ORDERS': '1', 'RATE_LIMIT_WINDOW_SECONDS': '600', 'MESSAGE_REVIEW': 'flagged'}  # fmt: skip
    log = (tmp_path / 'web.log').open('ab')
    web = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=log, stderr=log)
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
        stop(web, timeout=10)
        log.close()


@pytest.fixture
def new_page() -> Iterator[Callable[[], Page]]:
    """Pages in fresh contexts: the order page remembers an order in progress."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield lambda: browser.new_context(viewport=MOBILE, locale='es-ES').new_page()
        finally:
            browser.close()


def fill_order(page: Page, message: str) -> None:
    page.get_by_label('Nombre del niño o la niña').fill('Lucía')
    page.get_by_label('Edad', exact=True).fill('6')
    page.get_by_label('Tu mensaje (opcional)').fill(message)
    page.get_by_label('Tu correo electrónico').fill('mama@example.com')
    page.get_by_label('Soy su madre', exact=False).check()


def test_a_held_message_says_we_are_checking_it_and_the_limit_is_in_minutes_in_view(
    limited_server: str, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    page.goto(limited_server + '/')
    fill_order(page, 'Nadie te quiere')
    page.get_by_role('button', name='Pedir mi vídeo').click()
    expect(page.locator('#progress-status')).to_contain_text('Estamos revisando tu mensaje')

    page = new_page()
    errors = console_errors(page)
    page.goto(limited_server + '/')
    fill_order(page, '¡Sigue leyendo tanto!')
    with page.expect_response('**/api/videos') as answer:
        page.get_by_role('button', name='Pedir mi vídeo').click()
    assert answer.value.status == 429
    box = page.locator('#form-error')
    # Fixed windows: what is left of this one, rounded up to whole minutes.
    expect(box).to_have_text(re.compile(r'^Has hecho demasiados pedidos seguidos\. Inténtalo de nuevo dentro de '
                                        r'(\d+ minutos|un minuto)\.$'))  # fmt: skip
    assert 'segundos' not in box.inner_text()
    expect(box).to_be_in_viewport()
    assert [e for e in errors if 'status of 429' not in e] == []
