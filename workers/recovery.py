"""Crashed jobs back to the FRONT of the queue within seconds, whatever the backlog.

RQ finds an abandoned job only when its StartedJobRegistry entry expires (~90 s after the
last heartbeat) and only during the maintenance of a worker that is idle and holds
`rq:clean_registries:<queue>` (a holder killed mid-maintenance blocks it for 899 s); it then
retries the job at the back of the queue. Here every worker, busy (on its heartbeats) or
idle (between dequeues), runs a sweep at most once per lock heartbeat across the fleet: a
started job whose video lock has had no live holder for LOCK_GRACE_HEARTBEATS heartbeats
is taken out of the registry (the ZREM is the claim: one sweeper wins), its crash noted,
and it goes to the front of its queue, or, with no attempt left, to the dead-letter queue.

Work horses and RQ's scheduler process die with their worker (PR_SET_PDEATHSIG), so a
job is never still running in an orphan while it is recovered elsewhere.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

import events
from deadletter import DeadLetterQueue, note_crash
from locking import force_release, holder_alive
from records import JobRecords

log = logging.getLogger(__name__)

RECOVER_LOCK_KEY = 'papanoel:recover:lock:'
#: A started job has this many lock heartbeats to take its video lock before a missing one means it died.
LOCK_GRACE_HEARTBEATS = 3


def recover_if_due(conn: Redis, queue: Queue, *, owner: str, heartbeat_seconds: float) -> list[str]:
    """One sweep per heartbeat for the whole fleet: the first worker to take the lock sweeps."""
    if not conn.set(RECOVER_LOCK_KEY + queue.name, owner, nx=True, px=max(1, int(heartbeat_seconds * 1000))):
        return []
    return recover_abandoned(conn, queue, grace_seconds=LOCK_GRACE_HEARTBEATS * heartbeat_seconds)


def recover_abandoned(conn: Redis, queue: Queue, *, grace_seconds: float) -> list[str]:
    registry = queue.started_job_registry
    recovered = []
    entries: list[bytes] = conn.zrange(registry.key, 0, -1)  # type: ignore[assignment]
    for raw in entries:
        entry = raw.decode()
        job_id = entry.split(':', 1)[0]
        try:
            job = Job.fetch(job_id, connection=conn)
        except Exception:  # the job hash is gone (deleted by hand): reconciliation handles its record
            continue
        started = job.started_at.timestamp() if job.started_at else None
        if started is None or time.time() - started < grace_seconds or holder_alive(conn, job_id):
            continue
        if not conn.zrem(registry.key, entry):
            continue  # another sweeper (or RQ) took it first
        log.warning(events.JOB_ABANDONED, extra={'video_id': job_id, 'reason': 'video lock has no live holder'})
        note_crash(conn, job_id, 'the worker was lost: its video lock has no live holder')
        force_release(conn, job_id)
        if job.retries_left:
            _to_front(conn, job, queue)
        else:
            _to_dead_letters(conn, job, queue)
        recovered.append(job_id)
    return recovered


def _to_front(conn: Redis, job: Job, queue: Queue) -> None:
    job.retries_left = int(job.retries_left or 0) - 1
    conn.hset(job.key, 'retries_left', job.retries_left)
    with conn.pipeline() as pipe:
        JobRecords.reopen(pipe, job.id, 'its worker was lost')
        pipe.execute()
    queue.enqueue_job(job, at_front=True)
    log.warning(events.JOB_REQUEUED, extra={'video_id': job.id, 'reason': 'worker lost', 'at_front': True})


def _to_dead_letters(conn: Redis, job: Job, queue: Queue) -> None:
    with conn.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        FailedJobRegistry(queue.name, connection=conn).add(
            job, ttl=job.failure_ttl, exc_string='the worker was lost: its video lock has no live holder', pipeline=pipe
        )
        pipe.execute()
    DeadLetterQueue(conn).sweep(queue.name)


# --- children die with their worker ---

_PR_SET_PDEATHSIG = 1
_hooks = {'registered': False, 'parent': 0}


def die_with_parent_after_fork() -> None:
    """Every process this one forks (work horses, RQ's scheduler) gets SIGKILL when it dies."""
    if sys.platform != 'linux' or _hooks['registered']:
        return
    _hooks['registered'] = True  # once per process; forked children inherit the hooks
    os.register_at_fork(before=_remember_parent, after_in_child=_set_death_signal)


def _remember_parent() -> None:
    _hooks['parent'] = os.getpid()  # the child's copy of memory holds its parent's pid


def _set_death_signal() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != _hooks['parent']:
        os._exit(1)  # the parent died before the signal was armed
