"""Papá Noel video worker: `python worker.py [--burst]`.

Validates the tools and the footage, then runs RQ workers on the video queue until
stopped. Settings come from the environment (see .env.example).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys

from redis import Redis, RedisError

import events
from compose import DECODED_ASSETS, AssetError, load_assets
from queueing.connection import connect, sentinel_target
from settings import Settings
from utils.logs import configure_logging
from workers.worker import run_workers

REQUIRED_TOOLS = ('ffmpeg', 'ffprobe', 'espeak-ng')
log = logging.getLogger('worker')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--burst', action='store_true', help='exit once the queue is empty')
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    conn = (
        connect(settings.redis_url, outage_seconds=settings.redis_outage_seconds, sentinel=sentinel_target(settings))
        if settings.redis_url
        else None
    )
    problem = startup_problem(settings, conn)
    if problem:
        log.error(events.WORKER_REFUSED, extra={'reason': problem})
        print(f'worker: {problem}', file=sys.stderr)
        return 2
    log.info(events.WORKER_STARTING, extra={'queue': settings.queue_name, 'workers': settings.worker_count})
    assert conn is not None
    run_workers(conn, settings, burst=args.burst)
    return 0


def startup_problem(settings: Settings, conn: Redis | None) -> str:
    """Why this worker must not start, or '' when it may."""
    if conn is None:
        return (
            'REDIS_URL is not set. The embedded Redis lives inside one process, so a separate worker '
            'cannot share it: set REDIS_URL (e.g. redis://localhost:6379/0), or run `make demo`.'
        )
    try:
        conn.ping()
    except RedisError as exc:
        target = sentinel_target(settings)
        where = f'{settings.redis_url} ({target.describe()})' if target else settings.redis_url
        return f'cannot reach Redis at {where}: {exc}'
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f'missing tools: {", ".join(missing)} (install: apt-get install -y ffmpeg espeak-ng)'
    try:
        assets = load_assets(settings.assets_dir, verified_dir=settings.template_cache_dir / DECODED_ASSETS)
    except AssetError as exc:
        return f'invalid assets in {settings.assets_dir}:\n{exc}'
    log.info(
        events.ASSETS_VALID, extra={'assets': [str(a.path) for a in (assets.intro, assets.santa_base, assets.outro)]}
    )
    return ''


if __name__ == '__main__':
    sys.exit(main())
