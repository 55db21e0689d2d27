"""GET /metrics: Prometheus exposition of the fleet's figures, read from Redis at scrape time.

Workers keep their counters and stage histograms in Redis (metrics/store.py), so any web
process can publish the whole fleet's numbers and every scrape agrees, whichever process
answers it. A custom collector turns them into metric families; nothing is kept in this
process. If Redis cannot be read, `papanoel_up` is 0 and the rest is left out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from redis import Redis, RedisError
from rq import Worker

import events
from metrics import STAGE_BUCKETS, Metrics
from web.context import get_context
from web.stats import counts_by_state, job_summaries, queue_figures

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
    def __init__(self, conn: Redis, queue_name: str) -> None:
        self.conn = conn
        self.queue_name = queue_name

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
        figures = queue_figures(self.conn, self.queue_name)
        yield GaugeMetricFamily(f'{PREFIX}_queue_depth', 'Jobs waiting in the queue.', value=figures['queued'])
        queue = GaugeMetricFamily(f'{PREFIX}_queue_jobs', 'RQ jobs by registry.', labels=['registry'])
        for registry in ('queued', 'started', 'scheduled'):
            queue.add_metric([registry], figures[registry])
        yield queue
        yield GaugeMetricFamily(f'{PREFIX}_dead_letter_queue_size', 'Jobs in the dead-letter queue.',
                                value=figures['dead_letter'])  # fmt: skip

        jobs = GaugeMetricFamily(f'{PREFIX}_jobs', 'Job records by state.', labels=['state'])
        for state, count in sorted(counts_by_state(job_summaries(self.conn)).items()):
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily(f'{PREFIX}_workers', 'Live RQ workers.', value=Worker.count(connection=self.conn))

        store = Metrics(self.conn)
        yield self._stage_histogram(store.stages())
        yield from self._counters(store.counters())

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
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(ctx.conn, ctx.settings.queue_name))
    encoder, content_type = choose_encoder(request.headers.get('accept', ''))
    return Response(encoder(registry), media_type=content_type, headers={'Cache-Control': 'no-store'})
