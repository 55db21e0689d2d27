"""Evaluate the rules, remember what fires, notify only on a change (fire once, resolve once).

The workers' maintenance loop calls `evaluate_and_notify` every MAINTENANCE_INTERVAL_SECONDS;
a lock in Redis lets one worker of the fleet evaluate per interval, and the state hash makes a
firing alert notify once, not at every pass, and once more when it resolves. `cli.py alerts`
calls `current` (no notification, no state change).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis

import events
from alerts.notify import Notifier
from alerts.observe import observe
from alerts.rules import RULES
from settings import Settings
from utils.redis_values import text

log = logging.getLogger(__name__)

STATE_KEY = 'papanoel:alerts:state'
LOCK_KEY = 'papanoel:alerts:lock'


@dataclass(frozen=True)
class AlertStatus:
    name: str
    severity: str
    summary: str
    firing: bool
    value: float
    threshold: float
    runbook: str
    #: When it started firing (from the stored state), or None.
    since: float | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data['value'] = _finite(self.value)
        return data


def current(conn: Redis, settings: Settings, now: float | None = None) -> list[AlertStatus]:
    observation = observe(conn, settings, now)
    stored = _stored(conn)
    result = []
    for rule in RULES:
        firing, value, threshold = rule.check(observation, settings)
        since = (stored.get(rule.name, {}).get('since') or observation.at) if firing else None
        result.append(AlertStatus(rule.name, rule.severity, rule.summary, firing, value, threshold, rule.runbook,
                                  since))  # fmt: skip
    return result


def evaluate_and_notify(conn: Redis, settings: Settings, notifier: Notifier, now: float | None = None) -> list[str]:
    """One fleet-wide evaluation if no other worker did one this interval; the transitions notified."""
    if not conn.set(LOCK_KEY, '1', nx=True, ex=max(1, settings.maintenance_interval_seconds - 1)):
        return []
    now = time.time() if now is None else now
    stored = _stored(conn)
    transitions = []
    for alert in current(conn, settings, now):
        was_firing = bool(stored.get(alert.name, {}).get('firing'))
        if alert.firing == was_firing:
            continue
        state = {'firing': alert.firing, 'since': now if alert.firing else None, 'value': _finite(alert.value)}
        conn.hset(STATE_KEY, alert.name, json.dumps(state))
        kind = 'firing' if alert.firing else 'resolved'
        extra = {'alert': alert.name, 'value': _finite(alert.value), 'threshold': alert.threshold}
        log.warning(events.ALERT_FIRING if alert.firing else events.ALERT_RESOLVED, extra=extra)
        notifier.send(alert, kind)
        transitions.append(f'{alert.name}:{kind}')
    return transitions


def _stored(conn: Redis) -> dict[str, dict[str, Any]]:
    raw: Any = conn.hgetall(STATE_KEY)
    return {text(k): json.loads(text(v)) for k, v in raw.items()}


def _finite(value: float) -> float | None:
    return None if value in (float('inf'), float('-inf')) else round(value, 4)
