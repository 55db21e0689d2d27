"""The parent's e-mails through real parts: a forking `worker.py` on the test Redis renders the
video, queues the e-mail as its own job, and sends it over SMTP to a real aiosmtpd server; what
arrives is parsed with the `email` package."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from delivery.jobs import announce
from orders import parse_order
from providers.base import ProviderSet, Speech, TTSProvider
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from settings import Settings
from storage.base import Storage
from tests.smtp_server import Mailbox, smtp_server
from tests.web_support import web_settings
from tests.workers import ROOT, start_worker, stop, wait_for

BASE = 'https://videos.example.test'


class HangingTTS(TTSProvider):
    """Says it started (a marker file), then hangs until its work horse is killed."""

    name = 'hanging'

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        Path(os.environ['HANG_MARKER']).write_text(str(os.getpid()))
        time.sleep(3600)
        raise AssertionError('not killed')


def hanging_providers(settings: Settings, storage: Storage) -> ProviderSet:
    return ProviderSet(tts=(HangingTTS(),))


EMAIL = 'mama.sofia@example.com'


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_env(worker_env: dict[str, str], smtp: tuple[int, Mailbox]) -> dict[str, str]:
    return {**worker_env, 'SMTP_HOST': '127.0.0.1', 'SMTP_PORT': str(smtp[0]), 'SMTP_TLS': 'off',
            'MAIL_FROM': 'Papá Noel <santa@example.test>', 'PUBLIC_BASE_URL': BASE,
            'DELIVERY_RETRY_DELAYS_SECONDS': '[0, 0]', 'RETENTION_DAYS': '30'}  # fmt: skip


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, 'worker.py', '--burst'], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def order_for(conn: Redis, language: str = 'es', email: str = EMAIL, attempts: int = 1) -> str:
    order = parse_order({'child_name': 'Sofía María', 'age': 6, 'message': 'Gracias por ayudar en casa',
                         'parent_email': email, 'language': language, 'consent': True})  # fmt: skip
    enqueue_order(conn, order, queue_name='papa-noel-videos', job_timeout=600, retry=job_retry(attempts, [0]))
    return order.video_id


def test_one_email_when_the_video_is_ready(redis_conn: Redis, mail_env: dict[str, str],
                                           smtp: tuple[int, Mailbox]) -> None:  # fmt: skip
    _, mailbox = smtp
    video_id = order_for(redis_conn)
    done = run_worker(mail_env)
    assert done.returncode == 0, done.stderr[-3000:]
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.state is State.COMPLETED and record.completed_at

    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert mailbox.envelopes[0][1] == [EMAIL] and message['To'] == EMAIL
    assert message['Subject'] == 'El vídeo de Papá Noel para Sofía está listo'
    assert message.get_content_type() == 'multipart/alternative'
    text_part = message.get_body(preferencelist=('plain',))
    html_part = message.get_body(preferencelist=('html',))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    page = f'{BASE}/v/{record.page_token}'
    assert page in text and f'href="{page}"' in html
    assert len(record.page_token) >= 22 and video_id not in record.page_token  # >= 128 bits, not the id
    assert 'Sofía' in text and 'María' not in text  # the first name
    # Until when: RETENTION_DAYS after delivery, as a date in Spanish.
    until = time.gmtime(record.completed_at + 30 * 86400)
    assert f'hasta el {until.tm_mday} de ' in text and str(until.tm_year) in text
    assert '«Borrar este vídeo ahora»' in text
    images = [part for part in message.walk() if part.get_content_type() == 'image/jpeg']
    # The poster the render stored beside the video (<id>.poster.jpg, as every file of a video is named).
    poster = (Path(mail_env['OUTPUT_DIR']) / f'{video_id}.poster.jpg').read_bytes()
    assert len(images) == 1 and images[0].get_content() == poster and poster.startswith(b'\xff\xd8')
    assert f'src="cid:{images[0]["Content-ID"].strip("<>")}"' in html
    timeline = [e['event'] for e in JobRecords(redis_conn).timeline(video_id)]
    assert timeline.count('email:completed:sent') == 1
    # No address and no content in the logs.
    assert EMAIL not in done.stderr and 'Sofía' not in done.stderr

    # A duplicate delivery of the event (a second job, a replayed announce): still one e-mail.
    announce(redis_conn, web_settings(mail_env), video_id, 'completed')
    assert run_worker(mail_env).returncode == 0
    assert len(mailbox.messages) == 1


def test_a_temporary_smtp_error_is_retried_and_still_one_email(
    redis_conn: Redis, mail_env: dict[str, str], smtp: tuple[int, Mailbox]
) -> None:
    _, mailbox = smtp
    mailbox.temporary_failures = 1
    video_id = order_for(redis_conn, language='en')
    assert run_worker(mail_env).returncode == 0
    assert mailbox.data_attempts == 2 and len(mailbox.messages) == 1
    assert mailbox.messages[0]['Subject'] == "Santa's video for Sofía is ready"
    timeline = [e['event'] for e in JobRecords(redis_conn).timeline(video_id)]
    assert timeline.count('email:completed:retrying') == 1 and timeline.count('email:completed:sent') == 1


def test_a_refused_address_is_a_permanent_failure_in_the_timeline(
    redis_conn: Redis, mail_env: dict[str, str], smtp: tuple[int, Mailbox]
) -> None:
    _, mailbox = smtp
    mailbox.refuse_rcpt.add('nobody@example.com')
    video_id = order_for(redis_conn, email='nobody@example.com')
    done = run_worker(mail_env)
    assert done.returncode == 0
    assert mailbox.messages == []
    entries = [e for e in JobRecords(redis_conn).timeline(video_id) if e['event'].startswith('email:')]
    assert [e['event'] for e in entries] == ['email:completed:failed']  # not retried
    assert entries[0]['permanent'] is True and 'nobody' not in json.dumps(entries)
    assert 'nobody@example.com' not in done.stderr


def test_final_failure_sends_an_honest_apology(
    redis_conn: Redis, mail_env: dict[str, str], smtp: tuple[int, Mailbox]
) -> None:
    _, mailbox = smtp
    video_id = order_for(redis_conn, attempts=2)
    env = {**mail_env, 'PROVIDER_FACTORY': 'tests.web_support:broken_providers'}
    assert run_worker(env).returncode == 0
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.state is State.FAILED
    assert len(mailbox.messages) == 1  # one apology, not one per failed attempt
    message = mailbox.messages[0]
    assert message['Subject'] == 'No hemos podido crear el vídeo de Papá Noel para Sofía'
    body = message.get_body(preferencelist=('plain',))
    assert body is not None
    text = body.get_content()
    assert 'te llegará otro correo' in text and 'dentro de 30 días' in text
    assert f'{BASE}/v/{record.page_token}' in text


def test_without_smtp_host_the_email_is_written_to_the_outbox(
    redis_conn: Redis, worker_env: dict[str, str], tmp_path: Path
) -> None:
    outbox = tmp_path / 'outbox'
    video_id = order_for(redis_conn)
    done = run_worker({**worker_env, 'OUTBOX_DIR': str(outbox), 'PUBLIC_BASE_URL': BASE})
    assert done.returncode == 0
    path = outbox / f'{video_id}.completed.eml'
    assert path.is_file() and f'written to {path}' in done.stderr
    from email import message_from_bytes, policy

    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message['To'] == EMAIL and message.get_content_type() == 'multipart/alternative'


def test_a_killed_work_horse_on_the_last_attempt_still_gets_one_apology(
    redis_conn: Redis, mail_env: dict[str, str], smtp: tuple[int, Mailbox], tmp_path: Path
) -> None:
    _, mailbox = smtp
    video_id = order_for(redis_conn, attempts=1)
    marker = tmp_path / 'horse.pid'
    env = {**mail_env, 'PROVIDER_FACTORY': 'tests.test_delivery_email:hanging_providers', 'HANG_MARKER': str(marker)}
    worker = start_worker(env, log=tmp_path / 'worker.log')
    try:
        wait_for(marker.exists, 120, 0.1, 'the work horse to start the job')
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the horse dies without running any of our code
        with mailbox.received:
            assert mailbox.received.wait_for(lambda: mailbox.messages, timeout=120), 'no apology arrived'
    finally:
        stop(worker)
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]['Subject'] == 'No hemos podido crear el vídeo de Papá Noel para Sofía'
    record = JobRecords(redis_conn).get(video_id)
    assert record is not None and record.state is State.FAILED
