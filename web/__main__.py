"""Run the web side: `python -m web` (what `make serve` runs).

With REDIS_URL: the web app alone (WEB_WORKERS uvicorn processes); workers run elsewhere
(`python worker.py`). Without it: the embedded Redis and one worker thread in this process,
and, unless ADMIN_TOKEN is set, a generated admin token printed here, so a newcomer can
order a video and watch the dashboard with nothing else running.
"""

from __future__ import annotations

import logging
import secrets
import sys

from queueing.connection import embedded
from settings import Settings
from utils.logs import configure_logging
from web.app import create_app
from web.embedded import start_worker
from web.serving import serve, serve_processes
from worker import startup_problem

log = logging.getLogger('web')


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.redis_url:
        if settings.web_workers > 1:
            return serve_processes(settings)  # each process builds its app from the environment
        serve(create_app(settings), settings)
        return 0

    if settings.web_workers > 1:
        print('web: WEB_WORKERS > 1 needs REDIS_URL (the embedded Redis lives in one process)', file=sys.stderr)
        return 2
    conn = embedded()
    # The worker runs in here, so its preconditions are this process's: tools, footage.
    problem = startup_problem(settings, conn)
    if problem:
        print(f'web: {problem}', file=sys.stderr)
        return 2
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else ''
    # Only this throwaway mode makes a token: its Redis, and so everything it guards, dies with it.
    shown = '(ADMIN_TOKEN)' if admin_token else 'admin token: '
    if not admin_token:
        admin_token = secrets.token_urlsafe(18)
        shown += admin_token
    start_worker(conn, settings)
    url = f'http://{settings.web_host}:{settings.port}'
    print(
        f'\n  Papá Noel: {url}/\n  Ops dashboard: {url}/admin  {shown}\n'
        '  Embedded Redis and one worker in this process; set REDIS_URL to use a real Redis.\n',
        file=sys.stderr,
        flush=True,
    )
    serve(create_app(settings, conn=conn, admin_token=admin_token), settings)
    return 0


if __name__ == '__main__':
    sys.exit(main())
