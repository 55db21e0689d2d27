"""Counters and stage-duration histograms aggregated across all workers in Redis.

Every worker increments the same keys (HINCRBY / HINCRBYFLOAT are atomic), so the figures
are the fleet's, not one process's. Histograms use fixed buckets, Prometheus-style
(cumulative `le` counts), so the web exporter can publish them as they are.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from redis import Redis

from utils.redis_values import text

COUNTERS_KEY = 'papanoel:metrics:counters'
STAGE_KEY_PREFIX = 'papanoel:metrics:stage:'
STAGE_BUCKETS: tuple[float, ...] = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
#: The stage names seen, so readers never SCAN the keyspace (a scan walks every job record too).
STAGE_NAMES_KEY = 'papanoel:metrics:stages'
#: Recent samples per stage (sorted by time), for p50/p95/max over the last hour and day.
STAGE_SAMPLES_PREFIX = 'papanoel:metrics:stage_samples:'
SAMPLE_WINDOW_SECONDS = 86400
SAMPLES_KEPT = 5000


class Metrics:
    def __init__(self, conn: Redis) -> None:
        self.conn = conn

    def incr(self, name: str, amount: float = 1) -> None:
        if isinstance(amount, int):
            self.conn.hincrby(COUNTERS_KEY, name, amount)
        else:
            self.conn.hincrbyfloat(COUNTERS_KEY, name, amount)

    def observe_stage(self, stage: str, seconds: float, now: float | None = None) -> None:
        key = STAGE_KEY_PREFIX + stage
        now = time.time() if now is None else now
        samples = STAGE_SAMPLES_PREFIX + stage
        with self.conn.pipeline(transaction=False) as pipe:
            pipe.sadd(STAGE_NAMES_KEY, stage)
            pipe.zadd(samples, {f'{now!r}:{seconds!r}:{uuid.uuid4().hex[:6]}': now})
            pipe.zremrangebyscore(samples, '-inf', now - SAMPLE_WINDOW_SECONDS)
            pipe.zremrangebyrank(samples, 0, -SAMPLES_KEPT - 1)
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
        for raw in self._stage_names():
            stage = text(raw)
            result[stage] = {text(k): _number(v) for k, v in self.conn.hgetall(STAGE_KEY_PREFIX + stage).items()}
        return result

    def stage_percentiles(self, window_seconds: float, now: float | None = None) -> dict[str, dict[str, float]]:
        """p50/p95/max and count of each stage's durations within the last `window_seconds`."""
        now = time.time() if now is None else now
        result: dict[str, dict[str, float]] = {}
        for raw in self._stage_names():
            stage = text(raw)
            members: Any = self.conn.zrangebyscore(STAGE_SAMPLES_PREFIX + stage, now - window_seconds, '+inf')
            durations = sorted(float(text(m).split(':')[1]) for m in members)
            if durations:
                result[stage] = {'count': len(durations), 'p50': _quantile(durations, 0.5),
                                 'p95': _quantile(durations, 0.95), 'max': durations[-1]}  # fmt: skip
        return result

    def _stage_names(self) -> list[str]:
        names: Any = self.conn.smembers(STAGE_NAMES_KEY)
        return sorted(text(n) for n in names)

    def snapshot(self) -> dict[str, Any]:
        stages = {
            name: {'count': int(h.get('count', 0)), 'mean_seconds': h['sum'] / h['count'] if h.get('count') else 0.0,
                   **{k: int(v) for k, v in h.items() if k.startswith('le_')}}
            for name, h in sorted(self.stages().items())
        }  # fmt: skip
        return {'counters': dict(sorted(self.counters().items())), 'stages': stages}


def _quantile(ordered: list[float], q: float) -> float:
    # Nearest rank: a real observed duration, never an interpolated one.
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _number(value: bytes | str) -> float:
    number = float(text(value))
    return int(number) if number.is_integer() else number
