"""The CLI's way to Redis: a real server named by REDIS_URL, never the embedded one.

The embedded Redis (fakeredis) lives and dies inside one process: an admin command
that wrote an order or retried a dead job there would report success and lose it.
Only `demo` (which works the order in the same process) may use it.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

import click
from redis import Redis, RedisError

from queueing.connection import connect, sentinel_target
from settings import Settings

#: Exit status when the command cannot run as configured (no REDIS_URL).
EXIT_USAGE = 2
#: Exit status when Redis is configured but does not answer.
EXIT_UNREACHABLE = 1


def shown_url(redis_url: str) -> str:
    """The URL without its password, fit for a terminal or a log."""
    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    host = parts.hostname or ''
    netloc = f'{parts.username or ""}:***@{host}' + (f':{parts.port}' if parts.port else '')
    return urlunsplit(parts._replace(netloc=netloc))


def require_redis(settings: Settings) -> Redis:
    """A client for REDIS_URL that answered a PING; otherwise one line on stderr and exit."""
    if not settings.redis_url:
        click.echo(
            'error: REDIS_URL is not set; admin commands refuse the embedded Redis, which dies with this process '
            '(set REDIS_URL, e.g. redis://localhost:6379/0)',
            err=True,
        )
        sys.exit(EXIT_USAGE)
    sentinel = sentinel_target(settings)
    conn = connect(settings.redis_url, sentinel=sentinel)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.find_root().call_on_close(conn.close)
    try:
        conn.ping()
    except RedisError as exc:
        unreachable(settings.redis_url, exc, via=sentinel.describe() if sentinel else '')
    return conn


def unreachable(redis_url: str, exc: BaseException, *, via: str = '') -> None:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    where = shown_url(redis_url) + (f' ({via})' if via else '')
    click.echo(f'error: cannot reach Redis at {where}: {reason}', err=True)
    sys.exit(EXIT_UNREACHABLE)


class RedisAwareGroup(click.Group):
    """Turns a Redis failure in any subcommand (say, Redis lost mid-command) into one line and exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RedisError as exc:
            settings = ctx.obj if isinstance(ctx.obj, Settings) else None
            unreachable(settings.redis_url if settings else '(REDIS_URL)', exc)
            return None
