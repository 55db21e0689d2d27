"""Which workers are still warming up (workers.warm): read by the health check, so kept light."""

from __future__ import annotations

import time

from redis import Redis

WARMING_KEY_PREFIX = 'papanoel:warming:'


def warming_workers(conn: Redis) -> dict[str, float]:
    """Workers still warming up: '<host>:<pid>' → seconds since they started warming."""
    now = time.time()
    found = {}
    for raw in conn.scan_iter(match=f'{WARMING_KEY_PREFIX}*', count=100):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        since = conn.get(key)
        if since is not None:
            found[key.removeprefix(WARMING_KEY_PREFIX)] = max(0.0, now - float(since))
    return found
