"""Admin commands: `python cli.py --help`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from admin import alert_commands, dlq_commands, ops_commands, privacy_commands
from admin.redis_access import RedisAwareGroup, require_redis
from compose.placeholders import render_placeholders
from orders import OrderError, parse_order
from orders.model import FieldError
from queueing.cancel import CannotCancel, cancel_order
from queueing.enqueue import enqueue_order
from records import JobRecords, State
from retries import job_retry
from settings import Settings
from utils.logs import configure_logging
from web.moderation import moderate
from workers.demo import run_demo


def order_options(func: Any) -> Any:
    options = [
        click.option('--name', 'child_name', required=True, help="Child's name."),
        click.option('--age', required=True, help="Child's age in years (1-17)."),
        click.option('--message', default='', help='Personal message Santa reads (optional).'),
        click.option('--email', 'parent_email', default='parent@example.com', show_default=True),
        click.option('--language', default='es', show_default=True, help='es or en.'),
        click.option('--order-id', default=None, help='Reuse an id to make enqueueing idempotent.'),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _order_or_exit(fields: dict[str, Any]) -> Any:
    data = {k: v for k, v in fields.items() if v is not None}
    try:
        order = parse_order({**data, 'consent': True})
    except OrderError as exc:
        _refuse(exc.errors)
    # What the web refuses, the CLI refuses too: Santa says nothing the checks did not see.
    refused = moderate(order)
    if refused:
        _refuse(refused)
    return order


def _refuse(errors: list[FieldError]) -> NoReturn:
    # One line per field; the model's texts name bad characters as U+XXXX, so they always print.
    for error in errors:
        click.echo(f'error: {error.field}: {error.message}', err=True)
    sys.exit(2)


@click.group(cls=RedisAwareGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Papá Noel video service administration."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


@cli.command()
@order_options
@click.pass_obj
def enqueue(settings: Settings, /, **fields: Any) -> None:
    """Validate an order and queue it (the parent's consent is taken as given)."""
    order = _order_or_exit(fields)
    conn = require_redis(settings)
    result = enqueue_order(
        conn,
        order,
        queue_name=settings.queue_name,
        job_timeout=settings.job_timeout_seconds,
        retry=job_retry(settings.max_job_attempts, settings.job_retry_delays_seconds),
    )
    click.echo(json.dumps({'video_id': result.video_id, 'created': result.created, 'state': result.state}))


@cli.command()
@click.argument('video_id')
@click.pass_obj
def status(settings: Settings, video_id: str) -> None:
    """Show one video's job record."""
    record = JobRecords(require_redis(settings)).get(video_id)
    if record is None:
        click.echo(f'error: no video with id {video_id}', err=True)
        sys.exit(1)
    click.echo(record.model_dump_json(indent=2))


@cli.command()
@click.argument('video_id')
@click.pass_obj
def cancel(settings: Settings, video_id: str) -> None:
    """Take a queued order out of production for good (the supported way; `rq empty` is not)."""
    try:
        cancel_order(require_redis(settings), video_id)
    except CannotCancel as exc:
        click.echo(f'error: {exc}', err=True)
        sys.exit(1)
    click.echo(f'canceled {video_id}')


@cli.command()
@order_options
@click.pass_obj
def demo(settings: Settings, /, **fields: Any) -> None:
    """Produce one video end to end and print the path of the MP4."""
    order = _order_or_exit(fields)
    record = run_demo(settings, order)
    if record.state is not State.COMPLETED:
        click.echo(f'error: video {record.video_id} {record.state}: {record.error}', err=True)
        sys.exit(1)
    click.echo(f'strategy: {record.strategy}  providers: {record.providers}', err=True)
    click.echo(record.output)


@cli.command()
@click.option('--dir', 'assets_dir', type=click.Path(path_type=Path), default=None, help='Default: ASSETS_DIR.')
@click.option('--size', default='1080x1920', show_default=True, help='WIDTHxHEIGHT of the placeholders.')
@click.option('--force', is_flag=True, help='Render again even if the files exist.')
@click.pass_obj
def assets(settings: Settings, assets_dir: Path | None, size: str, force: bool) -> None:
    """Render placeholder footage for every missing asset."""
    width, height = (int(side) for side in size.lower().split('x'))
    rendered = render_placeholders(assets_dir or settings.assets_dir, width=width, height=height, overwrite=force)
    for path in rendered:
        click.echo(f'rendered placeholder {path}')


cli.add_command(dlq_commands.dlq)
cli.add_command(ops_commands.stats)
cli.add_command(ops_commands.cleanup)
cli.add_command(alert_commands.alerts)
cli.add_command(alert_commands.events)
cli.add_command(privacy_commands.purge)
cli.add_command(privacy_commands.forget)

if __name__ == '__main__':
    cli()
