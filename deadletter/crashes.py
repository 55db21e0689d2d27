"""Crashes of a job's attempts, kept until the job is dead-lettered or retried from there.

A work horse killed mid-job (OOM, SIGKILL, segfault) never runs our error handling, so
its attempt leaves no error in the job record; RQ retries it and keeps only the last
failure. One killed between RQ's dequeue and the job's start leaves not even the attempt
counted; the noter counts it from RQ's dispatch time. The worker that sees the crash (or
the sweep that finds the abandoned job) notes it here, so the dead-letter entry lists
every attempt's error, crashes included.

Key: `papanoel:video:<id>:crashes`, a hash of attempt number -> JSON error.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis
from redis.client import Pipeline

from records import KEY_PREFIX, JobRecords

#: Crash notes outlive any retry schedule, and are dropped with the dead-letter entry's retry.
CRASHES_TTL_SECONDS = 30 * 24 * 3600


def crashes_key(video_id: str) -> str:
    return f'{KEY_PREFIX}{video_id}:crashes'


def note_crash(conn: Redis, video_id: str, message: str, *, dispatched_at: float | None = None) -> None:
    """Record that the current attempt of `video_id` crashed, unless it already has an error.

    `dispatched_at` is when RQ handed that attempt to a work horse: if the horse died before
    the job started (so the record never counted the attempt), the attempt is counted now,
    and the crash listed under the number RQ spent.
    """
    if dispatched_at is not None:
        JobRecords(conn).count_unstarted_attempt(video_id, dispatched_at)
    record = JobRecords(conn).get(video_id)
    if record is None or record.attempt < 1:
        return
    if any(e.get('attempt') == record.attempt for e in record.errors[-1:]):
        return  # our own error handling ran: that attempt failed, it did not crash
    error = {'attempt': record.attempt, 'stage': record.stage, 'provider': '', 'error_type': 'WorkerLost',
             'message': message[:500], 'at': time.time()}  # fmt: skip
    with conn.pipeline() as pipe:
        pipe.hsetnx(crashes_key(video_id), str(record.attempt), json.dumps(error))
        pipe.expire(crashes_key(video_id), CRASHES_TTL_SECONDS)
        pipe.execute()


def crashes(conn: Redis, video_id: str) -> list[dict[str, Any]]:
    raw: dict[bytes, bytes] = conn.hgetall(crashes_key(video_id))  # type: ignore[assignment]
    return sorted((json.loads(v) for v in raw.values()), key=lambda e: float(e.get('at', 0)))


def forget_crashes(pipe: Pipeline, video_id: str) -> None:
    pipe.delete(crashes_key(video_id))
