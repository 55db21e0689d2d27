"""GET /metrics: Prometheus exposition of the fleet's figures, read from Redis at scrape time.

Workers keep their counters and stage histograms in Redis (metrics/store.py), and every
timeline event bumps a counter (ledger/); RQ's registries give the rest. No job record is read
(monitoring/figures.py), so a scrape costs the same at any number of videos. Any web
process can publish the whole fleet's numbers and every scrape agrees, whichever process
answers it. A custom collector turns them into metric families; nothing is kept in this
process. If Redis cannot be read, `papanoel_up` is 0 and the rest is left out.
With METRICS_TOKEN set, a scrape needs `Authorization: Bearer <METRICS_TOKEN>`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from redis import Redis, RedisError

import events
from metrics import STAGE_BUCKETS, Metrics
from monitoring.figures import fleet_figures
from web.context import get_context
from web.security import tokens_equal

log = logging.getLogger(__name__)

router = APIRouter(tags=['ops'])

PREFIX = 'papanoel'
# Counters the workers keep under these names (pipeline/produce.py), as metric name and help.
_PLAIN_COUNTERS = {
    'job_attempts': ('job_attempts', 'Job attempts started.'),
    'job_attempts_failed': ('job_attempts_failed', 'Job attempts that failed.'),
    'jobs_completed': ('jobs_completed', 'Videos produced.'),
    'audio_cache_hits': ('audio_cache_hits', 'Speech taken from the audio cache.'),
    'audio_cache_misses': ('audio_cache_misses', 'Speech that had to be synthesized.'),
}
_PROVIDER_COUNTERS = {
    'calls': 'Provider calls.',
    'failures': 'Provider calls that failed.',
    'characters': 'Characters sent to a TTS provider.',
    'media_seconds': 'Seconds of media a provider produced.',
}


class RedisCollector:
    def __init__(self, conn: Redis, queue_name: str, breaker_threshold: int = 5, breaker_cooldown: float = 60) -> None:
        self.conn = conn
        self.queue_name = queue_name
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown = breaker_cooldown

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(f'{PREFIX}_up', 'Whether Redis could be read for this scrape.')
        try:
            families = list(self._families())
        except RedisError as exc:
            log.warning(events.METRICS_REDIS_UNAVAILABLE, extra={'error': type(exc).__name__})
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _families(self) -> Iterable[Metric]:
        # Cheap figures only (monitoring/figures.py): no job record is read, whatever their number.
        f = fleet_figures(self.conn, self.queue_name, breaker_threshold=self.breaker_threshold,
                          breaker_cooldown=self.breaker_cooldown)  # fmt: skip
        yield GaugeMetricFamily(f'{PREFIX}_queue_depth', 'Jobs waiting in the queue.', value=f.queued)
        queue = GaugeMetricFamily(f'{PREFIX}_queue_jobs', 'RQ jobs by registry.', labels=['registry'])
        for registry, count in (('queued', f.queued), ('started', f.started), ('scheduled', f.scheduled)):
            queue.add_metric([registry], count)
        yield queue
        yield GaugeMetricFamily(f'{PREFIX}_dead_letter_queue_size', 'Jobs in the dead-letter queue.',
                                value=f.dead_letter)  # fmt: skip
        yield GaugeMetricFamily(f'{PREFIX}_oldest_queued_age_seconds', 'Age of the job at the head of the queue.',
                                value=f.oldest_queued_age_seconds)  # fmt: skip
        jobs = GaugeMetricFamily(f'{PREFIX}_jobs', 'Jobs by state (live ones from the registries).', labels=['state'])
        for state, count in sorted(f.jobs_by_state().items()):
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily(f'{PREFIX}_workers', 'Live RQ workers.', value=f.workers)
        yield GaugeMetricFamily(
            f'{PREFIX}_worker_heartbeat_age_seconds',
            'Seconds since the freshest worker heartbeat (+Inf with no worker).',
            value=f.heartbeat_age_seconds if f.heartbeat_age_seconds is not None else math.inf,
        )
        events_total = CounterMetricFamily(f'{PREFIX}_job_events', 'Timeline events of every job, by kind.',
                                           labels=['event'])  # fmt: skip
        for kind, count in sorted(f.events.items()):
            events_total.add_metric([kind], count)
        yield events_total
        breaker = GaugeMetricFamily(f'{PREFIX}_breaker_open', '1 while a provider circuit is not closed.',
                                    labels=['provider', 'state'])  # fmt: skip
        for provider in f.providers:
            breaker.add_metric([provider.name, provider.breaker], 0 if provider.breaker == 'closed' else 1)
        yield breaker
        yield GaugeMetricFamily(f'{PREFIX}_review_waiting', 'Orders waiting for message review.',
                                value=f.review_waiting)  # fmt: skip
        yield GaugeMetricFamily(f'{PREFIX}_review_oldest_waiting_seconds', 'How long the oldest review has waited.',
                                value=f.review_oldest_seconds)  # fmt: skip

        store = Metrics(self.conn)
        yield self._stage_histogram(store.stages())
        yield from self._counters(f.counters)

    @staticmethod
    def _stage_histogram(stages: dict[str, dict[str, float]]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(f'{PREFIX}_stage_duration_seconds', 'Time spent in each stage.',
                                       labels=['stage'])  # fmt: skip
        for stage, values in sorted(stages.items()):
            # The store keeps cumulative `le_<bound>` counts already, Prometheus-style.
            # `le` as Prometheus writes it (1.0, not 1), from the store's own key format (le_1).
            buckets = [(repr(float(bound)), float(values.get(f'le_{bound:g}', 0))) for bound in STAGE_BUCKETS]
            buckets.append(('+Inf', float(values.get('count', 0))))
            family.add_metric([stage], buckets, float(values.get('sum', 0.0)))
        return family

    @staticmethod
    def _counters(counters: dict[str, float]) -> Iterable[Metric]:
        plain = {
            key: CounterMetricFamily(f'{PREFIX}_{name}', doc, value=counters.get(key, 0))
            for key, (name, doc) in _PLAIN_COUNTERS.items()
        }
        yield from plain.values()
        providers = {
            kind: CounterMetricFamily(f'{PREFIX}_provider_{kind}', doc, labels=['provider'])
            for kind, doc in _PROVIDER_COUNTERS.items()
        }
        strategies = CounterMetricFamily(f'{PREFIX}_strategy_completed', 'Videos produced by each strategy.',
                                         labels=['strategy'])  # fmt: skip
        web_orders = CounterMetricFamily(f'{PREFIX}_web_orders', 'Orders the web API answered, by outcome.',
                                         labels=['outcome'])  # fmt: skip
        other = CounterMetricFamily(f'{PREFIX}_counter', 'Other shared counters, by name.', labels=['name'])
        for key, value in sorted(counters.items()):
            parts = key.split(':')
            if key in plain:
                continue
            if len(parts) == 3 and parts[0] == 'provider' and parts[2] in providers:
                providers[parts[2]].add_metric([parts[1]], value)
            elif len(parts) == 2 and parts[0] == 'strategy':
                strategies.add_metric([parts[1]], value)
            elif len(parts) == 3 and parts[:2] == ['web', 'orders']:
                web_orders.add_metric([parts[2]], value)
            else:
                other.add_metric([key], value)
        yield from providers.values()
        yield strategies
        yield web_orders
        yield other


@router.get(
    '/metrics',
    summary='Prometheus metrics of the whole fleet',
    response_class=Response,
    responses={
        200: {
            'content': {
                'text/plain': {'schema': {'type': 'string'}},
                'application/openmetrics-text': {'schema': {'type': 'string'}},
            }
        }
    },
)
def metrics(request: Request) -> Response:
    ctx = get_context(request)
    required = ctx.settings.metrics_token.get_secret_value() if ctx.settings.metrics_token else ''
    if required:
        scheme, _, given = request.headers.get('authorization', '').partition(' ')
        if scheme.lower() != 'bearer' or not given.strip() or not tokens_equal(given.strip(), required):
            return Response('metrics need Authorization: Bearer <METRICS_TOKEN>\n', status_code=401,
                            media_type='text/plain', headers={'WWW-Authenticate': 'Bearer'})  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    settings = ctx.settings
    registry.register(RedisCollector(ctx.conn, settings.queue_name, settings.breaker_failure_threshold,
                                     settings.breaker_cooldown_seconds))  # fmt: skip
    encoder, content_type = choose_encoder(request.headers.get('accept', ''))
    return Response(encoder(registry), media_type=content_type, headers={'Cache-Control': 'no-store'})
