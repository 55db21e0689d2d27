"""End to end in headless Chromium: the real server (`python -m web` in a subprocess), a real
`worker.py`, the real test Redis. A parent fills the form with the keyboard, orders, watches
the progress and gets a video that plays, with no console error along the way.

Debian's /usr/bin/chromium is driven by Playwright (no browser download); screenshots of the
landing page and the finished state are left in the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from redis import Redis

from tests.web_support import ADMIN_TOKEN, free_port
from tests.workers import ROOT, start_worker, stop, wait_for

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']  # fmt: skip

if not Path(CHROMIUM).exists():
    if os.environ.get('CI'):
        pytest.fail('Chromium is required under CI (scripts/bootstrap.sh test installs it)', pytrace=False)
    pytest.skip('chromium is not installed (apt-get install -y chromium)', allow_module_level=True)

from playwright.sync_api import ConsoleMessage, Page, Request, ViewportSize, expect, sync_playwright  # noqa: E402

MOBILE: ViewportSize = {'width': 390, 'height': 844}


@pytest.fixture
def server(worker_env: dict[str, str], redis_conn: Redis, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**worker_env, 'PORT': str(port), 'WEB_HOST': '127.0.0.1', 'ADMIN_TOKEN': ADMIN_TOKEN}
    log = (tmp_path / 'web.log').open('ab')
    web = subprocess.Popen([sys.executable, '-m', 'web'], cwd=ROOT, env=env, stdout=log, stderr=log)
    worker = start_worker(worker_env, log=tmp_path / 'worker.log')
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
def page(tmp_path: Path) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=MOBILE, locale='es-ES')
            yield context.new_page()
        finally:
            browser.close()


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ('error', 'assert'):
            errors.append(f'console.{message.type}: {message.text}')

    page.on('console', on_console)
    page.on('pageerror', lambda exc: errors.append(f'uncaught: {exc}'))
    page.on('requestfailed', lambda request: on_failed(request))

    def on_failed(request: Request) -> None:
        # The player cancels its own range requests once it has what it wants: not an error.
        if request.resource_type == 'media' and request.failure == 'net::ERR_ABORTED':
            return
        errors.append(f'request failed: {request.url} ({request.failure})')

    return errors


def test_a_parent_orders_a_video_and_watches_it(server: str, page: Page, tmp_path: Path) -> None:
    errors = console_errors(page)
    page.goto(server + '/')
    assert page.title() == 'Un vídeo de Papá Noel, solo para tu peque'
    page.screenshot(path=str(tmp_path / 'landing.png'), full_page=True)

    # The keyboard only, from the first field: name, how it sounds, listen, age, message, email,
    # language, gender, formats, consent, submit.
    page.get_by_label('Nombre del niño o la niña').focus()
    page.keyboard.type('Lucía')
    page.keyboard.press('Tab')
    page.keyboard.press('Tab')
    page.keyboard.press('Tab')
    page.keyboard.type('6')
    page.keyboard.press('Tab')
    page.keyboard.type('¡Sigue leyendo tanto, y ayuda a tu hermano!')
    page.keyboard.press('Tab')
    page.keyboard.type('mama@example.com')
    page.keyboard.press('Tab')  # the video's language: Spanish, as the page
    page.keyboard.press('Tab')  # the wording: neutral
    for _ in range(3):  # the formats: vertical only
        page.keyboard.press('Tab')
    page.keyboard.press('Tab')
    page.keyboard.press('Space')
    assert page.get_by_label('Soy su madre', exact=False).is_checked()
    page.keyboard.press('Tab')
    page.keyboard.press('Enter')

    progress = page.locator('#progress-view')
    progress.wait_for(state='visible', timeout=10_000)
    assert page.locator('#order-view').is_hidden()
    assert page.locator('#progress-status').get_attribute('aria-live') == 'polite'

    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return v.getAttribute('src') && v.readyState >= 1 }",
        timeout=120_000,
    )
    duration = page.eval_on_selector('#player', 'v => v.duration')
    assert duration > 5
    assert page.locator('#progress-bar').evaluate('p => p.value') == 100
    expect(page.locator('#progress-title')).to_have_text('¡Tu vídeo de Papá Noel está listo!')
    page.wait_for_timeout(700)  # let the progress bar's transition finish for the screenshot
    page.screenshot(path=str(tmp_path / 'finished.png'), full_page=True)

    # The player shows the poster and offers the subtitles as a track (#14).
    poster = page.locator('#player').get_attribute('poster')
    assert poster and page.request.get(server + poster).headers['content-type'] == 'image/jpeg'
    expect(page.locator('#player track')).to_have_count(1)
    track = page.locator('#player track').get_attribute('src')
    assert track and page.request.get(server + track).text().startswith('WEBVTT')
    expect(page.locator('#subtitles-download')).to_be_visible()

    href = page.locator('#download').get_attribute('href')
    assert href and 'token=' in href and href.endswith('&download=true')
    download = page.request.get(server + href)
    assert download.status == 200 and download.headers['content-type'] == 'video/mp4'
    assert download.headers['content-disposition'].startswith('attachment')

    # The page switches to English, the finished state included.
    page.get_by_role('button', name='English').click()
    assert page.locator('html').get_attribute('lang') == 'en'
    expect(page.locator('#progress-title')).to_have_text('Your video from Santa is ready!')
    assert errors == []


def test_the_form_explains_mistakes_in_both_languages(server: str, page: Page, redis_conn: Redis) -> None:
    errors = console_errors(page)
    page.goto(server + '/')
    page.get_by_role('button', name='Pedir mi vídeo').click()
    name_error = page.locator('#child_name-error')
    expect(name_error).to_have_text('Escribe el nombre del niño o la niña.')
    assert page.locator('#child_name').get_attribute('aria-invalid') == 'true'
    assert page.evaluate('document.activeElement.id') == 'child_name'  # focus goes to the first mistake

    page.get_by_label('Nombre del niño o la niña').fill('3 Reyes')
    page.get_by_label('Edad', exact=True).fill('18')
    page.get_by_role('button', name='English').click()
    page.get_by_role('button', name='Order my video').click()
    expect(name_error).to_have_text('The name must start with a letter.')
    expect(page.locator('#age-error')).to_have_text('Age must be between 1 and 17.')
    expect(page.locator('#consent-error')).to_have_text('We need your consent to make the video.')

    # What only the server knows (moderation) comes back into the same place.
    page.get_by_label("Child's name").fill('Mateo')
    page.get_by_label('Age', exact=True).fill('8')
    page.get_by_label('Your message (optional)').fill('You are a little shit')
    page.get_by_label('Your email').fill('papa@example.com')
    page.get_by_label("I am the child's parent", exact=False).check()
    with page.expect_response('**/api/videos') as answer:
        page.get_by_role('button', name='Order my video').click()
    assert answer.value.status == 422
    # The page shows the answer after the response arrives: wait for it rather than read at once.
    refused = 'The message contains words Santa cannot say. Please change it.'
    expect(page.locator('#message-error')).to_have_text(refused)
    assert not redis_conn.keys('papanoel:video:*')
    # The browser reports the refused request itself as a failed resource load; nothing else may appear.
    assert [e for e in errors if 'status of 422' not in e] == []


def test_the_listen_button_plays_santas_greeting(server: str, page: Page) -> None:
    errors = console_errors(page)
    page.goto(server + '/')
    page.get_by_label('Nombre del niño o la niña').fill('Xavi')
    page.get_by_label('Cómo suena (opcional)').fill('Chabi')
    with page.expect_response('**/api/preview') as answer:
        page.get_by_role('button', name='Escuchar').click()
    assert answer.value.status == 200
    assert answer.value.headers['content-type'] in ('audio/wav', 'audio/mpeg')
    assert answer.value.request.post_data_json == {
        'child_name': 'Xavi', 'name_pronunciation': 'Chabi', 'language': 'es', 'gender': 'neutral'}  # fmt: skip
    # It plays: the element has the clip, knows its length, and its clock runs (or it already ended).
    page.wait_for_function(
        "() => { const a = document.getElementById('preview-player');"
        ' return a.readyState >= 1 && a.duration > 0.3 && (a.currentTime > 0 || a.ended) }',
        timeout=30_000,
    )
    assert page.eval_on_selector('#preview-player', 'a => a.error') is None
    assert errors == []


def test_chromium_is_the_system_one() -> None:
    # The test must not depend on a browser Playwright downloaded.
    assert shutil.which('chromium') == CHROMIUM
