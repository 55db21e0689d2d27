"""A persistent dead-letter queue in Redis, fed from RQ's failed-job registry.

RQ puts a job in its FailedJobRegistry once retries are exhausted, whichever way it failed
(an exception, a killed work horse, an abandoned job found by maintenance), but that
registry expires and a requeue keeps the spent retry budget. Here each dead job becomes
an entry with no expiry, holding the order, every attempt's error and the attempt count;
`retry` enqueues a fresh RQ job with a fresh attempt budget.

Keys: `papanoel:dlq` (sorted set of video ids by failure time) and
`papanoel:dlq:entry:<id>` (the entry, JSON).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis, RedisError, WatchError
from rq import Queue, Retry
from rq.executions import ExecutionRegistry
from rq.job import Job
from rq.registry import FailedJobRegistry

import events
from deadletter.crashes import crashes, forget_crashes
from delivery.jobs import announce, current_settings
from queueing.enqueue import enqueue_video_job
from records import JobRecords
from utils.redis_values import texts

log = logging.getLogger(__name__)

INDEX_KEY = 'papanoel:dlq'
ENTRY_PREFIX = 'papanoel:dlq:entry:'


class UnknownDeadLetter(LookupError):
    """No dead-letter entry has this video id."""


class DeadLetterTaken(UnknownDeadLetter):
    """Another admin retried or purged this entry while we were at it."""


@dataclass(frozen=True)
class DeadLetter:
    video_id: str
    order: dict[str, Any]
    attempts: int
    errors: list[dict[str, Any]]
    failed_at: float
    queue: str

    @property
    def last_error(self) -> dict[str, Any]:
        return self.errors[-1] if self.errors else {}


class DeadLetterQueue:
    def __init__(self, conn: Redis) -> None:
        self.conn = conn

    # --- feeding ---

    def sweep(self, queue_name: str) -> list[str]:
        """Move every job of RQ's failed registry for `queue_name` into the dead-letter queue."""
        registry = FailedJobRegistry(queue_name, connection=self.conn)
        moved = []
        for job_id in registry.get_job_ids():
            job = self._readable_job(job_id)
            self._add(job_id, queue_name, job)
            self._drop_from_rq(registry, job_id, job)
            moved.append(job_id)
        return moved

    def _readable_job(self, job_id: str) -> Job | None:
        """The RQ job, or None when its hash is gone or half-written (a failover can lose writes)."""
        try:
            return Job.fetch(job_id, connection=self.conn)
        except RedisError:
            raise
        except Exception as exc:  # NoSuchJobError, or ValueError & co. from a hash missing fields
            log.warning(events.DLQ_RQ_STATE_INCONSISTENT, extra={'video_id': job_id, 'error': type(exc).__name__})
            return None

    def _drop_from_rq(self, registry: FailedJobRegistry, job_id: str, job: Job | None) -> None:
        # The entry is already safe in our queue: whatever RQ's own cleanup trips over (an execution
        # listed whose hash expired raises ValueError, a missing job NoSuchJobError), the failed
        # registry entry must go, or every sweep would add the job again and stop at it.
        if job is not None:
            try:
                registry.remove(job, delete_job=True)
                return
            except RedisError:
                raise
            except Exception as exc:
                log.warning(events.DLQ_RQ_STATE_INCONSISTENT, extra={'video_id': job_id, 'error': type(exc).__name__})
        with self.conn.pipeline() as pipe:
            pipe.zrem(registry.key, job_id)
            pipe.delete(Job.key_for(job_id), ExecutionRegistry(job_id, connection=self.conn).key)
            pipe.execute()

    def _add(self, video_id: str, queue_name: str, job: Job | None) -> None:
        records = JobRecords(self.conn)
        record = records.get(video_id)
        if record is None:
            log.error(events.JOB_DEAD_LETTERED, extra={'video_id': video_id, 'error': 'no job record'})
            return
        errors = list(record.errors)
        # Attempts that crashed (a killed horse, an abandoned job) left no error in the record.
        errors.extend(crashes(self.conn, video_id))
        errors.sort(key=lambda e: float(e.get('at', 0)))
        # A last attempt that died without anyone noting it gets its cause from RQ.
        if not errors or errors[-1].get('attempt') != record.attempt:
            errors.append({'attempt': record.attempt, 'stage': record.stage, 'provider': '',
                           'error_type': 'WorkerLost', 'message': _rq_failure(job), 'at': time.time()})  # fmt: skip
        entry = DeadLetter(
            video_id=video_id,
            order=record.order.model_dump(),
            attempts=record.attempt,
            errors=errors,
            failed_at=time.time(),
            queue=queue_name,
        )
        with self.conn.pipeline() as pipe:
            pipe.set(ENTRY_PREFIX + video_id, json.dumps(asdict(entry)))
            pipe.zadd(INDEX_KEY, {video_id: entry.failed_at})
            forget_crashes(pipe, video_id)
            pipe.execute()
        records.mark_failed(video_id)
        # However it failed for good (an exception, a killed work horse, abandoned): the parent is told once.
        announce(self.conn, current_settings(), video_id, 'failed')
        log.error(events.JOB_DEAD_LETTERED, extra={'video_id': video_id, 'attempts': entry.attempts,
                                                    'error': entry.last_error.get('message', '')})  # fmt: skip

    # --- reading ---

    def count(self) -> int:
        return int(self.conn.zcard(INDEX_KEY))

    def contains(self, video_id: str) -> bool:
        return self.conn.zscore(INDEX_KEY, video_id) is not None

    def get_or_none(self, video_id: str) -> DeadLetter | None:
        raw = self.conn.get(ENTRY_PREFIX + video_id)
        return DeadLetter(**json.loads(raw)) if raw else None

    def get(self, video_id: str) -> DeadLetter:
        entry = self.get_or_none(video_id)
        if entry is None:
            raise UnknownDeadLetter(f'no dead-letter entry for video {video_id}')
        return entry

    def entries(
        self,
        *,
        limit: int = 100,
        older_than: float | None = None,
        newer_than: float | None = None,
        error_type: str | None = None,
        stage: str | None = None,
        language: str | None = None,
    ) -> list[DeadLetter]:
        """Newest first, filtered."""
        if limit < 1:
            raise ValueError(f'limit must be 1 or more, not {limit}')
        high = older_than if older_than is not None else '+inf'
        low = newer_than if newer_than is not None else '-inf'
        entries = []
        for video_id in texts(self.conn.zrevrangebyscore(INDEX_KEY, high, low)):
            entry = self.get_or_none(video_id)
            if entry is None:
                continue
            last = entry.last_error
            if error_type and last.get('error_type') != error_type:
                continue
            if stage and last.get('stage') != stage:
                continue
            if language and entry.order.get('language') != language:
                continue
            entries.append(entry)
            if len(entries) >= limit:
                break
        return entries

    # --- admin actions ---

    def retry(self, video_id: str, *, job_timeout: int, retry: Retry | None) -> None:
        """Send one dead job back to its queue with a fresh attempt budget, exactly once.

        The entry is read and removed in one WATCHed transaction with the new RQ job: of two
        admins retrying (or one retrying while another purges) one wins, the other gets
        `DeadLetterTaken` and nothing is queued twice.
        """
        records = JobRecords(self.conn)
        entry_key = ENTRY_PREFIX + video_id
        with self.conn.pipeline() as pipe:
            pipe.watch(entry_key)  # type: ignore[no-untyped-call]
            raw = pipe.get(entry_key)
            if not raw:
                pipe.reset()
                raise UnknownDeadLetter(f'no dead-letter entry for video {video_id}')
            entry = DeadLetter(**json.loads(raw))
            queue = Queue(entry.queue, connection=self.conn)
            pipe.multi()
            pipe.delete(Job.key_for(video_id))  # the spent RQ job; a new one takes its id
            records.reset_for_retry(pipe, video_id)
            enqueue_video_job(queue, video_id, pipe, job_timeout=job_timeout, retry=retry)
            pipe.zrem(INDEX_KEY, video_id)
            pipe.delete(entry_key)
            forget_crashes(pipe, video_id)
            try:
                pipe.execute()
            except WatchError:
                raise DeadLetterTaken(f'dead-letter entry for video {video_id} was taken by another admin') from None
        log.info(events.JOB_REQUEUED, extra={'video_id': video_id, 'reason': 'dead-letter retry'})

    def purge(self, video_id: str) -> None:
        """Delete one entry; atomic, so of two purges (or a purge and a retry) one wins."""
        with self.conn.pipeline() as pipe:
            pipe.zrem(INDEX_KEY, video_id)
            pipe.delete(ENTRY_PREFIX + video_id)
            removed, deleted = pipe.execute()
        if not (removed or deleted):
            raise UnknownDeadLetter(f'no dead-letter entry for video {video_id}')

    def purge_older_than(self, days: float, *, now: float | None = None) -> list[str]:
        """Delete every entry that failed more than `days` ago, in one Lua script."""
        if days < 0:
            raise ValueError(f'days must be 0 or more, not {days}')
        cutoff = (time.time() if now is None else now) - days * 86400
        purged = self.conn.register_script(_PURGE_OLDER_THAN)(keys=[INDEX_KEY], args=[f'({cutoff}', ENTRY_PREFIX])
        return texts(purged)


_PURGE_OLDER_THAN = """
local ids = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(ids) do
  redis.call('zrem', KEYS[1], id)
  redis.call('del', ARGV[2] .. id)
end
return ids
"""


def _rq_failure(job: Job | None) -> str:
    if job is None:
        return 'the worker was lost and RQ kept no details'
    result = job.latest_result()
    text = (result.exc_string if result is not None and result.exc_string else '') or 'the worker was lost'
    return text.strip().splitlines()[-1][:500]
