"""`python cli.py stats` and `python cli.py cleanup`."""

from __future__ import annotations

import json

import click

from admin.redis_access import require_redis
from maintenance import cleanup as run_cleanup
from metrics import Metrics
from settings import Settings


@click.command()
@click.option('--json', 'as_json', is_flag=True)
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Counters and stage durations, aggregated across every worker."""
    snapshot = Metrics(require_redis(settings)).snapshot()
    if as_json:
        click.echo(json.dumps(snapshot))
        return
    click.echo('counters:')
    for name, value in snapshot['counters'].items():
        click.echo(f'  {name:<40} {value}')
    click.echo('stages (count, mean seconds):')
    for name, stage in snapshot['stages'].items():
        click.echo(f'  {name:<12} {stage["count"]:>8} {stage["mean_seconds"]:>10.2f}')


@click.command()
@click.option('--dry-run', is_flag=True, help='Only say what would be removed.')
@click.pass_obj
def cleanup(settings: Settings, dry_run: bool) -> None:
    """Remove temp files past their age (never a running job's); records go with `purge`."""
    report = run_cleanup(
        require_redis(settings),
        settings.temp_dir,
        temp_max_age_hours=settings.temp_max_age_hours,
        jobs_max_age_hours=settings.jobs_max_age_hours,
        dry_run=dry_run,
    )
    verb = 'would remove' if dry_run else 'removed'
    for path in report.temp_paths:
        click.echo(f'{verb} temp {path}')
    click.echo(f'{verb} {len(report.temp_paths)} temp paths; kept {len(report.kept_live)} in use')
