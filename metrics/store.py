"""Counters and stage-duration histograms aggregated across all workers in Redis.

Every worker increments the same keys (HINCRBY / HINCRBYFLOAT are atomic), so the figures
are the fleet's, not one process's. Histograms use fixed buckets, Prometheus-style
(cumulative `le` counts), so the web exporter can publish them as they are.
"""

from __future__ import annotations

from typing import Any

from redis import Redis

from utils.redis_values import text

COUNTERS_KEY = 'papanoel:metrics:counters'
STAGE_KEY_PREFIX = 'papanoel:metrics:stage:'
STAGE_BUCKETS: tuple[float, ...] = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    def __init__(self, conn: Redis) -> None:
        self.conn = conn

    def incr(self, name: str, amount: float = 1) -> None:
        if isinstance(amount, int):
            self.conn.hincrby(COUNTERS_KEY, name, amount)
        else:
            self.conn.hincrbyfloat(COUNTERS_KEY, name, amount)

    def observe_stage(self, stage: str, seconds: float) -> None:
        key = STAGE_KEY_PREFIX + stage
        with self.conn.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, 'count', 1)
            pipe.hincrbyfloat(key, 'sum', seconds)
            for bound in STAGE_BUCKETS:
                if seconds <= bound:
                    pipe.hincrby(key, f'le_{bound:g}', 1)
            pipe.execute()

    def counters(self) -> dict[str, float]:
        return {text(k): _number(v) for k, v in self.conn.hgetall(COUNTERS_KEY).items()}

    def stages(self) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        for key in self.conn.scan_iter(match=STAGE_KEY_PREFIX + '*'):
            stage = text(key).removeprefix(STAGE_KEY_PREFIX)
            result[stage] = {text(k): _number(v) for k, v in self.conn.hgetall(key).items()}
        return result

    def snapshot(self) -> dict[str, Any]:
        stages = {
            name: {'count': int(h.get('count', 0)), 'mean_seconds': h['sum'] / h['count'] if h.get('count') else 0.0,
                   **{k: int(v) for k, v in h.items() if k.startswith('le_')}}
            for name, h in sorted(self.stages().items())
        }  # fmt: skip
        return {'counters': dict(sorted(self.counters().items())), 'stages': stages}


def _number(value: bytes | str) -> float:
    number = float(text(value))
    return int(number) if number.is_integer() else number
