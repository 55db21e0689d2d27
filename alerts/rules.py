"""The alert rules, in one place: what is measured, against which setting, and what it means.

Each rule reads one `Observation` (alerts/observe.py: the cheap fleet figures plus counts of
ledger events in the window) and says whether it fires and with which value. The same rules,
with the same default thresholds, are Prometheus alerting rules in monitoring/alerts.rules.yml
(tests/test_alerts.py keeps names and thresholds equal, and runs one scenario through both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.observe import Observation
from settings import Settings


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    summary: str
    #: (observation, settings) -> (firing, value shown, threshold shown)
    check: Callable[[Observation, Settings], tuple[bool, float, float]]
    runbook: str


def _failure_rate(o: Observation, s: Settings) -> tuple[bool, float, float]:
    rate = o.failed_attempts / o.attempts if o.attempts else 0.0
    return o.attempts >= s.alert_failure_rate_min_attempts and rate > s.alert_failure_rate, rate, s.alert_failure_rate


def _breaker_open(o: Observation, s: Settings) -> tuple[bool, float, float]:
    longest = max(o.breaker_open_seconds.values(), default=0.0)
    return longest > s.alert_breaker_open_seconds, longest, s.alert_breaker_open_seconds


def _no_heartbeat(o: Observation, s: Settings) -> tuple[bool, float, float]:
    age = o.heartbeat_age_seconds if o.heartbeat_age_seconds is not None else float('inf')
    return age > s.alert_heartbeat_max_age_seconds, age, s.alert_heartbeat_max_age_seconds


RULES: tuple[Rule, ...] = (
    Rule('PapaNoelFailureRateHigh', 'critical', 'Too many job attempts fail',
         _failure_rate, 'docs/RUNBOOK.md#replaying-the-dead-letter-queue-after-an-outage'),
    Rule('PapaNoelQueueDeep', 'warning', 'The queue is deeper than the workers keep up with',
         lambda o, s: (o.queue_depth > s.alert_queue_depth, o.queue_depth, s.alert_queue_depth),
         'docs/RUNBOOK.md#scaling-workers'),
    Rule('PapaNoelOldestQueuedTooOld', 'warning', 'The oldest queued order has waited too long',
         lambda o, s: (o.oldest_queued_age_seconds > s.alert_oldest_queued_seconds, o.oldest_queued_age_seconds,
                       s.alert_oldest_queued_seconds),
         'docs/RUNBOOK.md#scaling-workers'),
    Rule('PapaNoelNoWorkerHeartbeat', 'critical', 'No worker has sent a heartbeat recently',
         _no_heartbeat, 'docs/TROUBLESHOOTING.md#no-worker-is-taking-jobs'),
    Rule('PapaNoelDeadLetterGrowing', 'warning', 'Jobs are landing in the dead-letter queue',
         lambda o, s: (o.dead_lettered >= s.alert_dlq_growth, o.dead_lettered, s.alert_dlq_growth),
         'docs/RUNBOOK.md#replaying-the-dead-letter-queue-after-an-outage'),
    Rule('PapaNoelBreakerOpen', 'warning', 'A provider circuit has stayed open',
         _breaker_open, 'docs/TROUBLESHOOTING.md#a-provider-circuit-is-open'),
    Rule('PapaNoelReviewWaiting', 'warning', 'An order has waited for message review too long',
         lambda o, s: (o.review_oldest_seconds > s.alert_review_waiting_seconds, o.review_oldest_seconds,
                       s.alert_review_waiting_seconds),
         'docs/RUNBOOK.md#december-peak-checklist'),
    Rule('PapaNoelDeliveryFailures', 'warning', 'E-mail or webhook deliveries are failing',
         lambda o, s: (o.delivery_failures >= s.alert_delivery_failures, o.delivery_failures,
                       s.alert_delivery_failures),
         'docs/TROUBLESHOOTING.md#deliveries-fail'),
)  # fmt: skip
