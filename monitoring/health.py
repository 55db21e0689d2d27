"""Health checks: each answers ok or not with a reason, all of them within a few seconds.

Checks run in parallel threads under one overall deadline; a check that has not answered
by then counts as failed ("no answer within N s"), so a hung dependency makes the report
unhealthy rather than making ops wait.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Worker

from breakers import BreakerBoard, BreakerState
from compose import DECODED_ASSETS, AssetError, load_assets
from deadletter import DeadLetterQueue
from providers.base import ProviderSet
from queueing.warming import warming_workers
from settings import Settings
from storage.base import Storage, StorageError
from utils.proc import CommandError, run

DEADLINE_SECONDS = 3.0
WARM_START_CHECK = 'warm start'


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    #: Not ok, but the line still runs (e.g. a provider's circuit is open and the chain falls back).
    degraded: bool = False


@dataclass(frozen=True)
class HealthReport:
    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status(self) -> str:
        """'healthy'; 'degraded' (only degraded checks fail: an open provider circuit); 'warming' (a worker
        is still preparing its template); else 'unhealthy'."""
        failing = [c for c in self.checks if not c.ok]
        if not failing:
            return 'healthy'
        if all(c.degraded for c in failing):
            return 'degraded'
        # Only a check that answered "warming": a hung Redis is unhealthy, not warming.
        warming = any(c.name == WARM_START_CHECK and c.data.get('warming') for c in self.checks)
        return 'warming' if warming else 'unhealthy'

    def as_dict(self) -> dict[str, Any]:
        return {'healthy': self.healthy, 'status': self.status, 'checks': [asdict(c) for c in self.checks]}


def run_checks(
    settings: Settings,
    conn: Redis,
    storage: Storage,
    providers: ProviderSet,
    *,
    deep: bool = False,
    deadline: float = DEADLINE_SECONDS,
) -> HealthReport:
    checks: dict[str, Callable[[], Check]] = {
        'redis': lambda: _redis(conn),
        'assets': lambda: _assets(settings),
        'ffmpeg': _ffmpeg,
        'espeak-ng': _espeak,
        'storage': lambda: _storage(storage),
        'workers': lambda: _workers(settings, conn),
        'queue': lambda: _queue(settings, conn),
        'dead-letter queue': lambda: _dead_letters(settings, conn),
        'providers': lambda: _providers(settings, conn, providers, deep),
        WARM_START_CHECK: lambda: _warm_start(conn),
    }
    results: dict[str, Check] = {}

    def run_one(name: str, check: Callable[[], Check]) -> None:
        results[name] = _guarded(name, check)

    # Daemon threads: a check stuck on a dead dependency must not keep the process alive.
    threads = [threading.Thread(target=run_one, args=item, daemon=True) for item in checks.items()]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(timeout=max(0.0, end - time.monotonic()))
    ordered = [results.get(name) or Check(name, False, f'no answer within {deadline:g} s') for name in checks]
    return HealthReport(ordered)


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # a check that breaks is a failed check, not a crashed report
        return Check(name, False, f'{type(exc).__name__}: {exc}')


def _redis(conn: Redis) -> Check:
    started = time.monotonic()
    conn.ping()
    latency = (time.monotonic() - started) * 1000
    return Check('redis', True, f'ping {latency:.1f} ms', {'latency_ms': round(latency, 1)})


def _assets(settings: Settings) -> Check:
    try:
        assets = load_assets(settings.assets_dir, verified_dir=settings.template_cache_dir / DECODED_ASSETS,
                             read_channels=False)  # fmt: skip
    except AssetError as exc:
        return Check('assets', False, str(exc))
    detail = ', '.join(f'{a.path.name} {a.duration:.1f} s' for a in (assets.intro, assets.santa_base, assets.outro))
    return Check('assets', True, detail)


def _ffmpeg() -> Check:
    try:
        run(['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'color=s=64x64:d=0.2', '-c:v', 'libx264', '-f', 'null', '-'],
            timeout=3)  # fmt: skip
        run(['ffprobe', '-version'], timeout=3)
    except CommandError as exc:
        return Check('ffmpeg', False, str(exc))
    return Check('ffmpeg', True, 'ffmpeg encodes H.264; ffprobe present')


def _espeak() -> Check:
    path = shutil.which('espeak-ng')
    return Check('espeak-ng', path is not None, path or 'not installed: the offline voice is missing')


def _storage(storage: Storage) -> Check:
    try:
        storage.check_writable(f'healthcheck-{uuid.uuid4().hex[:8]}')
    except StorageError as exc:
        return Check('storage', False, str(exc))
    return Check('storage', True, f'{storage.name} storage writable')


def _workers(settings: Settings, conn: Redis) -> Check:
    queue = Queue(settings.queue_name, connection=conn)
    workers = Worker.all(queue=queue)
    now = datetime.now(UTC)
    ages = [(now - w.last_heartbeat.replace(tzinfo=UTC)).total_seconds() for w in workers if w.last_heartbeat]
    oldest = max(ages, default=0.0)
    data = {'count': len(workers), 'oldest_heartbeat_seconds': round(oldest, 1)}
    if len(workers) < settings.health_min_workers:
        return Check(
            'workers', False, f'{len(workers)} worker(s) alive, at least {settings.health_min_workers} needed', data
        )
    if oldest > settings.health_max_heartbeat_age_seconds:
        return Check('workers', False, f'a worker has not beaten for {oldest:.0f} s', data)
    return Check('workers', True, f'{len(workers)} alive, oldest heartbeat {oldest:.0f} s ago', data)


def _queue(settings: Settings, conn: Redis) -> Check:
    depth = Queue(settings.queue_name, connection=conn).count
    ok = depth <= settings.health_max_queue_depth
    return Check('queue', ok, f'{depth} waiting (limit {settings.health_max_queue_depth})', {'depth': depth})


def _dead_letters(settings: Settings, conn: Redis) -> Check:
    size = DeadLetterQueue(conn).count()
    ok = size <= settings.health_max_dlq_size
    return Check('dead-letter queue', ok, f'{size} dead (limit {settings.health_max_dlq_size})', {'size': size})


def _providers(settings: Settings, conn: Redis, providers: ProviderSet, deep: bool) -> Check:
    board = BreakerBoard(conn, threshold=settings.breaker_failure_threshold, cooldown=settings.breaker_cooldown_seconds)
    data: dict[str, Any] = {}
    problems = []
    for kind, group in (('tts', providers.tts), ('lipsync', providers.lipsync), ('video', providers.video)):
        for provider in group:
            now = time.time()
            breaker = board.breaker(provider.name).status(now)
            entry: dict[str, Any] = {'kind': kind, 'configured': True, 'breaker': breaker.state.value,
                                     'consecutive_failures': breaker.consecutive_failures}  # fmt: skip
            if breaker.state is BreakerState.OPEN and breaker.opened_at is not None:
                left = max(0.0, breaker.opened_at + settings.breaker_cooldown_seconds - now)
                entry['cooldown_remaining_seconds'] = round(left, 1)
                problems.append(f'{provider.name}: circuit open, cool-down {left:.0f} s left')
            elif breaker.state is BreakerState.HALF_OPEN:
                problems.append(f'{provider.name}: circuit half-open, one probe call decides')
            if deep:
                # A real authenticated call per provider (providers/base.py check_reachable), timed.
                seen = provider.reachability()
                entry.update(reachable=seen.ok, misconfigured=seen.misconfigured, detail=seen.detail,
                             latency_ms=seen.latency_ms)  # fmt: skip
                if not seen.ok:
                    problems.append(f'{provider.name}: {seen.detail}')
            data[provider.name] = entry
    # An open circuit does not stop the line (the chain falls back, the last TTS is always called),
    # but the service is not at full quality: degraded, not ok.
    unreachable = [p for p in problems if ': circuit ' not in p]
    degraded = bool(problems) and not unreachable
    if deep:
        lines = [
            f'{name} ({entry["kind"]}): {"ok" if entry["reachable"] else "FAIL"} {entry["latency_ms"]:.0f} ms, '
            f'{entry["detail"]}'
            for name, entry in data.items()
        ]
        circuits = [p for p in problems if ': circuit ' in p]
        detail = '; '.join(circuits + lines) or 'none configured'
        return Check('providers', not problems, ('degraded: ' if degraded else '') + detail, data, degraded=degraded)
    summary = ', '.join(f'{name} ({entry["kind"]}, {entry["breaker"]})' for name, entry in data.items()) or 'none'
    detail = ('degraded: ' if degraded else '') + '; '.join(problems)
    return Check('providers', not problems, detail or f'configured: {summary}', data, degraded=degraded)


def _warm_start(conn: Redis) -> Check:
    # A warming worker takes no job yet: not ready, and said so, rather than a bare "0 workers".
    warming = warming_workers(conn)
    if warming:
        who = ', '.join(f'{name} for {seconds:.0f} s' for name, seconds in sorted(warming.items()))
        return Check(WARM_START_CHECK, False, f'warming: building the template ({who})', {'warming': warming})
    return Check(WARM_START_CHECK, True, 'no worker warming up', {'warming': {}})
