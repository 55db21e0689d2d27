"""The function RQ runs for each video job, and the production it runs with, assembled
from the settings the worker's entry point read (no second `Settings()` here)."""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Literal

from redis import Redis
from rq import get_current_job

import events
from audiocache import AudioCache
from compose import RenderOptions, RenderSpec
from delivery.jobs import announce, current_settings, settings_given
from delivery.jobs import use_settings as delivery_settings
from pipeline import Production, produce_video
from pipeline.extras import ExtrasOptions
from privacy.forget import Forgetter, tombstone
from queueing.cancel import is_canceled
from retries import ProviderRetryPolicy
from settings import Settings
from storage import build_storage
from utils.imports import import_string
from workers.arrival_order import running_order

log = logging.getLogger(__name__)

#: Lock lease beyond the longest stage timeout.
LOCK_MARGIN_SECONDS = 300


_process = {'work_horse': False}


def entering_work_horse() -> None:
    """Called by the worker in each forked work horse, before the job runs."""
    _process['work_horse'] = True


def leave_job_to_lock_holder() -> None:
    """The video's lease is gone or another holder's: the recovery sweep took this job for dead
    (its horse and worker both silent, e.g. a host paused) and another horse runs it now.

    The work horse exits at once, with status 0 so its worker does no failure handling: no
    attempt is counted, no record written, nothing stored or paid for past this point; the
    job is the other run's. Outside a forked horse (the in-process demo) nothing is done.
    """
    if not _process['work_horse']:
        return
    log.error(events.JOB_LEFT_TO_LOCK_HOLDER)
    logging.shutdown()  # flush the log line: os._exit skips interpreter cleanup
    os._exit(0)


def use_settings(settings: Settings) -> None:
    """The entry point's settings, given once per worker process before any job runs. They are
    kept in one place, delivery's, which the mail and webhook jobs read too."""
    delivery_settings(settings)
    current_production.cache_clear()


def given_settings() -> Settings:
    if not settings_given():
        raise RuntimeError('no settings given: the worker entry point calls use_settings() first')
    return current_settings()


@cache
def current_production() -> Production:
    # Once per worker process: forked work horses inherit it ready-made.
    return production_from_settings(given_settings())


def production_from_settings(settings: Settings) -> Production:
    storage = build_storage(settings)
    longest_stage = max(
        settings.tts_timeout_seconds,
        settings.lipsync_deadline_seconds,
        settings.video_deadline_seconds,
        settings.compose_timeout_seconds,
    )
    return Production(
        assets_dir=settings.assets_dir,
        temp_dir=settings.temp_dir,
        storage=storage,
        providers=import_string(settings.provider_factory)(settings, storage),
        spec=RenderSpec(width=settings.output_width, height=settings.output_height, preset=settings.x264_preset),
        compose_timeout=settings.compose_timeout_seconds,
        render=RenderOptions(
            mode=settings.render_mode, template_cache_dir=settings.template_cache_dir, name_card=settings.name_card
        ),
        retry_policy=ProviderRetryPolicy(
            attempts=settings.provider_retry_attempts,
            base_seconds=settings.provider_retry_base_seconds,
            max_wait_seconds=settings.provider_retry_max_wait_seconds,
        ),
        audio_cache=AudioCache(settings.audio_cache_dir, settings.audio_cache_max_size_mb * 1024 * 1024)
        if settings.audio_cache_enabled
        else None,
        lock_ttl_seconds=longest_stage + LOCK_MARGIN_SECONDS,
        lock_wait_seconds=settings.job_timeout_seconds,
        lock_heartbeat_seconds=settings.lock_heartbeat_seconds,
        on_lock_lost=leave_job_to_lock_holder,
        breaker_threshold=settings.breaker_failure_threshold,
        breaker_cooldown_seconds=settings.breaker_cooldown_seconds,
        extras=ExtrasOptions(burn_subtitles=settings.burn_subtitles),
    )


def process_video(video_id: str) -> str:
    job = get_current_job()
    if job is None:
        raise RuntimeError('process_video must run inside an RQ worker')
    if is_canceled(job.connection, video_id):
        return 'canceled'  # dequeued a moment before `cli.py cancel` removed it
    # RQ decides on a retry after we return; with none left, this failure is the last one.
    final_attempt = not job.retries_left
    conn = job.connection
    if tombstone(conn, video_id):  # deleted on request before its turn came: nothing to make
        return ''
    # A final failure is announced when the job reaches the dead-letter queue (deadletter/queue.py),
    # which also catches the failures this function never sees (a killed work horse).
    # The order's arrival (a retry keeps it): earlier orders on this machine get the CPU first.
    with running_order(job.created_at.timestamp()):
        location = produce_video(video_id, conn, current_production(), final_attempt=final_attempt)
    if tombstone(conn, video_id):
        # Deleted while it was being made: what the render stored just now goes too.
        Forgetter(conn, current_production().storage, current_settings()).forget(video_id, reason='parent')
        return ''
    _announce(conn, video_id, 'completed')
    return location


def _announce(conn: Redis, video_id: str, event: Literal['completed']) -> None:
    # The e-mail is a job of its own: queued here, sent by whichever worker takes it.
    announce(conn, current_settings(), video_id, event)
