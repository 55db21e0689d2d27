"""The RQ jobs that tell the parent (and the API caller) what happened, and `announce`, which
queues them. They run in the same workers as the videos but never inside a render job: a slow
or failing mail server delays no video, and a render retry sends no second e-mail.

These functions run inside a worker, so they are an edge and read the settings.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from typing import Literal

from redis import Redis
from rq import Queue, Retry, get_current_job

import events
from delivery.ledger import Ledger
from delivery.mailer import MailError, send_smtp, write_outbox
from delivery.messages import build_email, failed_letter, ready_letter
from queueing.records import JobRecord, JobRecords
from settings import Settings

log = logging.getLogger(__name__)

Event = Literal['completed', 'failed']
DAY = 86400
#: Longer than one SMTP conversation: two duplicate jobs never send at once.
LEASE_SECONDS = 300


@cache
def current_settings() -> Settings:
    return Settings()


def mail_job_id(video_id: str, event: str) -> str:
    return f'mail-{video_id}-{event}'


def announce(conn: Redis, settings: Settings, video_id: str, event: Event) -> None:
    """Queue the e-mail for this event (and later deliveries); safe to call more than once."""
    delays = settings.delivery_retry_delays_seconds
    Queue(settings.queue_name, connection=conn).enqueue_call(
        'delivery.jobs.send_email',
        args=(video_id, event),
        job_id=mail_job_id(video_id, event),
        timeout=int(settings.smtp_timeout_seconds * 4) + 30,
        retry=Retry(max=len(delays), interval=delays) if delays else None,
        result_ttl=DAY,
        failure_ttl=DAY,
        description=f'papa-noel e-mail {event} {video_id}',
    )


def page_url(settings: Settings, record: JobRecord) -> str:
    return f'{settings.public_base_url.rstrip("/")}/v/{record.page_token}'


def available_until(record: JobRecord, settings: Settings) -> float:
    return (record.completed_at or record.updated_at) + settings.retention_days * DAY


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
                              message_id_seed=f'{video_id}.{event}', language=record.order.language)  # fmt: skip
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
