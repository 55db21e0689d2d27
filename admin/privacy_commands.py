"""`python cli.py purge` and `python cli.py forget`: the retention period and deletion on request."""

from __future__ import annotations

import sys

import click

from privacy.forget import ForgetReport, Forgetter
from privacy.retention import purge as run_purge
from queueing.connection import connect
from settings import Settings
from storage import build_storage


def _show(report: ForgetReport, verb: str) -> None:
    for item in [*report.files, *report.redis_keys]:
        click.echo(f'{verb} {item}')
    click.echo(f'{verb} video {report.video_id}: {len(report.files)} files, {len(report.redis_keys)} Redis keys')


@click.command()
@click.option('--dry-run', is_flag=True, help='List what would be deleted, delete nothing.')
@click.pass_obj
def purge(settings: Settings, dry_run: bool) -> None:
    """Delete every video past RETENTION_DAYS, with everything personal about its order (also automatic)."""
    reports = run_purge(connect(settings.redis_url), build_storage(settings), settings, dry_run=dry_run)
    verb = 'would delete' if dry_run else 'deleted'
    for report in reports:
        _show(report, verb)
    click.echo(f'{verb} {len(reports)} videos past {settings.retention_days} days')


@click.command()
@click.argument('video_id', required=False)
@click.option('--email', 'address', default=None, help='Every order placed with this address.')
@click.option('--dry-run', is_flag=True, help='List what would be deleted, delete nothing.')
@click.pass_obj
def forget(settings: Settings, video_id: str | None, address: str | None, dry_run: bool) -> None:
    """Delete a video and everything personal about its order now (GDPR erasure); idempotent."""
    if bool(video_id) == bool(address):
        click.echo('error: give a VIDEO_ID or --email ADDRESS (one of them)', err=True)
        sys.exit(2)
    forgetter = Forgetter(connect(settings.redis_url), build_storage(settings), settings)
    verb = 'would delete' if dry_run else 'deleted'
    if video_id:
        reports = [forgetter.forget(video_id, reason='admin', dry_run=dry_run)]
    else:
        assert address is not None
        reports = forgetter.forget_email(address, reason='admin', dry_run=dry_run)
        if not reports:
            click.echo('no order was placed with that address')
    for report in reports:
        _show(report, verb)
