"""RQ workers for the video queue, with what RQ lacks: a dead-letter queue, an uncounted
requeue on shutdown, faster recovery of crashed jobs, and periodic cleanup.

Each job runs in a forked work horse (RQ's `Worker`). On top of it:
- a job whose attempts are exhausted moves from RQ's failed registry to our persistent
  dead-letter queue, whichever way it failed (exception, killed horse, abandoned);
- SIGTERM/SIGINT stops taking jobs and lets the current one finish; past
  SHUTDOWN_TIMEOUT, or on a second signal, the job goes back to the front of the queue
  with its checkpoints, and the interrupted attempt is not counted;
- maintenance expires a started job whose video lock has no live holder, so RQ's own
  abandoned-job handling retries it now rather than minutes later.
"""

from __future__ import annotations

import logging
import time
from types import FrameType
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.worker_pool import WorkerPool

import events
from deadletter import DeadLetterQueue
from delivery.jobs import worker_queues
from locking import force_release, holder_alive
from maintenance import cleanup
from privacy.retention import purge
from queueing.jobs import current_production
from queueing.records import JobRecords
from settings import Settings

log = logging.getLogger(__name__)

CLEANUP_LOCK_KEY = 'papanoel:cleanup:lock'
#: A started job has this many lock heartbeats to take its video lock before a missing one means it died.
LOCK_GRACE_HEARTBEATS = 3


class VideoWorker(Worker):
    def __init__(self, *args: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        self.settings = settings or Settings()
        kwargs.setdefault('job_monitoring_interval', self.settings.job_monitoring_interval_seconds)
        kwargs.setdefault('maintenance_interval', self.settings.maintenance_interval_seconds)
        # An idle worker blocks on dequeue for worker_ttl - 15 s; maintenance runs between blocks.
        kwargs.setdefault('default_worker_ttl', self.settings.maintenance_interval_seconds + 15)
        super().__init__(*args, **kwargs)
        self._stop_requested_at: float | None = None
        self._given_back_job_id: str | None = None

    # --- failures and the dead-letter queue ---

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ''
    ) -> None:
        if job.id == self._given_back_job_id:
            self._give_back(job, queue)
            return
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        if job.get_status(refresh=True) == JobStatus.FAILED:
            DeadLetterQueue(self.connection).sweep(queue.name)

    def clean_registries(self) -> None:
        for queue in self.queues:
            if queue.name == self.settings.queue_name:  # delivery jobs hold no video lock
                self._expire_lockless_jobs(queue)
        super().clean_registries()  # type: ignore[no-untyped-call]
        for queue in self.queues:
            DeadLetterQueue(self.connection).sweep(queue.name)
        self._cleanup_if_due()

    def _expire_lockless_jobs(self, queue: Queue) -> None:
        registry = queue.started_job_registry
        entries: list[tuple[bytes, float]] = self.connection.zrange(registry.key, 0, -1, withscores=True)  # type: ignore[assignment]
        for raw, _score in entries:
            entry = raw.decode()
            job_id = entry.split(':', 1)[0]
            job = Job.fetch(job_id, connection=self.connection) if self.connection.exists(Job.key_for(job_id)) else None
            started = job.started_at.timestamp() if job and job.started_at else None
            grace = LOCK_GRACE_HEARTBEATS * self.settings.lock_heartbeat_seconds
            if started is None or time.time() - started < grace or holder_alive(self.connection, job_id):
                continue
            log.warning(events.JOB_ABANDONED, extra={'video_id': job_id, 'reason': 'video lock has no live holder'})
            self.connection.zadd(registry.key, {entry: 0})  # expired now: RQ's cleanup retries or fails it

    def _cleanup_if_due(self) -> None:
        every = int(self.settings.cleanup_interval_hours * 3600)
        if self.connection.set(CLEANUP_LOCK_KEY, self.name, nx=True, ex=max(every, 1)):
            cleanup(self.connection, self.settings.temp_dir, temp_max_age_hours=self.settings.temp_max_age_hours,
                    jobs_max_age_hours=self.settings.jobs_max_age_hours)  # fmt: skip
            # Videos past RETENTION_DAYS, with everything personal about their orders.
            purge(self.connection, current_production().storage, self.settings)

    # --- shutdown ---

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested_at = time.monotonic()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def maintain_heartbeats(self, job: Job) -> None:
        super().maintain_heartbeats(job)
        waited = time.monotonic() - self._stop_requested_at if self._stop_requested_at else 0.0
        if self._stop_requested_at and waited > self.settings.shutdown_timeout_seconds and self.horse_pid:
            log.warning(events.WORKER_SHUTDOWN_TIMEOUT, extra={'video_id': job.id, 'waited_seconds': round(waited)})
            self._given_back_job_id = job.id
            self.kill_horse()  # the monitor loop reaps it and calls handle_job_failure, which gives it back

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        job = self.get_current_job() if self.horse_pid else None
        if job is not None and self._shutdown_requested_date and time.monotonic() - (self._stop_requested_at or 0) > 1:
            self._given_back_job_id = job.id
            self.kill_horse()
            self.wait_for_horse()
            self._give_back(job, Queue(job.origin, connection=self.connection))
            self._horse_pid = 0
        super().request_force_stop(signum, frame)

    def _give_back(self, job: Job, queue: Queue) -> None:
        """Requeue an interrupted job at the front, uncounted; its checkpoints stay."""
        with self.connection.pipeline() as pipe:
            self.cleanup_execution(job, pipeline=pipe)
            pipe.execute()
        force_release(self.connection, job.id)  # its holder, our horse, is dead
        JobRecords(self.connection).give_back_attempt(job.id, 'worker shutting down')
        queue.enqueue_job(job, at_front=True)
        self._given_back_job_id = None
        log.warning(events.JOB_REQUEUED, extra={'video_id': job.id, 'reason': 'shutdown'})


def run_workers(conn: Redis, settings: Settings, *, burst: bool = False) -> None:
    """Work the queue until stopped (or, with `burst`, until it is empty)."""
    current_production()  # build once in the parent so every forked horse starts warm
    if settings.worker_count == 1:
        queues = [Queue(name, connection=conn) for name in worker_queues(settings)]  # deliveries first
        worker = VideoWorker(queues, connection=conn, settings=settings)
        worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=True)
    else:
        pool = WorkerPool(worker_queues(settings), connection=conn, num_workers=settings.worker_count,
                          worker_class=VideoWorker)  # fmt: skip
        pool.start(burst=burst, logging_level=settings.log_level)


def drain_in_process(conn: Redis, settings: Settings) -> None:
    """Process every queued job in this process: the embedded-Redis demo, where no fork may share it."""
    current_production()
    worker = SimpleWorker([Queue(name, connection=conn) for name in worker_queues(settings)], connection=conn)
    worker.work(burst=True, logging_level=settings.log_level)
