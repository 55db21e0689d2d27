"""`python cli.py dlq ...`: list, show, retry and purge dead jobs."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

import click

from admin.redis_access import require_redis
from deadletter import DeadLetter, DeadLetterQueue, UnknownDeadLetter
from retries import job_retry
from settings import Settings


def _queue(settings: Settings) -> DeadLetterQueue:
    dead = DeadLetterQueue(require_redis(settings))
    dead.sweep(settings.queue_name)  # jobs RQ failed since the last worker maintenance
    return dead


def _unknown(exc: UnknownDeadLetter) -> None:
    click.echo(f'error: {exc}', err=True)
    sys.exit(1)


def _when(ts: float) -> str:
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))


@click.group()
def dlq() -> None:
    """The dead-letter queue: jobs whose every attempt failed."""


@dlq.command('list')
@click.option('--limit', default=50, show_default=True, type=click.IntRange(min=1))
@click.option('--error-type', help='Only entries whose last error has this type (e.g. ProviderTimeout).')
@click.option('--stage', help='Only entries whose last error happened in this stage (e.g. compose).')
@click.option('--language', type=click.Choice(['es', 'en']))
@click.option('--older-than', 'older_days', type=click.FloatRange(min=0), help='Only entries older than DAYS.')
@click.option('--newer-than', 'newer_days', type=click.FloatRange(min=0), help='Only entries newer than DAYS.')
@click.option('--json', 'as_json', is_flag=True, help='One JSON array, for scripts.')
@click.pass_obj
def list_entries(
    settings: Settings,
    limit: int,
    error_type: str | None,
    stage: str | None,
    language: str | None,
    older_days: float | None,
    newer_days: float | None,
    as_json: bool,
) -> None:
    """List dead jobs, newest first."""
    now = time.time()
    entries = _queue(settings).entries(
        limit=limit,
        error_type=error_type,
        stage=stage,
        language=language,
        older_than=now - older_days * 86400 if older_days is not None else None,
        newer_than=now - newer_days * 86400 if newer_days is not None else None,
    )
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], ensure_ascii=False))
        return
    if not entries:
        click.echo('the dead-letter queue is empty' if not (error_type or stage or language) else 'no entry matches')
        return
    for entry in entries:
        last = entry.last_error
        click.echo(
            f'{entry.video_id}  {_when(entry.failed_at)}  attempts={entry.attempts}  '
            f'{last.get("stage", "")}: {last.get("error_type", "")}: {str(last.get("message", ""))[:80]}'
        )


@dlq.command()
@click.argument('video_id')
@click.option('--json', 'as_json', is_flag=True)
@click.pass_obj
def show(settings: Settings, video_id: str, as_json: bool) -> None:
    """Show one dead job: the order and every attempt's error."""
    try:
        entry = _queue(settings).get(video_id)
    except UnknownDeadLetter as exc:
        _unknown(exc)
        return
    if as_json:
        click.echo(json.dumps(asdict(entry), ensure_ascii=False, indent=2))
        return
    _print_entry(entry)


def _print_entry(entry: DeadLetter) -> None:
    order = entry.order
    click.echo(
        f'video {entry.video_id}  failed {_when(entry.failed_at)}  queue {entry.queue}  attempts {entry.attempts}'
    )
    click.echo(f'order: {order["child_name"]}, {order["age"]}, {order["language"]}, {order["parent_email"]}')
    if order.get('message'):
        click.echo(f'message: {order["message"]}')
    for error in entry.errors:
        provider = f' [{error["provider"]}]' if error.get('provider') else ''
        click.echo(
            f'  attempt {error.get("attempt")}  {_when(error.get("at", 0))}  {error.get("stage", "")}{provider}  '
            f'{error.get("error_type", "")}: {error.get("message", "")}'
        )


@dlq.command()
@click.argument('video_id', required=False)
@click.option('--all', 'retry_all', is_flag=True, help='Retry every dead job.')
@click.pass_obj
def retry(settings: Settings, video_id: str | None, retry_all: bool) -> None:
    """Send a dead job (or --all) back to the queue with a fresh attempt budget."""
    if bool(video_id) == retry_all:
        click.echo('error: give one VIDEO_ID or --all', err=True)
        sys.exit(2)
    dead = _queue(settings)
    ids = [e.video_id for e in dead.entries(limit=1_000_000)] if retry_all else [str(video_id)]
    policy = job_retry(settings.max_job_attempts, settings.job_retry_delays_seconds)
    taken = []
    for one in ids:
        try:
            dead.retry(one, job_timeout=settings.job_timeout_seconds, retry=policy)
        except UnknownDeadLetter as exc:
            if not retry_all:
                _unknown(exc)
            taken.append(one)  # retried or purged by someone else since we listed it: theirs now
            continue
        click.echo(f'requeued {one}')
    for one in taken:
        click.echo(f'skipped {one}: already taken by another admin')
    if retry_all and not ids:
        click.echo('the dead-letter queue is empty')


@dlq.command()
@click.argument('video_id', required=False)
@click.option('--older-than', 'older_days', type=click.FloatRange(min=0), help='Purge every entry older than DAYS.')
@click.pass_obj
def purge(settings: Settings, video_id: str | None, older_days: float | None) -> None:
    """Delete a dead job's entry for good (or every entry --older-than DAYS)."""
    if bool(video_id) == (older_days is not None):
        click.echo('error: give one VIDEO_ID or --older-than DAYS', err=True)
        sys.exit(2)
    dead = _queue(settings)
    if older_days is not None:
        purged = dead.purge_older_than(older_days)
        click.echo(f'purged {len(purged)} entr{"y" if len(purged) == 1 else "ies"}')
        return
    try:
        dead.purge(str(video_id))
    except UnknownDeadLetter as exc:
        _unknown(exc)
    click.echo(f'purged {video_id}')
