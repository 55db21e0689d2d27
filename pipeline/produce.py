"""The stages of one video, in order, each reported to the job record, the metrics and the log.

Idempotent by construction: under the video's lock, a video already in storage completes
without redoing work, and a retried attempt resumes after its last checkpoint.
"""

from __future__ import annotations

import contextvars
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis

import events
import traces as personal_traces
from audiocache import AudioCache
from breakers import BreakerBoard
from chain import DEFAULT_CHAIN, ChainContext, ChainExhausted, SantaSegment, Strategy, run_chain
from chain.strategies import ChainHooks
from compose import DECODED_ASSETS, RenderOptions, RenderSpec, compose_video
from compose.assets import AssetSet, load_assets_cached
from locking import VideoLock
from metrics import Metrics
from orders import render_script
from pipeline.checkpoints import Checkpoints
from pipeline.extras import ExtrasOptions, format_spec, make_subtitles, produce_extras, store_extras
from providers import pricing
from providers.base import ProviderSet, Speech
from providers.errors import ProviderError
from records import JobRecord, JobRecords, State, checkpoints_key
from retries import ProviderRetryPolicy
from storage import Storage
from utils.logs import video_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Production:
    """Everything a worker needs to turn an order into a stored video."""

    assets_dir: Path
    temp_dir: Path
    storage: Storage
    providers: ProviderSet
    spec: RenderSpec
    compose_timeout: float
    render: RenderOptions = RenderOptions()
    chain: Sequence[Strategy] = DEFAULT_CHAIN
    retry_policy: ProviderRetryPolicy = field(default_factory=ProviderRetryPolicy)
    audio_cache: AudioCache | None = None
    #: Consecutive failures that open a provider's circuit (0: no breakers), and for how long.
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 60
    #: Above the longest stage timeout, so a slow stage never loses the lock.
    lock_ttl_seconds: float = 3600
    #: How long a duplicate delivery waits for the live holder before giving up.
    lock_wait_seconds: float = 1800
    lock_heartbeat_seconds: float = 15
    #: What a holder does on finding its video lock taken over (the worker's horse: exit quietly).
    on_lock_lost: Callable[[], None] | None = None
    #: Other formats, subtitles and poster (#14).
    extras: ExtrasOptions = ExtrasOptions()

    def assets(self) -> AssetSet:
        """The asset set, probed and fully decoded once per version of its files in this process
        (the worker's parent does it at warm start; every work horse inherits the result)."""
        return load_assets_cached(self.assets_dir, verified_dir=self.render.template_cache_dir / DECODED_ASSETS)


class _Stages:
    """Marks the current stage in the record: entering one finishes the previous one."""

    def __init__(self, records: JobRecords, metrics: Metrics, video_id: str, lock: VideoLock) -> None:
        self.records = records
        self.metrics = metrics
        self.video_id = video_id
        self.lock = lock
        self.current = ''
        self.started = 0.0

    def enter(self, stage: str) -> None:
        # Each stage begins a side effect (a paid call, the stored video): only under our own lease.
        self.lock.ensure_ours()
        self.finish()
        self.current, self.started = stage, time.monotonic()
        self.records.start_stage(self.video_id, stage)
        log.info(events.STAGE_STARTED, extra={'stage': stage})

    def finish(self) -> None:
        if self.current:
            seconds = time.monotonic() - self.started
            self.records.finish_stage(self.video_id, self.current)
            self.metrics.observe_stage(self.current, seconds)
            log.info(events.STAGE_FINISHED, extra={'stage': self.current, 'seconds': round(seconds, 3)})
            self.current = ''


class _Hooks(ChainHooks):
    """Stages, checkpoints and per-provider usage (calls, failures, characters, media seconds, cost)."""

    def __init__(
        self, stages: _Stages, metrics: Metrics, checkpoints: Checkpoints, script: str, speech: Speech | None
    ) -> None:
        self.stages = stages
        self.metrics = metrics
        self.checkpoints = checkpoints
        self.script = script
        self.speech_seconds = speech.duration if speech else 0.0

    def stage(self, stage: str) -> None:
        self.stages.enter(stage)

    def speech_made(self, speech: Speech, *, cached: bool) -> None:
        self.checkpoints.save_speech(speech)
        self.speech_seconds = speech.duration
        self.metrics.incr('audio_cache_hits' if cached else 'audio_cache_misses')
        if not cached:
            self._usage(speech.provider, characters=len(self.script), seconds=speech.duration)

    def provider_called(self, kind: str, provider: str, error: ProviderError | None, seconds: float) -> None:
        self.metrics.incr(f'provider:{provider}:calls')
        if error is not None:
            self.metrics.incr(f'provider:{provider}:failures')
        elif kind != 'tts':  # a clip as long as the speech; TTS usage is counted in speech_made
            self._usage(provider, seconds=self.speech_seconds)

    def _usage(self, provider: str, *, characters: int = 0, seconds: float = 0.0) -> None:
        if characters:
            self.metrics.incr(f'provider:{provider}:characters', characters)
        self.metrics.incr(f'provider:{provider}:media_seconds', round(seconds, 3))
        cost = pricing.estimate(provider, characters=characters, seconds=seconds)
        if cost:
            self.metrics.incr(f'provider:{provider}:cost_usd', round(cost, 6))


def produce_video(video_id: str, conn: Redis, production: Production, *, final_attempt: bool = True) -> str:
    """Run every stage for `video_id`; return the stored video's location.

    `final_attempt` says whether a failure now is the last one (the job then goes to the
    dead-letter queue) or another attempt will follow.
    """
    records = JobRecords(conn)
    held = records.get(video_id)
    if held is None:
        raise LookupError(f'no job record for video {video_id}')
    if _not_to_render(held):
        return ''
    with video_context(video_id):
        lock = VideoLock(
            conn,
            video_id,
            ttl_seconds=production.lock_ttl_seconds,
            wait_seconds=production.lock_wait_seconds,
            heartbeat_seconds=production.lock_heartbeat_seconds,
            on_lost=production.on_lock_lost,
        )
        with lock:
            record = records.get(video_id)
            assert record is not None
            if _not_to_render(record):
                return ''
            if production.storage.exists(video_id):
                return _already_produced(records, record, conn, production)
            # What this order leaves under other names (published media, cached speech), for its deletion.
            with personal_traces.collecting() as traces:
                try:
                    return _produce(records, record, conn, production, final_attempt, lock)
                finally:
                    records.add_traces(video_id, 'media', sorted(traces.media))
                    records.add_traces(video_id, 'audio_cache', sorted(traces.audio_cache))


def _not_to_render(record: JobRecord) -> bool:
    """A message waiting for review, or rejected by a reviewer, is never rendered, whatever job
    arrives for it (a stray RQ job, a requeue by hand): the job ends without touching the record."""
    if record.state is State.REVIEW or record.review_decision == 'rejected':
        log.warning(events.RENDER_REFUSED_IN_REVIEW, extra={'video_id': record.video_id})
        return True
    return False


def _already_produced(records: JobRecords, record: JobRecord, conn: Redis, production: Production) -> str:
    location = production.storage.location(record.video_id)
    if record.state is not State.COMPLETED:
        # Stored, but the worker died before recording it: finish the record, redo nothing.
        resumed = Checkpoints(conn, record.video_id).segment()
        strategy, providers = (resumed[0], resumed[1].providers) if resumed else (record.strategy, record.providers)
        records.complete(record.video_id, output=location, strategy=strategy, providers=providers,
                         attempts=record.attempts)  # fmt: skip
    log.info(events.JOB_ALREADY_DONE, extra={'output': location})
    return location


def _produce(
    records: JobRecords, record: JobRecord, conn: Redis, production: Production, final_attempt: bool, lock: VideoLock
) -> str:
    video_id = record.video_id
    metrics = Metrics(conn)
    attempt = records.start_attempt(video_id)
    metrics.incr('job_attempts')
    log.info(events.JOB_STARTED, extra={'attempt': attempt, 'strategy_chain': [s.name for s in production.chain]})
    stages = _Stages(records, metrics, video_id, lock)
    checkpoints = Checkpoints(conn, video_id)
    workdir = production.temp_dir / video_id  # kept across attempts: checkpoints point into it
    workdir.mkdir(parents=True, exist_ok=True)
    chain_attempts: list[dict[str, Any]] = []
    try:
        stages.enter('script')
        assets = production.assets()
        script = render_script(record.order)
        resumed_speech = checkpoints.speech()
        hooks = _Hooks(stages, metrics, checkpoints, script, resumed_speech)
        resumed = checkpoints.segment()
        if resumed is not None:
            strategy, segment = resumed
            log.info(events.STAGE_RESUMED, extra={'stage': 'segment', 'strategy': strategy})
        else:
            ctx = ChainContext(
                script=script,
                language=record.order.language,
                base_video=assets.santa_base.path,
                workdir=workdir,
                providers=production.providers,
                hooks=hooks,
                retry_policy=production.retry_policy,
                audio_cache=production.audio_cache,
                resumed_speech=resumed_speech,
                breakers=BreakerBoard(
                    conn, threshold=production.breaker_threshold, cooldown=production.breaker_cooldown_seconds
                )
                if production.breaker_threshold
                else None,
            )
            try:
                outcome = run_chain(ctx, production.chain)
            finally:
                chain_attempts = [asdict(a) for a in ctx.attempts]
            strategy, segment = outcome.strategy, outcome.segment
            checkpoints.save_segment(strategy, segment)
        stages.enter('compose')
        # The subtitles need only the speech: made beside the composition, they add no wait.
        subtitles = ThreadPoolExecutor(max_workers=1, thread_name_prefix='subtitles')
        # (in this job's logging context: its log lines keep the video id)
        subtitled = subtitles.submit(contextvars.copy_context().run, make_subtitles, record.order, assets, segment,
                                     production.spec, workdir)  # fmt: skip
        subtitles.shutdown(wait=False)
        # A file per attempt: nothing left of an interrupted attempt can write into it.
        video = compose_video(
            assets,
            segment,
            workdir / f'final-{attempt}.mp4',
            format_spec(production.spec, record.order.formats[0]),
            timeout=production.compose_timeout,
            mode=production.render.mode,
            template_cache_dir=production.render.template_cache_dir,
            name_card=record.order.child_name if production.render.name_card else None,  # as typed, never respelt
        )
        video, extras = produce_extras(record.order, assets, segment, video, spec=production.spec,
                                       render=production.render, compose_timeout=production.compose_timeout,
                                       options=production.extras, workdir=workdir,
                                       subtitles=subtitled.result())  # fmt: skip
        stages.enter('store')
        store_extras(production.storage, conn, video_id, extras)  # before the video: a stored video is a done order
        location = production.storage.save(video_id, video)
        stages.finish()
    except Exception as exc:
        _record_failure(records, metrics, video_id, attempt, stages.current, exc, chain_attempts, final_attempt)
        raise
    _record_success(records, metrics, video_id, location, strategy, segment, chain_attempts)
    conn.delete(checkpoints_key(video_id))
    shutil.rmtree(workdir, ignore_errors=True)
    return location


def _record_success(
    records: JobRecords,
    metrics: Metrics,
    video_id: str,
    location: str,
    strategy: str,
    segment: SantaSegment,
    chain_attempts: list[dict[str, Any]],
) -> None:
    records.complete(video_id, output=location, strategy=strategy, providers=segment.providers,
                     attempts=chain_attempts)  # fmt: skip
    metrics.incr('jobs_completed')
    metrics.incr(f'strategy:{strategy}')
    log.info(events.JOB_COMPLETED, extra={'strategy': strategy, 'providers': segment.providers, 'output': location})


def _record_failure(
    records: JobRecords,
    metrics: Metrics,
    video_id: str,
    attempt: int,
    stage: str,
    exc: Exception,
    chain_attempts: list[dict[str, Any]],
    final: bool,
) -> None:
    cause = exc.last_error if isinstance(exc, ChainExhausted) and exc.last_error else exc
    error = {
        'attempt': attempt,
        'stage': stage,
        'provider': getattr(cause, 'provider', ''),
        'error_type': type(cause).__name__,
        'message': str(exc),
        'at': time.time(),
        'chain': chain_attempts,
    }
    records.fail_attempt(video_id, error, final=final)
    metrics.incr('job_attempts_failed')
    log.error(
        events.JOB_FAILED if final else events.JOB_RETRY_SCHEDULED,
        extra={'stage': stage, 'attempt': attempt, 'error_type': error['error_type'], 'error': str(exc)},
    )
