"""`cli.py alerts` and `cli.py events`: the alert state and the cross-job event ledger."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

import ledger
from alerts import current
from queueing.connection import connect
from settings import Settings


@click.command()
@click.option('--json', 'as_json', is_flag=True, help='One JSON object, for machines.')
@click.pass_obj
def alerts(settings: Settings, as_json: bool) -> None:
    """Evaluate every alert rule now; exit 0 when none fires, 1 when one does."""
    states = current(connect(settings.redis_url), settings)
    firing = [a for a in states if a.firing]
    if as_json:
        click.echo(json.dumps({'firing': [a.name for a in firing], 'alerts': [a.as_dict() for a in states]}))
    else:
        for alert in states:
            value = 'none' if alert.value == float('inf') else f'{alert.value:g}'
            mark = 'FIRING' if alert.firing else 'ok    '
            click.echo(f'{mark}  {alert.name:<28} {value:>10} (threshold {alert.threshold:g})  {alert.summary}')
        click.echo(f'{len(firing)} firing' if firing else 'none firing')
    sys.exit(1 if firing else 0)


@click.command()
@click.option('--since', default='', help='Ledger entry id to start after (default: the newest --limit).')
@click.option('--limit', default=50, show_default=True, help='How many events to print first.')
@click.option('--follow', is_flag=True, help='Keep printing new events as they happen (Ctrl-C stops).')
@click.option('--json', 'as_json', is_flag=True, help='One JSON object per line.')
@click.pass_obj
def events(settings: Settings, since: str, limit: int, follow: bool, as_json: bool) -> None:
    """Every job's timeline events, newest last, from the capped ledger stream."""
    conn = connect(settings.redis_url)
    first = ledger.read(conn, since, limit) if since else ledger.latest(conn, limit)
    last = first[-1].id if first else (since or '$')
    for event in first:
        _print(event, as_json)
    if not follow:
        return
    try:
        for event in ledger.follow(conn, since=last):
            _print(event, as_json)
    except KeyboardInterrupt:
        pass


def _print(event: ledger.LedgerEvent, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(event.as_dict()))
    else:
        moment = datetime.fromtimestamp(event.at, UTC).strftime('%Y-%m-%d %H:%M:%S')
        click.echo(f'{event.id:<18} {moment}Z  {event.video_id}  {event.event}')
    sys.stdout.flush()
