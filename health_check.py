"""Health check for ops: `python health_check.py [--deep] [--json]`.

Exit 0 when healthy, 1 when not. Answers within 5 s. Thresholds are settings
(HEALTH_MIN_WORKERS, HEALTH_MAX_HEARTBEAT_AGE_SECONDS, HEALTH_MAX_QUEUE_DEPTH, HEALTH_MAX_DLQ_SIZE).
"""

from __future__ import annotations

import argparse
import json
import sys

from monitoring import run_checks
from providers.registry import configured_providers
from queueing.connection import connect, sentinel_target
from settings import Settings
from storage import build_storage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Papá Noel worker health check.')
    parser.add_argument('--deep', action='store_true', help='also call each configured remote provider')
    parser.add_argument('--json', action='store_true', help='one JSON object, for machines')
    args = parser.parse_args(argv)

    settings = Settings()
    conn = connect(settings.redis_url, sentinel=sentinel_target(settings))
    storage = build_storage(settings)
    report = run_checks(settings, conn, storage, configured_providers(settings, storage), deep=args.deep)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        for check in report.checks:
            print(f'{"ok  " if check.ok else "DEGR" if check.degraded else "FAIL"}  {check.name:<18} {check.detail}')
            if args.deep and check.name == 'providers':
                # One line per provider: what its real call proved (or why it failed), and how long it took.
                for name, entry in check.data.items():
                    if 'latency_ms' in entry:
                        failed = 'MISCONFIGURED' if entry['misconfigured'] else 'FAIL'
                        state = 'ok  ' if entry['reachable'] else failed
                        print(f'        {name:<16} {state} {entry["latency_ms"]:>7.1f} ms  {entry["detail"]}')
        print({'healthy': 'healthy', 'degraded': 'DEGRADED', 'warming': 'warming'}.get(report.status, 'UNHEALTHY'))
    return 0 if report.healthy else 1


if __name__ == '__main__':
    sys.exit(main())
