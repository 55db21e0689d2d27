"""Crashed jobs back to the FRONT of the queue within seconds, whatever the backlog.

RQ finds an abandoned job only when its StartedJobRegistry entry expires (~90 s after the
last heartbeat) and only during the maintenance of a worker that is idle and holds
`rq:clean_registries:<queue>` (a holder killed mid-maintenance blocks it for 899 s); it then
retries the job at the back of the queue. Here every worker, busy (on its heartbeats) or
idle (between dequeues), runs a sweep at most once per lock heartbeat across the fleet.

A started job is abandoned only when two processes have both gone silent: its work horse
(the video lock's liveness key, renewed by a thread in the horse, has expired) and the RQ
worker that forked it (the execution's heartbeat, beaten by that worker's monitor loop, is
older than LOCK_GRACE_HEARTBEATS monitoring intervals). A live worker whose horse dies
handles the crash itself on waitpid, so the sweep is only for lost workers, and a horse
whose renewal is late under load is still watched over by its live parent. And a sweep
half a heartbeat or more before must already have found both silent (a Redis outage
silences everyone at once; they beat again within a heartbeat of its end). Then the job
is taken out of the registry (the ZREM is the claim: one sweeper wins), its crash noted,
and it goes to the front of its queue, or, with no attempt left, to the dead-letter queue.
Should the job's horse wake up after all (a frozen host), it finds its lease another's
and exits before its next stage (workers.jobs.leave_job_to_lock_holder).

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
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

import events
from deadletter import DeadLetterQueue, note_crash
from locking import force_release, holder_alive
from records import JobRecords

log = logging.getLogger(__name__)

RECOVER_LOCK_KEY = 'papanoel:recover:lock:'
#: A started job seen abandoned by one sweep, waiting for a second sweep to confirm it.
SUSPECT_PREFIX = 'papanoel:recover:suspect:'
#: A started job has this many lock heartbeats to take its video lock, and its worker this many
#: monitoring intervals of silence, before their absence means it died.
LOCK_GRACE_HEARTBEATS = 3


def recover_if_due(
    conn: Redis, queue: Queue, *, owner: str, heartbeat_seconds: float, monitoring_seconds: float
) -> list[str]:
    """One sweep per heartbeat for the whole fleet: the first worker to take the lock sweeps."""
    if not conn.set(RECOVER_LOCK_KEY + queue.name, owner, nx=True, px=max(1, int(heartbeat_seconds * 1000))):
        return []
    # Sweeps run a heartbeat apart: half a heartbeat tells the next sweep from this one.
    return recover_abandoned(conn, queue, grace_seconds=LOCK_GRACE_HEARTBEATS * heartbeat_seconds,
                             worker_grace_seconds=LOCK_GRACE_HEARTBEATS * monitoring_seconds,
                             confirm_seconds=heartbeat_seconds / 2)  # fmt: skip


def recover_abandoned(
    conn: Redis, queue: Queue, *, grace_seconds: float, worker_grace_seconds: float, confirm_seconds: float
) -> list[str]:
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
        run = _run(conn, entry, job)
        if run.started is None or not _both_silent(conn, job_id, run, worker_grace_seconds):
            conn.delete(SUSPECT_PREFIX + entry)
            continue
        # Suspected even within the start-up grace, so that the second look costs a lost worker
        # nothing once the grace is over.
        suspected_long_enough = _suspected_for(conn, entry, confirm_seconds)
        if time.time() - run.started < grace_seconds or not suspected_long_enough:
            continue
        if not conn.zrem(registry.key, entry):
            continue  # another sweeper (or RQ) took it first
        conn.delete(SUSPECT_PREFIX + entry)
        log.warning(events.JOB_ABANDONED, extra={'video_id': job_id, 'reason': 'no live work horse nor worker'})
        note_crash(conn, job_id, 'the worker was lost: neither its work horse nor its worker is alive',
                   dispatched_at=run.dispatched_at)  # fmt: skip
        force_release(conn, job_id)
        if job.retries_left:
            _to_front(conn, job, queue)
        else:
            _to_dead_letters(conn, job, queue)
        recovered.append(job_id)
    return recovered


@dataclass(frozen=True)
class _Run:
    """What RQ knows of one run of a job: when the worker dispatched it, when it last beat for it."""

    started: float | None
    dispatched_at: float | None
    last_beat: float | None


def _run(conn: Redis, entry: str, job: Job) -> _Run:
    # RQ's execution hash (`rq:execution:<job>:<execution>`): made by the worker before it forks,
    # beaten by its monitor loop, gone a minute after its last beat. Read field by field: a beat
    # after the hash expired (a long Redis outage) leaves one holding `last_heartbeat` alone.
    fields: dict[bytes, bytes] = {}
    if ':' in entry:
        fields = conn.hgetall(Execution.from_composite_key(entry, connection=conn).key)  # type: ignore[assignment]
    dispatched = float(fields[b'created_at']) if b'created_at' in fields else None
    last_beat = float(fields[b'last_heartbeat']) if b'last_heartbeat' in fields else None
    started = dispatched if dispatched is not None else job.started_at.timestamp() if job.started_at else None
    return _Run(started=started, dispatched_at=dispatched, last_beat=last_beat)


def _both_silent(conn: Redis, video_id: str, run: _Run, worker_grace_seconds: float) -> bool:
    """The horse holds no live lock, and its worker has not beaten for this run within the grace."""
    if holder_alive(conn, video_id):
        return False
    return run.last_beat is None or time.time() - run.last_beat >= worker_grace_seconds


def _suspected_for(conn: Redis, entry: str, confirm_seconds: float) -> bool:
    """True on a sweep at least `confirm_seconds` after the first that found this job's witnesses silent."""
    if confirm_seconds <= 0:
        return True
    window_ms = max(1, int(confirm_seconds * 10_000))  # a suspicion this old starts over
    if conn.set(SUSPECT_PREFIX + entry, '1', nx=True, px=window_ms):
        return False
    left = int(conn.pttl(SUSPECT_PREFIX + entry))
    return left >= 0 and window_ms - left >= confirm_seconds * 1000


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
