"""The RQ jobs that tell the parent (and the API caller) what happened, and `announce`, which
queues them. They run in the same workers as the videos but never inside a render job: a slow
or failing mail server delays no video, and a render retry sends no second e-mail.

These functions run inside a worker, so they are an edge and read the settings.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from redis import Redis
from rq import Queue, Retry, get_current_job

import events
from delivery.ledger import Ledger
from delivery.mailer import MailError, send_smtp, write_outbox
from delivery.messages import build_email, failed_letter, ready_letter
from delivery.webhooks import CallbackRefused, WebhookFailed, check_callback_url, event_id, post, signed_request
from records import JobRecord, JobRecords, record_key
from settings import Settings
from storage import LocalStorage, build_storage

log = logging.getLogger(__name__)

Event = Literal['completed', 'failed']
DAY = 86400
#: Longer than one SMTP conversation: two duplicate jobs never send at once.
LEASE_SECONDS = 300


_given: list[Settings] = []


def use_settings(settings: Settings) -> None:
    """The worker entry point's settings, given before it forks any work horse: a horse (one per
    job) inherits them instead of reading the environment and `.env` again (~40 ms a job)."""
    _given[:] = [settings]


def settings_given() -> bool:
    return bool(_given)


def current_settings() -> Settings:
    """The settings `use_settings` gave; in a process no entry point gave any (an RQ tool's own
    worker), read once."""
    if not _given:
        _given.append(Settings())
    return _given[0]


def delivery_queue_name(settings: Settings) -> str:
    """E-mails, webhooks and deletions wait in a queue of their own, which workers take before videos:
    a parent's e-mail never waits behind December's render backlog, and queue depth stays videos only."""
    return f'{settings.queue_name}-delivery'


def worker_queues(settings: Settings) -> list[str]:
    return [delivery_queue_name(settings), settings.queue_name]


def mail_job_id(video_id: str, event: str) -> str:
    return f'mail-{video_id}-{event}'


def announce(conn: Redis, settings: Settings, video_id: str, event: Event) -> None:
    """Queue the e-mail for this event (and later deliveries); safe to call more than once."""
    delays = settings.delivery_retry_delays_seconds
    Queue(delivery_queue_name(settings), connection=conn).enqueue_call(
        'delivery.jobs.send_email',
        args=(video_id, event),
        job_id=mail_job_id(video_id, event),
        timeout=int(settings.smtp_timeout_seconds * 4) + 30,
        retry=Retry(max=len(delays), interval=delays) if delays else None,
        result_ttl=DAY,
        failure_ttl=DAY,
        description=f'papa-noel e-mail {event} {video_id}',
    )
    record = JobRecords(conn).get(video_id)
    url = conn.hget(record_key(video_id), CALLBACK_FIELD)
    if record is not None and url:
        hook = f'video.{event}'
        announce_webhook(conn, settings, video_id, hook, url.decode() if isinstance(url, bytes) else url,
                         video_payload(settings, record, hook))  # fmt: skip


def page_url(settings: Settings, record: JobRecord) -> str:
    return f'{settings.public_base_url.rstrip("/")}/v/{record.page_token}'


def available_until(record: JobRecord, settings: Settings) -> float:
    return (record.completed_at or record.updated_at) + settings.retention_days * DAY


def poster_of(settings: Settings, video_id: str) -> Path | None:
    """The video's poster (any stored `<id>[.<...>].jpg`), shown in the e-mail; local storage only for now."""
    storage = build_storage(settings)
    if not isinstance(storage, LocalStorage):
        return None
    posters = [Path(p) for p in storage.video_files(video_id) if p.lower().endswith(('.jpg', '.jpeg'))]
    return posters[0] if posters else None


class RetryMail(Exception):
    """A transient failure: RQ tries the job again after its next delay."""


def send_email(video_id: str, event: Event) -> str:
    job = get_current_job()
    if job is None:
        raise RuntimeError('send_email must run inside an RQ worker')
    settings = current_settings()
    records = JobRecords(job.connection)
    record = records.get(video_id)
    extra = {'video_id': video_id, 'mail_event': event}
    if record is None:  # deleted meanwhile: there is no one to write to any more
        return 'gone'
    ledger = Ledger(job.connection, video_id, 'email', event)
    state = ledger.state()
    if state in ('sent', 'failed'):
        log.info(events.MAIL_DUPLICATE_SKIPPED, extra=extra)
        return 'duplicate'
    if not ledger.claim(job.id, LEASE_SECONDS):
        if ledger.state() in ('sent', 'failed'):
            log.info(events.MAIL_DUPLICATE_SKIPPED, extra=extra)
            return 'duplicate'
        raise RetryMail('another delivery of this e-mail is under way')  # it may still crash: look again later
    try:
        letter = (ready_letter(record.order, page_url(settings, record), available_until(record, settings),
                               settings.retention_days) if event == 'completed'
                  else failed_letter(record.order, page_url(settings, record), settings.retention_days))  # fmt: skip
        message = build_email(letter, sender=settings.mail_from, recipient=str(record.order.parent_email),
                              message_id_seed=f'{video_id}.{event}', language=record.order.language,
                              poster=poster_of(settings, video_id) if event == 'completed' else None)  # fmt: skip
        if settings.smtp_host:
            send_smtp(message, settings)
            log.info(events.MAIL_SENT, extra=extra)
        else:
            path = write_outbox(message, settings.outbox_dir, f'{video_id}.{event}')
            log.info(events.MAIL_WRITTEN_TO_OUTBOX, extra={**extra, 'path': str(path)})
            print(f'e-mail for video {video_id} ({event}) written to {path}', file=sys.stderr, flush=True)
    except MailError as exc:
        last = not job.retries_left
        if exc.permanent or last:
            ledger.finish('failed')
            records.add_event(video_id, f'email:{event}:failed', reason=str(exc), permanent=exc.permanent)
            log.error(events.MAIL_FAILED_PERMANENTLY, extra={**extra, 'error': str(exc)})
            return 'failed'
        ledger.release()
        records.add_event(video_id, f'email:{event}:retrying', reason=str(exc))
        log.warning(events.MAIL_RETRYING, extra={**extra, 'error': str(exc)})
        raise RetryMail(str(exc)) from None
    ledger.finish('sent')
    records.add_event(video_id, f'email:{event}:sent')
    return 'sent'


# --- webhooks ---

CALLBACK_FIELD = 'callback_url'


def hook_job_id(video_id: str, event: str) -> str:
    return f'hook-{video_id}-{event.removeprefix("video.")}'  # RQ ids allow no dot


def announce_webhook(conn: Redis, settings: Settings, video_id: str, event: str, url: str,
                     payload: dict[str, object]) -> None:  # fmt: skip
    delays = settings.webhook_retry_delays_seconds
    Queue(delivery_queue_name(settings), connection=conn).enqueue_call(
        'delivery.jobs.send_webhook',
        args=(video_id, event, url, payload),
        job_id=hook_job_id(video_id, event),
        timeout=int(settings.webhook_timeout_seconds) + 30,
        retry=Retry(max=len(delays), interval=delays) if delays else None,
        result_ttl=0 if event == 'video.deleted' else DAY,  # nothing of a deleted video stays behind
        failure_ttl=0 if event == 'video.deleted' else DAY,
        description=f'papa-noel webhook {event}',
    )


def send_webhook(video_id: str, event: str, url: str, payload: dict[str, object]) -> str:
    job = get_current_job()
    if job is None:
        raise RuntimeError('send_webhook must run inside an RQ worker')
    settings = current_settings()
    records = JobRecords(job.connection)
    # The timeline of a deleted video is gone with it: attempts on video.deleted are only logged.
    timeline = event != 'video.deleted' and job.connection.exists(record_key(video_id))
    extra = {'video_id': video_id, 'webhook_event': event}
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ''
    try:
        if not secret:
            raise CallbackRefused('WEBHOOK_SECRET is not set')
        check_callback_url(url, allow_private=settings.webhook_allow_private)
    except CallbackRefused as exc:
        if timeline:
            records.add_event(video_id, f'webhook:{event}:refused', reason=str(exc))
        log.error(events.WEBHOOK_GAVE_UP, extra={**extra, 'error': str(exc)})
        return 'refused'
    message_id = event_id(video_id, event)
    # When the event happened (its job was made), not this attempt: every retry sends the same body.
    occurred = _iso(job.created_at)
    body, headers = signed_request(secret, message_id, {'type': event, 'timestamp': occurred, 'data': payload})
    try:
        status = post(url, body, headers, settings.webhook_timeout_seconds)
        outcome = 'delivered' if 200 <= status < 300 else f'http {status}'
    except WebhookFailed as exc:
        status, outcome = 0, str(exc)
    if timeline:
        records.add_event(video_id, f'webhook:{event}:attempt', outcome=outcome, webhook_id=message_id)
    if outcome == 'delivered':
        log.info(events.WEBHOOK_DELIVERED, extra={**extra, 'status': status})
        return 'delivered'
    if not job.retries_left:
        if timeline:
            records.add_event(video_id, f'webhook:{event}:gave_up')
        log.error(events.WEBHOOK_GAVE_UP, extra={**extra, 'error': outcome})
        return 'gave_up'
    log.warning(events.WEBHOOK_RETRYING, extra={**extra, 'error': outcome})
    raise RetryWebhook(outcome)


class RetryWebhook(Exception):
    """Not delivered: RQ tries again after the next delay."""


def _iso(at: datetime | None) -> str:
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None:  # RQ keeps its times in UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec='seconds').replace('+00:00', 'Z')


def video_payload(settings: Settings, record: JobRecord, event: str) -> dict[str, object]:
    return {'id': record.video_id, 'state': record.state.value, 'status_url':
            f'{settings.public_base_url.rstrip("/")}/api/videos/{record.video_id}',
            'page_url': page_url(settings, record)}  # fmt: skip
